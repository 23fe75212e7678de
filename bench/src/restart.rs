//! Server restart under load: a few tasks use each pool in a loop (acquire +
//! `SELECT 1`) while the server restarts (`pg_ctl restart -m fast`, which ends
//! every session). How long after the server accepts connections again does the
//! pool serve a use, and does it stay healthy afterwards?
//!
//! The pools recycle connections (a short max lifetime, or retiring old ones by
//! age for deadpool) and test them on checkout where the pool can; their
//! connection timeouts are short, so a use during the restart fails rather than
//! waits for long. One pool at a time, each with its own identity.

use std::{
    fmt::Write as _,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use entra_pg_core::EntraAuth;
use futures::future::BoxFuture;

use super::{Lab, error_chain, ms, multi_thread_runtime};

/// The pools, in report order.
const POOLS: [&str; 7] = [
    "bb8 (entra-pg-tokio)",
    "deadpool (entra-pg-tokio)",
    "r2d2 (entra-pg-sync)",
    "sqlx (`EntraPool::acquire`)",
    "diesel r2d2 (libpq)",
    "diesel-async bb8",
    "diesel-async deadpool",
];

const POOL_SIZE: u32 = 4;
/// Tasks using each pool; each pauses between uses.
const TASKS: usize = 4;
const PAUSE: Duration = Duration::from_millis(10);
/// Connections are replaced after this long.
const MAX_LIFETIME: Duration = Duration::from_secs(3);
/// How long a pool may take to hand out a connection: bounds a use during the
/// restart. bb8 and r2d2 retry a failed connect after a delay doubling from
/// 400 ms up to half of it; sqlx backs off up to a fifth of it.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(1);
/// Uses before the restart.
const WARM_UP: Duration = Duration::from_secs(1);
/// Longest wait for a first success after the restart.
const GIVE_UP: Duration = Duration::from_secs(30);
const TARGET: Duration = Duration::from_secs(1);

/// A pool under load.
trait Subject: Send + Sync {
    /// Acquire + `SELECT 1` + give back.
    fn use_once(&self) -> BoxFuture<'_, Result<(), String>>;
}

/// When each use ended and how.
#[derive(Default)]
struct Log(Mutex<Vec<(Instant, Result<(), String>)>>);

impl Log {
    fn record(&self, outcome: Result<(), String>) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((Instant::now(), outcome));
    }

    fn first_success_after(&self, from: Instant) -> Option<Instant> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(at, outcome)| *at >= from && outcome.is_ok())
            .map(|(at, _)| *at)
            .min()
    }

    /// Uses and failures that ended in `[from, to)`, and the last failure's message.
    fn between(&self, from: Instant, to: Instant) -> (usize, usize, Option<String>) {
        let log = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let mut uses = 0;
        let mut failures = 0;
        let mut last = None;
        for (_, outcome) in log.iter().filter(|(at, _)| *at >= from && *at < to) {
            uses += 1;
            if let Err(err) = outcome {
                failures += 1;
                last = Some(err.clone());
            }
        }
        (uses, failures, last)
    }
}

struct Row {
    name: &'static str,
    restart_took: Duration,
    failed_before: usize,
    failed_during: usize,
    recovery: Option<Duration>,
    uses_after: usize,
    failed_after: usize,
    last_failure_after: Option<String>,
}

