//! Connection settings on hostile and arbitrary input: conninfo strings and URLs
//! parse to what they say, the login is injected exactly, nothing panics. The fuzz
//! target `conninfo` (see CONTRIBUTING.md) covers the same code for longer.

use std::sync::Arc;

use entra_pg_core::{EntraAuth, Error as CoreError};
use entra_pg_testkit::FixedToken;
use entra_pg_tokio::{
    __private::Settings,
    IntoSettings,
    tokio_postgres::{Config, config::SslMode},
};
use proptest::prelude::*;

/// An `EntraAuth` that logs in as `user` with `token`, allowed to reach the
/// test hosts.
fn auth_for(user: &str, token: &str) -> EntraAuth {
    EntraAuth::builder(Arc::new(FixedToken(token.to_owned())))
        .user(user)
        .allow_host("db.example.com")
        .allow_host("h")
        .build()
        .unwrap()
}

/// The settings a connection gets: read, checked against the contract, login
/// injected (none for a static login).
fn injected_settings(settings: Settings<Config>, auth: &EntraAuth) -> Config {
    let checked = settings.check(auth, false).unwrap();
    let login = (!checked.target().is_static_login())
        .then(|| auth.login_blocking(checked.target()).unwrap());
    checked.with_login(login.as_ref())
}

fn injected(settings: &str, auth: &EntraAuth) -> Config {
    injected_settings(settings.into_settings().expect("settings parse"), auth)
}

