//! TLS is mandatory and verified, with the code shared with entra-pg-tokio.

use entra_pg_core::Error as CoreError;
use entra_pg_sync::{EntraConnector, Error, Tls};
use entra_pg_testkit::{FakeEntra, PgServer, TestCa, unique_name};

use crate::support::{auth, current_user, settings, tls};

#[test]
fn a_server_without_tls_never_receives_the_token() {
    let server = PgServer::shared_plaintext();
    let user = format!("{}@contoso.com", unique_name("sync_plain"));
    let identity = FakeEntra::shared()
        .identity()
        .upn(&user)
        .login_on(server, &user)
        .build();
    let connector = EntraConnector::builder(settings(server), auth(&identity))
        .tls(tls(PgServer::shared()).connector())
        .build()
        .unwrap();
    let err = connector.connect().map(drop).unwrap_err();
    assert!(
        matches!(err, Error::Entra(CoreError::InsecureTransport { .. })),
        "{err:?}"
    );
    assert_eq!(server.password_checks_for(&user), 0);

    // The counter is real: the dangerous opt-out sends the password.
    let mut config = settings(server);
    config.ssl_mode(postgres::config::SslMode::Disable);
    let insecure = EntraConnector::builder(config, auth(&identity))
        .danger_allow_plaintext(true)
        .build()
        .unwrap();
    assert_eq!(current_user(&mut insecure.connect().unwrap()), user);
    assert_eq!(server.password_checks_for(&user), 1);
}

#[test]
fn an_unknown_ca_is_a_certificate_error_with_a_pgsslrootcert_hint() {
    let server = PgServer::shared();
    let user = format!("{}@contoso.com", unique_name("sync_unknown_ca"));
    let identity = FakeEntra::shared()
        .identity()
        .upn(&user)
        .login_on(server, &user)
        .build();
    let other_ca = Tls::builder()
        .root_pem(TestCa::new("another CA").pem())
        .unwrap()
        .build()
        .unwrap();
    let connector = EntraConnector::builder(settings(server), auth(&identity))
        .tls(other_ca.connector())
        .build()
        .unwrap();
    let err = connector.connect().map(drop).unwrap_err();
    assert!(matches!(err, Error::Certificate { .. }), "{err:?}");
    assert!(err.to_string().contains("PGSSLROOTCERT"), "{err}");
    assert_eq!(server.password_checks_for(&user), 0);
}
