//! The libpq URL of a login, read back independently: settings built from arbitrary
//! values keep them, the injected user and token arrive exactly, TLS stays
//! `verify-full`, and the token shows in neither `redact_url` nor `Debug`. No server
//! involved. The fuzz target `diesel_conninfo` (see CONTRIBUTING.md) covers the same
//! code for longer, with libpq's own parser as a second reader.

use std::{collections::BTreeMap, sync::Arc};

use entra_pg_core::EntraAuth;
use entra_pg_diesel::{EntraConnector, redact_url};
use entra_pg_testkit::{FixedToken, TestCa};
use proptest::prelude::*;

/// `EntraAuth` logging in as `user` with `token`, allowed to reach the test host.
fn auth(user: &str, token: &str) -> EntraAuth {
    EntraAuth::builder(Arc::new(FixedToken(token.to_owned())))
        .user(user)
        .allow_host("db.example.com")
        .build()
        .unwrap()
}

/// libpq quoting: single quotes, backslash before `'` and `\`.
fn quote(value: &str) -> String {
    let escaped = value.replace('\\', "\\\\").replace('\'', "\\'");
    format!("'{escaped}'")
}

/// Percent-encodes every byte but the URL-unreserved ones.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Strict `%XX` decoding.
fn decode(text: &str) -> Result<String, TestCaseError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let byte = bytes
                .get(i + 1..i + 3)
                .and_then(|hex| std::str::from_utf8(hex).ok())
                .and_then(|hex| u8::from_str_radix(hex, 16).ok());
            prop_assert!(byte.is_some(), "a bad percent-escape");
            out.extend(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| TestCaseError::fail("a value is not UTF-8"))
}

/// The login URL as libpq reads `postgresql://?key=value&…`: each pair split at
/// its `=` and percent-decoded, each key once. (The settings here use no sslmode
/// alias, `ssl` or `requiressl`; see `settings::tests` for those.)
fn read_login_url(url: &str) -> Result<BTreeMap<String, String>, TestCaseError> {
    let query = url.strip_prefix("postgresql://?");
    prop_assert!(query.is_some(), "not a postgresql://? URL");
    let mut params = BTreeMap::new();
    for pair in query.unwrap_or_default().split('&') {
        let parts: Vec<&str> = pair.split('=').collect();
        prop_assert_eq!(parts.len(), 2, "a pair is not key=value");
        prop_assert!(
            !parts[0].contains(['@', '/', '?', '#']) && !parts[1].contains(['@', '/', '?', '#']),
            "an unencoded URL delimiter"
        );
        let (key, value) = (decode(parts[0])?, decode(parts[1])?);
        prop_assert!(!params.contains_key(&key), "a key given twice");
        params.insert(key, value);
    }
    Ok(params)
}

/// The settings: `key=value` or URL, with optional user and password.
#[derive(Debug, Clone)]
struct Case {
    url_form: bool,
    user: Option<String>,
    password: Option<String>,
    dbname: String,
    application_name: String,
    sslmode: Option<&'static str>,
}

impl Case {
    fn settings(&self) -> String {
        let mut pairs = vec![
            ("dbname", self.dbname.clone()),
            ("application_name", self.application_name.clone()),
        ];
        if let Some(user) = &self.user {
            pairs.push(("user", user.clone()));
        }
        if let Some(password) = &self.password {
            pairs.push(("password", password.clone()));
        }
        if let Some(mode) = self.sslmode {
            pairs.push(("sslmode", mode.to_owned()));
        }
        if self.url_form {
            let query: Vec<String> = pairs
                .iter()
                .map(|(key, value)| format!("{key}={}", encode(value)))
                .collect();
            format!("postgresql://db.example.com:6432?{}", query.join("&"))
        } else {
            let pairs: Vec<String> = pairs
                .iter()
                .map(|(key, value)| format!("{key} = {}", quote(value)))
                .collect();
            format!("host=db.example.com port=6432 {}", pairs.join(" "))
        }
    }

    /// The settings' own user: an empty one counts as none (libpq's default user).
    fn own_user(&self) -> Option<&str> {
        self.user.as_deref().filter(|user| !user.is_empty())
    }

