//! The token cache: one shared request at a time, refresh ahead of expiry (with
//! jitter), back-off after failures with or without a valid token, and at most one
//! forced refresh per token the server rejected.
//!
//! Nothing here runs code of others while the state lock is held: log events are
//! collected under the lock and emitted after it is released.

use std::{panic::AssertUnwindSafe, sync::Arc, time::SystemTime};

use futures::FutureExt as _;
use time::{Duration, OffsetDateTime};
use tokio::sync::watch;
use tracing::{debug, info, warn};

use crate::{
    CacheStatus, Error,
    auth::Inner,
    login::Token,
    runtime::{self, TokenRuntime},
};

/// A token is not handed out when it expires sooner than this (or a quarter of its
/// lifetime, if shorter): the connection would likely authenticate too late.
const EXPIRY_MARGIN: Duration = Duration::seconds(5);
/// Back-off after transient failures: 1 s doubling up to 10 s, so that a cache
/// without a valid token is back at most 10 s after its endpoint.
const BACKOFF_START: Duration = Duration::seconds(1);
const BACKOFF_MAX: Duration = Duration::seconds(10);
/// Back-off after permanent failures (the configuration must change): 30 s
/// doubling up to 5 minutes. Also the cap on an endpoint's `Retry-After`.
const PERMANENT_START: Duration = Duration::seconds(30);
const PERMANENT_MAX: Duration = Duration::seconds(300);
/// Forced refreshes after rejected logins: 1 s doubling up to 30 s apart.
const FORCED_MAX: Duration = Duration::seconds(30);

type Outcome<T> = Option<Result<T, Error>>;

/// One request under way, shared by every caller waiting for it.
pub(crate) struct Inflight<T> {
    receiver: watch::Receiver<Outcome<T>>,
    id: u64,
    pid: u32,
    generation: u64,
}

impl<T> Clone for Inflight<T> {
    fn clone(&self) -> Self {
        Self {
            receiver: self.receiver.clone(),
            id: self.id,
            pid: self.pid,
            generation: self.generation,
        }
    }
}

impl<T: Clone> Inflight<T> {
    /// Waits for the request's result, or `None` when its task ended without one.
    pub(crate) async fn result(mut self) -> Option<Result<T, Error>> {
        self.receiver
            .wait_for(Option::is_some)
            .await
            .ok()
            .and_then(|outcome| outcome.clone())
    }

    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// Whether the request can no longer report: its task is gone, or it belongs
    /// to the process this one was forked from.
    fn is_lost(&self) -> bool {
        self.pid != std::process::id() || self.receiver.has_changed().is_err()
    }
}

/// The single-flight and back-off bookkeeping of one kind of request.
pub(crate) struct Flight<T> {
    inflight: Option<Inflight<T>>,
    pub(crate) failures: u32,
    pub(crate) retry_at: Option<OffsetDateTime>,
    pub(crate) last_error: Option<Error>,
}

impl<T> Default for Flight<T> {
    fn default() -> Self {
        Self {
            inflight: None,
            failures: 0,
            retry_at: None,
            last_error: None,
        }
    }
}

