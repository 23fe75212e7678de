//! A cold burst: many first connects at once through each async pool on an empty
//! token cache. All of them should share one token request.

use std::{
    fmt::Write as _,
    future::Future,
    sync::Arc,
    time::{Duration, Instant},
};

use entra_pg_core::EntraAuth;
use entra_pg_testkit::Resource;
use entra_pg_tokio::{Bb8Pool, ClientManager, DeadpoolPool};
use tokio::sync::Barrier;

use super::{Lab, ms, multi_thread_runtime};

struct Outcome {
    name: &'static str,
    sessions: usize,
    token_requests: u64,
    ready_after: Duration,
}

pub(super) fn section(lab: &Lab) -> Result<String, String> {
    let runtime = multi_thread_runtime()?;
    let burst = lab.plan.burst;
    let mut outcomes = Vec::new();
    for name in [
        "bb8",
        "deadpool",
        "sqlx",
        "diesel-async bb8",
        "diesel-async deadpool",
    ] {
        let (identity, _) = lab.identity("bench_burst", Duration::from_secs(3600));
        let auth = lab.auth(identity.managed_identity_credential())?;
        let started = Instant::now();
        let sessions = runtime.block_on(run_pool(lab, name, auth, burst))?;
        outcomes.push(Outcome {
            name,
            sessions,
            token_requests: identity.requests(Resource::Database),
            ready_after: started.elapsed(),
        });
        println!("   {name}: done");
    }
    let mut out = String::from(
        "| pool | first connects at once | distinct server sessions | token requests | time to all ready |\n\
         |---|---|---|---|---|\n",
    );
    for outcome in &outcomes {
        let _ = writeln!(
            out,
            "| {} | {burst} | {} | {} | {} |",
            outcome.name,
            outcome.sessions,
            outcome.token_requests,
            ms(outcome.ready_after)
        );
    }
    let _ = writeln!(
        out,
        "\nEach pool starts on a cold cache (a new `EntraAuth`), {burst} tasks ask it for \
         a connection at once and each holds it until all have one. Target: 1 token \
         request per pool. The time includes the token request and {burst} TLS logins \
         on 2 cores."
    );
    Ok(out)
}

/// Runs the burst through the named pool; returns the distinct server sessions.
async fn run_pool(lab: &Lab, name: &str, auth: EntraAuth, burst: usize) -> Result<usize, String> {
    let barrier = Arc::new(Barrier::new(burst));
    let size = u32::try_from(burst).map_err(|err| err.to_string())?;
    match name {
        "bb8" => {
            let pool: Bb8Pool = bb8::Pool::builder()
                .max_size(size)
                .connection_timeout(Duration::from_secs(120))
                .build_unchecked(ClientManager::new(lab.connector(auth)?));
            all_at_once(burst, &barrier, move || {
                let pool = pool.clone();
                async move {
                    let client = pool.get_owned().await.map_err(|err| err.to_string())?;
                    let pid: i32 = client
                        .query_one("SELECT pg_backend_pid()", &[])
                        .await
                        .map_err(|err| err.to_string())?
                        .get(0);
                    Ok((pid, Box::new(client) as Box<dyn Send>))
                }
            })
            .await
        }
        "deadpool" => {
            let pool = DeadpoolPool::builder(ClientManager::new(lab.connector(auth)?))
                .max_size(burst)
                .build()
                .map_err(|err| err.to_string())?;
            all_at_once(burst, &barrier, move || {
                let pool = pool.clone();
                async move {
                    let client = pool.get().await.map_err(|err| err.to_string())?;
                    let pid: i32 = client
                        .query_one("SELECT pg_backend_pid()", &[])
                        .await
                        .map_err(|err| err.to_string())?
                        .get(0);
                    Ok((pid, Box::new(client) as Box<dyn Send>))
                }
            })
            .await
        }
        "sqlx" => {
            use entra_pg_sqlx::sqlx::{self, postgres::PgPoolOptions};
            let pool = lab
                .sqlx_options(auth)?
                .connect_pool_lazy(
                    PgPoolOptions::new()
                        .max_connections(size)
                        .acquire_timeout(Duration::from_secs(120)),
                )
                .await
                .map_err(|err| err.to_string())?;
            all_at_once(burst, &barrier, move || {
                let pool = pool.clone();
                async move {
                    let mut connection = pool.acquire().await.map_err(|err| err.to_string())?;
                    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
                        .fetch_one(&mut *connection)
                        .await
                        .map_err(|err| err.to_string())?;
                    Ok((pid, Box::new(connection) as Box<dyn Send>))
                }
            })
            .await
        }
        other => crate::diesel::burst(lab, other, auth, burst, &barrier).await,
    }
}

/// Starts `burst` tasks of `connect` at once; each holds its connection until all
/// have one. Returns the number of distinct server sessions.
pub(crate) async fn all_at_once<F, Fut>(
    burst: usize,
    barrier: &Arc<Barrier>,
    connect: F,
) -> Result<usize, String>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<(i32, Box<dyn Send>), String>> + Send + 'static,
{
    let tasks: Vec<_> = (0..burst)
        .map(|_| {
            let (barrier, connecting) = (Arc::clone(barrier), connect());
            tokio::spawn(async move {
                let result = connecting.await;
                // Everyone waits, also after a failure, so no task waits forever.
                barrier.wait().await;
                result.map(|(pid, held)| {
                    drop(held);
                    pid
                })
            })
        })
        .collect();
    let mut pids = Vec::with_capacity(burst);
    for task in tasks {
        pids.push(task.await.map_err(|err| err.to_string())??);
    }
    pids.sort_unstable();
    pids.dedup();
    Ok(pids.len())
}
