//! libpq settings (arbitrary strings, or `key=value` strings and URLs built from
//! arbitrary values) and an arbitrary Entra login through entra-pg-diesel's
//! `EntraConnector` (`builder … root_cert_pem / root_cert_file /
//! danger_allow_insecure_transport … build`, then `login_url`): never panics; a
//! refusal is a typed error of the kind an independent reading of the contract
//! gives; the libpq URL of a login, read back independently (the `url` crate and a
//! strict percent-decoder applying libpq's rules, cross-checked with libpq's own
//! `PQconninfoParse`), holds exactly the settings' values, the injected user (when
//! the settings name none) and the token as the password; `sslmode=verify-full`
//! with a root bundle unless the opt-out allowed the settings' weaker mode; every
//! host libpq would try (its empty list items included, which mean its default
//! Unix socket) is a TCP host name, or with the opt-out an allowed socket, and for
//! Entra logins allowed by the host policy; a static login gets no token; and the
//! token shows in neither `redact_url` of the URL nor any error or `Debug` output.

#![no_main]

#[path = "common.rs"]
mod common;

use std::{
    collections::{BTreeMap, BTreeSet},
    ffi::{CStr, CString, c_char},
    sync::OnceLock,
};

use arbitrary::Arbitrary;
use common::{Login, Policy, assert_token_hidden, encode};
use entra_pg_core::{EntraAuth, Error as CoreError, SslMode};
use entra_pg_diesel::{EntraConnector, Error, LoginUrl, redact_url};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    settings: Settings<'a>,
    login: Login<'a>,
    /// Root CAs given to the builder.
    root: Root,
    /// The builder's `danger_allow_insecure_transport`.
    allow_insecure: bool,
}

