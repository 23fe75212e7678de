//! The driver paths of this crate, for the shared suite: a direct connection,
//! a bb8 pool and a deadpool pool, each over `EntraConnector`.

use std::{sync::Mutex, time::Duration};

use entra_pg_testkit::suite::{BoxFuture, Case, Driver, Failure, Session, pool_get};
use entra_pg_tokio::{
    Bb8Pool, ClientManager, DeadpoolObject, DeadpoolPool, EntraConnector, bb8,
    tokio_postgres::Client,
};

/// Builds the connector a case asks for.
fn connector(case: &Case) -> Result<EntraConnector, Failure> {
    let mut builder = EntraConnector::builder(case.settings.key_value(), case.auth.clone())
        .danger_allow_insecure_transport(case.insecure);
    if let Some(pem) = &case.root_pem {
        builder = builder.root_cert_pem(pem.as_bytes());
    }
    builder.build().map_err(|err| Failure::of(&err))
}

async fn current_user(client: &Client) -> Result<String, Failure> {
    client
        .query_one("SELECT current_user::text", &[])
        .await
        .map(|row| row.get(0))
        .map_err(|err| Failure::pool(&err))
}

/// `EntraConnector::connect_spawned`.
pub(crate) struct Direct;

struct DirectSession {
    connector: EntraConnector,
    held: Mutex<Vec<Client>>,
}

impl Driver for Direct {
    fn name(&self) -> &'static str {
        "tokio-postgres"
    }

    fn require_verifies(&self) -> bool {
        true
    }

    fn open(&self, case: Case) -> BoxFuture<'static, Result<Box<dyn Session>, Failure>> {
        Box::pin(async move {
            Ok(Box::new(DirectSession {
                connector: connector(&case)?,
                held: Mutex::default(),
            }) as Box<dyn Session>)
        })
    }
}

impl Session for DirectSession {
    fn connect(&self) -> BoxFuture<'_, Result<String, Failure>> {
        Box::pin(async move {
            let client = self
                .connector
                .connect_spawned()
                .await
                .map_err(|err| Failure::of(&err))?;
            let user = current_user(&client).await?;
            self.held.lock().unwrap().push(client);
            Ok(user)
        })
    }

    fn describe(&self) -> String {
        format!("{:?}", self.connector)
    }
}

/// A bb8 pool of `ClientManager`.
pub(crate) struct Bb8;

/// A new bb8 pool for each connect (sharing the connector): bb8 reports a
/// failed connect only through the connector, and a pool whose `get` returned
/// early may still count that connect as pending.
struct Bb8Session {
    connector: EntraConnector,
    held: Mutex<Vec<(Bb8Pool, bb8::PooledConnection<'static, ClientManager>)>>,
}

fn bb8_pool(connector: &EntraConnector) -> Bb8Pool {
    bb8::Pool::builder()
        .max_size(1)
        .retry_connection(false)
        .connection_timeout(Duration::from_secs(20))
        .build_unchecked(ClientManager::new(connector.clone()))
}

impl Driver for Bb8 {
    fn name(&self) -> &'static str {
        "bb8 (entra-pg-tokio)"
    }

    fn require_verifies(&self) -> bool {
        true
    }

    fn open(&self, case: Case) -> BoxFuture<'static, Result<Box<dyn Session>, Failure>> {
        Box::pin(async move {
            Ok(Box::new(Bb8Session {
                connector: connector(&case)?,
                held: Mutex::default(),
            }) as Box<dyn Session>)
        })
    }
}

impl Session for Bb8Session {
    fn connect(&self) -> BoxFuture<'_, Result<String, Failure>> {
        Box::pin(async move {
            let pool = bb8_pool(&self.connector);
            let client = pool_get(pool.get_owned(), self.connector.failures()).await?;
            let user = current_user(&client).await?;
            self.held.lock().unwrap().push((pool, client));
            Ok(user)
        })
    }

    fn describe(&self) -> String {
        format!("{:?} {:?}", bb8_pool(&self.connector), self.connector)
    }
}

/// A deadpool pool of `ClientManager`.
pub(crate) struct Deadpool;

struct DeadpoolSession {
    pool: DeadpoolPool,
    held: Mutex<Vec<DeadpoolObject>>,
}

impl Driver for Deadpool {
    fn name(&self) -> &'static str {
        "deadpool (entra-pg-tokio)"
    }

    fn require_verifies(&self) -> bool {
        true
    }

    fn open(&self, case: Case) -> BoxFuture<'static, Result<Box<dyn Session>, Failure>> {
        Box::pin(async move {
            let pool = DeadpoolPool::builder(ClientManager::new(connector(&case)?))
                .max_size(32)
                .build()
                .map_err(|err| Failure::pool(&err))?;
            Ok(Box::new(DeadpoolSession {
                pool,
                held: Mutex::default(),
            }) as Box<dyn Session>)
        })
    }
}

impl Session for DeadpoolSession {
    fn connect(&self) -> BoxFuture<'_, Result<String, Failure>> {
        Box::pin(async move {
            let client = self.pool.get().await.map_err(|err| match err {
                deadpool::managed::PoolError::Backend(err) => Failure::of(&err),
                other => Failure::pool(&other),
            })?;
            let user = current_user(&client).await?;
            self.held.lock().unwrap().push(client);
            Ok(user)
        })
    }

    fn describe(&self) -> String {
        format!("{:?}", self.pool.manager())
    }
}
