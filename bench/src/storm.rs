//! A retry storm: 20 tasks each asking for a login every 100 ms while the token
//! endpoint fails, in real time. The cache must not pass the storm on: after a
//! failed request, callers get its error at once until the back-off (1 s doubling
//! to 30 s, never less than the endpoint's `Retry-After`) has passed.
//!
//! Two storms: the Azure CLI credential (the kit's fake `az`) with the endpoint
//! answering HTTP 500, counting `az` runs; and the managed-identity credential
//! with the endpoint throttling (HTTP 429, `Retry-After: 60`), counting requests.

use std::{
    fmt::Write as _,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use entra_pg_core::{EntraAuth, Target};
use entra_pg_testkit::{Fault, Identity, Resource};

use super::{Lab, multi_thread_runtime};

const TASKS: usize = 20;
const PAUSE: Duration = Duration::from_millis(100);
/// The endpoint's `Retry-After` in the throttling storm, seconds.
const RETRY_AFTER: u64 = 60;

/// One storm: the credential, the endpoint's fault and the target.
struct Setup {
    name: &'static str,
    fault: &'static str,
    /// At most this many requests may reach the endpoint.
    limit: u64,
    target: String,
}

/// What one storm came to.
struct Outcome {
    setup: Setup,
    /// Requests that reached the endpoint (`az` runs for the CLI).
    requests: u64,
    calls: u64,
    failed: u64,
    /// The slowest single `login` call.
    slowest: Duration,
}

pub(super) fn section(lab: &Lab) -> Result<String, String> {
    let window = lab.plan.storm;
    let runtime = multi_thread_runtime()?;
    let mut storms = Vec::new();

    let (identity, _) = lab.identity("bench_storm_az", Duration::from_secs(3600));
    identity.set_fault(Some(Fault::Status(500)));
    let auth = lab.auth(identity.azure_cli_credential())?;
    let setup = Setup {
        name: "`AzureCliCredential` (`az` runs)",
        fault: "HTTP 500",
        limit: 8,
        target: format!(
            "≤ 8 in 30 s (the back-off, 1, 2, 4, 8, 10 s, allows {} in {} s)",
            backoff_attempts(window),
            window.as_secs()
        ),
    };
    storms.push(runtime.block_on(storm(lab, &identity, auth, setup))?);
    println!("   Azure CLI: done");

    let (identity, _) = lab.identity("bench_storm_mi", Duration::from_secs(3600));
    identity.set_fault(Some(Fault::Throttle(RETRY_AFTER)));
    let auth = lab.auth(identity.managed_identity_credential())?;
    let setup = Setup {
        name: "`ManagedIdentityCredential` (requests)",
        fault: "HTTP 429, `Retry-After: 60`",
        limit: 1,
        target: "1 (`Retry-After` honoured)".to_owned(),
    };
    storms.push(runtime.block_on(storm(lab, &identity, auth, setup))?);
    println!("   managed identity: done");

    let mut out = String::from(
        "| credential | endpoint answers | requests in the window | target | `login` calls | failed calls | slowest call |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for storm in &storms {
        let verdict = if storm.requests <= storm.setup.limit {
            ""
        } else {
            " **(missed)**"
        };
        let _ = writeln!(
            out,
            "| {} | {} | {}{verdict} | {} | {} | {} | {} |",
            storm.setup.name,
            storm.setup.fault,
            storm.requests,
            storm.setup.target,
            storm.calls,
            storm.failed,
            super::ms(storm.slowest),
        );
    }
    let _ = writeln!(
        out,
        "\n{TASKS} tasks each call `EntraAuth::login(&target)` every {} ms for {} s (real \
         time) on a cold cache while the endpoint fails; every call fails, and the cache \
         must not pass the storm on to the credential. Without the cache's single flight \
         and back-off, each call would be a request: about {} in the window. The fake `az` \
         is the test kit's bash script asking the local endpoint, so each of its runs is \
         one request.",
        PAUSE.as_millis(),
        window.as_secs(),
        calls_without_cache(window),
    );
    Ok(out)
}

/// Runs the storm against `auth` for the plan's window.
async fn storm(
    lab: &Lab,
    identity: &Identity,
    auth: EntraAuth,
    setup: Setup,
) -> Result<Outcome, String> {
    let target = Arc::new(lab.target(&auth)?);
    let calls = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let slowest = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + lab.plan.storm;
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let (auth, target) = (auth.clone(), Arc::clone(&target));
            let (calls, failed, slowest) = (
                Arc::clone(&calls),
                Arc::clone(&failed),
                Arc::clone(&slowest),
            );
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    let took = call(&auth, &target, &failed).await;
                    calls.fetch_add(1, Ordering::Relaxed);
                    let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
                    slowest.fetch_max(nanos, Ordering::Relaxed);
                    tokio::time::sleep(PAUSE).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.map_err(|err| err.to_string())?;
    }
    // Requests the cache started before the deadline are counted by the endpoint
    // when they arrive; give the last one a moment.
    tokio::time::sleep(Duration::from_millis(500)).await;
    Ok(Outcome {
        setup,
        requests: identity.requests(Resource::Database),
        calls: calls.load(Ordering::Relaxed),
        failed: failed.load(Ordering::Relaxed),
        slowest: Duration::from_nanos(slowest.load(Ordering::Relaxed)),
    })
}

/// One `login` call; counts a failure. Returns how long it took.
async fn call(auth: &EntraAuth, target: &Target, failed: &AtomicU64) -> Duration {
    let started = Instant::now();
    if auth.login(target).await.is_err() {
        failed.fetch_add(1, Ordering::Relaxed);
    }
    started.elapsed()
}

/// Requests the back-off allows in `window` after a first failure at 0: one at 0
/// and one after each back-off (1 s doubling to 10 s), ignoring request time.
fn backoff_attempts(window: Duration) -> u64 {
    let (mut at, mut wait, mut attempts) = (Duration::ZERO, Duration::from_secs(1), 0);
    while at < window {
        attempts += 1;
        at += wait;
        wait = (wait * 2).min(Duration::from_secs(10));
    }
    attempts
}

/// Calls the tasks would make in `window` if each were a request.
fn calls_without_cache(window: Duration) -> u64 {
    let per_task = window.as_millis() / PAUSE.as_millis();
    u64::try_from(per_task).unwrap_or(u64::MAX) * TASKS as u64
}
