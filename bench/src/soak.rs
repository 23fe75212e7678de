//! Soak: every pool at 50 connections with continuous churn and queries under
//! short-lived tokens; then an endpoint outage per pool, first while its token is
//! still valid, then past expiry, and the time to recover once the endpoint is back.

use std::{
    fmt::Write as _,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use entra_pg_core::{EntraAuth, clock::Jitter};
use entra_pg_testkit::{Fault, Identity, Resource};
use entra_pg_tokio::{
    Bb8Pool, ClientManager, DeadpoolPool, EntraConnector, deadpool::managed::Object,
};
use futures::future::BoxFuture;

use super::{Lab, error_chain, ms, multi_thread_runtime};

/// Connections per pool.
pub(crate) const POOL_SIZE: u32 = 50;
/// Tasks using each pool; each pauses between uses.
const WORKERS: usize = 50;
const PAUSE: Duration = Duration::from_millis(100);
/// Connections are replaced after this long: continuous new logins.
pub(crate) const MAX_LIFETIME: Duration = Duration::from_secs(10);
/// The cache refreshes this long before expiry.
const REFRESH_AHEAD: Duration = Duration::from_secs(3);
/// The cache stops serving a token this long before it expires (entra-pg-core).
const EXPIRY_MARGIN: Duration = Duration::from_secs(5);

/// What one use of a pool came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Use {
    Ok,
    ConnectFailed,
    QueryFailed,
}

/// A pool under test.
pub(crate) trait Subject: Send + Sync {
    /// Takes a connection, runs a query, gives it back (retiring old ones).
    fn use_once(&self, n: u64) -> BoxFuture<'_, Use>;
    /// Opens a new physical connection the way the pool does; whether it worked.
    fn probe(&self) -> BoxFuture<'_, bool>;
}

/// A pool under test with its identity and tallies.
pub(crate) struct Entry {
    pub(crate) name: &'static str,
    pub(crate) user: String,
    pub(crate) identity: Identity,
    pub(crate) auth: EntraAuth,
    pub(crate) subject: Arc<dyn Subject>,
    tally: Tally,
}

#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    connect_failed: AtomicU64,
    query_failed: AtomicU64,
    failures: Mutex<Vec<Instant>>,
}

impl Tally {
    fn count(&self, outcome: Use) {
        let counter = match outcome {
            Use::Ok => &self.ok,
            Use::ConnectFailed => &self.connect_failed,
            Use::QueryFailed => &self.query_failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if outcome != Use::Ok {
            self.failures
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(Instant::now());
        }
    }

    fn snapshot(&self) -> (u64, u64, u64) {
        (
            self.ok.load(Ordering::Relaxed),
            self.connect_failed.load(Ordering::Relaxed),
            self.query_failed.load(Ordering::Relaxed),
        )
    }

    fn failures_between(&self, from: Instant, to: Instant) -> usize {
        self.failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|at| **at >= from && **at < to)
            .count()
    }
}

/// A new identity and `EntraAuth` with the soak's token lifetime, refreshing
/// exactly [`REFRESH_AHEAD`] before expiry (no jitter).
pub(crate) fn login(lab: &Lab, prefix: &str) -> Result<(Identity, String, EntraAuth), String> {
    let (identity, user) = lab.identity(prefix, lab.plan.token_lifetime);
    let auth = lab
        .auth_builder(identity.managed_identity_credential())
        .refresh_ahead(REFRESH_AHEAD)
        .jitter(Jitter::none())
        .build()
        .map_err(|err| err.to_string())?;
    Ok((identity, user, auth))
}

pub(crate) fn entry(
    name: &'static str,
    (identity, user, auth): (Identity, String, EntraAuth),
    subject: Arc<dyn Subject>,
) -> Entry {
    Entry {
        name,
        user,
        identity,
        auth,
        subject,
        tally: Tally::default(),
    }
}

