//! The test kit's server-side password check itself: static passwords, odd user
//! names, long passwords, expiry and the check counter.

use entra_pg_testkit::{PgServer, unique_name};
use time::OffsetDateTime;

/// A password that is not a token, unique per call.
fn password() -> String {
    format!("static-{}", unique_name("password"))
}

#[tokio::test]
async fn a_static_password_role_logs_in_with_its_password_only() {
    let server = PgServer::shared();
    let role = unique_name("static");
    let secret = password();
    server.create_password_role(&role, &secret);
    assert_eq!(server.accepted_passwords(&role), 1);
    assert_eq!(server.login(&role, &secret).await.unwrap(), role);
    for wrong in [&secret[..secret.len() - 1], "", "x"] {
        let err = server.login(&role, wrong).await.unwrap_err();
        assert!(err.is_auth_failure(), "{err}");
    }
    // Another role's password is no good either.
    let other = unique_name("static");
    server.create_password_role(&other, &password());
    let err = server.login(&other, &secret).await.unwrap_err();
    assert!(err.is_auth_failure(), "{err}");
}

#[tokio::test]
async fn user_names_with_odd_characters_log_in_as_themselves() {
    let server = PgServer::shared();
    for name in [
        "first.last@contoso.com",
        "with space",
        "it's \"quoted\"",
        "comma, equals=sign",
        "back\\slash (paren) *star* /slash",
        // Ends like the DN suffix the server appends: must not confuse the parse.
        "cn=x,dc=pg1",
        "trailing,dc=pg",
        "ünïcødé",
    ] {
        let role = format!("{} {name}", unique_name("odd"));
        let secret = password();
        server.create_password_role(&role, &secret);
        let current = server
            .login(&role, &secret)
            .await
            .unwrap_or_else(|err| panic!("{role:?}: {err}"));
        assert_eq!(current, role);
        let err = server.login(&role, "wrong").await.unwrap_err();
        assert!(err.is_auth_failure(), "{role:?}: {err}");
    }
}

#[tokio::test]
async fn a_16_kib_password_works() {
    let server = PgServer::shared();
    let role = unique_name("long");
    let secret: String = (0..16 * 1024)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    server.create_password_role(&role, &secret);
    assert_eq!(server.login(&role, &secret).await.unwrap(), role);
    let mut almost = secret.clone();
    almost.replace_range(8000..8001, "#");
    let err = server.login(&role, &almost).await.unwrap_err();
    assert!(err.is_auth_failure(), "{err}");
}

#[tokio::test]
async fn a_password_is_accepted_strictly_before_its_expiry_and_alongside_others() {
    let server = PgServer::shared();
    let role = unique_name("expiry");
    server.create_login_role(&role);
    let (expired, valid, forever) = (password(), password(), password());
    let now = OffsetDateTime::now_utc();
    server.accept_password(&role, &expired, Some(now));
    server.accept_password(&role, &valid, Some(now + time::Duration::hours(1)));
    server.accept_password(&role, &forever, None);
    assert_eq!(server.accepted_passwords(&role), 2);
    let err = server.login(&role, &expired).await.unwrap_err();
    assert!(err.is_auth_failure(), "{err}");
    assert_eq!(server.login(&role, &valid).await.unwrap(), role);
    assert_eq!(server.login(&role, &forever).await.unwrap(), role);
}

#[tokio::test]
async fn every_password_the_server_receives_is_counted() {
    let server = PgServer::shared();
    let role = unique_name("counted");
    let secret = password();
    server.create_password_role(&role, &secret);
    // Other tests share the server, so counts only ever grow by at least ours.
    let (checks, passed) = (server.password_checks(), server.password_checks_passed());
    server.login(&role, &secret).await.unwrap();
    assert!(server.password_checks() > checks);
    assert!(server.password_checks_passed() > passed);
    let checks = server.password_checks();
    server.login(&role, "wrong").await.unwrap_err();
    assert!(server.password_checks() > checks);
}
