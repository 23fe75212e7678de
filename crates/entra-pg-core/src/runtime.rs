//! The small dedicated runtime that token requests run on.
//!
//! Running every request here (instead of on the caller's runtime) means a request
//! finishes even when the caller's future is dropped, blocking callers on plain
//! threads need no runtime of their own, and the credential's HTTP connection pool
//! never outlives the runtime it was created on.
//!
//! The thread belongs to the process that started it: after a `fork()` the child
//! has no such thread, so it starts its own (detected by the process id). A thread
//! that stops answering (a credential that blocks it) is abandoned and replaced.

use std::sync::{Mutex, PoisonError};

use tokio::runtime::{Builder, Handle};

use crate::Error;

/// The token runtime of this process: its handle, and which thread it is.
#[derive(Clone)]
pub(crate) struct TokenRuntime {
    pub(crate) handle: Handle,
    /// Counts the threads started in this process, so a caller can ask to replace
    /// exactly the one it saw stall.
    pub(crate) generation: u64,
}

struct Current {
    pid: u32,
    runtime: TokenRuntime,
}

static CURRENT: Mutex<Option<Current>> = Mutex::new(None);
static GENERATION: Mutex<u64> = Mutex::new(0);

/// The token runtime of this process, started on first use (or after a fork, or
/// after the last one was abandoned).
pub(crate) fn current() -> Result<TokenRuntime, Error> {
    let pid = std::process::id();
    let mut current = CURRENT.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(existing) = current.as_ref().filter(|existing| existing.pid == pid) {
        return Ok(existing.runtime.clone());
    }
    let generation = {
        let mut generation = GENERATION.lock().unwrap_or_else(PoisonError::into_inner);
        *generation += 1;
        *generation
    };
    let handle = start().map_err(|err| Error::TokenThreadUnavailable {
        reason: err.to_string(),
    })?;
    let runtime = TokenRuntime { handle, generation };
    *current = Some(Current {
        pid,
        runtime: runtime.clone(),
    });
    Ok(runtime)
}

/// Forgets the runtime of `generation` if it is still the current one: its thread
/// stopped answering, so the next request starts a new thread.
pub(crate) fn abandon(generation: u64) {
    let mut current = CURRENT.lock().unwrap_or_else(PoisonError::into_inner);
    if current
        .as_ref()
        .is_some_and(|existing| existing.runtime.generation == generation)
    {
        *current = None;
    }
}

fn start() -> std::io::Result<Handle> {
    let runtime = Builder::new_current_thread()
        .enable_all()
        .thread_name("entra-pg-token")
        .build()?;
    let handle = runtime.handle().clone();
    std::thread::Builder::new()
        .name("entra-pg-token".into())
        .spawn(move || runtime.block_on(std::future::pending::<()>()))?;
    Ok(handle)
}
