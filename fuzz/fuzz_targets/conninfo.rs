//! Connection settings (conninfo strings and URLs, arbitrary or built from
//! arbitrary values) through entra-pg-tokio's reading (`IntoSettings`), the
//! security contract (`Settings::check`) and the login step (`Checked::with_login`
//! with a real `EntraAuth::login_blocking`): never panics; values round-trip (and
//! arbitrary strings read as tokio-postgres' own parser reads them); the contract's
//! verdict is the one an independent reading of its rules gives (no host, a Unix
//! socket, `hostaddr` without a host name or an `sslmode` that does not verify are
//! refused without `danger_allow_insecure_transport`; for Entra logins every host
//! must be allowed by the host policy); the connection gets exactly the injected
//! login (the settings' own user wins, the token is the password, a static login
//! gets no token); TLS is `require` (rustls verifies it) unless the opt-out allowed
//! a weaker mode; everything else is left alone; and the token shows in no error
//! or `Debug` output.

#![no_main]

#[path = "common.rs"]
mod common;

use std::{net::IpAddr, path::PathBuf};

use arbitrary::Arbitrary;
use common::{Login, Policy, assert_token_hidden, encode};
use entra_pg_core::{Error, SslMode};
use entra_pg_tokio::{
    __private::{Checked, Settings as TokioSettings},
    IntoSettings,
    tokio_postgres::{
        Config,
        config::{Host, SslMode as DriverSslMode},
    },
};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    settings: Settings<'a>,
    login: Login<'a>,
    /// The connector's `danger_allow_insecure_transport`.
    allow_insecure: bool,
}

#[derive(Arbitrary, Debug)]
enum Settings<'a> {
    /// Any string: compared with tokio-postgres' own parser.
    Raw(&'a str),
    /// `host=… port=… key='value' …`, values quoted and escaped as libpq documents.
    KeyValue(Hosts, Vec<Param<'a>>),
    /// `postgresql://user:password@host:port,…/dbname?key=value&…`, percent-encoded.
    Url(Url<'a>),
}

#[derive(Arbitrary, Debug)]
struct Url<'a> {
    short_scheme: bool,
    credentials: Option<(&'a str, Option<&'a str>)>,
    hosts: Hosts,
    dbname: Option<&'a str>,
    params: Vec<Param<'a>>,
}

/// The hosts (and ports) of the settings, inside and outside the host policy.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Hosts {
    None,
    Azure,
    AzurePort,
    Allowed,
    /// The allowed host in upper case, with a trailing dot.
    AllowedOddCase,
    Corp,
    Ipv6Port,
    /// The Azure domain followed by another one.
    Evil,
    Several,
    /// One allowed host, one not.
    Mixed,
    /// The allowed Unix-socket directory.
    Socket,
}

