//! Endpoint outages: a valid token keeps the pool connecting; past expiry
//! `EntraPool::acquire` reports the token error, and the pool recovers on its own
//! once the endpoint is back.

use std::time::Duration;

use entra_pg_core::{EntraAuth, Error as CoreError, clock::ManualClock};
use entra_pg_sqlx::{Error, sqlx::postgres::PgPoolOptions};
use entra_pg_testkit::{Fault, Identity, Resource};

use crate::support::{current_user, entra_options, identity_with_role};

const NEW_CONNECTIONS: u32 = 10;

/// `EntraAuth` on a manual clock, so the test moves time for the cache and the
/// refresher only (the server keeps judging tokens by the real clock).
fn clocked(identity: &Identity) -> (EntraAuth, ManualClock) {
    let clock = ManualClock::starting_now();
    let auth = EntraAuth::builder(identity.managed_identity_credential())
        .clock(clock.clone())
        .build()
        .unwrap();
    (auth, clock)
}

#[tokio::test]
async fn the_pool_keeps_connecting_while_the_endpoint_is_down_and_the_token_valid() {
    let (identity, _) = identity_with_role();
    let (auth, clock) = clocked(&identity);
    let pool = entra_options(auth)
        .connect_pool(PgPoolOptions::new().max_connections(NEW_CONNECTIONS))
        .await
        .unwrap();
    identity.set_fault(Some(Fault::Status(503)));
    // Into the refresh window (120 s before the 240 s token expires).
    clock.advance(time::Duration::seconds(130));
    let mut held = Vec::new();
    for _ in 0..NEW_CONNECTIONS {
        let mut connection = pool.acquire().await.expect("the still-valid token");
        current_user(&mut connection).await;
        held.push(connection);
    }
    // The acquires woke the refresher; its refresh failed and it says so.
    let status = pool
        .monitor()
        .wait_for(|status| status.consecutive_failures > 0)
        .await;
    assert!(
        matches!(status.last_error, Some(CoreError::Credential { .. })),
        "{status:?}"
    );
    assert!(identity.requests(Resource::Database) >= 2);
    assert_eq!(pool.size(), NEW_CONNECTIONS);
}

#[tokio::test]
async fn acquire_reports_the_token_error_past_expiry_then_recovers() {
    let (identity, user) = identity_with_role();
    let (auth, clock) = clocked(&identity);
    let pool = entra_options(auth)
        .connect_pool(
            PgPoolOptions::new()
                .max_connections(2)
                .acquire_timeout(Duration::from_secs(5)),
        )
        .await
        .unwrap();
    // Hold the one open session: the next acquire needs a new connection.
    let mut first = pool.acquire().await.unwrap();
    identity.set_fault(Some(Fault::Status(500)));
    clock.advance(time::Duration::seconds(250));
    let err = pool.acquire().await.unwrap_err();
    assert!(
        matches!(err, Error::Entra(CoreError::Credential { .. })),
        "{err:?}"
    );
    assert!(err.to_string().contains("could not get a token"), "{err}");
    // The open session is unaffected.
    assert_eq!(current_user(&mut first).await, user);

    // The endpoint comes back (with tokens valid on the test's moved clock).
    identity.set_lifetime(Duration::from_secs(3600));
    identity.set_fault(None);
    let mut second = pool.acquire().await.expect("recovered");
    assert_eq!(current_user(&mut second).await, user);
    let status = pool
        .monitor()
        .wait_for(|status| status.last_error.is_none())
        .await;
    assert!(status.token_expires_on.is_some());
}