impl<T: Clone + Send + Sync + 'static> Flight<T> {
    /// The request under way, forgetting one that can no longer report.
    pub(crate) fn under_way(&mut self) -> Option<Inflight<T>> {
        if self.inflight.as_ref().is_some_and(Inflight::is_lost) {
            self.inflight = None;
        }
        self.inflight.clone()
    }

    fn backing_off(&self, now: OffsetDateTime) -> bool {
        self.retry_at.is_some_and(|at| now < at)
    }

    /// Starts `request` on the token runtime; its result is reported to `done`
    /// (which updates the cache) before waiters see it.
    pub(crate) fn start<F>(
        &mut self,
        id: u64,
        request: F,
        done: impl FnOnce(&Result<T, Error>) + Send + 'static,
    ) -> Result<Inflight<T>, Error>
    where
        F: Future<Output = Result<T, Error>> + Send + 'static,
    {
        let TokenRuntime { handle, generation } = runtime::current()?;
        let (sender, receiver) = watch::channel(None);
        let inflight = Inflight {
            receiver,
            id,
            pid: std::process::id(),
            generation,
        };
        self.inflight = Some(inflight.clone());
        handle.spawn(async move {
            let result = request.await;
            done(&result);
            // Nobody may be waiting any more; the cache is updated either way.
            let _ = sender.send(Some(result));
        });
        Ok(inflight)
    }

    /// Clears the request `id` if it is the one under way.
    pub(crate) fn finish(&mut self, id: u64) {
        if self
            .inflight
            .as_ref()
            .is_some_and(|inflight| inflight.id == id)
        {
            self.inflight = None;
        }
    }

    /// Records a failure; returns how long until the next attempt.
    pub(crate) fn failed(&mut self, err: &Error, now: OffsetDateTime) -> Duration {
        self.failures = self.failures.saturating_add(1);
        let wait = backoff(self.failures, err);
        self.retry_at = Some(now + wait);
        self.last_error = Some(err.clone());
        wait
    }

    pub(crate) fn succeeded(&mut self) {
        self.failures = 0;
        self.retry_at = None;
        self.last_error = None;
    }
}

/// How long to wait after the n-th consecutive failure: 1 s doubling to 10 s, or
/// 30 s doubling to 5 minutes for permanent errors, and never less than the
/// endpoint's `Retry-After` (capped at 5 minutes).
pub(crate) fn backoff(failures: u32, err: &Error) -> Duration {
    let (start, max) = if err.is_permanent() {
        (PERMANENT_START, PERMANENT_MAX)
    } else {
        (BACKOFF_START, BACKOFF_MAX)
    };
    let doublings = failures.saturating_sub(1).min(16);
    let wait = (start * 2_i32.pow(doublings.min(9))).min(max);
    let asked = err
        .retry_after()
        .and_then(|after| Duration::try_from(after).ok())
        .map_or(Duration::ZERO, |after| after.min(PERMANENT_MAX));
    wait.max(asked)
}

/// The cached token and what is known about the requests for it.
#[derive(Default)]
pub(crate) struct State {
    current: Option<Entry>,
    pub(crate) token: Flight<Arc<Token>>,
    /// Consecutive forced refreshes, and when the next one may happen.
    forced: u32,
    forced_not_before: Option<OffsetDateTime>,
    next_id: u64,
    /// The management-scope request that names the user, if one is needed.
    pub(crate) derive: Flight<Arc<str>>,
}

impl State {
    pub(crate) fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }
}

struct Entry {
    token: Arc<Token>,
    /// `refresh_at`, as the hot path compares it.
    fresh_until: SystemTime,
    refresh_at: OffsetDateTime,
    usable_until: OffsetDateTime,
}

/// What a lookup found.
pub(crate) enum Lookup {
    /// A usable token.
    Ready(Arc<Token>),
    /// No usable token: the request that will bring one.
    Wait(Inflight<Arc<Token>>),
    /// No usable token, and the last request failed moments ago (back-off).
    Failed(Error),
}

/// What to log once the state lock is released.
enum Event {
    Got {
        expires_on: OffsetDateTime,
        refresh_at: OffsetDateTime,
    },
    StillServing {
        error: Error,
        valid_until: OffsetDateTime,
        retry_in: Duration,
    },
    NoToken {
        error: Error,
        failures: u32,
        retry_in: Duration,
    },
}

impl Event {
    fn emit(self) {
        match self {
            Self::Got {
                expires_on,
                refresh_at,
            } => info!(%expires_on, %refresh_at, "entra-pg: got an Entra token"),
            Self::StillServing {
                error,
                valid_until,
                retry_in,
            } => warn!(
                error = %error,
                %valid_until,
                %retry_in,
                "entra-pg: token refresh failed; still serving the cached token"
            ),
            Self::NoToken {
                error,
                failures,
                retry_in,
            } => warn!(
                error = %error,
                failures,
                %retry_in,
                permanent = error.is_permanent(),
                "entra-pg: token request failed and no valid token is cached"
            ),
        }
    }
}

