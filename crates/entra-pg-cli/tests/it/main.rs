//! The `entra-pg` binary against the test kit: a real PostgreSQL over TLS, the real
//! credential code against the kit's endpoint, and the kit's hostile server.

use std::process::{Command, Output};

use entra_pg_testkit::{
    FakeEntra, Fault, HostileServer, Identity, Listener, PgServer, init_logs, unique_name,
};

/// The `entra-pg` command with the examples' environment for `server:port` and
/// the kit's endpoint, as `identity`.
fn entra_pg(identity: &Identity, port: u16, args: &[&str]) -> Command {
    init_logs();
    let mut command = Command::new(env!("CARGO_BIN_EXE_entra-pg"));
    command
        .args(args)
        .envs(FakeEntra::shared().env())
        .env("AZURE_CLIENT_ID", identity.client_id())
        .env("POSTGRES_SERVER", "localhost")
        .env("POSTGRES_PORT", port.to_string())
        .env("PGSSLROOTCERT", PgServer::shared().ca_path())
        .env("ENTRA_PG_ALLOW_HOSTS", "localhost")
        .env_remove("POSTGRES_USER")
        .env_remove("AZURE_TOKEN_CREDENTIALS")
        .env_remove("AZURE_CLIENT_SECRET")
        .env_remove("AZURE_FEDERATED_TOKEN_FILE");
    command
}

fn run(command: &mut Command) -> (Output, String) {
    let output = command.output().expect("run entra-pg");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output, text)
}

fn user_identity(prefix: &str) -> (Identity, String) {
    let user = format!("{}@contoso.com", unique_name(prefix));
    let identity = FakeEntra::shared()
        .identity()
        .upn(&user)
        .login_on(PgServer::shared(), &user)
        .build();
    (identity, user)
}

/// The line of `step` in the doctor's output.
fn step<'a>(text: &'a str, step: &str) -> &'a str {
    text.lines()
        .find(|line| line.contains(&format!("  {step} ")))
        .unwrap_or_else(|| panic!("no {step} step in:\n{text}"))
}

#[test]
fn doctor_passes_every_step_of_a_good_setup() {
    let (identity, user) = user_identity("doctor_ok");
    let (output, text) = run(&mut entra_pg(
        &identity,
        PgServer::shared().port(),
        &["doctor"],
    ));
    assert!(output.status.success(), "{text}");
    for name in [
        "host policy",
        "DNS",
        "TCP",
        "TLS",
        "credential",
        "token",
        "claims",
        "user",
        "login",
    ] {
        assert!(step(&text, name).contains("✓ pass"), "{name}:\n{text}");
    }
    assert!(step(&text, "user").contains(&user), "{text}");
    assert!(
        step(&text, "TLS").contains("entra-pg test CA"),
        "the issuer:\n{text}"
    );
    assert!(!text.contains('\u{1b}'), "no colour when not a terminal");
    for token in identity.issued_tokens() {
        assert!(!text.contains(&token), "a token in the doctor's output");
    }
}

