//! Settings shared by every example, read from the same environment variables as
//! the reference library's samples:
//!
//! | variable | meaning |
//! |---|---|
//! | `POSTGRES_SERVER` | server host name, e.g. `myserver.postgres.database.azure.com` (required) |
//! | `POSTGRES_DATABASE` | database name (default `postgres`) |
//! | `POSTGRES_PORT` | port (default 5432) |
//! | `POSTGRES_USER` | PostgreSQL user, put in the connection settings; when unset it is derived from the token |
//! | `PGSSLROOTCERT` | an extra trusted root CA, PEM file (`system`: the default roots only) |
//! | `ENTRA_PG_ALLOW_HOSTS` | comma-separated hosts passed to `EntraAuthBuilder::allow_host` (the examples' convention; the library reads no such variable) |
//! | `RUST_LOG` | what to log (default `warn`: the cache's warnings show) |
//!
//! The credential comes from [`entra_pg_core::credential_from_env`].
#![allow(clippy::print_stdout, reason = "examples report to the terminal")]

pub mod demo;

use std::{error::Error as StdError, fmt::Write as _, path::PathBuf, process::ExitCode};

use entra_pg_core::{
    EntraAuth,
    connector::{ConnectorBuilder, Flavor},
    credential_from_env,
};

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
    /// Hosts allowed besides the cloud's server domain.
    pub allow_hosts: Vec<String>,
}

impl Settings {
    /// Reads the settings from the environment, and installs a `tracing`
    /// subscriber that honours `RUST_LOG`.
    ///
    /// # Errors
    /// A message naming the variable that is missing or malformed.
    pub fn from_env() -> Result<Self, String> {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .try_init();
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
            root_cert: var("PGSSLROOTCERT")
                .filter(|value| value != "system")
                .map(PathBuf::from),
            allow_hosts: var("ENTRA_PG_ALLOW_HOSTS")
                .map(|hosts| {
                    hosts
                        .split(',')
                        .map(str::trim)
                        .filter(|host| !host.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
        })
    }

    /// The Entra login for these settings: credential from the environment, cloud
    /// from the host name, `ENTRA_PG_ALLOW_HOSTS` allowed.
    ///
    /// # Errors
    /// When the credential cannot be set up from the environment.
    pub fn entra_auth(&self) -> Result<EntraAuth, entra_pg_core::Error> {
        let mut builder = EntraAuth::builder(credential_from_env()?).host(&self.host);
        for host in &self.allow_hosts {
            builder = builder.allow_host(host.clone());
        }
        builder.build()
    }

    /// Adds the `PGSSLROOTCERT` root to any connector builder.
    pub fn roots<F: Flavor, T>(&self, builder: ConnectorBuilder<F, T>) -> ConnectorBuilder<F, T> {
        match &self.root_cert {
            Some(path) => builder.root_cert_file(path),
            None => builder,
        }
    }

    /// libpq `key=value` settings (tokio-postgres reads them too): host, port,
    /// database, the user if given. The password comes from Entra; TLS is verified.
    #[must_use]
    pub fn key_value(&self) -> String {
        let quote = |value: &str| format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"));
        let mut settings = format!(
            "host={} port={} dbname={} application_name=entra-pg-example",
            quote(&self.host),
            self.port,
            quote(&self.database)
        );
        if let Some(user) = &self.user {
            let _ = write!(settings, " user={}", quote(user));
        }
        settings
    }

    /// A `postgres://` URL (sqlx): host, port, database, the user if given.
    #[must_use]
    pub fn url(&self) -> String {
        let encode = |value: &str| {
            value
                .bytes()
                .map(|byte| {
                    if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
                        char::from(byte).to_string()
                    } else {
                        format!("%{byte:02X}")
                    }
                })
                .collect::<String>()
        };
        let user = self
            .user
            .as_deref()
            .map(|user| format!("{}@", encode(user)))
            .unwrap_or_default();
        format!(
            "postgres://{user}{}:{}/{}?application_name=entra-pg-example",
            self.host,
            self.port,
            encode(&self.database)
        )
    }
}

/// Ends an example: prints `connected as <user>` (or the error) and picks the exit code.
pub fn finish<E: StdError + 'static>(result: Result<String, E>) -> ExitCode {
    report(result.map(|user| format!("connected as {user}")))
}

/// Prints the success line or the error with every cause, and picks the exit code.
pub fn report<E: StdError + 'static>(result: Result<String, E>) -> ExitCode {
    match result {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            let mut text = entra_pg_core::error_chain(&err);
            if text.contains("cannot tell the PostgreSQL user") {
                text.push_str(" (in the examples: set POSTGRES_USER)");
            }
            eprintln!("error: {text}");
            ExitCode::FAILURE
        }
    }
}

/// An error with a message only, for the examples' own checks.
#[derive(Debug)]
pub struct Message(pub String);

impl std::fmt::Display for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for Message {}

impl From<String> for Message {
    fn from(text: String) -> Self {
        Self(text)
    }
}

/// Any error, boxed, as the examples' `run` functions return it.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// [`finish`] for a boxed error.
pub fn finish_boxed(result: Result<String, BoxError>) -> ExitCode {
    finish(result.map_err(Boxed))
}

/// A boxed error as an `Error` (the box itself is not one).
#[derive(Debug)]
struct Boxed(BoxError);

impl std::fmt::Display for Boxed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl StdError for Boxed {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.0.source()
    }
}
