//! `conninfo_blocking` on every kind of thread a sync driver may run on.

use entra_pg_testkit::Resource;

use crate::support::{Logins as _, auth, identity_with_role};

#[test]
fn on_a_plain_thread() {
    let (identity, user) = identity_with_role();
    let auth = auth(&identity);
    let info = std::thread::spawn(move || auth.login_now_blocking())
        .join()
        .unwrap()
        .unwrap();
    assert_eq!(info.user(), user);
}

#[test]
fn inside_spawn_blocking_of_multi_thread_and_current_thread_runtimes() {
    let (identity, user) = identity_with_role();
    for runtime in [
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap(),
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap(),
    ] {
        // A cold cache each time, so the blocking wait itself is exercised.
        let auth = auth(&identity);
        let info = runtime
            .block_on(async move {
                tokio::task::spawn_blocking(move || auth.login_now_blocking()).await
            })
            .unwrap()
            .unwrap();
        assert_eq!(info.user(), user);
    }
    assert_eq!(
        identity.requests(Resource::Database),
        2,
        "one request per cold cache"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn even_on_an_async_worker_thread_it_does_not_panic() {
    // Not recommended (it blocks the worker), but the request runs on entra-pg's own
    // thread, so this neither deadlocks nor panics.
    let (identity, user) = identity_with_role();
    let info = auth(&identity).login_now_blocking().unwrap();
    assert_eq!(info.user(), user);
}

#[test]
fn blocking_and_async_callers_share_the_cache() {
    let (identity, _) = identity_with_role();
    let auth = auth(&identity);
    let blocking = auth.login_now_blocking().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let async_info = runtime.block_on(auth.login_now()).unwrap();
    assert!(blocking.password() == async_info.password());
    assert_eq!(identity.requests(Resource::Database), 1);
}
