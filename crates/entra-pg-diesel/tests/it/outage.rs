//! Endpoint outages: a valid cached token keeps every pool connecting; past expiry
//! the error says why (typed where the API allows) and the pools recover by
//! themselves once the endpoint is back.

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use diesel::{r2d2::Pool, result::ConnectionError};
use diesel_async::pooled_connection::PoolError;
use entra_pg_core::{EntraAuth, Error as CoreError, clock::ManualClock};
use entra_pg_diesel::{
    AsyncBb8Pool, AsyncDeadpoolPool, Error, R2d2Manager, async_manager, connect_async,
};
use entra_pg_testkit::{Fault, Identity, Resource};

use crate::support::{
    async_connector, current_user, current_user_async, identity_with_role, pg_connector,
};

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

/// Into the refresh window (120 s before the 240 s token expires), endpoint down.
fn into_refresh_window(identity: &Identity, clock: &ManualClock) {
    identity.set_fault(Some(Fault::Status(503)));
    clock.advance(time::Duration::seconds(130));
}

/// Past the token's expiry, endpoint down.
fn past_expiry(identity: &Identity, clock: &ManualClock) {
    identity.set_fault(Some(Fault::Status(500)));
    clock.advance(time::Duration::seconds(250));
}

/// The endpoint is back, with tokens valid on the test's moved clock.
fn heal(identity: &Identity) {
    identity.set_lifetime(Duration::from_secs(3600));
    identity.set_fault(None);
}

#[test]
fn r2d2_keeps_connecting_while_the_endpoint_is_down_and_the_token_valid() {
    let (identity, _) = identity_with_role();
    let (auth, clock) = clocked(&identity);
    let pool = Pool::builder()
        .max_size(NEW_CONNECTIONS as u32)
        .min_idle(Some(0))
        .build(R2d2Manager::new(pg_connector(auth)))
        .unwrap();
    drop(pool.get().unwrap());
    into_refresh_window(&identity, &clock);
    let mut held: Vec<_> = (0..NEW_CONNECTIONS)
        .map(|_| pool.get().expect("connect with the still-valid token"))
        .collect();
    for conn in &mut held {
        current_user(conn);
    }
    assert!(
        identity.requests(Resource::Database) >= 2,
        "a refresh was tried and failed"
    );
}

#[test]
fn r2d2_past_expiry_reports_the_cause_then_recovers() {
    let (identity, user) = identity_with_role();
    let (auth, clock) = clocked(&identity);
    let connector = pg_connector(auth);
    let pool = Pool::builder()
        .max_size(2)
        .min_idle(Some(0))
        .connection_timeout(Duration::from_secs(3))
        .build(R2d2Manager::new(connector.clone()))
        .unwrap();
    let mut first = pool.get().unwrap();
    past_expiry(&identity, &clock);

    let err = connector.connect().map(drop).unwrap_err();
    assert!(
        matches!(err, Error::Entra(CoreError::Credential { .. })),
        "{err:?}"
    );
    // As diesel's type: the core message.
    let ConnectionError::BadConnection(message) = ConnectionError::from(err) else {
        panic!("expected BadConnection");
    };
    assert!(message.contains("could not get a token"), "{message}");
    // r2d2 gives up after its timeout, quoting the manager's last error.
    let pool_err = pool.get().map(drop).unwrap_err();
    assert!(
        pool_err.to_string().contains("could not get a token"),
        "{pool_err}"
    );
    // The open session survives.
    assert_eq!(current_user(&mut first), user);

    heal(&identity);
    let mut conn = pool.get().expect("recovered");
    assert_eq!(current_user(&mut conn), user);
}

#[tokio::test]
async fn async_pools_keep_connecting_while_the_endpoint_is_down_and_the_token_valid() {
    let (identity, _) = identity_with_role();
    let (auth, clock) = clocked(&identity);
    let connector = async_connector(auth);
    let bb8 = AsyncBb8Pool::builder()
        .max_size(NEW_CONNECTIONS as u32)
        .retry_connection(false)
        .build(async_manager(connector.clone()))
        .await
        .unwrap();
    let deadpool = AsyncDeadpoolPool::builder(async_manager(connector))
        .max_size(NEW_CONNECTIONS)
        .build()
        .unwrap();
    drop(bb8.get().await.unwrap());
    drop(deadpool.get().await.unwrap());
    into_refresh_window(&identity, &clock);
    let mut held_bb8 = Vec::new();
    let mut held_deadpool = Vec::new();
    for _ in 0..NEW_CONNECTIONS {
        let mut conn = bb8.get().await.expect("bb8: the still-valid token");
        current_user_async(&mut conn).await;
        held_bb8.push(conn);
        let mut conn = deadpool
            .get()
            .await
            .expect("deadpool: the still-valid token");
        current_user_async(&mut conn).await;
        held_deadpool.push(conn);
    }
    assert!(identity.requests(Resource::Database) >= 2);
}

/// Keeps the last error bb8 reports (its `get()` says only `TimedOut`).
#[derive(Clone, Debug, Default)]
struct LastError(Arc<Mutex<Option<String>>>);

impl bb8::ErrorSink<PoolError> for LastError {
    fn sink(&self, error: PoolError) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(error.to_string());
    }

    fn boxed_clone(&self) -> Box<dyn bb8::ErrorSink<PoolError>> {
        Box::new(self.clone())
    }
}

#[tokio::test]
async fn async_pools_past_expiry_report_the_cause_then_recover() {
    let (identity, user) = identity_with_role();
    let (auth, clock) = clocked(&identity);
    let connector = async_connector(auth);
    let errors = LastError::default();
    let bb8 = AsyncBb8Pool::builder()
        .max_size(2)
        .retry_connection(false)
        .connection_timeout(Duration::from_secs(3))
        .error_sink(Box::new(errors.clone()))
        .build_unchecked(async_manager(connector.clone()));
    let deadpool = AsyncDeadpoolPool::builder(async_manager(connector.clone()))
        .max_size(2)
        .build()
        .unwrap();
    let mut first = deadpool.get().await.unwrap();
    past_expiry(&identity, &clock);

    // Typed on the direct path.
    let err = connect_async(&connector).await.map(drop).unwrap_err();
    assert!(
        matches!(err, Error::Entra(CoreError::Credential { .. })),
        "{err:?}"
    );
    // deadpool: diesel-async's ConnectionError with the core message.
    match deadpool.get().await {
        Err(diesel_async::pooled_connection::deadpool::PoolError::Backend(
            PoolError::ConnectionError(ConnectionError::BadConnection(message)),
        )) => assert!(message.contains("could not get a token"), "{message}"),
        Err(other) => panic!("expected the setup's error, got {other:?}"),
        Ok(_) => panic!("connected without a valid token"),
    }
    // bb8: TimedOut, the cause in the error sink.
    assert!(matches!(
        bb8.get().await.map(drop),
        Err(bb8::RunError::TimedOut)
    ));
    let cause = errors.0.lock().unwrap().clone().expect("the sink got it");
    assert!(cause.contains("could not get a token"), "{cause}");
    // The open session survives.
    assert_eq!(current_user_async(&mut first).await, user);

    heal(&identity);
    let mut conn = bb8.get().await.expect("bb8 recovered");
    assert_eq!(current_user_async(&mut conn).await, user);
    let mut conn = deadpool.get().await.expect("deadpool recovered");
    assert_eq!(current_user_async(&mut conn).await, user);
}
