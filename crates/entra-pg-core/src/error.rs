//! The error of getting a login: [`Error`].

use std::{fmt, sync::Arc, time::Duration};

use time::OffsetDateTime;

use crate::claims::{PrincipalKind, TokenInfo};

/// Everything that can go wrong while getting a PostgreSQL login from Microsoft
/// Entra ID, or while checking connection settings against the security contract.
///
/// Every message says what to do next. `Display` describes this error only; the
/// underlying cause, if any, is its [`source`](std::error::Error::source) (error
/// reporters such as `anyhow`'s `{:#}` print the whole chain). No message,
/// `Debug` output or source ever contains an access token. The type is `Clone`
/// because one token request can fail for many waiting callers at once.
#[derive(Clone)]
#[non_exhaustive]
pub enum Error {
    /// The credential returned a token that is not a readable JWT, so no user name
    /// can be read from it.
    TokenDecode {
        /// Which part of the token could not be read (never the token itself).
        reason: String,
    },
    /// Neither the database token nor the management token names the principal,
    /// and no user was given.
    UserNotDerivable {
        /// What the database token says about the principal (ids only).
        principal: Box<TokenInfo>,
    },
    /// The database token names no user and the credential refused the
    /// management-scope token that would have named it.
    ManagementScopeRefused {
        /// The management scope that was asked for.
        scope: String,
        /// Why the credential refused.
        source: Arc<azure_core::Error>,
    },
    /// The credential failed to produce a token.
    Credential {
        /// The scope that was asked for.
        scope: String,
        /// The HTTP status of the identity endpoint's answer, when it answered.
        status: Option<u16>,
        /// How long the endpoint asked us to wait (`Retry-After`), if it did.
        retry_after: Option<Duration>,
        /// The credential's error.
        source: Arc<azure_core::Error>,
    },
    /// No token arrived within the configured fetch timeout.
    Timeout {
        /// The scope that was asked for.
        scope: String,
        /// How long we waited.
        after: Duration,
        /// Whether the token thread itself stopped answering (a credential that
        /// blocks its thread, or a process forked while a request was out); the
        /// next request runs on a new thread.
        stalled: bool,
    },
    /// The credential panicked while getting a token.
    CredentialPanicked {
        /// The scope that was asked for.
        scope: String,
    },
    /// The token thread could not be started.
    TokenThreadUnavailable {
        /// Why (the operating system's error).
        reason: String,
    },
    /// The credential returned a token that had already expired.
    TokenExpiredOnArrival {
        /// The scope that was asked for.
        scope: String,
        /// The token's expiry.
        expires_on: OffsetDateTime,
        /// The time on this machine's clock.
        now: OffsetDateTime,
    },
    /// The host policy does not allow this host to receive a token.
    HostNotAllowed {
        /// The host that was refused.
        host: String,
        /// The Azure Database for PostgreSQL domain of the configured cloud.
        domain: &'static str,
        /// Where the host came from, when not from the settings.
        origin: Option<String>,
    },
    /// The connection would send the token (a password) without verified TLS.
    InsecureTransport {
        /// What is insecure about the connection, and what to change.
        reason: String,
    },
    /// The configuration cannot work.
    InvalidConfig {
        /// What is wrong and how to fix it.
        reason: String,
    },
}

impl Error {
    pub(crate) fn decode(reason: impl Into<String>) -> Self {
        Self::TokenDecode {
            reason: reason.into(),
        }
    }

    pub(crate) fn invalid(reason: impl Into<String>) -> Self {
        Self::InvalidConfig {
            reason: reason.into(),
        }
    }

