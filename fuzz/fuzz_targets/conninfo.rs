//! Connection settings (conninfo strings and URLs, arbitrary or built from arbitrary
//! values) through entra-pg-tokio's parsing, TLS rule and login injection: never
//! panics, values round-trip, and the connection gets exactly the injected login.

#![no_main]

use std::sync::Arc;

use arbitrary::Arbitrary;
use base64::Engine as _;
use entra_pg_core::{
    ConnInfo, EntraAuth, Error,
    azure_core::{
        self,
        credentials::{AccessToken, Secret, TokenCredential, TokenRequestOptions},
    },
};
use entra_pg_tokio::{
    IntoConfig,
    settings::CheckedSettings,
    tokio_postgres::{Config, config::SslMode},
};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    settings: Settings<'a>,
    /// The login user: explicit, or put in the token's `upn` claim.
    login_user: &'a str,
    /// The token (explicit user) or nothing (user from claims: a JWT is built).
    token: &'a str,
    user_from_claims: bool,
    allow_plaintext: bool,
}

#[derive(Arbitrary, Debug)]
enum Settings<'a> {
    /// Any string: compared with tokio-postgres' own parser.
    Raw(&'a str),
    /// `key='value' …`, values quoted and escaped as libpq documents.
    KeyValue(Vec<Param<'a>>),
    /// `postgresql://user:password@host/dbname?key=value&…`, percent-encoded.
    Url(Url<'a>),
}

#[derive(Arbitrary, Debug)]
struct Url<'a> {
    short_scheme: bool,
    credentials: Option<(&'a str, Option<&'a str>)>,
    host: HostChoice,
    dbname: Option<&'a str>,
    params: Vec<Param<'a>>,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum HostChoice {
    None,
    Name,
    NamePort,
    Ipv6Port,
    Multiple,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Param<'a> {
    User(&'a str),
    Password(&'a str),
    Dbname(&'a str),
    ApplicationName(&'a str),
    Options(&'a str),
    Sslmode(Mode),
}

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq)]
enum Mode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        }
    }
    fn parsed(self) -> SslMode {
        match self {
            Self::Disable => SslMode::Disable,
            Self::Prefer => SslMode::Prefer,
            _ => SslMode::Require,
        }
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
    ssl_mode: Option<SslMode>,
}

impl Expected {
    fn apply(&mut self, param: Param<'_>) {
        match param {
            Param::User(v) => self.user = Some(v.to_owned()),
            Param::Password(v) => self.password = Some(v.as_bytes().to_vec()),
            Param::Dbname(v) => self.dbname = Some(v.to_owned()),
            Param::ApplicationName(v) => self.application_name = Some(v.to_owned()),
            Param::Options(v) => self.options = Some(v.to_owned()),
            Param::Sslmode(mode) => self.ssl_mode = Some(mode.parsed()),
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
        assert_eq!(
            config.get_ssl_mode(),
            self.ssl_mode.unwrap_or(SslMode::Prefer),
            "sslmode"
        );
    }
}

fn key_value(param: Param<'_>) -> (&'static str, &str) {
    match param {
        Param::User(v) => ("user", v),
        Param::Password(v) => ("password", v),
        Param::Dbname(v) => ("dbname", v),
        Param::ApplicationName(v) => ("application_name", v),
        Param::Options(v) => ("options", v),
        Param::Sslmode(mode) => ("sslmode", mode.name()),
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

/// Percent-encodes every byte but the URL-unreserved ones.
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for &b in value.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The settings string and, when it was built from values, what it must parse to.
fn render(settings: &Settings<'_>) -> (String, Option<Expected>) {
    let mut expected = Expected::default();
    let text = match settings {
        Settings::Raw(raw) => return ((*raw).to_owned(), None),
        Settings::KeyValue(params) => {
            let mut parts = vec!["host=db.example.com".to_owned()];
            for &param in params {
                let (key, value) = key_value(param);
                parts.push(format!("{key} = {}", quote(value)));
                expected.apply(param);
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
            text.push_str(match url.host {
                HostChoice::None => "",
                HostChoice::Name => "db.example.com",
                HostChoice::NamePort => "db.example.com:6432",
                HostChoice::Ipv6Port => "[::1]:5433",
                HostChoice::Multiple => "a.example.com,b.example.com:5433",
            });
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
                text.push_str(&encode(value));
                expected.apply(param);
            }
            text
        }
    };
    (text, Some(expected))
}

/// Hands out one fixed token for any scope.
struct FixedToken(String);

impl std::fmt::Debug for FixedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FixedToken")
    }
}

#[async_trait::async_trait]
impl TokenCredential for FixedToken {
    async fn get_token(
        &self,
        _scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        Ok(AccessToken::new(
            Secret::new(self.0.clone()),
            time::OffsetDateTime::now_utc() + time::Duration::hours(1),
        ))
    }
}

/// A login through the real `EntraAuth`: explicit user, or user from the `upn` claim.
fn login(input: &Input<'_>) -> Option<ConnInfo> {
    let (token, builder) = if input.user_from_claims {
        let enc = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        let claims = serde_json::json!({ "upn": input.login_user }).to_string();
        let token = format!("{}.{}.{}", enc(b"{}"), enc(claims.as_bytes()), enc(b"sig"));
        (
            token.clone(),
            EntraAuth::builder(Arc::new(FixedToken(token))),
        )
    } else {
        let credential = Arc::new(FixedToken(input.token.to_owned()));
        (
            input.token.to_owned(),
            EntraAuth::builder(credential).user(input.login_user),
        )
    };
    let auth = match builder.build() {
        Ok(auth) => auth,
        Err(err) => {
            assert!(
                input.login_user.is_empty(),
                "builder refused a non-empty user"
            );
            assert!(matches!(err, Error::InvalidConfig { .. }));
            return None;
        }
    };
    match auth.conninfo_blocking() {
        Ok(info) => {
            assert_eq!(info.user(), input.login_user, "login user");
            assert!(
                info.password() == token,
                "the login's password is not the token"
            );
            Some(info)
        }
        Err(err) => {
            assert!(input.user_from_claims && input.login_user.is_empty());
            assert!(
                matches!(err, Error::UserNotDerivable),
                "unexpected login error"
            );
            None
        }
    }
}

fuzz_target!(|input: Input<'_>| {
    let (text, expected) = render(&input.settings);
    let parsed = text.as_str().into_config();
    match (&input.settings, &expected) {
        (Settings::Raw(raw), _) => {
            // Where tokio-postgres itself accepts the string, we read it the same way.
            if let Ok(reference) = raw.parse::<Config>() {
                let ours = parsed
                    .as_ref()
                    .expect("refused a string tokio-postgres accepts");
                same_settings(ours, &reference);
            }
        }
        (_, Some(expected)) => {
            let config = parsed.as_ref().expect("refused well-formed settings");
            expected.check(config);
        }
        (_, None) => unreachable!(),
    }
    let Ok(config) = parsed else {
        return;
    };

    let checked = match CheckedSettings::new(config.clone(), input.allow_plaintext) {
        Ok(checked) => checked,
        Err(err) => {
            assert!(matches!(err, Error::InsecureTransport { .. }));
            assert_eq!(config.get_ssl_mode(), SslMode::Disable);
            assert!(!input.allow_plaintext);
            return;
        }
    };
    let settings_user = config.get_user().filter(|user| !user.is_empty());
    let out = if checked.is_static_login() {
        assert!(settings_user.is_some() && config.get_password().is_some());
        checked.with_login(None)
    } else {
        let Some(info) = login(&input) else {
            return;
        };
        let out = checked.with_login(Some(&info));
        assert_eq!(
            out.get_user(),
            Some(settings_user.unwrap_or(info.user())),
            "user"
        );
        assert!(
            out.get_password() == Some(info.password().as_bytes()),
            "the password is not the token"
        );
        out
    };
    if config.get_ssl_mode() == SslMode::Disable {
        assert_eq!(out.get_ssl_mode(), SslMode::Disable);
    } else {
        assert_eq!(out.get_ssl_mode(), SslMode::Require, "TLS not enforced");
    }
    // Everything but the login and the TLS mode is left alone.
    assert_eq!(out.get_dbname(), config.get_dbname());
    assert_eq!(out.get_hosts(), config.get_hosts());
    assert_eq!(out.get_ports(), config.get_ports());
    assert_eq!(out.get_options(), config.get_options());
    assert_eq!(out.get_application_name(), config.get_application_name());
});

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
    assert_eq!(ours.get_ports(), reference.get_ports(), "ports");
}
