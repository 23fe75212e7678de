//! `cargo xtask bench`: connect-time overhead of Entra login against a static
//! password, on the same local PostgreSQL over TLS, printed as a Markdown table.
//!
//! Both logins go through the same server authentication path (the test kit checks
//! every password through LDAP), so the ratio shows what entra-pg adds on the
//! client: a cache lookup and a longer password. Runs alternate between the two
//! logins so drift (CPU frequency, caches) hits both equally.

use std::{
    fmt::Write as _,
    fs,
    time::{Duration, Instant},
};

use entra_pg_testkit::{FakeEntra, PgServer, Resource};
use entra_pg_tokio::{
    Tls,
    entra_pg_core::EntraAuth,
    tokio_postgres::{Config, config::SslMode},
};

/// Connections per login kind, after the warm-up.
const RUNS: usize = 1000;
const WARM_UP: usize = 20;
const STATIC_ROLE: &str = "bench_static";
const STATIC_PASSWORD: &str = "bench-static-password";
const ENTRA_USER: &str = "bench@contoso.com";

/// One measured comparison.
struct Row {
    name: &'static str,
    static_median: Duration,
    entra_median: Duration,
    runs: usize,
}

pub(crate) fn run() -> Result<(), String> {
    println!("starting PostgreSQL (TLS) and the local Entra endpoint …");
    let server = PgServer::builder().start();
    let entra = FakeEntra::shared();
    server.create_password_role(STATIC_ROLE, STATIC_PASSWORD);
    let identity = entra
        .identity()
        .upn(ENTRA_USER)
        .lifetime(Duration::from_secs(3600))
        .login_on(&server, ENTRA_USER)
        .build();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| format!("runtime: {err}"))?;
    let auth = EntraAuth::new(identity.managed_identity_credential());
    let tls = Tls::builder()
        .root_pem(server.ca_pem())
        .and_then(|builder| builder.build())
        .map_err(|err| err.to_string())?;

    let rows = vec![
        tokio_postgres_row(&runtime, &server, &tls, auth.clone())?,
        postgres_row(&server, &tls, auth)?,
    ];
    let token_requests = identity.requests(Resource::Database);
    let table = render(&rows, token_requests);
    println!("\n{table}");
    let path = crate::root().join("target/bench-report.md");
    fs::write(&path, &table).map_err(|err| format!("{}: {err}", path.display()))?;
    println!("written to {}", path.display());
    Ok(())
}

/// Settings for the static role and for Entra (no user, no password).
fn configs(server: &PgServer) -> (Config, Config) {
    let mut entra = Config::new();
    entra
        .host(server.host())
        .port(server.port())
        .dbname("postgres")
        .ssl_mode(SslMode::Require);
    let mut fixed = entra.clone();
    fixed.user(STATIC_ROLE).password(STATIC_PASSWORD);
    (fixed, entra)
}

fn tokio_postgres_row(
    runtime: &tokio::runtime::Runtime,
    server: &PgServer,
    tls: &Tls,
    auth: EntraAuth,
) -> Result<Row, String> {
    let (fixed, entra) = configs(server);
    let connector = entra_pg_tokio::EntraConnector::builder(entra, auth)
        .tls(tls.connector())
        .build()
        .map_err(|err| err.to_string())?;
    let fixed_tls = tls.connector();
    compare(
        "tokio-postgres (entra-pg-tokio)",
        || {
            runtime
                .block_on(fixed.connect(fixed_tls.clone()))
                .map(drop)
                .map_err(|err| format!("static connect: {err}"))
        },
        || {
            runtime
                .block_on(connector.connect())
                .map(drop)
                .map_err(|err| format!("Entra connect: {err}"))
        },
    )
}

fn postgres_row(server: &PgServer, tls: &Tls, auth: EntraAuth) -> Result<Row, String> {
    let (fixed, entra) = configs(server);
    let fixed = postgres::Config::from(fixed);
    let connector = entra_pg_sync::EntraConnector::builder(entra, auth)
        .tls(tls.connector())
        .build()
        .map_err(|err| err.to_string())?;
    let fixed_tls = tls.connector();
    compare(
        "postgres, blocking (entra-pg-sync)",
        || {
            fixed
                .connect(fixed_tls.clone())
                .map(drop)
                .map_err(|err| format!("static connect: {err}"))
        },
        || {
            connector
                .connect()
                .map(drop)
                .map_err(|err| format!("Entra connect: {err}"))
        },
    )
}

/// Times `fixed` and `entra` connects alternately and keeps the medians.
fn compare(
    name: &'static str,
    mut fixed: impl FnMut() -> Result<(), String>,
    mut entra: impl FnMut() -> Result<(), String>,
) -> Result<Row, String> {
    let mut fixed_times = Vec::with_capacity(RUNS);
    let mut entra_times = Vec::with_capacity(RUNS);
    let time = |connect: &mut dyn FnMut() -> Result<(), String>| {
        let started = Instant::now();
        connect().map(|()| started.elapsed())
    };
    for run in 0..WARM_UP + RUNS {
        // Alternate which goes first, so neither always follows the other.
        let (fixed_time, entra_time) = if run % 2 == 0 {
            let fixed_time = time(&mut fixed)?;
            (fixed_time, time(&mut entra)?)
        } else {
            let entra_time = time(&mut entra)?;
            (time(&mut fixed)?, entra_time)
        };
        if run >= WARM_UP {
            fixed_times.push(fixed_time);
            entra_times.push(entra_time);
        }
    }
    Ok(Row {
        name,
        static_median: median(&mut fixed_times),
        entra_median: median(&mut entra_times),
        runs: RUNS,
    })
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort_unstable();
    times[times.len() / 2]
}

fn render(rows: &[Row], token_requests: u64) -> String {
    let mut out = String::from(
        "| driver | static password, median connect | Entra, median connect | ratio Entra/static | runs each |\n\
         |---|---|---|---|---|\n",
    );
    for row in rows {
        let ratio = row.entra_median.as_secs_f64() / row.static_median.as_secs_f64();
        let _ = writeln!(
            out,
            "| {} | {:.3} ms | {:.3} ms | {ratio:.3} | {} |",
            row.name,
            row.static_median.as_secs_f64() * 1e3,
            row.entra_median.as_secs_f64() * 1e3,
            row.runs,
        );
    }
    let _ = writeln!(
        out,
        "\nToken requests for all Entra connects above: {token_requests} (one cached token)."
    );
    out
}
