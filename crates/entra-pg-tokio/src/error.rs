//! The crate's error type, and the reading of `tokio_postgres` errors into it.

use std::{error::Error as StdError, fmt};

use entra_pg_core::advice;

/// Why an Entra connection could not be made.
///
/// No message, `Debug` output or `source()` of this type contains the token:
/// tokio-postgres never puts the password in its errors, and the core errors are
/// token-free by construction.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The login could not be prepared: the token or user could not be had, or the
    /// settings would send the token without verified TLS
    /// ([`InsecureTransport`](entra_pg_core::Error::InsecureTransport)).
    Entra(entra_pg_core::Error),
    /// The server's TLS certificate could not be verified. Nothing was sent.
    Certificate {
        /// The host name that was checked.
        host: String,
        /// What is wrong with the certificate, and what to do.
        problem: String,
        /// The driver's error.
        source: tokio_postgres::Error,
    },
    /// The server refused the login (SQLSTATE class 28).
    Rejected {
        /// The PostgreSQL user that was tried.
        user: String,
        /// The driver's error, with the server's message.
        source: tokio_postgres::Error,
    },
    /// Any other failure of the driver: network, protocol, server.
    Postgres(tokio_postgres::Error),
}

impl Error {
    /// A short, stable name of the variant, for logs and metrics labels.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Entra(err) => err.kind(),
            Self::Certificate { .. } => "certificate",
            Self::Rejected { .. } => "rejected",
            Self::Postgres(_) => "postgres",
        }
    }

    /// Reads a driver error from a connection attempt as `user` to `host`.
    pub fn from_connect(err: tokio_postgres::Error, host: &str, user: &str) -> Self {
        if let Some(db) = err.as_db_error() {
            if db.code().code().starts_with("28") {
                return Self::Rejected {
                    user: user.to_owned(),
                    source: err,
                };
            }
            return Self::Postgres(err);
        }
        if is_server_without_tls(&err) {
            return Self::Entra(advice::server_without_tls(host));
        }
        if let Some(problem) = certificate_problem(&err, host) {
            return Self::Certificate {
                host: host.to_owned(),
                problem,
                source: err,
            };
        }
        Self::Postgres(err)
    }
}

impl From<entra_pg_core::Error> for Error {
    fn from(err: entra_pg_core::Error) -> Self {
        Self::Entra(err)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Entra(err) => err.fmt(f),
            Self::Certificate { host, problem, .. } => {
                f.write_str(&advice::untrusted_certificate(host, problem))
            }
            Self::Rejected { user, source } => {
                let message = source
                    .as_db_error()
                    .map_or_else(|| source.to_string(), |db| db.message().to_owned());
                f.write_str(&advice::rejected_login(user, &message))
            }
            Self::Postgres(err) => write!(f, "PostgreSQL connection failed: {err}"),
        }
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Self::Entra(err) => Some(err),
            Self::Certificate { source, .. } | Self::Rejected { source, .. } => Some(source),
            Self::Postgres(err) => Some(err),
        }
    }
}

/// tokio-postgres reports "server does not support TLS" as a TLS error with a string
/// source; there is no typed variant to match.
fn is_server_without_tls(err: &tokio_postgres::Error) -> bool {
    err.source()
        .is_some_and(|source| source.to_string() == "server does not support TLS")
}

/// The rustls error behind a failed handshake, as advice for the user.
fn certificate_problem(err: &tokio_postgres::Error, host: &str) -> Option<String> {
    match advice::find_rustls_error(err)? {
        rustls::Error::InvalidCertificate(cert) => Some(advice::certificate_problem(cert, host)),
        _ => None,
    }
}
