//! What a failed connection means and what to do about it, shared by the driver
//! crates so every driver says the same: certificate errors for Azure servers, a
//! server without TLS, a refused login.

use std::{error::Error as StdError, io};

use rustls::CertificateError;

use crate::Error;

/// The rustls error somewhere in `err`'s source chain, if any.
///
/// Looks inside [`io::Error`]s explicitly: their `source()` skips the error they
/// wrap, and drivers report a failed handshake as an I/O error.
#[must_use]
pub fn find_rustls_error<'a>(err: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    let mut next = Some(err);
    while let Some(current) = next {
        if let Some(found) = current.downcast_ref::<rustls::Error>() {
            return Some(found);
        }
        if let Some(found) = current
            .downcast_ref::<io::Error>()
            .and_then(io::Error::get_ref)
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return Some(found);
        }
        next = current.source();
    }
    None
}

/// What is wrong with the server's certificate for `host`, and what to do.
#[must_use]
pub fn certificate_problem(err: &CertificateError, host: &str) -> String {
    match err {
        CertificateError::UnknownIssuer | CertificateError::BadSignature => format!(
            "it is signed by a certificate authority this client does not trust ({err:?}). \
             Trust the root CA that signed it: set PGSSLROOTCERT to its PEM file (or pass \
             the PEM to the connector's builder). Azure public and US Government servers \
             chain to DigiCert Global Root G2 or Microsoft RSA Root CA 2017, which the Mozilla \
             root set (`webpki-roots`) includes; Azure China regions and some replicas use \
             DigiCert Global Root CA, which must be added from PEM"
        ),
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            format!(
                "it is not valid for the host name {host:?}. Connect with the server's own \
                 name (for Azure, <server>.postgres.database.azure.com), not an IP address \
                 or an alias"
            )
        }
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            "it has expired; renew the server certificate, or check this machine's clock".to_owned()
        }
        other => format!("{other:?}; check the server certificate and PGSSLROOTCERT"),
    }
}

/// The error for a server that answered the TLS request with "no": nothing was
/// sent, and the user should turn TLS on or check the address.
#[must_use]
pub fn server_without_tls(host: &str) -> Error {
    Error::InsecureTransport {
        reason: format!(
            "the server at {host} does not offer TLS (it answered the TLS request with 'no'), \
             so the token was not sent; turn on TLS on the server (Azure Database for \
             PostgreSQL always has it) or check that the host and port are the right server"
        ),
    }
}

/// The message for a login the server refused (SQLSTATE class 28): what was
/// tried, the server's words, and the usual causes.
#[must_use]
pub fn rejected_login(user: &str, server_message: &str) -> String {
    format!(
        "the server rejected the Entra login of {user:?} ({server_message}); check that the \
         role was created for this principal with pgaadauth_create_principal, that the user \
         name matches it exactly, and that the token's audience is the server's cloud"
    )
}

/// The message for a server certificate that is not trusted.
#[must_use]
pub fn untrusted_certificate(host: &str, problem: &str) -> String {
    format!("TLS: the certificate of {host} is not trusted: {problem}")
}
