//! The crate's error type, the reading of libpq and tokio-postgres failures into
//! it, and its conversion into diesel's `ConnectionError`.

use std::{error::Error as StdError, fmt};

use diesel::result::ConnectionError;
use entra_pg_core::advice;

/// Why an Entra connection could not be made (or checked).
///
/// No message, `Debug` output or `source()` of this type contains the token: the
/// core errors are token-free by construction, and every message that comes from
/// libpq or the server is scrubbed of the token before it is kept.
///
/// Converts into diesel's [`ConnectionError`] (as `BadConnection` with this
/// message) for code that expects diesel's type; `diesel-async` pools report it
/// that way.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The login could not be prepared: the token or user could not be had, or the
    /// settings would send the token without verified TLS
    /// ([`InsecureTransport`](entra_pg_core::Error::InsecureTransport), also when
    /// the server does not offer TLS).
    Entra(entra_pg_core::Error),
    /// The server's TLS certificate could not be verified. Nothing was sent.
    Certificate {
        /// The host(s) that were checked.
        host: String,
        /// What is wrong with the certificate, and what to do.
        problem: String,
    },
    /// The server refused the login.
    Rejected {
        /// The PostgreSQL user that was tried.
        user: String,
        /// The server's message.
        message: String,
    },
    /// Any other failure to connect (network, protocol, server, session set-up).
    Connection(ConnectionError),
    /// A query on an open connection failed (the pools' validity check).
    Query(diesel::result::Error),
}

impl Error {
    /// A short, stable name of the variant, for logs and metrics labels.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Entra(err) => err.kind(),
            Self::Certificate { .. } => "certificate",
            Self::Rejected { .. } => "rejected",
            Self::Connection(_) => "connection",
            Self::Query(_) => "query",
        }
    }

    /// Reads a failed `PgConnection::establish` (libpq) as `user` to `host`,
    /// removing `secrets` (the token, raw and percent-encoded) from its messages.
    #[cfg(feature = "r2d2")]
    pub(crate) fn from_libpq(
        err: ConnectionError,
        host: &str,
        user: &str,
        secrets: &[&str],
    ) -> Self {
        let err = scrub(err, secrets);
        let ConnectionError::BadConnection(message) = &err else {
            return Self::Connection(err);
        };
        let message = message.trim().to_owned();
        if message.contains("server does not support SSL") {
            return Self::Entra(advice::server_without_tls(host));
        }
        if message.contains("certificate verify failed")
            || message.contains("does not match host name")
            || message.contains("root certificate file")
            || message.contains("certificate is not yet valid")
            || message.contains("certificate has expired")
        {
            let advice = if message.contains("does not match host name") {
                "connect with the server's own name (for Azure, \
                 <server>.postgres.database.azure.com), not an IP address or an alias"
            } else {
                "trust the root CA that signed it: set PGSSLROOTCERT (or sslrootcert in the \
                 settings, or PgConnectorBuilder::root_cert) to its PEM file. Azure servers \
                 chain to DigiCert Global Root G2 or Microsoft RSA Root CA 2017 (China regions \
                 and some replicas: DigiCert Global Root CA), which the system bundle holds"
            };
            return Self::Certificate {
                host: host.to_owned(),
                problem: format!("{message}; {advice}"),
            };
        }
        if message.contains("authentication failed") || message.contains("pg_hba.conf") {
            return Self::Rejected {
                user: user.to_owned(),
                message,
            };
        }
        Self::Connection(err)
    }

    /// Reads a failed connect of `entra-pg-tokio` (diesel-async).
    #[cfg(any(feature = "async-bb8", feature = "async-deadpool"))]
    pub(crate) fn from_tokio(err: entra_pg_tokio::Error) -> Self {
        match err {
            entra_pg_tokio::Error::Entra(err) => Self::Entra(err),
            entra_pg_tokio::Error::Certificate { host, problem, .. } => {
                Self::Certificate { host, problem }
            }
            entra_pg_tokio::Error::Rejected { user, source } => Self::Rejected {
                user,
                message: source
                    .as_db_error()
                    .map_or_else(|| source.to_string(), |db| db.message().to_owned()),
            },
            other => Self::Connection(ConnectionError::BadConnection(other.to_string())),
        }
    }
}

impl From<entra_pg_core::Error> for Error {
    fn from(err: entra_pg_core::Error) -> Self {
        Self::Entra(err)
    }
}

impl From<Error> for ConnectionError {
    fn from(err: Error) -> Self {
        match err {
            Error::Connection(err) => err,
            Error::Query(err) => Self::CouldntSetupConfiguration(err),
            other => Self::BadConnection(other.to_string()),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Entra(err) => err.fmt(f),
            Self::Certificate { host, problem } => {
                f.write_str(&advice::untrusted_certificate(host, problem))
            }
            Self::Rejected { user, message } => f.write_str(&advice::rejected_login(user, message)),
            Self::Connection(err) => write!(f, "PostgreSQL connection failed: {err}"),
            Self::Query(err) => write!(f, "PostgreSQL query failed: {err}"),
        }
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Self::Entra(err) => Some(err),
            Self::Connection(err) => Some(err),
            Self::Query(err) => Some(err),
            Self::Certificate { .. } | Self::Rejected { .. } => None,
        }
    }
}

/// Removes every secret from the messages of a libpq error. `InvalidCString`
/// carries the whole URL (token included), so it is replaced by a message.
#[cfg(feature = "r2d2")]
fn scrub(err: ConnectionError, secrets: &[&str]) -> ConnectionError {
    let clean = |mut message: String| {
        for secret in secrets.iter().filter(|secret| !secret.is_empty()) {
            message = message.replace(secret, "<redacted>");
        }
        message
    };
    match err {
        ConnectionError::BadConnection(message) => ConnectionError::BadConnection(clean(message)),
        ConnectionError::InvalidConnectionUrl(message) => {
            ConnectionError::InvalidConnectionUrl(clean(message))
        }
        ConnectionError::InvalidCString(_) => ConnectionError::InvalidConnectionUrl(
            "the connection settings contain a NUL byte".to_owned(),
        ),
        other => other,
    }
}
