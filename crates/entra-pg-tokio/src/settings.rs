//! Connection settings: what a connector accepts, how they read as a
//! [`Destination`] for the security contract, and the login step.

use std::{borrow::Cow, ops::Range};

use entra_pg_core::{
    Destination, EntraAuth, Error as CoreError, Login, SslMode, Target, TargetHost,
};
use tokio_postgres::{
    Config,
    config::{Host, SslMode as DriverSslMode},
};

/// Connection settings a connector accepts: a [`tokio_postgres::Config`], or a
/// conninfo string (`host=… dbname=…`) or URL (`postgresql://…`).
///
/// libpq's `sslmode=verify-full` is accepted in strings (it is what `require`
/// means with this crate's rustls TLS, which always verifies chain and host name).
/// A `Config`'s `sslmode=prefer` (its default) counts as "not set".
pub trait IntoSettings {
    /// Reads the settings.
    ///
    /// # Errors
    /// When a string cannot be parsed.
    fn into_settings(self) -> Result<Settings<Config>, CoreError>;
}

impl IntoSettings for Config {
    fn into_settings(self) -> Result<Settings<Config>, CoreError> {
        Ok(Settings::from_config(self))
    }
}

impl IntoSettings for &Config {
    fn into_settings(self) -> Result<Settings<Config>, CoreError> {
        Ok(Settings::from_config(self.clone()))
    }
}

impl IntoSettings for &str {
    fn into_settings(self) -> Result<Settings<Config>, CoreError> {
        let (normalized, named) = normalize_sslmode(self);
        // The parser's messages name the option, never echo the value.
        let config = normalized.parse().map_err(|err| CoreError::InvalidConfig {
            reason: format!(
                "cannot parse the PostgreSQL connection settings ({err}); use `key=value` pairs \
                 or a postgresql:// URL, and percent-encode a user name with `@` in a URL \
                 (me%40contoso.com)"
            ),
        })?;
        let ssl_mode = match named {
            None => None,
            Some(name) => Some(
                SslMode::parse(&name).ok_or_else(|| CoreError::InvalidConfig {
                    reason: format!("sslmode={name:?} is not a libpq sslmode; use verify-full"),
                })?,
            ),
        };
        Ok(Settings { config, ssl_mode })
    }
}

impl IntoSettings for String {
    fn into_settings(self) -> Result<Settings<Config>, CoreError> {
        self.as_str().into_settings()
    }
}

impl IntoSettings for &String {
    fn into_settings(self) -> Result<Settings<Config>, CoreError> {
        self.as_str().into_settings()
    }
}

/// What the contract and the login need from a driver's settings type: this
/// crate's [`tokio_postgres::Config`] and `entra-pg-sync`'s `postgres::Config`.
pub trait PgConfig: Clone {
    /// The hosts.
    fn hosts(&self) -> &[Host];
    /// The `hostaddr`s.
    fn hostaddrs(&self) -> &[std::net::IpAddr];
    /// The ports.
    fn ports(&self) -> &[u16];
    /// The user, if set.
    fn user(&self) -> Option<&str>;
    /// Sets the user.
    fn set_user(&mut self, user: &str);
    /// Whether a non-empty password is set.
    fn has_password(&self) -> bool;
    /// Sets the password.
    fn set_password(&mut self, password: &str);
    /// The driver's `sslmode`.
    fn ssl_mode(&self) -> DriverSslMode;
    /// Sets the driver's `sslmode`.
    fn set_ssl_mode(&mut self, mode: DriverSslMode);
}