    /// A short, stable name of the variant, for logs and metrics labels. The same
    /// vocabulary as [`ConnectError::kind`](crate::ConnectError::kind).
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::TokenDecode { .. } => "token_decode",
            Self::UserNotDerivable { .. } => "user_not_derivable",
            Self::ManagementScopeRefused { .. } => "management_scope_refused",
            Self::Credential { .. } => "credential",
            Self::Timeout { .. } => "timeout",
            Self::CredentialPanicked { .. } => "credential_panicked",
            Self::TokenThreadUnavailable { .. } => "token_thread_unavailable",
            Self::TokenExpiredOnArrival { .. } => "token_expired_on_arrival",
            Self::HostNotAllowed { .. } => "host_not_allowed",
            Self::InsecureTransport { .. } => "insecure_transport",
            Self::InvalidConfig { .. } => "invalid_config",
        }
    }

    /// Whether retrying soon cannot help: the configuration or the principal must
    /// change first. The token cache waits longer before retrying these.
    #[must_use]
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            Self::TokenDecode { .. }
                | Self::UserNotDerivable { .. }
                | Self::ManagementScopeRefused { .. }
                | Self::HostNotAllowed { .. }
                | Self::InsecureTransport { .. }
                | Self::InvalidConfig { .. }
        )
    }

    /// How long the identity endpoint asked to wait before the next request.
    #[must_use]
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Credential { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

const SET_USER: &str = "set the PostgreSQL user explicitly (EntraAuthBuilder::user, or the user \
                        in the connection settings)";

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TokenDecode { reason } => write!(
                f,
                "the access token from the credential is not a readable JWT ({reason}); make \
                 sure the credential returns a Microsoft Entra access token, or {SET_USER} so \
                 that no claims need to be read"
            ),
            Self::UserNotDerivable { principal } => not_derivable(f, principal),
            Self::ManagementScopeRefused { scope, .. } => write!(
                f,
                "the database token names no user, and the credential refused a token for \
                 {scope} that would name it; {SET_USER}"
            ),
            Self::Credential {
                scope,
                status,
                retry_after,
                ..
            } => {
                write!(f, "the credential could not get a token for {scope}")?;
                if let Some(status) = status {
                    write!(f, " (the identity endpoint answered HTTP {status})")?;
                }
                if let Some(wait) = retry_after {
                    write!(
                        f,
                        "; the endpoint asked to wait {}s before retrying",
                        wait.as_secs()
                    )?;
                }
                f.write_str(
                    "; check that the identity is configured (see credential_from_env) and \
                     can reach Microsoft Entra ID",
                )
            }
            Self::Timeout {
                scope,
                after,
                stalled: false,
            } => write!(
                f,
                "no token for {scope} from the credential within {after:?}; check network \
                 access to the identity endpoint, or raise EntraAuthBuilder::fetch_timeout"
            ),
            Self::Timeout {
                scope,
                after,
                stalled: true,
            } => write!(
                f,
                "no token for {scope} within {after:?}: the entra-pg token thread stopped \
                 answering (a credential that blocks its thread, or a fork while a request was \
                 out); the next request runs on a new thread"
            ),
            Self::CredentialPanicked { scope } => write!(
                f,
                "the credential panicked while getting a token for {scope}; the next \
                 connection tries again (a bug in the credential: report it to its authors)"
            ),
            Self::TokenThreadUnavailable { reason } => write!(
                f,
                "cannot start the entra-pg token thread ({reason}); the process may be out of \
                 threads or file descriptors"
            ),
            Self::TokenExpiredOnArrival {
                scope,
                expires_on,
                now,
            } => write!(
                f,
                "the credential returned a token for {scope} that expired at {expires_on} (now \
                 {now}); check this machine's clock and the credential's cache"
            ),
            Self::HostNotAllowed {
                host,
                domain,
                origin,
            } => {
                write!(f, "refusing to send the Entra token to {host}")?;
                if let Some(origin) = origin {
                    write!(f, " (from {origin})")?;
                }
                write!(
                    f,
                    ": it is not an Azure Database for PostgreSQL server of the configured cloud \
                     (*.{domain}), and a token for one server is valid on every server where the \
                     principal has a role; if {host} is your server (a custom DNS name, a \
                     private endpoint in your own zone, a local test server), allow it with \
                     EntraAuthBuilder::allow_host({host:?}) or a \"*.your.domain\" pattern, or \
                     turn the check off with EntraAuthBuilder::danger_allow_any_host(true)"
                )
            }
            Self::InsecureTransport { reason } => {
                write!(
                    f,
                    "refusing to send the Entra token without verified TLS: {reason}"
                )
            }
            Self::InvalidConfig { reason } => write!(f, "invalid configuration: {reason}"),
        }
    }
}

