//! A bb8 connection manager with Entra login, and an error sink that keeps the
//! cause of failed connects.

use std::sync::{Arc, Mutex, PoisonError};

use tokio_postgres::{
    Client, Socket,
    tls::{MakeTlsConnect, TlsConnect},
};
use tokio_postgres_rustls::MakeRustlsConnect;

use tracing::warn;

use crate::{EntraConnector, Error};

/// A [`bb8::ManageConnection`] that opens each new physical connection through an
/// [`EntraConnector`], so it logs in with the current token from the shared cache.
///
/// Token failures come back as [`Error`] (never a panic); broken connections are
/// detected with `Client::is_closed` and validated with an empty query.
///
/// bb8's `Pool::get` reports a failed connect as `RunError::TimedOut` and hands the
/// error itself to the pool's error sink: install a [`Bb8ErrorSink`] to log it and
/// to read the last cause.
///
/// ```no_run
/// # async fn run(connector: entra_pg_tokio::EntraConnector) -> Result<(), Box<dyn std::error::Error>> {
/// use entra_pg_tokio::{Bb8Manager, bb8};
///
/// let pool = bb8::Pool::builder()
///     .max_size(20)
///     .build(Bb8Manager::new(connector))
///     .await?;
/// let client = pool.get().await?;
/// client.query_one("SELECT 1", &[]).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Bb8Manager<T = MakeRustlsConnect> {
    connector: EntraConnector<T>,
}

impl<T> std::fmt::Debug for Bb8Manager<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bb8Manager")
            .field("connector", &self.connector)
            .finish()
    }
}

impl<T> Bb8Manager<T> {
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

impl<T> bb8::ManageConnection for Bb8Manager<T>
where
    T: MakeTlsConnect<Socket> + Clone + Send + Sync + 'static,
    T::Stream: Send + Sync + 'static,
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
            .map_err(Error::Postgres)
    }

    fn has_broken(&self, client: &mut Client) -> bool {
        client.is_closed()
    }
}

/// A bb8 error sink that logs each connect failure (a `WARN` line with the token-free
/// message) and keeps the last one, since `Pool::get` itself only says `TimedOut`.
///
/// ```no_run
/// # async fn run(connector: entra_pg_tokio::EntraConnector) -> Result<(), Box<dyn std::error::Error>> {
/// use entra_pg_tokio::{Bb8ErrorSink, Bb8Manager, bb8};
///
/// let errors = Bb8ErrorSink::new();
/// let pool = bb8::Pool::builder()
///     .error_sink(Box::new(errors.clone()))
///     .build(Bb8Manager::new(connector))
///     .await?;
/// if let Err(err) = pool.get().await {
///     eprintln!("{err}; last cause: {:?}", errors.last().map(|e| e.to_string()));
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct Bb8ErrorSink {
    last: Arc<Mutex<Option<Arc<Error>>>>,
}

impl Bb8ErrorSink {
    /// A sink with no error yet.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The last error the pool reported, if any.
    #[must_use]
    pub fn last(&self) -> Option<Arc<Error>> {
        self.last
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl bb8::ErrorSink<Error> for Bb8ErrorSink {
    fn sink(&self, error: Error) {
        warn!(kind = error.kind(), error = %error, "entra-pg: bb8 could not open a connection");
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(error));
    }

    fn boxed_clone(&self) -> Box<dyn bb8::ErrorSink<Error>> {
        Box::new(self.clone())
    }
}
