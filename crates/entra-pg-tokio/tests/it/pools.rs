//! bb8 and deadpool: 50 connections at once share one token request; broken
//! connections are replaced.

use std::sync::Arc;

use entra_pg_testkit::{PgServer, Resource};
use entra_pg_tokio::{Bb8Manager, DeadpoolManager, DeadpoolPool, bb8};
use tokio::sync::Barrier;

use crate::support::{auth, connector, current_user, identity_with_role};

const CONNECTIONS: usize = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bb8_opens_fifty_connections_with_one_token_request() {
    let (identity, user) = identity_with_role();
    let pool = bb8::Pool::builder()
        .max_size(CONNECTIONS as u32)
        .build(Bb8Manager::new(connector(auth(&identity))))
        .await
        .unwrap();
    // Every task holds its connection until all 50 are out: 50 distinct sessions.
    let barrier = Arc::new(Barrier::new(CONNECTIONS));
    let tasks: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let (pool, barrier) = (pool.clone(), Arc::clone(&barrier));
            tokio::spawn(async move {
                let client = pool.get().await.unwrap();
                let row = client
                    .query_one("SELECT current_user::text, pg_backend_pid()", &[])
                    .await
                    .unwrap();
                barrier.wait().await;
                (row.get::<_, String>(0), row.get::<_, i32>(1))
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
    assert_eq!(pids.len(), CONNECTIONS, "50 distinct server sessions");
    assert_eq!(pool.state().connections, CONNECTIONS as u32);
    assert_eq!(identity.requests(Resource::Database), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadpool_opens_fifty_connections_with_one_token_request() {
    let (identity, user) = identity_with_role();
    let pool = DeadpoolPool::builder(DeadpoolManager::new(connector(auth(&identity))))
        .max_size(CONNECTIONS)
        .build()
        .unwrap();
    let barrier = Arc::new(Barrier::new(CONNECTIONS));
    let tasks: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let (pool, barrier) = (pool.clone(), Arc::clone(&barrier));
            tokio::spawn(async move {
                let client = pool.get().await.unwrap();
                let statement = client
                    .prepare_cached("SELECT current_user::text, pg_backend_pid()")
                    .await
                    .unwrap();
                let row = client.query_one(&statement, &[]).await.unwrap();
                barrier.wait().await;
                (row.get::<_, String>(0), row.get::<_, i32>(1))
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
    assert_eq!(pids.len(), CONNECTIONS);
    assert_eq!(pool.status().size, CONNECTIONS);
    assert_eq!(identity.requests(Resource::Database), 1);
}

/// Ends the server session `pid` as the superuser, waiting until it is gone.
fn terminate(pid: i32) {
    PgServer::shared().execute(&format!("SELECT pg_terminate_backend({pid}, 10000)"));
}

async fn backend_pid(client: &entra_pg_tokio::tokio_postgres::Client) -> i32 {
    client
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn bb8_replaces_a_connection_the_server_closed() {
    let (identity, user) = identity_with_role();
    let pool = bb8::Pool::builder()
        .max_size(1)
        .build(Bb8Manager::new(connector(auth(&identity))))
        .await
        .unwrap();
    let first = {
        let client = pool.get().await.unwrap();
        backend_pid(&client).await
    };
    terminate(first);
    let client = pool.get().await.unwrap();
    assert_eq!(current_user(&client).await, user);
    assert_ne!(backend_pid(&client).await, first, "a new session");
}

#[tokio::test]
async fn deadpool_replaces_a_connection_the_server_closed() {
    let (identity, user) = identity_with_role();
    let pool = DeadpoolPool::builder(DeadpoolManager::new(connector(auth(&identity))))
        .max_size(1)
        .build()
        .unwrap();
    let first = {
        let client = pool.get().await.unwrap();
        backend_pid(&client).await
    };
    terminate(first);
    let client = pool.get().await.unwrap();
    assert_eq!(current_user(&client).await, user);
    assert_ne!(backend_pid(&client).await, first, "a new session");
}
