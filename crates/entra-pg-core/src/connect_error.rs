//! [`ConnectError`]: the one error of every driver crate, generic over the
//! driver's own error, with one set of messages and one `kind()` vocabulary.

use std::{error::Error as StdError, fmt, sync::Arc};

use time::OffsetDateTime;
use tokio::sync::watch;
use tracing::warn;

use crate::{Error, Target, advice};

/// Why an Entra connection could not be made, in every driver crate (each names
/// it `Error`, with its driver's error as `E`).
///
/// `Display` describes this failure and what to do; the driver's error is the
/// [`source`](std::error::Error::source), so error reporters print the whole
/// chain once. No message, `Debug` output or source contains the token.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConnectError<E> {
    /// No login could be had, or the settings break the security contract (no
    /// verified TLS, a host outside the policy): nothing was sent.
    Entra(Error),
    /// The server's TLS certificate could not be verified. Nothing was sent.
    Certificate {
        /// The host(s) that were checked.
        host: String,
        /// What is wrong with the certificate, and what to do.
        problem: String,
        /// The driver's error.
        source: E,
    },
    /// The server refused the login (SQLSTATE class 28, or Azure's token texts).
    Rejected {
        /// The server(s) connected to.
        target: String,
        /// The PostgreSQL user that was tried.
        user: String,
        /// What to check, chosen from the server's message.
        advice: String,
        /// Whether an Entra token was sent (else a static login's password).
        token: bool,
        /// The driver's error, with the server's message.
        source: E,
    },
    /// Any other failure of the driver: network, protocol, server.
    Driver {
        /// The server(s) connected to (`host:port`).
        target: String,
        /// The driver's error.
        source: E,
    },
}

impl<E> ConnectError<E> {
    /// Reads a driver's failed connect to `target` as `user`, from the `facts` the
    /// adapter found in the driver's error.
    pub fn classify(source: E, facts: Facts, target: &Target, user: &str) -> Self {
        if facts.server_without_tls {
            return Self::Entra(Error::InsecureTransport {
                reason: format!(
                    "the server at {} does not offer TLS (it answered the TLS request with \
                     'no'), so the token was not sent; turn on TLS on the server (Azure \
                     Database for PostgreSQL always has it) or check that the host and port \
                     are the right server",
                    target.describe()
                ),
            });
        }
        if let Some(problem) = facts.certificate {
            return Self::Certificate {
                host: target.describe().to_owned(),
                problem,
                source,
            };
        }
        let message = facts.server_message.unwrap_or_default();
        let class_28 = facts
            .sqlstate
            .as_deref()
            .is_some_and(|code| code.starts_with("28"));
        let azure_token_text = message.contains("access token");
        if (class_28 && !message.contains("pg_hba.conf")) || azure_token_text {
            return Self::Rejected {
                target: target.describe().to_owned(),
                user: user.to_owned(),
                advice: advice::rejection(&message, !target.is_static_login(), target.describe()),
                token: !target.is_static_login(),
                source,
            };
        }
        Self::Driver {
            target: target.describe().to_owned(),
            source,
        }
    }

    /// A short, stable name of the failure, for logs and metrics labels: the
    /// [`Error::kind`] of an `Entra` failure, else `certificate`, `rejected` or
    /// `driver`.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Entra(err) => err.kind(),
            Self::Certificate { .. } => "certificate",
            Self::Rejected { .. } => "rejected",
            Self::Driver { .. } => "driver",
        }
    }

    /// Whether the server refused a token login: the connector then asks for a
    /// new token and tries once more.
    #[must_use]
    pub fn is_token_rejected(&self) -> bool {
        matches!(self, Self::Rejected { token: true, .. })
    }

    /// The driver's own error, if the driver failed.
    #[must_use]
    pub fn driver_error(&self) -> Option<&E> {
        match self {
            Self::Entra(_) => None,
            Self::Certificate { source, .. }
            | Self::Rejected { source, .. }
            | Self::Driver { source, .. } => Some(source),
        }
    }

    /// The same failure with another driver error type.
    pub fn map_driver<F>(self, map: impl FnOnce(E) -> F) -> ConnectError<F> {
        match self {
            Self::Entra(err) => ConnectError::Entra(err),
            Self::Certificate {
                host,
                problem,
                source,
            } => ConnectError::Certificate {
                host,
                problem,
                source: map(source),
            },
            Self::Rejected {
                target,
                user,
                advice,
                token,
                source,
            } => ConnectError::Rejected {
                target,
                user,
                advice,
                token,
                source: map(source),
            },
            Self::Driver { target, source } => ConnectError::Driver {
                target,
                source: map(source),
            },
        }
    }
}

impl<E> From<Error> for ConnectError<E> {
    fn from(err: Error) -> Self {
        Self::Entra(err)
    }
}

impl<E> fmt::Display for ConnectError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Entra(err) => err.fmt(f),
            Self::Certificate { host, problem, .. } => write!(
                f,
                "TLS: the certificate of {host} is not trusted, so nothing was sent: {problem}"
            ),
            Self::Rejected {
                target,
                user,
                advice,
                token,
                ..
            } => {
                let what = if *token { "Entra login" } else { "login" };
                write!(
                    f,
                    "the server at {target} rejected the {what} of {user:?}: {advice}"
                )
            }
            Self::Driver { target, .. } => write!(f, "cannot connect to PostgreSQL at {target}"),
        }
    }
}

