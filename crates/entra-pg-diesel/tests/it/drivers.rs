//! The driver paths of this crate, for the shared suite: `diesel::PgConnection`
//! through libpq (directly and in an r2d2 pool) and `AsyncPgConnection` in bb8 and
//! deadpool pools.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use diesel::{PgConnection, dsl::sql, sql_types::Text};
use diesel_async::AsyncPgConnection;
use entra_pg_diesel::{
    AsyncBb8Pool, AsyncConnector, AsyncDeadpoolPool, EntraConnector, PgConnectionManager, R2d2Pool,
    async_manager,
};
use entra_pg_testkit::suite::{BoxFuture, Case, Driver, Failure, Session, pool_get};
use scheduled_thread_pool::ScheduledThreadPool;

/// The libpq connector a case asks for.
fn libpq(case: &Case) -> Result<EntraConnector, Failure> {
    let mut builder = EntraConnector::builder(case.settings.key_value(), case.auth.clone())
        .danger_allow_insecure_transport(case.insecure);
    if let Some(pem) = &case.root_pem {
        builder = builder.root_cert_pem(pem.as_bytes());
    }
    builder.build().map_err(|err| Failure::of(&err))
}

/// The async (tokio-postgres) connector a case asks for.
fn tokio(case: &Case) -> Result<AsyncConnector, Failure> {
    let mut builder = AsyncConnector::builder(case.settings.key_value(), case.auth.clone())
        .danger_allow_insecure_transport(case.insecure);
    if let Some(pem) = &case.root_pem {
        builder = builder.root_cert_pem(pem.as_bytes());
    }
    builder.build().map_err(|err| Failure::of(&err))
}

fn current_user(connection: &mut PgConnection) -> Result<String, Failure> {
    diesel::RunQueryDsl::get_result(
        diesel::select(sql::<Text>("current_user::text")),
        connection,
    )
    .map_err(|err| Failure::pool(&err))
}

async fn current_user_async(connection: &mut AsyncPgConnection) -> Result<String, Failure> {
    diesel_async::RunQueryDsl::get_result(
        diesel::select(sql::<Text>("current_user::text")),
        connection,
    )
    .await
    .map_err(|err| Failure::pool(&err))
}

/// Runs blocking libpq work on a thread of its own (an r2d2 `get` that already
/// failed waits out its timeout there, not in the scenario's runtime).
async fn detached<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    let (send, receive) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = send.send(work());
    });
    receive.await.expect("worker thread")
}

/// `EntraConnector::connect` (libpq).
pub(crate) struct Libpq;

struct LibpqSession {
    connector: EntraConnector,
    held: Arc<Mutex<Vec<PgConnection>>>,
}

impl Driver for Libpq {
    fn name(&self) -> &'static str {
        "diesel PgConnection (libpq)"
    }

    fn require_verifies(&self) -> bool {
        false
    }

    fn open(&self, case: Case) -> BoxFuture<'static, Result<Box<dyn Session>, Failure>> {
        Box::pin(async move {
            Ok(Box::new(LibpqSession {
                connector: libpq(&case)?,
                held: Arc::default(),
            }) as Box<dyn Session>)
        })
    }
}

impl Session for LibpqSession {
    fn connect(&self) -> BoxFuture<'_, Result<String, Failure>> {
        let (connector, held) = (self.connector.clone(), Arc::clone(&self.held));
        Box::pin(detached(move || {
            let mut connection = connector.connect().map_err(|err| Failure::of(&err))?;
            let user = current_user(&mut connection)?;
            held.lock().unwrap().push(connection);
            Ok(user)
        }))
    }

    fn describe(&self) -> String {
        format!("{:?}", self.connector)
    }
}

/// diesel's r2d2 pool of `PgConnectionManager`.
pub(crate) struct R2d2;

type Pooled = diesel::r2d2::PooledConnection<PgConnectionManager>;

/// A new pool for each connect (sharing the connector and one worker thread): r2d2
/// keeps retrying a failed connect in the background while its `get` waits.
///
/// Dropping the session waits until no libpq connect is in flight: a process that
/// exits while a worker thread is inside libpq's TLS handshake can crash in
/// OpenSSL's exit-time cleanup.
struct R2d2Session {
    connector: EntraConnector,
    /// r2d2's worker thread for every pool of the session (connects run there).
    worker: Arc<ScheduledThreadPool>,
    /// Each connect's `get` thread and the flag that ends it early.
    getters: Mutex<Vec<(Arc<AtomicBool>, std::thread::JoinHandle<()>)>>,
    held: Arc<Mutex<Vec<(R2d2Pool, Pooled)>>>,
}

fn r2d2_pool(connector: &EntraConnector, worker: &Arc<ScheduledThreadPool>) -> R2d2Pool {
    diesel::r2d2::Pool::builder()
        .max_size(1)
        .min_idle(Some(0))
        .connection_timeout(Duration::from_secs(10))
        .thread_pool(Arc::clone(worker))
        .build_unchecked(PgConnectionManager::new(connector.clone()))
}

impl Driver for R2d2 {
    fn name(&self) -> &'static str {
        "diesel r2d2 (libpq)"
    }

    fn require_verifies(&self) -> bool {
        false
    }

    fn open(&self, case: Case) -> BoxFuture<'static, Result<Box<dyn Session>, Failure>> {
        Box::pin(async move {
            Ok(Box::new(R2d2Session {
                connector: libpq(&case)?,
                worker: Arc::new(ScheduledThreadPool::new(1)),
                getters: Mutex::default(),
                held: Arc::default(),
            }) as Box<dyn Session>)
        })
    }
}

