//! Token rotation under churn: a pool keeps connecting across several token
//! lifetimes with no failure, and the server really rejects expired tokens.

use std::sync::Arc;

use entra_pg_core::EntraAuth;
use entra_pg_sqlx::sqlx::{self, postgres::PgPoolOptions};
use entra_pg_testkit::rotation::{MAX_LIFETIME, PAUSE, REFRESH_AHEAD, Rotation};

use crate::support::entra_options;

const WORKERS: u32 = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pool_rotates_tokens_over_three_lifetimes_without_a_failed_acquire() {
    let run = Arc::new(Rotation::new("rot_sqlx"));
    let auth = EntraAuth::builder(run.identity.managed_identity_credential())
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

    let mut tasks = Vec::new();
    for _ in 0..WORKERS {
        // The plain sqlx pool: only the refresher keeps its options fresh.
        let (pool, run) = (pool.pool().clone(), Arc::clone(&run));
        tasks.push(tokio::spawn(async move {
            while run.running() {
                let outcome = sqlx::query_scalar::<_, String>("SELECT current_user::text")
                    .fetch_one(&pool)
                    .await
                    .is_ok_and(|current| current == run.user);
                run.record(outcome);
                tokio::time::sleep(PAUSE).await;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    run.check("sqlx", WORKERS as usize);
    let status = pool.status();
    assert!(status.refreshes >= 4, "{status:?}");
    assert_eq!(status.consecutive_failures, 0);
}
