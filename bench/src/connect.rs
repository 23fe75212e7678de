//! Connect-time overhead of Entra login against a static password, on the same
//! local PostgreSQL over TLS, for every driver and pool manager.
//!
//! Both logins go through the same server authentication path (the test kit checks
//! every password through LDAP), so the ratio shows what entra-pg adds on the
//! client: a cache lookup and a longer password. Runs alternate between the two
//! logins so drift (CPU frequency, caches) hits both equally. Pool rows time the
//! manager's own connect (what the pool calls for each new physical connection);
//! their static side is the same manager with a user and password in the settings,
//! which never touches Entra.

use std::{
    fmt::Write as _,
    time::{Duration, Instant},
};

use bb8::ManageConnection as _;
use deadpool::managed::Manager as _;
use entra_pg_testkit::Resource;
use entra_pg_tokio::{
    Bb8Manager, DeadpoolManager, EntraConnector,
    entra_pg_core::EntraAuth,
    tokio_postgres::{Config, config::SslMode},
};
use r2d2::ManageConnection as _;

use super::{Lab, ms, runtime};

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
    let auth = EntraAuth::new(identity.managed_identity_credential());
    let runs = lab.plan.connect_runs;
    let mut rows = tokio_rows(lab, &auth, runs)?;
    rows.extend(sync_rows(lab, &auth, runs)?);
    rows.push(sqlx_row(lab, auth.clone(), runs)?);
    rows.extend(crate::bench_diesel::rows(
        &lab.server,
        &lab.tls,
        auth,
        runs,
    )?);
    let token_requests = identity.requests(Resource::Database);
    Ok(render(&rows, token_requests))
}

/// Settings for the static role and for Entra (no user, no password).
fn configs(lab: &Lab) -> (Config, Config) {
    let mut entra = Config::new();
    entra
        .host(lab.server.host())
        .port(lab.server.port())
        .dbname("postgres")
        .ssl_mode(SslMode::Require);
    let mut fixed = entra.clone();
    fixed.user(STATIC_ROLE).password(STATIC_PASSWORD);
    (fixed, entra)
}

fn connectors(lab: &Lab, auth: &EntraAuth) -> Result<(EntraConnector, EntraConnector), String> {
    let (fixed, entra) = configs(lab);
    let build = |config: Config| {
        EntraConnector::builder(config, auth.clone())
            .tls(lab.tls.connector())
            .build()
            .map_err(|err| err.to_string())
    };
    Ok((build(fixed)?, build(entra)?))
}

fn tokio_rows(lab: &Lab, auth: &EntraAuth, runs: usize) -> Result<Vec<Row>, String> {
    let runtime = runtime()?;
    let (fixed_config, _) = configs(lab);
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
                .map_err(|err| format!("Entra connect: {err}"))
        },
    )?;
    // The managers need a runtime around them (connections are spawned on it).
    let _entered = runtime.enter();
    let (fixed_bb8, entra_bb8) = (
        Bb8Manager::new(fixed.clone()),
        Bb8Manager::new(entra.clone()),
    );
    let bb8 = compare(
        "bb8 manager (entra-pg-tokio)",
        runs,
        || {
            runtime
                .block_on(fixed_bb8.connect())
                .map(drop)
                .map_err(|err| format!("static connect: {err}"))
        },
        || {
            runtime
                .block_on(entra_bb8.connect())
                .map(drop)
                .map_err(|err| format!("Entra connect: {err}"))
        },
    )?;
    let (fixed_dp, entra_dp) = (DeadpoolManager::new(fixed), DeadpoolManager::new(entra));
    let deadpool = compare(
        "deadpool manager (entra-pg-tokio)",
        runs,
        || {
            runtime
                .block_on(fixed_dp.create())
                .map(drop)
                .map_err(|err| format!("static connect: {err}"))
        },
        || {
            runtime
                .block_on(entra_dp.create())
                .map(drop)
                .map_err(|err| format!("Entra connect: {err}"))
        },
    )?;
    Ok(vec![direct, bb8, deadpool])
}

fn sync_rows(lab: &Lab, auth: &EntraAuth, runs: usize) -> Result<Vec<Row>, String> {
    let (fixed_config, entra_config) = configs(lab);
    let build = |config: Config| {
        entra_pg_sync::EntraConnector::builder(config, auth.clone())
            .tls(lab.tls.connector())
            .build()
            .map_err(|err| err.to_string())
    };
    let (fixed, entra) = (build(fixed_config.clone())?, build(entra_config)?);
    let fixed_raw = postgres::Config::from(fixed_config);
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
                .map_err(|err| format!("Entra connect: {err}"))
        },
    )?;
    let (fixed_r2d2, entra_r2d2) = (
        entra_pg_sync::R2d2Manager::new(fixed),
        entra_pg_sync::R2d2Manager::new(entra),
    );
    let r2d2 = compare(
        "r2d2 manager (entra-pg-sync)",
        runs,
        || {
            fixed_r2d2
                .connect()
                .map(drop)
                .map_err(|err| format!("static connect: {err}"))
        },
        || {
            entra_r2d2
                .connect()
                .map(drop)
                .map_err(|err| format!("Entra connect: {err}"))
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
    let entra = PgConnectOptions::new_without_pgpass()
        .host(lab.server.host())
        .port(lab.server.port())
        .database("postgres")
        .ssl_mode(PgSslMode::VerifyFull)
        .ssl_root_cert_from_pem(lab.server.ca_pem().as_bytes().to_vec());
    let fixed = entra
        .clone()
        .username(STATIC_ROLE)
        .password(STATIC_PASSWORD);
    let connector =
        entra_pg_sqlx::EntraConnectOptions::new(entra, auth).map_err(|err| err.to_string())?;
    // A sqlx pool opens each connection with exactly this call on its current options.
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
                .block_on(connector.connect())
                .map(drop)
                .map_err(|err| format!("Entra connect: {err}"))
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
         {token_requests} (one cached token). Pool rows time the manager's connect, \
         what the pool calls for each new physical connection. sqlx 0.9.0 opens its \
         socket without TCP_NODELAY (sqlx issue #4335), so each of its connects waits on \
         delayed ACKs, for both logins alike."
    );
    out
}
