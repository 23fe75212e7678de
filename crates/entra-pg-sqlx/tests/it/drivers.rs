//! The driver paths of this crate, for the shared suite: one `PgConnection`, and
//! an `EntraPool` (a sqlx `PgPool` with its refresher).

use std::{sync::Mutex, time::Duration};

use entra_pg_sqlx::{
    EntraConnectOptions, EntraPool,
    sqlx::{self, PgConnection, Postgres, pool::PoolConnection, postgres::PgPoolOptions},
};
use entra_pg_testkit::suite::{BoxFuture, Case, Driver, Failure, Session};

/// Builds the options a case asks for, from its settings as a URL.
fn options(case: &Case) -> Result<EntraConnectOptions, Failure> {
    let mut builder = EntraConnectOptions::builder(case.settings.url(), case.auth.clone())
        .danger_allow_insecure_transport(case.insecure);
    if let Some(pem) = &case.root_pem {
        builder = builder.root_cert_pem(pem.as_bytes());
    }
    builder.build().map_err(|err| Failure::of(&err))
}

async fn current_user<'c, E>(executor: E) -> Result<String, Failure>
where
    E: sqlx::Executor<'c, Database = Postgres>,
{
    sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(executor)
        .await
        .map_err(|err| Failure::pool(&err))
}

/// `EntraConnectOptions::connect`.
pub(crate) struct Connection;

struct ConnectionSession {
    options: EntraConnectOptions,
    held: Mutex<Vec<PgConnection>>,
}

impl Driver for Connection {
    fn name(&self) -> &'static str {
        "sqlx PgConnection"
    }

    fn require_verifies(&self) -> bool {
        false
    }

    fn takes_hostaddr(&self) -> bool {
        false
    }

    fn open(&self, case: Case) -> BoxFuture<'static, Result<Box<dyn Session>, Failure>> {
        Box::pin(async move {
            Ok(Box::new(ConnectionSession {
                options: options(&case)?,
                held: Mutex::default(),
            }) as Box<dyn Session>)
        })
    }
}

impl Session for ConnectionSession {
    fn connect(&self) -> BoxFuture<'_, Result<String, Failure>> {
        Box::pin(async move {
            let mut connection = self
                .options
                .connect()
                .await
                .map_err(|err| Failure::of(&err))?;
            let user = current_user(&mut connection).await?;
            self.held.lock().unwrap().push(connection);
            Ok(user)
        })
    }

    fn describe(&self) -> String {
        format!("{:?}", self.options)
    }
}

/// `EntraPool::acquire` on a lazy pool.
pub(crate) struct Pool;

struct PoolSession {
    pool: EntraPool,
    held: Mutex<Vec<PoolConnection<Postgres>>>,
}

impl Driver for Pool {
    fn name(&self) -> &'static str {
        "sqlx PgPool (EntraPool)"
    }

    fn require_verifies(&self) -> bool {
        false
    }

    fn takes_hostaddr(&self) -> bool {
        false
    }

    fn open(&self, case: Case) -> BoxFuture<'static, Result<Box<dyn Session>, Failure>> {
        Box::pin(async move {
            let pool = options(&case)?
                .connect_pool_lazy(
                    PgPoolOptions::new()
                        .max_connections(32)
                        .acquire_timeout(Duration::from_secs(20)),
                )
                .await
                .map_err(|err| Failure::of(&err))?;
            Ok(Box::new(PoolSession {
                pool,
                held: Mutex::default(),
            }) as Box<dyn Session>)
        })
    }
}

impl Session for PoolSession {
    fn connect(&self) -> BoxFuture<'_, Result<String, Failure>> {
        Box::pin(async move {
            let mut connection = self.pool.acquire().await.map_err(|err| Failure::of(&err))?;
            let user = current_user(&mut *connection).await?;
            self.held.lock().unwrap().push(connection);
            Ok(user)
        })
    }

    fn describe(&self) -> String {
        format!("{:?} {:?}", self.pool, self.pool.pool())
    }

    fn settle(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let newest = self.pool.auth().status().expires_on;
            self.pool
                .monitor()
                .wait_for(|status| status.token_expires_on >= newest)
                .await;
        })
    }
}
