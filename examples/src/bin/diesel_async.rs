//! A diesel-async bb8 pool of `AsyncPgConnection`s with Entra login: every new
//! physical connection is opened through entra-pg-tokio's connector (verified TLS,
//! current token from the shared cache). diesel-async's default setup would
//! connect without TLS.
//!
//! ```text
//! POSTGRES_SERVER=myserver.postgres.database.azure.com cargo run -p entra-pg-examples --bin diesel_async
//! ```
use std::process::ExitCode;

use diesel::{dsl::sql, sql_types::Text};
use diesel_async::RunQueryDsl;
use entra_pg_diesel::{AsyncBb8Pool, AsyncConnector, async_manager};
use entra_pg_examples::{Settings, finish};

#[tokio::main]
async fn main() -> ExitCode {
    finish(run().await)
}

async fn run() -> Result<String, Box<dyn std::error::Error>> {
    let settings = Settings::from_env()?;
    let connector = AsyncConnector::new(settings.tokio_config(), settings.entra_auth()?)?;
    let pool = AsyncBb8Pool::builder()
        .max_size(5)
        .min_idle(5)
        // Report the cause (token, TLS, login) instead of retrying until a timeout.
        .retry_connection(false)
        .build(async_manager(connector))
        .await?;
    let mut conn = pool.get().await?;
    let user = diesel::select(sql::<Text>("current_user::text"))
        .get_result(&mut conn)
        .await?;
    Ok(user)
}
