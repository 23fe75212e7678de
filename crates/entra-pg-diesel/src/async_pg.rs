//! diesel-async: `AsyncPgConnection`s opened through `entra-pg-tokio`'s connector
//! (verified TLS, current token), and pool managers built on them.

use std::{future::Future, pin::Pin};

use diesel::result::ConnectionError;
use diesel_async::{
    AsyncPgConnection,
    pooled_connection::{AsyncDieselConnectionManager, ManagerConfig},
};
use entra_pg_tokio::{
    EntraConnector,
    tokio_postgres::{
        Socket,
        tls::{MakeTlsConnect, TlsConnect},
    },
    tokio_postgres_rustls::MakeRustlsConnect,
};
use tracing::warn;

use crate::Error;

/// The connector of async connections: `entra-pg-tokio`'s
/// [`EntraConnector`](entra_pg_tokio::EntraConnector) (settings, shared
/// `EntraAuth`, verified rustls TLS).
pub type AsyncConnector<T = MakeRustlsConnect> = EntraConnector<T>;

/// diesel-async's connection manager for `AsyncPgConnection`, as
/// [`async_manager`] builds it: a bb8 `ManageConnection` (feature `async-bb8`) and
/// a deadpool `Manager` (feature `async-deadpool`).
pub type AsyncManager = AsyncDieselConnectionManager<AsyncPgConnection>;

/// A bb8 pool of Entra `AsyncPgConnection`s.
#[cfg(feature = "async-bb8")]
#[cfg_attr(docsrs, doc(cfg(feature = "async-bb8")))]
pub type AsyncBb8Pool = diesel_async::pooled_connection::bb8::Pool<AsyncPgConnection>;

/// A deadpool pool of Entra `AsyncPgConnection`s.
#[cfg(feature = "async-deadpool")]
#[cfg_attr(docsrs, doc(cfg(feature = "async-deadpool")))]
pub type AsyncDeadpoolPool = diesel_async::pooled_connection::deadpool::Pool<AsyncPgConnection>;

/// Opens one `AsyncPgConnection`: a tokio-postgres connection from `connector`
/// (user and current token from the shared cache, verified TLS), driven on the
/// current Tokio runtime, handed to
/// `AsyncPgConnection::try_from_client_and_connection`.
///
/// # Errors
/// [`Error::Entra`] when no token can be had or the server offers no TLS,
/// [`Error::Certificate`] when its certificate is not trusted,
/// [`Error::Rejected`] when it refuses the login, [`Error::Connection`] otherwise.
pub async fn connect_async<T>(connector: &AsyncConnector<T>) -> Result<AsyncPgConnection, Error>
where
    T: MakeTlsConnect<Socket> + Clone,
    T::Stream: Send + 'static,
{
    let (client, connection) = connector.connect().await.map_err(Error::from_tokio)?;
    AsyncPgConnection::try_from_client_and_connection(client, connection)
        .await
        .map_err(Error::Connection)
}

/// A diesel-async [`ManagerConfig`] whose `custom_setup` opens each connection
/// with [`connect_async`] (the default setup would connect without TLS and with
/// a fixed URL). Change `recycling_method` as needed; keep `custom_setup`.
///
/// A failed connect is logged (`WARN`, token-free) and reaches the pool as
/// `ConnectionError::BadConnection` with the [`Error`]'s message.
pub fn async_manager_config<T>(connector: AsyncConnector<T>) -> ManagerConfig<AsyncPgConnection>
where
    T: MakeTlsConnect<Socket> + Clone + Send + Sync + 'static,
    T::Stream: Send + Sync + 'static,
    T::TlsConnect: Send,
    <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    let mut config = ManagerConfig::default();
    config.custom_setup = Box::new(move |_url: &str| {
        let connector = connector.clone();
        let setup: Pin<
            Box<dyn Future<Output = Result<AsyncPgConnection, ConnectionError>> + Send>,
        > = Box::pin(async move {
            connect_async(&connector).await.map_err(|err| {
                warn!(
                    kind = err.kind(),
                    error = %err,
                    "entra-pg: diesel-async could not open a connection"
                );
                ConnectionError::from(err)
            })
        });
        setup
    });
    config
}

/// diesel-async's connection manager with [`async_manager_config`]: build a bb8
/// or deadpool pool with it.
///
/// ```no_run
/// # async fn run(connector: entra_pg_diesel::AsyncConnector) -> Result<(), Box<dyn std::error::Error>> {
/// use diesel_async::RunQueryDsl;
/// use entra_pg_diesel::{AsyncBb8Pool, AsyncDeadpoolPool, async_manager};
///
/// let bb8 = AsyncBb8Pool::builder().max_size(10).build(async_manager(connector.clone())).await?;
/// diesel::sql_query("SELECT 1").execute(&mut bb8.get().await?).await?;
///
/// let deadpool = AsyncDeadpoolPool::builder(async_manager(connector)).max_size(10).build()?;
/// diesel::sql_query("SELECT 1").execute(&mut deadpool.get().await?).await?;
/// # Ok(()) }
/// ```
pub fn async_manager<T>(connector: AsyncConnector<T>) -> AsyncManager
where
    T: MakeTlsConnect<Socket> + Clone + Send + Sync + 'static,
    T::Stream: Send + Sync + 'static,
    T::TlsConnect: Send,
    <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    // The URL is never used (the setup ignores it): no token, no host.
    AsyncDieselConnectionManager::new_with_config("entra-pg", async_manager_config(connector))
}
