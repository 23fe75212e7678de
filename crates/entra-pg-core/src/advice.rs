//! What a failed connection means and what to do about it: one set of messages
//! for every driver.

/// What is wrong with the server's certificate for `host`, and what to do, from a
/// rustls certificate error.
#[cfg(feature = "rustls")]
pub(crate) fn certificate_problem(err: &rustls::CertificateError, host: &str) -> String {
    use rustls::CertificateError;
    match err {
        CertificateError::UnknownIssuer | CertificateError::BadSignature => {
            format!("{} ({err:?})", untrusted_issuer())
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            wrong_name(host)
        }
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => expired().to_owned(),
        other => format!("{other:?}; check the server certificate and the trusted roots"),
    }
}

/// The rustls error somewhere in `err`'s source chain, if any.
///
/// Looks inside [`std::io::Error`]s explicitly: their `source()` skips the error
/// they wrap, and drivers report a failed handshake as an I/O error.
#[cfg(feature = "rustls")]
pub(crate) fn find_rustls_error<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a rustls::Error> {
    let mut next = Some(err);
    while let Some(current) = next {
        if let Some(found) = current.downcast_ref::<rustls::Error>() {
            return Some(found);
        }
        if let Some(found) = current
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return Some(found);
        }
        next = current.source();
    }
    None
}

/// A certificate signed by an authority the client does not trust.
pub(crate) fn untrusted_issuer() -> &'static str {
    "it is signed by a certificate authority this client does not trust; add the root CA \
     that signed it with the connector builder's root_cert_file or root_cert_pem (the \
     examples read PGSSLROOTCERT). Azure public and US Government servers chain to DigiCert \
     Global Root G2 or Microsoft RSA Root CA 2017, which the default roots include; Azure \
     China regions and some replicas use DigiCert Global Root CA, which must be added"
}

/// A certificate for another name than the one connected to.
pub(crate) fn wrong_name(host: &str) -> String {
    format!(
        "it is not valid for the host name {host}; connect with the name on the server's \
         certificate (for Azure, <server>.postgres.database.azure.com), not an IP address or \
         an alias"
    )
}

/// An expired certificate.
pub(crate) fn expired() -> &'static str {
    "it has expired, or this machine's clock is wrong; renew the server certificate or check \
     the clock"
}

/// What to check after the server rejected a login, from its message (Azure's
/// own texts first) and whether a token was sent.
pub(crate) fn rejection(server_message: &str, token: bool, target: &str) -> String {
    let message = server_message.to_ascii_lowercase();
    if !token {
        return "the settings carry their own user and password (a static login, no Entra \
                token); check them"
            .to_owned();
    }
    let advice = if message.contains("access token has expired") {
        "the token had expired when the server checked it; check this machine's clock \
         (entra-pg refreshes tokens ahead of expiry)"
    } else if message.contains("valid audience") {
        "the token is for another audience; set the server's cloud (EntraAuthBuilder::cloud or \
         ::host) or, for a private audience, EntraAuthBuilder::scope"
    } else if message.contains("service principals cannot generate") {
        "the role does not match this service principal; create the role with \
         pgaadauth_create_principal_with_oid('<name>', '<object id>', 'service', false, false) \
         and log in with exactly that name"
    } else if message.contains("could not validate aad user") {
        "the user name is not a principal of the server's tenant; log in with the principal's \
         exact name (its UPN, identity name or group name)"
    } else {
        "check that a role exists for this principal (created with pgaadauth_create_principal \
         or pgaadauth_create_principal_with_oid), that the user name matches it exactly, and \
         that the token's audience is the server's cloud"
    };
    if target.ends_with(":6432") {
        format!(
            "{advice}; port 6432 is usually PgBouncer: a self-hosted PgBouncer limits passwords \
             to 2048 bytes and cuts longer tokens (Azure's built-in PgBouncer takes them); try \
             the server's own port 5432"
        )
    } else {
        advice.to_owned()
    }
}

/// After the credential handed back the token the server had just rejected.
pub(crate) fn same_token(expires_on: time::OffsetDateTime) -> String {
    format!(
        "The credential returned the same token again: it keeps tokens in a cache of its own \
         (azure_identity's managed identity and client credentials do, until about 5 minutes \
         before expiry), so no new token can be had before then (this one expires at \
         {expires_on}); fix the cause above, or restart the process once the role or the \
         principal has changed"
    )
}