impl Hosts {
    fn list(self) -> &'static [(&'static str, Option<u16>)] {
        match self {
            Self::None => &[],
            Self::Azure => &[("srv.postgres.database.azure.com", None)],
            Self::AzurePort => &[("srv.postgres.database.azure.com", Some(6432))],
            Self::Allowed => &[("db.example.com", None)],
            Self::AllowedOddCase => &[("DB.Example.COM.", Some(6432))],
            Self::Corp => &[("a.b.corp.example.com", None)],
            Self::Ipv6Port => &[("::1", Some(5433))],
            Self::Evil => &[("srv.postgres.database.azure.com.evil.example", None)],
            Self::Several => &[
                ("srv.postgres.database.azure.com", None),
                ("db.example.com", Some(5433)),
            ],
            Self::Mixed => &[("db.example.com", Some(5432)), ("evil.example", Some(5433))],
            Self::Socket => &[("/run/pg", None)],
        }
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Param<'a> {
    User(&'a str),
    Password(&'a str),
    Dbname(&'a str),
    ApplicationName(&'a str),
    Options(&'a str),
    /// Any host (a `/` first makes it a Unix socket).
    Host(&'a str),
    Hostaddr(IpAddr),
    Sslmode(Mode),
}

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq)]
enum Mode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl Mode {
    fn name(self) -> &'static str {
        self.libpq().as_str()
    }

    fn libpq(self) -> SslMode {
        match self {
            Self::Disable => SslMode::Disable,
            Self::Allow => SslMode::Allow,
            Self::Prefer => SslMode::Prefer,
            Self::Require => SslMode::Require,
            Self::VerifyCa => SslMode::VerifyCa,
            Self::VerifyFull => SslMode::VerifyFull,
        }
    }
}

/// The driver's `sslmode` for a libpq mode: tokio-postgres knows `disable`,
/// `prefer` and `require` (which, with rustls, verifies chain and host name).
fn driver_mode(mode: SslMode) -> DriverSslMode {
    match mode {
        SslMode::Disable => DriverSslMode::Disable,
        SslMode::Allow | SslMode::Prefer => DriverSslMode::Prefer,
        _ => DriverSslMode::Require,
    }
}

/// The `sslmode`s a string may have named, from the driver mode it parsed to
/// (`None`: none named).
fn named_candidates(parsed: DriverSslMode) -> Vec<Option<SslMode>> {
    match parsed {
        DriverSslMode::Disable => vec![Some(SslMode::Disable)],
        DriverSslMode::Require => vec![
            Some(SslMode::Require),
            Some(SslMode::VerifyCa),
            Some(SslMode::VerifyFull),
        ],
        _ => vec![None, Some(SslMode::Allow), Some(SslMode::Prefer)],
    }
}

fn unix_or_tcp(host: &str) -> Host {
    if host.starts_with('/') {
        Host::Unix(PathBuf::from(host))
    } else {
        Host::Tcp(host.to_owned())
    }
}

/// What the settings say, as the user wrote them.
#[derive(Default, Debug)]
struct Expected {
    user: Option<String>,
    password: Option<Vec<u8>>,
    dbname: Option<String>,
    application_name: Option<String>,
    options: Option<String>,
    hosts: Vec<Host>,
    hostaddrs: Vec<IpAddr>,
    ports: Vec<u16>,
    mode: Option<Mode>,
}

impl Expected {
    fn apply(&mut self, param: Param<'_>, url: bool) {
        match param {
            Param::User(v) => self.user = Some(v.to_owned()),
            Param::Password(v) => self.password = Some(v.as_bytes().to_vec()),
            Param::Dbname(v) => self.dbname = Some(v.to_owned()),
            Param::ApplicationName(v) => self.application_name = Some(v.to_owned()),
            Param::Options(v) => self.options = Some(v.to_owned()),
            // A URL's `host` parameter is one host; a `key=value` one a list.
            Param::Host(v) if url => self.hosts.push(unix_or_tcp(v)),
            Param::Host(v) => self.hosts.extend(v.split(',').map(unix_or_tcp)),
            Param::Hostaddr(address) => self.hostaddrs.push(address),
            Param::Sslmode(mode) => self.mode = Some(mode),
        }
    }

    fn check(&self, config: &Config) {
        assert_eq!(config.get_user(), self.user.as_deref(), "user");
        assert!(
            config.get_password() == self.password.as_deref(),
            "password"
        );
        assert_eq!(config.get_dbname(), self.dbname.as_deref(), "dbname");
        assert_eq!(
            config.get_application_name(),
            self.application_name.as_deref(),
            "application_name"
        );
        assert_eq!(config.get_options(), self.options.as_deref(), "options");
        assert_eq!(config.get_hosts(), self.hosts.as_slice(), "hosts");
        assert_eq!(
            config.get_hostaddrs(),
            self.hostaddrs.as_slice(),
            "hostaddrs"
        );
        assert_eq!(config.get_ports(), self.ports.as_slice(), "ports");
        assert_eq!(
            config.get_ssl_mode(),
            self.mode
                .map_or(DriverSslMode::Prefer, |mode| driver_mode(mode.libpq())),
            "sslmode"
        );
    }
}

fn key_value(param: Param<'_>) -> (&'static str, String) {
    match param {
        Param::User(v) => ("user", v.to_owned()),
        Param::Password(v) => ("password", v.to_owned()),
        Param::Dbname(v) => ("dbname", v.to_owned()),
        Param::ApplicationName(v) => ("application_name", v.to_owned()),
        Param::Options(v) => ("options", v.to_owned()),
        Param::Host(v) => ("host", v.to_owned()),
        Param::Hostaddr(address) => ("hostaddr", address.to_string()),
        Param::Sslmode(mode) => ("sslmode", mode.name().to_owned()),
    }
}

/// libpq quoting: single quotes, backslash before `'` and `\`.
fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        if matches!(c, '\'' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// The settings string and, when it was built from values, what it must parse to.
fn render(settings: &Settings<'_>) -> (String, Option<Expected>) {
    let mut expected = Expected::default();
    let text = match settings {
        Settings::Raw(raw) => return ((*raw).to_owned(), None),
        Settings::KeyValue(hosts, params) => {
            let list = hosts.list();
            let mut parts = Vec::new();
            if !list.is_empty() {
                let names: Vec<&str> = list.iter().map(|(host, _)| *host).collect();
                parts.push(format!("host={}", names.join(",")));
                expected.hosts = names.iter().map(|host| unix_or_tcp(host)).collect();
                if list.iter().any(|(_, port)| port.is_some()) {
                    let ports: Vec<String> = list
                        .iter()
                        .map(|(_, port)| port.map(|p| p.to_string()).unwrap_or_default())
                        .collect();
                    parts.push(format!("port={}", ports.join(",")));
                    expected.ports = list.iter().map(|(_, port)| port.unwrap_or(5432)).collect();
                }
            }
            for &param in params {
                let (key, value) = key_value(param);
                parts.push(format!("{key} = {}", quote(&value)));
                expected.apply(param, false);
            }
            parts.join(" ")
        }
        Settings::Url(url) => {
            let mut text = if url.short_scheme {
                "postgres://"
            } else {
                "postgresql://"
            }
            .to_owned();
            if let Some((user, password)) = url.credentials {
                text.push_str(&encode(user));
                expected.user = Some(user.to_owned());
                if let Some(password) = password {
                    text.push(':');
                    text.push_str(&encode(password));
                    expected.password = Some(password.as_bytes().to_vec());
                }
                text.push('@');
            }
            let chunks: Vec<String> = url
                .hosts
                .list()
                .iter()
                .map(|(host, port)| {
                    let host = if host.contains(':') {
                        format!("[{host}]")
                    } else {
                        encode(host)
                    };
                    match port {
                        Some(port) => format!("{host}:{port}"),
                        None => host,
                    }
                })
                .collect();
            text.push_str(&chunks.join(","));
            for (host, port) in url.hosts.list() {
                expected.hosts.push(unix_or_tcp(host));
                expected.ports.push(port.unwrap_or(5432));
            }
            if let Some(dbname) = url.dbname {
                text.push('/');
                text.push_str(&encode(dbname));
                if !dbname.is_empty() {
                    expected.dbname = Some(dbname.to_owned());
                }
            }
            for (i, &param) in url.params.iter().enumerate() {
                let (key, value) = key_value(param);
                text.push(if i == 0 { '?' } else { '&' });
                text.push_str(key);
                text.push('=');
                text.push_str(&encode(&value));
                expected.apply(param, true);
            }
            text
        }
    };
    (text, Some(expected))
}

/// The contract's verdict on a config, read independently: `Ok` with the
/// `sslmode` to use, or the error kind.
#[derive(Debug, PartialEq)]
enum Verdict {
    Ok(SslMode),
    InsecureTransport,
    HostNotAllowed,
}

fn model(config: &Config, named: Option<SslMode>, insecure: bool, policy: Policy) -> Verdict {
    let (hosts, addresses) = (config.get_hosts(), config.get_hostaddrs());
    // tokio-postgres tries host i at hostaddr i (when given), verifying the name.
    let mut names = Vec::new();
    let mut socket = false;
    let mut bare_address = false;
    for i in 0..hosts.len().max(addresses.len()) {
        match hosts.get(i) {
            Some(Host::Tcp(name)) => names.push(name.clone()),
            Some(Host::Unix(path)) => {
                socket = true;
                names.push(path.to_string_lossy().into_owned());
            }
            None => bare_address = true,
        }
    }
    if names.is_empty() || bare_address || (socket && !insecure) {
        return Verdict::InsecureTransport;
    }
    let mode = named.unwrap_or(SslMode::VerifyFull);
    if !matches!(mode, SslMode::VerifyFull | SslMode::Require) && !insecure {
        return Verdict::InsecureTransport;
    }
    if !is_static(config) && !names.iter().all(|name| policy.permits(name)) {
        return Verdict::HostNotAllowed;
    }
    Verdict::Ok(mode)
}

/// Settings with their own (non-empty) user and password.
fn is_static(config: &Config) -> bool {
    config.get_user().is_some_and(|user| !user.is_empty())
        && config
            .get_password()
            .is_some_and(|password| !password.is_empty())
}

/// One run of the contract and the login with the real token or the control one.
struct Run {
    token: String,
    checked: Result<Checked<Config>, Error>,
    login: Option<Result<entra_pg_core::Login, Error>>,
    out: Option<Config>,
    /// Every text that could show the token.
    texts: Vec<String>,
}

fn run_once(input: &Input<'_>, settings: &TokioSettings<Config>, control: bool) -> Option<Run> {
    let (token, auth) = input.login.auth(control)?;
    let checked = settings.clone().check(&auth, input.allow_insecure);
    let mut texts = vec![format!("{auth:?}")];
    let (mut login, mut out) = (None, None);
    match &checked {
        Err(err) => texts.push(format!("{err} {err:?}")),
        Ok(checked) => {
            texts.push(format!("{checked:?}"));
            let result = auth.login_blocking(checked.target());
            match &result {
                Ok(login) => texts.push(format!("{login:?}")),
                Err(err) => texts.push(format!("{err} {err:?}")),
            }
            let config = match (&result, checked.target().is_static_login()) {
                (_, true) => Some(checked.with_login(None)),
                (Ok(login), false) => Some(checked.with_login(Some(login))),
                (Err(_), false) => None,
            };
            if let Some(config) = &config {
                texts.push(format!("{config:?}"));
            }
            texts.push(format!("{auth:?} {:?}", auth.status()));
            login = Some(result);
            out = config;
        }
    }
    Some(Run {
        token,
        checked,
        login,
        out,
        texts,
    })
}

fuzz_target!(|input: Input<'_>| run(input));

fn run(input: Input<'_>) {
    let (text, expected) = render(&input.settings);
    let parsed = text.as_str().into_settings();
    match &expected {
        None => {
            // Where tokio-postgres itself accepts the string, we read it the same way.
            if let Ok(reference) = text.parse::<Config>() {
                let ours = parsed
                    .as_ref()
                    .expect("refused a string tokio-postgres accepts");
                same_settings(ours.config(), &reference);
            }
        }
        Some(expected) => {
            let settings = parsed.as_ref().expect("refused well-formed settings");
            expected.check(settings.config());
        }
    }
    let settings = match parsed {
        Ok(settings) => settings,
        Err(err) => {
            assert!(
                matches!(err, Error::InvalidConfig { .. }),
                "not a config error"
            );
            return;
        }
    };
    let config = settings.config().clone();
    let Some(run) = run_once(&input, &settings, false) else {
        return;
    };
    let insecure = input.allow_insecure;
    let policy = input.login.policy;

    // The verdict: exactly the independent reading's, for the `sslmode` the
    // settings named (known when built, else one the parsed mode allows).
    let candidates = match &expected {
        Some(expected) => vec![expected.mode.map(Mode::libpq)],
        None => named_candidates(config.get_ssl_mode()),
    };
    let verdicts: Vec<Verdict> = candidates
        .into_iter()
        .map(|named| model(&config, named, insecure, policy))
        .collect();
    let checked = match &run.checked {
        Ok(checked) => checked,
        Err(err) => {
            let verdict = match err {
                Error::InsecureTransport { .. } => Verdict::InsecureTransport,
                Error::HostNotAllowed { .. } => Verdict::HostNotAllowed,
                other => panic!("unexpected contract error {}", other.kind()),
            };
            assert!(
                verdicts.contains(&verdict),
                "refused settings the contract accepts ({verdict:?}, expected one of {verdicts:?})"
            );
            check_hidden(&input, &settings, &run);
            return;
        }
    };
    let target = checked.target();
    let mode = target.ssl_mode();
    assert!(
        verdicts.contains(&Verdict::Ok(mode)),
        "accepted settings the contract refuses, or with another sslmode ({mode}, expected one of {verdicts:?})"
    );
    let own_user = config.get_user().filter(|user| !user.is_empty());
    assert_eq!(target.is_static_login(), is_static(&config), "static login");
    assert_eq!(target.user(), own_user, "the target's user");

    let login = run.login.as_ref().expect("a login was asked for");
    let out = if target.is_static_login() {
        // A static login never gets a token.
        let err = login.as_ref().expect_err("a token for a static login");
        assert!(
            matches!(err, Error::InvalidConfig { .. }),
            "a static login refused for another reason"
        );
        let out = run.out.as_ref().expect("the static login's config");
        assert_eq!(out.get_user(), config.get_user(), "the static user changed");
        assert!(
            out.get_password() == config.get_password(),
            "the static password changed"
        );
        out
    } else {
        let want_user = own_user.or(input.login.user_when_settings_name_none());
        let login = match (login, want_user) {
            (Ok(login), Some(want)) => {
                assert_eq!(login.user(), want, "the login's user");
                assert!(
                    login.password() == run.token,
                    "the login's password is not the token"
                );
                login
            }
            (Err(err), None) => {
                assert!(
                    matches!(err, Error::UserNotDerivable { .. }),
                    "unexpected login error {}",
                    err.kind()
                );
                check_hidden(&input, &settings, &run);
                return;
            }
            (Ok(_), None) => panic!("a login though nobody names the user"),
            (Err(err), Some(_)) => panic!("no login though the user is known: {}", err.kind()),
        };
        let out = run.out.as_ref().expect("the login's config");
        assert_eq!(out.get_user(), Some(login.user()), "user");
        assert_eq!(checked.user(Some(login)), login.user(), "Checked::user");
        assert!(
            out.get_password() == Some(run.token.as_bytes()),
            "the password is not the token"
        );
        // The token goes only to hosts the policy allows.
        for host in out.get_hosts() {
            let name = match host {
                Host::Tcp(name) => name.clone(),
                Host::Unix(path) => path.to_string_lossy().into_owned(),
            };
            assert!(
                policy.permits(&name),
                "the token goes to a host the policy does not allow"
            );
        }
        out
    };

    // TLS: `require` (verified by rustls) unless the opt-out allowed a weaker mode.
    assert_eq!(out.get_ssl_mode(), driver_mode(mode), "sslmode");
    if !insecure {
        assert_eq!(
            out.get_ssl_mode(),
            DriverSslMode::Require,
            "TLS not enforced"
        );
        assert!(
            out.get_hosts()
                .iter()
                .all(|host| matches!(host, Host::Tcp(_))),
            "a Unix socket without the opt-out"
        );
    }
    assert!(
        !out.get_hosts().is_empty() && out.get_hostaddrs().len() <= out.get_hosts().len(),
        "a connection without a host name to verify"
    );

    // Everything but the login and the TLS mode is left alone.
    let mut same = config.clone();
    same.ssl_mode(out.get_ssl_mode());
    if let Some(user) = out.get_user() {
        same.user(user);
    }
    if let Some(password) = out.get_password() {
        same.password(password);
    }
    assert_eq!(
        format!("{same:?}"),
        format!("{out:?}"),
        "settings other than the login and sslmode changed"
    );

    check_hidden(&input, &settings, &run);
}

/// The token shows in no error, `Debug` output or status.
fn check_hidden(input: &Input<'_>, settings: &TokioSettings<Config>, run: &Run) {
    assert_token_hidden(&run.token, &run.texts, false, || {
        run_once(input, settings, true)
            .expect("the same login was accepted")
            .texts
    });
}

fn same_settings(ours: &Config, reference: &Config) {
    assert_eq!(ours.get_user(), reference.get_user(), "user");
    assert!(ours.get_password() == reference.get_password(), "password");
    assert_eq!(ours.get_dbname(), reference.get_dbname(), "dbname");
    assert_eq!(ours.get_options(), reference.get_options(), "options");
    assert_eq!(
        ours.get_application_name(),
        reference.get_application_name(),
        "application_name"
    );
    assert_eq!(ours.get_ssl_mode(), reference.get_ssl_mode(), "sslmode");
    assert_eq!(ours.get_hosts(), reference.get_hosts(), "hosts");
    assert_eq!(ours.get_hostaddrs(), reference.get_hostaddrs(), "hostaddrs");
    assert_eq!(ours.get_ports(), reference.get_ports(), "ports");
    // Debug covers every other option (the password redacted, compared above).
    assert_eq!(
        format!("{ours:?}"),
        format!("{reference:?}"),
        "other options"
    );
}
