//! A deadpool pool of tokio-postgres connections with Entra login, with
//! deadpool-postgres' statement cache.
//!
//! ```text
//! POSTGRES_SERVER=myserver.postgres.database.azure.com cargo run -p entra-pg-examples --bin tokio_deadpool
//! ```
use std::process::ExitCode;

use entra_pg_examples::{BoxError, Settings, finish_boxed};
use entra_pg_tokio::{ClientManager, DeadpoolPool, EntraConnector};

#[tokio::main]
async fn main() -> ExitCode {
    finish_boxed(run().await)
}

async fn run() -> Result<String, BoxError> {
    let settings = Settings::from_env()?;
    let builder = EntraConnector::builder(settings.key_value(), settings.entra_auth()?);
    let connector = settings.roots(builder).build()?;
    let pool = DeadpoolPool::builder(ClientManager::new(connector))
        .max_size(5)
        .build()?;
    let client = pool.get().await?;
    let statement = client.prepare_cached("SELECT current_user::text").await?;
    let row = client.query_one(&statement, &[]).await?;
    Ok(row.get(0))
}
