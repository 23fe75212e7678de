//! [`EntraConnector`]: settings + [`EntraAuth`] + TLS, ready to open connections.

use std::fmt;

use entra_pg_core::{EntraAuth, Error as CoreError};
use tokio_postgres::{Client, Config, Connection, Socket, tls::MakeTlsConnect};
use tokio_postgres_rustls::MakeRustlsConnect;
use tracing::debug;

use crate::{
    Error, TlsChoice,
    settings::{CheckedSettings, IntoConfig},
};

/// Opens tokio-postgres connections that log in with Microsoft Entra ID.
///
/// Holds the base settings (with the TLS rule applied), the shared [`EntraAuth`]
/// and the TLS connector. Each [`connect`](Self::connect) takes the current token
/// from the `EntraAuth` cache, so it costs no token request while the token is
/// fresh. Clones share everything; pools hold one.
#[derive(Clone)]
pub struct EntraConnector<T = MakeRustlsConnect> {
    settings: CheckedSettings<Config>,
    auth: EntraAuth,
    tls: T,
}

impl EntraConnector {
    /// A connector with the default TLS ([`Tls::from_env`](crate::Tls::from_env): the roots of the enabled
    /// features plus `PGSSLROOTCERT`).
    ///
    /// # Errors
    /// When the settings cannot be parsed, say `sslmode=disable`, or no TLS root
    /// can be loaded.
    pub fn new(config: impl IntoConfig, auth: EntraAuth) -> Result<Self, Error> {
        Self::builder(config, auth).build()
    }

    /// A builder, to choose the TLS connector or the dangerous plaintext opt-out.
    pub fn builder(config: impl IntoConfig, auth: EntraAuth) -> EntraConnectorBuilder {
        EntraConnectorBuilder {
            config: config.into_config(),
            auth,
            tls: TlsChoice::from_env(),
            allow_plaintext: false,
        }
    }
}

impl<T> EntraConnector<T>
where
    T: MakeTlsConnect<Socket> + Clone,
{
    /// A connector with the given TLS connector (for example
    /// `Tls::builder().root_pem_file(path)?.build()?.connector()`).
    ///
    /// # Errors
    /// When the settings cannot be parsed or say `sslmode=disable`.
    pub fn with_tls(config: impl IntoConfig, auth: EntraAuth, tls: T) -> Result<Self, Error> {
        EntraConnector::builder(config, auth).tls(tls).build()
    }

    /// The settings for one new connection: the base settings with the user (when
    /// they have none) and the current token as the password.
    ///
    /// Handle the result as a secret: it holds the token (its `Debug` does not).
    ///
    /// # Errors
    /// When no token can be had (see [`EntraAuth::conninfo`]).
    pub async fn login_config(&self) -> Result<Config, Error> {
        let login = if self.settings.is_static_login() {
            None
        } else {
            Some(self.auth.conninfo().await?)
        };
        Ok(self.settings.with_login(login.as_ref()))
    }

    /// Opens one connection. Spawn the returned `Connection` (it drives the socket).
    ///
    /// # Errors
    /// [`Error::Entra`] when no token can be had or the server offers no TLS,
    /// [`Error::Certificate`] when its certificate is not trusted,
    /// [`Error::Rejected`] when it refuses the login, [`Error::Postgres`] otherwise.
    pub async fn connect(&self) -> Result<(Client, Connection<Socket, T::Stream>), Error> {
        let config = self.login_config().await?;
        let user = config.get_user().unwrap_or_default();
        let hosts = self.settings.hosts();
        debug!(user, hosts, "entra-pg: connecting");
        config
            .connect(self.tls.clone())
            .await
            .map_err(|err| Error::from_connect(err, hosts, user))
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
        spawn_connection(connection);
        Ok(client)
    }

    /// The shared [`EntraAuth`].
    #[must_use]
    pub fn auth(&self) -> &EntraAuth {
        &self.auth
    }

    /// Whether the settings carry their own user and password, so Entra is not used.
    #[must_use]
    pub fn is_static_login(&self) -> bool {
        self.settings.is_static_login()
    }
}

/// Drives a connection on the current Tokio runtime until it closes.
pub(crate) fn spawn_connection<S>(connection: Connection<Socket, S>) -> tokio::task::JoinHandle<()>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        if let Err(err) = connection.await {
            debug!(error = %err, "entra-pg: connection closed with an error");
        }
    })
}

impl<T> fmt::Debug for EntraConnector<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // tokio_postgres::Config's Debug redacts the password.
        f.debug_struct("EntraConnector")
            .field("settings", &self.settings)
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

/// Builds an [`EntraConnector`].
#[must_use]
pub struct EntraConnectorBuilder<T = MakeRustlsConnect> {
    config: Result<Config, CoreError>,
    auth: EntraAuth,
    tls: TlsChoice<T>,
    allow_plaintext: bool,
}

impl<T> EntraConnectorBuilder<T> {
    /// Uses this TLS connector instead of the default one.
    pub fn tls<U>(self, tls: U) -> EntraConnectorBuilder<U> {
        EntraConnectorBuilder {
            config: self.config,
            auth: self.auth,
            tls: TlsChoice::Given(tls),
            allow_plaintext: self.allow_plaintext,
        }
    }

    /// **Dangerous**: honours `sslmode=disable`, sending the token in the clear.
    /// Only for a local server on a trusted machine; never for Azure.
    /// (`sslmode=prefer` still becomes `require`.)
    pub fn danger_allow_plaintext(mut self, allow: bool) -> Self {
        self.allow_plaintext = allow;
        self
    }

    /// Checks the settings and builds the connector.
    ///
    /// # Errors
    /// When the settings cannot be parsed, say `sslmode=disable` without the
    /// opt-out, or the default TLS cannot be built.
    pub fn build(self) -> Result<EntraConnector<T>, Error> {
        Ok(EntraConnector {
            settings: CheckedSettings::new(self.config?, self.allow_plaintext)?,
            auth: self.auth,
            tls: self.tls.resolve()?,
        })
    }
}

impl<T> fmt::Debug for EntraConnectorBuilder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EntraConnectorBuilder")
            .field("allow_plaintext", &self.allow_plaintext)
            .finish_non_exhaustive()
    }
}

/// Opens one connection with Entra login: the one-call form of
/// [`EntraConnector::with_tls`] + [`EntraConnector::connect`].
///
/// # Errors
/// As [`EntraConnector::with_tls`] and [`EntraConnector::connect`].
pub async fn connect<T>(
    config: impl IntoConfig,
    auth: &EntraAuth,
    tls: T,
) -> Result<(Client, Connection<Socket, T::Stream>), Error>
where
    T: MakeTlsConnect<Socket> + Clone,
{
    EntraConnector::with_tls(config, auth.clone(), tls)?
        .connect()
        .await
}
