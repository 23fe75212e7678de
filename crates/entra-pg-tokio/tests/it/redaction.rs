//! The token never shows: not in errors, not in `Debug`, not in any log line of a
//! full connect cycle.

use entra_pg_testkit::{Fault, PgServer, captured_logs};
use entra_pg_tokio::{Bb8Manager, DeadpoolManager, DeadpoolPool, EntraConnector, bb8};

use crate::support::{auth, connector, identity_with_role, settings, tls};

#[tokio::test]
async fn no_token_in_logs_debug_or_errors_of_a_connect_cycle() {
    let (identity, _) = identity_with_role();
    let connector = connector(auth(&identity));
    let pool = bb8::Pool::builder()
        .max_size(2)
        .build(Bb8Manager::new(connector.clone()))
        .await
        .unwrap();
    let client = pool.get().await.unwrap();
    client.simple_query("SELECT 1").await.unwrap();
    let login = connector.login_config().await.unwrap();
    let deadpool = DeadpoolPool::builder(DeadpoolManager::new(connector.clone()))
        .max_size(1)
        .build()
        .unwrap();
    deadpool
        .get()
        .await
        .unwrap()
        .simple_query("SELECT 1")
        .await
        .unwrap();
    let mut texts = vec![
        format!("{connector:?}"),
        format!("{login:?}"),
        format!("{pool:?}"),
        format!("{deadpool:?}"),
    ];

    // A login the server rejects: the error names the user, not the token.
    let server = PgServer::shared();
    let mut wrong = settings(server);
    wrong.user("nobody_has_this_role");
    let rejected = EntraConnector::builder(wrong, auth(&identity))
        .tls(tls(server).connector())
        .build()
        .unwrap()
        .connect_spawned()
        .await
        .unwrap_err();
    assert_eq!(rejected.kind(), "rejected", "{rejected:?}");
    assert!(rejected.to_string().contains("pgaadauth_create_principal"));
    texts.push(format!("{rejected} {rejected:?}"));

    identity.set_fault(Some(Fault::MalformedJson));
    let refresh = connector.auth().refresh().await.unwrap_err();
    texts.push(format!("{refresh} {refresh:?}"));
    texts.push(captured_logs());

    let tokens = identity.issued_tokens();
    assert!(!tokens.is_empty());
    for token in &tokens {
        for text in &texts {
            assert!(!text.contains(token.as_str()), "a token leaked");
        }
    }
}
