//! diesel-async: `AsyncPgConnection`s opened through `entra-pg-tokio`'s connector
//! (verified TLS, current token, the same contract), and pool managers built on
//! them.

use std::{future::Future, pin::Pin};

use diesel::result::ConnectionError;
use diesel_async::{
    AsyncPgConnection,
    pooled_connection::{AsyncDieselConnectionManager, ManagerConfig},
};
use entra_pg_core::{ConnectError, EntraAuth};
use entra_pg_tokio::{
    EntraConnector, IntoSettings,
    tokio_postgres::{
        Socket,
        tls::{MakeTlsConnect, TlsConnect},
    },
    tokio_postgres_rustls::MakeRustlsConnect,
};

use crate::{DriverError, Error, into_connection_error};

/// The connector of async connections: `entra-pg-tokio`'s
/// [`EntraConnector`](entra_pg_tokio::EntraConnector) (settings checked against
/// the contract, shared `EntraAuth`, verified rustls TLS).
pub type AsyncConnector<T = MakeRustlsConnect> = EntraConnector<T>;

/// diesel-async's connection manager for `AsyncPgConnection`, as
/// [`async_manager`] builds it: a bb8 `ManageConnection` (feature `async-bb8`) and
/// a deadpool `Manager` (feature `async-deadpool`).
pub type AsyncPgConnectionManager = AsyncDieselConnectionManager<AsyncPgConnection>;

/// A bb8 pool of Entra `AsyncPgConnection`s.
#[cfg(feature = "async-bb8")]
#[cfg_attr(docsrs, doc(cfg(feature = "async-bb8")))]
pub type AsyncBb8Pool = diesel_async::pooled_connection::bb8::Pool<AsyncPgConnection>;

/// A deadpool pool of Entra `AsyncPgConnection`s.
#[cfg(feature = "async-deadpool")]
#[cfg_attr(docsrs, doc(cfg(feature = "async-deadpool")))]
pub type AsyncDeadpoolPool = diesel_async::pooled_connection::deadpool::Pool<AsyncPgConnection>;

/// Opens one `AsyncPgConnection` through `connector`: a tokio-postgres connection
/// (user and current token from the shared cache, verified TLS), driven on the
/// current Tokio runtime, handed to
/// `AsyncPgConnection::try_from_client_and_connection`.
///
/// # Errors
/// As [`EntraConnector::connect`], with the driver's error in
/// [`DriverError::TokioPostgres`] (or [`DriverError::Setup`]).
pub async fn async_connection<T>(connector: &AsyncConnector<T>) -> Result<AsyncPgConnection, Error>
where
    T: MakeTlsConnect<Socket> + Clone,
    T::Stream: Send + 'static,
{
    let (client, connection) = connector
        .connect()
        .await
        .map_err(|err| err.map_driver(DriverError::TokioPostgres))?;
    AsyncPgConnection::try_from_client_and_connection(client, connection)
        .await
        .map_err(|err| ConnectError::Driver {
            target: connector.target().describe().to_owned(),
            source: DriverError::Setup(err),
        })
}

/// Opens one `AsyncPgConnection` with Entra login and the default TLS: the
/// one-call form of `AsyncConnector::new` + [`async_connection`].
///
/// # Errors
/// As [`EntraConnector::new`] and [`async_connection`].
pub async fn connect_async(
    settings: impl IntoSettings,
    auth: &EntraAuth,
) -> Result<AsyncPgConnection, Error> {
    let connector = EntraConnector::new(settings, auth.clone())
        .map_err(|err| err.map_driver(DriverError::TokioPostgres))?;
    async_connection(&connector).await
}

/// A diesel-async [`ManagerConfig`] whose `custom_setup` opens each connection
/// with [`async_connection`] (the default setup would connect without TLS and with
/// a fixed URL). Change `recycling_method` as needed; keep `custom_setup`.
///
/// A failed connect reaches the pool as `ConnectionError::BadConnection` with the
/// [`Error`]'s message chain; the connector's
/// [`last_failure`](EntraConnector::last_failure) has it typed.
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
            async_connection(&connector)
                .await
                .map_err(into_connection_error)
        });
        setup
    });
    config
}

/// diesel-async's connection manager with [`async_manager_config`]: build an
/// [`AsyncBb8Pool`] or [`AsyncDeadpoolPool`] with it.
pub fn async_manager<T>(connector: AsyncConnector<T>) -> AsyncPgConnectionManager
where
    T: MakeTlsConnect<Socket> + Clone + Send + Sync + 'static,
    T::Stream: Send + Sync + 'static,
    T::TlsConnect: Send,
    <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    // The URL is never used (the setup ignores it): no token, no host.
    AsyncDieselConnectionManager::new_with_config("entra-pg", async_manager_config(connector))
}
