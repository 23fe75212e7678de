//! The scenarios of the shared driver suite. Each takes a [`Driver`] and panics
//! with the driver's name and the case when the contract is broken.

use std::time::Duration;

use entra_pg_core::{
    clock::{Jitter, ManualClock},
    EntraAuth, EntraAuthBuilder,
};

use super::{Case, Driver, Failure, Session, Settings};
use crate::{
    captured_logs, hostile::OTHER_HOST, init_logs, test_clock, test_names_resolve, unique_name,
    FakeEntra, Fault, HostileServer, Identity, IdentityBuilder, Listener, PgServer, Resource,
    AZURE_TEST_HOST,
};

/// The modes a driver is asked for, `None` meaning "not set".
const MODES: [Option<&str>; 7] = [
    None,
    Some("disable"),
    Some("allow"),
    Some("prefer"),
    Some("require"),
    Some("verify-ca"),
    Some("verify-full"),
];

/// Token lifetime of the clocked scenarios, and their refresh-ahead window.
const LIFETIME: Duration = Duration::from_secs(240);
const WINDOW: Duration = Duration::from_secs(60);

fn new_identity() -> IdentityBuilder<'static> {
    init_logs();
    FakeEntra::shared().identity()
}

/// An identity whose `upn` is a fresh name (the role of that name exists on the
/// shared server and accepts its tokens), and the name.
fn user_identity(prefix: &str) -> (Identity, String) {
    let user = format!("{}@contoso.com", unique_name(prefix));
    let identity = new_identity()
        .upn(&user)
        .login_on(PgServer::shared(), &user)
        .build();
    (identity, user)
}

fn build_auth(
    identity: &Identity,
    configure: impl FnOnce(EntraAuthBuilder) -> EntraAuthBuilder,
) -> EntraAuth {
    configure(EntraAuth::builder(identity.managed_identity_credential()).jitter(Jitter::none()))
        .build()
        .expect("test auth")
}

/// An identity, its user, an `EntraAuth` allowing `localhost`, all on `clock`.
fn clocked(prefix: &str, clock: &ManualClock) -> (Identity, String, EntraAuth) {
    let user = format!("{}@contoso.com", unique_name(prefix));
    let identity = new_identity()
        .upn(&user)
        .lifetime(LIFETIME)
        .clock(clock.clone())
        .login_on(PgServer::shared(), &user)
        .build();
    let auth = build_auth(&identity, |builder| {
        builder
            .clock(clock.clone())
            .refresh_ahead(WINDOW)
            .allow_host("localhost")
    });
    (identity, user, auth)
}

/// Settings for the shared real server, TLS root given.
fn real_case(auth: &EntraAuth) -> Case {
    let server = PgServer::shared();
    Case {
        auth: auth.clone(),
        settings: Settings {
            host: Some("localhost".to_owned()),
            port: Some(server.port()),
            dbname: Some("postgres".to_owned()),
            ..Settings::default()
        },
        root_pem: Some(server.ca_pem().to_owned()),
        insecure: false,
    }
}

/// Settings for `listener` of `hostile`, connecting as `host`.
fn hostile_case(hostile: &HostileServer, listener: Listener, host: &str, auth: &EntraAuth) -> Case {
    let (host, port) = match listener {
        Listener::Socket => (
            hostile.socket_dir().display().to_string(),
            hostile.socket_port(),
        ),
        other => (host.to_owned(), hostile.port(other)),
    };
    Case {
        auth: auth.clone(),
        settings: Settings {
            host: Some(host),
            port: Some(port),
            dbname: Some("postgres".to_owned()),
            ..Settings::default()
        },
        root_pem: Some(hostile.trusted_ca_pem().to_owned()),
        insecure: false,
    }
}

async fn attempt<D: Driver>(driver: &D, case: Case) -> Result<String, Failure> {
    driver.open(case).await?.connect().await
}

async fn open<D: Driver>(driver: &D, case: Case) -> Box<dyn Session> {
    match driver.open(case).await {
        Ok(session) => session,
        Err(err) => panic!("{}: cannot open: {err}", driver.name()),
    }
}

