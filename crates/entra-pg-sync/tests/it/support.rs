//! Shared set-up: connectors to the shared server.

use entra_pg_core::EntraAuth;
use entra_pg_sync::{EntraConnector, Tls};
use entra_pg_testkit::{Identity, PgServer};

pub(crate) use entra_pg_testkit::identity_with_role;

/// `EntraAuth` with the real `ManagedIdentityCredential` of `identity`.
pub(crate) fn auth(identity: &Identity) -> EntraAuth {
    EntraAuth::new(identity.managed_identity_credential())
}

/// Settings for `server` with no user and no password: Entra fills both.
pub(crate) fn settings(server: &PgServer) -> postgres::Config {
    let mut config = postgres::Config::new();
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

/// `SELECT current_user` on `client`.
pub(crate) fn current_user(client: &mut postgres::Client) -> String {
    client
        .query_one("SELECT current_user::text", &[])
        .unwrap()
        .get(0)
}
