//! The common frame of every driver's rotation test: tokens short enough to
//! rotate several times in one test, a tally of uses, and the checks that prove
//! the rotation happened with no failure and that the server judged the tokens.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant},
};

use crate::{init_logs, unique_name, FakeEntra, Identity, PgServer, Resource};

/// Token lifetime: short enough to rotate several times within a test.
pub const LIFETIME: Duration = Duration::from_secs(20);
/// Refresh this long before expiry: about one request per lifetime.
pub const REFRESH_AHEAD: Duration = Duration::from_secs(4);
/// Pool connections live shorter than tokens, so new ones keep logging in.
pub const MAX_LIFETIME: Duration = Duration::from_secs(2);
/// Three token lifetimes and a little more.
pub const RUN: Duration = Duration::from_secs(64);
/// Pause between uses (pacing the load on two cores, not synchronisation).
pub const PAUSE: Duration = Duration::from_millis(50);

/// One pool's rotation run: its identity (tokens living [`LIFETIME`], accepted
/// for `user` on the shared server) and its tally.
pub struct Rotation {
    /// The identity the pool's `EntraAuth` uses; build it with [`REFRESH_AHEAD`].
    pub identity: Identity,
    /// The PostgreSQL user, derived from the tokens.
    pub user: String,
    /// When the run ends.
    pub deadline: Instant,
    ok: AtomicU64,
    failed: AtomicU64,
}

impl Rotation {
    /// A new identity named after `prefix`, and a run ending [`RUN`] from now.
    pub fn new(prefix: &str) -> Self {
        init_logs();
        let user = format!("{}@contoso.com", unique_name(prefix));
        let identity = FakeEntra::shared()
            .identity()
            .upn(&user)
            .lifetime(LIFETIME)
            .login_on(PgServer::shared(), &user)
            .build();
        Self {
            identity,
            user,
            deadline: Instant::now() + RUN,
            ok: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        }
    }

    /// Whether the run is still on.
    pub fn running(&self) -> bool {
        Instant::now() < self.deadline
    }

    /// Counts one use of the pool.
    pub fn record(&self, ok: bool) {
        let counter = if ok { &self.ok } else { &self.failed };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The checks after the run, for a pool of `pool_size` connections:
    /// no failed use, real use, churn (at least 3 × `pool_size` logins at the
    /// server), about one token request per lifetime, and the server rejecting
    /// the expired first token.
    pub fn check(&self, name: &str, pool_size: usize) {
        let server = PgServer::shared();
        let ok = self.ok.load(Ordering::Relaxed);
        let failed = self.failed.load(Ordering::Relaxed);
        assert_eq!(failed, 0, "{name}: failed uses ({ok} ok)");
        assert!(ok > 200, "{name}: the pool was used ({ok} times)");
        let logins = server.password_checks_for(&self.user);
        assert!(logins >= 3 * pool_size as u64, "{name}: {logins} logins");
        // 64 s / (20 s - 4 s) → 4 or 5.
        let requests = self.identity.requests(Resource::Database);
        assert!(
            (4..=6).contains(&requests),
            "{name}: {requests} token requests"
        );
        // The test is real: the first token has expired and the server says so.
        let first = self.identity.issued_tokens().remove(0);
        let err = server.login_blocking(&self.user, &first).unwrap_err();
        assert!(err.is_auth_failure(), "{name}: {err}");
        eprintln!(
            "rotation {name}: {ok} uses, 0 failed, {logins} logins, {requests} token requests"
        );
    }
}
