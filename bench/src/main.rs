//! `cargo xtask bench`: every measurement of the project in one Markdown report,
//! against a real PostgreSQL over TLS and the test kit's Entra endpoint, through
//! the real `azure_identity` credentials.
//!
//! 1. [`hot_path`]: `EntraAuth::login(&target)` on a warm cache, time and
//!    allocations.
//! 2. [`connect`]: median connect time, static password vs Entra, every driver and
//!    pool manager.
//! 3. [`burst`]: 200 concurrent first connects through each async pool.
//! 4. [`az`]: a 20-connection pool warming up on the Azure CLI credential.
//! 5. [`soak`]: every pool at 50 connections with churn under 30 s tokens, then an
//!    endpoint outage.
//! 6. [`storm`]: 20 tasks asking for a login every 100 ms while the token endpoint
//!    fails (Azure CLI, HTTP 500) or throttles (managed identity, `Retry-After`).
//! 7. [`rejection`]: the server stops accepting the cached token; the next new
//!    connection of every driver path.
//! 8. [`restart`]: the server restarts under load; how each pool recovers.
//!
//! `cargo xtask bench` writes the report to `BENCHMARKS.md` at the workspace root.
//! `--quick` shortens the runs (for checking the harness) and `--only N` runs part
//! N alone; both write to `target/bench-report-*.md` instead. `--soak-secs S` sets
//! the soak's length (default 300).
#![allow(
    clippy::print_stdout,
    reason = "a command-line tool reports to the terminal"
)]

mod az;
mod burst;
mod connect;
mod diesel;
mod hot_path;
mod rejection;
mod restart;
mod soak;
mod storm;

use std::{
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
    process::ExitCode,
    sync::Arc,
    time::Duration,
};

use entra_pg_core::{
    Destination, EntraAuth, EntraAuthBuilder, Target, azure_core::credentials::TokenCredential,
};
use entra_pg_testkit::{FakeEntra, Identity, PgServer, unique_name};
use entra_pg_tokio::Tls;

/// One part of the report: a Markdown body.
type Section = fn(&Lab) -> Result<String, String>;

/// The parts of the report, in order.
const SECTIONS: [(&str, Section); 8] = [
    ("1. Core hot path", hot_path::section),
    (
        "2. Connect time: static password vs Entra",
        connect::section,
    ),
    ("3. Cold burst", burst::section),
    ("4. Azure CLI credential", az::section),
    ("5. Soak and outage", soak::section),
    ("6. Retry storm", storm::section),
    ("7. Rejection recovery", rejection::section),
    ("8. Server restart", restart::section),
];

/// How long each part runs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    /// Connects per login kind and driver.
    pub(crate) connect_runs: usize,
    /// Calls of the hot path.
    pub(crate) hot_path_calls: u32,
    /// First connects per pool in the burst.
    pub(crate) burst: usize,
    /// Length of the soak.
    pub(crate) soak: Duration,
    /// Token lifetime in the soak and the outage.
    pub(crate) token_lifetime: Duration,
    /// Length of each retry storm.
    pub(crate) storm: Duration,
    /// How long each pool is watched after it recovered from the restart.
    pub(crate) after_restart: Duration,
}

impl Plan {
    fn full() -> Self {
        Self {
            connect_runs: 1000,
            hot_path_calls: 2_000_000,
            burst: 200,
            soak: Duration::from_secs(300),
            token_lifetime: Duration::from_secs(30),
            storm: Duration::from_secs(30),
            after_restart: Duration::from_secs(5),
        }
    }

    fn quick() -> Self {
        Self {
            connect_runs: 100,
            hot_path_calls: 200_000,
            burst: 50,
            soak: Duration::from_secs(40),
            token_lifetime: Duration::from_secs(20),
            storm: Duration::from_secs(10),
            after_restart: Duration::from_secs(3),
        }
    }
}

/// What every part needs: the server, the endpoint, TLS trusting the server.
pub(crate) struct Lab {
    pub(crate) server: PgServer,
    pub(crate) entra: &'static FakeEntra,
    /// rustls trusting the server's CA, for the static-password connects that do
    /// not go through entra-pg.
    pub(crate) tls: Tls,
    pub(crate) plan: Plan,
}

