//! Token rotation under churn: a pool keeps connecting across several token
//! lifetimes with no failure, and the server really rejects expired tokens.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use entra_pg_core::EntraAuth;
use entra_pg_sqlx::sqlx::{self, postgres::PgPoolOptions};
use entra_pg_testkit::{PgServer, Resource, unique_name};

use crate::support::{builder_for, entra_options};

/// Token lifetime: short enough to rotate several times within a test.
const LIFETIME: Duration = Duration::from_secs(20);
/// Refresh this long before expiry: about one request per lifetime.
const REFRESH_AHEAD: Duration = Duration::from_secs(4);
/// Connections live shorter than tokens, so new ones keep logging in.
const MAX_LIFETIME: Duration = Duration::from_secs(2);
/// Three token lifetimes and a little more.
const RUN: Duration = Duration::from_secs(64);
const WORKERS: u32 = 8;

#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    failed: AtomicU64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pool_rotates_tokens_over_three_lifetimes_without_a_failed_acquire() {
    let user = format!("{}@contoso.com", unique_name("rot_sqlx"));
    let server = PgServer::shared();
    let identity = builder_for(&user)
        .lifetime(LIFETIME)
        .login_on(server, &user)
        .build();
    let auth = EntraAuth::builder(identity.managed_identity_credential())
        .refresh_ahead(REFRESH_AHEAD)
        .build()
        .unwrap();
    let pool = entra_options(auth)
        .connect_pool(
            PgPoolOptions::new()
                .max_connections(WORKERS)
                .max_lifetime(MAX_LIFETIME),
        )
        .await
        .unwrap();

    let tally = Arc::new(Tally::default());
    let deadline = Instant::now() + RUN;
    let mut tasks = Vec::new();
    for _ in 0..WORKERS {
        // The plain sqlx pool: only the refresher keeps its options fresh.
        let (pool, tally, user) = (pool.pool().clone(), Arc::clone(&tally), user.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let outcome = sqlx::query_scalar::<_, String>("SELECT current_user::text")
                    .fetch_one(&pool)
                    .await
                    .is_ok_and(|current| current == user);
                let counter = if outcome { &tally.ok } else { &tally.failed };
                counter.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }

    let ok = tally.ok.load(Ordering::Relaxed);
    assert_eq!(
        tally.failed.load(Ordering::Relaxed),
        0,
        "failed acquires or queries"
    );
    assert!(ok > 200, "the pool was used ({ok} times)");
    // Churn: new physical connections kept logging in across the run.
    let logins = server.password_checks_for(&user);
    assert!(logins >= 3 * u64::from(WORKERS), "{logins} logins");
    // About one token per lifetime: 64 s / (20 s - 4 s) → 4 or 5.
    let requests = identity.requests(Resource::Database);
    assert!((4..=6).contains(&requests), "{requests} token requests");
    let status = pool.status();
    assert!(status.refreshes >= 4, "{status:?}");
    assert_eq!(status.consecutive_failures, 0);

    // The test is real: the first token has expired and the server says so.
    let first = identity.issued_tokens().remove(0);
    let err = server.login(&user, &first).await.unwrap_err();
    assert!(err.is_auth_failure(), "{err}");
}
