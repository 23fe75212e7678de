//! The real server decides: derived user + token log in, stale and foreign tokens don't.

use std::time::Duration;

use entra_pg_testkit::{Fault, PgServer};

use crate::support::{auth, builder, identity_with_role};

/// SQLSTATE 28P01: invalid_password.
const INVALID_PASSWORD: Option<&str> = Some("28P01");

#[tokio::test]
async fn derived_user_and_token_log_in_over_tls() {
    let (identity, user) = identity_with_role();
    let info = auth(&identity).conninfo().await.unwrap();
    let server = PgServer::shared();
    assert_eq!(
        server.login(info.user(), info.password()).await.unwrap(),
        user
    );
}

#[tokio::test]
async fn a_replaced_token_and_a_wrong_password_are_rejected_by_the_server() {
    let (identity, user) = identity_with_role();
    let auth = auth(&identity);
    let server = PgServer::shared();
    let old = auth.conninfo().await.unwrap();
    let new = auth.refresh().await.unwrap();
    assert!(old.password() != new.password(), "a new token");
    let err = server.login(&user, old.password()).await.unwrap_err();
    assert_eq!(err.code.as_deref(), INVALID_PASSWORD, "{err}");
    assert!(server.login(&user, "not-the-token").await.is_err());
    assert_eq!(server.login(&user, new.password()).await.unwrap(), user);
}

#[tokio::test]
async fn an_expired_token_is_rejected_by_the_server() {
    let user = entra_pg_testkit::unique_name("expired");
    let identity = builder()
        .upn(&user)
        .lifetime(Duration::ZERO)
        .login_on(PgServer::shared(), &user)
        .build();
    // entra-pg itself refuses a token that is expired on arrival …
    let err = auth(&identity).conninfo().await.unwrap_err();
    assert!(err.to_string().contains("expired"), "{err}");
    // … and so does the server, which is what makes the expiry tests real.
    let token = identity.issued_tokens().pop().unwrap();
    let err = PgServer::shared().login(&user, &token).await.unwrap_err();
    assert_eq!(err.code.as_deref(), INVALID_PASSWORD, "{err}");
}

#[tokio::test]
async fn a_token_for_another_role_is_rejected() {
    let (alice, _) = identity_with_role();
    let (bob, bob_role) = identity_with_role();
    let alice_token = auth(&alice).conninfo().await.unwrap();
    let bob_token = auth(&bob).conninfo().await.unwrap();
    let server = PgServer::shared();
    let err = server
        .login(&bob_role, alice_token.password())
        .await
        .unwrap_err();
    assert_eq!(err.code.as_deref(), INVALID_PASSWORD, "{err}");
    let current = server.login(&bob_role, bob_token.password()).await.unwrap();
    assert_eq!(current, bob_role);
}

#[tokio::test]
async fn a_failing_endpoint_never_changes_what_the_server_accepts() {
    let (identity, user) = identity_with_role();
    let auth = auth(&identity);
    let good = auth.conninfo().await.unwrap();
    identity.set_fault(Some(Fault::MalformedJson));
    assert!(auth.refresh().await.is_err());
    assert_eq!(
        PgServer::shared()
            .login(&user, good.password())
            .await
            .unwrap(),
        user
    );
}
