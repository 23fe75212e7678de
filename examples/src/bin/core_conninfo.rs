//! Gets a PostgreSQL login from Microsoft Entra ID and says who it is for:
//! the principal kind, tenant, the claim the user came from and the expiry.
//! Connects nowhere; never prints the token.
//!
//! ```text
//! POSTGRES_SERVER=myserver.postgres.database.azure.com cargo run -p entra-pg-examples --bin core_conninfo
//! ```
use std::process::ExitCode;

use entra_pg_core::{Destination, claims::token_info};
use entra_pg_examples::{BoxError, Settings, finish_boxed};

#[tokio::main]
async fn main() -> ExitCode {
    finish_boxed(run().await)
}

async fn run() -> Result<String, BoxError> {
    let settings = Settings::from_env()?;
    let auth = settings.entra_auth()?;
    let target = auth.target(
        Destination::new("example")
            .tcp_host(&settings.host)
            .user(settings.user.as_deref()),
    )?;
    let login = auth.login(&target).await?;
    let info = token_info(login.password())?;
    let source = match (&settings.user, info.user_claim) {
        (Some(_), _) => "POSTGRES_USER".to_owned(),
        (None, Some(claim)) => format!("claim {claim}"),
        (None, None) => "a management-scope token".to_owned(),
    };
    Ok(format!(
        "{} ({}, tenant {}, user from {source}, token expires {})",
        login.user(),
        info.kind.describe(),
        info.tenant_id.as_deref().unwrap_or("unknown"),
        login.expires_on()
    ))
}
