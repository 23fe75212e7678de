//! diesel's r2d2 pool of `PgConnection`s (libpq) with Entra login.
//!
//! ```text
//! POSTGRES_SERVER=myserver.postgres.database.azure.com cargo run -p entra-pg-examples --bin diesel_r2d2
//! ```
use std::process::ExitCode;

use diesel::{RunQueryDsl, dsl::sql, sql_types::Text};
use entra_pg_diesel::{EntraConnector, PgConnectionManager, R2d2Pool};
use entra_pg_examples::{BoxError, Message, Settings, finish_boxed};

fn main() -> ExitCode {
    finish_boxed(run())
}

fn run() -> Result<String, BoxError> {
    let settings = Settings::from_env()?;
    // Roots: the system's bundle (Azure's roots included), plus PGSSLROOTCERT.
    let builder = EntraConnector::builder(settings.key_value(), settings.entra_auth()?);
    let connector = settings.roots(builder).build()?;
    let pool = R2d2Pool::builder()
        .max_size(5)
        .min_idle(Some(0))
        .connection_timeout(std::time::Duration::from_secs(15))
        .build_unchecked(PgConnectionManager::new(connector.clone()));
    let mut connection = pool.get().map_err(|err| match connector.last_failure() {
        Some(failure) => Message(failure.chain).into(),
        None => BoxError::from(err),
    })?;
    let user = diesel::select(sql::<Text>("current_user::text")).get_result(&mut connection)?;
    Ok(user)
}
