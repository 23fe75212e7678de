//! The pool refresher: it serves every `PgPool` clone for as long as the pool is
//! open, wakes at least every 30 seconds, and stops when the pool is closed.

use std::time::Duration;

use entra_pg_core::{EntraAuth, clock::Jitter};
use entra_pg_sqlx::{
    EntraConnectOptions,
    sqlx::{self, PgPool, postgres::PgPoolOptions},
};
use entra_pg_testkit::{FakeEntra, Identity, PgServer, Resource, test_clock, unique_name};

const LIFETIME: Duration = Duration::from_secs(240);

fn identity(clock: &entra_pg_core::clock::ManualClock) -> (Identity, String) {
    entra_pg_testkit::init_logs();
    let user = format!("{}@contoso.com", unique_name("refresher"));
    let identity = FakeEntra::shared()
        .identity()
        .upn(&user)
        .lifetime(LIFETIME)
        .clock(clock.clone())
        .login_on(PgServer::shared(), &user)
        .build();
    (identity, user)
}

fn options(identity: &Identity, clock: &entra_pg_core::clock::ManualClock) -> EntraConnectOptions {
    let server = PgServer::shared();
    let auth = EntraAuth::builder(identity.managed_identity_credential())
        .clock(clock.clone())
        .jitter(Jitter::none())
        .refresh_ahead(Duration::from_secs(60))
        .allow_host("localhost")
        .build()
        .unwrap();
    let url = format!("postgres://localhost:{}/postgres", server.port());
    EntraConnectOptions::builder(url, auth)
        .root_cert_pem(server.ca_pem().as_bytes())
        .build()
        .unwrap()
}

async fn current_user(pool: &PgPool) -> String {
    // A new physical connection each time: the pool holds none idle.
    let mut connection = pool.acquire().await.unwrap();
    let user = sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(&mut *connection)
        .await
        .unwrap();
    connection.detach();
    user
}

#[tokio::test]
async fn a_pgpool_clone_keeps_getting_new_tokens_after_every_entra_pool_is_dropped() {
    let clock = test_clock();
    let (identity, user) = identity(&clock);
    let options = options(&identity, &clock);
    let entra_pool = options
        .connect_pool_lazy(PgPoolOptions::new().max_connections(4))
        .await
        .unwrap();
    let mut monitor = entra_pool.monitor();
    // The axum-state idiom: keep only a PgPool.
    let pool: PgPool = entra_pool.pool().clone();
    drop(entra_pool);
    assert_eq!(current_user(&pool).await, user);

    // Past the refresh point another caller refreshes the cache: the refresher
    // installs the new token, though no EntraPool is left.
    clock.advance(time::Duration::seconds(190));
    options.auth().refresh(options.target()).await.unwrap();
    let status = monitor.wait_for(|status| status.refreshes >= 2).await;
    assert!(status.running, "{status:?}");
    // Past the first token's expiry, new connections of the clone still work.
    clock.advance(time::Duration::seconds(60));
    assert_eq!(current_user(&pool).await, user);
    assert_eq!(identity.requests(Resource::Database), 2);

    pool.close().await;
    monitor.stopped().await;
    assert!(!monitor.status().running);
}

#[tokio::test]
async fn the_refresher_looks_at_the_clock_at_least_every_thirty_seconds() {
    let clock = test_clock();
    let (identity, _) = identity(&clock);
    identity.set_lifetime(Duration::from_secs(24 * 3600));
    let pool = options(&identity, &clock)
        .connect_pool_lazy(PgPoolOptions::new())
        .await
        .unwrap();
    let status = pool
        .monitor()
        .wait_for(|status| status.next_refresh.is_some())
        .await;
    let wait = status.next_refresh.unwrap() - pool.auth().now();
    assert!(wait <= time::Duration::seconds(30), "{wait}");
    pool.close().await;
}

#[tokio::test]
async fn closing_the_pool_stops_the_refresher() {
    let clock = test_clock();
    let (identity, _) = identity(&clock);
    let options = options(&identity, &clock);
    let pool = options
        .connect_pool_lazy(PgPoolOptions::new())
        .await
        .unwrap();
    let mut monitor = pool.monitor();
    assert!(monitor.status().running);
    pool.close().await;
    monitor.stopped().await;
    let requests = identity.requests(Resource::Database);
    // Past the refresh point a refresh by someone else is not installed.
    clock.advance(time::Duration::seconds(190));
    options.auth().refresh(options.target()).await.unwrap();
    assert_eq!(identity.requests(Resource::Database), requests + 1);
    assert_eq!(monitor.status().refreshes, 1);
    assert!(monitor.status().next_refresh.is_none());
}