fn expect_kind(result: Result<String, Failure>, kind: &str, context: &str) -> Failure {
    match result {
        Ok(user) => panic!("{context}: connected as {user:?}, expected a {kind} error"),
        Err(err) => {
            assert_eq!(err.kind, kind, "{context}: {err}");
            let says = match kind {
                "insecure_transport" => "refusing to send the Entra token without verified TLS",
                "certificate" => "is not trusted",
                "host_not_allowed" => "allow_host(",
                "rejected" => "rejected the",
                _ => "",
            };
            assert!(err.message.contains(says), "{context}: {err}");
            err
        }
    }
}

fn total_connections(hostile: &HostileServer) -> u64 {
    Listener::ALL
        .iter()
        .map(|listener| hostile.connections(*listener))
        .sum()
}

/// Every listener × every `sslmode`: only the trusted, allowed listener with a
/// verifying mode receives a password; every refusal is typed.
pub async fn listeners_by_sslmode<D: Driver>(driver: &D) {
    let hostile = HostileServer::start();
    let identity = new_identity()
        .upn(&format!("{}@contoso.com", unique_name("listener")))
        .build();
    let auth = build_auth(&identity, |builder| builder.allow_host("localhost"));
    for mode in MODES {
        for listener in Listener::ALL {
            let context = format!("{} sslmode={mode:?} {listener:?}", driver.name());
            let mut case = hostile_case(&hostile, listener, "localhost", &auth);
            case.settings.sslmode = mode.map(str::to_owned);
            let (connections, passwords) =
                (hostile.connections(listener), hostile.passwords(listener));
            let result = attempt(driver, case).await;
            let verifying = matches!(mode, None | Some("verify-full"))
                || (mode == Some("require") && driver.require_verifies());
            if !verifying || listener == Listener::Socket {
                expect_kind(result, "insecure_transport", &context);
                assert_eq!(
                    hostile.connections(listener),
                    connections,
                    "{context}: refused before connecting"
                );
                continue;
            }
            match listener {
                Listener::Plaintext => {
                    let err = expect_kind(result, "insecure_transport", &context);
                    assert!(
                        err.message.contains("does not offer TLS"),
                        "{context}: {err}"
                    );
                }
                Listener::UntrustedCa | Listener::WrongName => {
                    expect_kind(result, "certificate", &context);
                }
                Listener::Trusted => {
                    expect_kind(result, "rejected", &context);
                    assert!(
                        hostile.passwords(listener) > passwords,
                        "{context}: the control received the login"
                    );
                }
                Listener::Socket => unreachable!(),
            }
        }
    }
    assert_eq!(
        hostile.passwords_except(Listener::Trusted),
        0,
        "{}: a password reached a listener it must never reach",
        driver.name()
    );
}

