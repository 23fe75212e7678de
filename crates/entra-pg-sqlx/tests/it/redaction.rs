//! The token never shows: not in errors, not in `Debug`, not in any log line of a
//! full pool cycle (sqlx's own `PgConnectOptions` Debug prints the password, so
//! nothing of ours may format one).

use entra_pg_sqlx::{
    EntraConnectOptions,
    sqlx::{self, postgres::PgPoolOptions},
};
use entra_pg_testkit::{Fault, PgServer, captured_logs};

use crate::support::{auth, entra_options, identity_with_role};

#[tokio::test]
async fn no_token_in_logs_debug_or_errors_of_a_pool_cycle() {
    let (identity, _) = identity_with_role();
    let options = entra_options(auth(&identity));
    let pool = options
        .connect_pool(PgPoolOptions::new().max_connections(2))
        .await
        .unwrap();
    let mut connection = pool.acquire().await.unwrap();
    sqlx::query("SELECT 1")
        .execute(&mut *connection)
        .await
        .unwrap();
    drop(connection);
    let mut texts = vec![
        format!("{options:?}"),
        format!("{pool:?}"),
        format!("{:?}", pool.pool()),
        format!("{:?}", pool.status()),
    ];

    // A login the server rejects: the error names the user, not the token.
    let server = PgServer::shared();
    let wrong = EntraConnectOptions::builder(
        crate::support::options(server).username("nobody_has_this_role"),
        auth(&identity),
    )
    .root_pem(server.ca_pem())
    .build()
    .unwrap();
    let rejected = wrong.connect().await.unwrap_err();
    assert_eq!(rejected.kind(), "rejected", "{rejected:?}");
    assert!(rejected.to_string().contains("pgaadauth_create_principal"));
    texts.push(format!("{rejected} {rejected:?}"));

    identity.set_fault(Some(Fault::MalformedJson));
    let refresh = pool.auth().refresh().await.unwrap_err();
    texts.push(format!("{refresh} {refresh:?}"));
    pool.close().await;
    texts.push(captured_logs());

    let tokens = identity.issued_tokens();
    assert!(!tokens.is_empty());
    for token in &tokens {
        for text in &texts {
            assert!(!text.contains(token.as_str()), "a token leaked");
        }
    }
}
