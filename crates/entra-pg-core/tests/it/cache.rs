//! Cache behaviour on the injected clock: shared requests, refresh ahead (with
//! jitter), back-off with and without a valid token (no retry storm), forced
//! refresh after a rejection, cancellation, bounded waits, no logging under locks.

use std::{
    sync::{Arc, OnceLock},
    time::Duration,
};

use entra_pg_core::{
    EntraAuth, Error,
    clock::{Jitter, ManualClock},
};
use entra_pg_testkit::{Fault, Identity, Resource, captured_logs, test_clock};
use futures::FutureExt as _;

use crate::support::{Logins as _, auth, builder, identity_with_role};

/// Token lifetime of the clocked tests.
const LIFETIME: Duration = Duration::from_secs(240);

fn secs(n: i64) -> time::Duration {
    time::Duration::seconds(n)
}

/// An identity issuing tokens on `clock`, and an `EntraAuth` on the same clock
/// with `window` and no jitter.
fn clocked_with_window(upn: &str, window: Duration) -> (Identity, EntraAuth, ManualClock) {
    let clock = test_clock();
    let identity = builder()
        .upn(upn)
        .lifetime(LIFETIME)
        .clock(clock.clone())
        .build();
    let auth = EntraAuth::builder(identity.managed_identity_credential())
        .clock(clock.clone())
        .refresh_ahead(window)
        .jitter(Jitter::none())
        .build()
        .unwrap();
    (identity, auth, clock)
}

fn clocked(upn: &str) -> (Identity, EntraAuth, ManualClock) {
    clocked_with_window(upn, entra_pg_core::DEFAULT_REFRESH_AHEAD)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_callers_on_a_cold_cache_share_one_request() {
    let (identity, user) = identity_with_role();
    // The endpoint answers slowly, so all callers arrive while the request is out.
    identity.set_fault(Some(Fault::Delay(Duration::from_millis(300))));
    let auth = auth(&identity);
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let auth = auth.clone();
            tokio::spawn(async move { auth.login_now().await })
        })
        .collect();
    let mut tokens = Vec::new();
    for task in tasks {
        let login = task.await.unwrap().unwrap();
        assert_eq!(login.user(), user);
        tokens.push(login.password().to_owned());
    }
    tokens.dedup();
    assert_eq!(tokens.len(), 1, "all callers got the same token");
    assert_eq!(identity.requests(Resource::Database), 1);
    assert_eq!(identity.requests(Resource::Management), 0);
}

#[tokio::test]
async fn refreshes_ahead_of_expiry_at_half_the_lifetime_of_short_tokens() {
    let (identity, auth, clock) = clocked("refresh@contoso.com");
    let first = auth.login_now().await.unwrap();
    assert_eq!(identity.requests(Resource::Database), 1);

    // 240 s token: refresh window is min(5 min, 120 s) = 120 s before expiry.
    clock.advance(secs(110));
    assert!(auth.login_now().await.unwrap().same_token(&first));
    assert!(auth.wait_for_refresh().await.is_none(), "not due yet");
    assert_eq!(
        identity.requests(Resource::Database),
        1,
        "served from cache"
    );

    clock.advance(secs(15));
    let during = auth.login_now().await.unwrap();
    assert!(
        during.same_token(&first),
        "valid token served while refreshing"
    );
    let expires = auth
        .wait_for_refresh()
        .await
        .expect("refresh started")
        .unwrap();
    assert!(expires > first.expires_on());
    assert_eq!(identity.requests(Resource::Database), 2);
    let next = auth.login_now().await.unwrap();
    assert!(!next.same_token(&first) && next.expires_on() == expires);
    assert_eq!(identity.requests(Resource::Database), 2);
}

#[tokio::test]
async fn explicit_refresh_window_is_honoured() {
    let (identity, auth, clock) =
        clocked_with_window("window@contoso.com", Duration::from_secs(30));
    auth.login_now().await.unwrap();
    clock.advance(secs(200)); // 40 s left: outside a 30 s window
    auth.login_now().await.unwrap();
    assert!(auth.wait_for_refresh().await.is_none());
    clock.advance(secs(15)); // 25 s left
    auth.login_now().await.unwrap();
    assert!(auth.wait_for_refresh().await.is_some());
    assert_eq!(identity.requests(Resource::Database), 2);
}

#[tokio::test]
async fn jitter_moves_the_refresh_point_earlier_by_up_to_a_tenth_of_the_window() {
    // A 20-minute token: the window is the full 5 minutes.
    for (fraction, ahead) in [(0.0, 300), (0.5, 315), (1.0, 330)] {
        let clock = test_clock();
        let identity = builder()
            .upn("jitter@contoso.com")
            .lifetime(Duration::from_secs(1200))
            .clock(clock.clone())
            .build();
        let auth = EntraAuth::builder(identity.managed_identity_credential())
            .clock(clock.clone())
            .jitter(Jitter::fixed(fraction))
            .build()
            .unwrap();
        let login = auth.login_now().await.unwrap();
        let status = auth.status();
        assert_eq!(
            login.expires_on() - status.refresh_at.unwrap(),
            secs(ahead),
            "fraction {fraction}"
        );
    }
}

