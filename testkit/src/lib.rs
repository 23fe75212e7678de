//! Test kit shared by every crate's tests, the examples demo and the benchmarks.
//!
//! Only what lives in Azure is faked:
//! - [`PgServer`]: a real, throwaway PostgreSQL server from the system binaries,
//!   TLS with a generated CA, login roles accepted over TLS with a password only.
//!   The server checks each password through its `ldap` authentication against a
//!   small LDAP responder in the kit, which holds the passwords accepted per server
//!   and role, each with an optional expiry ([`PgServer::accept_password`]).
//! - [`FakeEntra`]: an HTTP endpoint speaking the App Service managed-identity
//!   protocol (and a fake `az` on `PATH`), called by the *real* `azure_identity`
//!   credentials. Each [`Identity`] issues JWT-shaped tokens with configurable
//!   claims and lifetime; every database token issued for a role bound with
//!   [`IdentityBuilder::login_on`] is accepted by the server until it expires, older
//!   tokens included, like on Azure. The server decides whether a token is accepted.
//!
//! - [`HostileServer`]: a server that asks every client for a cleartext password
//!   and counts what arrives, on listeners where a token must never arrive.
//! - [`suite`]: the shared driver suite (a [`suite::Driver`] per driver path,
//!   instantiated with [`driver_suite!`]).
//!
//! Everything is process-wide where the environment forces it (one endpoint per
//! test binary, set in `IDENTITY_ENDPOINT` once); tests stay independent by using
//! their own [`Identity`] (own client ID, tenant, role and counters).

mod az;
mod bindir;
mod certs;
mod entra;
mod fixed;
mod hostile;
mod jwt;
mod ldap;
mod logs;
mod pg;
mod runtime;
pub mod suite;

pub use bindir::find_bindir;
pub use certs::TestCa;
pub use entra::{
    FakeEntra, Fault, Identity, IdentityBuilder, Resource, DEFAULT_LIFETIME, IDENTITY_HEADER,
};
pub use fixed::FixedToken;
pub use hostile::{HostileServer, Listener, OTHER_HOST};
pub use jwt::decode_claims;
pub use logs::{captured_logs, init_logs, init_logs_with, on_log_line};
pub use pg::{LoginError, PgServer, PgServerBuilder};
pub use runtime::block_on;

/// An Azure-style server name under the public cloud's domain, for the positive
/// control of the default host policy: the hostile server's trusted certificate
/// is for it, and drivers reach it on 127.0.0.1 through `hostaddr`, or through
/// `/etc/hosts` for drivers without `hostaddr` (sqlx); see [`test_names_resolve`].
pub const AZURE_TEST_HOST: &str = "entra-pg-test.postgres.database.azure.com";

/// The `/etc/hosts` line that makes [`AZURE_TEST_HOST`] and [`OTHER_HOST`]
/// resolve to loopback. `cargo xtask test` and `.ci/run` add it.
pub const HOSTS_LINE: &str =
    "127.0.0.1 entra-pg-test.postgres.database.azure.com other.invalid # entra-pg test kit";

/// Checks that [`AZURE_TEST_HOST`] and [`OTHER_HOST`] resolve to 127.0.0.1.
///
/// # Errors
/// A message saying which line to add to `/etc/hosts`.
pub fn test_names_resolve() -> Result<(), String> {
    use std::net::ToSocketAddrs;
    for name in [AZURE_TEST_HOST, OTHER_HOST] {
        let loopback = (name, 5432)
            .to_socket_addrs()
            .map(|mut addrs| addrs.any(|addr| addr.ip().is_loopback()))
            .unwrap_or(false);
        if !loopback {
            return Err(format!(
                "{name} does not resolve to 127.0.0.1; add the line `{HOSTS_LINE}` to /etc/hosts \
                 (`cargo xtask test` and .ci/run add it)"
            ));
        }
    }
    Ok(())
}

/// A manual clock for clocked tests, started a day in the past: tokens issued on
/// it have already expired in system time, so `azure_identity`'s own cache (which
/// uses the system clock) never keeps one, and every request reaches the fake
/// endpoint where it is counted.
pub fn test_clock() -> entra_pg_core::clock::ManualClock {
    entra_pg_core::clock::ManualClock::new(
        time::OffsetDateTime::now_utc() - time::Duration::days(1),
    )
}

/// A name unique in this process, for roles and identities: `prefix_<n>`.
pub fn unique_name(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("{prefix}_{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// A fresh identity on the shared endpoint whose `upn` is a fresh name, which may
/// log in to the shared server as the role of that name. Starts log capture.
pub fn identity_with_role() -> (Identity, String) {
    let user = format!("{}@contoso.com", unique_name("user"));
    init_logs();
    let identity = FakeEntra::shared()
        .identity()
        .upn(&user)
        .login_on(PgServer::shared(), &user)
        .build();
    (identity, user)
}
