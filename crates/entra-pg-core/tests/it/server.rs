//! The real server decides: derived user + token log in, and so does an older
//! unexpired token (like Azure); expired, tampered and foreign tokens don't.

use std::time::Duration;

use entra_pg_testkit::{Fault, PgServer};

use crate::support::{Logins as _, auth, builder, identity_with_role};

#[tokio::test]
async fn derived_user_and_token_log_in_over_tls() {
    let (identity, user) = identity_with_role();
    let info = auth(&identity).login_now().await.unwrap();
    let server = PgServer::shared();
    assert_eq!(
        server.login(info.user(), info.password()).await.unwrap(),
        user
    );
}

#[tokio::test]
async fn an_older_token_stays_valid_but_a_tampered_token_and_a_wrong_password_are_rejected() {
    let (identity, user) = identity_with_role();
    let auth = auth(&identity);
    let server = PgServer::shared();
    let old = auth.login_now().await.unwrap();
    let new = auth.refresh_now().await.unwrap();
    assert!(old.password() != new.password(), "a new token");
    // Like Azure: every unexpired token is accepted, not only the newest, so a
    // connection that read the token just before a refresh still logs in.
    assert_eq!(server.login(&user, old.password()).await.unwrap(), user);
    assert_eq!(server.login(&user, new.password()).await.unwrap(), user);
    for wrong in [tampered(new.password()), "not-the-token".to_owned()] {
        let err = server.login(&user, &wrong).await.unwrap_err();
        assert!(err.is_auth_failure(), "{err}");
    }
}

/// `token` with one character of its signature (the last segment) changed.
fn tampered(token: &str) -> String {
    let at = token.rfind('.').expect("a JWT") + 10;
    assert!(at < token.len(), "a signature of more than 10 characters");
    let mut bytes = token.as_bytes().to_vec();
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(bytes).expect("ASCII token");
    assert!(tampered != token && tampered.len() == token.len());
    tampered
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
    let err = auth(&identity).login_now().await.unwrap_err();
    assert_eq!(err.kind(), "token_expired_on_arrival");
    // … and so does the server, which is what makes the expiry tests real.
    let token = identity.issued_tokens().pop().unwrap();
    let server = PgServer::shared();
    assert_eq!(server.accepted_passwords(&user), 0);
    let err = server.login(&user, &token).await.unwrap_err();
    assert!(err.is_auth_failure(), "{err}");
}

#[tokio::test]
async fn a_token_for_another_role_is_rejected() {
    let (alice, _) = identity_with_role();
    let (bob, bob_role) = identity_with_role();
    let alice_token = auth(&alice).login_now().await.unwrap();
    let bob_token = auth(&bob).login_now().await.unwrap();
    let server = PgServer::shared();
    let err = server
        .login(&bob_role, alice_token.password())
        .await
        .unwrap_err();
    assert!(err.is_auth_failure(), "{err}");
    let current = server.login(&bob_role, bob_token.password()).await.unwrap();
    assert_eq!(current, bob_role);
}

#[tokio::test]
async fn a_failing_endpoint_never_changes_what_the_server_accepts() {
    let (identity, user) = identity_with_role();
    let auth = auth(&identity);
    let good = auth.login_now().await.unwrap();
    identity.set_fault(Some(Fault::MalformedJson));
    assert!(auth.refresh_now().await.is_err());
    assert_eq!(
        PgServer::shared()
            .login(&user, good.password())
            .await
            .unwrap(),
        user
    );
}
