//! Connect-time overhead of Entra login against a static password, on the same
//! local PostgreSQL over TLS, for every driver and pool manager.
//!
//! Both logins go through the same server authentication path (the test kit checks
//! every password through LDAP), so the ratio shows what entra-pg adds on the
//! client: a cache lookup and a longer password. Runs alternate between the two
//! logins so drift (CPU frequency, caches) hits both equally. Direct rows compare
//! with the bare driver; pool rows time the manager's own connect (what the pool
//! calls for each new physical connection), and their static side is the same
//! manager with a user and password in the settings: a static login, which never
//! touches Entra.

use std::{
    fmt::Write as _,
    time::{Duration, Instant},
};

use entra_pg_core::EntraAuth;
use entra_pg_testkit::Resource;
use entra_pg_tokio::{ClientManager, EntraConnector, tokio_postgres::Config};

use super::{Lab, error_chain, ms, runtime};

const WARM_UP: usize = 20;
const STATIC_ROLE: &str = "bench_static";
const STATIC_PASSWORD: &str = "bench-static-password";

/// One measured comparison.
pub(crate) struct Row {
    name: &'static str,
    static_median: Duration,
    entra_median: Duration,
    runs: usize,
}

pub(super) fn section(lab: &Lab) -> Result<String, String> {
    lab.server
        .create_password_role(STATIC_ROLE, STATIC_PASSWORD);
    let (identity, _) = lab.identity("bench_connect", Duration::from_secs(3600));
    let auth = lab.auth(identity.managed_identity_credential())?;
    let runs = lab.plan.connect_runs;
    let mut rows = tokio_rows(lab, &auth, runs)?;
    rows.extend(sync_rows(lab, &auth, runs)?);
    rows.push(sqlx_row(lab, auth.clone(), runs)?);
    let (diesel_rows, libpq_ca_only) = crate::diesel::rows(lab, auth, runs)?;
    rows.extend(diesel_rows);
    let token_requests = identity.requests(Resource::Database);
    Ok(render(&rows, token_requests, libpq_ca_only))
}

/// libpq-style settings of the static role: a static login.
fn static_settings(lab: &Lab) -> String {
    format!(
        "{} user={STATIC_ROLE} password={STATIC_PASSWORD}",
        lab.settings()
    )
}

/// The bare driver's settings for the static role (`require` verifies with rustls).
fn static_config(lab: &Lab) -> Result<Config, String> {
    format!("{} sslmode=require", static_settings(lab))
        .parse()
        .map_err(|err| format!("static settings: {err}"))
}

/// Connectors for the static role and for Entra (no user, no password).
fn connectors(lab: &Lab, auth: &EntraAuth) -> Result<(EntraConnector, EntraConnector), String> {
    let fixed = EntraConnector::builder(static_settings(lab), auth.clone())
        .root_cert_pem(lab.ca())
        .build()
        .map_err(|err| error_chain(&err))?;
    Ok((fixed, lab.connector(auth.clone())?))
}

fn tokio_rows(lab: &Lab, auth: &EntraAuth, runs: usize) -> Result<Vec<Row>, String> {
    let runtime = runtime()?;
    let fixed_config = static_config(lab)?;
    let (fixed, entra) = connectors(lab, auth)?;
    let fixed_tls = lab.tls.connector();
    let direct = compare(
        "tokio-postgres (entra-pg-tokio)",
        runs,
        || {
            runtime
                .block_on(fixed_config.connect(fixed_tls.clone()))
                .map(drop)
                .map_err(|err| format!("static connect: {err}"))
        },
        || {
            runtime
                .block_on(entra.connect())
                .map(drop)
                .map_err(|err| format!("Entra connect: {}", error_chain(&err)))
        },
    )?;
    // The managers spawn each connection on the runtime around them.
    let _entered = runtime.enter();
    let (fixed_manager, entra_manager) = (ClientManager::new(fixed), ClientManager::new(entra));
    let bb8 = compare(
        "bb8 manager (entra-pg-tokio)",
        runs,
        || {
            runtime
                .block_on(bb8::ManageConnection::connect(&fixed_manager))
                .map(drop)
                .map_err(|err| format!("static connect: {}", error_chain(&err)))
        },
        || {
            runtime
                .block_on(bb8::ManageConnection::connect(&entra_manager))
                .map(drop)
                .map_err(|err| format!("Entra connect: {}", error_chain(&err)))
        },
    )?;
    let deadpool = compare(
        "deadpool manager (entra-pg-tokio)",
        runs,
        || {
            runtime
                .block_on(deadpool::managed::Manager::create(&fixed_manager))
                .map(drop)
                .map_err(|err| format!("static connect: {}", error_chain(&err)))
        },
        || {
            runtime
                .block_on(deadpool::managed::Manager::create(&entra_manager))
                .map(drop)
                .map_err(|err| format!("Entra connect: {}", error_chain(&err)))
        },
    )?;
    Ok(vec![direct, bb8, deadpool])
}