impl Lab {
    /// libpq-style settings for the server (tokio-postgres, postgres, diesel):
    /// host, port, database; no user, no password.
    pub(crate) fn settings(&self) -> String {
        format!(
            "host={} port={} dbname=postgres",
            self.server.host(),
            self.server.port()
        )
    }

    /// The same settings as a URL (sqlx).
    pub(crate) fn url(&self) -> String {
        format!(
            "postgres://{}:{}/postgres",
            self.server.host(),
            self.server.port()
        )
    }

    /// The server's CA, to add to a connector's roots.
    pub(crate) fn ca(&self) -> &[u8] {
        self.server.ca_pem().as_bytes()
    }

    /// An `EntraAuth` builder for `credential` that may send tokens to the kit's
    /// server (`localhost` is outside the default host policy).
    pub(crate) fn auth_builder(&self, credential: Arc<dyn TokenCredential>) -> EntraAuthBuilder {
        EntraAuth::builder(credential).allow_host(self.server.host())
    }

    /// [`auth_builder`](Self::auth_builder) with the defaults.
    pub(crate) fn auth(&self, credential: Arc<dyn TokenCredential>) -> Result<EntraAuth, String> {
        self.auth_builder(credential)
            .build()
            .map_err(|err| err.to_string())
    }

    /// The checked target of the kit's server, for `EntraAuth::login`.
    pub(crate) fn target(&self, auth: &EntraAuth) -> Result<Target, String> {
        auth.target(Destination::new("bench").tcp_host(self.server.host()))
            .map_err(|err| err.to_string())
    }

    /// A tokio-postgres connector to the server for `auth` (also diesel-async's).
    pub(crate) fn connector(
        &self,
        auth: EntraAuth,
    ) -> Result<entra_pg_tokio::EntraConnector, String> {
        entra_pg_tokio::EntraConnector::builder(self.settings(), auth)
            .root_cert_pem(self.ca())
            .build()
            .map_err(|err| error_chain(&err))
    }

    /// A blocking `postgres` connector to the server for `auth`.
    pub(crate) fn sync_connector(
        &self,
        auth: EntraAuth,
    ) -> Result<entra_pg_sync::EntraConnector, String> {
        entra_pg_sync::EntraConnector::builder(self.settings(), auth)
            .root_cert_pem(self.ca())
            .build()
            .map_err(|err| error_chain(&err))
    }

    /// A diesel `PgConnection` (libpq) connector to the server for `auth`.
    pub(crate) fn libpq_connector(
        &self,
        auth: EntraAuth,
    ) -> Result<entra_pg_diesel::EntraConnector, String> {
        entra_pg_diesel::EntraConnector::builder(self.settings(), auth)
            .root_cert_pem(self.ca())
            .build()
            .map_err(|err| error_chain(&err))
    }

    /// sqlx connect options for the server for `auth`.
    pub(crate) fn sqlx_options(
        &self,
        auth: EntraAuth,
    ) -> Result<entra_pg_sqlx::EntraConnectOptions, String> {
        entra_pg_sqlx::EntraConnectOptions::builder(self.url(), auth)
            .root_cert_pem(self.ca())
            .build()
            .map_err(|err| error_chain(&err))
    }

