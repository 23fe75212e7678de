//! r2d2: 30 connections from 30 threads at once share one token request; broken
//! connections are replaced.

use std::sync::{Arc, Barrier};

use entra_pg_sync::{R2d2Manager, r2d2};
use entra_pg_testkit::{PgServer, Resource};

use crate::support::{auth, connector, current_user, identity_with_role};

const CONNECTIONS: usize = 30;

#[test]
fn thirty_threads_open_thirty_connections_with_one_token_request() {
    let (identity, user) = identity_with_role();
    let pool = r2d2::Pool::builder()
        .max_size(CONNECTIONS as u32)
        .min_idle(Some(0))
        .build(R2d2Manager::new(connector(auth(&identity))))
        .unwrap();
    let barrier = Arc::new(Barrier::new(CONNECTIONS));
    let threads: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let (pool, barrier) = (pool.clone(), Arc::clone(&barrier));
            std::thread::spawn(move || {
                let mut client = pool.get().unwrap();
                let row = client
                    .query_one("SELECT current_user::text, pg_backend_pid()", &[])
                    .unwrap();
                barrier.wait();
                (row.get::<_, String>(0), row.get::<_, i32>(1))
            })
        })
        .collect();
    let mut pids = Vec::new();
    for thread in threads {
        let (current, pid) = thread.join().unwrap();
        assert_eq!(current, user);
        pids.push(pid);
    }
    pids.sort_unstable();
    pids.dedup();
    assert_eq!(pids.len(), CONNECTIONS, "30 distinct server sessions");
    assert_eq!(identity.requests(Resource::Database), 1);
}

#[test]
fn a_connection_the_server_closed_is_replaced() {
    let (identity, user) = identity_with_role();
    let pool = r2d2::Pool::builder()
        .max_size(1)
        .build(R2d2Manager::new(connector(auth(&identity))))
        .unwrap();
    let first: i32 = pool
        .get()
        .unwrap()
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    PgServer::shared().execute(&format!("SELECT pg_terminate_backend({first}, 10000)"));
    let mut client = pool.get().unwrap();
    assert_eq!(current_user(&mut client), user);
    let second: i32 = client
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    assert_ne!(second, first);
}