#[tokio::test]
async fn outage_while_the_token_is_valid_serves_it_warns_and_backs_off() {
    let (identity, auth, clock) = clocked("outage@contoso.com");
    let first = auth.login_now().await.unwrap();
    identity.set_fault(Some(Fault::Status(500)));
    clock.advance(secs(130)); // in the refresh window, 110 s of validity left

    let served = auth.login_now().await.unwrap();
    assert!(served.same_token(&first));
    let failed = auth.wait_for_refresh().await.expect("refresh started");
    match failed {
        Err(Error::Credential { status, .. }) => assert_eq!(status, Some(500)),
        other => panic!("expected a credential error, got {other:?}"),
    }
    assert_eq!(identity.requests(Resource::Database), 2);
    let logs = captured_logs();
    assert!(
        // One event per chunk (error messages may span lines).
        logs.split(" WARN ")
            .any(|event| event.contains("token refresh failed; still serving the cached token")),
        "a warning is logged"
    );

    // Within the back-off (1 s after the first failure): no new request.
    for _ in 0..50 {
        assert!(auth.login_now().await.unwrap().same_token(&first));
    }
    assert!(auth.wait_for_refresh().await.is_none());
    assert_eq!(identity.requests(Resource::Database), 2, "no request storm");
    let status = auth.status();
    assert_eq!(status.consecutive_failures, 1);
    assert_eq!(status.next_attempt, Some(auth.now() + secs(1)));
    assert!(status.last_error.is_some());

    // After the back-off: one more attempt, which fails again; the next back-off is 2 s.
    clock.advance(secs(1));
    auth.login_now().await.unwrap();
    assert!(auth.wait_for_refresh().await.unwrap().is_err());
    assert_eq!(identity.requests(Resource::Database), 3);
    clock.advance(secs(1));
    auth.login_now().await.unwrap();
    assert!(
        auth.wait_for_refresh().await.is_none(),
        "second back-off is 2 s"
    );

    // The endpoint heals: the next attempt after the back-off succeeds.
    identity.set_fault(None);
    clock.advance(secs(1));
    assert!(auth.login_now().await.unwrap().same_token(&first));
    auth.wait_for_refresh().await.unwrap().unwrap();
    assert_eq!(auth.status().consecutive_failures, 0);
    assert_eq!(identity.requests(Resource::Database), 4);
}