pub(super) fn section(lab: &Lab) -> Result<String, String> {
    let runtime = multi_thread_runtime()?;
    // Pools are dropped on this thread: sqlx needs a runtime context for it, and
    // `postgres` clients must not be dropped on a runtime worker.
    let _entered = runtime.enter();
    let mut rows = Vec::new();
    for name in POOLS {
        let (identity, _) = lab.identity("bench_restart", Duration::from_secs(3600));
        let auth = lab.auth(identity.managed_identity_credential())?;
        let subject = runtime.block_on(open(lab, name, auth))?;
        rows.push(run(lab, &runtime, name, &subject)?);
        drop(subject);
        println!("   {name}: done");
    }

    let mut out = String::from(
        "| pool | failed uses before | restart took | failed uses during the restart | server back → first successful use | uses after | failed uses after |\n\
         |---|---|---|---|---|---|---|\n",
    );
    let mut notes = String::new();
    for row in &rows {
        let recovery = match row.recovery {
            Some(took) if took < TARGET => ms(took),
            Some(took) => format!("{} **(missed)**", ms(took)),
            None => "**did not recover**".to_owned(),
        };
        let failed_after = if row.failed_after == 0 {
            "0".to_owned()
        } else {
            format!("{} **(missed)**", row.failed_after)
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {recovery} | {} | {failed_after} |",
            row.name,
            row.failed_before,
            ms(row.restart_took),
            row.failed_during,
            row.uses_after,
        );
        if let Some(err) = &row.last_failure_after {
            let _ = writeln!(notes, "- {}, after recovery: {err}", row.name);
        }
    }
    let _ = writeln!(
        out,
        "\n{TASKS} tasks per pool (pool size {POOL_SIZE}) each use it (acquire + `SELECT 1`) \
         every {} ms; after {} s of warm-up the server restarts (`pg_ctl restart -m fast`: \
         every session ends). \"During the restart\" counts failed uses from the restart's \
         start until the first successful use after the server accepts connections again \
         (when `pg_ctl` returns); \"after\" counts the {} s that follow that first success. \
         Targets: first successful use under {} s after the server is back; 0 failed uses \
         after it. Pools: connections replaced after {} s (bb8, r2d2, sqlx: max lifetime; \
         deadpool: retired by age after use), tested on checkout (bb8, r2d2, sqlx; deadpool \
         always recycles with a query), connection timeout {} s (bb8 and r2d2 retry a failed \
         connect after a delay doubling from 400 ms up to half of it; sqlx backs off up to a \
         fifth of it; deadpool does not retry).",
        PAUSE.as_millis(),
        WARM_UP.as_secs(),
        lab.plan.after_restart.as_secs(),
        TARGET.as_secs(),
        MAX_LIFETIME.as_secs(),
        CONNECTION_TIMEOUT.as_secs(),
    );
    if !notes.is_empty() {
        let _ = write!(out, "\nLast failure after recovery:\n\n{notes}");
    }
    Ok(out)
}

/// Puts `subject` under load, restarts the server, and watches it recover.
fn run(
    lab: &Lab,
    runtime: &tokio::runtime::Runtime,
    name: &'static str,
    subject: &Arc<dyn Subject>,
) -> Result<Row, String> {
    let log = Arc::new(Log::default());
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..TASKS)
        .map(|_| {
            let (subject, log, stop) = (Arc::clone(subject), Arc::clone(&log), Arc::clone(&stop));
            runtime.spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    log.record(subject.use_once().await);
                    tokio::time::sleep(PAUSE).await;
                }
            })
        })
        .collect();
    let started = Instant::now();
    std::thread::sleep(WARM_UP);

    let restart = Instant::now();
    // Blocks this thread only; the tasks keep using the pool on the runtime.
    lab.server.restart();
    let back = Instant::now();
    let mut first_success = None;
    while first_success.is_none() && back.elapsed() < GIVE_UP {
        std::thread::sleep(Duration::from_millis(5));
        first_success = log.first_success_after(back);
    }
    if let Some(first) = first_success {
        let until = first + lab.plan.after_restart;
        std::thread::sleep(until.saturating_duration_since(Instant::now()));
    }
    stop.store(true, Ordering::Relaxed);
    // Every worker ends before an error is returned: none may outlive the runtime
    // holding the pool.
    let ended: Vec<_> = workers
        .into_iter()
        .map(|worker| runtime.block_on(worker))
        .collect();
    for result in ended {
        result.map_err(|err| format!("{name}: {err}"))?;
    }

    let (_, failed_before, _) = log.between(started, restart);
    let during_until = first_success.unwrap_or_else(Instant::now);
    let (_, failed_during, _) = log.between(restart, during_until);
    let (uses_after, failed_after, last_failure_after) = match first_success {
        Some(first) => log.between(first, first + lab.plan.after_restart),
        None => (0, 0, None),
    };
    Ok(Row {
        name,
        restart_took: back - restart,
        failed_before,
        failed_during,
        recovery: first_success.map(|first| first - back),
        uses_after,
        failed_after,
        last_failure_after,
    })
}

