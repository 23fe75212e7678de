//! Where to connect and as whom: flags, or the examples' environment variables.

use std::path::PathBuf;

use clap::Args;
use entra_pg_core::{CredentialSource, EntraAuth, Error};

/// The connection settings every command takes. Each flag falls back to the
/// environment variable the examples read.
#[derive(Debug, Clone, Args)]
pub(crate) struct Settings {
    /// Server host name (`myserver.postgres.database.azure.com`).
    #[arg(long, env = "POSTGRES_SERVER", global = true)]
    pub(crate) host: Option<String>,
    /// Server port.
    #[arg(long, env = "POSTGRES_PORT", default_value_t = 5432, global = true)]
    pub(crate) port: u16,
    /// Database name.
    #[arg(
        long,
        env = "POSTGRES_DATABASE",
        default_value = "postgres",
        global = true
    )]
    pub(crate) database: String,
    /// PostgreSQL user; derived from the token when not given.
    #[arg(long, env = "POSTGRES_USER", global = true)]
    pub(crate) user: Option<String>,
    /// Also let the token go to this host (repeatable; also ENTRA_PG_ALLOW_HOSTS,
    /// comma-separated), besides the cloud's Azure Database for PostgreSQL domain.
    #[arg(long = "allow-host", global = true)]
    pub(crate) allow_hosts: Vec<String>,
    /// Which credential to use, as AZURE_TOKEN_CREDENTIALS (`dev`, `prod`,
    /// `ManagedIdentityCredential`, `AzureCliCredential` …).
    #[arg(long, global = true)]
    pub(crate) credential: Option<String>,
}

impl Settings {
    /// The host, or what to do without one.
    pub(crate) fn host(&self) -> Result<&str, String> {
        self.host
            .as_deref()
            .filter(|host| !host.is_empty())
            .ok_or_else(|| {
                "give the server: --host myserver.postgres.database.azure.com (or POSTGRES_SERVER)"
                    .to_owned()
            })
    }

    /// Extra root CA file (`PGSSLROOTCERT`, as the examples read it).
    pub(crate) fn root_cert() -> Option<PathBuf> {
        std::env::var("PGSSLROOTCERT")
            .ok()
            .filter(|value| !value.is_empty() && value != "system")
            .map(PathBuf::from)
    }

    /// Every allowed host: the flags and `ENTRA_PG_ALLOW_HOSTS`.
    pub(crate) fn allowed_hosts(&self) -> Vec<String> {
        let from_env = std::env::var("ENTRA_PG_ALLOW_HOSTS").unwrap_or_default();
        self.allow_hosts
            .iter()
            .cloned()
            .chain(
                from_env
                    .split(',')
                    .map(str::trim)
                    .filter(|host| !host.is_empty())
                    .map(str::to_owned),
            )
            .collect()
    }

    /// The credential chosen from the environment (`--credential` standing in
    /// for `AZURE_TOKEN_CREDENTIALS`), and why.
    pub(crate) fn credential(&self) -> Result<(CredentialSource, String), Error> {
        let flag = self.credential.clone();
        CredentialSource::choose(|name| match (&flag, name) {
            (Some(flag), "AZURE_TOKEN_CREDENTIALS") => Some(flag.clone()),
            _ => std::env::var(name).ok(),
        })
    }

    /// The `EntraAuth` for these settings, with the credential's choice.
    pub(crate) fn auth(&self) -> Result<(EntraAuth, CredentialSource, String), Error> {
        let (source, reason) = self.credential()?;
        let mut builder = EntraAuth::builder(source.build()?);
        if let Some(host) = &self.host {
            builder = builder.host(host);
        }
        for host in self.allowed_hosts() {
            builder = builder.allow_host(host);
        }
        Ok((builder.build()?, source, reason))
    }
}
