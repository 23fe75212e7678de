//! Token rotation under churn: 3 token lifetimes, no failed connect, and the
//! server really rejects the expired first token.

use std::sync::Arc;

use entra_pg_core::EntraAuth;
use entra_pg_sync::{R2d2Manager, r2d2};
use entra_pg_testkit::rotation::{PAUSE, REFRESH_AHEAD, Rotation};

use crate::support::connector;

const THREADS: usize = 6;
/// Every this many uses a thread ends its own session, so the pool reconnects.
const CHURN_EVERY: u64 = 8;

#[test]
fn r2d2_rotates_tokens_over_three_lifetimes_without_a_failed_connect() {
    let run = Arc::new(Rotation::new("sync_rotation"));
    let auth = EntraAuth::builder(run.identity.managed_identity_credential())
        .refresh_ahead(REFRESH_AHEAD)
        .build()
        .unwrap();
    let pool = r2d2::Pool::builder()
        .max_size(THREADS as u32)
        .min_idle(Some(0))
        .build(R2d2Manager::new(connector(auth)))
        .unwrap();

    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let (pool, run) = (pool.clone(), Arc::clone(&run));
            std::thread::spawn(move || {
                let mut uses = 0;
                while run.running() {
                    uses += 1;
                    let good = pool.get().is_ok_and(|mut client| {
                        let current = client
                            .query_one("SELECT current_user::text", &[])
                            .is_ok_and(|row| row.get::<_, String>(0) == run.user);
                        if uses % CHURN_EVERY == 0 {
                            // Ends this session; r2d2 drops the closed client.
                            let _ = client
                                .simple_query("SELECT pg_terminate_backend(pg_backend_pid())");
                        }
                        current
                    });
                    run.record(good);
                    std::thread::sleep(PAUSE);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    run.check("r2d2", THREADS);
}
