//! Each pool (r2d2, diesel-async bb8, diesel-async deadpool) opens 30 connections
//! at once, each writes and reads a real table through diesel, and all of them
//! together cost exactly one token request.

use std::sync::{Arc, Barrier};

use diesel::r2d2::Pool;
use entra_pg_diesel::{AsyncBb8Pool, AsyncDeadpoolPool, R2d2Manager, async_manager};
use entra_pg_testkit::{PgServer, Resource, unique_name};

use crate::support::{
    async_connector, auth, current_user, identity_with_role, insert_row, insert_row_async,
    pg_connector, rows_of, rows_of_async,
};

const CONNECTIONS: usize = 30;

/// Checks what the 30 sessions reported: all logged in as `user`, 30 distinct
/// sessions, and the table holds exactly their 30 rows.
fn check(user: &str, mut seen: Vec<(String, i32)>, mut stored: Vec<i32>) {
    assert!(seen.iter().all(|(current, _)| current == user), "{seen:?}");
    seen.sort_unstable_by_key(|(_, pid)| *pid);
    seen.dedup_by_key(|(_, pid)| *pid);
    assert_eq!(seen.len(), CONNECTIONS, "30 distinct server sessions");
    stored.dedup();
    let pids: Vec<i32> = seen.iter().map(|(_, pid)| *pid).collect();
    assert_eq!(stored, pids, "the rows written are read back");
}

#[test]
fn r2d2_thirty_threads_thirty_connections_one_token_request() {
    let (identity, user) = identity_with_role();
    let owner = unique_name("r2d2_rows");
    let pool = Pool::builder()
        .max_size(CONNECTIONS as u32)
        .min_idle(Some(0))
        .build(R2d2Manager::new(pg_connector(auth(&identity))))
        .unwrap();
    let barrier = Arc::new(Barrier::new(CONNECTIONS));
    let threads: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let (pool, barrier, owner) = (pool.clone(), Arc::clone(&barrier), owner.clone());
            std::thread::spawn(move || {
                let mut conn = pool.get().unwrap();
                let seen = insert_row(&mut conn, &owner);
                // Hold the connection until all 30 are out: 30 distinct sessions.
                barrier.wait();
                seen
            })
        })
        .collect();
    let seen = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let mut conn = pool.get().unwrap();
    check(&user, seen, rows_of(&mut conn, &owner));
    assert_eq!(pool.state().connections, CONNECTIONS as u32);
    assert_eq!(identity.requests(Resource::Database), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_bb8_thirty_connections_one_token_request() {
    let (identity, user) = identity_with_role();
    let owner = unique_name("bb8_rows");
    let pool = AsyncBb8Pool::builder()
        .max_size(CONNECTIONS as u32)
        .build(async_manager(async_connector(auth(&identity))))
        .await
        .unwrap();
    let barrier = Arc::new(tokio::sync::Barrier::new(CONNECTIONS));
    let tasks: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let (pool, barrier, owner) = (pool.clone(), Arc::clone(&barrier), owner.clone());
            tokio::spawn(async move {
                let mut conn = pool.get().await.unwrap();
                let seen = insert_row_async(&mut conn, &owner).await;
                barrier.wait().await;
                seen
            })
        })
        .collect();
    let mut seen = Vec::new();
    for task in tasks {
        seen.push(task.await.unwrap());
    }
    let stored = rows_of_async(&mut pool.get().await.unwrap(), &owner).await;
    check(&user, seen, stored);
    assert_eq!(pool.state().connections, CONNECTIONS as u32);
    assert_eq!(identity.requests(Resource::Database), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_deadpool_thirty_connections_one_token_request() {
    let (identity, user) = identity_with_role();
    let owner = unique_name("deadpool_rows");
    let pool = AsyncDeadpoolPool::builder(async_manager(async_connector(auth(&identity))))
        .max_size(CONNECTIONS)
        .build()
        .unwrap();
    let barrier = Arc::new(tokio::sync::Barrier::new(CONNECTIONS));
    let tasks: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let (pool, barrier, owner) = (pool.clone(), Arc::clone(&barrier), owner.clone());
            tokio::spawn(async move {
                let mut conn = pool.get().await.unwrap();
                let seen = insert_row_async(&mut conn, &owner).await;
                barrier.wait().await;
                seen
            })
        })
        .collect();
    let mut seen = Vec::new();
    for task in tasks {
        seen.push(task.await.unwrap());
    }
    let stored = rows_of_async(&mut pool.get().await.unwrap(), &owner).await;
    check(&user, seen, stored);
    assert_eq!(pool.status().size, CONNECTIONS);
    assert_eq!(identity.requests(Resource::Database), 1);
}

#[test]
fn r2d2_replaces_a_connection_the_server_closed() {
    let (identity, user) = identity_with_role();
    let pool = Pool::builder()
        .max_size(1)
        .build(R2d2Manager::new(pg_connector(auth(&identity))))
        .unwrap();
    let first = insert_row(&mut pool.get().unwrap(), &unique_name("closed")).1;
    PgServer::shared().execute(&format!("SELECT pg_terminate_backend({first}, 10000)"));
    let mut conn = pool.get().unwrap();
    assert_eq!(current_user(&mut conn), user);
    let second = insert_row(&mut conn, &unique_name("closed")).1;
    assert_ne!(second, first, "a new session");
}