impl Session for R2d2Session {
    fn connect(&self) -> BoxFuture<'_, Result<String, Failure>> {
        let pool = r2d2_pool(&self.connector, &self.worker);
        let held = Arc::clone(&self.held);
        let stop = Arc::new(AtomicBool::new(false));
        let (send, receive) = tokio::sync::oneshot::channel();
        let getter = {
            let (pool, stop) = (pool.clone(), Arc::clone(&stop));
            std::thread::spawn(move || {
                // `get` in short slices, so that the pool (and r2d2's retries) end
                // soon after the scenario has the typed failure.
                let deadline = Instant::now() + Duration::from_secs(10);
                let result = loop {
                    match pool.get_timeout(Duration::from_millis(50)) {
                        Ok(connection) => break Ok(connection),
                        Err(err) if stop.load(Ordering::Relaxed) || Instant::now() >= deadline => {
                            break Err(err);
                        }
                        Err(_) => {}
                    }
                };
                drop(pool);
                let _ = send.send(result);
            })
        };
        self.getters
            .lock()
            .unwrap()
            .push((Arc::clone(&stop), getter));
        Box::pin(async move {
            let got = pool_get(
                async move { receive.await.expect("r2d2 get thread") },
                self.connector.failures(),
            )
            .await;
            stop.store(true, Ordering::Relaxed);
            let mut connection = got?;
            detached(move || {
                let user = current_user(&mut connection)?;
                held.lock().unwrap().push((pool, connection));
                Ok(user)
            })
            .await
        })
    }

    fn describe(&self) -> String {
        format!(
            "{:?} {:?}",
            r2d2_pool(&self.connector, &self.worker),
            self.connector
        )
    }
}

impl Drop for R2d2Session {
    fn drop(&mut self) {
        for (stop, getter) in self.getters.get_mut().unwrap().drain(..) {
            stop.store(true, Ordering::Relaxed);
            let _ = getter.join();
        }
        self.held.lock().unwrap().clear();
        // Every pool is gone, so r2d2 schedules no new connect; wait out the one
        // the worker may be running (jobs run in order on its one thread).
        let (done, finished) = std::sync::mpsc::channel();
        self.worker.execute(move || {
            let _ = done.send(());
        });
        let _ = finished.recv_timeout(Duration::from_secs(30));
    }
}

/// diesel-async's bb8 pool.
pub(crate) struct AsyncBb8;

/// A new pool for each connect (sharing the connector): bb8 reports a failed
/// connect only through the connector, and a pool whose `get` returned early may
/// still count that connect as pending.
struct AsyncBb8Session {
    connector: AsyncConnector,
    held: Mutex<
        Vec<(
            AsyncBb8Pool,
            diesel_async::pooled_connection::bb8::PooledConnection<'static, AsyncPgConnection>,
        )>,
    >,
}

fn bb8_pool(connector: &AsyncConnector) -> AsyncBb8Pool {
    AsyncBb8Pool::builder()
        .max_size(1)
        .retry_connection(false)
        .connection_timeout(Duration::from_secs(20))
        .build_unchecked(async_manager(connector.clone()))
}

impl Driver for AsyncBb8 {
    fn name(&self) -> &'static str {
        "diesel-async bb8"
    }

    fn require_verifies(&self) -> bool {
        true
    }

    fn open(&self, case: Case) -> BoxFuture<'static, Result<Box<dyn Session>, Failure>> {
        Box::pin(async move {
            Ok(Box::new(AsyncBb8Session {
                connector: tokio(&case)?,
                held: Mutex::default(),
            }) as Box<dyn Session>)
        })
    }
}

impl Session for AsyncBb8Session {
    fn connect(&self) -> BoxFuture<'_, Result<String, Failure>> {
        Box::pin(async move {
            let pool = bb8_pool(&self.connector);
            let mut connection = pool_get(pool.get_owned(), self.connector.failures()).await?;
            let user = current_user_async(&mut connection).await?;
            self.held.lock().unwrap().push((pool, connection));
            Ok(user)
        })
    }

    fn describe(&self) -> String {
        format!("{:?} {:?}", bb8_pool(&self.connector), self.connector)
    }
}

/// diesel-async's deadpool pool.
pub(crate) struct AsyncDeadpool;

struct AsyncDeadpoolSession {
    connector: AsyncConnector,
    pool: AsyncDeadpoolPool,
    held: Mutex<Vec<diesel_async::pooled_connection::deadpool::Object<AsyncPgConnection>>>,
}

impl Driver for AsyncDeadpool {
    fn name(&self) -> &'static str {
        "diesel-async deadpool"
    }

    fn require_verifies(&self) -> bool {
        true
    }

    fn open(&self, case: Case) -> BoxFuture<'static, Result<Box<dyn Session>, Failure>> {
        Box::pin(async move {
            let connector = tokio(&case)?;
            let pool = AsyncDeadpoolPool::builder(async_manager(connector.clone()))
                .max_size(32)
                .build()
                .map_err(|err| Failure::pool(&err))?;
            Ok(Box::new(AsyncDeadpoolSession {
                connector,
                pool,
                held: Mutex::default(),
            }) as Box<dyn Session>)
        })
    }
}

impl Session for AsyncDeadpoolSession {
    fn connect(&self) -> BoxFuture<'_, Result<String, Failure>> {
        Box::pin(async move {
            let mut connection = pool_get(self.pool.get(), self.connector.failures()).await?;
            let user = current_user_async(&mut connection).await?;
            self.held.lock().unwrap().push(connection);
            Ok(user)
        })
    }

    fn describe(&self) -> String {
        format!("{:?} {:?}", self.pool.status(), self.connector)
    }
}