#[tokio::test]
async fn without_a_valid_token_callers_get_the_last_error_until_the_back_off_passed() {
    let (identity, auth, clock) = clocked("down@contoso.com");
    identity.set_fault(Some(Fault::Status(503)));
    let err = auth.login_now().await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Credential {
                status: Some(503),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("HTTP 503"), "{err}");
    // Within the back-off: the same error at once, no request.
    for _ in 0..20 {
        assert_eq!(auth.login_now().await.unwrap_err().kind(), "credential");
    }
    assert_eq!(identity.requests(Resource::Database), 1);
    clock.advance(secs(1));
    assert!(auth.login_now().await.is_err());
    assert_eq!(identity.requests(Resource::Database), 2);

    // Throttling: the endpoint's Retry-After is honoured (60 s, not 4 s).
    identity.set_fault(Some(Fault::Throttle(60)));
    clock.advance(secs(2));
    let err = auth.login_now().await.unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(60)));
    assert_eq!(auth.status().next_attempt, Some(auth.now() + secs(60)));
    identity.set_fault(None);
    clock.advance(secs(59));
    assert!(auth.login_now().await.is_err(), "still backing off");
    assert_eq!(identity.requests(Resource::Database), 3);
    clock.advance(secs(1));
    let login = auth.login_now().await.unwrap();
    assert_eq!(login.user(), "down@contoso.com");
    assert_eq!(identity.requests(Resource::Database), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_az_runs_at_most_a_few_times_for_twenty_tasks_over_thirty_seconds() {
    let clock = test_clock();
    let identity = builder()
        .upn("storm@contoso.com")
        .clock(clock.clone())
        .build();
    identity.set_fault(Some(Fault::Status(500)));
    let auth = EntraAuth::builder(identity.azure_cli_credential())
        .clock(clock.clone())
        .build()
        .unwrap();
    // 20 tasks connecting every 100 ms for 30 s (of the injected clock).
    for _ in 0..300 {
        let attempts = (0..20).map(|_| auth.login_now());
        for result in futures::future::join_all(attempts).await {
            assert!(result.is_err());
        }
        clock.advance(time::Duration::milliseconds(100));
    }
    let runs = identity.requests(Resource::Database);
    // Back-off 1, 2, 4, 8, then 10 s: runs at 0, 1, 3, 7, 15, 25 and 35 s.
    assert!((1..=8).contains(&runs), "az ran {runs} times");
    assert_eq!(runs, 6);
}

#[tokio::test]
async fn permanent_errors_back_off_longer() {
    let clock = test_clock();
    // No claim names the principal, in either token: the user cannot be derived.
    let identity = builder().claim("oid", "1234").clock(clock.clone()).build();
    let auth = EntraAuth::builder(identity.managed_identity_credential())
        .clock(clock.clone())
        .build()
        .unwrap();
    let err = auth.login_now().await.unwrap_err();
    assert_eq!(err.kind(), "user_not_derivable");
    assert!(err.is_permanent());
    assert_eq!(identity.requests(Resource::Management), 1);
    // 30 s of back-off for a permanent error, not 1 s.
    clock.advance(secs(20));
    assert_eq!(
        auth.login_now().await.unwrap_err().kind(),
        "user_not_derivable"
    );
    assert_eq!(identity.requests(Resource::Management), 1);
    clock.advance(secs(10));
    assert!(auth.login_now().await.is_err());
    assert_eq!(identity.requests(Resource::Management), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_caller_neither_cancels_the_request_nor_blocks_the_cache() {
    let identity = builder().upn("cancel@contoso.com").build();
    identity.set_fault(Some(Fault::Delay(Duration::from_secs(2))));
    let auth = auth(&identity);
    // Poll once (which starts the request), then drop the future.
    assert!(auth.login_now().now_or_never().is_none());
    assert!(
        auth.status().refreshing,
        "the request goes on without its caller"
    );
    let login = auth.login_now().await.unwrap();
    assert_eq!(login.user(), "cancel@contoso.com");
    assert_eq!(
        identity.requests(Resource::Database),
        1,
        "had the dropped caller's request been cancelled, this would be a second one"
    );
}

#[tokio::test]
async fn a_hanging_endpoint_ends_in_a_timeout_error() {
    let clock = test_clock();
    let identity = builder()
        .upn("hang@contoso.com")
        .clock(clock.clone())
        .build();
    identity.set_fault(Some(Fault::Hang));
    let auth = EntraAuth::builder(identity.managed_identity_credential())
        .clock(clock.clone())
        .fetch_timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let err = auth.login_now().await.unwrap_err();
    match &err {
        Error::Timeout { after, stalled, .. } => {
            assert_eq!(*after, Duration::from_millis(500));
            assert!(!stalled, "the token thread itself answered");
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(err.to_string().contains("fetch_timeout"), "{err}");
    identity.set_fault(None);
    clock.advance(secs(1));
    assert!(
        auth.login_now().await.is_ok(),
        "recovers once the endpoint answers"
    );
}

/// Blocks its thread (a synchronous sleep inside `get_token`) on the first call,
/// then answers with the fixed credential.
#[derive(Debug)]
struct BlockingOnce {
    first: std::sync::atomic::AtomicBool,
    then: Arc<dyn entra_pg_core::azure_core::credentials::TokenCredential>,
}

#[async_trait::async_trait]
impl entra_pg_core::azure_core::credentials::TokenCredential for BlockingOnce {
    async fn get_token(
        &self,
        scopes: &[&str],
        options: Option<entra_pg_core::azure_core::credentials::TokenRequestOptions<'_>>,
    ) -> entra_pg_core::azure_core::Result<entra_pg_core::azure_core::credentials::AccessToken>
    {
        if self.first.swap(false, std::sync::atomic::Ordering::SeqCst) {
            // The worst a credential can do: block the thread it runs on.
            std::thread::sleep(Duration::from_secs(5));
        }
        self.then.get_token(scopes, options).await
    }
}

#[tokio::test]
async fn a_stuck_token_thread_does_not_stall_callers_and_is_replaced() {
    let clock = test_clock();
    let identity = builder()
        .upn("stuck@contoso.com")
        .clock(clock.clone())
        .build();
    let credential = Arc::new(BlockingOnce {
        first: true.into(),
        then: identity.managed_identity_credential(),
    });
    let auth = EntraAuth::builder(credential)
        .clock(clock.clone())
        .fetch_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let err = auth.login_now().await.unwrap_err();
    assert!(
        matches!(err, Error::Timeout { stalled: true, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("stopped answering"), "{err}");
    // The next request runs on a new thread while the old one is still stuck.
    clock.advance(secs(1));
    let login = auth.login_now().await.unwrap();
    assert_eq!(login.user(), "stuck@contoso.com");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_cli_runs_once_for_twenty_concurrent_connects() {
    let identity = builder().upn("cli@contoso.com").build();
    identity.set_fault(Some(Fault::Delay(Duration::from_millis(250))));
    let auth = EntraAuth::new(identity.azure_cli_credential());
    let results = futures::future::join_all((0..20).map(|_| auth.login_now())).await;
    for result in results {
        assert_eq!(result.unwrap().user(), "cli@contoso.com");
    }
    assert_eq!(identity.requests(Resource::Database), 1, "az ran once");
}

#[tokio::test]
async fn clones_share_one_cache() {
    let identity = builder().upn("clone@contoso.com").build();
    let auth = auth(&identity);
    let copy = auth.clone();
    let a = auth.login_now().await.unwrap();
    let b = copy.login_now().await.unwrap();
    assert!(a.same_token(&b));
    assert_eq!(identity.requests(Resource::Database), 1);
}

#[tokio::test]
async fn a_zero_refresh_window_still_never_hands_out_a_token_about_to_expire() {
    let (identity, auth, clock) = clocked_with_window("zero@contoso.com", Duration::ZERO);
    let first = auth.login_now().await.unwrap();
    clock.advance(secs(236)); // 4 s left: less than the 5 s expiry margin
    let next = auth.login_now().await.unwrap();
    assert!(
        !next.same_token(&first),
        "a fresh token, not one about to expire"
    );
    assert_eq!(identity.requests(Resource::Database), 2);
}

#[tokio::test]
async fn a_rejected_token_is_dropped_once_and_refreshed_at_most_so_often() {
    let (identity, auth, clock) = clocked("rejected@contoso.com");
    let first = auth.login_now().await.unwrap();
    assert!(auth.invalidate(&first), "the current token is dropped");
    assert!(!auth.invalidate(&first), "only once");
    let second = auth.login_now().await.unwrap();
    assert!(!second.same_token(&first));
    assert_eq!(identity.requests(Resource::Database), 2);
    // Another rejection within the back-off (1 s): kept, no new request.
    assert!(!auth.invalidate(&second));
    assert!(auth.login_now().await.unwrap().same_token(&second));
    clock.advance(secs(1));
    assert!(auth.invalidate(&second));
    let third = auth.login_now().await.unwrap();
    assert!(!third.same_token(&second));
    // The forced back-off doubles: 2 s now.
    clock.advance(secs(1));
    assert!(!auth.invalidate(&third));
    clock.advance(secs(1));
    assert!(auth.invalidate(&third));
    assert!(!auth.login_now().await.unwrap().same_token(&third));
    assert_eq!(identity.requests(Resource::Database), 4);
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
async fn a_panicking_credential_is_a_typed_error_not_a_stuck_cache() {
    let clock = ManualClock::starting_now();
    let auth = EntraAuth::builder(Arc::new(PanickingCredential))
        .user("u")
        .clock(clock.clone())
        .build()
        .unwrap();
    for _ in 0..2 {
        let err = auth.login_now().await.unwrap_err();
        assert_eq!(err.kind(), "credential_panicked");
        assert!(err.to_string().contains("panicked"), "{err}");
        assert!(!auth.status().refreshing);
        clock.advance(secs(5));
    }
    assert_eq!(auth.status().consecutive_failures, 2);
}

#[tokio::test]
async fn a_token_expired_on_arrival_is_a_typed_error() {
    let identity = builder()
        .upn("late@contoso.com")
        .lifetime(Duration::ZERO)
        .build();
    let err = auth(&identity).login_now().await.unwrap_err();
    assert_eq!(err.kind(), "token_expired_on_arrival");
    assert!(
        err.to_string().contains("check this machine's clock"),
        "{err}"
    );
}

/// The `EntraAuth` a log hook reads while events are written.
static OBSERVED: OnceLock<EntraAuth> = OnceLock::new();

#[tokio::test]
async fn no_event_is_emitted_while_the_cache_is_locked() {
    let identity = builder().upn("observed@contoso.com").build();
    let auth = auth(&identity);
    OBSERVED.set(auth.clone()).unwrap();
    // A hook reading the cache on every log line: had an event been emitted under
    // the cache's lock, the token thread would deadlock here.
    entra_pg_testkit::on_log_line(|_| {
        if let Some(auth) = OBSERVED.get() {
            let _ = auth.status();
        }
    });
    let login = auth.login_now().await.unwrap();
    identity.set_fault(Some(Fault::Status(500)));
    let _ = auth.refresh_now().await;
    assert!(auth.invalidate(&login));
    identity.set_fault(None);
    let again = auth.login_now().await.unwrap();
    assert!(!again.same_token(&login));
}
