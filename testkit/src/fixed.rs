//! A credential that needs no endpoint, for tests of what is done with a token.

use std::fmt;

use azure_core::credentials::{AccessToken, Secret, TokenCredential, TokenRequestOptions};

/// Hands out one fixed token, valid for an hour, for any scope. Its `Debug` does
/// not show the token.
pub struct FixedToken(pub String);

impl fmt::Debug for FixedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FixedToken")
    }
}

#[async_trait::async_trait]
impl TokenCredential for FixedToken {
    async fn get_token(
        &self,
        _scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        Ok(AccessToken::new(
            Secret::new(self.0.clone()),
            time::OffsetDateTime::now_utc() + time::Duration::hours(1),
        ))
    }
}
