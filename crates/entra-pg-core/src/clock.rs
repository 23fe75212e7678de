//! Time sources for the token cache, so expiry can be tested without waiting.

use std::{
    fmt,
    sync::{Arc, Mutex, PoisonError},
    time::SystemTime,
};

use time::{Duration, OffsetDateTime};

/// Where the token cache reads the current time.
///
/// The cache compares this time with each token's `expires_on` to decide when to
/// refresh. Production code uses [`SystemClock`]; tests inject a [`ManualClock`].
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current time.
    fn now(&self) -> OffsetDateTime;

    /// The current time as a [`SystemTime`], which the cache compares on its hot
    /// path (cheaper than building an `OffsetDateTime`). The default converts
    /// [`now`](Self::now); override it only to make it cheaper.
    fn system_now(&self) -> SystemTime {
        self.now().into()
    }
}

/// The system's wall clock (the same clock Entra's `expires_on` is measured against).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    /// The wall clock at the kernel's tick (a few milliseconds) where the OS has
    /// such a clock (`CLOCK_REALTIME_COARSE` on Linux and FreeBSD): the cache
    /// compares it with refresh points minutes ahead, and on virtual machines it
    /// costs a seventh of a precise read (10 ns against 68 ns measured here).
    fn system_now(&self) -> SystemTime {
        coarse_now()
    }
}

#[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
fn coarse_now() -> SystemTime {
    use rustix::time::{ClockId, clock_gettime};
    let now = clock_gettime(ClockId::RealtimeCoarse);
    match (u64::try_from(now.tv_sec), u32::try_from(now.tv_nsec)) {
        (Ok(secs), Ok(nanos)) => SystemTime::UNIX_EPOCH + std::time::Duration::new(secs, nanos),
        // A clock before 1970: let the standard library say what it means.
        _ => SystemTime::now(),
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
fn coarse_now() -> SystemTime {
    SystemTime::now()
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

/// How far a token's refresh point is moved ahead of the refresh-ahead window, so
/// that processes started together do not refresh together.
///
/// The refresh point is `expires_on - window × (1 + fraction × spread)`, where
/// `fraction` comes from the jitter's source in `[0, 1)` and `spread` defaults to
/// 10 %. Tests use [`Jitter::none`] or [`Jitter::fixed`] to stay deterministic.
#[derive(Clone)]
pub struct Jitter {
    spread: f64,
    source: Arc<dyn Fn() -> f64 + Send + Sync>,
}

impl Jitter {
    /// Up to 10 % of the window, from a fast non-cryptographic random source.
    #[must_use]
    pub fn random() -> Self {
        Self {
            spread: 0.1,
            source: Arc::new(fastrand::f64),
        }
    }

    /// No jitter: the refresh point is exactly `expires_on - window`.
    #[must_use]
    pub fn none() -> Self {
        Self::fixed(0.0)
    }

    /// Always moves the refresh point by `fraction` (clamped to `[0, 1]`) of the
    /// spread, for tests.
    #[must_use]
    pub fn fixed(fraction: f64) -> Self {
        let fraction = fraction.clamp(0.0, 1.0);
        Self {
            spread: 0.1,
            source: Arc::new(move || fraction),
        }
    }

    /// Draws from `source` (values are clamped to `[0, 1]`).
    #[must_use]
    pub fn from_fn(source: impl Fn() -> f64 + Send + Sync + 'static) -> Self {
        Self {
            spread: 0.1,
            source: Arc::new(source),
        }
    }

    /// The extra share of the window for one token, in `[0, spread]`.
    pub(crate) fn extra(&self) -> f64 {
        let sample = (self.source)();
        if sample.is_finite() {
            sample.clamp(0.0, 1.0) * self.spread
        } else {
            0.0
        }
    }
}

impl Default for Jitter {
    fn default() -> Self {
        Self::random()
    }
}

impl fmt::Debug for Jitter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Jitter")
            .field("spread", &self.spread)
            .finish_non_exhaustive()
    }
}
