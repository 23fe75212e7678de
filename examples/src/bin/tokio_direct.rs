//! One tokio-postgres connection with Entra login.
//!
//! ```text
//! POSTGRES_SERVER=myserver.postgres.database.azure.com cargo run -p entra-pg-examples --bin tokio_direct
//! ```
use std::process::ExitCode;

use entra_pg_examples::{BoxError, Settings, finish_boxed};
use entra_pg_tokio::EntraConnector;

#[tokio::main]
async fn main() -> ExitCode {
    finish_boxed(run().await)
}

async fn run() -> Result<String, BoxError> {
    let settings = Settings::from_env()?;
    // Default TLS: rustls with the Mozilla roots; sslmode is always verified.
    let builder = EntraConnector::builder(settings.key_value(), settings.entra_auth()?);
    let connector = settings.roots(builder).build()?;
    let client = connector.connect_spawned().await?;
    let row = client.query_one("SELECT current_user::text", &[]).await?;
    Ok(row.get(0))
}