impl PgConfig for Config {
    fn hosts(&self) -> &[Host] {
        self.get_hosts()
    }
    fn hostaddrs(&self) -> &[std::net::IpAddr] {
        self.get_hostaddrs()
    }
    fn ports(&self) -> &[u16] {
        self.get_ports()
    }
    fn user(&self) -> Option<&str> {
        self.get_user()
    }
    fn set_user(&mut self, user: &str) {
        Self::user(self, user);
    }
    fn has_password(&self) -> bool {
        self.get_password()
            .is_some_and(|password| !password.is_empty())
    }
    fn set_password(&mut self, password: &str) {
        self.password(password);
    }
    fn ssl_mode(&self) -> DriverSslMode {
        self.get_ssl_mode()
    }
    fn set_ssl_mode(&mut self, mode: DriverSslMode) {
        Self::ssl_mode(self, mode);
    }
}

/// Settings as given, with the `sslmode` they name (`None`: not set).
#[derive(Clone, Debug)]
pub struct Settings<C> {
    pub(crate) config: C,
    pub(crate) ssl_mode: Option<SslMode>,
}

impl<C> Settings<C> {
    /// The driver config as given.
    pub fn config(&self) -> &C {
        &self.config
    }
}

impl<C: PgConfig> Settings<C> {
    /// Settings from a driver config: its `prefer` (the default) counts as not set.
    pub fn from_config(config: C) -> Self {
        let ssl_mode = match config.ssl_mode() {
            DriverSslMode::Disable => Some(SslMode::Disable),
            DriverSslMode::Require => Some(SslMode::Require),
            _ => None,
        };
        Self { config, ssl_mode }
    }

    /// Converts the config, keeping the named `sslmode`.
    pub fn map<D>(self, convert: impl FnOnce(C) -> D) -> Settings<D> {
        Settings {
            config: convert(self.config),
            ssl_mode: self.ssl_mode,
        }
    }

    /// Applies the contract: checks the settings with `auth` and sets the
    /// `sslmode` the target asks for.
    ///
    /// # Errors
    /// As [`EntraAuth::target`].
    pub fn check(self, auth: &EntraAuth, insecure: bool) -> Result<Checked<C>, CoreError> {
        let mut config = self.config;
        let count = config.hosts().len().max(config.hostaddrs().len());
        let mut destination = Destination::new("tokio-postgres")
            .ssl_mode(self.ssl_mode)
            .verifies(&[SslMode::Require])
            .user(config.user())
            .password(config.has_password())
            .allow_insecure_transport(insecure);
        for index in 0..count {
            let host = match (config.hosts().get(index), config.hostaddrs().get(index)) {
                (Some(Host::Tcp(name)), _) => TargetHost::Name(name.clone()),
                (Some(Host::Unix(path)), _) => TargetHost::Socket(path.display().to_string()),
                (None, Some(address)) => TargetHost::Address(address.to_string()),
                (None, None) => continue,
            };
            destination = destination.host(host);
        }
        let ports: Vec<String> = config.ports().iter().map(u16::to_string).collect();
        destination = destination.port(if ports.is_empty() {
            "5432".to_owned()
        } else {
            ports.join(",")
        });
        let target = auth.target(destination)?;
        config.set_ssl_mode(match target.ssl_mode() {
            SslMode::Disable => DriverSslMode::Disable,
            SslMode::Allow | SslMode::Prefer => DriverSslMode::Prefer,
            _ => DriverSslMode::Require,
        });
        Ok(Checked { config, target })
    }
}

/// Settings checked against the contract, ready for logins.
#[derive(Clone, Debug)]
pub struct Checked<C> {
    config: C,
    target: Target,
}

impl<C: PgConfig> Checked<C> {
    /// The checked target.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The settings for one new connection: with `login` (none for a static
    /// login), the user is set only when the settings have none (an empty one
    /// counts as none), and the token is always the password.
    pub fn with_login(&self, login: Option<&Login>) -> C {
        let mut config = self.config.clone();
        if let Some(login) = login {
            if config.user().is_none_or(str::is_empty) {
                config.set_user(login.user());
            }
            config.set_password(login.password());
        }
        config
    }

    /// The user a connection logs in as, for messages.
    pub fn user<'a>(&'a self, login: Option<&'a Login>) -> &'a str {
        self.config
            .user()
            .filter(|user| !user.is_empty())
            .or(login.map(Login::user))
            .unwrap_or_default()
    }
}

