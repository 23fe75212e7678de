//! The rustls set-up of this crate: roots from PEM, the default set, and what a
//! custom TLS connector may be combined with.

use std::sync::Arc;

use entra_pg_core::{EntraAuth, Error as CoreError};
use entra_pg_testkit::{FixedToken, TestCa};
use entra_pg_tokio::{EntraConnector, Tls, tokio_postgres::NoTls};

#[test]
fn bad_root_ca_input_is_a_config_error_that_says_what_to_fix() {
    let not_pem = Tls::builder().root_cert_pem("hello").unwrap_err();
    assert!(
        matches!(not_pem, CoreError::InvalidConfig { .. }),
        "{not_pem:?}"
    );
    assert!(not_pem.to_string().contains("no certificate"), "{not_pem}");

    let missing = Tls::builder()
        .root_cert_file("/nonexistent/entra-pg/root.crt")
        .unwrap_err();
    assert!(
        missing
            .to_string()
            .contains("/nonexistent/entra-pg/root.crt"),
        "{missing}"
    );

    let broken = "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n";
    assert!(Tls::builder().root_cert_pem(broken).is_err());

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
        .root_cert_file(&path)
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(tls.root_count(), 2);
    let with_defaults = Tls::builder()
        .default_roots()
        .root_cert_file(&path)
        .unwrap()
        .build()
        .unwrap();
    assert!(with_defaults.root_count() > 100, "the Mozilla set and ours");
}

fn auth() -> EntraAuth {
    EntraAuth::builder(Arc::new(FixedToken("t.t.t".to_owned())))
        .allow_host("db.example.com")
        .build()
        .unwrap()
}

#[test]
fn root_cas_cannot_be_given_with_a_custom_tls_connector() {
    let err = EntraConnector::builder("host=db.example.com", auth())
        .tls(NoTls)
        .root_cert_pem(TestCa::new("x").pem())
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), "invalid_config");
    assert!(err.to_string().contains("custom TLS connector"), "{err}");
    // Without roots, any connector is taken (NoTls then fails closed on connect).
    assert!(
        EntraConnector::builder("host=db.example.com", auth())
            .tls(NoTls)
            .build()
            .is_ok()
    );
}

#[test]
fn a_root_file_that_does_not_exist_is_reported_at_build_with_its_path() {
    let err = EntraConnector::builder("host=db.example.com", auth())
        .root_cert_file("/nonexistent/ca.pem")
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), "invalid_config");
    assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
}
