//! [`EntraConnector`]: libpq settings checked against the contract + [`EntraAuth`],
//! opening `diesel::PgConnection`s.

use std::{fmt, sync::Arc};

use diesel::{Connection, PgConnection};
use entra_pg_core::{
    EntraAuth, LastFailure,
    connector::{ConnectorBuilder, Flavor, Parts},
};
use tracing::debug;

use crate::{
    Error,
    error::classify_libpq,
    libpq::{Checked, LoginUrl, Settings},
    settings::Params,
};

/// libpq connection settings a connector accepts: a `postgresql://` URL or a
/// `key=value` string, normally without user and password (Entra fills both).
pub trait IntoSettings {
    /// Reads the settings.
    ///
    /// # Errors
    /// When they cannot be parsed (the message never quotes a value).
    fn into_settings(self) -> Result<Settings, entra_pg_core::Error>;
}

impl IntoSettings for &str {
    fn into_settings(self) -> Result<Settings, entra_pg_core::Error> {
        Params::parse(self).map(Settings)
    }
}

impl IntoSettings for String {
    fn into_settings(self) -> Result<Settings, entra_pg_core::Error> {
        self.as_str().into_settings()
    }
}

impl IntoSettings for &String {
    fn into_settings(self) -> Result<Settings, entra_pg_core::Error> {
        self.as_str().into_settings()
    }
}

/// Opens `diesel::PgConnection`s (libpq) that log in with Microsoft Entra ID.
///
/// Holds the settings (checked against the security contract, root bundle
/// chosen) and the shared [`EntraAuth`]. Each [`connect`](Self::connect) takes the
/// user and the current token from [`EntraAuth::login_blocking`] (no request while
/// the token is fresh), builds a libpq URL with both percent-encoded, and calls
/// `PgConnection::establish`. Clones share everything;
/// [`PgConnectionManager`](crate::PgConnectionManager) holds one.
///
/// Like every libpq call, `connect` blocks: use it on plain threads or inside
/// `tokio::task::spawn_blocking`, not on an async executor's worker thread.
#[derive(Clone)]
pub struct EntraConnector {
    shared: Arc<Shared>,
}

struct Shared {
    settings: Checked,
    auth: EntraAuth,
    failures: LastFailure,
}

/// The connector flavor of this crate (see `entra_pg_core::connector`). Not API.
#[doc(hidden)]
#[derive(Debug)]
pub struct Libpq;

/// Builds an [`EntraConnector`]: [`ConnectorBuilder`]'s methods
/// (`root_cert_pem`, `root_cert_file`, `danger_allow_insecure_transport`, `build`).
pub type EntraConnectorBuilder = ConnectorBuilder<Libpq, ()>;

impl EntraConnector {
    /// A connector for libpq `settings`.
    ///
    /// # Errors
    /// When the settings cannot be parsed, break the security contract (see
    /// [`EntraAuth::target`]), or no root certificate bundle can be found.
    pub fn new(settings: impl IntoSettings, auth: EntraAuth) -> Result<Self, Error> {
        Self::builder(settings, auth).build()
    }

    /// A builder, to add root CAs or opt out of the transport rule.
    pub fn builder(settings: impl IntoSettings, auth: EntraAuth) -> EntraConnectorBuilder {
        ConnectorBuilder::new(settings.into_settings(), auth, |_| Ok(()))
    }

    entra_pg_core::__connector_accessors!();

    /// The libpq URL for one new connection: the settings with the user (when
    /// they have none) and the current token as the password, each value
    /// percent-encoded. Blocks only when a token must be fetched.
    ///
    /// Handle the result as a secret: it holds the token (its `Debug` does not).
    ///
    /// # Errors
    /// When no token can be had (see [`EntraAuth::login_blocking`]).
    pub fn login_url(&self) -> Result<LoginUrl, Error> {
        let target = self.target();
        let login = if target.is_static_login() {
            None
        } else {
            Some(self.shared.auth.login_blocking(target)?)
        };
        Ok(self.shared.settings.login_url(login.as_ref()))
    }

    /// Opens one connection (and once more with a new token if the server
    /// rejects it).
    ///
    /// # Errors
    /// [`Error::Entra`] when no token can be had or the server offers no TLS,
    /// [`Error::Certificate`] when its certificate is not trusted,
    /// [`Error::Rejected`] when it refuses the login, [`Error::Driver`] otherwise.
    pub fn connect(&self) -> Result<PgConnection, Error> {
        let shared = &*self.shared;
        let target = shared.settings.target();
        shared
            .auth
            .connect_with_blocking(target, &shared.failures, |login| {
                let url = shared.settings.login_url(login.as_ref());
                // Never the URL: it holds the token.
                debug!(
                    user = url.user(),
                    hosts = target.describe(),
                    "entra-pg: connecting (libpq)"
                );
                PgConnection::establish(url.expose())
                    .map_err(|err| classify_libpq(err, target, url.user(), &url.secrets()))
            })
    }

    /// The root CA file libpq verifies the server against (`sslrootcert`), if any.
    #[must_use]
    pub fn root_cert(&self) -> Option<&std::path::Path> {
        self.shared
            .settings
            .params()
            .get("sslrootcert")
            .map(std::path::Path::new)
    }
}

impl fmt::Debug for EntraConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EntraConnector")
            .field("settings", &self.shared.settings)
            .field("auth", &self.shared.auth)
            .finish()
    }
}

impl Flavor for Libpq {
    type Settings = Settings;
    type Output<T> = EntraConnector;
    type Error = Error;

    fn build<T>(parts: Parts<Settings, T>) -> Result<EntraConnector, Error> {
        let settings =
            parts
                .settings
                .check(&parts.auth, &parts.roots, parts.allow_insecure_transport)?;
        Ok(EntraConnector {
            shared: Arc::new(Shared {
                settings,
                auth: parts.auth,
                failures: LastFailure::default(),
            }),
        })
    }
}

/// Opens one `diesel::PgConnection` with Entra login: the one-call form of
/// [`EntraConnector::new`] + [`EntraConnector::connect`].
///
/// # Errors
/// As [`EntraConnector::new`] and [`EntraConnector::connect`].
pub fn connect(settings: impl IntoSettings, auth: &EntraAuth) -> Result<PgConnection, Error> {
    EntraConnector::new(settings, auth.clone())?.connect()
}

/// A URL with every password removed, safe to log: a `password` query parameter
/// or `key=value` pair, and the password of `user:password@`, become
/// `<redacted>`.
///
/// For diesel instrumentation, whose connection events carry the URL given to
/// `establish` (for Entra connections: the token). Anything it cannot read is
/// replaced whole.
#[must_use]
pub fn redact_url(url: &str) -> String {
    crate::redact::redact_url(url)
}
