//! [`EntraConnectOptions`]: the caller's sqlx settings checked against the
//! contract, plus an Entra login, making single connections and pools.

use std::{fmt, sync::Arc};

use entra_pg_core::{
    EntraAuth, LastFailure, Login,
    connector::{ConnectorBuilder, Flavor, Parts},
};
use sqlx::{
    Connection as _, PgConnection,
    postgres::{PgConnectOptions, PgPoolOptions},
};

use crate::{
    EntraPool, Error,
    error::classify,
    settings::{Checked, IntoSettings, Settings},
};

/// sqlx connect options that log in with Entra: the user (unless given) and the
/// current token are added for each connection, and the server certificate is
/// always verified (`verify-full`) unless you opt out.
///
/// Cheap to clone; clones share the token cache of their [`EntraAuth`].
#[derive(Clone)]
pub struct EntraConnectOptions {
    pub(crate) shared: Arc<Shared>,
}

pub(crate) struct Shared {
    pub(crate) settings: Checked,
    pub(crate) auth: EntraAuth,
    pub(crate) failures: LastFailure,
}

/// The connector flavor of this crate (see `entra_pg_core::connector`). Not API.
#[doc(hidden)]
#[derive(Debug)]
pub struct Sqlx;

/// Builds [`EntraConnectOptions`]: [`ConnectorBuilder`]'s methods
/// (`root_cert_pem`, `root_cert_file`, `danger_allow_insecure_transport`, `build`).
pub type EntraConnectOptionsBuilder = ConnectorBuilder<Sqlx, ()>;

impl EntraConnectOptions {
    /// Options from `settings` (a [`PgConnectOptions`] or a `postgres://` URL).
    ///
    /// # Errors
    /// When the URL cannot be read or the settings break the security contract
    /// (see [`EntraAuth::target`]): `sslmode` other than `verify-full`, a socket,
    /// no host, a host outside the policy.
    pub fn new(settings: impl IntoSettings, auth: EntraAuth) -> Result<Self, Error> {
        Self::builder(settings, auth).build()
    }

    /// A builder, to add root CAs or opt out of the transport rule.
    pub fn builder(settings: impl IntoSettings, auth: EntraAuth) -> EntraConnectOptionsBuilder {
        ConnectorBuilder::new(settings.into_settings(), auth, |_| Ok(()))
    }

    entra_pg_core::__connector_accessors!();

    /// Opens one connection, logging in with the current token (and once more
    /// with a new token if the server rejects it).
    ///
    /// # Errors
    /// [`Error::Entra`] when no token can be had (nothing is sent), and the typed
    /// connection errors: [`Certificate`](Error::Certificate),
    /// [`Rejected`](Error::Rejected), [`Driver`](Error::Driver).
    pub async fn connect(&self) -> Result<PgConnection, Error> {
        let shared = &*self.shared;
        let target = shared.settings.target();
        shared
            .auth
            .connect_with(target, &shared.failures, |login| async move {
                PgConnection::connect_with(&shared.settings.with_login(login.as_ref()))
                    .await
                    .map_err(|err| classify(err, target, shared.settings.user(login.as_ref())))
            })
            .await
    }

    /// A pool that opens `max(1, min_connections)` connections now and keeps its
    /// connect options holding the newest token until it is closed.
    ///
    /// # Errors
    /// As [`connect`](Self::connect), for the first connections.
    pub async fn connect_pool(&self, pool_options: PgPoolOptions) -> Result<EntraPool, Error> {
        let login = self.first_login().await?;
        let options = self.shared.settings.with_login(login.as_ref());
        match pool_options.connect_with(options).await {
            Ok(pool) => Ok(EntraPool::start(self.clone(), pool, login)),
            Err(err) => {
                let err = classify(
                    err,
                    self.target(),
                    self.shared.settings.user(login.as_ref()),
                );
                self.shared.failures.record(&err);
                Err(err)
            }
        }
    }

    /// A pool that opens no connection now (`min_connections` are opened in the
    /// background), as [`PgPoolOptions::connect_lazy_with`]. The token is fetched
    /// now, so the first connection already has one.
    ///
    /// # Errors
    /// [`Error::Entra`] when no token can be had.
    pub async fn connect_pool_lazy(&self, pool_options: PgPoolOptions) -> Result<EntraPool, Error> {
        let login = self.first_login().await?;
        let pool = pool_options.connect_lazy_with(self.shared.settings.with_login(login.as_ref()));
        Ok(EntraPool::start(self.clone(), pool, login))
    }

    async fn first_login(&self) -> Result<Option<Login>, Error> {
        let target = self.target();
        if target.is_static_login() {
            return Ok(None);
        }
        match self.shared.auth.login(target).await {
            Ok(login) => Ok(Some(login)),
            Err(err) => {
                let err = Error::Entra(err);
                self.shared.failures.record(&err);
                Err(err)
            }
        }
    }

    pub(crate) fn options_for(&self, login: Option<&Login>) -> PgConnectOptions {
        self.shared.settings.with_login(login)
    }
}

impl fmt::Debug for EntraConnectOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EntraConnectOptions")
            .field("settings", &self.shared.settings)
            .field("auth", &self.shared.auth)
            .finish()
    }
}

impl Flavor for Sqlx {
    type Settings = Settings;
    type Output<T> = EntraConnectOptions;
    type Error = Error;

    fn build<T>(parts: Parts<Settings, T>) -> Result<EntraConnectOptions, Error> {
        let settings =
            parts
                .settings
                .check(&parts.auth, &parts.roots, parts.allow_insecure_transport)?;
        Ok(EntraConnectOptions {
            shared: Arc::new(Shared {
                settings,
                auth: parts.auth,
                failures: LastFailure::default(),
            }),
        })
    }
}

/// Opens one connection with `settings` and the Entra login `auth`.
///
/// # Errors
/// As [`EntraConnectOptions::new`] and [`EntraConnectOptions::connect`].
pub async fn connect(settings: impl IntoSettings, auth: &EntraAuth) -> Result<PgConnection, Error> {
    EntraConnectOptions::new(settings, auth.clone())?
        .connect()
        .await
}

/// A pool with `settings` and the Entra login `auth`; see
/// [`EntraConnectOptions::connect_pool`].
///
/// # Errors
/// As [`EntraConnectOptions::new`] and [`EntraConnectOptions::connect_pool`].
pub async fn connect_pool(
    settings: impl IntoSettings,
    pool_options: PgPoolOptions,
    auth: &EntraAuth,
) -> Result<EntraPool, Error> {
    EntraConnectOptions::new(settings, auth.clone())?
        .connect_pool(pool_options)
        .await
}