impl Inner {
    /// Serves the cached token, or the request that will bring one. `force` skips
    /// the cached token and the back-off.
    /// The hot path: the cached token while it is fresh (before its refresh
    /// point), nothing else looked at. Otherwise [`lookup`](Self::lookup).
    pub(crate) fn fresh_token(&self) -> Option<Arc<Token>> {
        let system_now = self.clock.system_now();
        let state = self.lock();
        state
            .current
            .as_ref()
            .filter(|entry| system_now < entry.fresh_until)
            .map(|entry| Arc::clone(&entry.token))
    }

    pub(crate) fn lookup(self: &Arc<Self>, force: bool) -> Lookup {
        if !force && let Some(token) = self.fresh_token() {
            return Lookup::Ready(token);
        }
        let now = self.clock.now();
        let mut state = self.lock();
        if !force
            && let Some(entry) = &state.current
            && now < entry.usable_until
        {
            let token = Arc::clone(&entry.token);
            if state.token.under_way().is_none() && !state.token.backing_off(now) {
                // A failure here only means no refresh starts now; serve the token.
                let _ = self.start_request(&mut state, false);
            }
            return Lookup::Ready(token);
        }
        if let Some(inflight) = state.token.under_way() {
            return Lookup::Wait(inflight);
        }
        if !force
            && state.token.backing_off(now)
            && let Some(error) = &state.token.last_error
        {
            return Lookup::Failed(error.clone());
        }
        match self.start_request(&mut state, false) {
            Ok(inflight) => Lookup::Wait(inflight),
            Err(error) => Lookup::Failed(error),
        }
    }

    fn start_request(
        self: &Arc<Self>,
        state: &mut State,
        forced: bool,
    ) -> Result<Inflight<Arc<Token>>, Error> {
        let id = state.next_id();
        let inner = Arc::clone(self);
        let request = async move {
            debug!(scope = %inner.scope, "entra-pg: requesting an Entra token");
            // A panicking credential must not leave the request "under way" forever.
            AssertUnwindSafe(inner.fetch_token())
                .catch_unwind()
                .await
                .unwrap_or_else(|_| {
                    Err(Error::CredentialPanicked {
                        scope: inner.scope.clone(),
                    })
                })
                .and_then(|token| inner.check_expiry(token))
        };
        let inner = Arc::clone(self);
        state.token.start(id, request, move |result| {
            inner.complete(id, forced, result);
        })
    }

    /// Records a request's result in the cache, then logs it.
    fn complete(&self, id: u64, forced: bool, result: &Result<Arc<Token>, Error>) {
        let now = self.clock.now();
        let event = {
            let mut state = self.lock();
            state.token.finish(id);
            match result {
                Ok(token) => {
                    let expires_on = token.expires_on();
                    let lifetime = expires_on - now;
                    let window = self.refresh_ahead.min(lifetime / 2).max(Duration::ZERO);
                    let window = window + window * self.jitter.extra();
                    let margin = EXPIRY_MARGIN.min(lifetime / 4).max(Duration::ZERO);
                    let usable_until = expires_on - margin;
                    // A refresh window shorter than the margin still refreshes in time.
                    let refresh_at = (expires_on - window).min(usable_until).max(now);
                    state.current = Some(Entry {
                        token: Arc::clone(token),
                        fresh_until: refresh_at.into(),
                        refresh_at,
                        usable_until,
                    });
                    state.token.succeeded();
                    if !forced {
                        state.forced = 0;
                    }
                    Event::Got {
                        expires_on,
                        refresh_at,
                    }
                }
                Err(error) => {
                    let retry_in = state.token.failed(error, now);
                    match state
                        .current
                        .as_ref()
                        .filter(|entry| now < entry.usable_until)
                    {
                        Some(entry) => Event::StillServing {
                            error: error.clone(),
                            valid_until: entry.token.expires_on(),
                            retry_in,
                        },
                        None => Event::NoToken {
                            error: error.clone(),
                            failures: state.token.failures,
                            retry_in,
                        },
                    }
                }
            }
        };
        if result.is_ok() {
            self.changes.send_modify(|generation| *generation += 1);
        }
        event.emit();
    }

