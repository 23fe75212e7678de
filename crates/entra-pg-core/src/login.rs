//! [`Login`]: the user name and password a driver needs for one new connection.

use std::{fmt, sync::Arc};

use azure_core::credentials::Secret;
use time::OffsetDateTime;

/// A cached Entra access token. Shared by every [`Login`] made from it.
pub(crate) struct Token {
    secret: Secret,
    expires_on: OffsetDateTime,
}

impl Token {
    pub(crate) fn new(secret: Secret, expires_on: OffsetDateTime) -> Self {
        Self { secret, expires_on }
    }

    pub(crate) fn secret(&self) -> &str {
        self.secret.secret()
    }

    pub(crate) fn expires_on(&self) -> OffsetDateTime {
        self.expires_on
    }
}

/// A PostgreSQL login for one new connection to a checked [`Target`](crate::Target):
/// the user name and the Entra access token to send as its password.
///
/// Get one from [`EntraAuth::login`](crate::EntraAuth::login). Cheap to clone (two
/// shared pointers). `Debug` prints the user and expiry but never the token; there
/// is no `Display`. Pass [`password`](Self::password) straight to the driver and do
/// not log it.
#[derive(Clone)]
pub struct Login {
    user: Arc<str>,
    token: Arc<Token>,
}

impl Login {
    pub(crate) fn new(user: Arc<str>, token: Arc<Token>) -> Self {
        Self { user, token }
    }

    /// The PostgreSQL user: the one in the connection settings, else the one given
    /// to the [`EntraAuthBuilder`](crate::EntraAuthBuilder), else the one derived
    /// from the token claims.
    #[must_use]
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The access token, to be sent as the PostgreSQL password over verified TLS
    /// to the target's host only.
    #[must_use]
    pub fn password(&self) -> &str {
        self.token.secret()
    }

    /// When the token expires. Connections must authenticate before then; sessions
    /// already open are not cut when it passes.
    #[must_use]
    pub fn expires_on(&self) -> OffsetDateTime {
        self.token.expires_on()
    }

    /// Whether both logins carry the same cached token (not merely equal text).
    #[must_use]
    pub fn same_token(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.token, &other.token)
    }

    pub(crate) fn token(&self) -> &Arc<Token> {
        &self.token
    }
}

impl fmt::Debug for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Login")
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
        let token = Arc::new(Token::new("eyJ.secret.token".into(), expires));
        let login = Login::new("alice@contoso.com".into(), Arc::clone(&token));
        assert_eq!(login.password(), "eyJ.secret.token");
        assert_eq!(
            format!("{login:?}"),
            "Login { user: \"alice@contoso.com\", password: \"<redacted>\", expires_on: 2027-01-15 8:00:00.0 +00:00:00 }"
        );
        assert!(!format!("{login:#?}").contains("secret"));
        let other = Login::new(
            "bob".into(),
            Arc::new(Token::new("eyJ.secret.token".into(), expires)),
        );
        assert!(login.same_token(&login.clone()));
        assert!(!login.same_token(&other), "same text, another token");
    }
}
