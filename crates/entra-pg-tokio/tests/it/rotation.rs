//! Token rotation under churn: pools keep connecting across several token
//! lifetimes with no failure, and the server really rejects expired tokens.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use entra_pg_core::EntraAuth;
use entra_pg_testkit::{Identity, PgServer, Resource, unique_name};
use entra_pg_tokio::{Bb8Manager, DeadpoolManager, DeadpoolPool, bb8, deadpool::managed::Object};

use crate::support::{builder, connector};

/// Token lifetime: short enough to rotate several times within a test.
const LIFETIME: Duration = Duration::from_secs(20);
/// Refresh this long before expiry: about one request per lifetime.
const REFRESH_AHEAD: Duration = Duration::from_secs(4);
/// Connections live shorter than tokens, so new ones keep logging in.
const MAX_LIFETIME: Duration = Duration::from_secs(2);
/// Three token lifetimes and a little more.
const RUN: Duration = Duration::from_secs(64);
const WORKERS: usize = 8;

#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    failed: AtomicU64,
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
async fn pools_rotate_tokens_over_three_lifetimes_without_a_failed_connect() {
    let (bb8_identity, bb8_user, bb8_auth) = rotating_identity("rot_bb8");
    let (dp_identity, dp_user, dp_auth) = rotating_identity("rot_deadpool");

    let bb8_pool = bb8::Pool::builder()
        .max_size(WORKERS as u32)
        .max_lifetime(MAX_LIFETIME)
        .reaper_rate(Duration::from_millis(500))
        .retry_connection(false)
        .build(Bb8Manager::new(connector(bb8_auth)))
        .await
        .unwrap();
    let dp_pool = DeadpoolPool::builder(DeadpoolManager::new(connector(dp_auth)))
        .max_size(WORKERS)
        .build()
        .unwrap();

    let bb8_tally = Arc::new(Tally::default());
    let dp_tally = Arc::new(Tally::default());
    let deadline = Instant::now() + RUN;
    let mut tasks = Vec::new();
    for _ in 0..WORKERS {
        let (pool, tally, user) = (bb8_pool.clone(), Arc::clone(&bb8_tally), bb8_user.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let outcome = match pool.get().await {
                    Ok(client) => client
                        .query_one("SELECT current_user::text", &[])
                        .await
                        .map(|row| row.get::<_, String>(0) == user)
                        .unwrap_or(false),
                    Err(_) => false,
                };
                count(&tally, outcome);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }));
        let (pool, tally, user) = (dp_pool.clone(), Arc::clone(&dp_tally), dp_user.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let outcome = match pool.get().await {
                    Ok(client) => {
                        let ok = client
                            .query_one("SELECT current_user::text", &[])
                            .await
                            .map(|row| row.get::<_, String>(0) == user)
                            .unwrap_or(false);
                        // deadpool has no max lifetime: retire old connections.
                        if Object::metrics(&client).age() > MAX_LIFETIME {
                            drop(Object::take(client));
                        }
                        ok
                    }
                    Err(_) => false,
                };
                count(&tally, outcome);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }

    let server = PgServer::shared();
    for (name, identity, user, tally) in [
        ("bb8", &bb8_identity, &bb8_user, &bb8_tally),
        ("deadpool", &dp_identity, &dp_user, &dp_tally),
    ] {
        let ok = tally.ok.load(Ordering::Relaxed);
        assert_eq!(
            tally.failed.load(Ordering::Relaxed),
            0,
            "{name}: failed uses"
        );
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
    }
}

fn count(tally: &Tally, ok: bool) {
    let counter = if ok { &tally.ok } else { &tally.failed };
    counter.fetch_add(1, Ordering::Relaxed);
}
