//! Shared set-up: the process-wide endpoint and server, fresh identities, and
//! logins for a target the default host policy permits.

use entra_pg_core::{Destination, EntraAuth, Error, Login, Target};
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

/// A target the default policy permits: an Azure-style server name of the
/// auth's cloud.
pub(crate) fn target(auth: &EntraAuth) -> Target {
    let host = format!("entra-pg-test.{}", auth.cloud().server_domain());
    auth.target(Destination::new("test").tcp_host(host))
        .expect("the default policy permits a server name of its cloud")
}

/// Logins for [`target`], as a driver crate asks for them.
#[allow(
    async_fn_in_trait,
    reason = "test helpers, never used as trait objects"
)]
pub(crate) trait Logins {
    /// [`EntraAuth::login`].
    async fn login_now(&self) -> Result<Login, Error>;
    /// [`EntraAuth::login_blocking`].
    fn login_now_blocking(&self) -> Result<Login, Error>;
    /// [`EntraAuth::refresh`].
    async fn refresh_now(&self) -> Result<Login, Error>;
}

impl Logins for EntraAuth {
    async fn login_now(&self) -> Result<Login, Error> {
        self.login(&target(self)).await
    }

    fn login_now_blocking(&self) -> Result<Login, Error> {
        self.login_blocking(&target(self))
    }

    async fn refresh_now(&self) -> Result<Login, Error> {
        self.refresh(&target(self)).await
    }
}
