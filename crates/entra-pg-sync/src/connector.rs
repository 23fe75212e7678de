//! [`EntraConnector`]: settings checked against the contract + [`EntraAuth`] +
//! TLS, opening blocking connections.

use std::{fmt, sync::Arc};

use entra_pg_core::{
    EntraAuth,
    connector::{ConnectorBuilder, CustomTls, Flavor, Parts},
};
use entra_pg_tokio::{
    __private::{Settings, Shared, classify, default_tls},
    Error,
    tokio_postgres::{
        Socket,
        tls::{MakeTlsConnect, TlsConnect},
    },
    tokio_postgres_rustls::MakeRustlsConnect,
};
use postgres::Client;
use tracing::debug;

use crate::settings::{IntoSettings, SyncConfig};

/// Opens blocking `postgres` connections that log in with Microsoft Entra ID.
///
/// The token comes from [`EntraAuth::login_blocking`]: a cache hit costs no
/// runtime work, a miss blocks only the calling thread. Works on plain threads and
/// inside `tokio::task::spawn_blocking`. Clones share everything; pools hold one.
#[derive(Clone)]
pub struct EntraConnector<T = MakeRustlsConnect> {
    shared: Arc<Shared<SyncConfig, T>>,
}

/// The connector flavor of this crate (see `entra_pg_core::connector`). Not API.
#[doc(hidden)]
#[derive(Debug)]
pub struct Blocking;

/// Builds an [`EntraConnector`]: [`ConnectorBuilder`]'s methods (`tls`,
/// `root_cert_pem`, `root_cert_file`, `danger_allow_insecure_transport`, `build`).
pub type EntraConnectorBuilder<T = MakeRustlsConnect> = ConnectorBuilder<Blocking, T>;

impl EntraConnector {
    /// A connector of blocking clients, with entra-pg-tokio's default TLS.
    ///
    /// # Errors
    /// As `entra_pg_tokio::EntraConnector::new`: settings that cannot be parsed
    /// or break the contract (see [`EntraAuth::target`]), or no TLS root.
    pub fn new(settings: impl IntoSettings, auth: EntraAuth) -> Result<Self, Error> {
        Self::builder(settings, auth).build()
    }

    /// A builder (root CAs, your own TLS connector, the transport opt-out).
    pub fn builder(settings: impl IntoSettings, auth: EntraAuth) -> EntraConnectorBuilder {
        ConnectorBuilder::new(settings.into_settings(), auth, default_tls)
    }
}

impl<T> EntraConnector<T>
where
    T: MakeTlsConnect<Socket> + Clone + Send + 'static,
    T::TlsConnect: Send,
    T::Stream: Send,
    <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    /// Opens one connection. Blocks only when a token must be fetched, and while
    /// connecting.
    ///
    /// # Errors
    /// [`Error::Entra`] when no token can be had or the server offers no TLS,
    /// [`Error::Certificate`] when its certificate is not trusted,
    /// [`Error::Rejected`] when it refuses the login (after one retry with a new
    /// token), [`Error::Driver`] otherwise.
    pub fn connect(&self) -> Result<Client, Error> {
        let shared = &*self.shared;
        let target = shared.settings.target();
        shared
            .auth
            .connect_with_blocking(target, &shared.failures, |login| {
                let config = shared.settings.with_login(login.as_ref()).0;
                let user = shared.settings.user(login.as_ref());
                debug!(user, hosts = target.describe(), "entra-pg: connecting");
                config
                    .connect(shared.tls.clone())
                    .map_err(|err| classify(err, target, user))
            })
    }
}

impl<T> EntraConnector<T> {
    entra_pg_core::__connector_accessors!();
}

impl<T> fmt::Debug for EntraConnector<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.shared, f)
    }
}

impl Flavor for Blocking {
    type Settings = Settings<SyncConfig>;
    type Output<T> = EntraConnector<T>;
    type Error = Error;

    fn build<T>(parts: Parts<Settings<SyncConfig>, T>) -> Result<EntraConnector<T>, Error> {
        Ok(EntraConnector {
            shared: Shared::from_parts(parts)?,
        })
    }
}

impl CustomTls for Blocking {}

/// Opens one blocking connection with Entra login and the default TLS: the
/// one-call form of [`EntraConnector::new`] + [`EntraConnector::connect`].
///
/// # Errors
/// As [`EntraConnector::new`] and [`EntraConnector::connect`].
pub fn connect(settings: impl IntoSettings, auth: &EntraAuth) -> Result<Client, Error> {
    EntraConnector::new(settings, auth.clone())?.connect()
}

/// Opens one blocking connection with Entra login and the TLS connector `tls`
/// (see [`ConnectorBuilder::tls`] for what a custom connector must do).
///
/// # Errors
/// As [`EntraConnector::new`] and [`EntraConnector::connect`].
pub fn connect_with_tls<T>(
    settings: impl IntoSettings,
    auth: &EntraAuth,
    tls: T,
) -> Result<Client, Error>
where
    T: MakeTlsConnect<Socket> + Clone + Send + 'static,
    T::TlsConnect: Send,
    T::Stream: Send,
    <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    EntraConnector::builder(settings, auth.clone())
        .tls(tls)
        .build()?
        .connect()
}