#[derive(Arbitrary, Debug)]
enum Settings<'a> {
    /// Any string (not naming `sslrootcert`: the connector reads that file).
    Raw(&'a str),
    /// `host=… port=… key=value …`, each value quoted (or bare, backslash-escaped)
    /// as libpq reads it.
    KeyValue(Hosts, Vec<(Param<'a>, bool)>),
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
    /// A trailing empty item: libpq's default (a Unix socket) for the second host.
    TrailingEmpty,
    /// The allowed socket directory.
    Socket,
    /// An abstract socket.
    AbstractSocket,
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
            Self::TrailingEmpty => &[("srv.postgres.database.azure.com", None), ("", None)],
            Self::Socket => &[("/run/pg", None)],
            Self::AbstractSocket => &[("@pg", None)],
        }
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Param<'a> {
    Value(Key, &'a str),
    Sslmode(Mode),
    /// libpq's legacy `requiressl`: `1…` means `require`, anything else `prefer`.
    RequireSsl(&'a str),
    /// JDBC's `ssl`: `true` means `sslmode=require`.
    Ssl(bool),
    Sslrootcert(RootPath),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Key {
    User,
    Password,
    Dbname,
    Host,
    Hostaddr,
    Port,
    ApplicationName,
    Options,
    Sslmode,
}

impl Key {
    fn name(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Password => "password",
            Self::Dbname => "dbname",
            Self::Host => "host",
            Self::Hostaddr => "hostaddr",
            Self::Port => "port",
            Self::ApplicationName => "application_name",
            Self::Options => "options",
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

/// A `sslrootcert` in the settings (the connector reads that file).
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq)]
enum RootPath {
    /// libpq's `system`: the default roots.
    System,
    /// A PEM file that exists.
    TheFile,
    Missing,
    Empty,
}

impl RootPath {
    fn value(self) -> String {
        match self {
            Self::System => "system".to_owned(),
            Self::TheFile => root_file().to_owned(),
            Self::Missing => MISSING.to_owned(),
            Self::Empty => String::new(),
        }
    }
}

/// Root CAs given to the builder.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq)]
enum Root {
    None,
    /// `root_cert_pem` with a certificate.
    Pem,
    /// `root_cert_file` with a file holding one.
    File,
    /// `root_cert_file` with a file that does not exist.
    MissingFile,
    /// `root_cert_pem` with text holding no certificate.
    NoCertificate,
}

const MISSING: &str = "/nonexistent/entra-pg-fuzz/ca.pem";

/// A PEM certificate block (PEM only: nothing here parses the certificate).
const PEM: &str = "-----BEGIN CERTIFICATE-----\n\
                   MIIBszCCAVmgAwIBAgIUZnV6ei1lbnRyYS1wZy1yb290LWNhMAoGCCqGSM49BAMC\n\
                   -----END CERTIFICATE-----\n";

/// A file holding [`PEM`], written once (atomically, so parallel jobs agree).
fn root_file() -> &'static str {
    static PATH: OnceLock<String> = OnceLock::new();
    PATH.get_or_init(|| {
        let path = std::env::temp_dir().join("entra-pg-fuzz-root.pem");
        let partial = path.with_extension(format!("pem.{}", std::process::id()));
        std::fs::write(&partial, PEM).expect("write the root CA file");
        std::fs::rename(&partial, &path).expect("move the root CA file");
        path.to_str().expect("a UTF-8 temp dir").to_owned()
    })
}

/// The operating system's bundle the connector uses (path and content), if any.
fn system_bundle() -> Option<&'static (String, Vec<u8>)> {
    static BUNDLE: OnceLock<Option<(String, Vec<u8>)>> = OnceLock::new();
    BUNDLE
        .get_or_init(|| {
            let login = Login {
                user: "probe",
                token: "probe",
                user_from_claims: false,
                policy: Policy::Default,
            };
            let (_, auth) = login.auth(false)?;
            let connector =
                EntraConnector::new("host=srv.postgres.database.azure.com", auth).ok()?;
            let path = connector.root_cert()?.to_str()?.to_owned();
            let content = std::fs::read(&path).ok()?;
            Some((path, content))
        })
        .as_ref()
}

/// The keywords libpq knows (`PQconndefaults`).
fn libpq_keywords() -> &'static BTreeSet<String> {
    static KEYWORDS: OnceLock<BTreeSet<String>> = OnceLock::new();
    KEYWORDS.get_or_init(|| {
        let mut keywords = BTreeSet::new();
        // SAFETY: libpq's option array, terminated by a NULL keyword, freed with
        // PQconninfoFree.
        unsafe {
            let options = pq_sys::PQconndefaults();
            assert!(!options.is_null(), "PQconndefaults failed");
            let mut option = options;
            while !(*option).keyword.is_null() {
                keywords.insert(
                    CStr::from_ptr((*option).keyword)
                        .to_string_lossy()
                        .into_owned(),
                );
                option = option.add(1);
            }
            pq_sys::PQconninfoFree(options);
        }
        keywords
    })
}

impl Param<'_> {
    fn key_value(self) -> (&'static str, String) {
        match self {
            Self::Value(key, value) => (key.name(), value.to_owned()),
            Self::Sslmode(mode) => ("sslmode", mode.name().to_owned()),
            Self::RequireSsl(value) => ("requiressl", value.to_owned()),
            Self::Ssl(true) => ("ssl", "true".to_owned()),
            Self::Ssl(false) => ("ssl", "false".to_owned()),
            Self::Sslrootcert(path) => ("sslrootcert", path.value()),
        }
    }
}

/// libpq parameters as the connector reads them: the last value of a keyword
/// wins, `requiressl` is stored as `sslmode` (as libpq's `conninfo_storeval`
/// does), and so is `ssl=true` (libpq's URL alias).
#[derive(Default, Debug, Clone, PartialEq)]
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
        } else if key == "ssl" && value == b"true" {
            self.0.insert("sslmode".to_owned(), b"require".to_vec());
        } else {
            self.0.insert(key.to_owned(), value.to_vec());
        }
    }

    fn get(&self, key: &str) -> Option<&[u8]> {
        self.0.get(key).map(Vec::as_slice)
    }

    fn text(&self, key: &str) -> Option<&str> {
        self.get(key)
            .and_then(|value| std::str::from_utf8(value).ok())
    }

    /// A non-empty user: libpq takes an empty one as "the default user".
    fn user(&self) -> Option<&[u8]> {
        self.get("user").filter(|user| !user.is_empty())
    }

    fn is_static(&self) -> bool {
        self.user().is_some() && self.get("password").is_some_and(|p| !p.is_empty())
    }

    /// The keys whose values differ from `other`'s (never the values: one may
    /// be the token).
    fn differences(&self, other: &Self) -> BTreeSet<String> {
        self.0
            .keys()
            .chain(other.0.keys())
            .filter(|key| self.get(key) != other.get(key))
            .cloned()
            .collect()
    }
}

