//! Which PostgreSQL user a login uses: the settings' user, the builder's, or the
//! one derived from the token claims (once per `EntraAuth`).
//!
//! Derivation happens only when nobody named the user: first the database token's
//! own claims (decoded in place, no request), then, if they name nobody, one
//! management-scope token requested on the token thread and shared by every
//! caller, with the same back-off as token requests.

use std::sync::Arc;

use tracing::{info, warn};

use crate::{
    Error, Target,
    auth::Inner,
    cache::Inflight,
    claims::{self, token_info},
    login::Token,
    wait::bounded,
};

enum Derive {
    Ready(Arc<str>),
    Wait(Inflight<Arc<str>>),
    Failed(Error),
}

impl Inner {
    /// The user when nobody needs to derive it: the settings', the builder's, or
    /// the one derived before.
    pub(crate) fn user_for(&self, target: &Target) -> Option<Arc<str>> {
        target
            .settings_user()
            .or(self.explicit_user.as_ref())
            .or_else(|| self.derived_user.get())
            .cloned()
    }

    /// The builder's user or the derived one, if known.
    pub(crate) fn known_user(&self) -> Option<&Arc<str>> {
        self.explicit_user
            .as_ref()
            .or_else(|| self.derived_user.get())
    }

    /// Derives the user from `token`, or from a management-scope token.
    pub(crate) async fn derive_user(self: &Arc<Self>, token: &Token) -> Result<Arc<str>, Error> {
        if let Some((user, claim)) = claims::user_and_claim(token.secret())? {
            return Ok(self.remember(user, claim, "database"));
        }
        let inflight = match self.derive_lookup(token)? {
            Derive::Ready(user) => return Ok(user),
            Derive::Failed(error) => return Err(error),
            Derive::Wait(inflight) => inflight,
        };
        bounded(self, inflight).await
    }

    fn remember(&self, user: String, claim: &'static str, source: &'static str) -> Arc<str> {
        let mut fresh = false;
        let user = Arc::clone(self.derived_user.get_or_init(|| {
            fresh = true;
            Arc::from(user)
        }));
        if fresh {
            info!(user = %user, claim, token = source, "entra-pg: derived the PostgreSQL user");
        }
        user
    }

    fn derive_lookup(self: &Arc<Self>, token: &Token) -> Result<Derive, Error> {
        let now = self.clock.now();
        let mut state = self.lock();
        if let Some(user) = self.derived_user.get() {
            return Ok(Derive::Ready(Arc::clone(user)));
        }
        if let Some(inflight) = state.derive.under_way() {
            return Ok(Derive::Wait(inflight));
        }
        if state.derive.retry_at.is_some_and(|at| now < at)
            && let Some(error) = &state.derive.last_error
        {
            return Ok(Derive::Failed(error.clone()));
        }
        // The database token's ids, for the message when nobody is named.
        let principal = Box::new(token_info(token.secret())?);
        let id = state.next_id();
        let inner = Arc::clone(self);
        let request = async move {
            let scope = inner.management_scope;
            let management = inner.get_token(scope).await.map_err(|err| match err {
                Error::Credential { source, .. } => Error::ManagementScopeRefused {
                    scope: scope.to_owned(),
                    source,
                },
                other => other,
            })?;
            match claims::user_and_claim(management.token.secret())? {
                Some((user, claim)) => Ok(inner.remember(user, claim, "management")),
                None => Err(Error::UserNotDerivable { principal }),
            }
        };
        let inner = Arc::clone(self);
        let inflight = state.derive.start(id, request, move |result| {
            let now = inner.clock.now();
            let retry_in = {
                let mut state = inner.lock();
                state.derive.finish(id);
                match result {
                    Ok(_) => {
                        state.derive.succeeded();
                        None
                    }
                    Err(error) => Some(state.derive.failed(error, now)),
                }
            };
            if let (Err(error), Some(retry_in)) = (result, retry_in) {
                warn!(error = %error, %retry_in, "entra-pg: could not derive the PostgreSQL user");
            }
        })?;
        Ok(Derive::Wait(inflight))
    }
}
