//! One blocking `postgres` connection with Entra login.
//!
//! ```text
//! POSTGRES_SERVER=myserver.postgres.database.azure.com cargo run -p entra-pg-examples --bin sync_direct
//! ```
use std::process::ExitCode;

use entra_pg_examples::{Settings, finish};
use entra_pg_sync::EntraConnector;

fn main() -> ExitCode {
    finish(run())
}

fn run() -> Result<String, Box<dyn std::error::Error>> {
    let settings = Settings::from_env()?;
    // Default TLS: the public roots plus PGSSLROOTCERT; sslmode is always `require`.
    let connector = EntraConnector::new(settings.tokio_config(), settings.entra_auth()?)?;
    let mut client = connector.connect()?;
    let row = client.query_one("SELECT current_user::text", &[])?;
    Ok(row.get(0))
}