pub(super) fn section(lab: &Lab) -> Result<String, String> {
    let runtime = multi_thread_runtime()?;
    let _entered = runtime.enter();
    // One `block_on` per entry: if one cannot be built, those built before are
    // dropped here, outside `block_on` (the r2d2 pool's `postgres` clients block on
    // a runtime of their own when dropped).
    let mut entries = vec![
        runtime.block_on(bb8_entry(lab))?,
        deadpool_entry(lab)?,
        r2d2_entry(lab)?,
    ];
    entries.push(runtime.block_on(sqlx_entry(lab))?);
    entries.extend(runtime.block_on(crate::diesel::soak_entries(lab))?);
    let entries: Vec<Arc<Entry>> = entries.into_iter().map(Arc::new).collect();

    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for entry in &entries {
        for _ in 0..WORKERS {
            let (entry, stop) = (Arc::clone(entry), Arc::clone(&stop));
            workers.push(runtime.spawn(async move {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let outcome = entry.subject.use_once(n).await;
                    entry.tally.count(outcome);
                    n += 1;
                    tokio::time::sleep(PAUSE).await;
                }
            }));
        }
    }

    // Soak.
    let lifetime = lab.plan.token_lifetime;
    // Warm up for one token lifetime (pools filled, first rotations, thread pools
    // and allocator at their working size) before measuring.
    std::thread::sleep(lifetime);
    let started = Instant::now();
    let requests_before: Vec<u64> = entries
        .iter()
        .map(|entry| entry.identity.requests(Resource::Database))
        .collect();
    let rss_start = resident_kib();
    std::thread::sleep(lab.plan.soak / 2);
    let rss_middle = resident_kib();
    std::thread::sleep(lab.plan.soak / 2);
    let soak_time = started.elapsed();
    let rss_end = resident_kib();
    let soak_tallies: Vec<_> = entries.iter().map(|entry| entry.tally.snapshot()).collect();
    let soak_requests: Vec<u64> = entries
        .iter()
        .zip(&requests_before)
        .map(|(entry, before)| entry.identity.requests(Resource::Database) - before)
        .collect();
    println!("   soak done");

    // Outage, per pool: starts right after the pool's token was refreshed and lasts
    // two token lifetimes.
    let outages: Vec<_> = entries
        .iter()
        .map(|entry| {
            let entry = Arc::clone(entry);
            runtime.spawn(async move { outage(&entry, lifetime).await })
        })
        .collect();
    let outage_rows: Vec<_> = outages
        .into_iter()
        .map(|task| runtime.block_on(task).map_err(|err| err.to_string()))
        .collect();
    // The workers end before any error is returned: none may outlive the runtime
    // holding an entry.
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        let _ = runtime.block_on(worker);
    }
    let outage_rows = outage_rows.into_iter().collect::<Result<Vec<_>, _>>()?;

    let mut out = String::from(
        "| pool | uses (acquire + query) | failed connects | failed queries | server logins | token requests | per token lifetime |\n\
         |---|---|---|---|---|---|---|\n",
    );
    let lifetimes = soak_time.as_secs_f64() / lifetime.as_secs_f64();
    for ((entry, (ok, connect_failed, query_failed)), requests) in
        entries.iter().zip(&soak_tallies).zip(&soak_requests)
    {
        let _ = writeln!(
            out,
            "| {} | {} | {connect_failed} | {query_failed} | {} | {requests} | {:.2} |",
            entry.name,
            ok + connect_failed + query_failed,
            lab.server.password_checks_for(&entry.user),
            *requests as f64 / lifetimes,
        );
    }
    let period = lifetime - REFRESH_AHEAD.max(EXPIRY_MARGIN);
    let _ = writeln!(
        out,
        "\nSoak: {:.0} s after one token lifetime of warm-up, tokens living {} s, every \
         pool at {POOL_SIZE} connections replaced after {} s, {WORKERS} tasks per pool each \
         using it every {} ms. Targets: 0 failed connects and queries; ≈ 1 token request \
         per lifetime (the cache refreshes {} s before expiry, so one request every {} s \
         is {:.2} per lifetime). Server logins include the outage below.\n\n\
         Resident memory of the whole process ({} pools of {POOL_SIZE} connections, {} \
         tasks): {rss_start} KiB at the start of the soak, {rss_middle} KiB half-way, {rss_end} KiB \
         at the end.\n",
        soak_time.as_secs_f64(),
        lifetime.as_secs(),
        MAX_LIFETIME.as_secs(),
        PAUSE.as_millis(),
        REFRESH_AHEAD.max(EXPIRY_MARGIN).as_secs(),
        period.as_secs(),
        lifetime.as_secs_f64() / period.as_secs_f64(),
        entries.len(),
        entries.len() * WORKERS,
    );
    out.push_str(
        "| pool | failures while the cached token was valid | failures past expiry (expected) | recovery: endpoint back → first new connection | cache back-off left when the endpoint came back | recovery after the back-off |\n\
         |---|---|---|---|---|---|\n",
    );
    for (entry, row) in entries.iter().zip(&outage_rows) {
        let after_backoff = match row.recovery {
            None => "**did not recover**".to_owned(),
            Some(recovery) => {
                let after = recovery.saturating_sub(row.backoff_left);
                if after < Duration::from_secs(1) {
                    ms(after)
                } else {
                    format!("{} **(missed)**", ms(after))
                }
            }
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {after_backoff} |",
            entry.name,
            row.while_valid,
            row.past_expiry,
            row.recovery
                .map_or_else(|| "did not recover".to_owned(), ms),
            ms(row.backoff_left),
        );
    }
    let _ = writeln!(
        out,
        "\nOutage: for each pool the token endpoint fails (HTTP 503) from just after a \
         refresh for two token lifetimes ({} s), with the pools under the same load. \
         \"While valid\" is until the cache stops serving the token ({} s before expiry). \
         After each failed request the cache backs off (1 s doubling to 10 s) and \
         callers get the last error at once, so the first new connection after the \
         endpoint is back waits for the back-off then in force. Targets: 0 failures \
         while valid; recovery under 1 s once the back-off has passed.",
        (lifetime * 2).as_secs(),
        EXPIRY_MARGIN.as_secs(),
    );
    Ok(out)
}

