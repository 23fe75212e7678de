//! A sqlx `PgPool` with Entra login: a refresher keeps the pool's connect options
//! holding the newest token.
//!
//! ```text
//! POSTGRES_SERVER=myserver.postgres.database.azure.com cargo run -p entra-pg-examples --bin sqlx_pool
//! ```
use std::process::ExitCode;

use entra_pg_examples::{BoxError, Settings, finish_boxed};
use entra_pg_sqlx::{
    EntraConnectOptions,
    sqlx::{self, postgres::PgPoolOptions},
};

#[tokio::main]
async fn main() -> ExitCode {
    finish_boxed(run().await)
}

async fn run() -> Result<String, BoxError> {
    let settings = Settings::from_env()?;
    // No password (the token) and no sslmode (verify-full).
    let builder = EntraConnectOptions::builder(settings.url(), settings.entra_auth()?);
    let pool = settings
        .roots(builder)
        .build()?
        .connect_pool(PgPoolOptions::new().max_connections(5))
        .await?;
    let mut connection = pool.acquire().await?;
    let user: String = sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(&mut *connection)
        .await?;
    drop(connection);
    pool.close().await;
    Ok(user)
}
