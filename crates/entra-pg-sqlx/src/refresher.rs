//! Keeps a pool's connect options holding a valid token: sqlx reads them for every
//! new physical connection and has no per-connection hook, so a background task
//! puts each new token in before the old one is due, and stops with the pool.

use std::{
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use entra_pg_core::{ConnInfo, EntraAuth, Error as CoreError};
use sqlx::PgPool;
use time::OffsetDateTime;
use tokio::sync::{Notify, oneshot, watch};
use tracing::{debug, warn};

use crate::options::Checked;

/// First retry after a failure while no valid token is installed.
const RETRY_START: Duration = Duration::from_millis(100);
/// Longest wait between retries while no valid token is installed: once the token
/// endpoint is back, new connections work again within about this long.
const RETRY_MAX: Duration = Duration::from_millis(500);
/// Wakes a little after a refresh point, so the cache sees it as reached.
const SLACK: Duration = Duration::from_millis(20);

/// What the refresher of an [`EntraPool`](crate::EntraPool) has done, for health
/// checks and metrics. Never contains a token.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct RefreshStatus {
    /// Whether the refresher is still running (it stops when the pool is closed or
    /// every handle to it is dropped).
    pub running: bool,
    /// How many tokens the pool's connect options have held, the first included.
    pub refreshes: u64,
    /// When the options last got a new token.
    pub last_refresh: Option<OffsetDateTime>,
    /// Expiry of the token the options hold now.
    pub token_expires_on: Option<OffsetDateTime>,
    /// When the refresher wakes next to check the token.
    pub next_refresh: Option<OffsetDateTime>,
    /// Failed attempts since the last success.
    pub consecutive_failures: u32,
    /// The error of the last failed attempt since the last success.
    pub last_error: Option<CoreError>,
}

/// A pool's login: what its connections log in with, shared by the pool handles
/// and the refresher task.
pub(crate) struct PoolLogin {
    pub(crate) auth: EntraAuth,
    pub(crate) settings: Checked,
    pub(crate) pool: PgPool,
    /// The login the pool's options hold now.
    installed: Mutex<ConnInfo>,
    status: watch::Sender<RefreshStatus>,
    /// Wakes the refresher early: an acquire saw the refresh point pass while the
    /// refresher's timer had not (the monotonic timer stands still while a machine
    /// sleeps; token expiry does not).
    wake: Notify,
}

/// Watches the refresher of an [`EntraPool`](crate::EntraPool) without keeping the
/// pool alive. Get one from [`EntraPool::monitor`](crate::EntraPool::monitor).
#[derive(Debug, Clone)]
pub struct RefreshMonitor(watch::Receiver<RefreshStatus>);

impl RefreshMonitor {
    /// The refresher's state now.
    #[must_use]
    pub fn status(&self) -> RefreshStatus {
        self.0.borrow().clone()
    }

    /// Waits until the refresher's state satisfies `condition` (checked now and
    /// after every change) and returns that state; returns the last state if the
    /// refresher has ended without satisfying it.
    pub async fn wait_for(
        &mut self,
        mut condition: impl FnMut(&RefreshStatus) -> bool,
    ) -> RefreshStatus {
        let satisfied = self
            .0
            .wait_for(|status| condition(status))
            .await
            .map(|status| status.clone());
        satisfied.unwrap_or_else(|_| self.status())
    }

    /// Waits until the refresher has stopped (pool closed or every handle dropped).
    pub async fn stopped(&mut self) {
        self.wait_for(|status| !status.running).await;
    }
}

impl PoolLogin {
    /// A login for `pool`, whose options already hold `first`.
    pub(crate) fn new(auth: EntraAuth, settings: Checked, pool: PgPool, first: ConnInfo) -> Self {
        let status = RefreshStatus {
            running: true,
            refreshes: 1,
            last_refresh: Some(auth.now()),
            token_expires_on: Some(first.expires_on()),
            ..RefreshStatus::default()
        };
        Self {
            auth,
            settings,
            pool,
            installed: Mutex::new(first),
            status: watch::Sender::new(status),
            wake: Notify::new(),
        }
    }

    fn installed(&self) -> MutexGuard<'_, ConnInfo> {
        self.installed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The refresher's state.
    pub(crate) fn status(&self) -> RefreshStatus {
        self.status.borrow().clone()
    }

    /// A watch on the refresher's state.
    pub(crate) fn monitor(&self) -> RefreshMonitor {
        RefreshMonitor(self.status.subscribe())
    }

    /// The user new connections log in as.
    pub(crate) fn user(&self) -> String {
        self.settings.user(&self.installed()).to_owned()
    }