struct OutageRow {
    while_valid: usize,
    past_expiry: usize,
    recovery: Option<Duration>,
    /// How long the cache's back-off still ran when the endpoint came back.
    backoff_left: Duration,
}

async fn outage(entry: &Entry, lifetime: Duration) -> OutageRow {
    // Wait for the next refresh, so the outage starts with a full token lifetime.
    let before = entry.auth.status().expires_on;
    while entry.auth.status().expires_on == before {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let expires_on = entry
        .auth
        .status()
        .expires_on
        .unwrap_or_else(|| entry.auth.now());
    let start = Instant::now();
    entry.identity.set_fault(Some(Fault::Status(503)));
    let valid_for = Duration::try_from(expires_on - entry.auth.now()).unwrap_or_default();
    let valid_until = start + valid_for.saturating_sub(EXPIRY_MARGIN);
    tokio::time::sleep(lifetime * 2).await;
    entry.identity.set_fault(None);
    let back = Instant::now();
    let backoff_left = entry
        .auth
        .status()
        .next_attempt
        .and_then(|at| Duration::try_from(at - entry.auth.now()).ok())
        .unwrap_or_default();
    let mut recovery = None;
    // The back-off is at most 10 s.
    while back.elapsed() < Duration::from_secs(60) {
        if entry.subject.probe().await {
            recovery = Some(back.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    OutageRow {
        while_valid: entry.tally.failures_between(start, valid_until),
        past_expiry: entry.tally.failures_between(valid_until, Instant::now()),
        recovery,
        backoff_left,
    }
}

/// Resident memory of this process, in KiB.
fn resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

struct Bb8Subject {
    pool: Bb8Pool,
    connector: EntraConnector,
}

impl Subject for Bb8Subject {
    fn use_once(&self, _n: u64) -> BoxFuture<'_, Use> {
        Box::pin(async move {
            let Ok(client) = self.pool.get().await else {
                return Use::ConnectFailed;
            };
            match client.simple_query("SELECT 1").await {
                Ok(_) => Use::Ok,
                Err(_) => Use::QueryFailed,
            }
        })
    }

    fn probe(&self) -> BoxFuture<'_, bool> {
        Box::pin(async move { self.connector.connect_spawned().await.is_ok() })
    }
}

async fn bb8_entry(lab: &Lab) -> Result<Entry, String> {
    let login = login(lab, "soak_bb8")?;
    let connector = lab.connector(login.2.clone())?;
    let pool = bb8::Pool::builder()
        .max_size(POOL_SIZE)
        .min_idle(POOL_SIZE)
        .max_lifetime(MAX_LIFETIME)
        .reaper_rate(Duration::from_secs(1))
        .connection_timeout(Duration::from_secs(5))
        .retry_connection(false)
        .build(ClientManager::new(connector.clone()))
        .await
        .map_err(|err| format!("bb8 pool: {}", error_chain(&err)))?;
    Ok(entry(
        "bb8",
        login,
        Arc::new(Bb8Subject { pool, connector }),
    ))
}

struct DeadpoolSubject {
    pool: DeadpoolPool,
    connector: EntraConnector,
}

impl Subject for DeadpoolSubject {
    fn use_once(&self, _n: u64) -> BoxFuture<'_, Use> {
        Box::pin(async move {
            let Ok(client) = self.pool.get().await else {
                return Use::ConnectFailed;
            };
            let outcome = match client.simple_query("SELECT 1").await {
                Ok(_) => Use::Ok,
                Err(_) => Use::QueryFailed,
            };
            // deadpool has no max lifetime: retire old connections.
            if Object::metrics(&client).age() > MAX_LIFETIME {
                drop(Object::take(client));
            }
            outcome
        })
    }

    fn probe(&self) -> BoxFuture<'_, bool> {
        Box::pin(async move { self.connector.connect_spawned().await.is_ok() })
    }
}

