//! Settings shared by every example, read from the same environment variables as
//! the reference library's samples:
//!
//! | variable | meaning |
//! |---|---|
//! | `POSTGRES_SERVER` | server host name, e.g. `myserver.postgres.database.azure.com` (required) |
//! | `POSTGRES_DATABASE` | database name (default `postgres`) |
//! | `POSTGRES_PORT` | port (default 5432) |
//! | `POSTGRES_USER` | PostgreSQL user; when unset it is derived from the token |
//! | `PGSSLROOTCERT` | extra trusted root CA, PEM file |
//!
//! The credential comes from [`entra_pg_core::credential_from_env`].
#![allow(clippy::print_stdout, reason = "examples report to the terminal")]

use std::{fmt::Display, path::PathBuf, process::ExitCode};

use entra_pg_core::{EntraAuth, credential_from_env};

/// Connection settings of an example.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Server host name.
    pub host: String,
    /// Database name.
    pub database: String,
    /// TCP port.
    pub port: u16,
    /// Explicit PostgreSQL user, if any.
    pub user: Option<String>,
    /// Extra root CA file, if any.
    pub root_cert: Option<PathBuf>,
}

impl Settings {
    /// Reads the settings from the environment.
    ///
    /// # Errors
    /// A message naming the variable that is missing or malformed.
    pub fn from_env() -> Result<Self, String> {
        let var = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
        let host = var("POSTGRES_SERVER").ok_or(
            "set POSTGRES_SERVER to the server host name, e.g. myserver.postgres.database.azure.com",
        )?;
        let port = match var("POSTGRES_PORT") {
            Some(port) => port
                .parse()
                .map_err(|_| format!("POSTGRES_PORT={port:?} is not a port number"))?,
            None => 5432,
        };
        Ok(Self {
            host,
            database: var("POSTGRES_DATABASE").unwrap_or_else(|| "postgres".to_owned()),
            port,
            user: var("POSTGRES_USER"),
            root_cert: var("PGSSLROOTCERT").map(PathBuf::from),
        })
    }

    /// The Entra login for these settings: credential from the environment, cloud
    /// from the host name, explicit user when `POSTGRES_USER` is set.
    ///
    /// # Errors
    /// When the credential cannot be set up from the environment.
    pub fn entra_auth(&self) -> Result<EntraAuth, entra_pg_core::Error> {
        let mut builder = EntraAuth::builder(credential_from_env()?).host(&self.host);
        if let Some(user) = &self.user {
            builder = builder.user(user.clone());
        }
        builder.build()
    }

    /// tokio-postgres settings: host, port and database. User and password come
    /// from Entra; TLS from `PGSSLROOTCERT` and the public roots.
    #[must_use]
    pub fn tokio_config(&self) -> entra_pg_tokio::tokio_postgres::Config {
        let mut config = entra_pg_tokio::tokio_postgres::Config::new();
        config
            .host(&self.host)
            .port(self.port)
            .dbname(&self.database)
            .application_name("entra-pg-example");
        config
    }
}

/// Ends an example: prints `connected as <user>` (or the error) and picks the exit code.
pub fn finish<E: Display>(result: Result<String, E>) -> ExitCode {
    report(result.map(|user| format!("connected as {user}")))
}

/// Prints the success line or the error, and picks the exit code.
pub fn report<E: Display>(result: Result<String, E>) -> ExitCode {
    match result {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

impl Settings {
    /// libpq settings (`key=value`) for diesel's `PgConnection`: host, port and
    /// database. User and password come from Entra; TLS is `verify-full` against
    /// `PGSSLROOTCERT` or the system's root bundle.
    #[must_use]
    pub fn libpq_settings(&self) -> String {
        let quote = |value: &str| format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"));
        format!(
            "host={} port={} dbname={} application_name=entra-pg-example",
            quote(&self.host),
            self.port,
            quote(&self.database)
        )
    }
}
