#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod advice;
mod auth;
mod builder;
mod cache;
pub mod claims;
pub mod clock;
mod cloud;
mod connect;
mod connect_error;
pub mod connector;
#[cfg(feature = "identity")]
mod credential;
mod error;
mod fetch;
mod login;
mod policy;
mod runtime;
mod target;
mod user;
mod wait;

pub use auth::{CacheStatus, EntraAuth, TokenChanges};
pub use builder::{DEFAULT_FETCH_TIMEOUT, DEFAULT_REFRESH_AHEAD, EntraAuthBuilder};
pub use cloud::{Cloud, DATABASE_SCOPE, MANAGEMENT_SCOPE};
pub use connect_error::{ConnectError, ConnectFailure, Facts, LastFailure, chain as error_chain};
#[cfg(feature = "identity")]
#[cfg_attr(docsrs, doc(cfg(feature = "identity")))]
pub use credential::{CredentialSource, credential_from_env};
pub use error::Error;
pub use login::Login;
pub use target::{Destination, SslMode, Target, TargetHost};

/// Re-exported so callers can name [`TokenCredential`](azure_core::credentials::TokenCredential)
/// and the `time` types in [`Login::expires_on`] without adding matching dependencies.
pub use azure_core;
