//! What each failed step most likely means, in order, and the fix.

use std::net::SocketAddr;

use entra_pg_core::{
    Cloud, ConnectError, Error, Login,
    claims::{PrincipalKind, TokenInfo},
};

use super::{net::TcpFailure, tls};

type Failed = (String, Vec<String>);

pub(super) fn host_policy(host: &str) -> Vec<String> {
    vec![
        format!(
            "a token is valid on every Azure Database for PostgreSQL server where the principal \
             has a role, so entra-pg sends it only to the cloud's server names; if {host} is your \
             server (a custom DNS name, a private endpoint in your own zone), allow it: \
             --allow-host {host} (or ENTRA_PG_ALLOW_HOSTS), and in code \
             EntraAuthBuilder::allow_host"
        ),
        "or connect with the server's own name, <server>.postgres.database.azure.com".to_owned(),
    ]
}

pub(super) fn dns(host: &str) -> Vec<String> {
    vec![
        format!("check the spelling of {host}: the server's name is shown in the Azure portal"),
        "a server with private access resolves only inside its virtual network (or through the \
         private DNS zone privatelink.postgres.database.azure.com linked to yours)"
            .to_owned(),
    ]
}

pub(super) fn tcp(failure: &TcpFailure, address: SocketAddr, port: u16) -> Failed {
    let (detail, mut hints) = match failure {
        TcpFailure::Timeout => (
            format!("no answer from {address} within 5 s"),
            vec![
                "a firewall drops the connection: add this machine's public IP to the server's \
                 firewall rules (Networking in the Azure portal), or allow outbound TCP to the \
                 port"
                    .to_owned(),
                "a server with private access (VNet integration, a private endpoint) is only \
                 reachable from its virtual network"
                    .to_owned(),
            ],
        ),
        TcpFailure::Refused => (
            format!("{address} refused the connection"),
            vec![format!(
                "nothing listens on port {port} there: Azure Database for PostgreSQL listens on \
                 5432 (6432 for its built-in PgBouncer when enabled); check the port and that the \
                 server is running"
            )],
        ),
        TcpFailure::Other(err) => (format!("cannot connect to {address}: {err}"), Vec::new()),
    };
    if port == 6432 {
        hints.push("port 6432 is PgBouncer's: is it enabled on the server?".to_owned());
    }
    (detail, hints)
}

pub(super) fn tls_report(report: &tls::Report) -> String {
    format!(
        "{}; certificate for {} issued by {} ({}), expires {}",
        report.protocol,
        report.names.join(", "),
        report.issuer,
        report.trusted_by.as_deref().map_or_else(
            || "trusted".to_owned(),
            |root| format!("trusted root {root}")
        ),
        report.expires
    )
}

pub(super) fn tls_failure(failure: &tls::Failure, host: &str) -> Failed {
    match failure {
        tls::Failure::NoTls => (
            "the server answered the TLS request with \"no\": it does not offer TLS, so no token \
             would be sent"
                .to_owned(),
            vec![
                "Azure Database for PostgreSQL always offers TLS: check that host and port are the \
                 right server (not a local PostgreSQL, not a proxy that strips TLS)"
                    .to_owned(),
            ],
        ),
        tls::Failure::Io(err) => (format!("TLS: {err}"), Vec::new()),
        tls::Failure::Handshake(err, report) => {
            let presented = if report.chain.is_empty() {
                String::new()
            } else {
                format!(
                    "; presented {} (issuer {})",
                    report.chain.join(" ← "),
                    report.issuer
                )
            };
            let detail = format!("the certificate is not accepted: {err}{presented}");
            let hints = if err.contains("UnknownIssuer") || err.contains("unknown issuer") {
                vec![
                    "add the root CA that signed it: PGSSLROOTCERT=<its PEM file> (in code: the \
                     connector builder's root_cert_file)"
                        .to_owned(),
                    "Azure public and US Government servers chain to DigiCert Global Root G2 or \
                     Microsoft RSA Root CA 2017, both trusted by default; Azure China regions and \
                     some replicas use DigiCert Global Root CA, which must be added"
                        .to_owned(),
                ]
            } else if err.contains("NotValidForName") || err.contains("not valid for name") {
                vec![
                    format!(
                        "the certificate is not for {host} ({}): connect with a name it covers, \
                         <server>.postgres.database.azure.com, not an IP address or an alias",
                        report.names.join(", ")
                    ),
                    "something between you and the server may present its own certificate (a \
                     TLS-intercepting proxy)"
                        .to_owned(),
                ]
            } else if err.contains("Expired") || err.contains("expired") {
                vec!["the certificate has expired, or this machine's clock is wrong".to_owned()]
            } else {
                Vec::new()
            };
            (detail, hints)
        }
    }
}

