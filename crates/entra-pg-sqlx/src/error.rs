//! The crate's error type, and the reading of sqlx errors into it.

use std::{error::Error as StdError, fmt};

use entra_pg_core::advice;

/// Why an Entra connection or pool could not be had.
///
/// No message, `Debug` output or `source()` of this type contains the token: sqlx
/// never puts the password in its errors, and the core errors are token-free by
/// construction.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The login could not be prepared: the token or user could not be had, or the
    /// settings would send the token without a verified certificate
    /// ([`InsecureTransport`](entra_pg_core::Error::InsecureTransport)).
    Entra(entra_pg_core::Error),
    /// The server's TLS certificate could not be verified. Nothing was sent.
    Certificate {
        /// The host name that was checked.
        host: String,
        /// What is wrong with the certificate, and what to do.
        problem: String,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// The server refused the login (SQLSTATE class 28).
    Rejected {
        /// The PostgreSQL user that was tried.
        user: String,
        /// The driver's error, with the server's message.
        source: sqlx::Error,
    },
    /// Any other failure of sqlx: network, protocol, server, pool.
    Sqlx(sqlx::Error),
}

impl Error {
    /// A short, stable name of the variant, for logs and metrics labels.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Entra(err) => err.kind(),
            Self::Certificate { .. } => "certificate",
            Self::Rejected { .. } => "rejected",
            Self::Sqlx(_) => "sqlx",
        }
    }

    /// Reads a sqlx error from a connection attempt as `user` to `host`.
    #[must_use]
    pub fn from_connect(err: sqlx::Error, host: &str, user: &str) -> Self {
        if let sqlx::Error::Database(db) = &err {
            if db.code().is_some_and(|code| code.starts_with("28")) {
                return Self::Rejected {
                    user: user.to_owned(),
                    source: err,
                };
            }
            return Self::Sqlx(err);
        }
        if let sqlx::Error::Tls(inner) = &err
            && inner.to_string() == "server does not support TLS"
        {
            return Self::Entra(advice::server_without_tls(host));
        }
        if let Some(problem) = certificate_problem(&err, host) {
            return Self::Certificate {
                host: host.to_owned(),
                problem,
                source: err,
            };
        }
        Self::Sqlx(err)
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
                let message = match source {
                    sqlx::Error::Database(db) => db.message().to_owned(),
                    other => other.to_string(),
                };
                f.write_str(&advice::rejected_login(user, &message))
            }
            Self::Sqlx(err) => write!(f, "PostgreSQL (sqlx) failed: {err}"),
        }
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Self::Entra(err) => Some(err),
            Self::Certificate { source, .. } | Self::Rejected { source, .. } => Some(source),
            Self::Sqlx(err) => Some(err),
        }
    }
}

/// What is wrong with the server certificate, when the handshake failed on it.
fn certificate_problem(err: &sqlx::Error, host: &str) -> Option<String> {
    let source: &(dyn StdError + 'static) = match err {
        sqlx::Error::Tls(inner) => &**inner,
        sqlx::Error::Io(inner) => inner,
        _ => return None,
    };
    match advice::find_rustls_error(source) {
        Some(rustls::Error::InvalidCertificate(cert)) => {
            Some(advice::certificate_problem(cert, host))
        }
        Some(_) => None,
        // sqlx reports an unreadable root file as a TLS error of its own.
        None if matches!(err, sqlx::Error::Tls(_)) => Some(format!(
            "{err}; check that PGSSLROOTCERT (or the PEM given to the builder) holds PEM \
             certificates"
        )),
        None => None,
    }
}
