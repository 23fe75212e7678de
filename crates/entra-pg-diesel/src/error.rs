//! The crate's error type: [`entra_pg_core::ConnectError`] with diesel's and the
//! drivers' errors, and the reading of libpq's messages into it.

use std::{error::Error as StdError, fmt};

use diesel::result::ConnectionError;
use entra_pg_core::ConnectError;

/// Why an Entra connection could not be made (or checked), in both the libpq and
/// the diesel-async paths: [`entra_pg_core::ConnectError`] with a [`DriverError`].
///
/// No message, `Debug` output or source contains the token: the core errors are
/// token-free, and every message from libpq is scrubbed of the token before it is
/// kept. [`into_connection_error`] turns it into diesel's `ConnectionError` for
/// code that expects diesel's type (diesel-async pools report it that way).
pub type Error = ConnectError<DriverError>;

/// The driver's own error inside an [`Error`].
#[derive(Debug)]
#[non_exhaustive]
pub enum DriverError {
    /// libpq's failure to connect, its messages scrubbed of the token.
    #[cfg(feature = "libpq")]
    #[cfg_attr(docsrs, doc(cfg(feature = "libpq")))]
    Libpq(ConnectionError),
    /// tokio-postgres' failure to connect (diesel-async).
    #[cfg(any(feature = "async-bb8", feature = "async-deadpool"))]
    #[cfg_attr(
        docsrs,
        doc(cfg(any(feature = "async-bb8", feature = "async-deadpool")))
    )]
    TokioPostgres(entra_pg_tokio::tokio_postgres::Error),
    /// diesel-async could not set the connection up.
    Setup(ConnectionError),
    /// A query on an open connection failed (a pool's validity check).
    Query(diesel::result::Error),
}

impl fmt::Display for DriverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            #[cfg(feature = "libpq")]
            Self::Libpq(err) => write!(f, "libpq: {err}"),
            #[cfg(any(feature = "async-bb8", feature = "async-deadpool"))]
            Self::TokioPostgres(err) => write!(f, "tokio-postgres: {err}"),
            Self::Setup(err) => write!(f, "diesel-async connection set-up: {err}"),
            Self::Query(err) => write!(f, "query: {err}"),
        }
    }
}

impl StdError for DriverError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            #[cfg(feature = "libpq")]
            Self::Libpq(err) => err.source(),
            #[cfg(any(feature = "async-bb8", feature = "async-deadpool"))]
            Self::TokioPostgres(err) => err.source(),
            Self::Setup(err) => err.source(),
            Self::Query(err) => err.source(),
        }
    }
}

/// diesel's `ConnectionError` for `err`: a setup error as it was, anything else
/// as `BadConnection` with the whole message chain (token-free).
#[must_use]
pub fn into_connection_error(err: Error) -> ConnectionError {
    match err {
        ConnectError::Driver {
            source: DriverError::Setup(err),
            ..
        } => err,
        other => ConnectionError::BadConnection(entra_pg_core::error_chain(&other)),
    }
}

/// Reads a failed `PgConnection::establish` (libpq) to `target` as `user`,
/// removing `secrets` (the token, raw and percent-encoded) from its messages.
#[cfg(feature = "libpq")]
pub(crate) fn classify_libpq(
    err: ConnectionError,
    target: &entra_pg_core::Target,
    user: &str,
    secrets: &[String],
) -> Error {
    use entra_pg_core::Facts;
    let err = scrub(err, secrets);
    let message = match &err {
        ConnectionError::BadConnection(message) => message.trim().to_owned(),
        _ => String::new(),
    };
    let mut facts = Facts::new()
        .server_without_tls(message.contains("server does not support SSL"))
        .server_message(Some(&message));
    if [
        "certificate verify failed",
        "does not match host name",
        "root certificate file",
        "certificate is not yet valid",
        "certificate has expired",
    ]
    .iter()
    .any(|text| message.contains(text))
    {
        facts = facts.certificate_message(&message, target.describe());
    }
    if message.contains("authentication failed") {
        // libpq's text carries no SQLSTATE; this is class 28.
        facts = facts.sqlstate(Some("28000"));
    }
    ConnectError::classify(DriverError::Libpq(err), facts, target, user)
}

/// Removes every secret from the messages of a libpq error. `InvalidCString`
/// carries the whole URL (token included), so it is replaced by a message.
#[cfg(feature = "libpq")]
fn scrub(err: ConnectionError, secrets: &[String]) -> ConnectionError {
    let clean = |mut message: String| {
        for secret in secrets.iter().filter(|secret| !secret.is_empty()) {
            message = message.replace(secret.as_str(), "<redacted>");
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
