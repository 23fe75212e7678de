//! TLS is mandatory and verified on both paths: no token reaches a server without
//! TLS or one whose certificate is not trusted.

use diesel::r2d2::Pool;
use entra_pg_core::Error as CoreError;
use entra_pg_diesel::{
    AsyncConnector, AsyncDeadpoolPool, Error, PgConnector, R2d2Manager, async_manager,
    connect_async, entra_pg_tokio::Tls,
};
use entra_pg_testkit::{Identity, PgServer, TestCa, unique_name};

use crate::support::{auth, builder, current_user, settings, tls};

fn identity_on(server: &PgServer, prefix: &str) -> (Identity, String) {
    let user = format!("{}@contoso.com", unique_name(prefix));
    let identity = builder().upn(&user).login_on(server, &user).build();
    (identity, user)
}

#[test]
fn sync_a_server_without_tls_never_receives_the_token() {
    let server = PgServer::shared_plaintext();
    let (identity, user) = identity_on(server, "diesel_plain");
    let connector = PgConnector::builder(&settings(server), auth(&identity))
        .root_cert(PgServer::shared().ca_path())
        .build()
        .unwrap();
    let err = connector.connect().map(drop).unwrap_err();
    assert!(
        matches!(err, Error::Entra(CoreError::InsecureTransport { .. })),
        "{err:?}"
    );
    assert!(err.to_string().contains("does not offer TLS"), "{err}");
    // Through the pool too.
    let pool = Pool::builder()
        .max_size(1)
        .min_idle(Some(0))
        .connection_timeout(std::time::Duration::from_secs(2))
        .build(R2d2Manager::new(connector))
        .unwrap();
    let pool_err = pool.get().map(drop).unwrap_err().to_string();
    assert!(pool_err.contains("does not offer TLS"), "{pool_err}");
    assert_eq!(server.password_checks_for(&user), 0, "no password sent");

    // The counter is real: the dangerous opt-out sends the password.
    let insecure = PgConnector::builder(
        &format!("{} sslmode=disable", settings(server)),
        auth(&identity),
    )
    .danger_allow_insecure_sslmode(true)
    .build()
    .unwrap();
    assert_eq!(current_user(&mut insecure.connect().unwrap()), user);
    assert_eq!(server.password_checks_for(&user), 1);
}

#[tokio::test]
async fn async_a_server_without_tls_never_receives_the_token() {
    let server = PgServer::shared_plaintext();
    let (identity, user) = identity_on(server, "diesel_async_plain");
    let connector = AsyncConnector::builder(settings(server), auth(&identity))
        .tls(tls(PgServer::shared()).connector())
        .build()
        .unwrap();
    let err = connect_async(&connector).await.map(drop).unwrap_err();
    assert!(
        matches!(err, Error::Entra(CoreError::InsecureTransport { .. })),
        "{err:?}"
    );
    let pool = AsyncDeadpoolPool::builder(async_manager(connector))
        .max_size(1)
        .build()
        .unwrap();
    let pool_err = pool.get().await.map(drop).unwrap_err().to_string();
    assert!(pool_err.contains("does not offer TLS"), "{pool_err}");
    assert_eq!(server.password_checks_for(&user), 0, "no password sent");
}

#[test]
fn sync_an_unknown_ca_is_a_certificate_error() {
    let server = PgServer::shared();
    let (identity, user) = identity_on(server, "diesel_unknown_ca");
    let dir = tempfile::tempdir().unwrap();
    let other_ca = dir.path().join("other-ca.pem");
    std::fs::write(&other_ca, TestCa::new("some other CA").pem()).unwrap();
    // A CA file that did not sign the server, and the default (system) bundle.
    let connectors = [
        PgConnector::builder(&settings(server), auth(&identity))
            .root_cert(&other_ca)
            .build()
            .unwrap(),
        PgConnector::new(&settings(server), auth(&identity)).unwrap(),
    ];
    for connector in connectors {
        let err = connector.connect().map(drop).unwrap_err();
        let Error::Certificate { host, .. } = &err else {
            panic!("expected a certificate error, got {err:?}");
        };
        assert_eq!(host, "localhost");
        assert!(err.to_string().contains("PGSSLROOTCERT"), "{err}");
        assert_eq!(err.kind(), "certificate");
    }
    assert_eq!(server.password_checks_for(&user), 0, "no password sent");
}

#[tokio::test]
async fn async_an_unknown_ca_is_a_certificate_error() {
    let server = PgServer::shared();
    let (identity, user) = identity_on(server, "diesel_async_unknown_ca");
    let other_ca = Tls::builder()
        .root_pem(TestCa::new("some other CA").pem())
        .unwrap()
        .build()
        .unwrap();
    let connector = AsyncConnector::builder(settings(server), auth(&identity))
        .tls(other_ca.connector())
        .build()
        .unwrap();
    let err = connect_async(&connector).await.map(drop).unwrap_err();
    assert!(matches!(err, Error::Certificate { .. }), "{err:?}");
    assert!(err.to_string().contains("PGSSLROOTCERT"), "{err}");
    assert_eq!(server.password_checks_for(&user), 0, "no password sent");
}