/// The default policy (the cloud's server domain), `allow_host`, IP addresses,
/// `hostaddr` with another name, lookalike names and `danger_allow_any_host`.
pub async fn host_policy<D: Driver>(driver: &D) {
    let hostile = HostileServer::start();
    let identity = new_identity()
        .upn(&format!("{}@contoso.com", unique_name("policy")))
        .build();
    let name = driver.name();
    let default = build_auth(&identity, |builder| builder);
    // A name reached on 127.0.0.1: through hostaddr, or /etc/hosts for drivers
    // without hostaddr.
    let via_loopback = |case: &mut Case, host: &str| {
        case.settings.host = Some(host.to_owned());
        if driver.takes_hostaddr() {
            case.settings.hostaddr = Some("127.0.0.1".to_owned());
        } else {
            test_names_resolve().unwrap_or_else(|err| panic!("{name}: {err}"));
        }
    };

    // Refused by the default policy before any connection.
    for host in [
        "localhost",
        "127.0.0.1",
        OTHER_HOST,
        "entra-pg-test.postgres.database.azure.com.evil.example",
        "entra-pg-testpostgres.database.azure.com",
        "postgres.database.azure.com",
        "entra-pg-test.postgres.database.usgovcloudapi.net",
    ] {
        let context = format!("{name}: default policy, host {host}");
        let before = total_connections(&hostile);
        let case = hostile_case(&hostile, Listener::Trusted, host, &default);
        expect_kind(attempt(driver, case).await, "host_not_allowed", &context);
        assert_eq!(
            total_connections(&hostile),
            before,
            "{context}: no connection"
        );
    }
    let mut case = hostile_case(&hostile, Listener::WrongName, OTHER_HOST, &default);
    via_loopback(&mut case, OTHER_HOST);
    expect_kind(
        attempt(driver, case).await,
        "host_not_allowed",
        &format!("{name}: hostaddr to {OTHER_HOST}"),
    );
    assert_eq!(
        total_connections(&hostile),
        0,
        "{name}: nothing connected yet"
    );

    // Permitted: each receives the login (the controls).
    let allowed = |pattern: &str| build_auth(&identity, |builder| builder.allow_host(pattern));
    let any = build_auth(&identity, |builder| builder.danger_allow_any_host(true));
    let mut controls = Vec::new();
    let mut azure = hostile_case(&hostile, Listener::Trusted, AZURE_TEST_HOST, &default);
    via_loopback(&mut azure, AZURE_TEST_HOST);
    controls.push((
        "default policy, the Azure-style name",
        Listener::Trusted,
        azure,
    ));
    controls.push((
        "allow_host(localhost)",
        Listener::Trusted,
        hostile_case(
            &hostile,
            Listener::Trusted,
            "localhost",
            &allowed("localhost"),
        ),
    ));
    controls.push((
        "allow_host(127.0.0.1)",
        Listener::Trusted,
        hostile_case(
            &hostile,
            Listener::Trusted,
            "127.0.0.1",
            &allowed("127.0.0.1"),
        ),
    ));
    let mut other = hostile_case(
        &hostile,
        Listener::WrongName,
        OTHER_HOST,
        &allowed(OTHER_HOST),
    );
    via_loopback(&mut other, OTHER_HOST);
    controls.push((
        "allow_host(other.invalid), valid certificate",
        Listener::WrongName,
        other,
    ));
    controls.push((
        "danger_allow_any_host",
        Listener::Trusted,
        hostile_case(&hostile, Listener::Trusted, "localhost", &any),
    ));
    for (what, listener, case) in controls {
        let context = format!("{name}: {what}");
        let before = hostile.passwords(listener);
        expect_kind(attempt(driver, case).await, "rejected", &context);
        assert!(
            hostile.passwords(listener) > before,
            "{context}: the login arrived"
        );
    }
    for listener in [Listener::Plaintext, Listener::UntrustedCa, Listener::Socket] {
        assert_eq!(hostile.passwords(listener), 0, "{name}: {listener:?}");
    }
}

/// Several hosts: one refused host refuses them all, before any connection; no
/// host at all is refused too.
pub async fn several_hosts<D: Driver>(driver: &D) {
    let hostile = HostileServer::start();
    let identity = new_identity()
        .upn(&format!("{}@contoso.com", unique_name("hosts")))
        .build();
    let name = driver.name();
    let auth = build_auth(&identity, |builder| builder.allow_host("localhost"));
    for hosts in ["evil.example,localhost", "localhost,evil.example"] {
        let mut case = hostile_case(&hostile, Listener::Trusted, hosts, &auth);
        if driver.takes_hostaddr() {
            case.settings.hostaddr = Some("127.0.0.1,127.0.0.1".to_owned());
        }
        let result = attempt(driver, case).await;
        let err = result.expect_err(&format!("{name}: {hosts} refused"));
        assert!(
            ["host_not_allowed", "invalid_config"].contains(&err.kind.as_str()),
            "{name}: {hosts}: {err}"
        );
        assert_eq!(
            total_connections(&hostile),
            0,
            "{name}: {hosts}: no connection"
        );
    }
    let mut none = hostile_case(&hostile, Listener::Trusted, "localhost", &auth);
    none.settings.host = None;
    expect_kind(
        attempt(driver, none).await,
        "insecure_transport",
        &format!("{name}: no host"),
    );
    assert_eq!(total_connections(&hostile), 0, "{name}: no connection");
}

