//! SeaORM over the Entra sqlx pool: a `DatabaseConnection` made from the
//! `PgPool`, one query printing `connected as <user>`.
//!
//! ```text
//! POSTGRES_SERVER=myserver.postgres.database.azure.com cargo run -p entra-pg-examples --bin seaorm
//! ```
use std::process::ExitCode;

use entra_pg_examples::{BoxError, Message, Settings, finish_boxed};
use entra_pg_sqlx::{EntraConnectOptions, sqlx::postgres::PgPoolOptions};
use sea_orm::{ConnectionTrait as _, DbBackend, SqlxPostgresConnector, Statement};

#[tokio::main]
async fn main() -> ExitCode {
    finish_boxed(run().await)
}

async fn run() -> Result<String, BoxError> {
    let settings = Settings::from_env()?;
    let builder = EntraConnectOptions::builder(settings.url(), settings.entra_auth()?);
    let pool = settings
        .roots(builder)
        .build()?
        .connect_pool(PgPoolOptions::new().max_connections(5))
        .await?;
    let db = SqlxPostgresConnector::from_sqlx_postgres_pool(pool.pool().clone());
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT current_user::text AS name",
        ))
        .await?
        .ok_or_else(|| Message("no row".to_owned()))?;
    let user: String = row.try_get("", "name")?;
    pool.close().await;
    Ok(user)
}
