//! The user name and password a driver needs for one new connection.

use std::{fmt, sync::Arc};

use time::OffsetDateTime;

/// A PostgreSQL login: the user name and the Entra access token to send as its
/// password. Cheap to clone (one shared allocation).
///
/// `Debug` prints the user and expiry but never the token; there is no `Display`.
/// Pass [`password`](Self::password) straight to the driver and do not log it.
#[derive(Clone)]
pub struct ConnInfo(Arc<Inner>);

struct Inner {
    user: Arc<str>,
    token: azure_core::credentials::Secret,
    expires_on: OffsetDateTime,
}

impl ConnInfo {
    pub(crate) fn new(
        user: Arc<str>,
        token: azure_core::credentials::Secret,
        expires_on: OffsetDateTime,
    ) -> Self {
        Self(Arc::new(Inner {
            user,
            token,
            expires_on,
        }))
    }

    /// The PostgreSQL user: the explicit one, or the one derived from the token claims.
    #[must_use]
    pub fn user(&self) -> &str {
        &self.0.user
    }

    /// The access token, to be sent as the PostgreSQL password over verified TLS only.
    #[must_use]
    pub fn password(&self) -> &str {
        self.0.token.secret()
    }

    /// When the token expires. Connections must authenticate before then; sessions
    /// already open are not cut when it passes.
    #[must_use]
    pub fn expires_on(&self) -> OffsetDateTime {
        self.0.expires_on
    }
}

impl fmt::Debug for ConnInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnInfo")
            .field("user", &self.user())
            .field("password", &"<redacted>")
            .field("expires_on", &self.expires_on())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted_exactly() {
        let expires = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let info = ConnInfo::new(
            "alice@contoso.com".into(),
            "eyJ.secret.token".into(),
            expires,
        );
        assert_eq!(info.password(), "eyJ.secret.token");
        assert_eq!(
            format!("{info:?}"),
            "ConnInfo { user: \"alice@contoso.com\", password: \"<redacted>\", expires_on: 2027-01-15 8:00:00.0 +00:00:00 }"
        );
        assert!(!format!("{info:#?}").contains("secret"));
    }
}
