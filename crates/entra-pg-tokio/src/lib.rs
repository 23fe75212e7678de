// The README is the crate documentation; its pool examples need both pool features
// (docs.rs and `cargo xtask test` build with all features).
#![cfg_attr(all(feature = "bb8", feature = "deadpool"), doc = include_str!("../README.md"))]
#![cfg_attr(
    not(all(feature = "bb8", feature = "deadpool")),
    doc = "Microsoft Entra ID login for tokio-postgres, bb8 and deadpool. \
           Build with the `bb8` and `deadpool` features for the full documentation."
)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "bb8")]
mod bb8_manager;
mod connector;
#[cfg(feature = "deadpool")]
mod deadpool_manager;
mod error;
pub mod settings;
mod tls;

#[cfg(feature = "bb8")]
#[cfg_attr(docsrs, doc(cfg(feature = "bb8")))]
pub use bb8_manager::{Bb8ErrorSink, Bb8Manager};
pub use connector::{EntraConnector, EntraConnectorBuilder, connect};
#[cfg(feature = "deadpool")]
#[cfg_attr(docsrs, doc(cfg(feature = "deadpool")))]
pub use deadpool_manager::{DeadpoolError, DeadpoolManager, DeadpoolObject, DeadpoolPool};
pub use error::Error;
pub use settings::IntoConfig;
pub use tls::{PGSSLROOTCERT, Tls, TlsBuilder, TlsChoice};

/// Re-exported: the core crate ([`EntraAuth`](entra_pg_core::EntraAuth) and friends).
pub use entra_pg_core;
/// Re-exported: the driver, so versions always match.
pub use tokio_postgres;
/// Re-exported: the TLS connector type.
pub use tokio_postgres_rustls;

/// Re-exported (feature `bb8`): the pool, so versions always match.
#[cfg(feature = "bb8")]
#[cfg_attr(docsrs, doc(cfg(feature = "bb8")))]
pub use bb8;
/// Re-exported (feature `deadpool`): the pool, so versions always match.
#[cfg(feature = "deadpool")]
#[cfg_attr(docsrs, doc(cfg(feature = "deadpool")))]
pub use deadpool;
/// Re-exported (feature `deadpool`): `ClientWrapper` and the statement cache.
#[cfg(feature = "deadpool")]
#[cfg_attr(docsrs, doc(cfg(feature = "deadpool")))]
pub use deadpool_postgres;
