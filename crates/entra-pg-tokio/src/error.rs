//! The crate's error type, and the reading of `tokio_postgres` errors into it.

use std::error::Error as StdError;

use entra_pg_core::{ConnectError, Facts, Target};

/// Why an Entra connection could not be made: [`entra_pg_core::ConnectError`]
/// with the driver's `tokio_postgres::Error`. The same type in `entra-pg-sync`
/// (`postgres::Error` is `tokio_postgres::Error`).
///
/// No message, `Debug` output or source contains the token: tokio-postgres never
/// puts the password in its errors, and the core errors are token-free.
pub type Error = ConnectError<tokio_postgres::Error>;

/// Reads a driver error from a connection attempt to `target` as `user`.
pub fn classify(err: tokio_postgres::Error, target: &Target, user: &str) -> Error {
    let db = err.as_db_error();
    let facts = Facts::new()
        .sqlstate(db.map(|db| db.code().code()))
        .server_message(db.map(|db| db.message()))
        .server_without_tls(is_server_without_tls(&err))
        .rustls_error_in(&err, target.describe());
    ConnectError::classify(err, facts, target, user)
}

/// tokio-postgres reports "server does not support TLS" as a TLS error with a string
/// source; there is no typed variant to match.
fn is_server_without_tls(err: &tokio_postgres::Error) -> bool {
    err.source()
        .is_some_and(|source| source.to_string() == "server does not support TLS")
}
