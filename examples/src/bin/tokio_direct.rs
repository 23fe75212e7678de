//! One tokio-postgres connection with Entra login.
//!
//! ```text
//! POSTGRES_SERVER=myserver.postgres.database.azure.com cargo run -p entra-pg-examples --bin tokio_direct
//! ```
use std::process::ExitCode;

use entra_pg_examples::{Settings, finish};
use entra_pg_tokio::EntraConnector;

#[tokio::main]
async fn main() -> ExitCode {
    finish(run().await)
}

async fn run() -> Result<String, Box<dyn std::error::Error>> {
    let settings = Settings::from_env()?;
    let auth = settings.entra_auth()?;
    // Default TLS: the public roots plus PGSSLROOTCERT; sslmode is always `require`.
    let connector = EntraConnector::new(settings.tokio_config(), auth)?;
    let (client, connection) = connector.connect().await?;
    tokio::spawn(connection);
    let row = client.query_one("SELECT current_user::text", &[]).await?;
    Ok(row.get(0))
}