    /// Refuses a token that had already expired on arrival: the credential's
    /// clock or cache is off, and the server would refuse it.
    fn check_expiry(&self, token: Arc<Token>) -> Result<Arc<Token>, Error> {
        let now = self.clock.now();
        if token.expires_on() > now {
            return Ok(token);
        }
        Err(Error::TokenExpiredOnArrival {
            scope: self.scope.clone(),
            expires_on: token.expires_on(),
            now,
        })
    }

    /// Drops `token` if it is still the cached one and a forced refresh is allowed
    /// now (1 s doubling to 30 s apart): the server rejected it.
    pub(crate) fn invalidate(self: &Arc<Self>, token: &Arc<Token>) -> bool {
        let now = self.clock.now();
        let dropped = {
            let mut state = self.lock();
            let is_current = state
                .current
                .as_ref()
                .is_some_and(|entry| Arc::ptr_eq(&entry.token, token));
            let allowed = state.forced_not_before.is_none_or(|at| now >= at);
            if is_current && allowed {
                state.current = None;
                state.forced = state.forced.saturating_add(1);
                let doublings = (state.forced - 1).min(5);
                state.forced_not_before =
                    Some(now + (BACKOFF_START * 2_i32.pow(doublings)).min(FORCED_MAX));
                if state.token.under_way().is_none() {
                    let _ = self.start_request(&mut state, true);
                }
            }
            is_current && allowed
        };
        if dropped {
            info!("entra-pg: the server rejected the cached token; requesting a new one");
        }
        dropped
    }

    /// Forgets the request `id` of a thread that stopped answering, and the thread.
    pub(crate) fn stalled(&self, id: u64, generation: u64) {
        {
            let mut state = self.lock();
            state.token.finish(id);
            state.derive.finish(id);
        }
        runtime::abandon(generation);
        warn!("entra-pg: the token thread stopped answering; the next request starts a new one");
    }

    pub(crate) fn status(&self) -> CacheStatus {
        let state = self.lock();
        CacheStatus {
            expires_on: state.current.as_ref().map(|entry| entry.token.expires_on()),
            refresh_at: state.current.as_ref().map(|entry| entry.refresh_at),
            refreshing: state.token.inflight.is_some(),
            consecutive_failures: state.token.failures,
            next_attempt: state.token.retry_at,
            last_error: state.token.last_error.clone(),
            user: self.known_user().map(|user| user.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transient() -> Error {
        Error::Timeout {
            scope: "s".into(),
            after: std::time::Duration::from_secs(1),
            stalled: false,
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let secs = |err: &Error| -> Vec<i64> {
            (1..=9).map(|n| backoff(n, err).whole_seconds()).collect()
        };
        assert_eq!(secs(&transient()), [1, 2, 4, 8, 10, 10, 10, 10, 10]);
        assert_eq!(backoff(u32::MAX, &transient()).whole_seconds(), 10);
        let permanent = Error::invalid("x");
        assert_eq!(
            secs(&permanent),
            [30, 60, 120, 240, 300, 300, 300, 300, 300]
        );
    }

    #[test]
    fn backoff_honours_retry_after_up_to_five_minutes() {
        let throttled = |secs| Error::Credential {
            scope: "s".into(),
            status: Some(429),
            retry_after: Some(std::time::Duration::from_secs(secs)),
            source: Arc::new(azure_core::Error::with_message(
                azure_core::error::ErrorKind::Credential,
                "429",
            )),
        };
        assert_eq!(backoff(1, &throttled(60)).whole_seconds(), 60);
        assert_eq!(backoff(6, &throttled(20)).whole_seconds(), 20);
        assert_eq!(backoff(1, &throttled(86_400)).whole_seconds(), 300);
    }
}
