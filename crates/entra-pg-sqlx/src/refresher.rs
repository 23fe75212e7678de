//! Keeps a pool's connect options holding the newest token: sqlx reads them for
//! every new physical connection and has no per-connection hook, so a background
//! task puts each new token in as the cache gets it, and stops with the pool.
//!
//! It wakes when the cache gets a new token (whoever asked for it), at the cache's
//! refresh point or retry time, and at least every 30 seconds, each time reading
//! the login's clock: after a suspend (laptops, paused VMs or containers), where
//! the monotonic timer stood still while tokens expired, it notices within one
//! such wait.

use std::{sync::Arc, time::Duration};

use entra_pg_core::Error as CoreError;
use time::OffsetDateTime;
use tokio::sync::watch;
use tracing::{debug, warn};

use crate::pool::PoolShared;

/// The longest the refresher sleeps between looks at the clock.
const CAP: Duration = Duration::from_secs(30);
/// The shortest: a due refresh in the past is retried no faster than this.
const FLOOR: Duration = Duration::from_millis(100);
/// Wakes a little after a refresh point, so the cache sees it as reached.
const SLACK: Duration = Duration::from_millis(20);

/// What the refresher of an [`EntraPool`](crate::EntraPool) has done, for health
/// checks and metrics. Never contains a token.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct RefreshStatus {
    /// Whether the refresher is still running (it stops when the pool is closed).
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

/// Watches the refresher of an [`EntraPool`](crate::EntraPool) without keeping the
/// pool alive. Get one from [`EntraPool::monitor`](crate::EntraPool::monitor).
#[derive(Debug, Clone)]
pub struct RefreshMonitor(watch::Receiver<RefreshStatus>);

impl RefreshMonitor {
    pub(crate) fn new(receiver: watch::Receiver<RefreshStatus>) -> Self {
        Self(receiver)
    }

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

    /// Waits until the refresher has stopped (the pool was closed).
    pub async fn stopped(&mut self) {
        self.wait_for(|status| !status.running).await;
    }
}

/// Starts the refresher of `shared`'s pool. It ends when the pool is closed.
pub(crate) fn spawn(shared: Arc<PoolShared>) {
    tokio::spawn(async move {
        let mut changes = shared.options.auth().token_changes();
        let closed = shared.pool.close_event();
        tokio::pin!(closed);
        loop {
            let wait = shared.round().await;
            tokio::select! {
                biased;
                () = &mut closed => break,
                _ = changes.changed() => {}
                () = shared.wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
        debug!("entra-pg: pool closed; refresher stops");
        shared.status.send_modify(|status| {
            status.running = false;
            status.next_refresh = None;
        });
    });
}

impl PoolShared {
    /// One round: takes the cache's login (starting its refresh when due), waits
    /// for a refresh under way, and installs the newest token. Returns how long to
    /// sleep before the next round.
    async fn round(&self) -> Duration {
        let auth = self.options.auth();
        let target = self.options.target();
        let outcome = match auth.login(target).await {
            Ok(login) => {
                self.install(&login, false);
                match auth.wait_for_refresh().await {
                    Some(Ok(_)) => auth.login(target).await.map(|login| {
                        self.install(&login, false);
                    }),
                    Some(Err(err)) => Err(err),
                    None => Ok(()),
                }
            }
            Err(err) => Err(err),
        };
        let now = auth.now();
        let wait = next_wait(auth, now);
        let mut failures = 0;
        self.status.send_modify(|status| {
            if let Err(err) = &outcome {
                status.consecutive_failures = status.consecutive_failures.saturating_add(1);
                status.last_error = Some(err.clone());
                failures = status.consecutive_failures;
            }
            status.next_refresh = Some(now + wait);
        });
        if let Err(err) = outcome {
            warn!(
                error = %err,
                failures,
                retry_in = ?wait,
                "entra-pg: could not refresh the token of the sqlx pool"
            );
        }
        wait
    }
}

/// Until the cache's next event (refresh point, or retry time after a failure),
/// between [`FLOOR`] and [`CAP`].
fn next_wait(auth: &entra_pg_core::EntraAuth, now: OffsetDateTime) -> Duration {
    let cache = auth.status();
    let until = |at: OffsetDateTime| Duration::try_from(at - now).unwrap_or_default() + SLACK;
    [cache.refresh_at, cache.next_attempt]
        .into_iter()
        .flatten()
        .filter(|at| *at > now)
        .map(until)
        .min()
        .unwrap_or(CAP)
        .clamp(FLOOR, CAP)
}