fn not_derivable(f: &mut fmt::Formatter<'_>, principal: &TokenInfo) -> fmt::Result {
    let oid = principal.object_id.as_deref().unwrap_or("<object id>");
    match principal.kind {
        PrincipalKind::Application => write!(
            f,
            "cannot tell the PostgreSQL user: the token belongs to an application (service \
             principal) with app id {app} and object id {oid}, whose role is named after the \
             application's display name, which no token carries; create the role once as an \
             Entra administrator with SELECT * FROM pgaadauth_create_principal_with_oid('<display \
             name>', '{oid}', 'service', false, false); and {SET_USER} to that name",
            app = principal.app_id.as_deref().unwrap_or("<unknown>"),
        ),
        _ => write!(
            f,
            "cannot tell the PostgreSQL user from the Entra tokens: none of the claims \
             xms_mirid, upn, preferred_username or unique_name names the principal (object id \
             {oid}); {SET_USER} to the role created for it with pgaadauth_create_principal (a \
             group's members log in with the group's name)"
        ),
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Same text as Display, tagged with the variant: never a token, and more
        // useful than a struct dump when `unwrap()` panics.
        write!(f, "entra_pg_core::Error::{}({self})", self.kind())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::ManagementScopeRefused { source, .. } | Self::Credential { source, .. } => {
                Some(source.as_ref())
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    fn azure_error() -> Arc<azure_core::Error> {
        Arc::new(azure_core::Error::with_message(
            azure_core::error::ErrorKind::Credential,
            "endpoint said no",
        ))
    }

    #[test]
    fn display_never_repeats_the_source() {
        let errors = [
            Error::Credential {
                scope: "s".into(),
                status: Some(500),
                retry_after: None,
                source: azure_error(),
            },
            Error::ManagementScopeRefused {
                scope: "m".into(),
                source: azure_error(),
            },
        ];
        for err in errors {
            let source = err.source().expect("a source").to_string();
            assert!(!err.to_string().contains(&source), "{err}");
        }
    }

    #[test]
    fn exact_messages() {
        let err = Error::Credential {
            scope: "https://ossrdbms-aad.database.windows.net/.default".into(),
            status: Some(429),
            retry_after: Some(Duration::from_secs(60)),
            source: azure_error(),
        };
        assert_eq!(
            err.to_string(),
            "the credential could not get a token for \
             https://ossrdbms-aad.database.windows.net/.default (the identity endpoint answered \
             HTTP 429); the endpoint asked to wait 60s before retrying; check that the identity \
             is configured (see credential_from_env) and can reach Microsoft Entra ID"
        );
        let err = Error::HostNotAllowed {
            host: "db.example.com".into(),
            domain: "postgres.database.azure.com",
            origin: None,
        };
        assert!(err.to_string().starts_with(
            "refusing to send the Entra token to db.example.com: it is not an Azure Database \
             for PostgreSQL server of the configured cloud (*.postgres.database.azure.com)"
        ));
        assert!(err.to_string().contains("allow_host(\"db.example.com\")"));
        assert!(err.to_string().contains("danger_allow_any_host(true)"));
        assert_eq!(
            format!("{:?}", Error::invalid("x")),
            "entra_pg_core::Error::invalid_config(invalid configuration: x)"
        );
    }

    #[test]
    fn an_app_only_principal_gets_the_sql_to_create_its_role() {
        let principal = TokenInfo {
            kind: PrincipalKind::Application,
            app_id: Some("11111111-2222".into()),
            object_id: Some("33333333-4444".into()),
            ..TokenInfo::default()
        };
        let text = Error::UserNotDerivable {
            principal: Box::new(principal),
        }
        .to_string();
        assert!(text.contains("app id 11111111-2222"), "{text}");
        assert!(
            text.contains(
                "SELECT * FROM pgaadauth_create_principal_with_oid('<display name>', \
                 '33333333-4444', 'service', false, false);"
            ),
            "{text}"
        );
        assert!(text.contains("EntraAuthBuilder::user"), "{text}");
    }
}
