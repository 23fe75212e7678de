// The README is the crate documentation; its pool example needs the `r2d2` feature
// (docs.rs and `cargo xtask test` build with all features).
#![cfg_attr(feature = "r2d2", doc = include_str!("../README.md"))]
#![cfg_attr(
    not(feature = "r2d2"),
    doc = "Microsoft Entra ID login for the blocking postgres crate and r2d2. \
           Build with the `r2d2` feature for the full documentation."
)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod connector;
#[cfg(feature = "r2d2")]
mod r2d2_manager;
mod settings;

pub use connector::{EntraConnector, EntraConnectorBuilder, connect};
/// The error type, shared with `entra-pg-tokio` (`postgres::Error` is
/// `tokio_postgres::Error`).
pub use entra_pg_tokio::Error;
/// Verified rustls TLS, shared with `entra-pg-tokio`.
pub use entra_pg_tokio::{PGSSLROOTCERT, Tls, TlsBuilder};
#[cfg(feature = "r2d2")]
#[cfg_attr(docsrs, doc(cfg(feature = "r2d2")))]
pub use r2d2_manager::R2d2Manager;
pub use settings::IntoConfig;

/// Re-exported: the core crate ([`EntraAuth`](entra_pg_core::EntraAuth) and friends).
pub use entra_pg_core;
/// Re-exported: the driver, so versions always match.
pub use postgres;
/// Re-exported (feature `r2d2`): the pool, so versions always match.
#[cfg(feature = "r2d2")]
#[cfg_attr(docsrs, doc(cfg(feature = "r2d2")))]
pub use r2d2;
