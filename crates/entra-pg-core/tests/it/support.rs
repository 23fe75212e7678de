//! Shared set-up: the process-wide endpoint and server, and fresh identities.

use entra_pg_core::EntraAuth;
use entra_pg_testkit::{FakeEntra, Identity, IdentityBuilder, PgServer, unique_name};

/// An identity whose `upn` is a fresh name, which may log in to the shared server
/// as the role of that name.
pub(crate) fn identity_with_role() -> (Identity, String) {
    let user = format!("{}@contoso.com", unique_name("user"));
    let identity = builder()
        .upn(&user)
        .login_on(PgServer::shared(), &user)
        .build();
    (identity, user)
}

/// A new identity description on the shared endpoint (environment set up).
pub(crate) fn builder() -> IdentityBuilder<'static> {
    entra_pg_testkit::init_logs();
    FakeEntra::shared().identity()
}

/// `EntraAuth` with the real `ManagedIdentityCredential` of `identity`.
pub(crate) fn auth(identity: &Identity) -> EntraAuth {
    EntraAuth::new(identity.managed_identity_credential())
}
