//! One token request: the database token, and the user name on the first request.

use std::sync::Arc;

use azure_core::credentials::AccessToken;
use tracing::{debug, info};

use crate::{ConnInfo, Error, auth::Inner, claims};

impl Inner {
    /// Gets a database token (and, the first time, the user), within the fetch timeout.
    pub(crate) async fn fetch(&self) -> Result<ConnInfo, Error> {
        debug!(scope = %self.scope, "entra-pg: requesting an Entra token");
        tokio::time::timeout(self.fetch_timeout, self.fetch_unbounded())
            .await
            .unwrap_or_else(|_| {
                Err(Error::Timeout {
                    scope: self.scope.clone(),
                    after: self.fetch_timeout,
                })
            })
    }

    async fn fetch_unbounded(&self) -> Result<ConnInfo, Error> {
        let token = self
            .credential
            .get_token(&[&self.scope], None)
            .await
            .map_err(|err| Error::credential(&self.scope, err))?;
        let user = match self.user.get() {
            Some(user) => Arc::clone(user),
            None => self.derive_user(&token).await?,
        };
        Ok(ConnInfo::new(user, token.token, token.expires_on))
    }

    /// Reads the user from the database token, else from a management-scope token.
    /// Runs inside the single shared request, so at most once at a time; after the
    /// first success the user is remembered for the life of the `EntraAuth`.
    async fn derive_user(&self, token: &AccessToken) -> Result<Arc<str>, Error> {
        let (user, claim, source) = match claims::user_and_claim(token.token.secret())? {
            Some((user, claim)) => (user, claim, "database"),
            None => {
                debug!(
                    scope = self.management_scope,
                    "entra-pg: the database token names no user; asking for a management token"
                );
                let management = self
                    .credential
                    .get_token(&[self.management_scope], None)
                    .await
                    .map_err(|err| Error::ManagementScopeRefused {
                        scope: self.management_scope.to_owned(),
                        source: Arc::new(err),
                    })?;
                let (user, claim) = claims::user_and_claim(management.token.secret())?
                    .ok_or(Error::UserNotDerivable)?;
                (user, claim, "management")
            }
        };
        info!(%user, claim, token = source, "entra-pg: derived the PostgreSQL user");
        Ok(Arc::clone(self.user.get_or_init(|| Arc::from(user))))
    }
}