/// Where libpq connects, slot by slot, read as libpq's `connectOptions2` does:
/// one slot per `hostaddr` item (or `host` item, or one), an empty item meaning
/// libpq's default (its compiled-in Unix socket directory).
#[derive(Debug, PartialEq)]
enum Slot {
    /// A TCP host name (with a `hostaddr`: the name the certificate is checked
    /// against).
    Name(String),
    /// A Unix socket (`/dir`, `@abstract`).
    Socket(String),
    /// A `hostaddr` without a host name.
    Address,
    /// Neither: libpq's default socket.
    Default,
}

/// `None` when libpq refuses the host / hostaddr mix (item counts differ).
fn libpq_slots(params: &Libpq) -> Option<Vec<Slot>> {
    let split = |key: &str| -> Option<Vec<String>> {
        let value = params.get(key).filter(|value| !value.is_empty())?;
        Some(
            String::from_utf8_lossy(value)
                .split(',')
                .map(str::to_owned)
                .collect(),
        )
    };
    let (hosts, addresses) = (split("host"), split("hostaddr"));
    let count = match (&hosts, &addresses) {
        (_, Some(addresses)) => addresses.len(),
        (Some(hosts), None) => hosts.len(),
        (None, None) => 1,
    };
    if hosts.as_ref().is_some_and(|hosts| hosts.len() != count) {
        return None;
    }
    let slot = |i: usize| {
        let host = hosts.as_ref().map_or("", |hosts| hosts[i].as_str());
        let address = addresses
            .as_ref()
            .map_or("", |addresses| addresses[i].as_str());
        let socket = host.starts_with('/') || host.starts_with('@');
        match (host.is_empty(), address.is_empty()) {
            (false, _) if socket => Slot::Socket(host.to_owned()),
            (false, _) => Slot::Name(host.to_owned()),
            (true, false) => Slot::Address,
            (true, true) => Slot::Default,
        }
    };
    Some((0..count).map(slot).collect())
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

/// The settings string and, when it was built from values, what libpq reads in it.
fn render(settings: &Settings<'_>) -> (String, Option<Libpq>) {
    let mut expected = Libpq::default();
    let text = match settings {
        Settings::Raw(raw) => return ((*raw).to_owned(), None),
        Settings::KeyValue(hosts, params) => {
            let list = hosts.list();
            let mut parts = Vec::new();
            if !list.is_empty() {
                let names: Vec<&str> = list.iter().map(|(host, _)| *host).collect();
                let names = names.join(",");
                parts.push(format!("host={}", quote(&names, false)));
                expected.store("host", names.as_bytes());
                if list.iter().any(|(_, port)| port.is_some()) {
                    let ports: Vec<String> = list
                        .iter()
                        .map(|(_, port)| port.map(|p| p.to_string()).unwrap_or_default())
                        .collect();
                    let ports = ports.join(",");
                    parts.push(format!("port={ports}"));
                    expected.store("port", ports.as_bytes());
                }
            }
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
            let list = url.hosts.list();
            let chunks: Vec<String> = list
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
            if list.iter().any(|(host, _)| !host.is_empty()) {
                let names: Vec<&str> = list.iter().map(|(host, _)| *host).collect();
                expected.store("host", names.join(",").as_bytes());
            }
            if list.iter().any(|(_, port)| port.is_some()) {
                let ports: Vec<String> = list
                    .iter()
                    .map(|(_, port)| port.map(|p| p.to_string()).unwrap_or_default())
                    .collect();
                expected.store("port", ports.join(",").as_bytes());
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

/// Whether arbitrary settings may name `sslrootcert`, in any spelling the
/// parser decodes (the connector would read whatever file it names: a device
/// or a pipe would hang the fuzzer).
fn may_name_root_file(settings: &str) -> bool {
    let bytes = settings.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                decoded.push(byte);
                i += 3;
            }
            (b'\\', _) => i += 1,
            (byte, _) => {
                decoded.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded)
        .to_ascii_lowercase()
        .contains("sslrootcert")
}

/// The contract's verdict on settings built from values, read independently.
#[derive(Debug, PartialEq)]
enum Verdict {
    Ok(SslMode),
    InvalidConfig,
    InsecureTransport,
    HostNotAllowed,
    /// libpq itself refuses the host / hostaddr mix: any verdict is safe.
    Any,
}

fn model(expected: &Libpq, input: &Input<'_>) -> Verdict {
    let insecure = input.allow_insecure;
    if matches!(input.root, Root::MissingFile | Root::NoCertificate) {
        return Verdict::InvalidConfig;
    }
    let named = match expected.get("sslmode") {
        None => None,
        Some(name) => match std::str::from_utf8(name).ok().and_then(SslMode::parse) {
            Some(mode) => Some(mode),
            None => return Verdict::InvalidConfig,
        },
    };
    let Some(slots) = libpq_slots(expected) else {
        return Verdict::Any;
    };
    if slots
        .iter()
        .any(|slot| matches!(slot, Slot::Default | Slot::Address))
        || (!insecure && slots.iter().any(|slot| matches!(slot, Slot::Socket(_))))
    {
        return Verdict::InsecureTransport;
    }
    let mode = named.unwrap_or(SslMode::VerifyFull);
    if mode != SslMode::VerifyFull && !insecure {
        return Verdict::InsecureTransport;
    }
    if !expected.is_static() && !slots_allowed(&slots, input.login.policy) {
        return Verdict::HostNotAllowed;
    }
    if matches!(mode, SslMode::VerifyFull | SslMode::VerifyCa) {
        let own = expected.text("sslrootcert");
        let readable = own.is_none_or(|path| path == "system" || path == root_file());
        if system_bundle().is_none() || !readable {
            return Verdict::InvalidConfig;
        }
    }
    Verdict::Ok(mode)
}

fn slots_allowed(slots: &[Slot], policy: Policy) -> bool {
    slots.iter().all(|slot| match slot {
        Slot::Name(host) | Slot::Socket(host) => policy.permits(host),
        Slot::Address | Slot::Default => false,
    })
}

#[allow(clippy::result_large_err)]
fn build(input: &Input<'_>, settings: &str, auth: EntraAuth) -> Result<EntraConnector, Error> {
    let mut builder = EntraConnector::builder(settings, auth)
        .danger_allow_insecure_transport(input.allow_insecure);
    builder = match input.root {
        Root::None => builder,
        Root::Pem => builder.root_cert_pem(PEM),
        Root::File => builder.root_cert_file(root_file()),
        Root::MissingFile => builder.root_cert_file(MISSING),
        Root::NoCertificate => builder.root_cert_pem("no certificate here"),
    };
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
/// (`postgresql://?key=value&…`: no host, path or fragment), only unreserved
/// characters and escapes appear, the query is split and percent-decoded
/// strictly, each key once.
fn read_url(text: &str) -> Libpq {
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
    assert!(
        text == format!("postgresql://?{query}"),
        "the URL was not in normal form"
    );
    assert!(
        query
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~%&=".contains(&b)),
        "a character that is not percent-encoded"
    );
    let mut params = Libpq::default();
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').expect("a query pair without `=`");
        assert!(!value.contains('='), "an unencoded `=` in a value");
        let key = String::from_utf8(percent_decode(key).expect("bad escape in a key"))
            .expect("a key that is not UTF-8");
        let value = percent_decode(value).expect("bad escape in a value");
        assert!(!params.0.contains_key(&key), "a key given twice");
        params.0.insert(key, value);
    }
    params
}

/// libpq's own reading (`PQconninfoParse`: no defaults, environment or service
/// file); `None` when libpq refuses the string.
fn libpq_parse(conninfo: &str) -> Option<Libpq> {
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
        let mut values = Libpq::default();
        let mut option = options;
        while !(*option).keyword.is_null() {
            if !(*option).val.is_null() {
                values.0.insert(
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

/// One build and login with the real token or the control one.
struct Run {
    token: String,
    built: Result<EntraConnector, Error>,
    login: Option<Result<LoginUrl, Error>>,
    /// A token asked for a static login: must be refused.
    static_refusal: Option<Result<entra_pg_core::Login, CoreError>>,
    /// Every text that could show the token.
    texts: Vec<String>,
}

fn run_once(input: &Input<'_>, settings: &str, control: bool) -> Option<Run> {
    let (token, auth) = input.login.auth(control)?;
    let built = build(input, settings, auth);
    let mut texts = Vec::new();
    let (mut login, mut static_refusal) = (None, None);
    match &built {
        Err(err) => texts.push(format!("{err} {err:?}")),
        Ok(connector) => {
            texts.push(format!("{connector:?}"));
            let result = connector.login_url();
            match &result {
                Ok(login) => {
                    texts.push(format!("{login:?}"));
                    texts.push(redact_url(login.expose()));
                }
                Err(err) => texts.push(format!("{err} {err:?}")),
            }
            if connector.is_static_login() {
                let refusal = connector.auth().login_blocking(connector.target());
                if let Err(err) = &refusal {
                    texts.push(format!("{err} {err:?}"));
                }
                static_refusal = Some(refusal);
            }
            texts.push(format!("{connector:?} {:?}", connector.target()));
            login = Some(result);
            // A combined root bundle has a random name: the same in every text.
            if let Some(root) = connector.root_cert().and_then(|root| root.to_str()) {
                let encoded = encode(root);
                for text in &mut texts {
                    *text = text.replace(&encoded, "<root>").replace(root, "<root>");
                }
            }
        }
    }
    Some(Run {
        token,
        built,
        login,
        static_refusal,
        texts,
    })
}

const VERIFY: [&[u8]; 2] = [b"verify-full", b"verify-ca"];

fuzz_target!(|input: Input<'_>| run(input));

fn run(input: Input<'_>) {
    let (settings, expected) = render(&input.settings);
    if expected.is_none() && may_name_root_file(&settings) {
        return;
    }
    let Some(run) = run_once(&input, &settings, false) else {
        return;
    };
    let verdict = expected.as_ref().map(|expected| model(expected, &input));
    if matches!(input.root, Root::MissingFile | Root::NoCertificate) {
        assert!(
            run.built
                .as_ref()
                .is_err_and(|err| err.kind() == "invalid_config"),
            "an unreadable root CA was accepted"
        );
    }
    let connector = match &run.built {
        Ok(connector) => connector,
        Err(err) => {
            let kind = err.kind();
            assert!(
                matches!(
                    kind,
                    "invalid_config" | "insecure_transport" | "host_not_allowed"
                ),
                "unexpected build error {kind}"
            );
            let parse_error = err
                .to_string()
                .starts_with("invalid configuration: cannot parse");
            assert!(
                !(parse_error && expected.is_some()),
                "refused well-formed settings"
            );
            let got = match kind {
                "invalid_config" => Verdict::InvalidConfig,
                "insecure_transport" => Verdict::InsecureTransport,
                _ => Verdict::HostNotAllowed,
            };
            if let Some(verdict) = &verdict {
                assert!(
                    *verdict == got || *verdict == Verdict::Any,
                    "refused settings for another reason than the contract's \
                     ({got:?}, expected {verdict:?})"
                );
            }
            check_hidden(&input, &settings, &run);
            return;
        }
    };
    let target = connector.target();
    let mode = target.ssl_mode();
    if let Some(verdict) = &verdict {
        assert!(
            *verdict == Verdict::Ok(mode) || *verdict == Verdict::Any,
            "accepted settings the contract refuses, or with another sslmode \
             ({mode}, expected {verdict:?})"
        );
    }
    let login = match run.login.as_ref().expect("a login was asked for") {
        Ok(login) => login,
        Err(err) => {
            assert!(
                !connector.is_static_login()
                    && target.user().is_none()
                    && input.login.user_when_settings_name_none().is_none(),
                "no login though the user is known"
            );
            assert_eq!(err.kind(), "user_not_derivable", "unexpected login error");
            check_hidden(&input, &settings, &run);
            return;
        }
    };
    let url = login.expose();
    let out = read_url(url);

    // libpq reads it the same way, when it takes it: it refuses NUL bytes and
    // keywords it does not know, which only arbitrary settings carry.
    match libpq_parse(url) {
        Some(libpq) => assert!(
            libpq == out,
            "libpq reads the login URL differently: {:?}",
            libpq.differences(&out)
        ),
        None => {
            let unknown = out.0.keys().any(|key| !libpq_keywords().contains(key));
            assert!(
                out.0.values().any(|value| value.contains(&0)) || unknown,
                "libpq refuses the login URL"
            );
        }
    }

    // TLS: verify-full with a root bundle, or with the opt-out what the target says.
    let ssl_mode = out.get("sslmode").expect("no sslmode in the login URL");
    assert!(
        ssl_mode == mode.as_str().as_bytes(),
        "sslmode is not the target's"
    );
    if !input.allow_insecure {
        assert!(ssl_mode == b"verify-full", "TLS not enforced");
    }
    assert!(
        out.get("requiressl").is_none() && out.get("ssl") != Some(&b"true"[..]),
        "an sslmode alias in the login URL"
    );
    assert!(
        out.get("gssencmode") == Some(&b"disable"[..]),
        "GSS encryption not disabled"
    );
    if VERIFY.contains(&ssl_mode) {
        check_root(&input, &out, connector, expected.as_ref());
    }

    // Where libpq connects: host names (sockets only with the opt-out), never its
    // default socket; for Entra logins only hosts the policy allows.
    if let Some(slots) = libpq_slots(&out) {
        assert!(
            !slots.contains(&Slot::Default),
            "an empty host item: libpq would try its default Unix socket"
        );
        assert!(
            !slots.contains(&Slot::Address),
            "a hostaddr without a host name to verify"
        );
        if !input.allow_insecure {
            assert!(
                !slots.iter().any(|slot| matches!(slot, Slot::Socket(_))),
                "a Unix socket without the opt-out"
            );
        }
        if !connector.is_static_login() {
            assert!(
                slots_allowed(&slots, input.login.policy),
                "the token goes to a host the policy does not allow"
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
            out.get("password").is_some_and(|p| !p.is_empty()),
            "a static login without a password"
        );
        let refusal = run.static_refusal.as_ref().expect("asked for a token");
        assert!(
            matches!(refusal, Err(CoreError::InvalidConfig { .. })),
            "a token for a static login"
        );
    } else {
        assert!(
            out.get("password") == Some(run.token.as_bytes()),
            "the password is not the token"
        );
        let want = target
            .user()
            .or(input.login.user_when_settings_name_none())
            .expect("a login though nobody names the user");
        assert!(
            user == want.as_bytes(),
            "not the settings' or the injected user"
        );
    }

    // Settings built from values: exactly those values, the login and the TLS
    // settings, and nothing else.
    if let Some(expected) = &expected {
        assert_eq!(
            connector.is_static_login(),
            expected.is_static(),
            "static login"
        );
        let mut want = expected.clone();
        want.store("sslmode", mode.as_str().as_bytes());
        want.store("gssencmode", b"disable");
        if let Some(root) = connector.root_cert().filter(|_| VERIFY.contains(&ssl_mode)) {
            want.store("sslrootcert", root.to_str().expect("UTF-8").as_bytes());
        }
        if !expected.is_static() {
            if expected.user().is_none() {
                let user = input.login.user_when_settings_name_none().expect("a user");
                want.store("user", user.as_bytes());
            }
            want.store("password", run.token.as_bytes());
        }
        assert!(
            out == want,
            "the login URL is not the settings with the login: {:?}",
            out.differences(&want)
        );
    }

    // The token shows nowhere but in the URL.
    let redacted = redact_url(url);
    assert!(
        out.get("password").is_none() || redacted.contains("password=<redacted>"),
        "redact_url kept the password"
    );
    check_hidden(&input, &settings, &run);
}

/// The root bundle of a verify mode: the system bundle, plus the roots given to
/// the builder and a file the settings name, in one file.
fn check_root(
    input: &Input<'_>,
    out: &Libpq,
    connector: &EntraConnector,
    expected: Option<&Libpq>,
) {
    let root = out
        .text("sslrootcert")
        .expect("verify mode without a root file");
    assert_eq!(
        connector.root_cert().and_then(|path| path.to_str()),
        Some(root),
        "sslrootcert is not the connector's root file"
    );
    let (system, bundle) = system_bundle().expect("a verify mode without a system bundle");
    let own = expected.and_then(|expected| expected.text("sslrootcert"));
    let builder_roots = matches!(input.root, Root::Pem | Root::File);
    if root == system {
        assert!(!builder_roots, "the builder's roots are not in the bundle");
        assert!(
            own.is_none_or(|own| own == "system"),
            "the settings' root file is not in the bundle"
        );
        return;
    }
    if expected.is_some() {
        assert!(
            builder_roots || own.is_some_and(|own| own != "system"),
            "a combined bundle with nothing added"
        );
    }
    let combined = std::fs::read(root).expect("the combined root file is readable");
    assert!(
        combined.starts_with(bundle),
        "the combined root file does not start with the system bundle"
    );
    let pem = PEM.as_bytes();
    if builder_roots || own == Some(root_file()) {
        assert!(
            combined.windows(pem.len()).any(|window| window == pem),
            "the added root is not in the combined file"
        );
    }
}

/// The token shows in no message, `redact_url` of the URL or `Debug` output.
fn check_hidden(input: &Input<'_>, settings: &str, run: &Run) {
    assert_token_hidden(&run.token, &run.texts, true, || {
        run_once(input, settings, true)
            .expect("the same login was accepted")
            .texts
    });
}
