//! Time sources for the token cache, so expiry can be tested without waiting.

use std::{
    fmt,
    sync::{Arc, Mutex, PoisonError},
};

use time::{Duration, OffsetDateTime};

/// Where the token cache reads the current time.
///
/// The cache compares this time with each token's `expires_on` to decide when to
/// refresh. Production code uses [`SystemClock`]; tests inject a [`ManualClock`].
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current time.
    fn now(&self) -> OffsetDateTime;
}

/// The system's wall clock (the same clock Entra's `expires_on` is measured against).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that moves only when told to. Clones share the same time.
///
/// Meant for tests: build an [`EntraAuth`](crate::EntraAuth) with
/// [`EntraAuthBuilder::clock`](crate::EntraAuthBuilder::clock), then
/// [`advance`](Self::advance) past a token's refresh point instead of sleeping.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<OffsetDateTime>>);

impl ManualClock {
    /// A clock that starts at `start`.
    #[must_use]
    pub fn new(start: OffsetDateTime) -> Self {
        Self(Arc::new(Mutex::new(start)))
    }

    /// A clock that starts at the current system time.
    #[must_use]
    pub fn starting_now() -> Self {
        Self::new(OffsetDateTime::now_utc())
    }

    /// Moves the clock forward (or backward, with a negative duration).
    pub fn advance(&self, by: Duration) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) += by;
    }

    /// Sets the clock to `now`.
    pub fn set(&self, now: OffsetDateTime) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = now;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
