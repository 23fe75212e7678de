//! `PgConnector`: who logs in, what passes through, the TLS rule, and the direct
//! and async one-connection paths.

use diesel::{RunQueryDsl, dsl::sql, sql_types::Text};
use entra_pg_core::Error as CoreError;
use entra_pg_diesel::{Error, PgConnector, connect_async};
use entra_pg_testkit::{Fault, PgServer, Resource, unique_name};

use crate::support::{
    async_connector, auth, builder, current_user, current_user_async, identity_with_role,
    pg_connector, settings,
};

#[test]
fn the_derived_user_logs_in_with_the_token() {
    let (identity, user) = identity_with_role();
    let connector = pg_connector(auth(&identity));
    assert_eq!(connector.ssl_mode(), "verify-full");
    let mut conn = connector.connect().unwrap();
    assert_eq!(current_user(&mut conn), user);
    let mut again = connector.connect().unwrap();
    assert_eq!(current_user(&mut again), user);
    assert_eq!(identity.requests(Resource::Database), 1, "one cached token");
}

#[tokio::test]
async fn connect_async_logs_in_over_tls() {
    let (identity, user) = identity_with_role();
    let mut conn = connect_async(&async_connector(auth(&identity)))
        .await
        .unwrap();
    assert_eq!(current_user_async(&mut conn).await, user);
}

#[test]
fn an_explicit_user_in_the_settings_wins_over_the_derived_one() {
    let server = PgServer::shared();
    let role = unique_name("diesel_app_role");
    let identity = builder()
        .upn(&format!("{}@contoso.com", unique_name("someone")))
        .login_on(server, &role)
        .build();
    let settings = format!("{} user={role}", settings(server));
    let connector = PgConnector::builder(&settings, auth(&identity))
        .root_cert(server.ca_path())
        .build()
        .unwrap();
    assert_eq!(current_user(&mut connector.connect().unwrap()), role);
}

#[test]
fn an_explicit_user_and_password_skip_entra_entirely() {
    let server = PgServer::shared();
    let role = unique_name("diesel_static_role");
    server.create_password_role(&role, "static secret/with?chars");
    let (identity, _) = identity_with_role();
    identity.set_fault(Some(Fault::Status(500)));
    let settings = format!(
        "{} user={role} password='static secret/with?chars'",
        settings(server)
    );
    let connector = PgConnector::builder(&settings, auth(&identity))
        .root_cert(server.ca_path())
        .build()
        .unwrap();
    assert!(connector.is_static_login());
    assert_eq!(current_user(&mut connector.connect().unwrap()), role);
    assert_eq!(identity.requests(Resource::Database), 0, "Entra not asked");
}

#[test]
fn urls_work_and_other_settings_pass_through() {
    let (identity, user) = identity_with_role();
    let server = PgServer::shared();
    let url = format!(
        "postgresql://{}:{}/postgres?sslmode=verify-full&application_name=diesel%20passthrough\
         &options=-c%20statement_timeout%3D1234",
        server.host(),
        server.port()
    );
    let connector = PgConnector::builder(&url, auth(&identity))
        .root_cert(server.ca_path())
        .build()
        .unwrap();
    let mut conn = connector.connect().unwrap();
    assert_eq!(current_user(&mut conn), user);
    let settings: String = diesel::select(sql::<Text>(
        "current_setting('application_name') || '|' || current_setting('statement_timeout')",
    ))
    .get_result(&mut conn)
    .unwrap();
    assert_eq!(settings, "diesel passthrough|1234ms");
}

#[test]
fn weak_sslmodes_are_refused_before_any_token_is_asked_for() {
    let (identity, _) = identity_with_role();
    let server = PgServer::shared();
    for mode in ["disable", "allow", "prefer", "require", "verify-ca"] {
        for settings in [
            format!("{} sslmode={mode}", settings(server)),
            format!(
                "postgresql://localhost:{}/postgres?sslmode={mode}",
                server.port()
            ),
        ] {
            let err = PgConnector::builder(&settings, auth(&identity))
                .root_cert(server.ca_path())
                .build()
                .unwrap_err();
            assert!(
                matches!(err, Error::Entra(CoreError::InsecureTransport { .. })),
                "{err:?}"
            );
            assert!(
                err.to_string().contains("danger_allow_insecure_sslmode"),
                "{err}"
            );
        }
    }
    // libpq's JDBC-style ssl=true is sslmode=require.
    let err =
        PgConnector::new("postgresql://localhost/postgres?ssl=true", auth(&identity)).unwrap_err();
    assert_eq!(err.kind(), "insecure_transport", "{err:?}");
    assert_eq!(identity.requests(Resource::Database), 0);
}

#[test]
fn bad_settings_are_config_errors_that_say_what_to_fix() {
    let (identity, _) = identity_with_role();
    let unparsable = PgConnector::new("host=localhost sslmode", auth(&identity)).unwrap_err();
    assert!(
        matches!(unparsable, Error::Entra(CoreError::InvalidConfig { .. })),
        "{unparsable:?}"
    );
    assert!(
        unparsable.to_string().contains("cannot parse"),
        "{unparsable}"
    );

    let missing = PgConnector::builder("host=localhost", auth(&identity))
        .root_cert("/nonexistent/entra-pg/root.crt")
        .build()
        .unwrap_err();
    assert!(
        missing
            .to_string()
            .contains("/nonexistent/entra-pg/root.crt"),
        "{missing}"
    );
}

#[test]
fn without_a_root_cert_the_system_bundle_is_used() {
    let (identity, _) = identity_with_role();
    let connector = PgConnector::new("host=localhost", auth(&identity)).unwrap();
    let root = connector.root_cert().expect("a default root bundle");
    assert!(root.is_file(), "{}", root.display());
}
