//! The price of Entra on every connect once the token is cached: one call of
//! `EntraAuth::login(&target)` (and the blocking form), in time and allocations.

use std::{
    hint::black_box,
    pin::pin,
    task::{Context, Poll, Waker},
    time::{Duration, Instant},
};

use entra_pg_core::{EntraAuth, Target};

use super::{Lab, runtime};

pub(super) fn section(lab: &Lab) -> Result<String, String> {
    let (identity, _) = lab.identity("bench_hot", Duration::from_secs(3600));
    let auth = lab.auth(identity.managed_identity_credential())?;
    // The target is checked once per set of settings, as a connector does.
    let target = lab.target(&auth)?;
    // Warm the cache (one token request), on a runtime that then goes away: the
    // cached path needs none.
    runtime()?
        .block_on(auth.login(&target))
        .map_err(|err| err.to_string())?;
    let calls = lab.plan.hot_path_calls;

    let (async_time, async_allocs) = measure(calls, || ready_login(&auth, &target))?;
    let (blocking_time, blocking_allocs) = measure(calls, || {
        auth.login_blocking(&target)
            .map(|login| drop(black_box(login)))
            .map_err(|err| err.to_string())
    })?;
    Ok(format!(
        "| call (warm cache) | time per call | allocations per call | calls |\n\
         |---|---|---|---|\n\
         | `EntraAuth::login(&target).await` | {async_time:.1} ns | {async_allocs} | {calls} |\n\
         | `EntraAuth::login_blocking(&target)` | {blocking_time:.1} ns | {blocking_allocs} | {calls} |\n\n\
         Target: under 100 ns and no allocation (a served login is two clones of shared \
         pointers). The `Target` is checked once, as a connector does when it is built. \
         Time is the median of 21 batch means, on one thread; allocations are counted by a \
         counting global allocator over the same calls.\n"
    ))
}

/// Polls `login()` once: a cached token is served without waiting.
fn ready_login(auth: &EntraAuth, target: &Target) -> Result<(), String> {
    let mut context = Context::from_waker(Waker::noop());
    match pin!(auth.login(target)).as_mut().poll(&mut context) {
        Poll::Ready(Ok(login)) => {
            drop(black_box(login));
            Ok(())
        }
        Poll::Ready(Err(err)) => Err(err.to_string()),
        Poll::Pending => Err("login() waited on a warm cache".to_owned()),
    }
}

/// How many batches the calls are timed in.
const BATCHES: u32 = 21;

/// Nanoseconds per call (the median of the batch means), and allocations per call.
fn measure(
    calls: u32,
    mut call: impl FnMut() -> Result<(), String>,
) -> Result<(f64, String), String> {
    for _ in 0..calls / 10 {
        call()?;
    }
    // The median of batch means: one preempted batch on a shared machine moves
    // a mean over all calls, not the median.
    let batch = (calls / BATCHES).max(1);
    let mut means = Vec::with_capacity(BATCHES as usize);
    for _ in 0..BATCHES {
        let started = Instant::now();
        for _ in 0..batch {
            call()?;
        }
        means.push(started.elapsed().as_secs_f64() * 1e9 / f64::from(batch));
    }
    means.sort_by(f64::total_cmp);
    let nanos = means[means.len() / 2];
    let mut result = Ok(());
    let counted = allocation_counter::measure(|| {
        for _ in 0..calls.min(100_000) {
            if let Err(err) = call() {
                result = Err(err);
                return;
            }
        }
    });
    result?;
    let per_call = counted.count_total as f64 / f64::from(calls.min(100_000));
    Ok((nanos, format!("{per_call:.2}")))
}