fn parsed(settings: &str) -> Config {
    settings.into_settings().unwrap().config().clone()
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

const HOSTILE_USERS: [&str; 8] = [
    "O'Brien@contoso.com",
    r#"a "quoted" user"#,
    "back\\slash\\",
    " spaces  inside ",
    "Zoë Ünïcødé@contoso.com",
    "名前@例え.jp",
    "user=admin password=x",
    "postgresql://x@y/z?sslmode=disable",
];

#[test]
fn hostile_user_names_round_trip_through_conninfo_and_urls() {
    for user in HOSTILE_USERS {
        let login = auth_for("entra-user", "token-value");
        // In the settings string: kept exactly, and it wins over the login's user.
        for settings in [
            format!("host=db.example.com user={}", quote(user)),
            format!("user = {} host=db.example.com", quote(user)),
            format!("postgresql://{}@db.example.com/app", encode(user)),
            format!("postgres://db.example.com/app?user={}", encode(user)),
        ] {
            let config = injected(&settings, &login);
            assert_eq!(config.get_user(), Some(user), "{settings}");
            assert_eq!(config.get_password(), Some(&b"token-value"[..]));
            assert_eq!(config.get_ssl_mode(), SslMode::Require);
        }
        // As the login's user, injected into settings that name none.
        let login = auth_for(user, "token-value");
        for settings in [
            "host=db.example.com dbname=app",
            "postgresql://db.example.com/app",
        ] {
            let config = injected(settings, &login);
            assert_eq!(config.get_user(), Some(user));
            assert_eq!(config.get_password(), Some(&b"token-value"[..]));
        }
    }
}

/// Regression (fuzz target `conninfo`): `postgresql://:@host` gives tokio-postgres
/// an empty user and password, which was taken as a static login with user "";
/// tokio-postgres sends "" and the server refuses it. An empty user now counts as
/// none: the Entra user and token are used.
#[test]
fn an_empty_user_in_the_settings_counts_as_none() {
    let auth = auth_for("entra-user", "token-value");
    for settings in [
        "postgresql://:@db.example.com/app",
        "postgresql://@db.example.com/app",
        "host=db.example.com user='' password=''",
        "host=db.example.com user='' password=static",
    ] {
        assert_eq!(parsed(settings).get_user(), Some(""), "{settings}");
        let checked = settings
            .into_settings()
            .unwrap()
            .check(&auth, false)
            .unwrap();
        assert!(!checked.target().is_static_login(), "{settings}");
        let config = injected(settings, &auth);
        assert_eq!(config.get_user(), Some("entra-user"), "{settings}");
        assert_eq!(config.get_password(), Some(&b"token-value"[..]));
    }
}

/// Regression: `sslmode=verify-full` / `verify-ca` were rewritten by plain text
/// replacement, so the same text inside another value (a password, an
/// application name) was changed, and `sslmode = 'verify-full'` or a
/// percent-encoded URL value was not accepted.
#[test]
fn only_the_sslmode_option_is_rewritten() {
    // (settings, sslmode, application_name, password)
    let cases = [
        (
            r"host=h application_name='sslmode=verify-full' password=sslmode=verify-ca user=u",
            SslMode::Prefer, // only other values mention sslmode
            Some("sslmode=verify-full"),
            Some("sslmode=verify-ca"),
        ),
        (
            "postgresql://u:sslmode=verify-full@h/db?application_name=sslmode=verify-ca",
            SslMode::Prefer,
            Some("sslmode=verify-ca"),
            Some("sslmode=verify-full"),
        ),
        (
            r"host=h sslmode = 'verify-full' application_name=x\ sslmode=verify-ca",
            SslMode::Require,
            Some("x sslmode=verify-ca"),
            None,
        ),
        ("host=h sslmode=verify\\-ca", SslMode::Require, None, None),
        (
            "postgresql://h/db?sslmode=verify%2Dfull",
            SslMode::Require,
            None,
            None,
        ),
        (
            "postgresql://h/db?ssl%6Dode=verify-ca&sslmode=verify-full",
            SslMode::Require,
            None,
            None,
        ),
        (
            "postgresql://h?sslmode=verify-full",
            SslMode::Require,
            None,
            None,
        ),
    ];
    for (settings, ssl_mode, application_name, password) in cases {
        let config = parsed(settings);
        assert_eq!(config.get_ssl_mode(), ssl_mode, "{settings}");
        assert_eq!(
            config.get_application_name(),
            application_name,
            "{settings}"
        );
        assert_eq!(
            config.get_password(),
            password.map(str::as_bytes),
            "{settings}"
        );
    }
    // Unknown modes, and verify modes of other options, are still errors.
    for settings in [
        "host=h sslmode=verify-fully",
        "host=h sslmode='verify-full",
        "host=h sslnegotiation=verify-full",
        "postgresql://h/db?sslmode=verify-full-x",
    ] {
        let err = settings.into_settings().unwrap_err();
        assert!(
            matches!(err, CoreError::InvalidConfig { .. }),
            "{settings}: {err:?}"
        );
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
    fn conninfo_values_and_the_injected_login_round_trip(
        user in proptest::option::of(any::<String>()),
        password in proptest::option::of(any::<String>()),
        application_name in any::<String>(),
        login_user in any::<String>().prop_filter("non-empty", |u| !u.is_empty()),
        token in any::<String>(),
        verify in any::<bool>(),
    ) {
        let mut settings = format!("host=db.example.com application_name = {}", quote(&application_name));
        if let Some(user) = &user {
            settings.push_str(&format!(" user={}", quote(user)));
        }
        if let Some(password) = &password {
            settings.push_str(&format!(" password={}", quote(password)));
        }
        if verify {
            settings.push_str(" sslmode=verify-full");
        }
        let config = parsed(&settings);
        prop_assert_eq!(config.get_user(), user.as_deref());
        prop_assert_eq!(config.get_password(), password.as_deref().map(str::as_bytes));
        prop_assert_eq!(config.get_application_name(), Some(application_name.as_str()));
        check_injection(config, &login_user, &token)?;
    }

    #[test]
    fn url_values_and_the_injected_login_round_trip(
        user in proptest::option::of(any::<String>()),
        password in proptest::option::of(any::<String>()),
        dbname in any::<String>().prop_filter("non-empty", |d| !d.is_empty()),
        application_name in any::<String>(),
        login_user in any::<String>().prop_filter("non-empty", |u| !u.is_empty()),
        token in any::<String>(),
    ) {
        let credentials = match (&user, &password) {
            (Some(user), Some(password)) => format!("{}:{}@", encode(user), encode(password)),
            (Some(user), None) => format!("{}@", encode(user)),
            (None, _) => String::new(),
        };
        let settings = format!(
            "postgresql://{credentials}db.example.com:5433/{}?application_name={}&sslmode=verify-ca",
            encode(&dbname),
            encode(&application_name)
        );
        let config = parsed(&settings);
        prop_assert_eq!(config.get_user(), user.as_deref());
        let want_password = password.as_deref().filter(|_| user.is_some()).map(str::as_bytes);
        prop_assert_eq!(config.get_password(), want_password);
        prop_assert_eq!(config.get_dbname(), Some(dbname.as_str()));
        prop_assert_eq!(config.get_application_name(), Some(application_name.as_str()));
        // verify-ca is refused by the contract: check the injection without it.
        let config = parsed(&settings.replace("&sslmode=verify-ca", ""));
        check_injection(config, &login_user, &token)?;
    }

    #[test]
    fn arbitrary_settings_strings_parse_as_tokio_postgres_does(text in any::<String>()) {
        let ours = text.as_str().into_settings();
        if let Ok(reference) = text.parse::<Config>() {
            let ours = ours.unwrap();
            let ours = ours.config();
            prop_assert_eq!(ours.get_user(), reference.get_user());
            prop_assert_eq!(ours.get_password(), reference.get_password());
            prop_assert_eq!(ours.get_dbname(), reference.get_dbname());
            prop_assert_eq!(ours.get_hosts(), reference.get_hosts());
            prop_assert_eq!(ours.get_ssl_mode(), reference.get_ssl_mode());
        }
    }
}

/// With the login of `login_user` and `token` injected: the settings' own
/// (non-empty) user is kept, else the login's user is used; the password is the
/// token unless the settings are a static login; TLS is required.
fn check_injection(config: Config, login_user: &str, token: &str) -> Result<(), TestCaseError> {
    let own_user = config
        .get_user()
        .filter(|user| !user.is_empty())
        .map(str::to_owned);
    let own_password = config
        .get_password()
        .filter(|password| !password.is_empty())
        .map(<[u8]>::to_vec);
    let auth = auth_for(login_user, token);
    let checked = Settings::from_config(config.clone())
        .check(&auth, false)
        .unwrap();
    let is_static = own_user.is_some() && own_password.is_some();
    prop_assert_eq!(checked.target().is_static_login(), is_static);
    let out = injected_settings(Settings::from_config(config), &auth);
    prop_assert_eq!(
        out.get_user(),
        Some(own_user.as_deref().unwrap_or(login_user))
    );
    if is_static {
        prop_assert_eq!(out.get_password(), own_password.as_deref());
    } else {
        // Compared without printing: the token must not appear in a failure message.
        prop_assert!(
            out.get_password() == Some(token.as_bytes()),
            "the password is not the token"
        );
    }
    prop_assert_eq!(out.get_ssl_mode(), SslMode::Require);
    Ok(())
}
