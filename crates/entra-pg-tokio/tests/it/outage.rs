//! Endpoint outages: a valid cached token keeps pools connecting; past expiry the
//! pools report a typed error and recover on their own once the endpoint is back.

use std::time::Duration;

use entra_pg_core::{EntraAuth, Error as CoreError, clock::ManualClock};
use entra_pg_testkit::{Fault, Identity, Resource};
use entra_pg_tokio::{
    Bb8ErrorSink, Bb8Manager, DeadpoolError, DeadpoolManager, DeadpoolPool, Error, bb8,
    bb8::RunError,
};

use crate::support::{connector, identity_with_role};

const NEW_CONNECTIONS: usize = 10;

/// `EntraAuth` on a manual clock, so the test moves time for the cache only (the
/// server keeps judging tokens by the real clock).
fn clocked(identity: &Identity) -> (EntraAuth, ManualClock) {
    let clock = ManualClock::starting_now();
    let auth = EntraAuth::builder(identity.managed_identity_credential())
        .clock(clock.clone())
        .build()
        .unwrap();
    (auth, clock)
}

fn bb8_builder() -> bb8::Builder<Bb8Manager> {
    bb8::Pool::builder()
        .max_size(NEW_CONNECTIONS as u32)
        .retry_connection(false)
        .connection_timeout(Duration::from_secs(20))
}

#[tokio::test]
async fn bb8_keeps_connecting_while_the_endpoint_is_down_and_the_token_valid() {
    let (identity, _) = identity_with_role();
    let (auth, clock) = clocked(&identity);
    let pool = bb8_builder()
        .build(Bb8Manager::new(connector(auth)))
        .await
        .unwrap();
    drop(pool.get().await.unwrap());
    identity.set_fault(Some(Fault::Status(503)));
    // Into the refresh window (120 s before the 240 s token expires).
    clock.advance(time::Duration::seconds(130));
    let mut held = Vec::new();
    for _ in 0..NEW_CONNECTIONS {
        let client = pool
            .get()
            .await
            .expect("connect with the still-valid token");
        client.simple_query("SELECT 1").await.unwrap();
        held.push(client);
    }
    assert!(
        identity.requests(Resource::Database) >= 2,
        "a refresh was tried and failed"
    );
}

#[tokio::test]
async fn deadpool_keeps_connecting_while_the_endpoint_is_down_and_the_token_valid() {
    let (identity, _) = identity_with_role();
    let (auth, clock) = clocked(&identity);
    let pool = DeadpoolPool::builder(DeadpoolManager::new(connector(auth)))
        .max_size(NEW_CONNECTIONS)
        .build()
        .unwrap();
    drop(pool.get().await.unwrap());
    identity.set_fault(Some(Fault::Status(503)));
    clock.advance(time::Duration::seconds(130));
    let mut held = Vec::new();
    for _ in 0..NEW_CONNECTIONS {
        let client = pool
            .get()
            .await
            .expect("connect with the still-valid token");
        client.simple_query("SELECT 1").await.unwrap();
        held.push(client);
    }
    assert!(identity.requests(Resource::Database) >= 2);
}

#[tokio::test]
async fn bb8_reports_the_cause_past_expiry_then_recovers_by_itself() {
    let (identity, user) = identity_with_role();
    let (auth, clock) = clocked(&identity);
    let connector = connector(auth);
    let pool = bb8_builder()
        .max_size(1)
        .build(Bb8Manager::new(connector.clone()))
        .await
        .unwrap();
    let first = pool.get().await.unwrap();
    // The open session survives; only new connections need a token.
    identity.set_fault(Some(Fault::Status(500)));
    clock.advance(time::Duration::seconds(250));
    let errors = Bb8ErrorSink::new();
    let second_pool = bb8_builder()
        .connection_timeout(Duration::from_secs(3))
        .error_sink(Box::new(errors.clone()))
        .build_unchecked(Bb8Manager::new(connector));
    // bb8's get() says only `TimedOut`; the cause goes to the error sink.
    assert!(matches!(second_pool.get().await, Err(RunError::TimedOut)));
    let err = errors.last().expect("the sink got the cause");
    assert!(
        matches!(*err, Error::Entra(CoreError::Credential { .. })),
        "{err:?}"
    );
    assert!(err.to_string().contains("could not get a token"), "{err}");
    first.simple_query("SELECT 1").await.unwrap();

    // The endpoint comes back (with tokens valid on the test's moved clock).
    identity.set_lifetime(Duration::from_secs(3600));
    identity.set_fault(None);
    let client = second_pool.get().await.expect("recovered");
    assert_eq!(crate::support::current_user(&client).await, user);
}

#[tokio::test]
async fn deadpool_reports_the_cause_past_expiry_then_recovers_by_itself() {
    let (identity, user) = identity_with_role();
    let (auth, clock) = clocked(&identity);
    let pool = DeadpoolPool::builder(DeadpoolManager::new(connector(auth)))
        .max_size(2)
        .build()
        .unwrap();
    let first = pool.get().await.unwrap();
    identity.set_fault(Some(Fault::Status(500)));
    clock.advance(time::Duration::seconds(250));
    let err = match pool.get().await {
        Err(DeadpoolError::Backend(err)) => err,
        Err(other) => panic!("expected the manager's error, got {other:?}"),
        Ok(_) => panic!("connected without a valid token"),
    };
    assert!(
        matches!(err, Error::Entra(CoreError::Credential { .. })),
        "{err:?}"
    );
    first.simple_query("SELECT 1").await.unwrap();

    identity.set_lifetime(Duration::from_secs(3600));
    identity.set_fault(None);
    let client = pool.get().await.expect("recovered");
    assert_eq!(crate::support::current_user(&client).await, user);
}
