//! Cache behaviour: shared requests, refresh ahead, outages, cancellation, timeout.

use std::{sync::Arc, time::Duration};

use entra_pg_core::{EntraAuth, Error, clock::ManualClock};
use entra_pg_testkit::{Fault, Resource, captured_logs};
use futures::FutureExt as _;

use crate::support::{auth, builder, identity_with_role};

/// Tokens shorter than five minutes: `azure_identity`'s own cache never reuses them,
/// so every request of ours reaches the endpoint and can be counted.
const SHORT: Duration = Duration::from_secs(240);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_callers_on_a_cold_cache_share_one_request() {
    let (identity, user) = identity_with_role();
    // The endpoint answers slowly, so all callers arrive while the request is out.
    identity.set_fault(Some(Fault::Delay(Duration::from_millis(300))));
    let auth = auth(&identity);
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let auth = auth.clone();
            tokio::spawn(async move { auth.conninfo().await })
        })
        .collect();
    let mut tokens = Vec::new();
    for task in tasks {
        let info = task.await.unwrap().unwrap();
        assert_eq!(info.user(), user);
        tokens.push(info.password().to_owned());
    }
    tokens.dedup();
    assert_eq!(tokens.len(), 1, "all callers got the same token");
    assert_eq!(identity.requests(Resource::Database), 1);
    assert_eq!(identity.requests(Resource::Management), 0);
}

fn clocked(identity: &entra_pg_testkit::Identity) -> (EntraAuth, ManualClock) {
    clocked_with_window(identity, entra_pg_core::DEFAULT_REFRESH_AHEAD)
}

/// `EntraAuth` on a manual clock with an explicit refresh-ahead window.
fn clocked_with_window(
    identity: &entra_pg_testkit::Identity,
    window: Duration,
) -> (EntraAuth, ManualClock) {
    let clock = ManualClock::starting_now();
    let auth = EntraAuth::builder(identity.managed_identity_credential())
        .clock(clock.clone())
        .refresh_ahead(window)
        .build()
        .unwrap();
    (auth, clock)
}

fn secs(n: i64) -> time::Duration {
    time::Duration::seconds(n)
}

#[tokio::test]
async fn refreshes_ahead_of_expiry_at_half_the_lifetime_of_short_tokens() {
    let identity = builder().upn("refresh@contoso.com").lifetime(SHORT).build();
    let (auth, clock) = clocked(&identity);
    let first = auth.conninfo().await.unwrap();
    assert_eq!(identity.requests(Resource::Database), 1);

    // 240 s token: refresh window is min(5 min, 120 s) = 120 s before expiry.
    clock.advance(secs(110));
    assert!(auth.conninfo().await.unwrap().password() == first.password());
    assert!(auth.wait_for_refresh().await.is_none(), "not due yet");
    assert_eq!(
        identity.requests(Resource::Database),
        1,
        "fresh token served from cache"
    );

    clock.advance(secs(15));
    let during = auth.conninfo().await.unwrap();
    assert!(
        during.password() == first.password(),
        "valid token served while refreshing"
    );
    let refreshed = auth
        .wait_for_refresh()
        .await
        .expect("refresh started")
        .unwrap();
    assert!(refreshed.password() != first.password());
    assert_eq!(identity.requests(Resource::Database), 2);
    assert!(auth.conninfo().await.unwrap().password() == refreshed.password());
    assert_eq!(identity.requests(Resource::Database), 2);
}

#[tokio::test]
async fn explicit_refresh_window_is_honoured() {
    let identity = builder().upn("window@contoso.com").lifetime(SHORT).build();
    let (auth, clock) = clocked_with_window(&identity, Duration::from_secs(30));
    auth.conninfo().await.unwrap();
    clock.advance(secs(200)); // 40 s left: outside a 30 s window
    auth.conninfo().await.unwrap();
    assert!(auth.wait_for_refresh().await.is_none());
    clock.advance(secs(15)); // 25 s left
    auth.conninfo().await.unwrap();
    assert!(auth.wait_for_refresh().await.is_some());
    assert_eq!(identity.requests(Resource::Database), 2);
}

