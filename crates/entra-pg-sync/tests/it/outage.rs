//! Endpoint outages: a valid cached token keeps the pool connecting; past expiry
//! the error names the cause and the pool recovers by itself.

use std::time::Duration;

use entra_pg_core::{EntraAuth, Error as CoreError, clock::ManualClock};
use entra_pg_sync::{Error, R2d2Manager, r2d2};
use entra_pg_testkit::{Fault, Resource};

use crate::support::{connector, current_user, identity_with_role};

fn clocked(identity: &entra_pg_testkit::Identity) -> (EntraAuth, ManualClock) {
    let clock = ManualClock::starting_now();
    let auth = EntraAuth::builder(identity.managed_identity_credential())
        .clock(clock.clone())
        .build()
        .unwrap();
    (auth, clock)
}

#[test]
fn the_pool_keeps_connecting_while_the_endpoint_is_down_and_the_token_valid() {
    let (identity, _) = identity_with_role();
    let (auth, clock) = clocked(&identity);
    let pool = r2d2::Pool::builder()
        .max_size(10)
        .min_idle(Some(0))
        .build(R2d2Manager::new(connector(auth)))
        .unwrap();
    drop(pool.get().unwrap());
    identity.set_fault(Some(Fault::Status(503)));
    clock.advance(time::Duration::seconds(130));
    let held: Vec<_> = (0..10)
        .map(|_| pool.get().expect("connect with the still-valid token"))
        .collect();
    assert_eq!(held.len(), 10);
    assert!(
        identity.requests(Resource::Database) >= 2,
        "a refresh was tried"
    );
}

#[test]
fn past_expiry_the_error_names_the_cause_and_the_pool_recovers() {
    let (identity, user) = identity_with_role();
    let (auth, clock) = clocked(&identity);
    let connector = connector(auth);
    let pool = r2d2::Pool::builder()
        .max_size(2)
        .min_idle(Some(0))
        .connection_timeout(Duration::from_secs(3))
        .build(R2d2Manager::new(connector.clone()))
        .unwrap();
    let mut first = pool.get().unwrap();
    identity.set_fault(Some(Fault::Status(500)));
    clock.advance(time::Duration::seconds(250));

    let err = connector.connect().map(drop).unwrap_err();
    assert!(
        matches!(err, Error::Entra(CoreError::Credential { .. })),
        "{err:?}"
    );
    // r2d2 gives up after its timeout, quoting the manager's last error.
    let pool_err = pool.get().map(drop).unwrap_err();
    assert!(
        pool_err.to_string().contains("could not get a token"),
        "{pool_err}"
    );
    first.simple_query("SELECT 1").unwrap();

    identity.set_lifetime(Duration::from_secs(3600));
    identity.set_fault(None);
    let mut client = pool.get().expect("recovered");
    assert_eq!(current_user(&mut client), user);
}
