//! `connect` and `EntraConnector`: who logs in, what passes through, and that the
//! token path works from a Tokio runtime's blocking pool.

use std::time::Duration;

use entra_pg_core::Error as CoreError;
use entra_pg_sync::{EntraConnector, Error, connect};
use entra_pg_testkit::{FakeEntra, Fault, PgServer, Resource, unique_name};

use crate::support::{auth, connector, current_user, identity_with_role, settings, tls};

#[test]
fn the_derived_user_logs_in_with_the_token() {
    let (identity, user) = identity_with_role();
    let server = PgServer::shared();
    let mut client = connect(settings(server), &auth(&identity), tls(server).connector()).unwrap();
    assert_eq!(current_user(&mut client), user);
    assert_eq!(identity.requests(Resource::Database), 1);
}

#[test]
fn an_explicit_user_in_the_settings_wins_over_the_derived_one() {
    let server = PgServer::shared();
    let role = unique_name("sync_app_role");
    let identity = FakeEntra::shared()
        .identity()
        .upn(&format!("{}@contoso.com", unique_name("someone")))
        .login_on(server, &role)
        .build();
    let mut config = settings(server);
    config.user(&role);
    let mut client = connect(config, &auth(&identity), tls(server).connector()).unwrap();
    assert_eq!(current_user(&mut client), role);
}

#[test]
fn an_explicit_user_and_password_skip_entra_entirely() {
    let server = PgServer::shared();
    let role = unique_name("sync_static_role");
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
    assert_eq!(current_user(&mut connector.connect().unwrap()), role);
    assert_eq!(identity.requests(Resource::Database), 0, "Entra not asked");
}

#[test]
fn other_settings_pass_through_untouched() {
    let (identity, user) = identity_with_role();
    let server = PgServer::shared();
    let url = format!(
        "postgresql://{}:{}/postgres?sslmode=verify-full&application_name=sync-passthrough&connect_timeout=7",
        server.host(),
        server.port()
    );
    let connector = EntraConnector::builder(url.as_str(), auth(&identity))
        .tls(tls(server).connector())
        .build()
        .unwrap();
    let login = connector.login_config().unwrap();
    assert_eq!(login.get_connect_timeout(), Some(&Duration::from_secs(7)));
    assert_eq!(login.get_user(), Some(user.as_str()));
    let mut client = connector.connect().unwrap();
    let row = client
        .query_one("SELECT current_setting('application_name')", &[])
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "sync-passthrough");
}

#[test]
fn sslmode_disable_is_refused_before_any_token_is_asked_for() {
    let (identity, _) = identity_with_role();
    let err = EntraConnector::new("host=localhost sslmode=disable", auth(&identity)).unwrap_err();
    assert!(
        matches!(err, Error::Entra(CoreError::InsecureTransport { .. })),
        "{err:?}"
    );
    assert_eq!(identity.requests(Resource::Database), 0);
}

#[test]
fn connecting_from_a_tokio_blocking_thread_works_on_a_cold_cache() {
    let (identity, user) = identity_with_role();
    for flavor in ["multi_thread", "current_thread"] {
        let runtime = match flavor {
            "multi_thread" => tokio::runtime::Builder::new_multi_thread(),
            _ => tokio::runtime::Builder::new_current_thread(),
        }
        .enable_all()
        .build()
        .unwrap();
        // A fresh EntraAuth each time: the first connect must fetch a token.
        let connector = connector(auth(&identity));
        let current = runtime
            .block_on(async move {
                tokio::task::spawn_blocking(move || current_user(&mut connector.connect().unwrap()))
                    .await
            })
            .unwrap();
        assert_eq!(current, user, "{flavor}");
    }
    assert_eq!(identity.requests(Resource::Database), 2);
}
