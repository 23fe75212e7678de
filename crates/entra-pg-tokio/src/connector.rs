//! [`EntraConnector`]: settings checked against the contract + [`EntraAuth`] + TLS,
//! ready to open connections.

use std::{fmt, sync::Arc};

use entra_pg_core::{
    EntraAuth, LastFailure,
    connector::{ConnectorBuilder, CustomTls, Flavor, Parts},
};
use tokio_postgres::{Client, Config, Connection, Socket, tls::MakeTlsConnect};
use tokio_postgres_rustls::MakeRustlsConnect;
use tracing::debug;

use crate::{
    Error,
    error::classify,
    settings::{Checked, IntoSettings, PgConfig, Settings},
    tls::Tls,
};

/// Opens tokio-postgres connections that log in with Microsoft Entra ID.
///
/// Holds the settings (checked against the security contract when built), the
/// shared [`EntraAuth`] and the TLS connector. Each [`connect`](Self::connect)
/// takes the current token from the `EntraAuth` cache, so it costs no token
/// request while the token is fresh, and recovers once from a rejected token.
/// Clones share everything; pools hold one.
#[derive(Clone)]
pub struct EntraConnector<T = MakeRustlsConnect> {
    shared: Arc<Shared<Config, T>>,
}

/// What a connector of this crate or entra-pg-sync shares between its clones:
/// the settings checked against the contract (a `tokio_postgres::Config` or a
/// `postgres::Config`), the Entra login, the TLS connector and the failures.
pub struct Shared<C, T> {
    /// The checked settings.
    pub settings: Checked<C>,
    /// The shared Entra login.
    pub auth: EntraAuth,
    /// The TLS connector.
    pub tls: T,
    /// The last failed connect.
    pub failures: LastFailure,
}

impl<C: PgConfig, T> Shared<C, T> {
    /// Checks the builder's settings against the contract.
    ///
    /// # Errors
    /// When the settings break the contract.
    pub fn from_parts(parts: Parts<Settings<C>, T>) -> Result<Arc<Self>, Error> {
        let settings = parts
            .settings
            .check(&parts.auth, parts.allow_insecure_transport)?;
        Ok(Arc::new(Self {
            settings,
            auth: parts.auth,
            tls: parts.tls,
            failures: LastFailure::default(),
        }))
    }
}

impl<C: fmt::Debug, T> fmt::Debug for Shared<C, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The drivers' Config Debug redacts the password.
        f.debug_struct("EntraConnector")
            .field("settings", &self.settings)
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

/// Builds an [`EntraConnector`]: [`ConnectorBuilder`]'s methods (`tls`,
/// `root_cert_pem`, `root_cert_file`, `danger_allow_insecure_transport`, `build`).
pub type EntraConnectorBuilder<T = MakeRustlsConnect> =
    ConnectorBuilder<crate::__private::Tokio, T>;

impl EntraConnector {
    /// A connector with the default TLS: rustls with the roots of the enabled
    /// features (`webpki-roots` by default).
    ///
    /// # Errors
    /// When the settings cannot be parsed or break the security contract (see
    /// [`EntraAuth::target`]), or no TLS root can be loaded.
    pub fn new(settings: impl IntoSettings, auth: EntraAuth) -> Result<Self, Error> {
        Self::builder(settings, auth).build()
    }

    /// A builder, to add root CAs, give a TLS connector of your own, or opt out
    /// of the transport rule for a local test server.
    pub fn builder(settings: impl IntoSettings, auth: EntraAuth) -> EntraConnectorBuilder {
        ConnectorBuilder::new(
            settings.into_settings(),
            auth,
            crate::__private::default_tls,
        )
    }
}

impl<T> EntraConnector<T>
where
    T: MakeTlsConnect<Socket> + Clone,
{
    /// Opens one connection. Spawn the returned `Connection` (it drives the socket).
    ///
    /// # Errors
    /// [`Error::Entra`] when no token can be had or the server offers no TLS,
    /// [`Error::Certificate`] when its certificate is not trusted,
    /// [`Error::Rejected`] when it refuses the login (after one retry with a new
    /// token), [`Error::Driver`] otherwise.
    pub async fn connect(&self) -> Result<(Client, Connection<Socket, T::Stream>), Error> {
        let shared = &*self.shared;
        let target = shared.settings.target();
        shared
            .auth
            .connect_with(target, &shared.failures, |login| async move {
                let config = shared.settings.with_login(login.as_ref());
                let user = shared.settings.user(login.as_ref());
                debug!(user, hosts = target.describe(), "entra-pg: connecting");
                config
                    .connect(shared.tls.clone())
                    .await
                    .map_err(|err| classify(err, target, user))
            })
            .await
    }

    /// Opens one connection and spawns its `Connection` on the current Tokio runtime.
    ///
    /// # Errors
    /// As [`connect`](Self::connect).
    pub async fn connect_spawned(&self) -> Result<Client, Error>
    where
        T::Stream: Send + 'static,
    {
        let (client, connection) = self.connect().await?;
        crate::__private::spawn_connection(connection);
        Ok(client)
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

impl Flavor for crate::__private::Tokio {
    type Settings = Settings<Config>;
    type Output<T> = EntraConnector<T>;
    type Error = Error;

    fn build<T>(parts: Parts<Settings<Config>, T>) -> Result<EntraConnector<T>, Error> {
        Ok(EntraConnector {
            shared: Shared::from_parts(parts)?,
        })
    }
}

impl CustomTls for crate::__private::Tokio {}

/// Opens one connection with Entra login and the default TLS: the one-call form
/// of [`EntraConnector::new`] + [`EntraConnector::connect`].
///
/// # Errors
/// As [`EntraConnector::new`] and [`EntraConnector::connect`].
pub async fn connect(
    settings: impl IntoSettings,
    auth: &EntraAuth,
) -> Result<
    (
        Client,
        Connection<Socket, <MakeRustlsConnect as MakeTlsConnect<Socket>>::Stream>,
    ),
    Error,
> {
    EntraConnector::new(settings, auth.clone())?.connect().await
}

/// Opens one connection with Entra login and the TLS connector `tls` (see
/// [`ConnectorBuilder::tls`] for what a custom connector must do).
///
/// # Errors
/// As [`EntraConnector::new`] and [`EntraConnector::connect`].
pub async fn connect_with_tls<T>(
    settings: impl IntoSettings,
    auth: &EntraAuth,
    tls: T,
) -> Result<(Client, Connection<Socket, T::Stream>), Error>
where
    T: MakeTlsConnect<Socket> + Clone,
{
    EntraConnector::builder(settings, auth.clone())
        .tls(tls)
        .build()?
        .connect()
        .await
}

/// The default TLS of connectors given no connector of their own.
pub fn default_tls(
    roots: &entra_pg_core::connector::Roots,
) -> Result<MakeRustlsConnect, entra_pg_core::Error> {
    Tls::default_with(roots).map(|tls| tls.connector())
}
