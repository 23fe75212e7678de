//! diesel's instrumentation sees the URL given to `establish` (for Entra
//! connections: the token): logged through `redact_url`, as the crate
//! documentation recommends, no token shows.

use std::sync::{Mutex, PoisonError};

use diesel::connection::{Instrumentation, InstrumentationEvent, set_default_instrumentation};
use entra_pg_core::EntraAuth;
use entra_pg_diesel::{EntraConnector, redact_url};
use entra_pg_testkit::{FakeEntra, PgServer, unique_name};

/// What the process-wide diesel instrumentation logged.
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

#[test]
fn an_instrumentation_that_logs_through_redact_url_shows_no_token() {
    set_default_instrumentation(logging_instrumentation).unwrap();
    entra_pg_testkit::init_logs();
    let server = PgServer::shared();
    let user = format!("{}@contoso.com", unique_name("instrumented"));
    let identity = FakeEntra::shared()
        .identity()
        .upn(&user)
        .login_on(server, &user)
        .build();
    let auth = EntraAuth::builder(identity.managed_identity_credential())
        .allow_host("localhost")
        .build()
        .unwrap();
    let connector = EntraConnector::builder(
        format!("host=localhost port={} dbname=postgres", server.port()),
        auth,
    )
    .root_cert_pem(server.ca_pem().as_bytes())
    .build()
    .unwrap();
    drop(connector.connect().unwrap());
    let login = connector.login_url().unwrap();
    assert!(
        login.expose().contains("password="),
        "the URL has a password"
    );
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
    let tokens = identity.issued_tokens();
    assert!(!tokens.is_empty());
    for token in &tokens {
        // Never print a token: assert! without the texts.
        assert!(
            logged.iter().all(|line| !line.contains(token.as_str()))
                && !format!("{login:?}").contains(token.as_str()),
            "a token leaked"
        );
    }
}
