//! One token request to the credential, bounded by the fetch timeout, and what an
//! identity endpoint's failed answer says (status, `Retry-After`).

use std::{sync::Arc, time::Duration};

use azure_core::{
    credentials::AccessToken,
    error::ErrorKind,
    http::headers::{HeaderName, RETRY_AFTER},
};

use crate::{Error, auth::Inner, login::Token};

impl Inner {
    /// Gets a database token within the fetch timeout.
    pub(crate) async fn fetch_token(&self) -> Result<Arc<Token>, Error> {
        let token = self.get_token(&self.scope).await?;
        Ok(Arc::new(Token::new(token.token, token.expires_on)))
    }

    /// Asks the credential for a token of `scope`, within the fetch timeout.
    pub(crate) async fn get_token(&self, scope: &str) -> Result<AccessToken, Error> {
        match tokio::time::timeout(
            self.fetch_timeout,
            self.credential.get_token(&[scope], None),
        )
        .await
        {
            Ok(Ok(token)) => Ok(token),
            Ok(Err(err)) => Err(credential_error(scope, err)),
            Err(_) => Err(Error::Timeout {
                scope: scope.to_owned(),
                after: self.fetch_timeout,
                stalled: false,
            }),
        }
    }
}

/// The credential's error, with the endpoint's HTTP status and `Retry-After` when
/// the answer is somewhere in its chain.
pub(crate) fn credential_error(scope: &str, err: azure_core::Error) -> Error {
    let (status, retry_after) = http_answer(&err);
    Error::Credential {
        scope: scope.to_owned(),
        status,
        retry_after,
        source: Arc::new(err),
    }
}

/// The HTTP status and `Retry-After` of the first HTTP answer in `err`'s chain.
fn http_answer(err: &azure_core::Error) -> (Option<u16>, Option<Duration>) {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(current) = next {
        if let Some(azure) = current.downcast_ref::<azure_core::Error>()
            && let ErrorKind::HttpResponse {
                status,
                raw_response,
                ..
            } = azure.kind()
        {
            let retry_after = raw_response.as_ref().and_then(|response| {
                let headers = response.headers();
                [RETRY_AFTER, HeaderName::from_static("x-ms-retry-after-ms")]
                    .iter()
                    .find_map(|name| {
                        let value = headers.get_optional_str(name)?.trim();
                        let number = value.parse::<u64>().ok()?;
                        Some(if name.as_str() == "x-ms-retry-after-ms" {
                            Duration::from_millis(number)
                        } else {
                            Duration::from_secs(number)
                        })
                    })
            });
            return (Some(u16::from(*status)), retry_after);
        }
        next = current.source();
    }
    (None, None)
}
