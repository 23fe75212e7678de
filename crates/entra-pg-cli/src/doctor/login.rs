//! The login step: a real connection through `entra-pg-tokio`, as an application
//! would make it.

use entra_pg_core::EntraAuth;
use entra_pg_tokio::{EntraConnector, Error};

use crate::settings::Settings;

/// Logs in and returns `current_user`.
pub(crate) async fn attempt(
    settings: &Settings,
    host: &str,
    auth: EntraAuth,
) -> Result<String, Error> {
    let quote = |value: &str| format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"));
    let mut conninfo = format!(
        "host={} port={} dbname={} application_name=entra-pg-doctor connect_timeout=10",
        quote(host),
        settings.port,
        quote(&settings.database)
    );
    if let Some(user) = &settings.user {
        conninfo.push_str(&format!(" user={}", quote(user)));
    }
    let mut builder = EntraConnector::builder(conninfo, auth);
    if let Some(root) = Settings::root_cert() {
        builder = builder.root_cert_file(root);
    }
    let connector = builder.build()?;
    let client = connector.connect_spawned().await?;
    client
        .query_one("SELECT current_user::text", &[])
        .await
        .map(|row| row.get(0))
        .map_err(|err| entra_pg_core::ConnectError::Driver {
            target: connector.target().describe().to_owned(),
            source: err,
        })
}