    /// A new identity whose tokens name `upn`, which the server accepts as the
    /// role `upn`, with tokens living `lifetime`.
    pub(crate) fn identity(&self, prefix: &str, lifetime: Duration) -> (Identity, String) {
        let user = format!("{}@contoso.com", unique_name(prefix));
        let identity = self
            .entra
            .identity()
            .upn(&user)
            .lifetime(lifetime)
            .login_on(&self.server, &user)
            .build();
        (identity, user)
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("bench: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let quick = args.iter().any(|arg| arg == "--quick");
    let mut plan = if quick { Plan::quick() } else { Plan::full() };
    // `--only N` runs part N alone; `--soak-secs S` sets the soak's length.
    let value = |flag: &str| {
        args.iter()
            .position(|arg| arg == flag)
            .and_then(|at| args.get(at + 1))
            .map(String::as_str)
    };
    let only: Option<usize> = value("--only")
        .map(|part| {
            part.parse()
                .ok()
                .filter(|part| (1..=SECTIONS.len()).contains(part))
                .ok_or_else(|| format!("--only {part}: give 1 to {}", SECTIONS.len()))
        })
        .transpose()?;
    if let Some(secs) = value("--soak-secs") {
        let secs = secs
            .parse()
            .map_err(|_| format!("--soak-secs {secs}: give seconds"))?;
        plan.soak = Duration::from_secs(secs);
    }
    println!("starting PostgreSQL (TLS) and the local Entra endpoint …");
    let server = PgServer::builder().max_connections(800).start();
    let tls = Tls::builder()
        .root_cert_pem(server.ca_pem())
        .and_then(|builder| builder.build())
        .map_err(|err| err.to_string())?;
    let lab = Lab {
        server,
        entra: FakeEntra::shared(),
        tls,
        plan,
    };

    let mut report = String::from("# entra-pg benchmark report\n\n");
    let _ = writeln!(
        report,
        "Local PostgreSQL {} over TLS (password checks through the test kit's LDAP \
         responder for both kinds of login), the test kit's Entra endpoint through the \
         real `azure_identity` credentials, release build, {} CPU cores. Parts 1–5 \
         measure cost and steady state (hot path, connect time, cold burst, Azure CLI, \
         soak and outage); parts 6–8 the failure paths: a failing or throttling token \
         endpoint under a retry storm, a server that stops accepting the cached token, \
         and a server restart under load. Regenerate with `cargo xtask bench`.{}\n",
        server_version(&lab),
        std::thread::available_parallelism().map_or(0, usize::from),
        if quick {
            " **Quick run** (`--quick`): shortened, for checking the harness."
        } else {
            ""
        },
    );
    for (number, (title, section)) in (1..).zip(SECTIONS) {
        if only.is_some_and(|only| only != number) {
            continue;
        }
        println!("\n== {title} …");
        let body = section(&lab).map_err(|err| format!("{title}: {err}"))?;
        println!("{body}");
        let _ = write!(report, "## {title}\n\n{body}\n");
    }
    // Only a full run of every part replaces BENCHMARKS.md.
    let path = match (quick, only) {
        (false, None) => root().join("BENCHMARKS.md"),
        (true, None) => root().join("target").join("bench-report-quick.md"),
        (false, Some(only)) => root()
            .join("target")
            .join(format!("bench-report-part-{only}.md")),
        (true, Some(only)) => root()
            .join("target")
            .join(format!("bench-report-quick-part-{only}.md")),
    };
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|err| format!("{}: {err}", dir.display()))?;
    }
    fs::write(&path, &report).map_err(|err| format!("{}: {err}", path.display()))?;
    println!("\nwritten to {}", path.display());
    Ok(())
}

/// The workspace root: this crate's parent directory.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

fn server_version(lab: &Lab) -> String {
    std::process::Command::new(
        entra_pg_testkit::find_bindir()
            .map(|dir| dir.join("postgres"))
            .unwrap_or_default(),
    )
    .arg("--version")
    .output()
    .ok()
    .and_then(|out| String::from_utf8(out.stdout).ok())
    // "postgres (PostgreSQL) 15.18 (Debian …)"
    .and_then(|text| text.split_whitespace().nth(2).map(str::to_owned))
    .unwrap_or_else(|| format!("(port {})", lab.server.port()))
}

/// An error and every cause, for messages.
pub(crate) fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    entra_pg_core::error_chain(err)
}

/// A current-thread runtime for the parts that drive one thing at a time.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| format!("runtime: {err}"))
}

/// A two-thread runtime for the concurrent parts.
pub(crate) fn multi_thread_runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|err| format!("runtime: {err}"))
}

/// Milliseconds with three decimals.
pub(crate) fn ms(duration: Duration) -> String {
    format!("{:.3} ms", duration.as_secs_f64() * 1e3)
}

/// Runs blocking work (a `postgres` or libpq connect, an r2d2 `get`) on a thread
/// of its own and awaits it: `postgres::Client`s block on a runtime of their own
/// and must never be made or dropped on a runtime worker.
pub(crate) async fn detached<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    let (send, receive) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = send.send(work());
    });
    receive
        .await
        .map_err(|_| "a blocking worker thread panicked".to_owned())
}
