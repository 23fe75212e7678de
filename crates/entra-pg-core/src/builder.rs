//! [`EntraAuthBuilder`]: user, cloud, host policy, refresh window, timeout, clock.

use std::{
    fmt,
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use azure_core::credentials::TokenCredential;
use tokio::sync::watch;

use crate::{
    Cloud, EntraAuth, Error,
    auth::Inner,
    clock::{Clock, Jitter, SystemClock},
    policy::HostPolicy,
};

/// Default time allowed for one token request (and for the management-scope
/// lookup). Shorter than the default connection timeouts of bb8, r2d2 and sqlx
/// (30 s), so a pool reports the token error rather than its own timeout.
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Default refresh-ahead window: a token is refreshed when less than
/// min(this, half its lifetime) remains, a little earlier with jitter.
pub const DEFAULT_REFRESH_AHEAD: Duration = Duration::from_secs(5 * 60);

/// Builds an [`EntraAuth`]. Get one from [`EntraAuth::builder`].
#[must_use]
pub struct EntraAuthBuilder {
    credential: Arc<dyn TokenCredential>,
    user: Option<String>,
    scope: Option<String>,
    cloud: Cloud,
    allowed_hosts: Vec<String>,
    any_host: bool,
    refresh_ahead: Duration,
    fetch_timeout: Duration,
    clock: Arc<dyn Clock>,
    jitter: Jitter,
}

impl EntraAuthBuilder {
    pub(crate) fn new(credential: Arc<dyn TokenCredential>) -> Self {
        Self {
            credential,
            user: None,
            scope: None,
            cloud: Cloud::Public,
            allowed_hosts: Vec::new(),
            any_host: false,
            refresh_ahead: DEFAULT_REFRESH_AHEAD,
            fetch_timeout: DEFAULT_FETCH_TIMEOUT,
            clock: Arc::new(SystemClock),
            jitter: Jitter::random(),
        }
    }

    /// Logs in as this PostgreSQL user unless the connection settings name one
    /// (then no claim is read and no management-scope token is asked for). Use it
    /// for application (service principal) roles, group roles, or when the role
    /// name differs from the principal's name.
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }

    /// The cloud of the server; sets the database and management scopes and the
    /// host policy's default domain. Defaults to [`Cloud::Public`].
    pub fn cloud(mut self, cloud: Cloud) -> Self {
        self.cloud = cloud;
        self
    }

    /// Picks the cloud from the server's host name (see [`Cloud::from_host`]); a host
    /// that is not an Azure server name (`localhost`, an IP, a custom DNS alias)
    /// leaves the cloud as it was (and is not allowed by this call: see
    /// [`allow_host`](Self::allow_host)).
    pub fn host(mut self, host: &str) -> Self {
        if let Some(cloud) = Cloud::from_host(host) {
            self.cloud = cloud;
        }
        self
    }

    /// Also lets tokens go to `pattern`: an exact host name (`db.example.com`), an
    /// IP address, a Unix-socket path (only used with the connectors'
    /// `danger_allow_insecure_transport`), or `*.` and a domain
    /// (`*.db.example.com`, one or more labels under it). Case-insensitive; a
    /// trailing dot is ignored.
    ///
    /// Use it for custom DNS names, private endpoints in your own zone, or local
    /// test servers (`allow_host("localhost")`). Only allow hosts you trust with
    /// the token: it is valid on every server where the principal has a role.
    pub fn allow_host(mut self, pattern: impl Into<String>) -> Self {
        self.allowed_hosts.push(pattern.into());
        self
    }

    /// **Dangerous**: lets tokens go to any host. A token handed to a server is
    /// valid on every Azure Database for PostgreSQL server where the principal
    /// has a role, so a wrong or injected host name hands out working
    /// credentials. Prefer [`allow_host`](Self::allow_host).
    pub fn danger_allow_any_host(mut self, allow: bool) -> Self {
        self.any_host = allow;
        self
    }

    /// Overrides the database token scope (for example a private audience). The
    /// management scope and the host policy still follow [`cloud`](Self::cloud).
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

    /// Longest time one token request may take; a caller waits at most this and a
    /// little grace. Default [`DEFAULT_FETCH_TIMEOUT`] (10 s). Credentials retry
    /// failed requests internally; this bounds how long a connect can wait on them.
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

    /// How the refresh point is spread (default [`Jitter::random`], up to 10 % of
    /// the window earlier). Tests use [`Jitter::none`].
    pub fn jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// Checks the settings and builds the [`EntraAuth`]. Requests no token.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for an empty user or scope, a scope containing
    /// whitespace, an `allow_host` pattern that is not a host name, IP address,
    /// socket path or `*.domain`, or a zero fetch timeout.
    pub fn build(self) -> Result<EntraAuth, Error> {
        let scope = self
            .scope
            .unwrap_or_else(|| self.cloud.database_scope().to_owned());
        if scope.is_empty() || scope.contains(char::is_whitespace) {
            return Err(Error::invalid(
                "the token scope must be one non-empty scope without spaces, such as \
                 https://ossrdbms-aad.database.windows.net/.default",
            ));
        }
        if self.user.as_deref() == Some("") {
            return Err(Error::invalid(
                "the PostgreSQL user is empty; leave it unset to derive it from the token",
            ));
        }
        if self.fetch_timeout.is_zero() {
            return Err(Error::invalid("fetch_timeout must be greater than zero"));
        }
        let refresh_ahead = time::Duration::try_from(self.refresh_ahead)
            .map_err(|_| Error::invalid("refresh_ahead is too large"))?;
        let policy = HostPolicy::new(self.cloud, &self.allowed_hosts, self.any_host)?;
        Ok(EntraAuth {
            inner: Arc::new(Inner {
                credential: self.credential,
                scope,
                cloud: self.cloud,
                management_scope: self.cloud.management_scope(),
                explicit_user: self.user.map(Arc::from),
                derived_user: OnceLock::new(),
                policy,
                refresh_ahead,
                fetch_timeout: self.fetch_timeout,
                clock: self.clock,
                jitter: self.jitter,
                state: Mutex::default(),
                changes: watch::Sender::new(0),
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
            .field("allowed_hosts", &self.allowed_hosts)
            .field("any_host", &self.any_host)
            .field("refresh_ahead", &self.refresh_ahead)
            .field("fetch_timeout", &self.fetch_timeout)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}
