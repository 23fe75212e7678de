//! One connect with rejection recovery, written once for every driver crate.

use std::{error::Error as StdError, future::Future};

use tracing::warn;

use crate::{ConnectError, EntraAuth, Error, LastFailure, Login, Target, advice};

impl EntraAuth {
    /// Connects to `target` with `attempt`, the driver's connect for one login
    /// (`None` for a static login), and recovers once from a rejected token.
    ///
    /// When the server rejects a token login,
    /// [`login_after_rejection`](Self::login_after_rejection) decides whether
    /// `attempt` runs once more with a fresh login. A second rejection is returned (no loop). Every failure is
    /// recorded in `failures`.
    ///
    /// # Errors
    /// No login could be had ([`ConnectError::Entra`]), or `attempt`'s error.
    pub async fn connect_with<T, E, F, Fut>(
        &self,
        target: &Target,
        failures: &LastFailure,
        mut attempt: F,
    ) -> Result<T, ConnectError<E>>
    where
        E: StdError + 'static,
        F: FnMut(Option<Login>) -> Fut,
        Fut: Future<Output = Result<T, ConnectError<E>>>,
    {
        let result = if target.is_static_login() {
            attempt(None).await
        } else {
            match self.login(target).await {
                Err(err) => Err(ConnectError::Entra(err)),
                Ok(login) => match attempt(Some(login.clone())).await {
                    Err(err) if err.is_token_rejected() => {
                        match self.login_after_rejection(target, &login, err).await {
                            Ok(fresh) => attempt(Some(fresh)).await,
                            Err(err) => Err(err),
                        }
                    }
                    other => other,
                },
            }
        };
        if let Err(err) = &result {
            failures.record(err);
        }
        result
    }

    /// [`connect_with`](Self::connect_with) for blocking drivers.
    ///
    /// # Errors
    /// As [`connect_with`](Self::connect_with).
    pub fn connect_with_blocking<T, E, F>(
        &self,
        target: &Target,
        failures: &LastFailure,
        mut attempt: F,
    ) -> Result<T, ConnectError<E>>
    where
        E: StdError + 'static,
        F: FnMut(Option<Login>) -> Result<T, ConnectError<E>>,
    {
        let result = if target.is_static_login() {
            attempt(None)
        } else {
            match self.login_blocking(target) {
                Err(err) => Err(ConnectError::Entra(err)),
                Ok(login) => match attempt(Some(login.clone())) {
                    Err(err) if err.is_token_rejected() => {
                        match self.login_after_rejection_blocking(target, &login, err) {
                            Ok(fresh) => attempt(Some(fresh)),
                            Err(err) => Err(err),
                        }
                    }
                    other => other,
                },
            }
        };
        if let Err(err) = &result {
            failures.record(err);
        }
        result
    }

    /// After the server refused `rejected` with `err`: the fresh login to try once
    /// more, or the error to report.
    ///
    /// The token is [invalidated](Self::invalidate) and a new one requested. The
    /// rejection stands (`err` is returned) when the token was not dropped (it was
    /// not the cached one, or a forced refresh happened too recently), and also
    /// when the credential hands back the very token the server refused: credentials
    /// with a cache of their own (azure_identity's managed identity and client
    /// credentials keep a token until about 5 minutes before its expiry) cannot be
    /// made to fetch a new one, and trying it again would only fail again. The
    /// error's advice then says so.
    ///
    /// # Errors
    /// `err` (with that advice), or [`ConnectError::Entra`] when no new token could
    /// be had.
    pub async fn login_after_rejection<E>(
        &self,
        target: &Target,
        rejected: &Login,
        err: ConnectError<E>,
    ) -> Result<Login, ConnectError<E>> {
        if !self.invalidate(rejected) {
            return Err(err);
        }
        let fresh = self.login(target).await;
        judge(rejected, fresh, err)
    }

    /// [`login_after_rejection`](Self::login_after_rejection) for blocking drivers.
    ///
    /// # Errors
    /// As [`login_after_rejection`](Self::login_after_rejection).
    pub fn login_after_rejection_blocking<E>(
        &self,
        target: &Target,
        rejected: &Login,
        err: ConnectError<E>,
    ) -> Result<Login, ConnectError<E>> {
        if !self.invalidate(rejected) {
            return Err(err);
        }
        let fresh = self.login_blocking(target);
        judge(rejected, fresh, err)
    }
}

/// The fresh login, unless it carries the rejected token again.
fn judge<E>(
    rejected: &Login,
    fresh: Result<Login, Error>,
    err: ConnectError<E>,
) -> Result<Login, ConnectError<E>> {
    let fresh = fresh.map_err(ConnectError::Entra)?;
    if fresh.password() != rejected.password() {
        return Ok(fresh);
    }
    warn!(
        expires_on = %rejected.expires_on(),
        "entra-pg: the credential returned the token the server rejected (it caches tokens \
         itself); not trying it again"
    );
    Err(match err {
        ConnectError::Rejected {
            target,
            user,
            advice,
            token,
            source,
        } => ConnectError::Rejected {
            target,
            user,
            advice: format!("{advice}. {}", advice::same_token(rejected.expires_on())),
            token,
            source,
        },
        other => other,
    })
}
