//! `cargo xtask bench`, the diesel parts: connect time with a static password
//! against Entra login for diesel (`PgConnection` through libpq, r2d2 manager) and
//! diesel-async (`AsyncPgConnection` over tokio-postgres, bb8/deadpool manager), on
//! the same local server and the same server authentication path; and the cold
//! burst through the diesel-async pools.
//!
//! The static side is what a diesel user writes without entra-pg (a URL with the
//! password for `PgConnection::establish`; tokio-postgres with TLS handed to
//! `AsyncPgConnection::try_from_client_and_connection`); the Entra side is the
//! manager's own connect, what the pool calls for each new physical connection.
//! The soak entries put the three diesel pools under the soak's load and outage.

use std::{sync::Arc, time::Duration};

use futures::future::BoxFuture;

use diesel::{Connection as _, PgConnection, r2d2::ManageConnection as _};
use diesel_async::{AsyncPgConnection, RunQueryDsl as _};
use entra_pg_core::EntraAuth;
use entra_pg_diesel::{
    AsyncBb8Pool, AsyncConnector, AsyncDeadpoolPool, EntraConnector, PgConnectionManager, R2d2Pool,
    async_connection, async_manager,
};
use entra_pg_tokio::tokio_postgres::Config;
use tokio::sync::Barrier;

use crate::{
    Lab,
    connect::{Row, compare, median_connect},
    error_chain,
    soak::{Entry, MAX_LIFETIME, POOL_SIZE, Subject, Use, entry, login},
};

const STATIC_ROLE: &str = "bench_diesel_static";
const STATIC_PASSWORD: &str = "bench-diesel-static-password";

/// The diesel rows of the connect-time comparison, `runs` connects each, and
/// the median static libpq connect trusting only the server's CA (libpq reads its
/// root file on every connect). `auth` logs in as a role the server accepts
/// tokens for.
pub(crate) fn rows(
    lab: &Lab,
    auth: EntraAuth,
    runs: usize,
) -> Result<(Vec<Row>, Duration), String> {
    lab.server
        .create_password_role(STATIC_ROLE, STATIC_PASSWORD);
    let (r2d2, ca_only) = r2d2_row(lab, auth.clone(), runs)?;
    Ok((vec![r2d2, async_row(lab, auth, runs)?], ca_only))
}

/// What a diesel user writes for a static password: a libpq URL with the same TLS
/// checks, trusting the roots in `root_file`.
fn static_url(lab: &Lab, root_file: &std::path::Path) -> Result<String, String> {
    let root_file = root_file.to_str().ok_or("the root CA path is not UTF-8")?;
    Ok(format!(
        "postgresql://{STATIC_ROLE}:{STATIC_PASSWORD}@{}:{}/postgres?sslmode=verify-full&sslrootcert={root_file}",
        lab.server.host(),
        lab.server.port()
    ))
}

fn r2d2_row(lab: &Lab, auth: EntraAuth, runs: usize) -> Result<(Row, Duration), String> {
    let manager = PgConnectionManager::new(lab.libpq_connector(auth)?);
    // The connector trusts the operating system's bundle plus the server's CA, in
    // one file: the static side reads the same one.
    let bundle = manager
        .connector()
        .root_cert()
        .ok_or("the libpq connector names no root CA file")?;
    let fixed_url = static_url(lab, bundle)?;
    let row = compare(
        "diesel PgConnection, r2d2 manager (entra-pg-diesel)",
        runs,
        || {
            PgConnection::establish(&fixed_url)
                .map(drop)
                .map_err(|err| format!("static connect: {err}"))
        },
        || {
            manager
                .connect()
                .map(drop)
                .map_err(|err| format!("Entra connect: {}", error_chain(&err)))
        },
    )?;
    let ca_only = static_url(lab, &lab.server.ca_path())?;
    let ca_only = median_connect(runs, || {
        PgConnection::establish(&ca_only)
            .map(drop)
            .map_err(|err| format!("static connect: {err}"))
    })?;
    Ok((row, ca_only))
}

