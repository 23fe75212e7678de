//! [`EntraPool`]: a sqlx `PgPool` whose new connections always log in with the
//! newest token.

use std::{
    fmt,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use entra_pg_core::{ConnectFailure, EntraAuth, Login};
use sqlx::{Connection as _, PgConnection, PgPool, Postgres, pool::PoolConnection};
use tokio::sync::{Notify, watch};
use tracing::debug;

use crate::{
    EntraConnectOptions, Error,
    error::classify,
    refresher::{self, RefreshMonitor, RefreshStatus},
};

/// A sqlx [`PgPool`] with Entra login, and the refresher that keeps its connect
/// options holding the newest token.
///
/// Use [`pool`](Self::pool) wherever a `&PgPool` goes, and clone that `PgPool`
/// freely (into an axum state, say): the refresher runs for as long as the pool
/// is open, whichever handle you keep, and stops when the pool is closed
/// ([`close`](Self::close) or `PgPool::close`). Like any long-lived resource,
/// close the pool when you are done with it: sqlx offers no weak handle, so
/// dropping every handle without closing keeps the refresher (and the pool's
/// idle connections, until `idle_timeout`) alive.
///
/// [`acquire`](Self::acquire) gives typed errors and recovers from a rejected
/// token; plain `PgPool` use gets sqlx's errors.
#[derive(Clone)]
pub struct EntraPool {
    shared: Arc<PoolShared>,
}

/// What a pool's handles and its refresher share.
pub(crate) struct PoolShared {
    pub(crate) pool: PgPool,
    pub(crate) options: EntraConnectOptions,
    /// The login the pool's options hold now (`None` for a static login).
    installed: Mutex<Option<Login>>,
    pub(crate) status: watch::Sender<RefreshStatus>,
    /// Wakes the refresher early.
    pub(crate) wake: Notify,
}

impl EntraPool {
    pub(crate) fn start(options: EntraConnectOptions, pool: PgPool, first: Option<Login>) -> Self {
        let status = RefreshStatus {
            running: first.is_some(),
            refreshes: u64::from(first.is_some()),
            last_refresh: first.as_ref().map(|_| options.auth().now()),
            token_expires_on: first.as_ref().map(Login::expires_on),
            ..RefreshStatus::default()
        };
        let has_token = first.is_some();
        let shared = Arc::new(PoolShared {
            pool,
            options,
            installed: Mutex::new(first),
            status: watch::Sender::new(status),
            wake: Notify::new(),
        });
        if has_token {
            refresher::spawn(Arc::clone(&shared));
        }
        Self { shared }
    }

    /// The sqlx pool. Clone it freely; the refresher serves every clone.
    #[must_use]
    pub fn pool(&self) -> &PgPool {
        &self.shared.pool
    }

    /// The Entra login of this pool.
    #[must_use]
    pub fn auth(&self) -> &EntraAuth {
        self.shared.options.auth()
    }

    /// A connection from the pool, with typed errors.
    ///
    /// Unlike `PgPool::acquire`, this first makes sure the pool's options hold the
    /// newest token (starting a refresh when one is due): when none can be had and
    /// no idle connection is left, it returns the token error ([`Error::Entra`])
    /// instead of letting the server refuse an expired token. When the server
    /// rejects the token, it asks for a new one once and tries again. A pool
    /// timeout with no connection at all is reported with the cause of a direct
    /// connect attempt (a refused port, a certificate …).
    ///
    /// # Errors
    /// [`Error::Entra`] as above; [`Certificate`](Error::Certificate),
    /// [`Rejected`](Error::Rejected) or [`Driver`](Error::Driver) from sqlx.
    pub async fn acquire(&self) -> Result<PoolConnection<Postgres>, Error> {
        let result = self.shared.acquire().await;
        if let Err(err) = &result {
            self.shared.options.failures().record(err);
        }
        result
    }

    /// What the refresher has done: last and next refresh, token expiry, last error.
    #[must_use]
    pub fn status(&self) -> RefreshStatus {
        self.shared.status.borrow().clone()
    }

    /// A watch on the refresher that does not keep the pool alive: read its state,
    /// or wait for a change or for it to stop.
    #[must_use]
    pub fn monitor(&self) -> RefreshMonitor {
        RefreshMonitor::new(self.shared.status.subscribe())
    }

    /// The last failed connect of this pool's [`acquire`](Self::acquire) (and of
    /// its options).
    #[must_use]
    pub fn last_failure(&self) -> Option<ConnectFailure> {
        self.shared.options.last_failure()
    }

    /// Closes the pool (as [`PgPool::close`]) and so stops the refresher.
    pub async fn close(&self) {
        self.shared.pool.close().await;
    }
}

impl PoolShared {
    fn installed(&self) -> MutexGuard<'_, Option<Login>> {
        self.installed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The login the options hold now.
    pub(crate) fn current(&self) -> Option<Login> {
        self.installed().clone()
    }

    /// Puts `login` in the pool's options when it is newer than the one there
    /// (or, with `force`, when it is another token). Returns whether it did.
    pub(crate) fn install(&self, login: &Login, force: bool) -> bool {
        {
            let mut installed = self.installed();
            let newer = installed.as_ref().is_none_or(|current| {
                !current.same_token(login) && (force || login.expires_on() > current.expires_on())
            });
            if !newer {
                return false;
            }
            self.pool
                .set_connect_options(self.options.options_for(Some(login)));
            *installed = Some(login.clone());
        }
        let now = self.options.auth().now();
        self.status.send_modify(|status| {
            status.refreshes += 1;
            status.last_refresh = Some(now);
            status.token_expires_on = Some(login.expires_on());
            status.consecutive_failures = 0;
            status.last_error = None;
        });
        debug!(
            user = login.user(),
            expires_on = %login.expires_on(),
            "entra-pg: new pool connections now log in with a new token"
        );
        true
    }

    async fn acquire(&self) -> Result<PoolConnection<Postgres>, Error> {
        let auth = self.options.auth();
        let target = self.options.target();
        if !target.is_static_login() {
            match auth.login(target).await {
                Ok(login) => {
                    self.install(&login, false);
                }
                Err(err) => {
                    let now = auth.now();
                    let valid = self
                        .current()
                        .is_some_and(|installed| installed.expires_on() > now);
                    if !valid && self.pool.num_idle() == 0 {
                        return Err(Error::Entra(err));
                    }
                }
            }
            if self
                .status
                .borrow()
                .next_refresh
                .is_some_and(|at| at <= auth.now())
            {
                self.wake.notify_one();
            }
        }
        let installed = self.current();
        let user = self.user(installed.as_ref());
        let err = match self.pool.acquire().await {
            Ok(connection) => return Ok(connection),
            Err(err) => classify(err, target, &user),
        };
        if let (true, Some(rejected)) = (err.is_token_rejected(), installed.as_ref()) {
            let fresh = auth.login_after_rejection(target, rejected, err).await?;
            self.install(&fresh, true);
            return self
                .pool
                .acquire()
                .await
                .map_err(|err| classify(err, target, fresh.user()));
        }
        if matches!(err.driver_error(), Some(sqlx::Error::PoolTimedOut)) && self.pool.size() == 0 {
            // sqlx keeps the cause of its failed connects to itself: try once directly.
            let options = self.pool.connect_options();
            if let Err(cause) = PgConnection::connect_with(&options).await {
                return Err(classify(cause, target, &user));
            }
        }
        Err(err)
    }

    /// The user new connections log in as.
    fn user(&self, login: Option<&Login>) -> String {
        match (self.options.target().user(), login) {
            (Some(user), _) => user.to_owned(),
            (None, Some(login)) => login.user().to_owned(),
            (None, None) => String::new(),
        }
    }
}

impl fmt::Debug for EntraPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `PgPool`'s Debug shows sizes and pool options, never the connect options.
        f.debug_struct("EntraPool")
            .field("pool", &self.shared.pool)
            .field("options", &self.shared.options)
            .field("refresh", &self.status())
            .finish()
    }
}
