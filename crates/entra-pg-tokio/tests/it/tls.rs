//! TLS is mandatory and verified: no token to a plaintext server or an untrusted one.

use entra_pg_core::Error as CoreError;
use entra_pg_testkit::{PgServer, TestCa, unique_name};
use entra_pg_tokio::{EntraConnector, Error, Tls};

use crate::support::{auth, builder, current_user, plaintext_server, settings, tls};

#[tokio::test]
async fn a_server_without_tls_never_receives_the_token() {
    let server = plaintext_server();
    let user = format!("{}@contoso.com", unique_name("plain"));
    let identity = builder().upn(&user).login_on(server, &user).build();
    let auth = auth(&identity);
    let connector = EntraConnector::builder(settings(server), auth.clone())
        .tls(tls(PgServer::shared()).connector())
        .build()
        .unwrap();
    let err = connector.connect_spawned().await.unwrap_err();
    assert!(
        matches!(err, Error::Entra(CoreError::InsecureTransport { .. })),
        "{err:?}"
    );
    assert!(err.to_string().contains("does not offer TLS"), "{err}");
    assert_eq!(
        server.password_checks_for(&user),
        0,
        "no password reached the server"
    );

    // The counter is real: with the dangerous opt-out the same login goes through.
    let mut config = settings(server);
    config.ssl_mode(entra_pg_tokio::tokio_postgres::config::SslMode::Disable);
    let insecure = EntraConnector::builder(config, auth)
        .danger_allow_plaintext(true)
        .build()
        .unwrap();
    let client = insecure.connect_spawned().await.unwrap();
    assert_eq!(current_user(&client).await, user);
    assert_eq!(server.password_checks_for(&user), 1);
}

#[tokio::test]
async fn an_unknown_ca_is_a_certificate_error_with_a_pgsslrootcert_hint() {
    let server = PgServer::shared();
    let user = format!("{}@contoso.com", unique_name("unknown_ca"));
    let identity = builder().upn(&user).login_on(server, &user).build();
    let other_ca = Tls::builder()
        .root_pem(TestCa::new("some other CA").pem())
        .unwrap()
        .build()
        .unwrap();
    let connector = EntraConnector::builder(settings(server), auth(&identity))
        .tls(other_ca.connector())
        .build()
        .unwrap();
    let err = connector.connect_spawned().await.unwrap_err();
    let Error::Certificate { host, .. } = &err else {
        panic!("expected a certificate error, got {err:?}");
    };
    assert_eq!(host, "localhost");
    let message = err.to_string();
    assert!(message.contains("PGSSLROOTCERT"), "{message}");
    assert!(message.contains("UnknownIssuer"), "{message}");
    assert_eq!(err.kind(), "certificate");
    assert_eq!(server.password_checks_for(&user), 0);
}

#[cfg(feature = "webpki-roots")]
#[tokio::test]
async fn the_public_roots_do_not_trust_a_private_ca() {
    let server = PgServer::shared();
    let (identity, _) = crate::support::identity_with_role();
    let public = Tls::builder().default_roots().build().unwrap();
    assert!(public.root_count() > 100, "the Mozilla set");
    let connector = EntraConnector::builder(settings(server), auth(&identity))
        .tls(public.connector())
        .build()
        .unwrap();
    let err = connector.connect_spawned().await.unwrap_err();
    assert!(matches!(err, Error::Certificate { .. }), "{err:?}");
}

#[test]
fn bad_root_ca_input_is_a_config_error_that_says_what_to_fix() {
    let not_pem = Tls::builder().root_pem("hello").unwrap_err();
    assert!(
        matches!(not_pem, CoreError::InvalidConfig { .. }),
        "{not_pem:?}"
    );
    assert!(not_pem.to_string().contains("no certificate"), "{not_pem}");

    let missing = Tls::builder()
        .root_pem_file("/nonexistent/entra-pg/root.crt")
        .unwrap_err();
    let message = missing.to_string();
    assert!(
        message.contains("/nonexistent/entra-pg/root.crt"),
        "{message}"
    );
    assert!(message.contains("PGSSLROOTCERT"), "{message}");

    let broken = "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n";
    assert!(Tls::builder().root_pem(broken).is_err());

    let empty = Tls::builder().build().unwrap_err();
    assert!(empty.to_string().contains("no trusted root"), "{empty}");
}

#[test]
fn a_pem_file_with_a_chain_adds_every_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("roots.pem");
    let bundle = format!("{}{}", TestCa::new("a").pem(), TestCa::new("b").pem());
    std::fs::write(&path, bundle).unwrap();
    let tls = Tls::builder()
        .root_pem_file(&path)
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(tls.root_count(), 2);
}
