//! The token never shows: not in `Debug`, not in errors (ours, diesel's, the
//! pools'), not in any log line of full connect cycles, and not in what a diesel
//! instrumentation sees when it logs through `redact_url`.

use std::sync::{Mutex, PoisonError};

use diesel::{
    connection::{Instrumentation, InstrumentationEvent, set_default_instrumentation},
    r2d2::Pool,
    result::ConnectionError,
};
use entra_pg_diesel::{
    AsyncBb8Pool, AsyncDeadpoolPool, PgConnector, R2d2Manager, async_manager, connect_async,
    redact_url,
};
use entra_pg_testkit::{Fault, PgServer, captured_logs};

use crate::support::{
    async_connector, auth, current_user_async, identity_with_role, pg_connector, settings,
};

/// What the process-wide diesel instrumentation logged: connection URLs through
/// `redact_url`, as the crate documentation recommends.
static LOGGED: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn logging_instrumentation() -> Option<Box<dyn Instrumentation>> {
    Some(Box::new(|event: InstrumentationEvent<'_>| {
        let line = match event {
            InstrumentationEvent::StartEstablishConnection { url, .. } => {
                format!("connecting to {}", redact_url(url))
            }
            InstrumentationEvent::FinishEstablishConnection { url, .. } => {
                format!("connected to {}", redact_url(url))
            }
            _ => return,
        };
        LOGGED
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(line);
    }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_in_logs_debug_errors_or_instrumentation() {
    set_default_instrumentation(logging_instrumentation).unwrap();
    let (identity, _) = identity_with_role();
    let auth = auth(&identity);
    let connector = pg_connector(auth.clone());
    let async_connector = async_connector(auth.clone());

    // Full cycles: r2d2, bb8, deadpool, direct.
    let (r2d2_debug, login, login_debug) = {
        let connector = connector.clone();
        tokio::task::spawn_blocking(move || {
            let pool = Pool::builder()
                .max_size(2)
                .build(R2d2Manager::new(connector.clone()))
                .unwrap();
            drop(pool.get().unwrap());
            let login = connector.login_url().unwrap();
            (format!("{pool:?}"), login.clone(), format!("{login:?}"))
        })
        .await
        .unwrap()
    };
    assert!(
        login.expose().contains("password="),
        "the URL has a password"
    );
    let bb8 = AsyncBb8Pool::builder()
        .max_size(1)
        .build(async_manager(async_connector.clone()))
        .await
        .unwrap();
    current_user_async(&mut bb8.get().await.unwrap()).await;
    let deadpool = AsyncDeadpoolPool::builder(async_manager(async_connector.clone()))
        .max_size(1)
        .build()
        .unwrap();
    current_user_async(&mut deadpool.get().await.unwrap()).await;
    let mut texts = vec![
        format!("{connector:?}"),
        format!("{async_connector:?}"),
        r2d2_debug,
        login_debug,
        format!("{bb8:?}"),
        format!("{:?}", deadpool.status()),
    ];

    // Logins the server rejects: the errors name the user, not the token.
    let server = PgServer::shared();
    let wrong = PgConnector::builder(
        &format!("{} user=nobody_has_this_role", settings(server)),
        auth.clone(),
    )
    .root_cert(server.ca_path())
    .build()
    .unwrap();
    let rejected = tokio::task::spawn_blocking(move || wrong.connect().map(drop).unwrap_err())
        .await
        .unwrap();
    assert_eq!(rejected.kind(), "rejected", "{rejected:?}");
    assert!(rejected.to_string().contains("pgaadauth_create_principal"));
    texts.push(format!("{rejected} {rejected:?}"));
    let diesel_error = ConnectionError::from(rejected);
    texts.push(format!("{diesel_error} {diesel_error:?}"));
    let wrong_async = entra_pg_diesel::AsyncConnector::builder(
        format!("{} user=nobody_has_this_role", settings(server)),
        auth.clone(),
    )
    .tls(crate::support::tls(server).connector())
    .build()
    .unwrap();
    let rejected = connect_async(&wrong_async).await.map(drop).unwrap_err();
    assert_eq!(rejected.kind(), "rejected", "{rejected:?}");
    texts.push(format!("{rejected} {rejected:?}"));

    identity.set_fault(Some(Fault::MalformedJson));
    let refresh = auth.refresh().await.unwrap_err();
    texts.push(format!("{refresh} {refresh:?}"));
    texts.push(captured_logs());
    let logged = LOGGED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    assert!(
        logged
            .iter()
            .any(|line| line.contains("password=<redacted>")),
        "the instrumentation saw the establish events"
    );
    texts.extend(logged);

    let tokens = identity.issued_tokens();
    assert!(!tokens.is_empty());
    for token in &tokens {
        // Never print a token: assert! without the texts.
        assert!(
            texts.iter().all(|text| !text.contains(token.as_str())),
            "a token leaked"
        );
    }
}
