//! Rejection recovery: the server stops accepting the cached token (revoked,
//! though it has not expired), and the next new physical connection of every
//! driver path must still succeed, with exactly one extra token request: the
//! connector sees the rejection, invalidates the token and retries once.
//!
//! Each path connects once and keeps that connection checked out, so the pool's
//! next `get` opens a new physical connection.

use std::{
    fmt::Write as _,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use entra_pg_core::EntraAuth;
use entra_pg_testkit::{
    DEFAULT_LIFETIME, Resource,
    suite::{Failure, pool_get},
};
use futures::future::BoxFuture;

use super::{Lab, detached, ms, multi_thread_runtime};

/// The paths, in report order.
const PATHS: [&str; 9] = [
    "tokio-postgres (direct)",
    "bb8 (entra-pg-tokio)",
    "deadpool (entra-pg-tokio)",
    "postgres, blocking (direct)",
    "r2d2 (entra-pg-sync)",
    "sqlx `EntraPool::acquire`",
    "diesel r2d2 (libpq)",
    "diesel-async bb8",
    "diesel-async deadpool",
];

/// Pools are larger than the connections held, so `get` never waits for one.
const POOL_SIZE: u32 = 4;
/// Long enough for a recovering connect; a failure is reported as soon as the
/// connector records it.
const TIMEOUT: Duration = Duration::from_secs(10);

/// A driver path: opens one new physical connection per call and keeps it.
trait Path: Send + Sync {
    fn connect(&self) -> BoxFuture<'_, Result<(), Failure>>;
}

struct Row {
    name: &'static str,
    result: Result<(), Failure>,
    extra_requests: u64,
    took: Duration,
}

pub(super) fn section(lab: &Lab) -> Result<String, String> {
    let runtime = multi_thread_runtime()?;
    // Paths are dropped on this thread: sqlx returns connections with a spawned
    // task, and `postgres` clients must not be dropped inside `block_on`.
    let _entered = runtime.enter();
    let mut rows = Vec::new();
    for name in PATHS {
        // Tokens shorter than 5 minutes: `azure_identity`'s own cache keeps a token
        // until 5 minutes before its expiry, and would hand the revoked one back.
        let (identity, _) = lab.identity("bench_reject", DEFAULT_LIFETIME);
        let auth = lab.auth(identity.managed_identity_credential())?;
        let path = runtime.block_on(open(lab, name, auth))?;
        runtime
            .block_on(path.connect())
            .map_err(|err| format!("{name}: first connect: {err}"))?;
        let before = identity.requests(Resource::Database);
        identity.revoke_tokens();
        let started = Instant::now();
        let result = runtime.block_on(path.connect());
        let took = started.elapsed();
        rows.push(Row {
            name,
            result,
            extra_requests: identity.requests(Resource::Database) - before,
            took,
        });
        drop(path);
        println!("   {name}: done");
    }

    let mut out = String::from(
        "| driver path | new connection after the revocation | extra token requests | recovering connect |\n\
         |---|---|---|---|\n",
    );
    let mut failures = String::new();
    for row in &rows {
        let outcome = match &row.result {
            Ok(()) => "succeeded".to_owned(),
            Err(err) => {
                let _ = writeln!(failures, "- {}: {err}", row.name);
                format!("**failed** (`{}`)", err.kind)
            }
        };
        let extra = if row.extra_requests == 1 {
            row.extra_requests.to_string()
        } else {
            format!("{} **(missed)**", row.extra_requests)
        };
        let _ = writeln!(
            out,
            "| {} | {outcome} | {extra} | {} |",
            row.name,
            ms(row.took)
        );
    }
    let _ = writeln!(
        out,
        "\nEach path connects once and keeps that connection (checked out of its pool), \
         then the identity's tokens are revoked: the server refuses the cached token \
         though it has not expired. The next new physical connection must succeed with \
         exactly 1 extra token request (target): the server rejects the cached token, \
         the connector invalidates it, asks for a new one and retries once. The time is \
         that whole connect: the rejected login, the token request and the second login. \
         Tokens live {} s here: `azure_identity`'s managed-identity credential keeps a \
         token in its own cache until 5 minutes before expiry, and for a longer-lived \
         token it would hand the revoked one back to the forced refresh.",
        DEFAULT_LIFETIME.as_secs()
    );
    if !failures.is_empty() {
        let _ = write!(out, "\nFailures:\n\n{failures}");
    }
    Ok(out)
}

async fn open(lab: &Lab, name: &str, auth: EntraAuth) -> Result<Box<dyn Path>, String> {
    Ok(match name {
        "tokio-postgres (direct)" => Box::new(TokioDirect {
            connector: lab.connector(auth)?,
            held: Mutex::default(),
        }),
        "bb8 (entra-pg-tokio)" => {
            let connector = lab.connector(auth)?;
            let pool = bb8::Pool::builder()
                .max_size(POOL_SIZE)
                .retry_connection(false)
                .connection_timeout(TIMEOUT)
                .build_unchecked(entra_pg_tokio::ClientManager::new(connector.clone()));
            Box::new(Bb8 {
                pool,
                connector,
                held: Mutex::default(),
            })
        }
        "deadpool (entra-pg-tokio)" => {
            let pool = entra_pg_tokio::DeadpoolPool::builder(entra_pg_tokio::ClientManager::new(
                lab.connector(auth)?,
            ))
            .max_size(POOL_SIZE as usize)
            .build()
            .map_err(|err| err.to_string())?;
            Box::new(Deadpool {
                pool,
                held: Mutex::default(),
            })
        }
        "postgres, blocking (direct)" => Box::new(SyncDirect {
            connector: lab.sync_connector(auth)?,
            held: Arc::default(),
        }),
        "r2d2 (entra-pg-sync)" => {
            let connector = lab.sync_connector(auth)?;
            let pool = r2d2::Pool::builder()
                .max_size(POOL_SIZE)
                .min_idle(Some(0))
                .connection_timeout(TIMEOUT)
                .build_unchecked(entra_pg_sync::ClientManager::new(connector.clone()));
            Box::new(R2d2 {
                pool,
                failures: connector.failures().clone(),
                held: Arc::default(),
            })
        }
        "sqlx `EntraPool::acquire`" => {
            use entra_pg_sqlx::sqlx::postgres::PgPoolOptions;
            let pool = lab
                .sqlx_options(auth)?
                .connect_pool_lazy(
                    PgPoolOptions::new()
                        .max_connections(POOL_SIZE)
                        .min_connections(0)
                        .acquire_timeout(TIMEOUT),
                )
                .await
                .map_err(|err| err.to_string())?;
            Box::new(Sqlx {
                pool,
                held: Mutex::default(),
            })
        }
        "diesel r2d2 (libpq)" => {
            let connector = lab.libpq_connector(auth)?;
            let pool = diesel::r2d2::Pool::builder()
                .max_size(POOL_SIZE)
                .min_idle(Some(0))
                .connection_timeout(TIMEOUT)
                .build_unchecked(entra_pg_diesel::PgConnectionManager::new(connector.clone()));
            Box::new(R2d2 {
                pool,
                failures: connector.failures().clone(),
                held: Arc::default(),
            })
        }
        "diesel-async bb8" => {
            let connector = lab.connector(auth)?;
            let pool = entra_pg_diesel::AsyncBb8Pool::builder()
                .max_size(POOL_SIZE)
                .retry_connection(false)
                .connection_timeout(TIMEOUT)
                .build_unchecked(entra_pg_diesel::async_manager(connector.clone()));
            Box::new(Bb8 {
                pool,
                connector,
                held: Mutex::default(),
            })
        }
        "diesel-async deadpool" => {
            let connector = lab.connector(auth)?;
            let pool = entra_pg_diesel::AsyncDeadpoolPool::builder(entra_pg_diesel::async_manager(
                connector.clone(),
            ))
            .max_size(POOL_SIZE as usize)
            .build()
            .map_err(|err| err.to_string())?;
            Box::new(AsyncDeadpool {
                pool,
                connector,
                held: Mutex::default(),
            })
        }
        other => return Err(format!("no driver path named {other:?}")),
    })
}

fn hold<T>(held: &Mutex<Vec<T>>, value: T) {
    held.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(value);
}

/// `EntraConnector::connect_spawned`.
struct TokioDirect {
    connector: entra_pg_tokio::EntraConnector,
    held: Mutex<Vec<entra_pg_tokio::tokio_postgres::Client>>,
}

impl Path for TokioDirect {
    fn connect(&self) -> BoxFuture<'_, Result<(), Failure>> {
        Box::pin(async move {
            let client = self
                .connector
                .connect_spawned()
                .await
                .map_err(|err| Failure::of(&err))?;
            hold(&self.held, client);
            Ok(())
        })
    }
}

