//! [`EntraAuth`], the handle every driver crate asks for a login, and its builder.

use std::{
    fmt,
    sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError},
    time::Duration,
};

use azure_core::credentials::TokenCredential;
use time::OffsetDateTime;

use crate::{
    Cloud, ConnInfo, Error,
    cache::{Lookup, State, wait, wait_blocking},
    clock::{Clock, SystemClock},
};

/// Default time allowed for one token request, management-scope lookup included.
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(30);

/// Default refresh-ahead window: a token is refreshed when less than
/// min(this, half its lifetime) remains.
pub const DEFAULT_REFRESH_AHEAD: Duration = Duration::from_secs(5 * 60);

/// Entra login for PostgreSQL: gives the user name and a fresh access token for each
/// new connection, from a cache shared by all clones.
///
/// Build one per server (scope) and credential, and share it with every pool and
/// connection; clones are cheap and share the cache. Tokens are requested on first
/// use, never at construction, and refreshed ahead of expiry while connections keep
/// being served the still-valid token. Concurrent callers share one request.
#[derive(Clone)]
pub struct EntraAuth {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) credential: Arc<dyn TokenCredential>,
    pub(crate) scope: String,
    pub(crate) management_scope: &'static str,
    /// The PostgreSQL user: set at build when explicit, else after the first token.
    pub(crate) user: OnceLock<Arc<str>>,
    pub(crate) refresh_ahead: time::Duration,
    pub(crate) fetch_timeout: Duration,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) state: Mutex<State>,
}

impl Inner {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl EntraAuth {
    /// Entra login with the defaults: public cloud, user from the token claims.
    #[must_use]
    pub fn new(credential: Arc<dyn TokenCredential>) -> Self {
        Self::builder(credential)
            .build()
            .unwrap_or_else(|_| unreachable!("the default configuration is valid"))
    }

    /// A builder to set the user, cloud, scope, refresh window, timeout or clock.
    pub fn builder(credential: Arc<dyn TokenCredential>) -> EntraAuthBuilder {
        EntraAuthBuilder {
            credential,
            user: None,
            scope: None,
            cloud: Cloud::Public,
            refresh_ahead: DEFAULT_REFRESH_AHEAD,
            fetch_timeout: DEFAULT_FETCH_TIMEOUT,
            clock: Arc::new(SystemClock),
        }
    }

    /// The user and token for a new connection.
    ///
    /// Returns at once while the cached token is fresh; while it is in its refresh
    /// window, returns it and starts one background refresh. With no usable token,
    /// waits for the one shared request. Dropping the future does not cancel that
    /// request for other callers.
    ///
    /// # Errors
    /// When no usable token is cached and the request fails or times out.
    pub async fn conninfo(&self) -> Result<ConnInfo, Error> {
        match self.inner.lookup(false)? {
            Lookup::Ready(info) => Ok(info),
            Lookup::Wait(waiter) => wait(waiter).await,
        }
    }

    /// [`conninfo`](Self::conninfo) for synchronous drivers: blocks the calling thread
    /// only when it has to wait for a token.
    ///
    /// Works on plain threads and on threads of a Tokio runtime that may block (for
    /// example inside `spawn_blocking`); it never starts a runtime of its own on the
    /// caller's thread, so it cannot panic with "cannot start a runtime from within a
    /// runtime". Do not call it on an async executor's worker thread.
    ///
    /// # Errors
    /// As [`conninfo`](Self::conninfo).
    pub fn conninfo_blocking(&self) -> Result<ConnInfo, Error> {
        match self.inner.lookup(false)? {
            Lookup::Ready(info) => Ok(info),
            Lookup::Wait(waiter) => wait_blocking(waiter),
        }
    }

    /// Requests a new token now, or joins the request already under way, ignoring
    /// freshness and back-off. Returns the request's result.
    ///
    /// # Errors
    /// When the request fails or times out.
    pub async fn refresh(&self) -> Result<ConnInfo, Error> {
        match self.inner.lookup(true)? {
            Lookup::Ready(info) => Ok(info),
            Lookup::Wait(waiter) => wait(waiter).await,
        }
    }

    /// Waits for the token request under way, if any, and returns its result;
    /// `None` when no request is under way. Starts nothing. Useful after
    /// [`conninfo`](Self::conninfo) started a background refresh, to observe its outcome.
    pub async fn wait_for_refresh(&self) -> Option<Result<ConnInfo, Error>> {
        let waiter = self.inner.lock().inflight_waiter()?;
        Some(wait(waiter).await)
    }

    /// The PostgreSQL user, once known: the explicit user, or the one derived from
    /// the first token.
    #[must_use]
    pub fn user(&self) -> Option<&str> {
        self.inner.user.get().map(|user| &**user)
    }

    /// The token scope this login asks for.
    #[must_use]
    pub fn scope(&self) -> &str {
        &self.inner.scope
    }

