//! The kit's own runtime thread: hosts the fake endpoint and the admin connections,
//! so they work the same from async tests, sync tests and the xtask.

use std::{future::Future, sync::OnceLock};

use tokio::runtime::{Builder, Handle};

pub(crate) fn handle() -> &'static Handle {
    static HANDLE: OnceLock<Handle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let runtime = Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("testkit")
            .enable_all()
            .build()
            .expect("test kit: cannot build its runtime");
        let handle = runtime.handle().clone();
        std::thread::Builder::new()
            .name("testkit-runtime".into())
            .spawn(move || runtime.block_on(std::future::pending::<()>()))
            .expect("test kit: cannot start its runtime thread");
        handle
    })
}

/// Runs `future` on the kit's runtime and waits for it from any thread (plain or
/// async; it blocks the calling thread only).
pub fn block_on<F>(future: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let task = handle().spawn(future);
    futures::executor::block_on(task).expect("test kit task panicked")
}

/// Runs `future` on the kit's runtime and awaits it from any runtime.
pub(crate) async fn run<F>(future: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    handle()
        .spawn(future)
        .await
        .expect("test kit task panicked")
}