/// A bb8 pool (of `ClientManager` or diesel-async's manager) over `connector`.
struct Bb8<M: bb8::ManageConnection> {
    pool: bb8::Pool<M>,
    connector: entra_pg_tokio::EntraConnector,
    held: Mutex<Vec<bb8::PooledConnection<'static, M>>>,
}

impl<M> Path for Bb8<M>
where
    M: bb8::ManageConnection,
    M::Error: std::error::Error,
{
    fn connect(&self) -> BoxFuture<'_, Result<(), Failure>> {
        Box::pin(async move {
            let connection = pool_get(self.pool.get_owned(), self.connector.failures()).await?;
            hold(&self.held, connection);
            Ok(())
        })
    }
}

/// A deadpool pool of `ClientManager`: its errors carry the typed cause.
struct Deadpool {
    pool: entra_pg_tokio::DeadpoolPool,
    held: Mutex<Vec<entra_pg_tokio::DeadpoolObject>>,
}

impl Path for Deadpool {
    fn connect(&self) -> BoxFuture<'_, Result<(), Failure>> {
        Box::pin(async move {
            let client = self.pool.get().await.map_err(|err| match err {
                deadpool::managed::PoolError::Backend(err) => Failure::of(&err),
                other => Failure::pool(&other),
            })?;
            hold(&self.held, client);
            Ok(())
        })
    }
}

