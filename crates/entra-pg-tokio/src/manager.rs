//! [`ClientManager`]: the bb8 and deadpool connection manager, opening each new
//! physical connection through an [`EntraConnector`].

use entra_pg_core::ConnectError;
use tokio_postgres::{
    Client, Socket,
    tls::{MakeTlsConnect, TlsConnect},
};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::{EntraConnector, Error};

/// A connection manager for bb8 (feature `bb8`; pooled `tokio_postgres::Client`s)
/// and deadpool (feature `deadpool`; pooled `deadpool_postgres::ClientWrapper`s,
/// with a statement cache) that opens each new physical connection through an
/// [`EntraConnector`], so it logs in with the current token from the shared cache.
///
/// Connections are checked with `Client::is_closed` and an empty query. bb8's
/// `get()` reports a failed connect as `TimedOut`; the connector's
/// [`last_failure`](EntraConnector::last_failure) has the cause.
/// `deadpool_postgres::Manager` cannot report a token failure (its connect hook
/// must return a `tokio_postgres::Error`), hence this manager: failures are
/// [`Error`]s inside `deadpool::managed::PoolError::Backend`.
#[derive(Clone)]
pub struct ClientManager<T = MakeRustlsConnect> {
    connector: EntraConnector<T>,
}

impl<T> std::fmt::Debug for ClientManager<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientManager")
            .field("connector", &self.connector)
            .finish()
    }
}

impl<T> ClientManager<T> {
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

    fn broken(&self, err: tokio_postgres::Error) -> Error {
        ConnectError::Driver {
            target: self.connector.target().describe().to_owned(),
            source: err,
        }
    }
}

/// A bb8 pool of Entra connections.
#[cfg(feature = "bb8")]
#[cfg_attr(docsrs, doc(cfg(feature = "bb8")))]
pub type Bb8Pool<T = MakeRustlsConnect> = bb8::Pool<ClientManager<T>>;

#[cfg(feature = "bb8")]
#[cfg_attr(docsrs, doc(cfg(feature = "bb8")))]
impl<T> bb8::ManageConnection for ClientManager<T>
where
    T: MakeTlsConnect<Socket> + Clone + Send + Sync + 'static,
    T::Stream: Send + 'static,
    T::TlsConnect: Send,
    <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    type Connection = Client;
    type Error = Error;

    async fn connect(&self) -> Result<Client, Error> {
        self.connector.connect_spawned().await
    }

    async fn is_valid(&self, client: &mut Client) -> Result<(), Error> {
        client
            .simple_query("")
            .await
            .map(drop)
            .map_err(|err| self.broken(err))
    }

    fn has_broken(&self, client: &mut Client) -> bool {
        client.is_closed()
    }
}

/// A deadpool pool of Entra connections.
#[cfg(feature = "deadpool")]
#[cfg_attr(docsrs, doc(cfg(feature = "deadpool")))]
pub type DeadpoolPool<T = MakeRustlsConnect> = deadpool::managed::Pool<ClientManager<T>>;

/// A client borrowed from a [`DeadpoolPool`]; derefs to `tokio_postgres::Client`.
#[cfg(feature = "deadpool")]
#[cfg_attr(docsrs, doc(cfg(feature = "deadpool")))]
pub type DeadpoolObject<T = MakeRustlsConnect> = deadpool::managed::Object<ClientManager<T>>;

/// The error of [`DeadpoolPool::get`].
#[cfg(feature = "deadpool")]
#[cfg_attr(docsrs, doc(cfg(feature = "deadpool")))]
pub type DeadpoolError = deadpool::managed::PoolError<Error>;

#[cfg(feature = "deadpool")]
#[cfg_attr(docsrs, doc(cfg(feature = "deadpool")))]
impl<T> deadpool::managed::Manager for ClientManager<T>
where
    T: MakeTlsConnect<Socket> + Clone + Send + Sync + 'static,
    T::Stream: Send + 'static,
    T::TlsConnect: Send,
    <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    type Type = deadpool_postgres::ClientWrapper;
    type Error = Error;

    async fn create(&self) -> Result<deadpool_postgres::ClientWrapper, Error> {
        let (client, connection) = self.connector.connect().await?;
        Ok(deadpool_postgres::ClientWrapper::new(
            client,
            crate::__private::spawn_connection(connection),
        ))
    }

    async fn recycle(
        &self,
        client: &mut deadpool_postgres::ClientWrapper,
        _: &deadpool::managed::Metrics,
    ) -> deadpool::managed::RecycleResult<Error> {
        use deadpool::managed::RecycleError;
        if client.is_closed() {
            return Err(RecycleError::message("connection closed"));
        }
        client
            .simple_query("")
            .await
            .map(drop)
            .map_err(|err| RecycleError::Backend(self.broken(err)))
    }
}