    fn is_static(&self) -> bool {
        self.own_user().is_some() && self.password.as_deref().is_some_and(|p| !p.is_empty())
    }
}

fn case() -> impl Strategy<Value = Case> {
    (
        any::<bool>(),
        proptest::option::of(any::<String>()),
        proptest::option::of(any::<String>()),
        any::<String>().prop_filter("non-empty", |d| !d.is_empty()),
        any::<String>(),
        proptest::option::of(proptest::sample::select(vec![
            "verify-full",
            "verify-ca",
            "require",
            "prefer",
            "allow",
            "disable",
        ])),
    )
        .prop_map(
            |(url_form, user, password, dbname, application_name, sslmode)| Case {
                url_form,
                user,
                password,
                dbname,
                application_name,
                sslmode,
            },
        )
}

/// Regressions (fuzz target `diesel_conninfo`), end to end: the login URL gives
/// libpq the user and TLS mode the settings meant.
#[test]
fn fuzz_regressions_login_url() {
    // (settings, user libpq gets, token as the password)
    for (settings, user) in [
        // An empty user was kept: libpq then logs in as the OS user.
        ("host=db.example.com user=", "entra-user"),
        ("host=db.example.com user='' password=static", "entra-user"),
        (
            "postgresql://db.example.com?user=&password=static",
            "entra-user",
        ),
        // An empty URL password made a static login with no password.
        ("postgres://s:@db.example.com", "s"),
        // A no-break space does not split a bare value (one odd user name).
        (
            "host=db.example.com user=a\u{a0}password=x",
            "a\u{a0}password=x",
        ),
    ] {
        let connector = EntraConnector::builder(settings, auth("entra-user", "token-value"))
            .build()
            .unwrap();
        assert!(!connector.is_static_login(), "{settings}");
        let login = connector.login_url().unwrap();
        let params = read_login_url(login.expose()).unwrap();
        assert_eq!(params.get("user").map(String::as_str), Some(user));
        assert_eq!(login.user(), user);
        assert!(params.get("password").map(String::as_str) == Some("token-value"));
        assert_eq!(params["sslmode"], "verify-full");
    }
    // An alias after sslmode=verify-full was copied into the login URL after it,
    // where libpq applies it: sslmode=prefer (or require). Now read where it stands.
    for settings in [
        "host=db.example.com sslmode=verify-full requiressl=",
        "host=db.example.com sslmode=verify-full ssl=true",
        "postgresql://db.example.com?sslmode=verify-full&requiressl=0",
    ] {
        let err = EntraConnector::builder(settings, auth("entra-user", "token-value"))
            .build()
            .map(drop)
            .unwrap_err();
        assert_eq!(err.kind(), "insecure_transport", "{settings}");
        let connector = EntraConnector::builder(settings, auth("entra-user", "token-value"))
            .danger_allow_insecure_transport(true)
            .build()
            .unwrap();
        let params = read_login_url(connector.login_url().unwrap().expose()).unwrap();
        assert_eq!(
            params["sslmode"],
            connector.target().ssl_mode().as_str(),
            "{settings}"
        );
        assert!(!params.contains_key("requiressl") && !params.contains_key("ssl"));
    }
}