/// A Unix socket where the real server asks for the password: refused; refused
/// with the opt-out unless the policy allows the path; allowed, it logs in (the
/// positive control that the server would have seen the token).
pub async fn unix_socket_on_a_real_server<D: Driver>(driver: &D) {
    let server = PgServer::builder()
        .socket_logins(true)
        .max_connections(20)
        .start();
    let user = format!("{}@contoso.com", unique_name("socket"));
    let identity = new_identity().upn(&user).login_on(&server, &user).build();
    let name = driver.name();
    let socket = server.socket_dir().display().to_string();
    let case = |auth: &EntraAuth, insecure: bool| Case {
        auth: auth.clone(),
        settings: Settings {
            host: Some(socket.clone()),
            port: Some(server.port()),
            dbname: Some("postgres".to_owned()),
            sslmode: insecure.then(|| "disable".to_owned()),
            ..Settings::default()
        },
        root_pem: None,
        insecure,
    };
    let localhost = build_auth(&identity, |builder| builder.allow_host("localhost"));
    expect_kind(
        attempt(driver, case(&localhost, false)).await,
        "insecure_transport",
        &format!("{name}: socket"),
    );
    expect_kind(
        attempt(driver, case(&localhost, true)).await,
        "host_not_allowed",
        &format!("{name}: socket with the opt-out, path not allowed"),
    );
    assert_eq!(
        server.password_checks_for(&user),
        0,
        "{name}: no password yet"
    );
    let path = build_auth(&identity, |builder| builder.allow_host(socket.clone()));
    let current = attempt(driver, case(&path, true))
        .await
        .unwrap_or_else(|err| panic!("{name}: allowed socket: {err}"));
    assert_eq!(current, user, "{name}");
    assert_eq!(server.password_checks_for(&user), 1, "{name}: the control");
}

/// Settings with a user and a password never touch Entra, and the host policy
/// does not apply to them (no token is sent).
pub async fn static_login<D: Driver>(driver: &D) {
    let server = PgServer::shared();
    let role = unique_name("static");
    let password = format!("static-password-{}", unique_name("pw"));
    server.create_password_role(&role, &password);
    let identity = new_identity().upn("unused@contoso.com").build();
    let default = build_auth(&identity, |builder| builder);
    let mut case = real_case(&default);
    case.settings.user = Some(role.clone());
    case.settings.password = Some(password.clone());
    let session = open(driver, case).await;
    let current = session
        .connect()
        .await
        .unwrap_or_else(|err| panic!("{}: static login: {err}", driver.name()));
    assert_eq!(current, role);
    assert_eq!(
        identity.requests(Resource::Database),
        0,
        "{}",
        driver.name()
    );
    assert_eq!(server.password_checks_for(&role), 1, "{}", driver.name());
    assert!(
        !session.describe().contains(&password),
        "{}: Debug",
        driver.name()
    );
}

/// No issued token in `Debug` of the path, in a rejection's messages, or in any
/// log line.
pub async fn redaction<D: Driver>(driver: &D) {
    let name = driver.name();
    let (identity, user) = user_identity("redaction");
    let auth = build_auth(&identity, |builder| builder.allow_host("localhost"));
    let session = open(driver, real_case(&auth)).await;
    assert_eq!(session.connect().await.unwrap(), user, "{name}");
    let described = session.describe();

    let refused = new_identity()
        .upn(&format!("{}@contoso.com", unique_name("refused")))
        .login_on(PgServer::shared(), &unique_name("refused_role"))
        .build();
    refused.set_accepted(false);
    let refused_auth = build_auth(&refused, |builder| builder.allow_host("localhost"));
    let err = expect_kind(
        attempt(driver, real_case(&refused_auth)).await,
        "rejected",
        &format!("{name}: rejected"),
    );
    let mut tokens = identity.issued_tokens();
    tokens.extend(refused.issued_tokens());
    assert!(tokens.len() >= 2, "{name}: tokens were issued");
    let logs = captured_logs();
    for token in &tokens {
        let signature = token.rsplit('.').next().unwrap_or(token);
        for (what, text) in [
            ("Debug of the path", &described),
            ("Display", &err.message),
            ("error chain", &err.chain),
            ("Debug of the error", &err.debug),
            ("logs", &logs),
        ] {
            assert!(!text.contains(signature), "{name}: a token in the {what}");
        }
    }
}

