//! Captures every `tracing` event of the process, so tests can assert that no
//! token is ever logged.

use std::{
    io,
    sync::{Arc, Mutex, OnceLock, PoisonError},
};

use tracing_subscriber::{fmt::MakeWriter, EnvFilter};

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

type Hook = Box<dyn Fn(&str) + Send + Sync>;

fn hooks() -> &'static Mutex<Vec<Hook>> {
    static HOOKS: OnceLock<Mutex<Vec<Hook>>> = OnceLock::new();
    HOOKS.get_or_init(Mutex::default)
}

/// Calls `hook` with every log line written from now on, on the thread that
/// writes it (for tests that check what runs while an event is emitted).
pub fn on_log_line(hook: impl Fn(&str) + Send + Sync + 'static) {
    hooks()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(Box::new(hook));
}

impl io::Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(bytes);
        let line = String::from_utf8_lossy(bytes);
        for hook in hooks()
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            hook(&line);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Buffer {
    type Writer = Self;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

fn buffer() -> &'static Buffer {
    static BUFFER: OnceLock<Buffer> = OnceLock::new();
    BUFFER.get_or_init(Buffer::default)
}

/// Installs the process-wide subscriber (once): TRACE for our crates, the Azure
/// SDK and the PostgreSQL drivers, INFO for everything else, into memory.
pub fn init_logs() {
    init_logs_with(
        "info,entra_pg_core=trace,entra_pg_tokio=trace,entra_pg_sync=trace,\
         entra_pg_sqlx=trace,entra_pg_diesel=trace,azure_core=trace,azure_identity=trace,\
         typespec_client_core=trace,tokio_postgres=trace,postgres=trace,sqlx=trace,diesel=trace",
    );
}

/// Installs the process-wide subscriber with `filter` (an `EnvFilter` directive
/// such as `"trace"`), unless one is installed already. `log` records (r2d2 and
/// others) are captured too.
pub fn init_logs_with(filter: &str) {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(EnvFilter::new(filter))
            .with_ansi(false)
            .with_writer(buffer().clone())
            .try_init();
    });
}

/// Everything logged since [`init_logs`].
pub fn captured_logs() -> String {
    String::from_utf8_lossy(&buffer().0.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
}
