//! Shared set-up: options for the shared server, identities, logins.

use entra_pg_core::EntraAuth;
use entra_pg_sqlx::{
    EntraConnectOptions,
    sqlx::{PgConnection, postgres::PgConnectOptions},
};
use entra_pg_testkit::{Identity, PgServer};

pub(crate) use entra_pg_testkit::identity_with_role;

/// `EntraAuth` with the real `ManagedIdentityCredential` of `identity`.
pub(crate) fn auth(identity: &Identity) -> EntraAuth {
    EntraAuth::new(identity.managed_identity_credential())
}

/// Options for `server` with no user, password or sslmode: Entra fills the login,
/// and the TLS rule makes it `verify-full`.
pub(crate) fn options(server: &PgServer) -> PgConnectOptions {
    PgConnectOptions::new_without_pgpass()
        .host(server.host())
        .port(server.port())
        .database("postgres")
}

/// Entra options for the shared server, trusting its test CA.
pub(crate) fn entra_options(auth: EntraAuth) -> EntraConnectOptions {
    let server = PgServer::shared();
    EntraConnectOptions::builder(options(server), auth)
        .root_pem(server.ca_pem())
        .build()
        .unwrap()
}

/// `SELECT current_user` on `connection`.
pub(crate) async fn current_user(connection: &mut PgConnection) -> String {
    entra_pg_sqlx::sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(connection)
        .await
        .unwrap()
}

/// A new identity description on the shared endpoint whose `upn` is `upn`.
pub(crate) fn builder_for(upn: &str) -> entra_pg_testkit::IdentityBuilder<'static> {
    entra_pg_testkit::init_logs();
    entra_pg_testkit::FakeEntra::shared().identity().upn(upn)
}
