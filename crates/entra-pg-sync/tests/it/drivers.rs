//! The driver paths of this crate, for the shared suite: a blocking connection
//! and an r2d2 pool, each over `EntraConnector`, run on blocking threads.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use entra_pg_sync::{ClientManager, EntraConnector, R2d2Pool, postgres::Client, r2d2};
use entra_pg_testkit::suite::{BoxFuture, Case, Driver, Failure, Session, pool_get};

/// Builds the connector a case asks for.
fn connector(case: &Case) -> Result<EntraConnector, Failure> {
    let mut builder = EntraConnector::builder(case.settings.key_value(), case.auth.clone())
        .danger_allow_insecure_transport(case.insecure);
    if let Some(pem) = &case.root_pem {
        builder = builder.root_cert_pem(pem.as_bytes());
    }
    builder.build().map_err(|err| Failure::of(&err))
}

fn current_user(client: &mut Client) -> Result<String, Failure> {
    client
        .query_one("SELECT current_user::text", &[])
        .map(|row| row.get(0))
        .map_err(|err| Failure::pool(&err))
}

/// Runs blocking work off the async runtime's workers.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(work)
        .await
        .expect("blocking task")
}

/// `EntraConnector::connect` on a blocking thread.
pub(crate) struct Direct;

struct DirectSession {
    connector: EntraConnector,
    held: Arc<Mutex<Vec<Client>>>,
}

/// `postgres::Client`s close on their own runtime: drop them off the async one.
impl Drop for DirectSession {
    fn drop(&mut self) {
        let held = std::mem::take(&mut *self.held.lock().unwrap());
        std::thread::spawn(move || drop(held));
    }
}

impl Driver for Direct {
    fn name(&self) -> &'static str {
        "postgres (blocking)"
    }

    fn require_verifies(&self) -> bool {
        true
    }

    fn open(&self, case: Case) -> BoxFuture<'static, Result<Box<dyn Session>, Failure>> {
        Box::pin(async move {
            Ok(Box::new(DirectSession {
                connector: connector(&case)?,
                held: Arc::default(),
            }) as Box<dyn Session>)
        })
    }
}

impl Session for DirectSession {
    fn connect(&self) -> BoxFuture<'_, Result<String, Failure>> {
        let (connector, held) = (self.connector.clone(), Arc::clone(&self.held));
        Box::pin(blocking(move || {
            let mut client = connector.connect().map_err(|err| Failure::of(&err))?;
            let user = current_user(&mut client)?;
            held.lock().unwrap().push(client);
            Ok(user)
        }))
    }

    fn describe(&self) -> String {
        format!("{:?}", self.connector)
    }
}

/// An r2d2 pool of `ClientManager`.
pub(crate) struct R2d2;

type Pooled = r2d2::PooledConnection<ClientManager>;

/// A new pool for each connect (sharing the connector): r2d2 keeps retrying a
/// failed connect in the background until its timeout.
struct R2d2Session {
    connector: EntraConnector,
    held: Arc<Mutex<Vec<(R2d2Pool, Pooled)>>>,
}

fn r2d2_pool(connector: &EntraConnector) -> R2d2Pool {
    r2d2::Pool::builder()
        .max_size(1)
        .min_idle(Some(0))
        .connection_timeout(Duration::from_secs(10))
        .build_unchecked(ClientManager::new(connector.clone()))
}

/// The pools' `postgres::Client`s close on their own runtime: drop them (and
/// the pools) off the async one.
impl Drop for R2d2Session {
    fn drop(&mut self) {
        let held = std::mem::take(&mut *self.held.lock().unwrap());
        std::thread::spawn(move || drop(held));
    }
}

/// Runs `work` on a thread of its own and awaits its result: unlike
/// `spawn_blocking`, the scenario's runtime need not wait for it at shutdown
/// (an r2d2 `get` that already failed waits out its timeout).
async fn detached<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    let (send, receive) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = send.send(work());
    });
    receive.await.expect("worker thread")
}

impl Driver for R2d2 {
    fn name(&self) -> &'static str {
        "r2d2 (entra-pg-sync)"
    }

    fn require_verifies(&self) -> bool {
        true
    }

    fn open(&self, case: Case) -> BoxFuture<'static, Result<Box<dyn Session>, Failure>> {
        Box::pin(async move {
            Ok(Box::new(R2d2Session {
                connector: connector(&case)?,
                held: Arc::default(),
            }) as Box<dyn Session>)
        })
    }
}

impl Session for R2d2Session {
    fn connect(&self) -> BoxFuture<'_, Result<String, Failure>> {
        let (pool, held) = (r2d2_pool(&self.connector), Arc::clone(&self.held));
        let getter = pool.clone();
        let get = detached(move || getter.get());
        Box::pin(async move {
            let result = pool_get(get, self.connector.failures()).await;
            let mut client = match result {
                Ok(client) => client,
                Err(err) => {
                    // The pool's clients close on their own runtime.
                    std::thread::spawn(move || drop(pool));
                    return Err(err);
                }
            };
            blocking(move || {
                let user = current_user(&mut client)?;
                held.lock().unwrap().push((pool, client));
                Ok(user)
            })
            .await
        })
    }

    fn describe(&self) -> String {
        let pool = r2d2_pool(&self.connector);
        let text = format!("{pool:?} {:?}", self.connector);
        std::thread::spawn(move || drop(pool));
        text
    }
}
