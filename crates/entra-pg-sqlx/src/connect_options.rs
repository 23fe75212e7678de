//! [`EntraConnectOptions`]: the caller's sqlx settings plus an Entra login, making
//! single connections and pools.

use std::fmt;

use entra_pg_core::{ConnInfo, EntraAuth};
use sqlx::{Connection as _, PgConnection, postgres::PgPoolOptions};

use crate::{
    EntraPool, Error,
    options::{Checked, IntoOptions},
};

/// sqlx connect options that log in with Entra: the user (unless given) and the
/// current token are added for each connection, and the server certificate is
/// always verified unless you opt out.
///
/// Cheap to clone; clones share the token cache of their [`EntraAuth`].
#[derive(Clone)]
pub struct EntraConnectOptions {
    settings: Checked,
    auth: EntraAuth,
}

impl EntraConnectOptions {
    /// Options from `options` (a [`PgConnectOptions`](sqlx::postgres::PgConnectOptions) or a `postgres://` URL) with
    /// the default TLS rule: `verify-full` unless `verify-ca` is asked for.
    ///
    /// # Errors
    /// [`InsecureTransport`](entra_pg_core::Error::InsecureTransport) when the
    /// settings ask for `require`, `prefer`, `allow` or `disable`;
    /// [`InvalidConfig`](entra_pg_core::Error::InvalidConfig) for a URL sqlx cannot read.
    pub fn new(options: impl IntoOptions, auth: EntraAuth) -> Result<Self, Error> {
        Self::builder(options, auth).build()
    }

    /// A builder, to add a root certificate or opt out of certificate checks.
    pub fn builder(options: impl IntoOptions, auth: EntraAuth) -> EntraConnectOptionsBuilder {
        EntraConnectOptionsBuilder {
            given: options.into_options(),
            auth,
            root_pem: None,
            allow_insecure: false,
        }
    }

    /// The Entra login these options use.
    #[must_use]
    pub fn auth(&self) -> &EntraAuth {
        &self.auth
    }

    /// Opens one connection, logging in with the current token.
    ///
    /// # Errors
    /// [`Error::Entra`] when no token can be had (nothing is sent), and the typed
    /// connection errors: [`Certificate`](Error::Certificate),
    /// [`Rejected`](Error::Rejected), [`Sqlx`](Error::Sqlx).
    pub async fn connect(&self) -> Result<PgConnection, Error> {
        let login = self.auth.conninfo().await?;
        PgConnection::connect_with(&self.settings.with_login(&login))
            .await
            .map_err(|err| self.connect_error(err, &login))
    }

    /// A pool that opens `max(1, min_connections)` connections now and keeps its
    /// connect options holding a valid token until it is closed or dropped.
    ///
    /// # Errors
    /// As [`connect`](Self::connect), for the first connections.
    pub async fn connect_pool(&self, pool_options: PgPoolOptions) -> Result<EntraPool, Error> {
        let login = self.auth.conninfo().await?;
        let pool = pool_options
            .connect_with(self.settings.with_login(&login))
            .await
            .map_err(|err| self.connect_error(err, &login))?;
        Ok(EntraPool::start(self.clone(), pool, login))
    }

    /// A pool that opens no connection now (`min_connections` are opened in the
    /// background), as [`PgPoolOptions::connect_lazy_with`]. The token is fetched
    /// now, so the first connection already has one.
    ///
    /// # Errors
    /// [`Error::Entra`] when no token can be had.
    pub async fn connect_pool_lazy(&self, pool_options: PgPoolOptions) -> Result<EntraPool, Error> {
        let login = self.auth.conninfo().await?;
        let pool = pool_options.connect_lazy_with(self.settings.with_login(&login));
        Ok(EntraPool::start(self.clone(), pool, login))
    }

    pub(crate) fn into_parts(self) -> (Checked, EntraAuth) {
        (self.settings, self.auth)
    }

    fn connect_error(&self, err: sqlx::Error, login: &ConnInfo) -> Error {
        Error::from_connect(err, self.settings.host(), self.settings.user(login))
    }
}

impl fmt::Debug for EntraConnectOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EntraConnectOptions")
            .field("settings", &self.settings)
            .field("auth", &self.auth)
            .finish()
    }
}

/// Builds [`EntraConnectOptions`]. Get one from [`EntraConnectOptions::builder`].
#[must_use]
pub struct EntraConnectOptionsBuilder {
    given: Result<crate::options::Given, entra_pg_core::Error>,
    auth: EntraAuth,
    root_pem: Option<Vec<u8>>,
    allow_insecure: bool,
}

impl EntraConnectOptionsBuilder {
    /// Trusts the root certificate(s) in `pem` besides the Mozilla roots, as sqlx's
    /// [`PgConnectOptions::ssl_root_cert_from_pem`](sqlx::postgres::PgConnectOptions::ssl_root_cert_from_pem). sqlx already reads a
    /// `PGSSLROOTCERT` file; this replaces it.
    pub fn root_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.root_pem = Some(pem.into());
        self
    }

    /// **Dangerous.** Allows `sslmode` `require`, `prefer`, `allow` and `disable`,
    /// which do not verify the server certificate (or use no TLS): anyone who can
    /// intercept the connection can read the token. For local test servers only.
    pub fn danger_allow_insecure_transport(mut self, allow: bool) -> Self {
        self.allow_insecure = allow;
        self
    }

    /// The options.
    ///
    /// # Errors
    /// As [`EntraConnectOptions::new`].
    pub fn build(self) -> Result<EntraConnectOptions, Error> {
        let settings = Checked::new(self.given?, self.root_pem, self.allow_insecure)?;
        Ok(EntraConnectOptions {
            settings,
            auth: self.auth,
        })
    }
}

impl fmt::Debug for EntraConnectOptionsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EntraConnectOptionsBuilder")
            .field("auth", &self.auth)
            .field("root_pem", &self.root_pem.is_some())
            .field("allow_insecure", &self.allow_insecure)
            .finish_non_exhaustive()
    }
}

/// Opens one connection with `options` and the Entra login `auth`.
///
/// # Errors
/// As [`EntraConnectOptions::new`] and [`EntraConnectOptions::connect`].
pub async fn connect(options: impl IntoOptions, auth: &EntraAuth) -> Result<PgConnection, Error> {
    EntraConnectOptions::new(options, auth.clone())?
        .connect()
        .await
}

/// A pool with `options` and the Entra login `auth`; see
/// [`EntraConnectOptions::connect_pool`].
///
/// # Errors
/// As [`EntraConnectOptions::new`] and [`EntraConnectOptions::connect_pool`].
pub async fn connect_pool(
    options: impl IntoOptions,
    pool_options: PgPoolOptions,
    auth: &EntraAuth,
) -> Result<EntraPool, Error> {
    EntraConnectOptions::new(options, auth.clone())?
        .connect_pool(pool_options)
        .await
}
