//! The refresher ends with the pool: closing it or dropping every handle stops
//! the token requests.

use std::time::Duration;

use entra_pg_core::EntraAuth;
use entra_pg_sqlx::sqlx::postgres::PgPoolOptions;
use entra_pg_testkit::Resource;

use crate::support::{entra_options, identity_with_role};

/// Tokens that would be refreshed within a second: a running refresher asks again
/// at once.
fn short_lived_auth(identity: &entra_pg_testkit::Identity) -> EntraAuth {
    identity.set_lifetime(Duration::from_secs(2));
    EntraAuth::builder(identity.managed_identity_credential())
        .refresh_ahead(Duration::from_secs(1))
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_running_refresher_requests_each_token_ahead_of_expiry() {
    // The control for the two tests below: the same set-up does refresh.
    let (identity, _) = identity_with_role();
    let pool = entra_options(short_lived_auth(&identity))
        .connect_pool(PgPoolOptions::new().max_connections(1))
        .await
        .unwrap();
    let status = pool
        .monitor()
        .wait_for(|status| status.refreshes >= 3)
        .await;
    assert!(status.refreshes >= 3, "{status:?}");
    assert!(identity.requests(Resource::Database) >= 3);
    assert!(status.next_refresh.is_some());
    assert!(status.last_error.is_none());
}

#[tokio::test]
async fn closing_the_pool_stops_the_refresher() {
    let (identity, _) = identity_with_role();
    let pool = entra_options(short_lived_auth(&identity))
        .connect_pool(PgPoolOptions::new().max_connections(1))
        .await
        .unwrap();
    let mut monitor = pool.monitor();
    pool.close().await;
    monitor.stopped().await;
    let requests = identity.requests(Resource::Database);
    // Past several refresh points of the 2 s tokens: nothing asks for a token.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(identity.requests(Resource::Database), requests);
    assert!(!monitor.status().running);
    assert!(monitor.status().next_refresh.is_none());
}

#[tokio::test]
async fn dropping_every_handle_stops_the_refresher() {
    let (identity, _) = identity_with_role();
    let pool = entra_options(short_lived_auth(&identity))
        .connect_pool(PgPoolOptions::new().max_connections(1))
        .await
        .unwrap();
    let clone = pool.clone();
    let mut monitor = pool.monitor();
    drop(pool);
    assert!(monitor.status().running, "a clone still holds the pool");
    drop(clone);
    monitor.stopped().await;
    let requests = identity.requests(Resource::Database);
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(identity.requests(Resource::Database), requests);
}
