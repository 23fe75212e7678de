//! The token cache: one shared request at a time, refresh ahead of expiry, back-off
//! after failures while the cached token is still valid.

use std::{panic::AssertUnwindSafe, sync::Arc};

use futures::FutureExt as _;
use time::{Duration, OffsetDateTime};
use tokio::sync::watch;
use tracing::{info, warn};

use crate::{CacheStatus, ConnInfo, Error, auth::Inner, runtime};

/// A token is not handed out when it expires sooner than this (or a quarter of its
/// lifetime, if shorter): the connection would likely authenticate too late.
const EXPIRY_MARGIN: Duration = Duration::seconds(5);
/// First and longest wait before retrying a failed refresh while a token is valid.
const BACKOFF_START: Duration = Duration::seconds(1);
const BACKOFF_MAX: Duration = Duration::seconds(30);

type Outcome = Option<Result<ConnInfo, Error>>;

/// Receives the result of the request under way.
pub(crate) type Waiter = watch::Receiver<Outcome>;

#[derive(Default)]
pub(crate) struct State {
    current: Option<Entry>,
    inflight: Option<Waiter>,
    failures: u32,
    retry_at: Option<OffsetDateTime>,
    last_error: Option<Error>,
}

impl State {
    /// The waiter of the request under way, if any.
    pub(crate) fn inflight_waiter(&self) -> Option<Waiter> {
        self.inflight.clone()
    }
}

struct Entry {
    info: ConnInfo,
    refresh_at: OffsetDateTime,
    usable_until: OffsetDateTime,
}

pub(crate) enum Lookup {
    Ready(ConnInfo),
    Wait(Waiter),
}

impl Inner {
    /// Serves the cached token, or the waiter of the request that will bring one.
    /// `force` skips the cached token and the back-off.
    pub(crate) fn lookup(self: &Arc<Self>, force: bool) -> Result<Lookup, Error> {
        let now = self.clock.now();
        let mut state = self.lock();
        if state
            .inflight
            .as_ref()
            .is_some_and(|waiter| waiter.has_changed().is_err())
        {
            // The request's task ended without reporting (it panicked): forget it.
            state.inflight = None;
        }
        if !force && let Some(entry) = &state.current {
            let info = entry.info.clone();
            if now < entry.refresh_at {
                return Ok(Lookup::Ready(info));
            }
            if now < entry.usable_until {
                let backing_off = state.retry_at.is_some_and(|at| now < at);
                if state.inflight.is_none() && !backing_off {
                    // A failure here only means no refresh starts now; serve the token.
                    let _ = self.start_request(&mut state);
                }
                return Ok(Lookup::Ready(info));
            }
        }
        let waiter = match &state.inflight {
            Some(waiter) => waiter.clone(),
            None => self.start_request(&mut state)?,
        };
        Ok(Lookup::Wait(waiter))
    }

    fn start_request(self: &Arc<Self>, state: &mut State) -> Result<Waiter, Error> {
        let handle = runtime::handle()?;
        let (sender, waiter) = watch::channel(None);
        state.inflight = Some(waiter.clone());
        let inner = Arc::clone(self);
        handle.spawn(async move {
            // A panicking credential must not leave the request "under way" forever.
            let result = AssertUnwindSafe(inner.fetch())
                .catch_unwind()
                .await
                .unwrap_or_else(|_| Err(task_lost()));
            let result = result.and_then(|info| inner.usable(info));
            inner.complete(&result);
            // Nobody may be waiting any more; the cache is updated either way.
            let _ = sender.send(Some(result));
        });
        Ok(waiter)
    }

    /// Records a request's result in the cache.
    fn complete(&self, result: &Result<ConnInfo, Error>) {
        let now = self.clock.now();
        let mut state = self.lock();
        state.inflight = None;
        match result {
            Ok(info) => {
                let expires_on = info.expires_on();
                let lifetime = expires_on - now;
                let window = self.refresh_ahead.min(lifetime / 2).max(Duration::ZERO);
                let margin = EXPIRY_MARGIN.min(lifetime / 4).max(Duration::ZERO);
                let usable_until = expires_on - margin;
                // A refresh window shorter than the margin still refreshes in time.
                let refresh_at = (expires_on - window).min(usable_until);
                info!(
                    user = info.user(),
                    %expires_on,
                    %refresh_at,
                    "entra-pg: got an Entra token"
                );
                state.current = Some(Entry {
                    info: info.clone(),
                    refresh_at,
                    usable_until,
                });
                state.failures = 0;
                state.retry_at = None;
                state.last_error = None;
            }
            Err(err) => {
                state.failures = state.failures.saturating_add(1);
                let backoff = backoff(state.failures);
                state.retry_at = Some(now + backoff);
                state.last_error = Some(err.clone());
                match state
                    .current
                    .as_ref()
                    .filter(|entry| now < entry.usable_until)
                {
                    Some(entry) => warn!(
                        error = %err,
                        user = entry.info.user(),
                        valid_until = %entry.info.expires_on(),
                        retry_in = %backoff,
                        "entra-pg: token refresh failed; still serving the cached token"
                    ),
                    None => warn!(
                        error = %err,
                        failures = state.failures,
                        "entra-pg: token request failed and no valid token is cached"
                    ),
                }
            }
        }
    }

    /// Rejects a token that is already too close to expiry to log in with: the
    /// credential's clock or cache is off, and the server would refuse it.
    fn usable(&self, info: ConnInfo) -> Result<ConnInfo, Error> {
        let now = self.clock.now();
        if info.expires_on() > now {
            return Ok(info);
        }
        Err(Error::Credential {
            scope: self.scope.clone(),
            source: Arc::new(azure_core::Error::with_message(
                azure_core::error::ErrorKind::Credential,
                format!(
                    "the credential returned a token that expired at {} (now {now}); check \
                     this machine's clock",
                    info.expires_on()
                ),
            )),
        })
    }

    pub(crate) fn status(&self) -> CacheStatus {
        let state = self.lock();
        CacheStatus {
            expires_on: state.current.as_ref().map(|entry| entry.info.expires_on()),
            refresh_at: state.current.as_ref().map(|entry| entry.refresh_at),
            refreshing: state.inflight.is_some(),
            consecutive_failures: state.failures,
            next_attempt: state.retry_at,
            last_error: state.last_error.clone(),
        }
    }
}

/// 1 s, 2 s, 4 s … up to 30 s after the n-th consecutive failure.
fn backoff(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(5);
    (BACKOFF_START * 2_i32.pow(doublings)).min(BACKOFF_MAX)
}

/// Waits for the request's result.
pub(crate) async fn wait(mut waiter: Waiter) -> Result<ConnInfo, Error> {
    match waiter.wait_for(Option::is_some).await {
        Ok(outcome) => outcome.clone().unwrap_or_else(|| Err(task_lost())),
        Err(_) => Err(task_lost()),
    }
}

/// Waits for the request's result, blocking this thread. The request runs on the
/// token runtime's own thread, so blocking here cannot stall it.
pub(crate) fn wait_blocking(waiter: Waiter) -> Result<ConnInfo, Error> {
    futures::executor::block_on(wait(waiter))
}

fn task_lost() -> Error {
    Error::InvalidConfig {
        reason: "the token request ended without a result (the credential panicked); \
                 the next call will try again"
            .to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let secs: Vec<i64> = (1..=8).map(|n| backoff(n).whole_seconds()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(backoff(u32::MAX).whole_seconds(), 30);
    }
}
