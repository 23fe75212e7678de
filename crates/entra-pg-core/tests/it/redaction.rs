//! A token never shows in Debug, Display, errors or logs.

use entra_pg_core::Error;
use entra_pg_testkit::{FakeEntra, Fault, captured_logs};

use crate::support::{Logins as _, auth, identity_with_role};

#[tokio::test]
async fn debug_output_of_every_public_type_hides_the_token() {
    let (identity, user) = identity_with_role();
    let auth = auth(&identity);
    let info = auth.login_now().await.unwrap();
    let token = info.password().to_owned();
    assert!(token.len() > 1000, "realistic token size");
    for text in [
        format!("{info:?}"),
        format!("{info:#?}"),
        format!("{auth:?}"),
        format!("{:?}", auth.status()),
    ] {
        assert!(!text.contains(&token), "{text}");
        assert!(
            !text.contains(&token[token.len() - 40..]),
            "no tail of the token: {text}"
        );
    }
    assert!(format!("{info:?}").contains(&user));
    assert!(format!("{info:?}").contains("<redacted>"));
}

#[tokio::test]
async fn errors_never_carry_the_token_even_when_the_reply_did() {
    let (identity, _) = identity_with_role();
    let auth = auth(&identity);
    identity.set_fault(Some(Fault::MalformedJson));
    let err = auth.login_now().await.unwrap_err();
    let token = identity.issued_tokens().pop().unwrap();
    assert!(matches!(err, Error::Credential { .. }), "{err:?}");
    let mut chain = format!("{err} {err:?}");
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        chain.push_str(&format!(" {cause} {cause:?}"));
        source = cause.source();
    }
    assert!(!chain.contains(&token), "{chain}");
    let status = format!("{:?}", auth.status());
    assert!(!status.contains(&token));
}

#[tokio::test]
async fn no_issued_token_appears_in_the_captured_logs() {
    let (identity, _) = identity_with_role();
    let auth = auth(&identity);
    auth.login_now().await.unwrap();
    auth.refresh_now().await.unwrap();
    identity.set_fault(Some(Fault::Status(500)));
    let _ = auth.refresh_now().await;
    let logs = captured_logs();
    assert!(
        logs.contains("entra-pg: got an Entra token"),
        "events are captured"
    );
    for token in FakeEntra::shared().issued_tokens() {
        assert!(!logs.contains(&token), "a token was logged");
        // Also no large fragment (a signature or payload) of it.
        for part in token.split('.') {
            if part.len() > 32 {
                assert!(!logs.contains(part), "part of a token was logged");
            }
        }
    }
}
