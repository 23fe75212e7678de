//! The small dedicated runtime that token requests run on.
//!
//! Running every request here (instead of on the caller's runtime) means a request
//! finishes even when the caller's future is dropped, blocking callers on plain
//! threads need no runtime of their own, and the credential's HTTP connection pool
//! never outlives the runtime it was created on.

use std::sync::{Mutex, OnceLock, PoisonError};

use tokio::runtime::{Builder, Handle};

use crate::Error;

/// The handle of the token runtime, started on first use.
pub(crate) fn handle() -> Result<&'static Handle, Error> {
    static HANDLE: OnceLock<Handle> = OnceLock::new();
    static STARTING: Mutex<()> = Mutex::new(());
    if let Some(handle) = HANDLE.get() {
        return Ok(handle);
    }
    let _guard = STARTING.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(handle) = HANDLE.get() {
        return Ok(handle);
    }
    let handle = start().map_err(|err| Error::InvalidConfig {
        reason: format!(
            "cannot start the entra-pg token thread ({err}); the process may be out of threads or file descriptors"
        ),
    })?;
    Ok(HANDLE.get_or_init(|| handle))
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
