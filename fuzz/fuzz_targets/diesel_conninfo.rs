//! libpq settings (arbitrary strings, or `key=value` strings and URLs built from
//! arbitrary values) and an arbitrary login through entra-pg-diesel's `PgConnector`:
//! never panics; the libpq URL of a login, read back independently (the `url` crate
//! and a strict percent-decoder applying libpq's rules, cross-checked with libpq's
//! own `PQconninfoParse`), holds exactly the settings' values, the injected user
//! (when the settings name none) and the token as the password, and
//! `sslmode=verify-full` unless the opt-out allowed the settings' weaker mode; the
//! token shows in neither `redact_url` of it nor any `Debug`.

#![no_main]

use std::{
    collections::BTreeMap,
    ffi::{CStr, CString, c_char},
    path::PathBuf,
    sync::{Arc, OnceLock},
};

use arbitrary::Arbitrary;
use base64::Engine as _;
use entra_pg_core::{
    EntraAuth,
    azure_core::{
        self,
        credentials::{AccessToken, Secret, TokenCredential, TokenRequestOptions},
    },
    clock::ManualClock,
};
use entra_pg_diesel::{PgConnector, redact_url};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    settings: Settings<'a>,
    /// The login user: explicit, or put in the token's `upn` claim.
    login_user: &'a str,
    /// The token (explicit user), or the signature of the JWT (user from claims).
    token: &'a str,
    user_from_claims: bool,
    /// `PgConnectorBuilder::root_cert` with a file that exists.
    root_cert: bool,
    allow_insecure: bool,
}

#[derive(Arbitrary, Debug)]
enum Settings<'a> {
    /// Any string.
    Raw(&'a str),
    /// `key=value …`, each value quoted (or bare, backslash-escaped) as libpq reads it.
    KeyValue(Vec<(Param<'a>, bool)>),
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
    Value(Key, &'a str),
    Sslmode(Mode),
    /// libpq's legacy `requiressl`: `1…` means `require`, anything else `prefer`.
    RequireSsl(&'a str),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Key {
    User,
    Password,
    Dbname,
    Host,
    Port,
    ApplicationName,
    Options,
    Sslrootcert,
    Sslmode,
}

impl Key {
    fn name(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Password => "password",
            Self::Dbname => "dbname",
            Self::Host => "host",
            Self::Port => "port",
            Self::ApplicationName => "application_name",
            Self::Options => "options",
            Self::Sslrootcert => "sslrootcert",
            Self::Sslmode => "sslmode",
        }
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
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
        match self {
            Self::Disable => "disable",
            Self::Allow => "allow",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        }
    }
}

impl Param<'_> {
    fn key_value(self) -> (&'static str, String) {
        match self {
            Self::Value(key, value) => (key.name(), value.to_owned()),
            Self::Sslmode(mode) => ("sslmode", mode.name().to_owned()),
            Self::RequireSsl(value) => ("requiressl", value.to_owned()),
        }
    }
}

/// libpq parameters in libpq's reading: the last value of a keyword wins, and
/// `requiressl` is stored as `sslmode` (as libpq's `conninfo_storeval` does).
#[derive(Default, Debug, Clone)]
struct Libpq(BTreeMap<String, Vec<u8>>);

impl Libpq {
    fn store(&mut self, key: &str, value: &[u8]) {
        if key == "requiressl" {
            let mode: &[u8] = if value.first() == Some(&b'1') {
                b"require"
            } else {
                b"prefer"
            };
            self.0.insert("sslmode".to_owned(), mode.to_vec());
        } else {
            self.0.insert(key.to_owned(), value.to_vec());
        }
    }

    fn get(&self, key: &str) -> Option<&[u8]> {
        self.0.get(key).map(Vec::as_slice)
    }

    /// A non-empty user: libpq takes an empty one as "the default user".
    fn user(&self) -> Option<&[u8]> {
        self.get("user").filter(|user| !user.is_empty())
    }
}

/// C `isspace` in the "C" locale: what libpq's `key=value` parser skips.
fn is_c_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

/// libpq `key=value` quoting: single quotes, or bare with backslash escapes.
fn quote(value: &str, bare: bool) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    if !bare {
        out.push('\'');
    }
    for (index, c) in value.chars().enumerate() {
        // A bare value starting with a quote would be read as a quoted one.
        let special = c == '\\' || (bare && (is_c_space(c) || (index == 0 && c == '\'')));
        if special || (!bare && c == '\'') {
            out.push('\\');
        }
        out.push(c);
    }
    if !bare {
        out.push('\'');
    } else if value.is_empty() {
        out.push_str("''");
    }
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

/// The settings string and, when it was built from values, what libpq reads in it.
fn render(settings: &Settings<'_>) -> (String, Option<Libpq>) {
    let mut expected = Libpq::default();
    let text = match settings {
        Settings::Raw(raw) => return ((*raw).to_owned(), None),
        Settings::KeyValue(params) => {
            let mut parts = vec!["host=db.example.com".to_owned()];
            expected.store("host", b"db.example.com");
            for &(param, bare) in params {
                let (key, value) = param.key_value();
                parts.push(format!("{key} = {}", quote(&value, bare)));
                expected.store(key, value.as_bytes());
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
                if !user.is_empty() {
                    expected.store("user", user.as_bytes());
                }
                if let Some(password) = password {
                    text.push(':');
                    text.push_str(&encode(password));
                    // libpq skips an empty user or password here.
                    if !password.is_empty() {
                        expected.store("password", password.as_bytes());
                    }
                }
                text.push('@');
            }
            let (netloc, host, port) = match url.host {
                HostChoice::None => ("", None, None),
                HostChoice::Name => ("db.example.com", Some("db.example.com"), None),
                HostChoice::NamePort => {
                    ("db.example.com:6432", Some("db.example.com"), Some("6432"))
                }
                HostChoice::Ipv6Port => ("[::1]:5433", Some("::1"), Some("5433")),
                HostChoice::Multiple => (
                    "a.example.com,b.example.com:5433",
                    Some("a.example.com,b.example.com"),
                    Some(",5433"),
                ),
            };
            text.push_str(netloc);
            if let Some(host) = host {
                expected.store("host", host.as_bytes());
            }
            if let Some(port) = port {
                expected.store("port", port.as_bytes());
            }
            if let Some(dbname) = url.dbname {
                text.push('/');
                text.push_str(&encode(dbname));
                if !dbname.is_empty() {
                    expected.store("dbname", dbname.as_bytes());
                }
            }
            for (i, &param) in url.params.iter().enumerate() {
                let (key, value) = param.key_value();
                text.push(if i == 0 { '?' } else { '&' });
                text.push_str(key);
                text.push('=');
                text.push_str(&encode(&value));
                expected.store(key, value.as_bytes());
            }
            text
        }
    };
    (text, Some(expected))
}

/// Hands out one fixed token for any scope, expiring an hour after [`start`].
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
            start() + time::Duration::hours(1),
        ))
    }
}