#[tokio::test]
async fn outage_while_the_token_is_valid_serves_it_warns_and_backs_off() {
    let identity = builder().upn("outage@contoso.com").lifetime(SHORT).build();
    let (auth, clock) = clocked(&identity);
    let first = auth.conninfo().await.unwrap();
    identity.set_fault(Some(Fault::Status(500)));
    clock.advance(secs(130)); // in the refresh window, 110 s of validity left

    let served = auth.conninfo().await.unwrap();
    assert!(served.password() == first.password());
    let failed = auth.wait_for_refresh().await.expect("refresh started");
    assert!(
        matches!(failed, Err(Error::Credential { .. })),
        "{failed:?}"
    );
    assert_eq!(identity.requests(Resource::Database), 2);
    let logs = captured_logs();
    assert!(
        // One event per chunk (error messages may span lines).
        logs.split(" WARN ").any(|event| event
            .contains("token refresh failed; still serving the cached token")
            && event.contains("outage@contoso.com")),
        "a warning is logged: {}",
        logs.lines()
            .filter(|line| line.contains("WARN"))
            .collect::<Vec<_>>()
            .join("\n")
    );

    // Within the back-off (1 s after the first failure): no new request.
    for _ in 0..50 {
        assert!(auth.conninfo().await.unwrap().password() == first.password());
    }
    assert!(auth.wait_for_refresh().await.is_none());
    assert_eq!(identity.requests(Resource::Database), 2, "no request storm");
    let status = auth.status();
    assert_eq!(status.consecutive_failures, 1);
    assert!(status.next_attempt.is_some());
    assert!(status.last_error.is_some());

    // After the back-off: one more attempt, which fails again; the next back-off is 2 s.
    clock.advance(secs(1));
    auth.conninfo().await.unwrap();
    assert!(auth.wait_for_refresh().await.unwrap().is_err());
    assert_eq!(identity.requests(Resource::Database), 3);
    clock.advance(secs(1));
    auth.conninfo().await.unwrap();
    assert!(
        auth.wait_for_refresh().await.is_none(),
        "second back-off is 2 s"
    );

    // The endpoint heals: the next attempt after the back-off succeeds.
    identity.set_fault(None);
    clock.advance(secs(1));
    assert!(auth.conninfo().await.unwrap().password() == first.password());
    let renewed = auth.wait_for_refresh().await.unwrap().unwrap();
    assert!(renewed.password() != first.password());
    assert_eq!(auth.status().consecutive_failures, 0);
    assert_eq!(identity.requests(Resource::Database), 4);
}

