//! An axum service with an Entra sqlx pool in its state: one route answers with
//! `current_user`. The example starts it on a loopback port, calls the route once,
//! prints `connected as <user>` and exits.
//!
//! The pool lives in the state as a plain `PgPool` clone: the refresher keeps its
//! connect options holding the newest token for as long as the pool is open.
//!
//! ```text
//! POSTGRES_SERVER=myserver.postgres.database.azure.com cargo run -p entra-pg-examples --bin axum_service
//! ```
use std::process::ExitCode;

use axum::{Router, extract::State, http::StatusCode, routing::get};
use entra_pg_examples::{BoxError, Message, Settings, finish_boxed};
use entra_pg_sqlx::{
    EntraConnectOptions,
    sqlx::{self, PgPool, postgres::PgPoolOptions},
};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

#[tokio::main]
async fn main() -> ExitCode {
    finish_boxed(run().await)
}

/// `GET /whoami`: the PostgreSQL user of a pooled connection.
async fn whoami(State(pool): State<PgPool>) -> Result<String, (StatusCode, String)> {
    sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(&pool)
        .await
        .map_err(|err| (StatusCode::SERVICE_UNAVAILABLE, err.to_string()))
}

async fn run() -> Result<String, BoxError> {
    let settings = Settings::from_env()?;
    let builder = EntraConnectOptions::builder(settings.url(), settings.entra_auth()?);
    let entra_pool = settings
        .roots(builder)
        .build()?
        .connect_pool(PgPoolOptions::new().max_connections(5))
        .await?;
    // The idiom: the state holds a PgPool.
    let pool: PgPool = entra_pool.pool().clone();
    let app = Router::new()
        .route("/whoami", get(whoami))
        .with_state(pool.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    // One request, as a client would send it.
    let mut stream = tokio::net::TcpStream::connect(address).await?;
    stream
        .write_all(b"GET /whoami HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    server.abort();
    pool.close().await;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| Message(format!("not an HTTP answer: {response:?}")))?;
    if !head.starts_with("HTTP/1.1 200") {
        return Err(Message(format!("the route answered {head}: {body}")).into());
    }
    Ok(body.trim().to_owned())
}
