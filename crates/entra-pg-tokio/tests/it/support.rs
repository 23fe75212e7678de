//! Shared set-up: the process-wide endpoint and servers, identities, connectors.

use entra_pg_core::EntraAuth;
use entra_pg_testkit::{FakeEntra, Identity, IdentityBuilder, PgServer};
use entra_pg_tokio::{EntraConnector, Tls, tokio_postgres::Config};

pub(crate) use entra_pg_testkit::identity_with_role;

/// A new identity description on the shared endpoint (environment set up).
pub(crate) fn builder() -> IdentityBuilder<'static> {
    entra_pg_testkit::init_logs();
    FakeEntra::shared().identity()
}

/// `EntraAuth` with the real `ManagedIdentityCredential` of `identity`.
pub(crate) fn auth(identity: &Identity) -> EntraAuth {
    EntraAuth::new(identity.managed_identity_credential())
}

/// Settings for `server` with no user and no password: Entra fills both.
pub(crate) fn settings(server: &PgServer) -> Config {
    let mut config = Config::new();
    config
        .host(server.host())
        .port(server.port())
        .dbname("postgres");
    config
}

/// TLS trusting the test CA of `server` only.
pub(crate) fn tls(server: &PgServer) -> Tls {
    Tls::builder()
        .root_pem(server.ca_pem())
        .unwrap()
        .build()
        .unwrap()
}

/// A connector to the shared server for `auth`.
pub(crate) fn connector(auth: EntraAuth) -> EntraConnector {
    let server = PgServer::shared();
    EntraConnector::builder(settings(server), auth)
        .tls(tls(server).connector())
        .build()
        .unwrap()
}

/// The shared server without TLS.
pub(crate) fn plaintext_server() -> &'static PgServer {
    PgServer::shared_plaintext()
}

/// `SELECT current_user` on `client`.
pub(crate) async fn current_user(client: &entra_pg_tokio::tokio_postgres::Client) -> String {
    client
        .query_one("SELECT current_user::text", &[])
        .await
        .unwrap()
        .get(0)
}
