//! A bb8 pool of tokio-postgres connections with Entra login: every new physical
//! connection takes the current token from the shared cache.
//!
//! ```text
//! POSTGRES_SERVER=myserver.postgres.database.azure.com cargo run -p entra-pg-examples --bin tokio_bb8
//! ```
use std::process::ExitCode;

use entra_pg_examples::{Settings, finish};
use entra_pg_tokio::{Bb8Manager, EntraConnector, bb8};

#[tokio::main]
async fn main() -> ExitCode {
    finish(run().await)
}

async fn run() -> Result<String, Box<dyn std::error::Error>> {
    let settings = Settings::from_env()?;
    let connector = EntraConnector::new(settings.tokio_config(), settings.entra_auth()?)?;
    let pool = bb8::Pool::builder()
        .max_size(5)
        .min_idle(5)
        // Report the cause (token, TLS, login) instead of retrying until a timeout.
        .retry_connection(false)
        .build(Bb8Manager::new(connector))
        .await?;
    let client = pool.get().await?;
    let row = client.query_one("SELECT current_user::text", &[]).await?;
    Ok(row.get(0))
}
