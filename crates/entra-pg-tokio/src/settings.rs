//! Connection settings: what a connector accepts, the TLS rule, and the login.

use std::{borrow::Cow, ops::Range};

use entra_pg_core::{ConnInfo, Error as CoreError};
use tokio_postgres::{
    Config,
    config::{Host, SslMode},
};

/// Connection settings a connector accepts: a [`tokio_postgres::Config`], or a
/// conninfo string (`host=… dbname=…`) or URL (`postgresql://…`).
///
/// libpq's `sslmode=verify-full` and `sslmode=verify-ca` are accepted in strings and
/// mean `require` here: the rustls connector always verifies chain and host name.
pub trait IntoConfig {
    /// Converts into a `tokio_postgres::Config`.
    ///
    /// # Errors
    /// When a string cannot be parsed.
    fn into_config(self) -> Result<Config, CoreError>;
}

impl IntoConfig for Config {
    fn into_config(self) -> Result<Config, CoreError> {
        Ok(self)
    }
}

impl IntoConfig for &Config {
    fn into_config(self) -> Result<Config, CoreError> {
        Ok(self.clone())
    }
}

impl IntoConfig for &str {
    fn into_config(self) -> Result<Config, CoreError> {
        // The parser's messages name the option, never echo the value.
        normalize_sslmode(self)
            .parse()
            .map_err(|err| CoreError::InvalidConfig {
                reason: format!(
                    "cannot parse the PostgreSQL connection settings ({err}); use \
                     `key=value` pairs or a postgresql:// URL, and percent-encode a user \
                     name with `@` in a URL (me%40contoso.com)"
                ),
            })
    }
}

impl IntoConfig for String {
    fn into_config(self) -> Result<Config, CoreError> {
        self.as_str().into_config()
    }
}

impl IntoConfig for &String {
    fn into_config(self) -> Result<Config, CoreError> {
        self.as_str().into_config()
    }
}

/// What the TLS rule and the login need from a driver's settings type. Implemented
/// for [`tokio_postgres::Config`]; the blocking crate implements it for
/// `postgres::Config`, so both follow one rule.
pub trait PgSettings {
    /// The user, if set.
    fn user(&self) -> Option<&str>;
    /// Sets the user.
    fn set_user(&mut self, user: &str);
    /// Whether a password is set.
    fn has_password(&self) -> bool;
    /// Sets the password.
    fn set_password(&mut self, password: &str);
    /// The `sslmode`.
    fn ssl_mode(&self) -> SslMode;
    /// Sets the `sslmode`.
    fn set_ssl_mode(&mut self, mode: SslMode);
    /// The hosts.
    fn hosts(&self) -> &[Host];
}

impl PgSettings for Config {
    fn user(&self) -> Option<&str> {
        self.get_user()
    }
    fn set_user(&mut self, user: &str) {
        Self::user(self, user);
    }
    fn has_password(&self) -> bool {
        self.get_password().is_some()
    }
    fn set_password(&mut self, password: &str) {
        self.password(password);
    }
    fn ssl_mode(&self) -> SslMode {
        self.get_ssl_mode()
    }
    fn set_ssl_mode(&mut self, mode: SslMode) {
        Self::ssl_mode(self, mode);
    }
    fn hosts(&self) -> &[Host] {
        self.get_hosts()
    }
}

/// Driver settings checked once for Entra login: the TLS rule applied, the hosts
/// described for messages, a static login (user and password given) detected.
/// Both connectors (this crate's and `entra-pg-sync`'s) hold one, so they follow
/// one rule.
#[derive(Clone, Debug)]
pub struct CheckedSettings<C> {
    config: C,
    hosts: String,
    static_login: bool,
}

impl<C: PgSettings + Clone> CheckedSettings<C> {
    /// Applies the TLS rule: `sslmode=prefer` (tokio-postgres' default, which falls
    /// back to plaintext) becomes `require`; `disable` is refused unless
    /// `allow_plaintext` (the dangerous opt-out for local servers) is set.
    ///
    /// # Errors
    /// [`InsecureTransport`](CoreError::InsecureTransport) for `sslmode=disable`
    /// without the opt-out.
    pub fn new(mut config: C, allow_plaintext: bool) -> Result<Self, CoreError> {
        enforce_tls(&mut config, allow_plaintext)?;
        Ok(Self {
            hosts: describe_hosts(&config),
            static_login: is_static_login(&config),
            config,
        })
    }

    /// Whether the settings carry both a (non-empty) user and a password: then they
    /// are a static login and Entra is not used at all.
    #[must_use]
    pub fn is_static_login(&self) -> bool {
        self.static_login
    }

