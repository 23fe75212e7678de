//! A sqlx `PgPool` with Entra login: a refresher keeps the pool's connect options
//! holding a valid token, so every new connection logs in.
//!
//! ```text
//! POSTGRES_SERVER=myserver.postgres.database.azure.com cargo run -p entra-pg-examples --bin sqlx_pool
//! ```
use std::process::ExitCode;

use entra_pg_examples::{Settings, finish};
use entra_pg_sqlx::{
    EntraConnectOptions,
    sqlx::{
        self,
        postgres::{PgConnectOptions, PgPoolOptions},
    },
};

#[tokio::main]
async fn main() -> ExitCode {
    finish(run().await)
}

async fn run() -> Result<String, Box<dyn std::error::Error>> {
    let settings = Settings::from_env()?;
    // No user (it comes from the token) and no sslmode (verify-full). sqlx reads
    // PGSSLROOTCERT itself.
    let mut options = PgConnectOptions::new()
        .host(&settings.host)
        .port(settings.port)
        .database(&settings.database)
        .application_name("entra-pg-example");
    if let Some(user) = &settings.user {
        options = options.username(user);
    }
    let pool = EntraConnectOptions::new(options, settings.entra_auth()?)?
        .connect_pool(PgPoolOptions::new().max_connections(5).min_connections(5))
        .await?;
    let mut connection = pool.acquire().await?;
    let user: String = sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(&mut *connection)
        .await?;
    drop(connection);
    pool.close().await;
    Ok(user)
}
