//! The crate's error type, and the reading of sqlx errors into it.

use entra_pg_core::{ConnectError, Facts, Target};

/// Why an Entra connection or pool could not be had: [`entra_pg_core::ConnectError`]
/// with the driver's `sqlx::Error`.
///
/// No message, `Debug` output or source contains the token: sqlx never puts the
/// password in its errors, and the core errors are token-free.
pub type Error = ConnectError<sqlx::Error>;

/// Reads a sqlx error from a connection attempt to `target` as `user`.
pub(crate) fn classify(err: sqlx::Error, target: &Target, user: &str) -> Error {
    let mut facts = Facts::new();
    match &err {
        sqlx::Error::Database(db) => {
            facts = facts
                .sqlstate(db.code().as_deref())
                .server_message(Some(db.message()));
        }
        sqlx::Error::Tls(inner) => {
            facts = facts
                .server_without_tls(inner.to_string() == "server does not support TLS")
                .rustls_error_in(&**inner, target.describe());
        }
        sqlx::Error::Io(inner) => facts = facts.rustls_error_in(inner, target.describe()),
        _ => {}
    }
    ConnectError::classify(err, facts, target, user)
}