/// libpq's `sslmode` values that tokio-postgres does not know, and what they are
/// rewritten to for its parser (the contract judges the named mode): with rustls,
/// `require` verifies chain and host name; `allow` is the opt-out's `prefer`.
const REWRITES: [(&str, &str); 3] = [
    ("verify-full", "require"),
    ("verify-ca", "require"),
    ("allow", "prefer"),
];

/// Reads the `sslmode` a string names (the last one, as the parser keeps), and
/// rewrites the modes tokio-postgres does not know ([`REWRITES`]) where, and only where,
/// tokio-postgres' parser reads an `sslmode` option: not inside another option's
/// value (a password or `application_name` may contain that text), and also when
/// written `sslmode = 'verify-full'` or percent-encoded in a URL. Strings the
/// parser would refuse are returned unchanged, so its error is reported.
fn normalize_sslmode(settings: &str) -> (Cow<'_, str>, Option<String>) {
    let spans = match ["postgresql://", "postgres://"]
        .iter()
        .find_map(|prefix| settings.strip_prefix(prefix))
    {
        Some(rest) => url_sslmode_spans(rest, settings.len() - rest.len()),
        None => keyword_sslmode_spans(settings),
    };
    let named = spans.last().map(|(_, value)| value.clone());
    let rewrites: Vec<(Range<usize>, &str)> = spans
        .into_iter()
        .filter_map(|(span, value)| {
            REWRITES
                .iter()
                .find(|(from, _)| *from == value)
                .map(|(_, to)| (span, *to))
        })
        .collect();
    if rewrites.is_empty() {
        return (Cow::Borrowed(settings), named);
    }
    let mut out = String::with_capacity(settings.len());
    let mut copied = 0;
    for (span, to) in rewrites {
        out.push_str(&settings[copied..span.start]);
        out.push_str(to);
        copied = span.end;
    }
    out.push_str(&settings[copied..]);
    (Cow::Owned(out), named)
}

/// Byte ranges and values of `sslmode` options in `key=value` settings, read as
/// tokio-postgres' `Parser` reads them (whitespace around `=`, single-quoted values,
/// backslash escapes). Stops where that parser would stop or fail.
fn keyword_sslmode_spans(s: &str) -> Vec<(Range<usize>, String)> {
    let mut spans = Vec::new();
    let mut it = s.char_indices().peekable();
    let pos = |it: &mut std::iter::Peekable<std::str::CharIndices<'_>>| {
        it.peek().map_or(s.len(), |&(i, _)| i)
    };
    loop {
        while it.next_if(|&(_, c)| c.is_whitespace()).is_some() {}
        let key_start = pos(&mut it);
        while it
            .next_if(|&(_, c)| !c.is_whitespace() && c != '=')
            .is_some()
        {}
        let key = &s[key_start..pos(&mut it)];
        if key.is_empty() {
            break;
        }
        while it.next_if(|&(_, c)| c.is_whitespace()).is_some() {}
        if it.next_if(|&(_, c)| c == '=').is_none() {
            break;
        }
        while it.next_if(|&(_, c)| c.is_whitespace()).is_some() {}
        let value_start = pos(&mut it);
        let mut value = String::new();
        let quoted = it.next_if(|&(_, c)| c == '\'').is_some();
        let mut terminated = !quoted;
        while let Some((_, c)) = it.next_if(|&(_, c)| {
            if quoted {
                c != '\''
            } else {
                !c.is_whitespace()
            }
        }) {
            if c == '\\' {
                if let Some((_, escaped)) = it.next() {
                    value.push(escaped);
                }
            } else {
                value.push(c);
            }
        }
        if quoted {
            terminated = it.next_if(|&(_, c)| c == '\'').is_some();
        }
        if !terminated || (!quoted && value.is_empty()) {
            break;
        }
        if key == "sslmode" {
            spans.push((value_start..pos(&mut it), value));
        }
    }
    spans
}

