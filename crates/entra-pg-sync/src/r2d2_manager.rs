//! An r2d2 connection manager with Entra login.

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

/// An [`r2d2::ManageConnection`] that opens each new physical connection through an
/// [`EntraConnector`], so it logs in with the current token from the shared cache.
///
/// Token failures come back as [`Error`] (r2d2 logs them and `Pool::get` times out
/// with the last one in its message); broken connections are detected with
/// `Client::is_closed` and validated with an empty query.
///
/// ```no_run
/// # fn run(connector: entra_pg_sync::EntraConnector) -> Result<(), Box<dyn std::error::Error>> {
/// use entra_pg_sync::{R2d2Manager, r2d2};
///
/// let pool = r2d2::Pool::builder().max_size(10).build(R2d2Manager::new(connector))?;
/// let mut client = pool.get()?;
/// client.query_one("SELECT 1", &[])?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct R2d2Manager<T = MakeRustlsConnect> {
    connector: EntraConnector<T>,
}

impl<T> std::fmt::Debug for R2d2Manager<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("R2d2Manager")
            .field("connector", &self.connector)
            .finish()
    }
}

impl<T> R2d2Manager<T> {
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

impl<T> r2d2::ManageConnection for R2d2Manager<T>
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
        client.simple_query("").map(drop).map_err(Error::Postgres)
    }

    fn has_broken(&self, client: &mut Client) -> bool {
        client.is_closed()
    }
}
