//! An r2d2 pool of blocking `postgres` connections with Entra login.
//!
//! ```text
//! POSTGRES_SERVER=myserver.postgres.database.azure.com cargo run -p entra-pg-examples --bin sync_r2d2
//! ```
use std::process::ExitCode;

use entra_pg_examples::{BoxError, Message, Settings, finish_boxed};
use entra_pg_sync::{ClientManager, EntraConnector, R2d2Pool};

fn main() -> ExitCode {
    finish_boxed(run())
}

fn run() -> Result<String, BoxError> {
    let settings = Settings::from_env()?;
    let builder = EntraConnector::builder(settings.key_value(), settings.entra_auth()?);
    let connector = settings.roots(builder).build()?;
    let pool = R2d2Pool::builder()
        .max_size(5)
        .connection_timeout(std::time::Duration::from_secs(15))
        .build_unchecked(ClientManager::new(connector.clone()));
    let mut client = pool.get().map_err(|err| match connector.last_failure() {
        Some(failure) => Message(failure.chain).into(),
        None => BoxError::from(err),
    })?;
    let row = client.query_one("SELECT current_user::text", &[])?;
    Ok(row.get(0))
}
