//! `cargo xtask bench`: every measurement of the project in one Markdown report,
//! against a real PostgreSQL over TLS and the test kit's Entra endpoint, through
//! the real `azure_identity` credentials.
//!
//! 1. [`hot_path`]: `EntraAuth::conninfo()` on a warm cache, time and allocations.
//! 2. [`connect`]: median connect time, static password vs Entra, every driver and
//!    pool manager.
//! 3. [`burst`]: 200 concurrent first connects through each async pool.
//! 4. [`az`]: a 20-connection pool warming up on the Azure CLI credential.
//! 5. [`soak`]: every pool at 50 connections with churn under 30 s tokens, then an
//!    endpoint outage.
//!
//! `cargo xtask bench --quick` shortens the runs (for checking the harness);
//! `--only N` runs part N alone (written to `target/bench-report-part-N.md`), and
//! `--soak-secs S` sets the soak's length (default 300).

mod az;
mod burst;
mod connect;
mod hot_path;
pub(crate) mod soak;

use std::{fmt::Write as _, fs, time::Duration};

use entra_pg_testkit::{FakeEntra, Identity, PgServer, unique_name};
use entra_pg_tokio::Tls;

pub(crate) use connect::{Row, compare};

/// One part of the report: a Markdown body.
type Section = fn(&Lab) -> Result<String, String>;

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
}

impl Plan {
    fn full() -> Self {
        Self {
            connect_runs: 1000,
            hot_path_calls: 2_000_000,
            burst: 200,
            soak: Duration::from_secs(300),
            token_lifetime: Duration::from_secs(30),
        }
    }

    fn quick() -> Self {
        Self {
            connect_runs: 100,
            hot_path_calls: 200_000,
            burst: 50,
            soak: Duration::from_secs(40),
            token_lifetime: Duration::from_secs(20),
        }
    }
}

/// What every part needs: the server, the endpoint, TLS trusting the server.
pub(crate) struct Lab {
    pub(crate) server: PgServer,
    pub(crate) entra: &'static FakeEntra,
    pub(crate) tls: Tls,
    pub(crate) plan: Plan,
}

impl Lab {
    /// Settings for the server: host, port, database; no user, no password.
    pub(crate) fn config(&self) -> entra_pg_tokio::tokio_postgres::Config {
        let mut config = entra_pg_tokio::tokio_postgres::Config::new();
        config
            .host(self.server.host())
            .port(self.server.port())
            .dbname("postgres");
        config
    }

    /// A tokio-postgres connector to the server (no user, no password) for `auth`,
    /// trusting the server's CA.
    pub(crate) fn connector(
        &self,
        auth: entra_pg_tokio::entra_pg_core::EntraAuth,
    ) -> Result<entra_pg_tokio::EntraConnector, String> {
        entra_pg_tokio::EntraConnector::builder(self.config(), auth)
            .tls(self.tls.connector())
            .build()
            .map_err(|err| err.to_string())
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

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let mut plan = if args.iter().any(|arg| arg == "--quick") {
        Plan::quick()
    } else {
        Plan::full()
    };
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
                .map_err(|_| format!("--only {part}: give 1 to 5"))
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
        .root_pem(server.ca_pem())
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
         real `azure_identity` credentials, release build, {} CPU cores.\n",
        server_version(&lab),
        std::thread::available_parallelism().map_or(0, usize::from),
    );
    let sections: [(&str, Section); 5] = [
        ("1. Core hot path", hot_path::section),
        (
            "2. Connect time: static password vs Entra",
            connect::section,
        ),
        ("3. Cold burst", burst::section),
        ("4. Azure CLI credential", az::section),
        ("5. Soak and outage", soak::section),
    ];
    for (number, (title, section)) in (1..).zip(sections) {
        if only.is_some_and(|only| only != number) {
            continue;
        }
        println!("\n== {title} …");
        let body = section(&lab)?;
        println!("{body}");
        let _ = write!(report, "## {title}\n\n{body}\n");
    }
    // A partial run does not overwrite the full report.
    let name = only.map_or_else(
        || "bench-report.md".to_owned(),
        |only| format!("bench-report-part-{only}.md"),
    );
    let path = crate::root().join("target").join(name);
    fs::write(&path, &report).map_err(|err| format!("{}: {err}", path.display()))?;
    println!("\nwritten to {}", path.display());
    Ok(())
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
