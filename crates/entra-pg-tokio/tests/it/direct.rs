//! `connect` and `EntraConnector`: who logs in, and what passes through untouched.

use std::time::Duration;

use entra_pg_core::Error as CoreError;
use entra_pg_testkit::{Fault, PgServer, Resource, unique_name};
use entra_pg_tokio::{EntraConnector, Error, connect, tokio_postgres::Config};

use crate::support::{auth, builder, current_user, identity_with_role, settings, tls};

#[tokio::test]
async fn the_derived_user_logs_in_with_the_token() {
    let (identity, user) = identity_with_role();
    let server = PgServer::shared();
    let (client, connection) = connect(settings(server), &auth(&identity), tls(server).connector())
        .await
        .unwrap();
    tokio::spawn(connection);
    assert_eq!(current_user(&client).await, user);
    assert_eq!(identity.requests(Resource::Database), 1);
}

#[tokio::test]
async fn an_explicit_user_in_the_settings_wins_over_the_derived_one() {
    let server = PgServer::shared();
    let role = unique_name("app_role");
    let identity = builder()
        .upn(&format!("{}@contoso.com", unique_name("someone")))
        .login_on(server, &role)
        .build();
    let mut config = settings(server);
    config.user(&role);
    let connector = EntraConnector::builder(config, auth(&identity))
        .tls(tls(server).connector())
        .build()
        .unwrap();
    let client = connector.connect_spawned().await.unwrap();
    assert_eq!(current_user(&client).await, role);
}

#[tokio::test]
async fn an_explicit_user_and_password_skip_entra_entirely() {
    let server = PgServer::shared();
    let role = unique_name("static_role");
    server.create_password_role(&role, "static-secret");
    let (identity, _) = identity_with_role();
    identity.set_fault(Some(Fault::Status(500)));
    let mut config = settings(server);
    config.user(&role).password("static-secret");
    let connector = EntraConnector::builder(config, auth(&identity))
        .tls(tls(server).connector())
        .build()
        .unwrap();
    assert!(connector.is_static_login());
    let client = connector.connect_spawned().await.unwrap();
    assert_eq!(current_user(&client).await, role);
    assert_eq!(identity.requests(Resource::Database), 0, "Entra not asked");
}

#[tokio::test]
async fn other_settings_pass_through_untouched() {
    let (identity, user) = identity_with_role();
    let server = PgServer::shared();
    let mut config = settings(server);
    config
        .application_name("entra-pg-passthrough")
        .options("-c statement_timeout=1234")
        .connect_timeout(Duration::from_secs(7));
    let connector = EntraConnector::builder(config, auth(&identity))
        .tls(tls(server).connector())
        .build()
        .unwrap();
    let login = connector.login_config().await.unwrap();
    assert_eq!(login.get_connect_timeout(), Some(&Duration::from_secs(7)));
    assert_eq!(login.get_user(), Some(user.as_str()));
    let client = connector.connect_spawned().await.unwrap();
    let row = client
        .query_one(
            "SELECT current_setting('application_name'), current_setting('statement_timeout'), \
             current_database()::text",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "entra-pg-passthrough");
    assert_eq!(row.get::<_, String>(1), "1234ms");
    assert_eq!(row.get::<_, String>(2), "postgres");
}

#[tokio::test]
async fn conninfo_strings_and_urls_work_including_libpq_verify_full() {
    let (identity, user) = identity_with_role();
    let server = PgServer::shared();
    let auth = auth(&identity);
    let key_value = format!(
        "host={} port={} dbname=postgres sslmode=verify-full",
        server.host(),
        server.port()
    );
    let encoded = user.replace('@', "%40");
    let url = format!(
        "postgresql://{encoded}@{}:{}/postgres?sslmode=verify-full&application_name=url",
        server.host(),
        server.port()
    );
    for settings in [key_value, url] {
        let (client, connection) = connect(settings.as_str(), &auth, tls(server).connector())
            .await
            .unwrap();
        tokio::spawn(connection);
        assert_eq!(current_user(&client).await, user, "{settings}");
    }
    assert_eq!(identity.requests(Resource::Database), 1, "one cached token");
}

#[tokio::test]
async fn unparsable_settings_are_a_config_error() {
    let (identity, _) = identity_with_role();
    let err = EntraConnector::new("host=localhost sslmode=sometimes", auth(&identity)).unwrap_err();
    assert!(
        matches!(err, Error::Entra(CoreError::InvalidConfig { .. })),
        "{err:?}"
    );
    assert!(err.to_string().contains("cannot parse"), "{err}");
}

#[tokio::test]
async fn sslmode_disable_is_refused_before_any_token_is_asked_for() {
    let (identity, _) = identity_with_role();
    let server = PgServer::shared();
    for settings in [
        format!("host=localhost port={} sslmode=disable", server.port()),
        format!(
            "postgresql://localhost:{}/postgres?sslmode=disable",
            server.port()
        ),
    ] {
        let err = EntraConnector::new(settings.as_str(), auth(&identity)).unwrap_err();
        assert!(
            matches!(err, Error::Entra(CoreError::InsecureTransport { .. })),
            "{err:?}"
        );
        assert!(err.to_string().contains("danger_allow_plaintext"), "{err}");
    }
    assert_eq!(identity.requests(Resource::Database), 0);
}

#[tokio::test]
async fn sslmode_prefer_becomes_require() {
    let (identity, _) = identity_with_role();
    let mut config = Config::new();
    config
        .host("localhost")
        .ssl_mode(entra_pg_tokio::tokio_postgres::config::SslMode::Prefer);
    let connector = EntraConnector::builder(config, auth(&identity))
        .danger_allow_plaintext(true)
        .build()
        .unwrap();
    let login = connector.login_config().await.unwrap();
    assert_eq!(
        login.get_ssl_mode(),
        entra_pg_tokio::tokio_postgres::config::SslMode::Require
    );
}