impl<E: StdError + 'static> StdError for ConnectError<E> {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Self::Entra(err) => err.source(),
            Self::Certificate { source, .. }
            | Self::Rejected { source, .. }
            | Self::Driver { source, .. } => Some(source),
        }
    }
}

/// What an adapter found in its driver's error, for [`ConnectError::classify`].
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct Facts {
    sqlstate: Option<String>,
    server_message: Option<String>,
    server_without_tls: bool,
    certificate: Option<String>,
}

impl Facts {
    /// No facts yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The SQLSTATE of the server's error, if it sent one.
    pub fn sqlstate(mut self, code: Option<&str>) -> Self {
        self.sqlstate = code.map(str::to_owned);
        self
    }

    /// The server's message (its `message` field, or the driver's text of it).
    pub fn server_message(mut self, message: Option<&str>) -> Self {
        self.server_message = message.map(str::to_owned);
        self
    }

    /// The server answered the TLS request with "no".
    pub fn server_without_tls(mut self, yes: bool) -> Self {
        self.server_without_tls |= yes;
        self
    }

    /// The certificate problem, as the driver described it (libpq's text), with
    /// what to do added.
    pub fn certificate_message(mut self, message: &str, host: &str) -> Self {
        let advice = if message.contains("does not match host name") {
            advice::wrong_name(host)
        } else if message.contains("expired") {
            advice::expired().to_owned()
        } else {
            advice::untrusted_issuer().to_owned()
        };
        self.certificate = Some(format!("{message}; {advice}"));
        self
    }

    /// Looks for a rustls certificate error in `err`'s source chain.
    #[cfg(feature = "rustls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
    pub fn rustls_error_in(mut self, err: &(dyn StdError + 'static), host: &str) -> Self {
        if let Some(rustls::Error::InvalidCertificate(cert)) = advice::find_rustls_error(err) {
            self.certificate = Some(advice::certificate_problem(cert, host));
        }
        self
    }
}

/// A snapshot of a failed connect: its kind and messages, kept by a
/// [`LastFailure`] for pools whose own errors say less (bb8's `TimedOut`, r2d2's
/// timeout, diesel-async's `BadConnection`).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConnectFailure {
    /// [`ConnectError::kind`] of the failure.
    pub kind: &'static str,
    /// Its `Display`.
    pub message: String,
    /// Its `Display` followed by every source, joined by `: `.
    pub chain: String,
    /// The Entra error, when the failure was one.
    pub entra: Option<Error>,
    /// When it happened.
    pub at: OffsetDateTime,
}

impl ConnectFailure {
    /// A snapshot of `err`.
    pub fn of<E: StdError + 'static>(err: &ConnectError<E>) -> Self {
        Self {
            kind: err.kind(),
            message: err.to_string(),
            chain: chain(err),
            entra: match err {
                ConnectError::Entra(err) => Some(err.clone()),
                _ => None,
            },
            at: OffsetDateTime::now_utc(),
        }
    }
}

impl fmt::Display for ConnectFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.chain)
    }
}

/// `err`'s `Display` followed by every source, joined by `: `.
#[must_use]
pub fn chain(err: &(dyn StdError + 'static)) -> String {
    let mut text = err.to_string();
    let mut next = err.source();
    while let Some(cause) = next {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        next = cause.source();
    }
    text
}

/// The last failed connect of a connector, shared by its clones (and so by the
/// pool holding it). Recording one logs it at `WARN` (token-free).
#[derive(Debug, Clone)]
pub struct LastFailure(Arc<watch::Sender<(u64, Option<ConnectFailure>)>>);

impl Default for LastFailure {
    fn default() -> Self {
        Self(Arc::new(watch::Sender::new((0, None))))
    }
}

impl LastFailure {
    /// Remembers `err` as the last failure and logs it.
    pub fn record<E: StdError + 'static>(&self, err: &ConnectError<E>) {
        let failure = ConnectFailure::of(err);
        warn!(kind = failure.kind, error = %failure.chain, "entra-pg: could not connect");
        self.0.send_modify(|(count, last)| {
            *count += 1;
            *last = Some(failure);
        });
    }

    /// The last failure, if any.
    #[must_use]
    pub fn get(&self) -> Option<ConnectFailure> {
        self.0.borrow().1.clone()
    }

    /// How many failures were recorded so far.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.0.borrow().0
    }

    /// Waits for a failure recorded after the first `count` ones and returns it:
    /// a pool's `get` can return the cause as soon as its connect failed, instead
    /// of after the pool's own timeout.
    pub async fn next_after(&self, count: u64) -> ConnectFailure {
        let mut receiver = self.0.subscribe();
        let found = receiver
            .wait_for(|(seen, last)| *seen > count && last.is_some())
            .await
            .map(|state| state.1.clone());
        match found {
            Ok(Some(failure)) => failure,
            // The sender lives in `self`: it cannot be gone while we borrow it.
            _ => std::future::pending().await,
        }
    }
}