fn async_row(lab: &Lab, auth: EntraAuth, runs: usize) -> Result<Row, String> {
    let runtime = crate::runtime()?;
    let fixed: Config = format!(
        "{} user={STATIC_ROLE} password={STATIC_PASSWORD} sslmode=require",
        lab.settings()
    )
    .parse()
    .map_err(|err| format!("static settings: {err}"))?;
    let manager = async_manager(lab.connector(auth)?);
    let fixed_tls = lab.tls.connector();
    compare(
        "diesel-async AsyncPgConnection, bb8/deadpool manager (entra-pg-diesel)",
        runs,
        || {
            // What a diesel-async user writes for TLS with a static password.
            runtime
                .block_on(async {
                    let (client, connection) = fixed
                        .connect(fixed_tls.clone())
                        .await
                        .map_err(|err| err.to_string())?;
                    AsyncPgConnection::try_from_client_and_connection(client, connection)
                        .await
                        .map_err(|err| err.to_string())
                })
                .map(drop)
                .map_err(|err| format!("static connect: {err}"))
        },
        || {
            runtime
                .block_on(bb8::ManageConnection::connect(&manager))
                .map(drop)
                .map_err(|err| format!("Entra connect: {err}"))
        },
    )
}

/// The cold burst through a diesel-async pool (`name`: `diesel-async bb8` or
/// `diesel-async deadpool`): `burst` tasks ask for a connection at once and each
/// holds it until all have one. Returns the distinct server sessions.
pub(crate) async fn burst(
    lab: &Lab,
    name: &str,
    auth: EntraAuth,
    burst: usize,
    barrier: &Arc<Barrier>,
) -> Result<usize, String> {
    let manager = async_manager(lab.connector(auth)?);
    let size = u32::try_from(burst).map_err(|err| err.to_string())?;
    let tasks: Vec<_> = match name {
        "diesel-async bb8" => {
            let pool = AsyncBb8Pool::builder()
                .max_size(size)
                .connection_timeout(Duration::from_secs(120))
                .build_unchecked(manager);
            (0..burst)
                .map(|_| {
                    let (pool, barrier) = (pool.clone(), Arc::clone(barrier));
                    tokio::spawn(async move {
                        let connected = async {
                            let mut conn = pool.get_owned().await.map_err(|err| err.to_string())?;
                            let pid = backend_pid(&mut conn).await?;
                            Ok::<_, String>((pid, conn))
                        }
                        .await;
                        // Everyone waits, also after a failure, so no task waits forever.
                        barrier.wait().await;
                        connected.map(|(pid, _held)| pid)
                    })
                })
                .collect()
        }
        "diesel-async deadpool" => {
            let pool = AsyncDeadpoolPool::builder(manager)
                .max_size(burst)
                .build()
                .map_err(|err| err.to_string())?;
            (0..burst)
                .map(|_| {
                    let (pool, barrier) = (pool.clone(), Arc::clone(barrier));
                    tokio::spawn(async move {
                        let connected = async {
                            let mut conn = pool.get().await.map_err(|err| err.to_string())?;
                            let pid = backend_pid(&mut conn).await?;
                            Ok::<_, String>((pid, conn))
                        }
                        .await;
                        barrier.wait().await;
                        connected.map(|(pid, _held)| pid)
                    })
                })
                .collect()
        }
        other => return Err(format!("no diesel pool named {other:?}")),
    };
    let mut pids = Vec::with_capacity(burst);
    for task in tasks {
        pids.push(task.await.map_err(|err| err.to_string())??);
    }
    pids.sort_unstable();
    pids.dedup();
    Ok(pids.len())
}

async fn backend_pid(conn: &mut AsyncPgConnection) -> Result<i32, String> {
    diesel::select(diesel::dsl::sql::<diesel::sql_types::Integer>(
        "pg_backend_pid()",
    ))
    .get_result(conn)
    .await
    .map_err(|err| err.to_string())
}

/// The soak's entries for the diesel pools: r2d2 (`PgConnection`), and bb8 and
/// deadpool (`AsyncPgConnection`), each with its own identity.
pub(crate) async fn soak_entries(lab: &Lab) -> Result<Vec<Entry>, String> {
    Ok(vec![
        r2d2_soak_entry(lab)?,
        bb8_soak_entry(lab).await?,
        deadpool_soak_entry(lab)?,
    ])
}

async fn select_one(conn: &mut AsyncPgConnection) -> Use {
    match diesel::sql_query("SELECT 1").execute(conn).await {
        Ok(_) => Use::Ok,
        Err(_) => Use::QueryFailed,
    }
}

struct R2d2Subject {
    pool: R2d2Pool,
    connector: EntraConnector,
}

