//! A deadpool manager with Entra login, producing `deadpool_postgres` clients.

use crate::{EntraConnector, Error, connector::spawn_connection};
use deadpool::managed::{self, Metrics, RecycleError, RecycleResult};
use deadpool_postgres::ClientWrapper;
use tokio_postgres::{
    Socket,
    tls::{MakeTlsConnect, TlsConnect},
};
use tokio_postgres_rustls::MakeRustlsConnect;

/// A [`deadpool::managed::Manager`] that opens each new physical connection through
/// an [`EntraConnector`]. Objects are `deadpool_postgres` [`ClientWrapper`]s (a
/// `tokio_postgres::Client` with a statement cache).
///
/// `deadpool_postgres::Manager` cannot report a token failure (its connect hook
/// must return a `tokio_postgres::Error`), hence this manager: failures are
/// [`Error`]s inside `deadpool::managed::PoolError::Backend`.
///
/// ```no_run
/// # async fn run(connector: entra_pg_tokio::EntraConnector) -> Result<(), Box<dyn std::error::Error>> {
/// use entra_pg_tokio::{DeadpoolManager, DeadpoolPool};
///
/// let pool = DeadpoolPool::builder(DeadpoolManager::new(connector))
///     .max_size(20)
///     .build()?;
/// let client = pool.get().await?;
/// client.query_one("SELECT 1", &[]).await?;
/// # Ok(()) }
/// ```
pub struct DeadpoolManager<T = MakeRustlsConnect> {
    connector: EntraConnector<T>,
}

/// A deadpool pool of Entra connections.
pub type DeadpoolPool<T = MakeRustlsConnect> = managed::Pool<DeadpoolManager<T>>;

/// A client borrowed from a [`DeadpoolPool`]; derefs to `tokio_postgres::Client`.
pub type DeadpoolObject<T = MakeRustlsConnect> = managed::Object<DeadpoolManager<T>>;

/// The error of [`DeadpoolPool::get`].
pub type DeadpoolError = managed::PoolError<Error>;

impl<T> std::fmt::Debug for DeadpoolManager<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeadpoolManager")
            .field("connector", &self.connector)
            .finish()
    }
}

impl<T> DeadpoolManager<T> {
    /// A manager opening connections through `connector`.
    #[must_use]
    pub fn new(connector: EntraConnector<T>) -> Self {
        Self { connector }
    }

    /// The connector.
    #[must_use]
    pub fn connector(&self) -> &EntraConnector<T> {
        &self.connector
    }
}

impl<T> managed::Manager for DeadpoolManager<T>
where
    T: MakeTlsConnect<Socket> + Clone + Send + Sync + 'static,
    T::Stream: Send + Sync + 'static,
    T::TlsConnect: Send,
    <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    type Type = ClientWrapper;
    type Error = Error;

    async fn create(&self) -> Result<ClientWrapper, Error> {
        let (client, connection) = self.connector.connect().await?;
        Ok(ClientWrapper::new(client, spawn_connection(connection)))
    }

    async fn recycle(&self, client: &mut ClientWrapper, _: &Metrics) -> RecycleResult<Error> {
        if client.is_closed() {
            return Err(RecycleError::message("connection closed"));
        }
        client
            .simple_query("")
            .await
            .map(drop)
            .map_err(|err| RecycleError::Backend(Error::Postgres(err)))
    }
}