/// The blocking rows, on this (plain) thread: `postgres` clients run a runtime of
/// their own.
fn sync_rows(lab: &Lab, auth: &EntraAuth, runs: usize) -> Result<Vec<Row>, String> {
    let build = |settings: String| {
        entra_pg_sync::EntraConnector::builder(settings, auth.clone())
            .root_cert_pem(lab.ca())
            .build()
            .map_err(|err| error_chain(&err))
    };
    let (fixed, entra) = (
        build(static_settings(lab))?,
        lab.sync_connector(auth.clone())?,
    );
    let fixed_raw: postgres::Config = format!("{} sslmode=require", static_settings(lab))
        .parse()
        .map_err(|err| format!("static settings: {err}"))?;
    let fixed_tls = lab.tls.connector();
    let direct = compare(
        "postgres, blocking (entra-pg-sync)",
        runs,
        || {
            fixed_raw
                .connect(fixed_tls.clone())
                .map(drop)
                .map_err(|err| format!("static connect: {err}"))
        },
        || {
            entra
                .connect()
                .map(drop)
                .map_err(|err| format!("Entra connect: {}", error_chain(&err)))
        },
    )?;
    let (fixed_r2d2, entra_r2d2) = (
        entra_pg_sync::ClientManager::new(fixed),
        entra_pg_sync::ClientManager::new(entra),
    );
    let r2d2 = compare(
        "r2d2 manager (entra-pg-sync)",
        runs,
        || {
            r2d2::ManageConnection::connect(&fixed_r2d2)
                .map(drop)
                .map_err(|err| format!("static connect: {}", error_chain(&err)))
        },
        || {
            r2d2::ManageConnection::connect(&entra_r2d2)
                .map(drop)
                .map_err(|err| format!("Entra connect: {}", error_chain(&err)))
        },
    )?;
    Ok(vec![direct, r2d2])
}

fn sqlx_row(lab: &Lab, auth: EntraAuth, runs: usize) -> Result<Row, String> {
    use entra_pg_sqlx::sqlx::{
        Connection as _, PgConnection,
        postgres::{PgConnectOptions, PgSslMode},
    };
    let runtime = runtime()?;
    // What a sqlx user writes for a static password, with the same TLS checks.
    let fixed = PgConnectOptions::new_without_pgpass()
        .host(lab.server.host())
        .port(lab.server.port())
        .database("postgres")
        .ssl_mode(PgSslMode::VerifyFull)
        .ssl_root_cert_from_pem(lab.ca().to_vec())
        .username(STATIC_ROLE)
        .password(STATIC_PASSWORD);
    let entra = lab.sqlx_options(auth)?;
    // A sqlx pool opens each connection with `PgConnection::connect_with` on its
    // current options: the same connect as `EntraConnectOptions::connect`.
    compare(
        "sqlx PgConnection and PgPool (entra-pg-sqlx)",
        runs,
        || {
            runtime
                .block_on(PgConnection::connect_with(&fixed))
                .map(drop)
                .map_err(|err| format!("static connect: {err}"))
        },
        || {
            runtime
                .block_on(entra.connect())
                .map(drop)
                .map_err(|err| format!("Entra connect: {}", error_chain(&err)))
        },
    )
}

/// Times `fixed` and `entra` connects alternately and keeps the medians.
pub(crate) fn compare(
    name: &'static str,
    runs: usize,
    mut fixed: impl FnMut() -> Result<(), String>,
    mut entra: impl FnMut() -> Result<(), String>,
) -> Result<Row, String> {
    let mut fixed_times = Vec::with_capacity(runs);
    let mut entra_times = Vec::with_capacity(runs);
    let time = |connect: &mut dyn FnMut() -> Result<(), String>| {
        let started = Instant::now();
        connect().map(|()| started.elapsed())
    };
    for run in 0..WARM_UP + runs {
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
    println!("   {name}: done");
    Ok(Row {
        name,
        static_median: median(&mut fixed_times),
        entra_median: median(&mut entra_times),
        runs,
    })
}

/// The median time of `runs` calls of `connect`, after a warm-up.
pub(crate) fn median_connect(
    runs: usize,
    mut connect: impl FnMut() -> Result<(), String>,
) -> Result<Duration, String> {
    let mut times = Vec::with_capacity(runs);
    for run in 0..WARM_UP + runs {
        let started = Instant::now();
        connect()?;
        if run >= WARM_UP {
            times.push(started.elapsed());
        }
    }
    Ok(median(&mut times))
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort_unstable();
    times[times.len() / 2]
}

fn render(rows: &[Row], token_requests: u64, libpq_ca_only: Duration) -> String {
    let mut out = String::from(
        "| driver | static password, median connect | Entra, median connect | ratio Entra/static | runs each |\n\
         |---|---|---|---|---|\n",
    );
    for row in rows {
        let ratio = row.entra_median.as_secs_f64() / row.static_median.as_secs_f64();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {ratio:.3} | {} |",
            row.name,
            ms(row.static_median),
            ms(row.entra_median),
            row.runs,
        );
    }
    let _ = writeln!(
        out,
        "\nTarget: ratio ≤ 1.02. Token requests for all Entra connects above: \
         {token_requests} (one cached token). Direct rows compare with the bare driver \
         given the password; pool rows time the manager's connect, what the pool calls \
         for each new physical connection, with a static login (user and password in \
         the settings) on the same manager as the static side. sqlx 0.9.0 opens its \
         socket without TCP_NODELAY (sqlx issue #4335), so each of its connects waits on \
         delayed ACKs, for both logins alike.\n\n\
         Both diesel `PgConnection` sides trust the same roots: the connector's one file \
         holding the operating system's bundle and the server's CA (libpq takes one \
         `sslrootcert` file; entra-pg-diesel only ever adds roots to the system's). libpq \
         reads and parses that file on every connect: a static connect trusting only the \
         server's CA takes {} (median), so the system bundle costs every libpq connect \
         the difference.",
        ms(libpq_ca_only),
    );
    out
}
