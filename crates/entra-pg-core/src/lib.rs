#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod advice;
mod auth;
mod cache;
pub mod claims;
pub mod clock;
mod cloud;
mod conninfo;
#[cfg(feature = "identity")]
mod credential;
mod error;
mod fetch;
mod runtime;

pub use auth::{
    CacheStatus, DEFAULT_FETCH_TIMEOUT, DEFAULT_REFRESH_AHEAD, EntraAuth, EntraAuthBuilder,
};
pub use cloud::{Cloud, DATABASE_SCOPE, MANAGEMENT_SCOPE};
pub use conninfo::ConnInfo;
#[cfg(feature = "identity")]
#[cfg_attr(docsrs, doc(cfg(feature = "identity")))]
pub use credential::{CredentialSource, credential_from_env};
pub use error::Error;

/// Re-exported so callers can name [`TokenCredential`](azure_core::credentials::TokenCredential)
/// and the `time` types in [`ConnInfo::expires_on`] without adding matching dependencies.
pub use azure_core;
