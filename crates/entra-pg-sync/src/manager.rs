//! [`ClientManager`]: the r2d2 connection manager, opening each new physical
//! connection through an [`EntraConnector`].

use entra_pg_core::ConnectError;
use entra_pg_tokio::{
    Error,
    tokio_postgres::{
        Socket,
        tls::{MakeTlsConnect, TlsConnect},
    },
    tokio_postgres_rustls::MakeRustlsConnect,
};
use postgres::Client;

use crate::EntraConnector;

/// An [`r2d2::ManageConnection`] for `postgres::Client` that opens each new
/// physical connection through an [`EntraConnector`], so it logs in with the
/// current token from the shared cache.
///
/// Failures come back as [`Error`]: r2d2 logs them and `Pool::get` times out with
/// the last one in its message; the connector's
/// [`last_failure`](EntraConnector::last_failure) has it typed. Connections are
/// checked with `Client::is_closed` and an empty query.
pub struct ClientManager<T = MakeRustlsConnect> {
    connector: EntraConnector<T>,
}

/// An r2d2 pool of Entra connections.
pub type R2d2Pool<T = MakeRustlsConnect> = r2d2::Pool<ClientManager<T>>;

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
}

impl<T> r2d2::ManageConnection for ClientManager<T>
where
    T: MakeTlsConnect<Socket> + Clone + Send + Sync + 'static,
    T::TlsConnect: Send,
    T::Stream: Send,
    <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    type Connection = Client;
    type Error = Error;

    fn connect(&self) -> Result<Client, Error> {
        self.connector.connect()
    }

    fn is_valid(&self, client: &mut Client) -> Result<(), Error> {
        client
            .simple_query("")
            .map(drop)
            .map_err(|err| ConnectError::Driver {
                target: self.connector.target().describe().to_owned(),
                source: err,
            })
    }

    fn has_broken(&self, client: &mut Client) -> bool {
        client.is_closed()
    }
}
