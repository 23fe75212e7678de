// The README is the crate documentation; its examples need every entry point
// (docs.rs and `cargo xtask test` build with all features).
#![cfg_attr(
    all(feature = "r2d2", feature = "async-bb8", feature = "async-deadpool"),
    doc = include_str!("../README.md")
)]
#![cfg_attr(
    not(all(feature = "r2d2", feature = "async-bb8", feature = "async-deadpool")),
    doc = "Microsoft Entra ID login for diesel (r2d2) and diesel-async (bb8, deadpool). \
           Build with the `r2d2`, `async-bb8` and `async-deadpool` features for the full \
           documentation."
)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(any(feature = "async-bb8", feature = "async-deadpool"))]
mod async_pg;
#[cfg(feature = "r2d2")]
mod connector;
mod error;
#[cfg(feature = "r2d2")]
mod r2d2_manager;
#[cfg(feature = "r2d2")]
mod settings;

#[cfg(feature = "async-bb8")]
#[cfg_attr(docsrs, doc(cfg(feature = "async-bb8")))]
pub use async_pg::AsyncBb8Pool;
#[cfg(feature = "async-deadpool")]
#[cfg_attr(docsrs, doc(cfg(feature = "async-deadpool")))]
pub use async_pg::AsyncDeadpoolPool;
#[cfg(any(feature = "async-bb8", feature = "async-deadpool"))]
#[cfg_attr(
    docsrs,
    doc(cfg(any(feature = "async-bb8", feature = "async-deadpool")))
)]
pub use async_pg::{
    AsyncConnector, AsyncManager, async_manager, async_manager_config, connect_async,
};
#[cfg(feature = "r2d2")]
#[cfg_attr(docsrs, doc(cfg(feature = "r2d2")))]
pub use connector::{LoginUrl, PgConnector, PgConnectorBuilder, redact_url};
pub use error::Error;
#[cfg(feature = "r2d2")]
#[cfg_attr(docsrs, doc(cfg(feature = "r2d2")))]
pub use r2d2_manager::R2d2Manager;
#[cfg(feature = "r2d2")]
#[cfg_attr(docsrs, doc(cfg(feature = "r2d2")))]
pub use settings::PGSSLROOTCERT;

/// Re-exported: the ORM, so versions always match.
pub use diesel;
/// Re-exported (features `async-bb8`, `async-deadpool`): the async ORM, so
/// versions always match.
#[cfg(any(feature = "async-bb8", feature = "async-deadpool"))]
#[cfg_attr(
    docsrs,
    doc(cfg(any(feature = "async-bb8", feature = "async-deadpool")))
)]
pub use diesel_async;
/// Re-exported: the core crate ([`EntraAuth`](entra_pg_core::EntraAuth) and friends).
pub use entra_pg_core;
/// Re-exported: the async connector and its TLS ([`Tls`](entra_pg_tokio::Tls)).
pub use entra_pg_tokio;