fn deadpool_entry(lab: &Lab) -> Result<Entry, String> {
    let login = login(lab, "soak_deadpool")?;
    let connector = lab.connector(login.2.clone())?;
    let pool = DeadpoolPool::builder(ClientManager::new(connector.clone()))
        .max_size(POOL_SIZE as usize)
        .build()
        .map_err(|err| format!("deadpool pool: {}", error_chain(&err)))?;
    Ok(entry(
        "deadpool",
        login,
        Arc::new(DeadpoolSubject { pool, connector }),
    ))
}

struct R2d2Subject {
    pool: entra_pg_sync::R2d2Pool,
    connector: entra_pg_sync::EntraConnector,
}

impl Subject for R2d2Subject {
    fn use_once(&self, n: u64) -> BoxFuture<'_, Use> {
        let pool = self.pool.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let Ok(mut client) = pool.get() else {
                    return Use::ConnectFailed;
                };
                let outcome = match client.simple_query("SELECT 1") {
                    Ok(_) => Use::Ok,
                    Err(_) => Use::QueryFailed,
                };
                // r2d2 replaces a connection only when it breaks: end every 100th
                // session, so new logins keep happening.
                if n % 100 == 99 {
                    let _ = client.simple_query("SELECT pg_terminate_backend(pg_backend_pid())");
                }
                outcome
            })
            .await
            .unwrap_or(Use::ConnectFailed)
        })
    }

    fn probe(&self) -> BoxFuture<'_, bool> {
        let connector = self.connector.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || connector.connect().is_ok())
                .await
                .unwrap_or(false)
        })
    }
}

fn r2d2_entry(lab: &Lab) -> Result<Entry, String> {
    let login = login(lab, "soak_r2d2")?;
    let connector = lab.sync_connector(login.2.clone())?;
    let pool = r2d2::Pool::builder()
        .max_size(POOL_SIZE)
        .min_idle(Some(POOL_SIZE))
        .max_lifetime(Some(MAX_LIFETIME))
        .connection_timeout(Duration::from_secs(5))
        .build_unchecked(entra_pg_sync::ClientManager::new(connector.clone()));
    Ok(entry(
        "r2d2",
        login,
        Arc::new(R2d2Subject { pool, connector }),
    ))
}

struct SqlxSubject {
    pool: entra_pg_sqlx::EntraPool,
}

impl Subject for SqlxSubject {
    fn use_once(&self, _n: u64) -> BoxFuture<'_, Use> {
        use entra_pg_sqlx::sqlx;
        Box::pin(async move {
            let Ok(mut connection) = self.pool.acquire().await else {
                return Use::ConnectFailed;
            };
            match sqlx::query("SELECT 1").execute(&mut *connection).await {
                Ok(_) => Use::Ok,
                Err(_) => Use::QueryFailed,
            }
        })
    }

    fn probe(&self) -> BoxFuture<'_, bool> {
        use entra_pg_sqlx::sqlx::{Connection as _, PgConnection};
        // What the pool does for a new connection: its current options.
        let options = self.pool.pool().connect_options();
        Box::pin(async move { PgConnection::connect_with(&options).await.is_ok() })
    }
}

async fn sqlx_entry(lab: &Lab) -> Result<Entry, String> {
    use entra_pg_sqlx::sqlx::postgres::PgPoolOptions;
    let login = login(lab, "soak_sqlx")?;
    // Lazy: sqlx opens `min_connections` one after another, and 50 of its connects
    // (each waiting on delayed ACKs) take about as long as the acquire timeout.
    // They open in the background during the warm-up.
    let pool = lab
        .sqlx_options(login.2.clone())?
        .connect_pool_lazy(
            PgPoolOptions::new()
                .max_connections(POOL_SIZE)
                .min_connections(POOL_SIZE)
                .max_lifetime(MAX_LIFETIME)
                .acquire_timeout(Duration::from_secs(5)),
        )
        .await
        .map_err(|err| format!("sqlx pool: {}", error_chain(&err)))?;
    Ok(entry("sqlx", login, Arc::new(SqlxSubject { pool })))
}