#[test]
fn doctor_json_is_one_document_with_every_step() {
    let (identity, _) = user_identity("doctor_json");
    let (output, text) = run(&mut entra_pg(
        &identity,
        PgServer::shared().port(),
        &["doctor", "--json"],
    ));
    assert!(output.status.success(), "{text}");
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(document["ok"], true);
    let steps = document["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 9);
    assert!(
        steps
            .iter()
            .all(|step| step["ok"] == true && step["millis"].is_u64())
    );
}

#[test]
fn doctor_shows_the_sql_for_a_role_that_does_not_exist() {
    let user = format!("{}@contoso.com", unique_name("doctor_norole"));
    let identity = FakeEntra::shared().identity().upn(&user).build();
    let (output, text) = run(&mut entra_pg(
        &identity,
        PgServer::shared().port(),
        &["doctor"],
    ));
    assert!(!output.status.success(), "{text}");
    assert!(step(&text, "login").contains("✗ FAIL"), "{text}");
    assert!(
        text.contains(&format!(
            "SELECT * FROM pgaadauth_create_principal('{user}', false, false);"
        )),
        "{text}"
    );
}

#[test]
fn doctor_names_tls_as_the_cause_and_sends_nothing_to_a_bad_server() {
    let hostile = HostileServer::start();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("trusted.pem");
    std::fs::write(&ca, hostile.trusted_ca_pem()).unwrap();
    let (identity, _) = user_identity("doctor_tls");
    for (listener, says) in [
        (Listener::Plaintext, "does not offer TLS"),
        (Listener::UntrustedCa, "add the root CA that signed it"),
        (Listener::WrongName, "the certificate is not for localhost"),
    ] {
        let (output, text) =
            run(entra_pg(&identity, hostile.port(listener), &["doctor"]).env("PGSSLROOTCERT", &ca));
        assert!(!output.status.success(), "{listener:?}: {text}");
        assert!(
            step(&text, "TLS").contains("✗ FAIL"),
            "{listener:?}: {text}"
        );
        assert!(text.contains(says), "{listener:?}: {text}");
        assert!(
            step(&text, "login").contains("skipped"),
            "{listener:?}: {text}"
        );
    }
    assert_eq!(
        hostile.passwords_except(Listener::Socket),
        0,
        "no password anywhere"
    );
}

#[test]
fn doctor_explains_a_closed_port_a_failing_endpoint_and_a_host_outside_the_policy() {
    let (identity, _) = user_identity("doctor_faults");
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (output, text) = run(&mut entra_pg(&identity, closed, &["doctor"]));
    assert!(!output.status.success());
    assert!(step(&text, "TCP").contains("refused"), "{text}");
    assert!(text.contains("nothing listens on port"), "{text}");

    let failing = FakeEntra::shared()
        .identity()
        .upn("failing@contoso.com")
        .build();
    failing.set_fault(Some(Fault::Status(500)));
    let (output, text) = run(&mut entra_pg(
        &failing,
        PgServer::shared().port(),
        &["doctor"],
    ));
    assert!(!output.status.success());
    assert!(step(&text, "token").contains("HTTP 500"), "{text}");

    let server = PgServer::shared();
    let (outside, user) = user_identity("doctor_policy");
    let (output, text) =
        run(entra_pg(&outside, server.port(), &["doctor"]).env_remove("ENTRA_PG_ALLOW_HOSTS"));
    assert!(!output.status.success());
    assert!(step(&text, "host policy").contains("✗ FAIL"), "{text}");
    assert!(text.contains("--allow-host localhost"), "{text}");
    assert!(step(&text, "login").contains("skipped"), "{text}");
    assert_eq!(server.password_checks_for(&user), 0, "no token was sent");
}

#[test]
fn whoami_tells_the_principal_and_the_user_for_a_person_and_a_managed_identity() {
    let (person, user) = user_identity("whoami");
    let (output, text) = run(&mut entra_pg(
        &person,
        PgServer::shared().port(),
        &["whoami"],
    ));
    assert!(output.status.success(), "{text}");
    assert!(text.contains("principal  user"), "{text}");
    assert!(
        text.contains(&format!("{user} (from the claim upn)")),
        "{text}"
    );
    assert!(
        text.contains("ManagedIdentityCredential (user-assigned"),
        "the credential: {text}"
    );
    assert!(text.contains(person.client_id()), "the object id: {text}");

    let mirid = "/subscriptions/0/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/orders-api";
    let managed = FakeEntra::shared()
        .identity()
        .claim("xms_mirid", mirid)
        .build();
    let (output, text) = run(&mut entra_pg(
        &managed,
        PgServer::shared().port(),
        &["whoami"],
    ));
    assert!(output.status.success(), "{text}");
    assert!(text.contains("managed identity (user-assigned)"), "{text}");
    assert!(
        text.contains("orders-api (from the claim xms_mirid)"),
        "{text}"
    );
    for token in person
        .issued_tokens()
        .into_iter()
        .chain(managed.issued_tokens())
    {
        assert!(!text.contains(&token), "a token in whoami's output");
    }
}

#[test]
fn token_prints_exactly_a_token_the_server_accepts() {
    let (identity, user) = user_identity("token");
    let (output, text) = run(&mut entra_pg(
        &identity,
        PgServer::shared().port(),
        &["token"],
    ));
    assert!(output.status.success(), "{text}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let token = stdout.strip_suffix('\n').expect("one line");
    assert!(!token.contains('\n'));
    assert_eq!(
        PgServer::shared().login_blocking(&user, token).unwrap(),
        user
    );
}

#[test]
fn psql_logs_in_with_the_token_in_its_environment() {
    let (identity, user) = user_identity("psql");
    let (output, text) = run(&mut entra_pg(
        &identity,
        PgServer::shared().port(),
        &["psql", "--", "-tAc", "select current_user"],
    ));
    assert!(output.status.success(), "{text}");
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), user);

    let (output, text) = run(entra_pg(
        &identity,
        PgServer::shared().port(),
        &["psql", "--", "-c", "select 1"],
    )
    .env("PATH", "/nonexistent"));
    assert!(!output.status.success());
    assert!(text.contains("psql is not installed"), "{text}");
}
