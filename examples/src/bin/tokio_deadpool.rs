//! A deadpool pool of tokio-postgres connections with Entra login; objects are
//! `deadpool_postgres` clients with a statement cache.
//!
//! ```text
//! POSTGRES_SERVER=myserver.postgres.database.azure.com cargo run -p entra-pg-examples --bin tokio_deadpool
//! ```
use std::process::ExitCode;

use entra_pg_examples::{Settings, finish};
use entra_pg_tokio::{DeadpoolManager, DeadpoolPool, EntraConnector};

#[tokio::main]
async fn main() -> ExitCode {
    finish(run().await)
}

async fn run() -> Result<String, Box<dyn std::error::Error>> {
    let settings = Settings::from_env()?;
    let connector = EntraConnector::new(settings.tokio_config(), settings.entra_auth()?)?;
    let pool = DeadpoolPool::builder(DeadpoolManager::new(connector))
        .max_size(5)
        .build()?;
    let client = pool.get().await?;
    let statement = client.prepare_cached("SELECT current_user::text").await?;
    let row = client.query_one(&statement, &[]).await?;
    Ok(row.get(0))
}
