//! Pools: 50 connections with one token request, lazy pools, typed acquire.

use std::sync::Arc;

use entra_pg_sqlx::sqlx::{self, postgres::PgPoolOptions};
use entra_pg_testkit::{PgServer, Resource};
use tokio::sync::Barrier;

use crate::support::{auth, entra_options, identity_with_role};

const CONNECTIONS: u32 = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn min_connections_fifty_opens_fifty_sessions_with_one_token_request() {
    let (identity, user) = identity_with_role();
    let pool = entra_options(auth(&identity))
        .connect_pool(
            PgPoolOptions::new()
                .min_connections(CONNECTIONS)
                .max_connections(CONNECTIONS),
        )
        .await
        .unwrap();
    assert_eq!(pool.size(), CONNECTIONS);
    assert_eq!(
        PgServer::shared().password_checks_for(&user),
        u64::from(CONNECTIONS)
    );

    // Every task holds its connection until all 50 are out: 50 distinct sessions.
    let barrier = Arc::new(Barrier::new(CONNECTIONS as usize));
    let tasks: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let (pool, barrier) = (pool.clone(), Arc::clone(&barrier));
            tokio::spawn(async move {
                let mut connection = pool.acquire().await.unwrap();
                let row: (String, i32) =
                    sqlx::query_as("SELECT current_user::text, pg_backend_pid()")
                        .fetch_one(&mut *connection)
                        .await
                        .unwrap();
                barrier.wait().await;
                row
            })
        })
        .collect();
    let mut pids = Vec::new();
    for task in tasks {
        let (current, pid) = task.await.unwrap();
        assert_eq!(current, user);
        pids.push(pid);
    }
    pids.sort_unstable();
    pids.dedup();
    assert_eq!(
        pids.len(),
        CONNECTIONS as usize,
        "50 distinct server sessions"
    );
    assert_eq!(identity.requests(Resource::Database), 1);
    assert_eq!(pool.status().refreshes, 1);
    assert!(pool.status().running);
}

#[tokio::test]
async fn a_lazy_pool_opens_nothing_until_used() {
    let (identity, user) = identity_with_role();
    let pool = entra_options(auth(&identity))
        .connect_pool_lazy(PgPoolOptions::new().max_connections(2))
        .await
        .unwrap();
    let server = PgServer::shared();
    assert_eq!(pool.size(), 0);
    assert_eq!(server.password_checks_for(&user), 0);
    assert_eq!(
        identity.requests(Resource::Database),
        1,
        "the token is ready"
    );

    // A plain `&PgPool` works as the executor: the options already hold the token.
    let current: String = sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(pool.pool())
        .await
        .unwrap();
    assert_eq!(current, user);
    assert_eq!(server.password_checks_for(&user), 1);
}
