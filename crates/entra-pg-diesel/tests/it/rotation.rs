//! Token rotation under churn: the r2d2, bb8 and deadpool pools run side by side
//! over three token lifetimes, each with its own identity, with no failed use; the
//! server really rejects the expired first tokens.

use std::{sync::Arc, time::Duration};

use diesel::{RunQueryDsl as _, r2d2::Pool};
use diesel_async::{AsyncPgConnection, pooled_connection::deadpool::Object};
use entra_pg_core::EntraAuth;
use entra_pg_diesel::{AsyncBb8Pool, AsyncDeadpoolPool, R2d2Manager, async_manager};
use entra_pg_testkit::{
    rotation::{MAX_LIFETIME, PAUSE, REFRESH_AHEAD, Rotation},
    unique_name,
};

use crate::support::{async_connector, insert_row, insert_row_async, pg_connector};

const WORKERS: usize = 5;
/// Every this many uses an r2d2 thread ends its own session, so the pool reconnects.
const CHURN_EVERY: u64 = 8;

fn auth(run: &Rotation) -> EntraAuth {
    EntraAuth::builder(run.identity.managed_identity_credential())
        .refresh_ahead(REFRESH_AHEAD)
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_pools_rotate_tokens_over_three_lifetimes_without_a_failed_use() {
    let r2d2_run = Arc::new(Rotation::new("rot_diesel_r2d2"));
    let bb8_run = Arc::new(Rotation::new("rot_diesel_bb8"));
    let dp_run = Arc::new(Rotation::new("rot_diesel_deadpool"));
    let owner = unique_name("rotation_rows");

    let r2d2_pool = Pool::builder()
        .max_size(WORKERS as u32)
        .min_idle(Some(0))
        .build(R2d2Manager::new(pg_connector(auth(&r2d2_run))))
        .unwrap();
    let bb8_pool = AsyncBb8Pool::builder()
        .max_size(WORKERS as u32)
        .max_lifetime(MAX_LIFETIME)
        .reaper_rate(Duration::from_millis(500))
        .retry_connection(false)
        .build(async_manager(async_connector(auth(&bb8_run))))
        .await
        .unwrap();
    let dp_pool = AsyncDeadpoolPool::builder(async_manager(async_connector(auth(&dp_run))))
        .max_size(WORKERS)
        .build()
        .unwrap();

    let threads: Vec<_> = (0..WORKERS)
        .map(|_| {
            let (pool, run, owner) = (r2d2_pool.clone(), Arc::clone(&r2d2_run), owner.clone());
            std::thread::spawn(move || {
                let mut uses = 0;
                while run.running() {
                    uses += 1;
                    let ok = pool.get().is_ok_and(|mut conn| {
                        let ok = insert_row(&mut conn, &owner).0 == run.user;
                        if uses % CHURN_EVERY == 0 {
                            // Ends this session; the pool's check-out test drops it.
                            let _ =
                                diesel::sql_query("SELECT pg_terminate_backend(pg_backend_pid())")
                                    .execute(&mut conn);
                        }
                        ok
                    });
                    run.record(ok);
                    std::thread::sleep(PAUSE);
                }
            })
        })
        .collect();

    let mut tasks = Vec::new();
    for _ in 0..WORKERS {
        let (pool, run, rows) = (bb8_pool.clone(), Arc::clone(&bb8_run), owner.clone());
        tasks.push(tokio::spawn(async move {
            while run.running() {
                let ok = match pool.get().await {
                    Ok(mut conn) => insert_row_async(&mut conn, &rows).await.0 == run.user,
                    Err(_) => false,
                };
                run.record(ok);
                tokio::time::sleep(PAUSE).await;
            }
        }));
        let (pool, run, rows) = (dp_pool.clone(), Arc::clone(&dp_run), owner.clone());
        tasks.push(tokio::spawn(async move {
            while run.running() {
                let ok = match pool.get().await {
                    Ok(mut conn) => {
                        let ok = insert_row_async(&mut conn, &rows).await.0 == run.user;
                        // deadpool has no max lifetime: retire old connections.
                        if Object::<AsyncPgConnection>::metrics(&conn).age() > MAX_LIFETIME {
                            drop(Object::<AsyncPgConnection>::take(conn));
                        }
                        ok
                    }
                    Err(_) => false,
                };
                run.record(ok);
                tokio::time::sleep(PAUSE).await;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    tokio::task::spawn_blocking(move || {
        for thread in threads {
            thread.join().unwrap();
        }
    })
    .await
    .unwrap();

    r2d2_run.check("r2d2", WORKERS);
    bb8_run.check("bb8", WORKERS);
    dp_run.check("deadpool", WORKERS);
}