/// Regression (fuzz target `diesel_conninfo`): libpq reads an empty item of the
/// host list as its default Unix socket, where it ignores `sslmode`. Such
/// settings are refused, so no token can reach whatever listens there.
#[test]
fn an_empty_host_item_is_refused() {
    for settings in [
        "host=db.example.com,",
        "host=,db.example.com",
        "postgresql://db.example.com,/postgres",
        "host=db.example.com, hostaddr=10.0.0.1,",
    ] {
        let err = EntraConnector::new(settings, auth("entra-user", "token-value")).unwrap_err();
        assert_eq!(err.kind(), "insecure_transport", "{settings}: {err}");
        assert!(err.to_string().contains("default Unix socket"), "{err}");
    }
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_login_url_round_trips_the_settings_the_user_and_the_token(
        case in case(),
        login_user in any::<String>().prop_filter("non-empty", |u| !u.is_empty()),
        token in any::<String>(),
        allow_insecure in any::<bool>(),
    ) {
        let settings = case.settings();
        let weak = case.sslmode.is_some_and(|mode| mode != "verify-full");
        let built = EntraConnector::builder(&settings, auth(&login_user, &token))
            .danger_allow_insecure_transport(allow_insecure)
            .build();
        if weak && !allow_insecure {
            let err = built.map(drop).unwrap_err();
            prop_assert_eq!(err.kind(), "insecure_transport");
            return Ok(());
        }
        let connector = built.expect("the settings are accepted");
        prop_assert_eq!(connector.is_static_login(), case.is_static());
        let login = connector.login_url().unwrap();
        let params = read_login_url(login.expose())?;

        let user = case.own_user().unwrap_or(&login_user);
        prop_assert_eq!(params.get("user").map(String::as_str), Some(user));
        prop_assert_eq!(login.user(), user);
        let password = params.get("password").map(String::as_str);
        if case.is_static() {
            prop_assert_eq!(password, case.password.as_deref());
        } else {
            // Compared without printing: the token must not appear in a failure message.
            prop_assert!(password == Some(token.as_str()), "the password is not the token");
        }
        let sslmode = case.sslmode.unwrap_or("verify-full");
        prop_assert_eq!(params.get("sslmode").map(String::as_str), Some(sslmode));
        prop_assert_eq!(connector.target().ssl_mode().as_str(), sslmode);
        let verifying = matches!(sslmode, "verify-full" | "verify-ca");
        prop_assert_eq!(
            params.get("sslrootcert").map(String::as_str),
            connector.root_cert().and_then(|root| root.to_str())
        );
        prop_assert_eq!(params.contains_key("sslrootcert"), verifying);
        prop_assert_eq!(params.get("gssencmode").map(String::as_str), Some("disable"));
        prop_assert_eq!(params.get("host").map(String::as_str), Some("db.example.com"));
        prop_assert_eq!(params.get("port").map(String::as_str), Some("6432"));
        prop_assert_eq!(params.get("dbname"), Some(&case.dbname));
        prop_assert_eq!(params.get("application_name"), Some(&case.application_name));
        prop_assert_eq!(params.len(), if verifying { 9 } else { 8 }, "no other parameter");

        // The token shows nowhere else, unless the settings or the user spell it.
        if !case.is_static() && token.len() >= 4 {
            let spelled = settings.contains(&token) || login_user.contains(&token);
            let redacted = redact_url(login.expose());
            prop_assert!(redacted.contains("password=<redacted>"));
            for text in [redacted, format!("{connector:?}"), format!("{login:?}")] {
                prop_assert!(
                    spelled || !(text.contains(&token) || text.contains(&encode(&token))),
                    "the token shows in redact_url or Debug"
                );
            }
        }
    }
}

#[test]
fn the_system_bundle_and_added_roots_go_to_libpq_in_one_file() {
    let plain = EntraConnector::new("host=db.example.com", auth("u", "t")).unwrap();
    let system = plain.root_cert().expect("the system bundle").to_owned();
    assert!(system.is_file(), "{}", system.display());
    let ca = TestCa::new("added").pem();
    let added = EntraConnector::builder("host=db.example.com", auth("u", "t"))
        .root_cert_pem(ca.as_bytes())
        .build()
        .unwrap();
    let combined = std::fs::read_to_string(added.root_cert().unwrap()).unwrap();
    let bundle = std::fs::read_to_string(&system).unwrap();
    assert!(combined.starts_with(&bundle) && combined.trim_end().ends_with(ca.trim_end()));
    // The root of the settings' sslrootcert is added too, never replacing the bundle.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ca.pem");
    std::fs::write(&file, &ca).unwrap();
    let settings = format!("host=db.example.com sslrootcert={}", file.display());
    let from_settings = EntraConnector::new(settings, auth("u", "t")).unwrap();
    let combined = std::fs::read_to_string(from_settings.root_cert().unwrap()).unwrap();
    assert!(combined.starts_with(&bundle) && combined.contains(&ca));
    // A missing file is an error that names it.
    let err = EntraConnector::new(
        "host=db.example.com sslrootcert=/nonexistent/ca.pem",
        auth("u", "t"),
    )
    .unwrap_err();
    assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
}