/// Every kind of principal: system-assigned identities named after their
/// resource (names with `/`), an application that names no user (a clear error,
/// then the user from the settings with no derivation), a group role.
pub async fn principals<D: Driver>(driver: &D) {
    let name = driver.name();
    let server = PgServer::shared();
    let subscription =
        "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers";
    let vm = unique_name("vm");
    let app = unique_name("app");
    let slot = format!("{app}/slots/staging");
    for (role, mirid) in [
        (
            vm.clone(),
            format!("{subscription}/Microsoft.Compute/virtualMachines/{vm}"),
        ),
        (
            slot.clone(),
            format!("{subscription}/Microsoft.Web/sites/{app}/slots/staging"),
        ),
    ] {
        let identity = new_identity()
            .claim("xms_mirid", mirid.as_str())
            .claim("idtyp", "app")
            .login_on(server, &role)
            .build();
        let auth = build_auth(&identity, |builder| builder.allow_host("localhost"));
        let current = attempt(driver, real_case(&auth))
            .await
            .unwrap_or_else(|err| panic!("{name}: {role}: {err}"));
        assert_eq!(current, role, "{name}");
        assert_eq!(identity.requests(Resource::Management), 0, "{name}: {role}");
    }

    // An application: no name in any token.
    let role = unique_name("app display name");
    let application = new_identity()
        .claim("idtyp", "app")
        .login_on(server, &role)
        .build();
    let auth = build_auth(&application, |builder| builder.allow_host("localhost"));
    let err = expect_kind(
        attempt(driver, real_case(&auth)).await,
        "user_not_derivable",
        &format!("{name}: application"),
    );
    assert!(
        err.message.contains(application.client_id()),
        "{name}: {err}"
    );
    assert!(
        err.message.contains("pgaadauth_create_principal_with_oid"),
        "{name}: {err}"
    );
    let management = application.requests(Resource::Management);
    let mut case = real_case(&auth);
    case.settings.user = Some(role.clone());
    let current = attempt(driver, case)
        .await
        .unwrap_or_else(|err| panic!("{name}: application with a user: {err}"));
    assert_eq!(current, role, "{name}");
    assert_eq!(
        application.requests(Resource::Management),
        management,
        "{name}: no derivation when the settings name the user"
    );

    // A group: its members log in with the group's name.
    let group = unique_name("group");
    let member = new_identity()
        .upn(&format!("{}@contoso.com", unique_name("member")))
        .login_on(server, &group)
        .build();
    let auth = build_auth(&member, |builder| builder.allow_host("localhost"));
    let mut case = real_case(&auth);
    case.settings.user = Some(group.clone());
    assert_eq!(attempt(driver, case).await.unwrap(), group, "{name}: group");
}

/// Tokens rotate on the injected clock: new connections use the new token once
/// the old one is due, and after it expired (the server refuses it then).
pub async fn rotation<D: Driver>(driver: &D) {
    let name = driver.name();
    let clock = test_clock();
    let (identity, user, auth) = clocked("rotation", &clock);
    let session = open(driver, real_case(&auth)).await;
    assert_eq!(session.connect().await.unwrap(), user, "{name}");
    assert_eq!(identity.requests(Resource::Database), 1, "{name}");

    clock.advance(time::Duration::seconds(190));
    assert_eq!(
        session.connect().await.unwrap(),
        user,
        "{name}: in the refresh window"
    );
    if let Some(result) = auth.wait_for_refresh().await {
        result.unwrap_or_else(|err| panic!("{name}: refresh: {err}"));
    }
    session.settle().await;
    assert_eq!(
        identity.requests(Resource::Database),
        2,
        "{name}: one refresh"
    );

    clock.advance(time::Duration::seconds(60));
    let first = identity.issued_tokens().remove(0);
    let err = PgServer::shared().login(&user, &first).await.unwrap_err();
    assert!(
        err.is_auth_failure(),
        "{name}: the first token has expired: {err}"
    );
    assert_eq!(
        session.connect().await.unwrap(),
        user,
        "{name}: after expiry"
    );
    assert_eq!(
        identity.requests(Resource::Database),
        2,
        "{name}: no extra request"
    );
}

/// The endpoint fails: connections keep working while the token is valid, get a
/// typed error past it, and recover when the endpoint is back.
pub async fn outage<D: Driver>(driver: &D) {
    let name = driver.name();
    let clock = test_clock();
    let (identity, user, auth) = clocked("outage", &clock);
    let session = open(driver, real_case(&auth)).await;
    assert_eq!(session.connect().await.unwrap(), user, "{name}");

    identity.set_fault(Some(Fault::Status(503)));
    clock.advance(time::Duration::seconds(190));
    assert_eq!(
        session.connect().await.unwrap(),
        user,
        "{name}: still valid"
    );
    if let Some(result) = auth.wait_for_refresh().await {
        assert!(result.is_err(), "{name}: the refresh failed");
    }

    clock.advance(time::Duration::seconds(50));
    let err = expect_kind(
        session.connect().await,
        "credential",
        &format!("{name}: past expiry"),
    );
    assert!(err.message.contains("503"), "{name}: {err}");

    identity.set_fault(None);
    clock.advance(time::Duration::seconds(5));
    assert_eq!(session.connect().await.unwrap(), user, "{name}: recovered");
}

