//! Token rotation under churn: 3 token lifetimes, no failed connect, and the
//! server really rejects the expired first token.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use entra_pg_core::EntraAuth;
use entra_pg_sync::{R2d2Manager, r2d2};
use entra_pg_testkit::{FakeEntra, PgServer, Resource, unique_name};

use crate::support::connector;

const LIFETIME: Duration = Duration::from_secs(20);
const REFRESH_AHEAD: Duration = Duration::from_secs(4);
const RUN: Duration = Duration::from_secs(64);
const THREADS: usize = 6;
/// Every this many uses a thread ends its own session, so the pool reconnects.
const CHURN_EVERY: u64 = 8;

#[test]
fn r2d2_rotates_tokens_over_three_lifetimes_without_a_failed_connect() {
    let server = PgServer::shared();
    let user = format!("{}@contoso.com", unique_name("sync_rotation"));
    let identity = FakeEntra::shared()
        .identity()
        .upn(&user)
        .lifetime(LIFETIME)
        .login_on(server, &user)
        .build();
    let auth = EntraAuth::builder(identity.managed_identity_credential())
        .refresh_ahead(REFRESH_AHEAD)
        .build()
        .unwrap();
    let pool = r2d2::Pool::builder()
        .max_size(THREADS as u32)
        .min_idle(Some(0))
        .build(R2d2Manager::new(connector(auth)))
        .unwrap();

    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + RUN;
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let (pool, ok, failed, user) = (
                pool.clone(),
                Arc::clone(&ok),
                Arc::clone(&failed),
                user.clone(),
            );
            std::thread::spawn(move || {
                let mut uses = 0;
                while Instant::now() < deadline {
                    uses += 1;
                    let good = pool.get().is_ok_and(|mut client| {
                        let current = client
                            .query_one("SELECT current_user::text", &[])
                            .map(|row| row.get::<_, String>(0) == user)
                            .unwrap_or(false);
                        if uses % CHURN_EVERY == 0 {
                            // Ends this session; r2d2 drops the closed client.
                            let _ = client
                                .simple_query("SELECT pg_terminate_backend(pg_backend_pid())");
                        }
                        current
                    });
                    let counter = if good { &ok } else { &failed };
                    counter.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(50));
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }

    assert_eq!(failed.load(Ordering::Relaxed), 0, "failed uses");
    assert!(ok.load(Ordering::Relaxed) > 200);
    let logins = server.password_checks_for(&user);
    assert!(logins >= 3 * THREADS as u64, "{logins} logins");
    let requests = identity.requests(Resource::Database);
    assert!((4..=6).contains(&requests), "{requests} token requests");
    let first = identity.issued_tokens().remove(0);
    let err = server.login_blocking(&user, &first).unwrap_err();
    assert!(err.is_auth_failure(), "{err}");
}
