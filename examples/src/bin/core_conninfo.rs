//! Gets a PostgreSQL login from Microsoft Entra ID and prints who it is for.
//! Connects nowhere; prints `derived user <user>, token expires <time>`, never the token.
//!
//! ```text
//! POSTGRES_SERVER=myserver.postgres.database.azure.com cargo run -p entra-pg-examples --bin core_conninfo
//! ```
#![allow(clippy::print_stdout, reason = "examples report to the terminal")]

use std::process::ExitCode;

use entra_pg_examples::{Settings, report};

#[tokio::main]
async fn main() -> ExitCode {
    report(run().await)
}

async fn run() -> Result<String, String> {
    let settings = Settings::from_env()?;
    let auth = settings.entra_auth().map_err(|err| err.to_string())?;
    let info = auth.conninfo().await.map_err(|err| err.to_string())?;
    Ok(format!(
        "derived user {}, token expires {}",
        info.user(),
        info.expires_on()
    ))
}