async fn open(lab: &Lab, name: &str, auth: EntraAuth) -> Result<Arc<dyn Subject>, String> {
    Ok(match name {
        "bb8 (entra-pg-tokio)" => {
            let pool: entra_pg_tokio::Bb8Pool = bb8::Pool::builder()
                .max_size(POOL_SIZE)
                .min_idle(POOL_SIZE)
                .max_lifetime(MAX_LIFETIME)
                .test_on_check_out(true)
                .connection_timeout(CONNECTION_TIMEOUT)
                .build(entra_pg_tokio::ClientManager::new(lab.connector(auth)?))
                .await
                .map_err(|err| error_chain(&err))?;
            Arc::new(TokioBb8(pool))
        }
        "deadpool (entra-pg-tokio)" => {
            let pool = entra_pg_tokio::DeadpoolPool::builder(entra_pg_tokio::ClientManager::new(
                lab.connector(auth)?,
            ))
            .max_size(POOL_SIZE as usize)
            .build()
            .map_err(|err| err.to_string())?;
            Arc::new(TokioDeadpool(pool))
        }
        "r2d2 (entra-pg-sync)" => {
            let pool = r2d2::Pool::builder()
                .max_size(POOL_SIZE)
                .min_idle(Some(POOL_SIZE))
                .max_lifetime(Some(MAX_LIFETIME))
                .test_on_check_out(true)
                .connection_timeout(CONNECTION_TIMEOUT)
                .build_unchecked(entra_pg_sync::ClientManager::new(lab.sync_connector(auth)?));
            Arc::new(SyncR2d2(pool))
        }
        "sqlx (`EntraPool::acquire`)" => {
            use entra_pg_sqlx::sqlx::postgres::PgPoolOptions;
            let pool = lab
                .sqlx_options(auth)?
                .connect_pool(
                    PgPoolOptions::new()
                        .max_connections(POOL_SIZE)
                        .min_connections(POOL_SIZE)
                        .max_lifetime(MAX_LIFETIME)
                        .test_before_acquire(true)
                        .acquire_timeout(CONNECTION_TIMEOUT),
                )
                .await
                .map_err(|err| error_chain(&err))?;
            Arc::new(Sqlx(pool))
        }
        "diesel r2d2 (libpq)" => {
            let pool = diesel::r2d2::Pool::builder()
                .max_size(POOL_SIZE)
                .min_idle(Some(POOL_SIZE))
                .max_lifetime(Some(MAX_LIFETIME))
                .test_on_check_out(true)
                .connection_timeout(CONNECTION_TIMEOUT)
                .build_unchecked(entra_pg_diesel::PgConnectionManager::new(
                    lab.libpq_connector(auth)?,
                ));
            Arc::new(DieselR2d2(pool))
        }
        "diesel-async bb8" => {
            let pool = entra_pg_diesel::AsyncBb8Pool::builder()
                .max_size(POOL_SIZE)
                .min_idle(POOL_SIZE)
                .max_lifetime(MAX_LIFETIME)
                .test_on_check_out(true)
                .connection_timeout(CONNECTION_TIMEOUT)
                .build(entra_pg_diesel::async_manager(lab.connector(auth)?))
                .await
                .map_err(|err| error_chain(&err))?;
            Arc::new(AsyncBb8(pool))
        }
        "diesel-async deadpool" => {
            let pool = entra_pg_diesel::AsyncDeadpoolPool::builder(entra_pg_diesel::async_manager(
                lab.connector(auth)?,
            ))
            .max_size(POOL_SIZE as usize)
            .build()
            .map_err(|err| err.to_string())?;
            Arc::new(AsyncDeadpool(pool))
        }
        other => return Err(format!("no pool named {other:?}")),
    })
}

