//! One blocking `postgres` connection with Entra login.
//!
//! ```text
//! POSTGRES_SERVER=myserver.postgres.database.azure.com cargo run -p entra-pg-examples --bin sync_direct
//! ```
use std::process::ExitCode;

use entra_pg_examples::{BoxError, Settings, finish_boxed};
use entra_pg_sync::EntraConnector;

fn main() -> ExitCode {
    finish_boxed(run())
}

fn run() -> Result<String, BoxError> {
    let settings = Settings::from_env()?;
    let builder = EntraConnector::builder(settings.key_value(), settings.entra_auth()?);
    let connector = settings.roots(builder).build()?;
    let mut client = connector.connect()?;
    let row = client.query_one("SELECT current_user::text", &[])?;
    Ok(row.get(0))
}
