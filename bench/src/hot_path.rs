//! The price of Entra on every connect once the token is cached: one call of
//! `EntraAuth::conninfo()` (and the blocking form), in time and allocations.

use std::{
    hint::black_box,
    pin::pin,
    task::{Context, Poll, Waker},
    time::{Duration, Instant},
};

use entra_pg_tokio::entra_pg_core::EntraAuth;

use super::{Lab, runtime};

pub(super) fn section(lab: &Lab) -> Result<String, String> {
    let (identity, _) = lab.identity("bench_hot", Duration::from_secs(3600));
    let auth = EntraAuth::new(identity.managed_identity_credential());
    // Warm the cache (one token request), on a runtime that then goes away: the
    // cached path needs none.
    runtime()?
        .block_on(auth.conninfo())
        .map_err(|err| err.to_string())?;
    let calls = lab.plan.hot_path_calls;

    let (async_time, async_allocs) = measure(calls, || ready_conninfo(&auth))?;
    let (blocking_time, blocking_allocs) = measure(calls, || {
        auth.conninfo_blocking()
            .map(|login| drop(black_box(login)))
            .map_err(|err| err.to_string())
    })?;
    Ok(format!(
        "| call (warm cache) | time per call | allocations per call | calls |\n\
         |---|---|---|---|\n\
         | `EntraAuth::conninfo().await` | {async_time:.1} ns | {async_allocs} | {calls} |\n\
         | `EntraAuth::conninfo_blocking()` | {blocking_time:.1} ns | {blocking_allocs} | {calls} |\n\n\
         Target: under 100 ns and no allocation (a served login is a clone of a shared \
         pointer). Time is the mean over all calls on one thread; allocations are counted \
         by a counting global allocator over the same calls.\n"
    ))
}

/// Polls `conninfo()` once: a cached token is served without waiting.
fn ready_conninfo(auth: &EntraAuth) -> Result<(), String> {
    let mut context = Context::from_waker(Waker::noop());
    match pin!(auth.conninfo()).as_mut().poll(&mut context) {
        Poll::Ready(Ok(login)) => {
            drop(black_box(login));
            Ok(())
        }
        Poll::Ready(Err(err)) => Err(err.to_string()),
        Poll::Pending => Err("conninfo() waited on a warm cache".to_owned()),
    }
}

/// Mean nanoseconds per call, and allocations per call.
fn measure(
    calls: u32,
    mut call: impl FnMut() -> Result<(), String>,
) -> Result<(f64, String), String> {
    for _ in 0..calls / 10 {
        call()?;
    }
    let started = Instant::now();
    for _ in 0..calls {
        call()?;
    }
    let nanos = started.elapsed().as_secs_f64() * 1e9 / f64::from(calls);
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