/// A fixed "now", so that `Debug` output (expiry times) does not depend on the clock.
fn start() -> time::OffsetDateTime {
    time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000)
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The token the credential hands out, and the `EntraAuth` over it. The control
/// token is as long as the real one and differs from it, so it does not contain it.
fn make_auth(input: &Input<'_>, control: bool) -> Option<(String, EntraAuth)> {
    let (token, user) = if input.user_from_claims {
        let claims = serde_json::json!({ "upn": input.login_user }).to_string();
        let header: &[u8] = if control {
            br#"{"alg":"RS256","typ":"JWS"}"#
        } else {
            br#"{"alg":"RS256","typ":"JWT"}"#
        };
        let token = format!(
            "{}.{}.{}",
            b64(header),
            b64(claims.as_bytes()),
            b64(input.token.as_bytes())
        );
        (token, None)
    } else if control {
        (other_than(input.token), Some(input.login_user))
    } else {
        (input.token.to_owned(), Some(input.login_user))
    };
    let mut builder =
        EntraAuth::builder(Arc::new(FixedToken(token.clone()))).clock(ManualClock::new(start()));
    if let Some(user) = user {
        builder = builder.user(user);
    }
    match builder.build() {
        Ok(auth) => Some((token, auth)),
        Err(_) => {
            assert!(user == Some(""), "builder refused a non-empty user");
            None
        }
    }
}

fn root_cert() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| std::env::current_exe().expect("the fuzzer's own path"))
}