/// diesel-async's deadpool pool: its errors carry only a message, the connector
/// has the typed cause.
struct AsyncDeadpool {
    pool: entra_pg_diesel::AsyncDeadpoolPool,
    connector: entra_pg_diesel::AsyncConnector,
    held: Mutex<
        Vec<diesel_async::pooled_connection::deadpool::Object<diesel_async::AsyncPgConnection>>,
    >,
}

impl Path for AsyncDeadpool {
    fn connect(&self) -> BoxFuture<'_, Result<(), Failure>> {
        Box::pin(async move {
            let connection = pool_get(self.pool.get(), self.connector.failures()).await?;
            hold(&self.held, connection);
            Ok(())
        })
    }
}

/// `entra_pg_sync::EntraConnector::connect`, on a thread of its own.
struct SyncDirect {
    connector: entra_pg_sync::EntraConnector,
    held: Arc<Mutex<Vec<postgres::Client>>>,
}

impl Path for SyncDirect {
    fn connect(&self) -> BoxFuture<'_, Result<(), Failure>> {
        let (connector, held) = (self.connector.clone(), Arc::clone(&self.held));
        Box::pin(async move {
            detached(move || {
                let client = connector.connect().map_err(|err| Failure::of(&err))?;
                hold(&held, client);
                Ok(())
            })
            .await
            .map_err(|err| Failure::pool(&err))?
        })
    }
}

/// An r2d2 pool (of `postgres` clients or diesel `PgConnection`s); `get` runs on
/// a thread of its own.
struct R2d2<M: r2d2::ManageConnection> {
    pool: r2d2::Pool<M>,
    failures: entra_pg_core::LastFailure,
    held: Arc<Mutex<Vec<r2d2::PooledConnection<M>>>>,
}

impl<M: r2d2::ManageConnection> Path for R2d2<M> {
    fn connect(&self) -> BoxFuture<'_, Result<(), Failure>> {
        let (pool, held) = (self.pool.clone(), Arc::clone(&self.held));
        Box::pin(async move {
            let get = async move {
                detached(move || pool.get().map_err(|err| err.to_string()))
                    .await
                    .and_then(|got| got)
            };
            let connection = pool_get(get, &self.failures).await?;
            hold(&held, connection);
            Ok(())
        })
    }
}

/// `EntraPool::acquire` on a lazy sqlx pool.
struct Sqlx {
    pool: entra_pg_sqlx::EntraPool,
    held: Mutex<Vec<entra_pg_sqlx::sqlx::pool::PoolConnection<entra_pg_sqlx::sqlx::Postgres>>>,
}

impl Path for Sqlx {
    fn connect(&self) -> BoxFuture<'_, Result<(), Failure>> {
        Box::pin(async move {
            let connection = self.pool.acquire().await.map_err(|err| Failure::of(&err))?;
            hold(&self.held, connection);
            Ok(())
        })
    }
}
