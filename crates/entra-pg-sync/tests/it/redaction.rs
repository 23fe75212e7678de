//! The token never shows in `Debug`, errors or logs of a blocking connect cycle.

use entra_pg_sync::{R2d2Manager, r2d2};
use entra_pg_testkit::{Fault, captured_logs};

use crate::support::{auth, connector, identity_with_role};

#[test]
fn no_token_in_logs_debug_or_errors_of_a_connect_cycle() {
    let (identity, _) = identity_with_role();
    let connector = connector(auth(&identity));
    let pool = r2d2::Pool::builder()
        .max_size(2)
        .build(R2d2Manager::new(connector.clone()))
        .unwrap();
    pool.get().unwrap().simple_query("SELECT 1").unwrap();
    let login = connector.login_config().unwrap();
    let mut texts = vec![
        format!("{connector:?}"),
        format!("{login:?}"),
        format!("{pool:?}"),
    ];
    identity.set_fault(Some(Fault::MalformedJson));
    let refresh = entra_pg_testkit::block_on({
        let auth = connector.auth().clone();
        async move { auth.refresh().await.map(drop) }
    })
    .unwrap_err();
    texts.push(format!("{refresh} {refresh:?}"));
    texts.push(captured_logs());
    let tokens = identity.issued_tokens();
    assert!(tokens.len() >= 2);
    for token in &tokens {
        assert!(
            texts.iter().all(|text| !text.contains(token.as_str())),
            "a token leaked"
        );
    }
}