fn build_connector(
    input: &Input<'_>,
    settings: &str,
    auth: EntraAuth,
) -> Result<PgConnector, entra_pg_diesel::Error> {
    let mut builder =
        PgConnector::builder(settings, auth).danger_allow_insecure_sslmode(input.allow_insecure);
    if input.root_cert {
        builder = builder.root_cert(root_cert());
    }
    builder.build()
}

/// Strict `%XX` decoding: `None` for a bad escape.
fn percent_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

/// The login URL read independently: the `url` crate checks its shape
/// (`postgresql://?key=value&…`: no host, path or fragment), the query is split and
/// percent-decoded strictly, and libpq's URL rules apply (`ssl=true` means
/// `sslmode=require`, `requiressl`, the last value wins).
fn read_url(text: &str) -> (Libpq, Vec<String>) {
    let url = url::Url::parse(text).expect("the login URL is no URL");
    assert_eq!(url.scheme(), "postgresql", "scheme");
    assert!(
        url.host_str().is_none_or(str::is_empty),
        "the URL has a host part"
    );
    assert!(
        url.username().is_empty() && url.password().is_none(),
        "the URL has userinfo"
    );
    assert!(url.path().is_empty(), "the URL has a path");
    assert!(url.fragment().is_none(), "the URL has a fragment");
    let query = url.query().expect("the URL has no query");
    assert_eq!(
        text,
        format!("postgresql://?{query}"),
        "the URL was not in normal form"
    );
    let mut params = Libpq::default();
    let mut keys = Vec::new();
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').expect("a query pair without `=`");
        assert!(!value.contains('='), "an unencoded `=` in a value");
        let key = String::from_utf8(percent_decode(key).expect("bad escape in a key"))
            .expect("a key that is not UTF-8");
        let value = percent_decode(value).expect("bad escape in a value");
        assert!(!keys.contains(&key), "a key given twice");
        keys.push(key.clone());
        if key == "ssl" && value == b"true" {
            params.store("sslmode", b"require");
        } else {
            params.store(&key, &value);
        }
    }
    (params, keys)
}

/// libpq's own reading (`PQconninfoParse`: no defaults, environment or service
/// file); `None` when libpq refuses the string.
fn libpq_parse(conninfo: &str) -> Option<BTreeMap<String, Vec<u8>>> {
    let conninfo = CString::new(conninfo).ok()?;
    let mut error: *mut c_char = std::ptr::null_mut();
    // SAFETY: a NUL-terminated string in, libpq's option array (terminated by a NULL
    // keyword) out, freed with PQconninfoFree; the error message with PQfreemem.
    unsafe {
        let options = pq_sys::PQconninfoParse(conninfo.as_ptr(), &mut error);
        if !error.is_null() {
            pq_sys::PQfreemem(error.cast());
        }
        if options.is_null() {
            return None;
        }
        let mut values = BTreeMap::new();
        let mut option = options;
        while !(*option).keyword.is_null() {
            if !(*option).val.is_null() {
                values.insert(
                    CStr::from_ptr((*option).keyword)
                        .to_string_lossy()
                        .into_owned(),
                    CStr::from_ptr((*option).val).to_bytes().to_vec(),
                );
            }
            option = option.add(1);
        }
        pq_sys::PQconninfoFree(options);
        Some(values)
    }
}

/// A string no longer than `text` and different from it: `text` is not in it.
fn other_than(text: &str) -> String {
    text.chars()
        .map(|c| if c == 'x' { 'y' } else { 'x' })
        .collect()
}

const VERIFY: [&[u8]; 2] = [b"verify-full", b"verify-ca"];