/// The server stops accepting a valid token: the next connect succeeds with
/// exactly one extra token request; when every token is refused, the rejection is
/// reported after one retry, and no further token is asked for right away.
pub async fn rejection_recovery<D: Driver>(driver: &D) {
    let name = driver.name();
    let clock = test_clock();
    let (identity, user, auth) = clocked("rejection", &clock);
    let session = open(driver, real_case(&auth)).await;
    assert_eq!(session.connect().await.unwrap(), user, "{name}");
    assert_eq!(identity.requests(Resource::Database), 1, "{name}");

    identity.revoke_tokens();
    assert_eq!(session.connect().await.unwrap(), user, "{name}: recovered");
    assert_eq!(
        identity.requests(Resource::Database),
        2,
        "{name}: one extra request"
    );

    identity.set_accepted(false);
    identity.revoke_tokens();
    clock.advance(time::Duration::seconds(5));
    let err = expect_kind(
        session.connect().await,
        "rejected",
        &format!("{name}: refused"),
    );
    assert!(
        err.message.contains("pgaadauth_create_principal"),
        "{name}: {err}"
    );
    assert_eq!(
        identity.requests(Resource::Database),
        3,
        "{name}: one retry, no loop"
    );
    expect_kind(
        session.connect().await,
        "rejected",
        &format!("{name}: again"),
    );
    assert_eq!(
        identity.requests(Resource::Database),
        3,
        "{name}: no forced refresh within the back-off"
    );
}

/// A credential that caches tokens itself (azure_identity's managed identity keeps
/// a 1-hour token until 5 minutes before expiry) hands back the very token the
/// server refused: the rejection is reported with that explanation, and the
/// refused token is not tried again.
pub async fn rejection_with_the_credential_cache<D: Driver>(driver: &D) {
    let name = driver.name();
    let user = format!("{}@contoso.com", unique_name("own_cache"));
    let server = PgServer::shared();
    let identity = new_identity()
        .upn(&user)
        .lifetime(Duration::from_secs(3600))
        .login_on(server, &user)
        .build();
    let auth = build_auth(&identity, |builder| builder.allow_host("localhost"));
    let session = open(driver, real_case(&auth)).await;
    assert_eq!(session.connect().await.unwrap(), user, "{name}");
    let checks = server.password_checks_for(&user);

    identity.revoke_tokens();
    let err = expect_kind(
        session.connect().await,
        "rejected",
        &format!("{name}: revoked"),
    );
    assert!(
        err.message.contains("returned the same token"),
        "{name}: {err}"
    );
    assert!(err.message.contains("restart the process"), "{name}: {err}");
    assert_eq!(
        identity.requests(Resource::Database),
        1,
        "{name}: the credential answered the forced refresh from its own cache"
    );
    assert!(
        server.password_checks_for(&user) > checks,
        "{name}: the server judged it"
    );
}

/// The hostile environments [`hostile_environment_child`] runs in.
const ENVIRONMENTS: [&str; 17] = [
    "PGSSLMODE=disable",
    "PGSSLMODE=allow",
    "PGSSLMODE=prefer",
    "PGSSLMODE=require",
    "PGSSLMODE=verify-ca",
    "PGREQUIRESSL=0",
    "PGSSLNEGOTIATION=direct",
    "PGGSSENCMODE=prefer",
    "PGCHANNELBINDING=disable",
    "PGSSLSNI=0",
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGSSLROOTCERT",
    "PGSERVICE",
    "PGUSER+PGPASSWORD",
    "ALL",
];

