//! A diesel r2d2 pool of `PgConnection`s (libpq) with Entra login: every new
//! physical connection takes the current token from the shared cache, over
//! `sslmode=verify-full`.
//!
//! ```text
//! POSTGRES_SERVER=myserver.postgres.database.azure.com cargo run -p entra-pg-examples --bin diesel_r2d2
//! ```
use std::process::ExitCode;

use diesel::{RunQueryDsl, dsl::sql, r2d2::Pool, sql_types::Text};
use entra_pg_diesel::{PgConnector, R2d2Manager};
use entra_pg_examples::{Settings, finish};

fn main() -> ExitCode {
    finish(run())
}

fn run() -> Result<String, Box<dyn std::error::Error>> {
    let settings = Settings::from_env()?;
    // Roots: PGSSLROOTCERT when set, else the system's bundle (Azure's roots included).
    let connector = PgConnector::new(&settings.libpq_settings(), settings.entra_auth()?)?;
    let pool = Pool::builder()
        .max_size(5)
        .min_idle(Some(0))
        .build(R2d2Manager::new(connector))?;
    let mut conn = pool.get()?;
    let user = diesel::select(sql::<Text>("current_user::text")).get_result(&mut conn)?;
    Ok(user)
}