pub(super) fn credential() -> Vec<String> {
    vec![
        "see the README's \"Choosing a credential\": AZURE_TOKEN_CREDENTIALS (or --credential) \
         names one; managed identity needs IDENTITY_ENDPOINT or IMDS, a service principal \
         AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET, developers `az login`"
            .to_owned(),
    ]
}

pub(super) fn token(err: &Error) -> Vec<String> {
    let mut hints = Vec::new();
    match err {
        Error::Credential {
            status: Some(401 | 403),
            ..
        } => hints.push(
            "the identity endpoint refused: check the client id and secret (or the managed \
             identity's assignment to this resource)"
                .to_owned(),
        ),
        Error::Credential {
            status: Some(429), ..
        } => hints.push(
            "throttled: too many token requests from this machine; entra-pg caches tokens, so \
             look for other callers"
                .to_owned(),
        ),
        Error::Credential { status: None, .. } => hints.push(
            "the identity endpoint could not be reached: for a developer, run `az login`; for \
             managed identity, run this on the Azure resource itself"
                .to_owned(),
        ),
        Error::Timeout { .. } => {
            hints.push(
                "the identity endpoint did not answer: check network access to it".to_owned(),
            );
        }
        Error::TokenExpiredOnArrival { .. } => {
            hints.push(
                "check this machine's clock (clock skew makes tokens look expired)".to_owned(),
            );
        }
        Error::UserNotDerivable { .. } => hints.push(
            "give the user: --user <role> (or POSTGRES_USER); an application's role is its \
             display name"
                .to_owned(),
        ),
        _ => {}
    }
    hints
}

pub(super) fn audience(cloud: Cloud) -> Vec<String> {
    vec![format!(
        "the token is not for the server's cloud ({cloud}, {}): the credential must sign in to \
         the same cloud (AZURE_AUTHORITY_HOST for service principals), and the host decides the \
         scope",
        cloud.database_scope()
    )]
}

fn create_role_sql(user: &str, info: Option<&TokenInfo>) -> String {
    let quoted = user.replace('\'', "''");
    match info.map(|info| info.kind) {
        Some(PrincipalKind::Application) => format!(
            "SELECT * FROM pgaadauth_create_principal_with_oid('{quoted}', '{}', 'service', false, false);",
            info.and_then(|info| info.object_id.as_deref())
                .unwrap_or("<object id>")
        ),
        _ => format!("SELECT * FROM pgaadauth_create_principal('{quoted}', false, false);"),
    }
}

pub(super) fn login<E: std::error::Error + 'static>(
    err: &ConnectError<E>,
    user: &str,
    info: Option<&TokenInfo>,
    port: u16,
    token: &Login,
) -> Failed {
    let detail = entra_pg_core::error_chain(err);
    let mut hints = Vec::new();
    if let ConnectError::Rejected { .. } = err {
        hints.push(format!(
            "the role may be missing or named differently: as an Entra administrator of the \
             server, in the postgres database, run: {}",
            create_role_sql(user, info)
        ));
        hints.push(format!(
            "the user name must match the role exactly (here {user:?}); give another with --user"
        ));
        if detail.to_ascii_lowercase().contains("audience") {
            hints.push(
                "the token is for another cloud: check the host name and the credential's cloud"
                    .to_owned(),
            );
        }
        if port == 6432 {
            hints.push(
                "port 6432 is PgBouncer: a self-hosted PgBouncer cuts passwords longer than 2048 \
                 bytes (tokens are longer); try port 5432"
                    .to_owned(),
            );
        }
        let now = time::OffsetDateTime::now_utc();
        if detail.contains("expired") || token.expires_on() < now {
            hints.push("the token looks expired: check this machine's clock".to_owned());
        }
    }
    (detail, hints)
}