/// Runs the test `child` (a [`hostile_environment_child`]) once per hostile
/// environment, each in a process of its own.
pub fn hostile_environment_parent(child: &str) {
    let exe = std::env::current_exe().expect("test binary");
    for environment in ENVIRONMENTS {
        let output = std::process::Command::new(&exe)
            .args(["--exact", child, "--nocapture", "--test-threads", "1"])
            .env("ENTRA_PG_HOSTILE_ENV", environment)
            .output()
            .expect("run the test binary");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.contains("1 passed"),
            "{child} with {environment} failed ({}):\n{stdout}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// Sets the hostile variables of `environment` (one of [`ENVIRONMENTS`]) for the
/// listeners of `hostile`, writing their files into `dir`.
fn apply(environment: &str, hostile: &HostileServer, dir: &std::path::Path) {
    let untrusted = dir.join("untrusted-ca.pem");
    std::fs::write(&untrusted, hostile.untrusted_ca_pem()).expect("write CA");
    let service = dir.join("pg_service.conf");
    std::fs::write(
        &service,
        format!(
            "[hostile]\nhost={}\nport={}\nsslmode=disable\nhostaddr=127.0.0.1\n",
            hostile.socket_dir().display(),
            hostile.socket_port()
        ),
    )
    .expect("write service file");
    let named: Vec<(&str, Vec<(&str, String)>)> = vec![
        (
            "PGHOST",
            vec![("PGHOST", hostile.socket_dir().display().to_string())],
        ),
        ("PGHOSTADDR", vec![("PGHOSTADDR", "127.0.0.1".to_owned())]),
        (
            "PGPORT",
            vec![("PGPORT", hostile.port(Listener::Plaintext).to_string())],
        ),
        (
            "PGSSLROOTCERT",
            vec![("PGSSLROOTCERT", untrusted.display().to_string())],
        ),
        (
            "PGSERVICE",
            vec![
                ("PGSERVICEFILE", service.display().to_string()),
                ("PGSERVICE", "hostile".to_owned()),
            ],
        ),
        (
            "PGUSER+PGPASSWORD",
            vec![
                ("PGUSER", "mallory".to_owned()),
                ("PGPASSWORD", "not-a-token".to_owned()),
            ],
        ),
    ];
    let mut pairs: Vec<(String, String)> = Vec::new();
    for candidate in ENVIRONMENTS {
        if candidate != environment && environment != "ALL" {
            continue;
        }
        if let Some((key, value)) = candidate.split_once('=') {
            // With ALL, the first value of each variable wins (PGSSLMODE=disable).
            if !pairs.iter().any(|(set, _)| set == key) {
                pairs.push((key.to_owned(), value.to_owned()));
            }
        }
        for (_, variables) in named.iter().filter(|(name, _)| *name == candidate) {
            for (key, value) in variables {
                pairs.push(((*key).to_owned(), value.clone()));
            }
        }
    }
    assert!(
        !pairs.is_empty(),
        "unknown hostile environment {environment}"
    );
    for (key, value) in pairs {
        std::env::set_var(key, value);
    }
}

/// Every listener, no `sslmode` in the settings, in the hostile environment named
/// by `ENTRA_PG_HOSTILE_ENV` (a clean one when unset): no password reaches a
/// listener but the control; every failure is typed.
pub async fn hostile_environment_child<D: Driver>(driver: &D) {
    let hostile = HostileServer::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let environment = std::env::var("ENTRA_PG_HOSTILE_ENV").ok();
    if let Some(environment) = &environment {
        apply(environment, &hostile, dir.path());
    }
    let context = format!("{} in {environment:?}", driver.name());
    let identity = new_identity()
        .upn(&format!("{}@contoso.com", unique_name("hostile_env")))
        .build();
    let auth = build_auth(&identity, |builder| builder.allow_host("localhost"));
    let typed = [
        "insecure_transport",
        "certificate",
        "rejected",
        "host_not_allowed",
        "driver",
        "invalid_config",
    ];
    for listener in Listener::ALL {
        let result = attempt(driver, hostile_case(&hostile, listener, "localhost", &auth)).await;
        if let Err(err) = result {
            assert!(
                typed.contains(&err.kind.as_str()),
                "{context} {listener:?}: {err}"
            );
        }
    }
    let mut none = hostile_case(&hostile, Listener::Trusted, "localhost", &auth);
    none.settings.host = None;
    assert!(attempt(driver, none).await.is_err(), "{context}: no host");
    assert_eq!(
        hostile.passwords_except(Listener::Trusted),
        0,
        "{context}: a password reached a listener it must never reach"
    );
    let tokens = identity.issued_tokens();
    for user in hostile.users() {
        assert!(!tokens.contains(&user), "{context}");
    }
    if environment.is_none() {
        assert!(
            hostile.passwords(Listener::Trusted) > 0,
            "{context}: the control"
        );
    }
}
