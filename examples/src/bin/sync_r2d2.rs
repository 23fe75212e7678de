//! An r2d2 pool of blocking `postgres` connections with Entra login: every new
//! physical connection takes the current token from the shared cache.
//!
//! ```text
//! POSTGRES_SERVER=myserver.postgres.database.azure.com cargo run -p entra-pg-examples --bin sync_r2d2
//! ```
use std::process::ExitCode;

use entra_pg_examples::{Settings, finish};
use entra_pg_sync::{EntraConnector, R2d2Manager, r2d2};

fn main() -> ExitCode {
    finish(run())
}

fn run() -> Result<String, Box<dyn std::error::Error>> {
    let settings = Settings::from_env()?;
    let connector = EntraConnector::new(settings.tokio_config(), settings.entra_auth()?)?;
    let pool = r2d2::Pool::builder()
        .max_size(5)
        .build(R2d2Manager::new(connector))?;
    let mut client = pool.get()?;
    let row = client.query_one("SELECT current_user::text", &[])?;
    Ok(row.get(0))
}