impl Subject for R2d2Subject {
    fn use_once(&self, n: u64) -> BoxFuture<'_, Use> {
        let pool = self.pool.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let Ok(mut conn) = pool.get() else {
                    return Use::ConnectFailed;
                };
                let conn: &mut PgConnection = &mut conn;
                let outcome =
                    match diesel::RunQueryDsl::execute(diesel::sql_query("SELECT 1"), conn) {
                        Ok(_) => Use::Ok,
                        Err(_) => Use::QueryFailed,
                    };
                // r2d2 replaces a connection only when it breaks: end every 100th
                // session, so new logins keep happening.
                if n % 100 == 99 {
                    let _ = diesel::RunQueryDsl::execute(
                        diesel::sql_query("SELECT pg_terminate_backend(pg_backend_pid())"),
                        conn,
                    );
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

fn r2d2_soak_entry(lab: &Lab) -> Result<Entry, String> {
    let login = login(lab, "soak_diesel_r2d2")?;
    let connector = lab.libpq_connector(login.2.clone())?;
    let pool = diesel::r2d2::Pool::builder()
        .max_size(POOL_SIZE)
        .min_idle(Some(POOL_SIZE))
        .max_lifetime(Some(MAX_LIFETIME))
        .connection_timeout(Duration::from_secs(5))
        .build_unchecked(PgConnectionManager::new(connector.clone()));
    Ok(entry(
        "diesel r2d2",
        login,
        Arc::new(R2d2Subject { pool, connector }),
    ))
}

struct Bb8Subject {
    pool: AsyncBb8Pool,
    connector: AsyncConnector,
}

impl Subject for Bb8Subject {
    fn use_once(&self, _n: u64) -> BoxFuture<'_, Use> {
        Box::pin(async move {
            let Ok(mut conn) = self.pool.get().await else {
                return Use::ConnectFailed;
            };
            select_one(&mut conn).await
        })
    }

    fn probe(&self) -> BoxFuture<'_, bool> {
        Box::pin(async move { async_connection(&self.connector).await.is_ok() })
    }
}

async fn bb8_soak_entry(lab: &Lab) -> Result<Entry, String> {
    let login = login(lab, "soak_diesel_bb8")?;
    let connector = lab.connector(login.2.clone())?;
    let pool = AsyncBb8Pool::builder()
        .max_size(POOL_SIZE)
        .min_idle(POOL_SIZE)
        .max_lifetime(MAX_LIFETIME)
        .reaper_rate(Duration::from_secs(1))
        .connection_timeout(Duration::from_secs(5))
        .retry_connection(false)
        .build(async_manager(connector.clone()))
        .await
        .map_err(|err| err.to_string())?;
    Ok(entry(
        "diesel-async bb8",
        login,
        Arc::new(Bb8Subject { pool, connector }),
    ))
}

struct DeadpoolSubject {
    pool: AsyncDeadpoolPool,
    connector: AsyncConnector,
}

impl Subject for DeadpoolSubject {
    fn use_once(&self, _n: u64) -> BoxFuture<'_, Use> {
        use diesel_async::pooled_connection::deadpool::Object;
        Box::pin(async move {
            let Ok(mut conn) = self.pool.get().await else {
                return Use::ConnectFailed;
            };
            let outcome = select_one(&mut conn).await;
            // deadpool has no max lifetime: retire old connections.
            if Object::<AsyncPgConnection>::metrics(&conn).age() > MAX_LIFETIME {
                drop(Object::<AsyncPgConnection>::take(conn));
            }
            outcome
        })
    }

    fn probe(&self) -> BoxFuture<'_, bool> {
        Box::pin(async move { async_connection(&self.connector).await.is_ok() })
    }
}

fn deadpool_soak_entry(lab: &Lab) -> Result<Entry, String> {
    let login = login(lab, "soak_diesel_deadpool")?;
    let connector = lab.connector(login.2.clone())?;
    // No wait timeout: deadpool would need a runtime feature for it.
    let pool = AsyncDeadpoolPool::builder(async_manager(connector.clone()))
        .max_size(POOL_SIZE as usize)
        .build()
        .map_err(|err| err.to_string())?;
    Ok(entry(
        "diesel-async deadpool",
        login,
        Arc::new(DeadpoolSubject { pool, connector }),
    ))
}