    /// The hosts, for messages (`localhost,db2`).
    #[must_use]
    pub fn hosts(&self) -> &str {
        &self.hosts
    }

    /// The settings for one new connection: with `login` (none for a static
    /// login), the user is set only when the settings have none (an empty one counts
    /// as none), and the token is always the password.
    #[must_use]
    pub fn with_login(&self, login: Option<&ConnInfo>) -> C {
        let mut config = self.config.clone();
        if let Some(login) = login {
            apply_login(&mut config, login);
        }
        config
    }
}

/// The TLS rule of [`CheckedSettings::new`].
fn enforce_tls(config: &mut impl PgSettings, allow_plaintext: bool) -> Result<(), CoreError> {
    match config.ssl_mode() {
        SslMode::Disable if allow_plaintext => Ok(()),
        SslMode::Disable => Err(CoreError::InsecureTransport {
            reason: "the connection settings say sslmode=disable, which would send the token \
                     in the clear; remove it (sslmode=require is used), or for a local test \
                     server only, opt out with danger_allow_plaintext"
                .to_owned(),
        }),
        _ => {
            config.set_ssl_mode(SslMode::Require);
            Ok(())
        }
    }
}

/// The user the settings name. An empty one (`user=''`, `postgresql://:pw@host`)
/// counts as none: tokio-postgres would send it as is, and the server refuses an
/// empty user name, where libpq means "the default user".
fn settings_user(config: &impl PgSettings) -> Option<&str> {
    config.user().filter(|user| !user.is_empty())
}

fn is_static_login(config: &impl PgSettings) -> bool {
    settings_user(config).is_some() && config.has_password()
}

fn apply_login(config: &mut impl PgSettings, login: &ConnInfo) {
    if settings_user(config).is_none() {
        config.set_user(login.user());
    }
    config.set_password(login.password());
}

/// libpq's `sslmode` values that tokio-postgres does not know; they mean `require`
/// here, where rustls always verifies chain and host name.
const VERIFY_MODES: [&str; 2] = ["verify-full", "verify-ca"];

/// Rewrites `sslmode=verify-full` / `verify-ca` to `sslmode=require` where, and only
/// where, tokio-postgres' parser reads an `sslmode` option: not inside another
/// option's value (a password or `application_name` may contain that text), and
/// also when written `sslmode = 'verify-full'` or percent-encoded in a URL. Strings
/// the parser would refuse are returned unchanged, so its error is reported.
fn normalize_sslmode(settings: &str) -> Cow<'_, str> {
    let spans = match ["postgresql://", "postgres://"]
        .iter()
        .find_map(|prefix| settings.strip_prefix(prefix))
    {
        Some(rest) => url_sslmode_spans(rest, settings.len() - rest.len()),
        None => keyword_sslmode_spans(settings),
    };
    if spans.is_empty() {
        return Cow::Borrowed(settings);
    }
    let mut out = String::with_capacity(settings.len());
    let mut copied = 0;
    for span in spans {
        out.push_str(&settings[copied..span.start]);
        out.push_str("require");
        copied = span.end;
    }
    out.push_str(&settings[copied..]);
    Cow::Owned(out)
}

/// Byte ranges of verify-mode `sslmode` values in `key=value` settings, read as
/// tokio-postgres' `Parser` reads them (whitespace around `=`, single-quoted values,
/// backslash escapes). Stops where that parser would stop or fail.
fn keyword_sslmode_spans(s: &str) -> Vec<Range<usize>> {
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
        if key == "sslmode" && VERIFY_MODES.contains(&value.as_str()) {
            spans.push(value_start..pos(&mut it));
        }
    }
    spans
}

/// Byte ranges (offset by `base`) of verify-mode `sslmode` values in the query of a
/// URL, split as tokio-postgres' `UrlParser` splits it: credentials up to the first
/// `@`, host up to `/` or `?`, database up to `?`, then `key=value` pairs joined by
/// `&`, keys and values percent-decoded.
fn url_sslmode_spans(rest: &str, base: usize) -> Vec<Range<usize>> {
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
        if key == b"sslmode" && VERIFY_MODES.iter().any(|mode| value == mode.as_bytes()) {
            spans.push(base + value_start..base + value_end);
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

fn describe_hosts(config: &impl PgSettings) -> String {
    let hosts: Vec<String> = config
        .hosts()
        .iter()
        .map(|host| match host {
            Host::Tcp(name) => name.clone(),
            Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    if hosts.is_empty() {
        "the configured host".to_owned()
    } else {
        hosts.join(",")
    }
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
            assert_eq!(normalize_sslmode(settings), normalized, "{settings}");
        }
    }
}
