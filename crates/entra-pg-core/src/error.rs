//! The one error type of the crate.

use std::{fmt, sync::Arc, time::Duration};

/// Everything that can go wrong while getting a PostgreSQL login from Microsoft Entra ID.
///
/// Every message says what to do next. No message, `Debug` output or `source()` of
/// this type ever contains an access token. The type is `Clone` because one token
/// request can fail for many waiting callers at once.
#[derive(Clone)]
#[non_exhaustive]
pub enum Error {
    /// The credential returned a token that is not a readable JWT, so no user name
    /// can be read from it.
    TokenDecode {
        /// Which part of the token could not be read (never the token itself).
        reason: String,
    },
    /// Neither the database token nor the management token names the principal.
    UserNotDerivable,
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
        /// The credential's error.
        source: Arc<azure_core::Error>,
    },
    /// The credential did not answer within the configured fetch timeout.
    Timeout {
        /// The scope that was asked for.
        scope: String,
        /// How long we waited.
        after: Duration,
    },
    /// The connection would send the token (a password) without verified TLS.
    /// Raised by the driver crates.
    InsecureTransport {
        /// What is insecure about the connection settings.
        reason: String,
    },
    /// The configuration cannot work.
    InvalidConfig {
        /// What is wrong and how to fix it.
        reason: String,
    },
}

impl Error {
    pub(crate) fn credential(scope: &str, source: azure_core::Error) -> Self {
        Self::Credential {
            scope: scope.to_owned(),
            source: Arc::new(source),
        }
    }

    pub(crate) fn decode(reason: impl Into<String>) -> Self {
        Self::TokenDecode {
            reason: reason.into(),
        }
    }

    /// A short, stable name of the variant, for logs and metrics labels.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::TokenDecode { .. } => "token_decode",
            Self::UserNotDerivable => "user_not_derivable",
            Self::ManagementScopeRefused { .. } => "management_scope_refused",
            Self::Credential { .. } => "credential",
            Self::Timeout { .. } => "timeout",
            Self::InsecureTransport { .. } => "insecure_transport",
            Self::InvalidConfig { .. } => "invalid_config",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TokenDecode { reason } => write!(
                f,
                "the access token from the credential is not a readable JWT ({reason}); \
                 make sure the credential returns a Microsoft Entra access token, or set the \
                 PostgreSQL user explicitly (EntraAuthBuilder::user, or POSTGRES_USER in the \
                 examples) so that no claims need to be read"
            ),
            Self::UserNotDerivable => f.write_str(
                "cannot tell the PostgreSQL user from the Entra tokens: none of the claims \
                 xms_mirid (user-assigned identity), upn, preferred_username or unique_name \
                 names the principal; set the user explicitly (EntraAuthBuilder::user, or the \
                 user in the connection settings) to the role created for this principal with \
                 pgaadauth_create_principal",
            ),
            Self::ManagementScopeRefused { scope, source } => write!(
                f,
                "the database token names no user, and the credential refused a token for \
                 {scope} that would name it ({source}); set the PostgreSQL user explicitly \
                 (EntraAuthBuilder::user, or the user in the connection settings)"
            ),
            Self::Credential { scope, source } => write!(
                f,
                "the credential could not get a token for {scope} ({source}); check that the \
                 identity is configured (see credential_from_env) and can reach Microsoft Entra ID"
            ),
            Self::Timeout { scope, after } => write!(
                f,
                "no token for {scope} from the credential within {after:?}; check network access \
                 to the identity endpoint, or raise EntraAuthBuilder::fetch_timeout"
            ),
            Self::InsecureTransport { reason } => write!(
                f,
                "refusing to send the Entra token without verified TLS: {reason}; use \
                 sslmode=require (verify-full for libpq and sqlx) and trust the server's root CA \
                 (PGSSLROOTCERT)"
            ),
            Self::InvalidConfig { reason } => write!(f, "invalid configuration: {reason}"),
        }
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
