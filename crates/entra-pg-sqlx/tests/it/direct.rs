//! Single connections, URLs and the user rule.

use entra_pg_sqlx::{EntraConnectOptions, connect};
use entra_pg_testkit::{PgServer, Resource, unique_name};

use crate::support::{auth, builder_for, current_user, entra_options, identity_with_role, options};

#[tokio::test]
async fn a_single_connection_logs_in_as_the_derived_user() {
    let (identity, user) = identity_with_role();
    let mut connection = entra_options(auth(&identity)).connect().await.unwrap();
    assert_eq!(current_user(&mut connection).await, user);
    assert_eq!(identity.requests(Resource::Database), 1);
}

#[tokio::test]
async fn a_url_without_user_or_sslmode_gets_both() {
    let (identity, user) = identity_with_role();
    let server = PgServer::shared();
    let url = format!("postgres://{}:{}/postgres", server.host(), server.port());
    let options = EntraConnectOptions::builder(url.as_str(), auth(&identity))
        .root_pem(server.ca_pem())
        .build()
        .unwrap();
    let mut connection = options.connect().await.unwrap();
    assert_eq!(current_user(&mut connection).await, user);
}

#[tokio::test]
async fn an_explicit_user_wins_over_the_derived_one() {
    // The token names one principal; the options name another role, which the
    // server accepts this identity's tokens for.
    let server = PgServer::shared();
    let role = unique_name("explicit_role");
    let identity = builder_for("someone-else@contoso.com")
        .login_on(server, &role)
        .build();
    let options = options(server).username(&role);
    let options = entra_pg_sqlx::EntraConnectOptions::builder(options, auth(&identity))
        .root_pem(server.ca_pem())
        .build()
        .unwrap();
    let mut connection = options.connect().await.unwrap();
    assert_eq!(current_user(&mut connection).await, role);
    assert_eq!(server.password_checks_for("someone-else@contoso.com"), 0);
}

#[tokio::test]
async fn the_free_function_connects_with_the_pgsslrootcert_style_root() {
    let (identity, user) = identity_with_role();
    let server = PgServer::shared();
    // A PEM root set on the options themselves, as sqlx does for PGSSLROOTCERT.
    let options = options(server).ssl_root_cert(server.ca_path());
    let mut connection = connect(options, &auth(&identity)).await.unwrap();
    assert_eq!(current_user(&mut connection).await, user);
}