/// Byte ranges (offset by `base`) and values of `sslmode` options in the query of
/// a URL, split as tokio-postgres' `UrlParser` splits it: credentials up to the
/// first `@`, host up to `/` or `?`, database up to `?`, then `key=value` pairs
/// joined by `&`, keys and values percent-decoded.
fn url_sslmode_spans(rest: &str, base: usize) -> Vec<(Range<usize>, String)> {
    let mut start = rest.find('@').map_or(0, |at| at + 1);
    match rest[start..].find(['/', '?']) {
        Some(end) => start += end,
        None => return Vec::new(),
    }
    if rest[start..].starts_with('/') {
        match rest[start..].find('?') {
            Some(end) => start += end,
            None => return Vec::new(),
        }
    }
    start += 1; // the `?`
    let mut spans = Vec::new();
    while start < rest.len() {
        let Some(eq) = rest[start..].find('=') else {
            break;
        };
        let key = percent_decode(&rest[start..start + eq]);
        let value_start = start + eq + 1;
        let value_end = rest[value_start..]
            .find('&')
            .map_or(rest.len(), |amp| value_start + amp);
        let value = percent_decode(&rest[value_start..value_end]);
        if key == b"sslmode" {
            spans.push((
                base + value_start..base + value_end,
                String::from_utf8_lossy(&value).into_owned(),
            ));
        }
        start = value_end + 1;
    }
    spans
}

/// Percent-decoding as the `percent-encoding` crate does it: `%` and two hex digits
/// make a byte, any other `%` stays.
fn percent_decode(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            // Two hex digits are at most 0xff.
            out.push(u8::try_from(hi * 16 + lo).unwrap_or(u8::MAX));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decode_matches_the_percent_encoding_crate() {
        for (encoded, decoded) in [
            ("", &b""[..]),
            ("%41%2d%2D", b"A--"),
            ("%", b"%"),
            ("%4", b"%4"),
            ("%zz%4g", b"%zz%4g"),
            ("%ff%00", &[0xff, 0x00]),
            ("ü%C3%BC", "üü".as_bytes()),
        ] {
            assert_eq!(percent_decode(encoded), decoded, "{encoded}");
        }
    }

    #[test]
    fn the_named_sslmode_is_the_last_one() {
        for (settings, named) in [
            ("host=h", None),
            ("sslmode=disable sslmode=verify-ca", Some("verify-ca")),
            ("postgres://h/d?sslmode=prefer", Some("prefer")),
            ("a='sslmode=disable'", None),
        ] {
            assert_eq!(
                normalize_sslmode(settings).1.as_deref(),
                named,
                "{settings}"
            );
        }
    }

    #[test]
    fn only_sslmode_values_are_rewritten() {
        for (settings, normalized) in [
            ("sslmode=verify-full", "sslmode=require"),
            ("sslmode = 'verify-ca' x=1", "sslmode = require x=1"),
            ("a='sslmode=verify-ca'", "a='sslmode=verify-ca'"),
            ("a=b\\ sslmode=verify-ca", "a=b\\ sslmode=verify-ca"),
            ("sslmode='verify-full", "sslmode='verify-full"),
            ("=x sslmode=verify-full", "=x sslmode=verify-full"),
            (
                "postgres://h/d?sslmode=verify-ca",
                "postgres://h/d?sslmode=require",
            ),
            (
                "postgres://h?a=1&sslmode=verify%2dca&",
                "postgres://h?a=1&sslmode=require&",
            ),
            (
                "postgres://sslmode=verify-ca@h",
                "postgres://sslmode=verify-ca@h",
            ),
            (
                "postgres://h/sslmode=verify-ca",
                "postgres://h/sslmode=verify-ca",
            ),
        ] {
            assert_eq!(normalize_sslmode(settings).0, normalized, "{settings}");
        }
    }
}