#[tokio::test]
async fn outage_without_a_valid_token_is_a_typed_error_then_recovers() {
    let identity = builder().upn("down@contoso.com").lifetime(SHORT).build();
    let (auth, clock) = clocked(&identity);
    identity.set_fault(Some(Fault::Status(503)));
    let err = auth.conninfo().await.unwrap_err();
    assert!(matches!(err, Error::Credential { .. }), "{err:?}");
    assert!(err.to_string().contains("could not get a token"), "{err}");
    // No valid token: the next caller may retry at once (no back-off).
    let err = auth.conninfo().await.unwrap_err();
    assert_eq!(err.kind(), "credential");
    assert_eq!(identity.requests(Resource::Database), 2);

    // Throttling (HTTP 429) is reported the same way.
    identity.set_fault(Some(Fault::Status(429)));
    assert!(matches!(
        auth.conninfo().await,
        Err(Error::Credential { .. })
    ));
    assert_eq!(identity.requests(Resource::Database), 3);

    identity.set_fault(None);
    let info = auth.conninfo().await.unwrap();
    assert_eq!(info.user(), "down@contoso.com");
    assert_eq!(identity.requests(Resource::Database), 4);

    // Later the token expires entirely while the endpoint is down: error again.
    identity.set_fault(Some(Fault::Status(500)));
    clock.advance(secs(300));
    assert!(auth.conninfo().await.is_err());
    // Back up (and the clock back to real time, which the endpoint's expiry uses).
    identity.set_fault(None);
    clock.set(time::OffsetDateTime::now_utc());
    assert!(auth.conninfo().await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_caller_neither_cancels_the_request_nor_blocks_the_cache() {
    let identity = builder().upn("cancel@contoso.com").build();
    identity.set_fault(Some(Fault::Delay(Duration::from_secs(2))));
    let auth = auth(&identity);
    // Poll once (which starts the request), then drop the future.
    assert!(auth.conninfo().now_or_never().is_none());
    assert!(
        auth.status().refreshing,
        "the request goes on without its caller"
    );
    let info = auth.conninfo().await.unwrap();
    assert_eq!(info.user(), "cancel@contoso.com");
    assert_eq!(
        identity.requests(Resource::Database),
        1,
        "had the dropped caller's request been cancelled, this would be a second one"
    );

    // Drop every waiter of a request: it still completes and fills the cache.
    let (idle, _) = identity_with_role();
    idle.set_fault(Some(Fault::Delay(Duration::from_secs(2))));
    let idle_auth = crate::support::auth(&idle);
    assert!(idle_auth.conninfo().now_or_never().is_none());
    assert!(
        idle_auth.status().refreshing,
        "nobody waits; the request goes on"
    );
    idle_auth.conninfo().await.unwrap();
    assert_eq!(idle.requests(Resource::Database), 1);
}

#[tokio::test]
async fn a_hanging_endpoint_ends_in_a_timeout_error() {
    let identity = builder().upn("hang@contoso.com").build();
    identity.set_fault(Some(Fault::Hang));
    let auth = EntraAuth::builder(identity.managed_identity_credential())
        .fetch_timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let err = auth.conninfo().await.unwrap_err();
    match &err {
        Error::Timeout { after, .. } => assert_eq!(*after, Duration::from_secs(1)),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(err.to_string().contains("fetch_timeout"), "{err}");
    identity.set_fault(None);
    assert!(
        auth.conninfo().await.is_ok(),
        "recovers once the endpoint answers"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_cli_runs_once_for_twenty_concurrent_connects() {
    let identity = builder().upn("cli@contoso.com").build();
    identity.set_fault(Some(Fault::Delay(Duration::from_millis(250))));
    let auth = EntraAuth::new(identity.azure_cli_credential());
    let results = futures::future::join_all((0..20).map(|_| auth.conninfo())).await;
    for result in results {
        assert_eq!(result.unwrap().user(), "cli@contoso.com");
    }
    assert_eq!(identity.requests(Resource::Database), 1, "az ran once");
}

#[tokio::test]
async fn clones_share_one_cache() {
    let identity = builder().upn("clone@contoso.com").build();
    let auth = Arc::new(auth(&identity));
    let copy = (*auth).clone();
    let a = auth.conninfo().await.unwrap();
    let b = copy.conninfo().await.unwrap();
    assert!(a.password() == b.password());
    assert_eq!(identity.requests(Resource::Database), 1);
}

#[tokio::test]
async fn a_zero_refresh_window_still_never_hands_out_a_token_about_to_expire() {
    let identity = builder().upn("zero@contoso.com").lifetime(SHORT).build();
    let (auth, clock) = clocked_with_window(&identity, Duration::ZERO);
    let first = auth.conninfo().await.unwrap();
    clock.advance(secs(236)); // 4 s left: less than the 5 s expiry margin
    let next = auth.conninfo().await.unwrap();
    assert!(
        next.password() != first.password(),
        "a fresh token, not one about to expire"
    );
    assert_eq!(identity.requests(Resource::Database), 2);
}

#[derive(Debug)]
struct PanickingCredential;

#[async_trait::async_trait]
impl entra_pg_core::azure_core::credentials::TokenCredential for PanickingCredential {
    async fn get_token(
        &self,
        _scopes: &[&str],
        _options: Option<entra_pg_core::azure_core::credentials::TokenRequestOptions<'_>>,
    ) -> entra_pg_core::azure_core::Result<entra_pg_core::azure_core::credentials::AccessToken>
    {
        panic!("credential bug");
    }
}

#[tokio::test]
async fn a_panicking_credential_is_an_error_not_a_stuck_cache() {
    let auth = EntraAuth::builder(Arc::new(PanickingCredential))
        .user("u")
        .build()
        .unwrap();
    for _ in 0..2 {
        let err = auth.conninfo().await.unwrap_err();
        assert!(err.to_string().contains("panicked"), "{err}");
        assert!(!auth.status().refreshing);
    }
    assert_eq!(auth.status().consecutive_failures, 2);
}
