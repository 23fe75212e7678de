//! The token only goes to a server whose certificate was verified.

use entra_pg_core::Error as CoreError;
use entra_pg_sqlx::{
    EntraConnectOptions, Error,
    sqlx::postgres::{PgPoolOptions, PgSslMode},
};
use entra_pg_testkit::{PgServer, Resource};

use crate::support::{auth, current_user, identity_with_role, options};

#[tokio::test]
async fn a_server_without_tls_never_gets_the_token() {
    let (identity, user) = identity_with_role();
    let server = PgServer::shared_plaintext();
    server.create_login_role(&user);
    server.accept_password(&user, "unused", None);
    let options = EntraConnectOptions::builder(options(server), auth(&identity))
        .root_pem(server.ca_pem())
        .build()
        .unwrap();
    let err = options.connect().await.unwrap_err();
    assert!(
        matches!(err, Error::Entra(CoreError::InsecureTransport { .. })),
        "{err:?}"
    );
    assert!(err.to_string().contains("does not offer TLS"), "{err}");
    let err = options
        .connect_pool(PgPoolOptions::new().max_connections(1))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "insecure_transport", "{err:?}");
    assert_eq!(server.password_checks_for(&user), 0, "no password was sent");
}

#[tokio::test]
async fn modes_that_do_not_verify_are_refused_before_any_token_request() {
    let (identity, _) = identity_with_role();
    let server = PgServer::shared();
    for mode in [PgSslMode::Require, PgSslMode::Allow, PgSslMode::Disable] {
        let err =
            EntraConnectOptions::new(options(server).ssl_mode(mode), auth(&identity)).unwrap_err();
        assert!(
            matches!(err, Error::Entra(CoreError::InsecureTransport { .. })),
            "{mode:?}: {err:?}"
        );
        assert!(err.to_string().contains("verify-full"), "{err}");
    }
    // An explicit `prefer` in a URL is refused too; a missing sslmode is not.
    let url = format!("postgres://{}:{}/postgres", server.host(), server.port());
    let err =
        EntraConnectOptions::new(format!("{url}?sslmode=prefer"), auth(&identity)).unwrap_err();
    assert!(err.to_string().contains("sslmode=prefer"), "{err}");
    assert!(EntraConnectOptions::new(url, auth(&identity)).is_ok());
    assert_eq!(identity.requests(Resource::Database), 0);
}

#[tokio::test]
async fn the_dangerous_opt_out_allows_require() {
    let (identity, user) = identity_with_role();
    let server = PgServer::shared();
    // `require` trusts any certificate: the unknown test CA is accepted.
    let options = EntraConnectOptions::builder(
        options(server).ssl_mode(PgSslMode::Require),
        auth(&identity),
    )
    .danger_allow_insecure_transport(true)
    .build()
    .unwrap();
    let mut connection = options.connect().await.unwrap();
    assert_eq!(current_user(&mut connection).await, user);
}

#[tokio::test]
async fn an_unknown_certificate_authority_is_refused_with_advice() {
    let (identity, user) = identity_with_role();
    let server = PgServer::shared();
    // No root for the test CA: only the Mozilla roots are trusted.
    let options = EntraConnectOptions::new(options(server), auth(&identity)).unwrap();
    let err = options.connect().await.unwrap_err();
    let Error::Certificate { problem, .. } = &err else {
        panic!("expected a certificate error, got {err:?}");
    };
    assert!(problem.contains("PGSSLROOTCERT"), "{problem}");
    assert_eq!(server.password_checks_for(&user), 0, "no password was sent");
}

#[tokio::test]
async fn a_root_file_that_is_not_pem_is_reported() {
    let (identity, _) = identity_with_role();
    let server = PgServer::shared();
    let options = EntraConnectOptions::builder(options(server), auth(&identity))
        .root_pem(b"not a certificate".to_vec())
        .build()
        .unwrap();
    let err = options.connect().await.unwrap_err();
    assert_eq!(err.kind(), "certificate", "{err:?}");
}
