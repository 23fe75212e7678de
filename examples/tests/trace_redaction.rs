//! Every driver, one full connect cycle each, with all `tracing` output (and `log`
//! records) of the process captured at TRACE level: the token appears nowhere.
//!
//! Its own test binary, so the capture is installed at TRACE for every target
//! before anything else logs.

use std::time::Duration;

use diesel::r2d2::Pool as DieselR2d2Pool;
use entra_pg_core::EntraAuth;
use entra_pg_diesel::{
    AsyncBb8Pool, AsyncDeadpoolPool, PgConnector, R2d2Manager as DieselR2d2Manager, async_manager,
};
use entra_pg_sqlx::{
    EntraConnectOptions,
    sqlx::{self, postgres::PgConnectOptions, postgres::PgPoolOptions},
};
use entra_pg_testkit::{FakeEntra, PgServer, captured_logs, init_logs_with, unique_name};
use entra_pg_tokio::{
    Bb8Manager, DeadpoolManager, DeadpoolPool, EntraConnector, Tls, bb8, tokio_postgres::Config,
};

fn config(server: &PgServer) -> Config {
    let mut config = Config::new();
    config
        .host(server.host())
        .port(server.port())
        .dbname("postgres");
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_driver_logs_the_token_at_trace_level() {
    init_logs_with("trace");
    let server = PgServer::shared();
    let user = format!("{}@contoso.com", unique_name("trace"));
    let identity = FakeEntra::shared()
        .identity()
        .upn(&user)
        .login_on(server, &user)
        .build();
    let auth = EntraAuth::new(identity.managed_identity_credential());
    let tls = Tls::builder()
        .root_pem(server.ca_pem())
        .unwrap()
        .build()
        .unwrap();
    let connector = EntraConnector::builder(config(server), auth.clone())
        .tls(tls.connector())
        .build()
        .unwrap();

    // tokio-postgres, bb8, deadpool.
    let client = connector.connect_spawned().await.unwrap();
    client.simple_query("SELECT 1").await.unwrap();
    let pool = bb8::Pool::builder()
        .max_size(1)
        .build(Bb8Manager::new(connector.clone()))
        .await
        .unwrap();
    pool.get()
        .await
        .unwrap()
        .simple_query("SELECT 1")
        .await
        .unwrap();
    let pool = DeadpoolPool::builder(DeadpoolManager::new(connector.clone()))
        .max_size(1)
        .build()
        .unwrap();
    pool.get()
        .await
        .unwrap()
        .simple_query("SELECT 1")
        .await
        .unwrap();

    // postgres, r2d2, diesel (libpq) with r2d2: blocking, off the runtime.
    let sync_connector = entra_pg_sync::EntraConnector::builder(config(server), auth.clone())
        .tls(tls.connector())
        .build()
        .unwrap();
    let ca_path = server.ca_path();
    let conninfo = format!(
        "host={} port={} dbname=postgres",
        server.host(),
        server.port()
    );
    let diesel_connector = PgConnector::builder(&conninfo, auth.clone())
        .root_cert(ca_path)
        .build()
        .unwrap();
    tokio::task::spawn_blocking(move || {
        sync_connector
            .connect()
            .unwrap()
            .simple_query("SELECT 1")
            .unwrap();
        let pool = r2d2::Pool::builder()
            .max_size(1)
            .build(entra_pg_sync::R2d2Manager::new(sync_connector))
            .unwrap();
        pool.get().unwrap().simple_query("SELECT 1").unwrap();
        let pool = DieselR2d2Pool::builder()
            .max_size(1)
            .build(DieselR2d2Manager::new(diesel_connector))
            .unwrap();
        diesel::RunQueryDsl::execute(diesel::sql_query("SELECT 1"), &mut pool.get().unwrap())
            .unwrap();
    })
    .await
    .unwrap();

    // sqlx pool.
    let options = PgConnectOptions::new_without_pgpass()
        .host(server.host())
        .port(server.port())
        .database("postgres");
    let pool = EntraConnectOptions::builder(options, auth.clone())
        .root_pem(server.ca_pem())
        .build()
        .unwrap()
        .connect_pool(PgPoolOptions::new().max_connections(1))
        .await
        .unwrap();
    sqlx::query("SELECT 1").execute(pool.pool()).await.unwrap();
    pool.close().await;

    // diesel-async with bb8 and deadpool.
    let pool = AsyncBb8Pool::builder()
        .max_size(1)
        .connection_timeout(Duration::from_secs(20))
        .build(async_manager(connector.clone()))
        .await
        .unwrap();
    diesel_async::RunQueryDsl::execute(
        diesel::sql_query("SELECT 1"),
        &mut pool.get().await.unwrap(),
    )
    .await
    .unwrap();
    let pool = AsyncDeadpoolPool::builder(async_manager(connector))
        .max_size(1)
        .build()
        .unwrap();
    diesel_async::RunQueryDsl::execute(
        diesel::sql_query("SELECT 1"),
        &mut pool.get().await.unwrap(),
    )
    .await
    .unwrap();

    let logs = captured_logs();
    assert!(logs.contains("TRACE"), "the capture is at TRACE level");
    assert!(logs.lines().count() > 100, "the drivers logged");
    let tokens = identity.issued_tokens();
    assert_eq!(tokens.len(), 1, "one token for every driver");
    for token in &tokens {
        assert!(
            !logs.contains(token.as_str()),
            "a token leaked into the logs"
        );
        // Not even a long piece of it (its signature part).
        let signature = token.rsplit('.').next().unwrap_or_default();
        assert!(!logs.contains(signature), "a token's signature leaked");
    }
}
