//! Token rotation under churn: pools keep connecting across several token
//! lifetimes with no failure, and the server really rejects expired tokens.

use std::{sync::Arc, time::Duration};

use entra_pg_core::EntraAuth;
use entra_pg_testkit::rotation::{MAX_LIFETIME, PAUSE, REFRESH_AHEAD, Rotation};
use entra_pg_tokio::{Bb8Manager, DeadpoolManager, DeadpoolPool, bb8, deadpool::managed::Object};

use crate::support::connector;

const WORKERS: usize = 8;

fn auth(rotation: &Rotation) -> EntraAuth {
    EntraAuth::builder(rotation.identity.managed_identity_credential())
        .refresh_ahead(REFRESH_AHEAD)
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pools_rotate_tokens_over_three_lifetimes_without_a_failed_connect() {
    let bb8_run = Arc::new(Rotation::new("rot_bb8"));
    let dp_run = Arc::new(Rotation::new("rot_deadpool"));

    let bb8_pool = bb8::Pool::builder()
        .max_size(WORKERS as u32)
        .max_lifetime(MAX_LIFETIME)
        .reaper_rate(Duration::from_millis(500))
        .retry_connection(false)
        .build(Bb8Manager::new(connector(auth(&bb8_run))))
        .await
        .unwrap();
    let dp_pool = DeadpoolPool::builder(DeadpoolManager::new(connector(auth(&dp_run))))
        .max_size(WORKERS)
        .build()
        .unwrap();

    let mut tasks = Vec::new();
    for _ in 0..WORKERS {
        let (pool, run) = (bb8_pool.clone(), Arc::clone(&bb8_run));
        tasks.push(tokio::spawn(async move {
            while run.running() {
                let outcome = match pool.get().await {
                    Ok(client) => client
                        .query_one("SELECT current_user::text", &[])
                        .await
                        .is_ok_and(|row| row.get::<_, String>(0) == run.user),
                    Err(_) => false,
                };
                run.record(outcome);
                tokio::time::sleep(PAUSE).await;
            }
        }));
        let (pool, run) = (dp_pool.clone(), Arc::clone(&dp_run));
        tasks.push(tokio::spawn(async move {
            while run.running() {
                let outcome = match pool.get().await {
                    Ok(client) => {
                        let ok = client
                            .query_one("SELECT current_user::text", &[])
                            .await
                            .is_ok_and(|row| row.get::<_, String>(0) == run.user);
                        // deadpool has no max lifetime: retire old connections.
                        if Object::metrics(&client).age() > MAX_LIFETIME {
                            drop(Object::take(client));
                        }
                        ok
                    }
                    Err(_) => false,
                };
                run.record(outcome);
                tokio::time::sleep(PAUSE).await;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    bb8_run.check("bb8", WORKERS);
    dp_run.check("deadpool", WORKERS);
}
