//! One connect with rejection recovery, written once for every driver crate.

use std::{error::Error as StdError, future::Future};

use crate::{ConnectError, EntraAuth, LastFailure, Login, Target};

impl EntraAuth {
    /// Connects to `target` with `attempt`, the driver's connect for one login
    /// (`None` for a static login), and recovers once from a rejected token.
    ///
    /// When the server rejects a token login, the token is
    /// [invalidated](Self::invalidate); if that drops it, `attempt` runs once more
    /// with a fresh login. A second rejection is returned (no loop). Every failure
    /// is recorded in `failures`.
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
                    Err(err) if err.is_token_rejected() && self.invalidate(&login) => {
                        match self.login(target).await {
                            Ok(fresh) => attempt(Some(fresh)).await,
                            Err(err) => Err(ConnectError::Entra(err)),
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
                    Err(err) if err.is_token_rejected() && self.invalidate(&login) => {
                        match self.login_blocking(target) {
                            Ok(fresh) => attempt(Some(fresh)),
                            Err(err) => Err(ConnectError::Entra(err)),
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
}
