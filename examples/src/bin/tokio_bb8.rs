//! A bb8 pool of tokio-postgres connections with Entra login: every new physical
//! connection takes the current token from the shared cache.
//!
//! ```text
//! POSTGRES_SERVER=myserver.postgres.database.azure.com cargo run -p entra-pg-examples --bin tokio_bb8
//! ```
use std::process::ExitCode;

use entra_pg_examples::{BoxError, Message, Settings, finish_boxed};
use entra_pg_tokio::{Bb8Pool, ClientManager, EntraConnector};

#[tokio::main]
async fn main() -> ExitCode {
    finish_boxed(run().await)
}

async fn run() -> Result<String, BoxError> {
    let settings = Settings::from_env()?;
    let builder = EntraConnector::builder(settings.key_value(), settings.entra_auth()?);
    let connector = settings.roots(builder).build()?;
    let pool: Bb8Pool = Bb8Pool::builder()
        .max_size(5)
        .build_unchecked(ClientManager::new(connector.clone()));
    // bb8 reports a failed connect as `TimedOut`; the connector has the cause.
    let client = pool
        .get()
        .await
        .map_err(|err| match connector.last_failure() {
            Some(failure) => Message(failure.chain).into(),
            None => BoxError::from(err),
        })?;
    let row = client.query_one("SELECT current_user::text", &[]).await?;
    Ok(row.get(0))
}
