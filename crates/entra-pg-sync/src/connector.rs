//! [`EntraConnector`]: settings + [`EntraAuth`] + TLS, opening blocking connections.

use std::fmt;

use entra_pg_core::{EntraAuth, Error as CoreError};
use entra_pg_tokio::{
    Error, TlsChoice,
    settings::CheckedSettings,
    tokio_postgres::{
        Socket,
        tls::{MakeTlsConnect, TlsConnect},
    },
    tokio_postgres_rustls::MakeRustlsConnect,
};
use postgres::Client;
use tracing::debug;

use crate::settings::{IntoConfig, Settings};

/// Opens blocking `postgres` connections that log in with Microsoft Entra ID.
///
/// The token comes from [`EntraAuth::conninfo_blocking`]: a cache hit costs no
/// runtime work, a miss blocks only the calling thread. Works on plain threads and
/// inside `tokio::task::spawn_blocking`. Clones share everything; pools hold one.
#[derive(Clone)]
pub struct EntraConnector<T = MakeRustlsConnect> {
    settings: CheckedSettings<Settings>,
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
    T: MakeTlsConnect<Socket> + Clone + Send + 'static,
    T::TlsConnect: Send,
    T::Stream: Send,
    <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    /// A connector with the given TLS connector.
    ///
    /// # Errors
    /// When the settings cannot be parsed or say `sslmode=disable`.
    pub fn with_tls(config: impl IntoConfig, auth: EntraAuth, tls: T) -> Result<Self, Error> {
        EntraConnector::builder(config, auth).tls(tls).build()
    }

    /// The settings for one new connection: the base settings with the user (when
    /// they have none) and the current token as the password. Blocks only when a
    /// token must be fetched.
    ///
    /// # Errors
    /// When no token can be had (see [`EntraAuth::conninfo_blocking`]).
    pub fn login_config(&self) -> Result<postgres::Config, Error> {
        let login = if self.settings.is_static_login() {
            None
        } else {
            Some(self.auth.conninfo_blocking()?)
        };
        Ok(self.settings.with_login(login.as_ref()).0)
    }

    /// Opens one connection.
    ///
    /// # Errors
    /// [`Error::Entra`] when no token can be had or the server offers no TLS,
    /// [`Error::Certificate`] when its certificate is not trusted,
    /// [`Error::Rejected`] when it refuses the login, [`Error::Postgres`] otherwise.
    pub fn connect(&self) -> Result<Client, Error> {
        let config = self.login_config()?;
        let user = config.get_user().unwrap_or_default();
        let hosts = self.settings.hosts();
        debug!(user, hosts, "entra-pg: connecting");
        config
            .connect(self.tls.clone())
            .map_err(|err| Error::from_connect(err, hosts, user))
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

impl<T> fmt::Debug for EntraConnector<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // postgres::Config's Debug redacts the password.
        f.debug_struct("EntraConnector")
            .field("settings", &self.settings)
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

/// Builds an [`EntraConnector`].
#[must_use]
pub struct EntraConnectorBuilder<T = MakeRustlsConnect> {
    config: Result<postgres::Config, CoreError>,
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
            settings: CheckedSettings::new(Settings(self.config?), self.allow_plaintext)?,
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

/// Opens one blocking connection with Entra login: the one-call form of
/// [`EntraConnector::with_tls`] + [`EntraConnector::connect`].
///
/// # Errors
/// As [`EntraConnector::with_tls`] and [`EntraConnector::connect`].
pub fn connect<T>(config: impl IntoConfig, auth: &EntraAuth, tls: T) -> Result<Client, Error>
where
    T: MakeTlsConnect<Socket> + Clone + Send + 'static,
    T::TlsConnect: Send,
    T::Stream: Send,
    <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    EntraConnector::with_tls(config, auth.clone(), tls)?.connect()
}
