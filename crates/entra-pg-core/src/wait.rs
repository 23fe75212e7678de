//! Waiting for a request under way, bounded on the caller's side.
//!
//! The fetch timeout runs on the token thread; if that thread is stuck (a
//! credential that blocks it) or gone (after a `fork()`), only a timer of the
//! caller's own can end the wait. `futures-timer` runs on its own thread, so this
//! works on any runtime, and on plain threads through `block_on`.

use std::{sync::Arc, time::Duration};

use futures::future::{self, Either};

use crate::{Error, auth::Inner, cache::Inflight};

/// How long past the fetch timeout a caller waits for the token thread to report.
const GRACE: Duration = Duration::from_secs(2);

/// Waits for `inflight`'s result, at most the fetch timeout plus a grace period.
pub(crate) async fn bounded<T: Clone>(
    inner: &Arc<Inner>,
    inflight: Inflight<T>,
) -> Result<T, Error> {
    let limit = inner.fetch_timeout + GRACE.min(inner.fetch_timeout);
    let (id, generation) = (inflight.id(), inflight.generation());
    let result = inflight.result();
    let timer = futures_timer::Delay::new(limit);
    futures::pin_mut!(result, timer);
    match future::select(result, timer).await {
        Either::Left((Some(result), _)) => result,
        // The request's task ended without reporting, or the timer fired first.
        Either::Left((None, _)) | Either::Right(_) => {
            inner.stalled(id, generation);
            Err(Error::Timeout {
                scope: inner.scope.clone(),
                after: limit,
                stalled: true,
            })
        }
    }
}

/// [`bounded`], blocking this thread. The request runs on the token thread, so
/// blocking here cannot stall it.
pub(crate) fn bounded_blocking<T: Clone>(
    inner: &Arc<Inner>,
    inflight: Inflight<T>,
) -> Result<T, Error> {
    futures::executor::block_on(bounded(inner, inflight))
}