fuzz_target!(|input: Input<'_>| {
    let (settings, expected) = render(&input.settings);
    let Some((token, auth)) = make_auth(&input, false) else {
        return;
    };
    let connector = match build_connector(&input, &settings, auth) {
        Ok(connector) => connector,
        Err(err) => {
            assert!(
                matches!(err.kind(), "invalid_config" | "insecure_transport"),
                "unexpected build error"
            );
            let parse_error = err
                .to_string()
                .starts_with("invalid configuration: cannot parse");
            assert!(
                !(parse_error && expected.is_some()),
                "refused well-formed settings"
            );
            return;
        }
    };
    let debug_before = format!("{connector:?}");
    let login = match connector.login_url() {
        Ok(login) => login,
        Err(err) => {
            assert!(
                input.user_from_claims && input.login_user.is_empty(),
                "no login though the token names a user"
            );
            assert_eq!(err.kind(), "user_not_derivable", "unexpected login error");
            return;
        }
    };
    let url = login.expose();
    let (out, keys) = read_url(url);

    // libpq reads it the same way, when it takes it (it refuses NUL bytes and
    // unknown keywords, which only arbitrary settings carry).
    if let Some(libpq) = libpq_parse(url) {
        for key in [
            "user",
            "password",
            "sslmode",
            "sslrootcert",
            "host",
            "port",
            "dbname",
        ] {
            assert!(
                libpq.get(key).map(Vec::as_slice) == out.get(key),
                "libpq reads {key} differently"
            );
        }
    } else {
        // Only a NUL byte, or a keyword that arbitrary settings made up.
        assert!(
            url.contains("%00") || expected.is_none(),
            "libpq refuses the login URL"
        );
    }

    // TLS: verify-full, or with the opt-out what the crate reports.
    let mode = out.get("sslmode").expect("no sslmode in the login URL");
    assert!(
        mode == connector.ssl_mode().as_bytes(),
        "sslmode is not the connector's"
    );
    if !input.allow_insecure {
        assert_eq!(mode, b"verify-full", "TLS not enforced");
    }
    if VERIFY.contains(&mode) {
        let root = out
            .get("sslrootcert")
            .expect("verify mode without a root file");
        if input.root_cert {
            assert!(
                root == root_cert().to_str().unwrap().as_bytes(),
                "not the root file given"
            );
        }
    }

    // The login.
    let user = out.user().expect("no user in the login URL");
    assert!(
        user == login.user().as_bytes(),
        "LoginUrl::user is not the URL's user"
    );
    if connector.is_static_login() {
        assert!(
            out.get("password").is_some(),
            "a static login without a password"
        );
    } else {
        assert!(
            out.get("password") == Some(token.as_bytes()),
            "the password is not the token"
        );
    }

    // Settings built from values: exactly those values, and the injected user when
    // they name none.
    if let Some(expected) = &expected {
        let is_static = expected.user().is_some() && expected.get("password").is_some();
        assert_eq!(connector.is_static_login(), is_static, "static login");
        match expected.user() {
            Some(own) => assert!(user == own, "the settings' user was replaced"),
            None => assert!(user == input.login_user.as_bytes(), "not the injected user"),
        }
        if is_static {
            assert!(
                out.get("password") == expected.get("password"),
                "static password"
            );
        }
        for key in ["dbname", "host", "port", "application_name", "options"] {
            assert!(out.get(key) == expected.get(key), "{key} changed");
        }
        let own_mode = expected.get("sslmode").unwrap_or(b"verify-full");
        assert!(
            mode == own_mode || mode == b"verify-full",
            "a weaker sslmode than the settings"
        );
        if !input.root_cert && VERIFY.contains(&mode) {
            if let Some(own) = expected.get("sslrootcert") {
                assert!(out.get("sslrootcert") == Some(own), "sslrootcert changed");
            }
        }
    }

    // The token shows nowhere but in the URL: a text holds it only if the same
    // text made with another token does too (then the settings or user spell it).
    if connector.is_static_login() {
        return;
    }
    let redacted = redact_url(url);
    assert!(
        keys.iter().all(|key| key != "password") || redacted.contains("password=<redacted>"),
        "redact_url kept the password"
    );
    let texts = [
        redacted,
        debug_before,
        format!("{connector:?}"),
        format!("{login:?}"),
    ];
    let encoded = encode(&token);
    for needle in [token.as_str(), encoded.as_str()] {
        if needle.is_empty() || !texts.iter().any(|text| text.contains(needle)) {
            continue;
        }
        // The same settings and user with another token, as long and different.
        let (_, control_auth) = make_auth(&input, true).expect("the same user was accepted");
        let control = build_connector(&input, &settings, control_auth).expect("the same settings");
        let control_before = format!("{control:?}");
        let control_login = control.login_url().expect("the same login");
        let control_texts = [
            redact_url(control_login.expose()),
            control_before,
            format!("{control:?}"),
            format!("{control_login:?}"),
        ];
        for (text, control_text) in texts.iter().zip(&control_texts) {
            assert!(
                !text.contains(needle) || control_text.contains(needle),
                "the token shows in redact_url or Debug"
            );
        }
    }
});