struct TokioBb8(entra_pg_tokio::Bb8Pool);

impl Subject for TokioBb8 {
    fn use_once(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            let client = self.0.get().await.map_err(|err| format!("get: {err}"))?;
            client
                .simple_query("SELECT 1")
                .await
                .map(drop)
                .map_err(|err| format!("query: {err}"))
        })
    }
}

struct TokioDeadpool(entra_pg_tokio::DeadpoolPool);

impl Subject for TokioDeadpool {
    fn use_once(&self) -> BoxFuture<'_, Result<(), String>> {
        use entra_pg_tokio::DeadpoolObject;
        Box::pin(async move {
            let client = self
                .0
                .get()
                .await
                .map_err(|err| format!("get: {}", error_chain(&err)))?;
            let outcome = client
                .simple_query("SELECT 1")
                .await
                .map(drop)
                .map_err(|err| format!("query: {err}"));
            // deadpool has no max lifetime: retire old connections.
            if DeadpoolObject::metrics(&client).age() > MAX_LIFETIME {
                drop(DeadpoolObject::take(client));
            }
            outcome
        })
    }
}

struct SyncR2d2(entra_pg_sync::R2d2Pool);

impl Subject for SyncR2d2 {
    fn use_once(&self) -> BoxFuture<'_, Result<(), String>> {
        let pool = self.0.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let mut client = pool.get().map_err(|err| format!("get: {err}"))?;
                client
                    .simple_query("SELECT 1")
                    .map(drop)
                    .map_err(|err| format!("query: {err}"))
            })
            .await
            .map_err(|err| err.to_string())?
        })
    }
}

struct Sqlx(entra_pg_sqlx::EntraPool);

impl Subject for Sqlx {
    fn use_once(&self) -> BoxFuture<'_, Result<(), String>> {
        use entra_pg_sqlx::sqlx;
        Box::pin(async move {
            let mut connection = self
                .0
                .acquire()
                .await
                .map_err(|err| format!("acquire: {}", error_chain(&err)))?;
            sqlx::query("SELECT 1")
                .execute(&mut *connection)
                .await
                .map(drop)
                .map_err(|err| format!("query: {err}"))
        })
    }
}

struct DieselR2d2(entra_pg_diesel::R2d2Pool);

impl Subject for DieselR2d2 {
    fn use_once(&self) -> BoxFuture<'_, Result<(), String>> {
        let pool = self.0.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let mut conn = pool.get().map_err(|err| format!("get: {err}"))?;
                diesel::RunQueryDsl::execute(diesel::sql_query("SELECT 1"), &mut *conn)
                    .map(drop)
                    .map_err(|err| format!("query: {err}"))
            })
            .await
            .map_err(|err| err.to_string())?
        })
    }
}

struct AsyncBb8(entra_pg_diesel::AsyncBb8Pool);

impl Subject for AsyncBb8 {
    fn use_once(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            let mut conn = self.0.get().await.map_err(|err| format!("get: {err}"))?;
            diesel_async::RunQueryDsl::execute(diesel::sql_query("SELECT 1"), &mut *conn)
                .await
                .map(drop)
                .map_err(|err| format!("query: {err}"))
        })
    }
}

struct AsyncDeadpool(entra_pg_diesel::AsyncDeadpoolPool);

impl Subject for AsyncDeadpool {
    fn use_once(&self) -> BoxFuture<'_, Result<(), String>> {
        use diesel_async::{AsyncPgConnection, pooled_connection::deadpool::Object};
        Box::pin(async move {
            let mut conn = self.0.get().await.map_err(|err| format!("get: {err}"))?;
            let outcome =
                diesel_async::RunQueryDsl::execute(diesel::sql_query("SELECT 1"), &mut *conn)
                    .await
                    .map(drop)
                    .map_err(|err| format!("query: {err}"));
            // deadpool has no max lifetime: retire old connections.
            if Object::<AsyncPgConnection>::metrics(&conn).age() > MAX_LIFETIME {
                drop(Object::<AsyncPgConnection>::take(conn));
            }
            outcome
        })
    }
}
