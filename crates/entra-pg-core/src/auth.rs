//! [`EntraAuth`], the handle every driver crate asks for a login.

use std::{
    fmt,
    sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError},
    time::Duration,
};

use azure_core::credentials::TokenCredential;
use time::OffsetDateTime;
use tokio::sync::watch;

use crate::{
    Cloud, Destination, EntraAuthBuilder, Error, Login, Target,
    cache::{Lookup, State},
    clock::{Clock, Jitter},
    login::Token,
    policy::HostPolicy,
    target,
    wait::{bounded, bounded_blocking},
};

/// Entra login for PostgreSQL: checks where connections go, and gives the user
/// name and a fresh access token for each new connection, from a cache shared by
/// all clones.
///
/// Build one per credential (and cloud), and share it with every pool and
/// connection; clones are cheap and share the cache. Tokens are requested on first
/// use, never at construction, and refreshed ahead of expiry while connections keep
/// being served the still-valid token. Concurrent callers share one request.
///
/// A token is handed out only for a [`Target`] this `EntraAuth` checked: hosts
/// under the cloud's Azure Database for PostgreSQL domain, or allowed with
/// [`EntraAuthBuilder::allow_host`], reached over verified TLS. Driver crates do
/// this for you; see the crate documentation for the full contract.
#[derive(Clone)]
pub struct EntraAuth {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) credential: Arc<dyn TokenCredential>,
    pub(crate) scope: String,
    pub(crate) cloud: Cloud,
    pub(crate) management_scope: &'static str,
    /// The user given to the builder, if any.
    pub(crate) explicit_user: Option<Arc<str>>,
    /// The user derived from the claims, once known.
    pub(crate) derived_user: OnceLock<Arc<str>>,
    pub(crate) policy: HostPolicy,
    pub(crate) refresh_ahead: time::Duration,
    pub(crate) fetch_timeout: Duration,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) jitter: Jitter,
    pub(crate) state: Mutex<State>,
    /// Bumped after every new token, for adapters that keep one in driver settings.
    pub(crate) changes: watch::Sender<u64>,
}

impl Inner {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl EntraAuth {
    /// Entra login with the defaults: public cloud, default host policy
    /// (`*.postgres.database.azure.com`), user from the token claims.
    #[must_use]
    pub fn new(credential: Arc<dyn TokenCredential>) -> Self {
        Self::builder(credential)
            .build()
            .unwrap_or_else(|_| unreachable!("the default configuration is valid"))
    }

    /// A builder to set the user, cloud, allowed hosts, refresh window, timeout or
    /// clock.
    pub fn builder(credential: Arc<dyn TokenCredential>) -> EntraAuthBuilder {
        EntraAuthBuilder::new(credential)
    }

    /// Applies the security contract to a connection's [`Destination`]: the
    /// transport rule, static-login detection and the host policy. Done once per
    /// set of connection settings (driver crates do it when a connector is built).
    ///
    /// # Errors
    /// [`Error::InsecureTransport`] for a Unix socket, no host, `hostaddr` without
    /// a host name, or an `sslmode` that does not verify the server fully (unless
    /// the destination opts out); [`Error::HostNotAllowed`] for a host outside the
    /// policy.
    pub fn target(&self, destination: Destination) -> Result<Target, Error> {
        target::check(self, destination)
    }

    /// The user and token for one new connection to `target`.
    ///
    /// Returns at once while the cached token is fresh; while it is in its refresh
    /// window, returns it and starts one background refresh. With no usable token,
    /// waits for the one shared request (at most the fetch timeout and a little
    /// grace). Right after a failed request, callers get its error at once until
    /// the back-off has passed, instead of asking again. Dropping the future does
    /// not cancel the request for other callers.
    ///
    /// # Errors
    /// When no usable token can be had, the user cannot be derived, or `target`
    /// was checked by another `EntraAuth` with a policy that refuses its hosts.
    pub async fn login(&self, target: &Target) -> Result<Login, Error> {
        if let Some(login) = self.fresh_login(target)? {
            return Ok(login);
        }
        let token = match self.inner.lookup(false) {
            Lookup::Ready(token) => token,
            Lookup::Wait(inflight) => bounded(&self.inner, inflight).await?,
            Lookup::Failed(error) => return Err(error),
        };
        self.finish_login(target, token).await
    }

    /// [`login`](Self::login) for synchronous drivers: blocks the calling thread
    /// only when it has to wait for a token.
    ///
    /// Works on plain threads and on threads of a Tokio runtime that may block (for
    /// example inside `spawn_blocking`); it never starts a runtime of its own on the
    /// caller's thread, so it cannot panic with "cannot start a runtime from within a
    /// runtime". Do not call it on an async executor's worker thread.
    ///
    /// # Errors
    /// As [`login`](Self::login).
    pub fn login_blocking(&self, target: &Target) -> Result<Login, Error> {
        if let Some(login) = self.fresh_login(target)? {
            return Ok(login);
        }
        let token = match self.inner.lookup(false) {
            Lookup::Ready(token) => token,
            Lookup::Wait(inflight) => bounded_blocking(&self.inner, inflight)?,
            Lookup::Failed(error) => return Err(error),
        };
        let user = match self.inner.user_for(target) {
            Some(user) => user,
            None => futures::executor::block_on(self.inner.derive_user(&token))?,
        };
        Ok(Login::new(user, token))
    }

