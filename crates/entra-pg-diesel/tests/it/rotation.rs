//! Token rotation under churn: the r2d2, bb8 and deadpool pools run side by side
//! over three token lifetimes, each with its own identity, with no failed use; the
//! server really rejects the expired first tokens.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use diesel::{RunQueryDsl as _, r2d2::Pool};
use diesel_async::{AsyncPgConnection, pooled_connection::deadpool::Object};
use entra_pg_core::EntraAuth;
use entra_pg_diesel::{AsyncBb8Pool, AsyncDeadpoolPool, R2d2Manager, async_manager};
use entra_pg_testkit::{Identity, PgServer, Resource, unique_name};

use crate::support::{async_connector, builder, insert_row, insert_row_async, pg_connector};

/// Token lifetime: short enough to rotate several times within a test.
const LIFETIME: Duration = Duration::from_secs(20);
/// Refresh this long before expiry: about one request per lifetime.
const REFRESH_AHEAD: Duration = Duration::from_secs(4);
/// Async connections live shorter than tokens, so new ones keep logging in.
const MAX_LIFETIME: Duration = Duration::from_secs(2);
/// Three token lifetimes and a little more.
const RUN: Duration = Duration::from_secs(64);
const WORKERS: usize = 5;
/// Every this many uses an r2d2 thread ends its own session, so the pool reconnects.
const CHURN_EVERY: u64 = 8;
/// Pause between uses (pacing the load on two cores, not synchronisation).
const PAUSE: Duration = Duration::from_millis(50);

#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    failed: AtomicU64,
}

impl Tally {
    fn count(&self, ok: bool) {
        let counter = if ok { &self.ok } else { &self.failed };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

fn rotating_identity(prefix: &str) -> (Identity, String, EntraAuth) {
    let user = format!("{}@contoso.com", unique_name(prefix));
    let identity = builder()
        .upn(&user)
        .lifetime(LIFETIME)
        .login_on(PgServer::shared(), &user)
        .build();
    let auth = EntraAuth::builder(identity.managed_identity_credential())
        .refresh_ahead(REFRESH_AHEAD)
        .build()
        .unwrap();
    (identity, user, auth)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_pools_rotate_tokens_over_three_lifetimes_without_a_failed_use() {
    let (r2d2_identity, r2d2_user, r2d2_auth) = rotating_identity("rot_diesel_r2d2");
    let (bb8_identity, bb8_user, bb8_auth) = rotating_identity("rot_diesel_bb8");
    let (dp_identity, dp_user, dp_auth) = rotating_identity("rot_diesel_deadpool");
    let owner = unique_name("rotation_rows");
    let deadline = Instant::now() + RUN;

    let r2d2_pool = Pool::builder()
        .max_size(WORKERS as u32)
        .min_idle(Some(0))
        .build(R2d2Manager::new(pg_connector(r2d2_auth)))
        .unwrap();
    let bb8_pool = AsyncBb8Pool::builder()
        .max_size(WORKERS as u32)
        .max_lifetime(MAX_LIFETIME)
        .reaper_rate(Duration::from_millis(500))
        .retry_connection(false)
        .build(async_manager(async_connector(bb8_auth)))
        .await
        .unwrap();
    let dp_pool = AsyncDeadpoolPool::builder(async_manager(async_connector(dp_auth)))
        .max_size(WORKERS)
        .build()
        .unwrap();
    let tallies: [Arc<Tally>; 3] = Default::default();

    let threads: Vec<_> = (0..WORKERS)
        .map(|_| {
            let (pool, tally, user, owner) = (
                r2d2_pool.clone(),
                Arc::clone(&tallies[0]),
                r2d2_user.clone(),
                owner.clone(),
            );
            std::thread::spawn(move || {
                let mut uses = 0;
                while Instant::now() < deadline {
                    uses += 1;
                    let ok = pool.get().is_ok_and(|mut conn| {
                        let ok = insert_row(&mut conn, &owner).0 == user;
                        if uses % CHURN_EVERY == 0 {
                            // Ends this session; the pool's check-out test drops it.
                            let _ =
                                diesel::sql_query("SELECT pg_terminate_backend(pg_backend_pid())")
                                    .execute(&mut conn);
                        }
                        ok
                    });
                    tally.count(ok);
                    std::thread::sleep(PAUSE);
                }
            })
        })
        .collect();

    let mut tasks = Vec::new();
    for _ in 0..WORKERS {
        let (pool, tally, user, rows) = (
            bb8_pool.clone(),
            Arc::clone(&tallies[1]),
            bb8_user.clone(),
            owner.clone(),
        );
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let ok = match pool.get().await {
                    Ok(mut conn) => insert_row_async(&mut conn, &rows).await.0 == user,
                    Err(_) => false,
                };
                tally.count(ok);
                tokio::time::sleep(PAUSE).await;
            }
        }));
        let (pool, tally, user, rows) = (
            dp_pool.clone(),
            Arc::clone(&tallies[2]),
            dp_user.clone(),
            owner.clone(),
        );
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let ok = match pool.get().await {
                    Ok(mut conn) => {
                        let ok = insert_row_async(&mut conn, &rows).await.0 == user;
                        // deadpool has no max lifetime: retire old connections.
                        if Object::<AsyncPgConnection>::metrics(&conn).age() > MAX_LIFETIME {
                            drop(Object::<AsyncPgConnection>::take(conn));
                        }
                        ok
                    }
                    Err(_) => false,
                };
                tally.count(ok);
                tokio::time::sleep(PAUSE).await;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let threads = tokio::task::spawn_blocking(move || {
        for thread in threads {
            thread.join().unwrap();
        }
    });
    threads.await.unwrap();

    let server = PgServer::shared();
    for (name, identity, user, tally) in [
        ("r2d2", &r2d2_identity, &r2d2_user, &tallies[0]),
        ("bb8", &bb8_identity, &bb8_user, &tallies[1]),
        ("deadpool", &dp_identity, &dp_user, &tallies[2]),
    ] {
        let ok = tally.ok.load(Ordering::Relaxed);
        let failed = tally.failed.load(Ordering::Relaxed);
        assert_eq!(failed, 0, "{name}: failed uses ({ok} ok)");
        assert!(ok > 200, "{name}: the pool was used ({ok} times)");
        // Churn: new physical connections kept logging in across the run.
        let logins = server.password_checks_for(user);
        assert!(logins >= 3 * WORKERS as u64, "{name}: {logins} logins");
        // About one token per lifetime: 64 s / (20 s - 4 s) → 4 or 5.
        let requests = identity.requests(Resource::Database);
        assert!(
            (4..=6).contains(&requests),
            "{name}: {requests} token requests"
        );
        // The test is real: the first token has expired and the server says so.
        let first = identity.issued_tokens().remove(0);
        let err = server.login(user, &first).await.unwrap_err();
        assert!(err.is_auth_failure(), "{name}: {err}");
        eprintln!(
            "rotation {name}: {ok} uses, 0 failed, {logins} logins, {requests} token requests"
        );
    }
}
