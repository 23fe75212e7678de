#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod connector;
#[cfg(feature = "r2d2")]
mod manager;
mod settings;

#[doc(hidden)]
pub use connector::Blocking;
pub use connector::{EntraConnector, EntraConnectorBuilder, connect, connect_with_tls};
/// The error type, shared with `entra-pg-tokio` (`postgres::Error` is
/// `tokio_postgres::Error`).
pub use entra_pg_tokio::Error;
/// Verified rustls TLS, shared with `entra-pg-tokio`, for `connect_with_tls` and
/// the builder's `tls`.
pub use entra_pg_tokio::{Tls, TlsBuilder};
#[cfg(feature = "r2d2")]
#[cfg_attr(docsrs, doc(cfg(feature = "r2d2")))]
pub use manager::{ClientManager, R2d2Pool};
pub use settings::IntoSettings;
#[doc(hidden)]
pub use settings::SyncConfig;

/// Re-exported: the core crate ([`EntraAuth`](entra_pg_core::EntraAuth) and friends).
pub use entra_pg_core;
/// Re-exported: the driver, so versions always match.
pub use postgres;
/// Re-exported (feature `r2d2`): the pool, so versions always match.
#[cfg(feature = "r2d2")]
#[cfg_attr(docsrs, doc(cfg(feature = "r2d2")))]
pub use r2d2;
