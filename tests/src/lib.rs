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
//! Everything is process-wide where the environment forces it (one endpoint per
//! test binary, set in `IDENTITY_ENDPOINT` once); tests stay independent by using
//! their own [`Identity`] (own client ID, tenant, role and counters).

mod az;
mod certs;
mod entra;
mod fixed;
mod jwt;
mod ldap;
mod logs;
mod pg;
pub mod rotation;
mod runtime;

pub use certs::TestCa;
pub use entra::{
    FakeEntra, Fault, Identity, IdentityBuilder, Resource, DEFAULT_LIFETIME, IDENTITY_HEADER,
};
pub use fixed::FixedToken;
pub use jwt::decode_claims;
pub use logs::{captured_logs, init_logs, init_logs_with};
pub use pg::{find_bindir, LoginError, PgServer, PgServerBuilder};
pub use runtime::block_on;

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
