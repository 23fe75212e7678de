//! diesel-async `AsyncPgConnection`s in a bb8 pool with Entra login.
//!
//! ```text
//! POSTGRES_SERVER=myserver.postgres.database.azure.com cargo run -p entra-pg-examples --bin diesel_async
//! ```
use std::process::ExitCode;

use diesel::{dsl::sql, sql_types::Text};
use diesel_async::RunQueryDsl;
use entra_pg_diesel::{AsyncBb8Pool, AsyncConnector, async_manager};
use entra_pg_examples::{BoxError, Message, Settings, finish_boxed};

#[tokio::main]
async fn main() -> ExitCode {
    finish_boxed(run().await)
}

async fn run() -> Result<String, BoxError> {
    let settings = Settings::from_env()?;
    let builder = AsyncConnector::builder(settings.key_value(), settings.entra_auth()?);
    let connector = settings.roots(builder).build()?;
    let pool = AsyncBb8Pool::builder()
        .max_size(5)
        .build_unchecked(async_manager(connector.clone()));
    let mut connection = pool
        .get()
        .await
        .map_err(|err| match connector.last_failure() {
            Some(failure) => Message(failure.chain).into(),
            None => BoxError::from(err),
        })?;
    let user = diesel::select(sql::<Text>("current_user::text"))
        .get_result(&mut connection)
        .await?;
    Ok(user)
}