    /// The current time on this login's clock (the system clock unless
    /// [`EntraAuthBuilder::clock`] set another), the time that the
    /// [`CacheStatus`] times are measured against.
    #[must_use]
    pub fn now(&self) -> OffsetDateTime {
        self.inner.clock.now()
    }

    /// A snapshot of the cache, for health checks and metrics. Contains no token.
    #[must_use]
    pub fn status(&self) -> CacheStatus {
        self.inner.status()
    }
}

impl fmt::Debug for EntraAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EntraAuth")
            .field("scope", &self.inner.scope)
            .field("user", &self.user())
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

/// What the token cache holds right now. Never contains a token.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CacheStatus {
    /// Expiry of the cached token, if any.
    pub expires_on: Option<OffsetDateTime>,
    /// When the cached token becomes due for a refresh.
    pub refresh_at: Option<OffsetDateTime>,
    /// Whether a token request is under way.
    pub refreshing: bool,
    /// Failed requests since the last success.
    pub consecutive_failures: u32,
    /// Before this time a failed refresh is not retried while the cached token is valid.
    pub next_attempt: Option<OffsetDateTime>,
    /// The error of the last failed request since the last success.
    pub last_error: Option<Error>,
}

/// Builds an [`EntraAuth`]. Get one from [`EntraAuth::builder`].
#[must_use]
pub struct EntraAuthBuilder {
    credential: Arc<dyn TokenCredential>,
    user: Option<String>,
    scope: Option<String>,
    cloud: Cloud,
    refresh_ahead: Duration,
    fetch_timeout: Duration,
    clock: Arc<dyn Clock>,
}

impl EntraAuthBuilder {
    /// Logs in as this PostgreSQL user instead of reading it from the token claims
    /// (no claim lookup, no management-scope token). Use it for group roles, or when
    /// the role name differs from the principal's name.
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }

    /// The cloud of the server; sets the database and management scopes.
    /// Defaults to [`Cloud::Public`].
    pub fn cloud(mut self, cloud: Cloud) -> Self {
        self.cloud = cloud;
        self
    }

    /// Picks the cloud from the server's host name (see [`Cloud::from_host`]); a host
    /// that is not an Azure server name (`localhost`, an IP, a custom DNS alias)
    /// leaves the cloud as it was.
    pub fn host(mut self, host: &str) -> Self {
        if let Some(cloud) = Cloud::from_host(host) {
            self.cloud = cloud;
        }
        self
    }

    /// Overrides the database token scope (for example a private audience). The
    /// management scope still follows [`cloud`](Self::cloud).
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// Refresh a token when less than this remains (capped at half the token's
    /// lifetime, so short-lived tokens are still cached). Default 5 minutes.
    pub fn refresh_ahead(mut self, window: Duration) -> Self {
        self.refresh_ahead = window;
        self
    }

    /// Longest time one token request may take, management-scope lookup included.
    /// Default 30 seconds. Credentials retry failed requests internally; this bounds
    /// how long a connect can wait on them.
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        self.fetch_timeout = timeout;
        self
    }

    /// The clock the cache compares expiry with. Tests inject a
    /// [`ManualClock`](crate::clock::ManualClock); the default is the system clock.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Checks the settings and builds the [`EntraAuth`]. Requests no token.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for an empty user or scope, a scope containing
    /// whitespace, or a zero fetch timeout.
    pub fn build(self) -> Result<EntraAuth, Error> {
        let invalid = |reason: &str| Error::InvalidConfig {
            reason: reason.to_owned(),
        };
        let scope = self
            .scope
            .unwrap_or_else(|| self.cloud.database_scope().to_owned());
        if scope.is_empty() || scope.contains(char::is_whitespace) {
            return Err(invalid(
                "the token scope must be one non-empty scope without spaces, such as \
                 https://ossrdbms-aad.database.windows.net/.default",
            ));
        }
        if self.user.as_deref() == Some("") {
            return Err(invalid(
                "the PostgreSQL user is empty; leave it unset to derive it from the token",
            ));
        }
        if self.fetch_timeout.is_zero() {
            return Err(invalid("fetch_timeout must be greater than zero"));
        }
        let refresh_ahead = time::Duration::try_from(self.refresh_ahead)
            .map_err(|_| invalid("refresh_ahead is too large"))?;
        let user = OnceLock::new();
        if let Some(explicit) = self.user {
            let _ = user.set(Arc::from(explicit));
        }
        Ok(EntraAuth {
            inner: Arc::new(Inner {
                credential: self.credential,
                scope,
                management_scope: self.cloud.management_scope(),
                user,
                refresh_ahead,
                fetch_timeout: self.fetch_timeout,
                clock: self.clock,
                state: Mutex::default(),
            }),
        })
    }
}

impl fmt::Debug for EntraAuthBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EntraAuthBuilder")
            .field("user", &self.user)
            .field("scope", &self.scope)
            .field("cloud", &self.cloud)
            .field("refresh_ahead", &self.refresh_ahead)
            .field("fetch_timeout", &self.fetch_timeout)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}