    /// Puts `login` in the pool's options, unless they already hold it.
    fn install(&self, login: &ConnInfo) {
        let mut installed = self.installed();
        if installed.expires_on() == login.expires_on() && installed.password() == login.password()
        {
            return;
        }
        self.pool
            .set_connect_options(self.settings.with_login(login));
        *installed = login.clone();
        drop(installed);
        debug!(
            user = self.settings.user(login),
            expires_on = %login.expires_on(),
            "entra-pg: new pool connections now log in with a new token"
        );
        let now = self.auth.now();
        self.status.send_modify(|status| {
            status.refreshes += 1;
            status.last_refresh = Some(now);
            status.token_expires_on = Some(login.expires_on());
            status.consecutive_failures = 0;
            status.last_error = None;
        });
    }

    /// Makes sure the options hold an unexpired token, asking the cache for one if
    /// not, and wakes the refresher if its refresh point has passed. Used before a
    /// connection is acquired, so a caller gets the token error rather than the
    /// server's refusal of an expired token.
    pub(crate) async fn ensure_fresh(&self) -> Result<(), CoreError> {
        let now = self.auth.now();
        let (valid, due) = {
            let status = self.status.borrow();
            (
                status.token_expires_on.is_some_and(|at| at > now),
                status.running && status.next_refresh.is_some_and(|at| at <= now),
            )
        };
        if due {
            self.wake.notify_one();
        }
        if valid {
            return Ok(());
        }
        let login = self.auth.conninfo().await?;
        self.install(&login);
        Ok(())
    }

    /// One round: takes the cache's token (starting its refresh when due) and puts
    /// the result in the options. Returns how long to wait before the next round.
    async fn round(&self) -> Duration {
        let outcome = match self.auth.conninfo().await {
            Ok(login) => {
                self.install(&login);
                // In the refresh window the cache served the current token and
                // started a request; wait for it and install its token.
                match self.auth.wait_for_refresh().await {
                    Some(Ok(login)) => {
                        self.install(&login);
                        Ok(())
                    }
                    Some(Err(err)) => Err(err),
                    None => Ok(()),
                }
            }
            Err(err) => Err(err),
        };
        let now = self.auth.now();
        let mut wait = Duration::ZERO;
        self.status.send_modify(|status| {
            if let Err(err) = outcome {
                status.consecutive_failures = status.consecutive_failures.saturating_add(1);
                warn!(
                    error = %err,
                    failures = status.consecutive_failures,
                    "entra-pg: could not refresh the token of the sqlx pool"
                );
                status.last_error = Some(err);
            }
            wait = self.next_wait(now, status.consecutive_failures);
            status.next_refresh = Some(now + wait);
        });
        wait
    }

    /// When to look again: at the cache's refresh point while the token is fresh;
    /// at the cache's next retry while a still-valid token is being refreshed
    /// without success; soon while no valid token is installed.
    fn next_wait(&self, now: OffsetDateTime, failures: u32) -> Duration {
        let cache = self.auth.status();
        let until = |at: OffsetDateTime| Duration::try_from(at - now).unwrap_or_default();
        if let Some(refresh_at) = cache.refresh_at.filter(|at| *at > now) {
            return until(refresh_at) + SLACK;
        }
        if let (Some(retry_at), Some(expires_on)) = (cache.next_attempt, cache.expires_on)
            && retry_at > now
            && expires_on > now
        {
            return until(retry_at.min(expires_on)) + SLACK;
        }
        let doublings = failures.saturating_sub(1).min(8);
        (RETRY_START * 2_u32.pow(doublings)).min(RETRY_MAX)
    }

    async fn refresh_forever(&self) {
        loop {
            let wait = self.round().await;
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.wake.notified() => {}
            }
        }
    }
}

/// Stops the refresher when dropped; the pool handles share one.
#[derive(Debug)]
pub(crate) struct StopOnDrop(#[allow(dead_code, reason = "held for its Drop")] oneshot::Sender<()>);

/// Starts the refresher of `login`. It ends when the returned guard is dropped or
/// the pool is closed, and then lets go of the pool.
pub(crate) fn spawn(login: Arc<PoolLogin>) -> StopOnDrop {
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        tokio::select! {
            biased;
            _ = stopped => debug!("entra-pg: every pool handle is gone; refresher stops"),
            () = login.pool.close_event() => debug!("entra-pg: pool closed; refresher stops"),
            () = login.refresh_forever() => {}
        }
        login.status.send_modify(|status| {
            status.running = false;
            status.next_refresh = None;
        });
    });
    StopOnDrop(stop)
}