    /// Requests a new token now, or joins the request already under way, ignoring
    /// freshness and back-off, and returns a login with it.
    ///
    /// # Errors
    /// As [`login`](Self::login).
    pub async fn refresh(&self, target: &Target) -> Result<Login, Error> {
        self.admit(target)?;
        let token = match self.inner.lookup(true) {
            Lookup::Ready(token) => token,
            Lookup::Wait(inflight) => bounded(&self.inner, inflight).await?,
            Lookup::Failed(error) => return Err(error),
        };
        self.finish_login(target, token).await
    }

    /// Tells the cache the server rejected `login`'s token. If that token is still
    /// the cached one, it is dropped and a new one requested, at most once per
    /// token and no more often than a back-off (1 s doubling to 30 s) allows.
    /// Returns whether it was dropped: then connecting once more with a new login
    /// may succeed; otherwise report the rejection.
    pub fn invalidate(&self, login: &Login) -> bool {
        self.inner.invalidate(login.token())
    }

    /// Waits for the token request under way, if any, and returns the new token's
    /// expiry; `None` when no request is under way. Starts nothing. Useful after
    /// [`login`](Self::login) started a background refresh, to observe its outcome.
    pub async fn wait_for_refresh(&self) -> Option<Result<OffsetDateTime, Error>> {
        let inflight = self.inner.lock().token.under_way()?;
        Some(
            bounded(&self.inner, inflight)
                .await
                .map(|token| token.expires_on()),
        )
    }

    /// A watch that fires after every new token, for adapters that keep a token
    /// in a driver's settings (the sqlx pool refresher) instead of asking for one
    /// per connection. It does not keep the `EntraAuth` alive.
    #[must_use]
    pub fn token_changes(&self) -> TokenChanges {
        TokenChanges(self.inner.changes.subscribe())
    }

    /// The PostgreSQL user, once known: the builder's user, or the one derived
    /// from the first token that needed it. (A user in the connection settings
    /// wins for that connection.)
    #[must_use]
    pub fn user(&self) -> Option<&str> {
        self.inner.known_user().map(|user| &**user)
    }

    /// The token scope this login asks for.
    #[must_use]
    pub fn scope(&self) -> &str {
        &self.inner.scope
    }

    /// The cloud: it sets the scopes and the host policy's default domain.
    #[must_use]
    pub fn cloud(&self) -> Cloud {
        self.inner.cloud
    }

    /// The hosts a token may go to, for messages (`*.postgres.database.azure.com,
    /// localhost`).
    #[must_use]
    pub fn allowed_hosts(&self) -> String {
        self.inner.policy.describe()
    }

    /// Whether the host policy lets a token go to `host` (a host name, an IP
    /// address or a socket path).
    #[must_use]
    pub fn permits_host(&self, host: &str) -> bool {
        self.inner.policy.permits(host)
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

    pub(crate) fn policy(&self) -> &HostPolicy {
        &self.inner.policy
    }

    /// Identifies the cache for [`Target`]s it checked.
    pub(crate) fn id(&self) -> usize {
        Arc::as_ptr(&self.inner).addr()
    }

    /// Checks a target made by another `EntraAuth` against this one's policy.
    fn admit(&self, target: &Target) -> Result<(), Error> {
        if target.is_static_login() {
            return Err(Error::invalid(
                "the connection settings are a static login (user and password); no token is \
                 needed or given for them",
            ));
        }
        if !target.checked_by(self) {
            for host in target.hosts() {
                target::check_host(self, host, None)?;
            }
        }
        Ok(())
    }

    /// The hot path of both logins: the target admitted, a fresh cached token and
    /// a known user. `None` sends the caller down the full path.
    fn fresh_login(&self, target: &Target) -> Result<Option<Login>, Error> {
        self.admit(target)?;
        Ok(self
            .inner
            .fresh_token()
            .and_then(|token| Some(Login::new(self.inner.user_for(target)?, token))))
    }

    async fn finish_login(&self, target: &Target, token: Arc<Token>) -> Result<Login, Error> {
        let user = match self.inner.user_for(target) {
            Some(user) => user,
            None => self.inner.derive_user(&token).await?,
        };
        Ok(Login::new(user, token))
    }
}

impl fmt::Debug for EntraAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EntraAuth")
            .field("scope", &self.inner.scope)
            .field("allowed_hosts", &self.allowed_hosts())
            .field("user", &self.user())
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

/// Fires after every new token of an [`EntraAuth`]. Get one from
/// [`EntraAuth::token_changes`].
#[derive(Debug, Clone)]
pub struct TokenChanges(watch::Receiver<u64>);

impl TokenChanges {
    /// Waits until a new token arrives; `false` once the `EntraAuth` is gone.
    pub async fn changed(&mut self) -> bool {
        self.0.changed().await.is_ok()
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
    /// Before this time a failed request is not retried (callers get the last
    /// error at once).
    pub next_attempt: Option<OffsetDateTime>,
    /// The error of the last failed request since the last success.
    pub last_error: Option<Error>,
    /// The builder's or the derived user, once known.
    pub user: Option<String>,
}
