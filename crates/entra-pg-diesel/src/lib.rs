#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(any(feature = "async-bb8", feature = "async-deadpool"))]
mod async_pg;
#[cfg(feature = "libpq")]
mod connector;
mod error;
#[cfg(feature = "libpq")]
mod libpq;
#[cfg(feature = "r2d2")]
mod manager;
#[cfg(feature = "libpq")]
mod redact;
#[cfg(feature = "libpq")]
mod roots;
#[cfg(feature = "libpq")]
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
    AsyncConnector, AsyncPgConnectionManager, async_connection, async_manager,
    async_manager_config, connect_async,
};
#[cfg(feature = "libpq")]
#[doc(hidden)]
pub use connector::Libpq;
#[cfg(feature = "libpq")]
#[cfg_attr(docsrs, doc(cfg(feature = "libpq")))]
pub use connector::{EntraConnector, EntraConnectorBuilder, IntoSettings, connect, redact_url};
pub use error::{DriverError, Error, into_connection_error};
#[cfg(feature = "libpq")]
#[cfg_attr(docsrs, doc(cfg(feature = "libpq")))]
pub use libpq::{LoginUrl, Settings};
#[cfg(feature = "r2d2")]
#[cfg_attr(docsrs, doc(cfg(feature = "r2d2")))]
pub use manager::{PgConnectionManager, R2d2Pool};

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
/// Re-exported (features `async-bb8`, `async-deadpool`): the async connector and
/// its TLS ([`Tls`](entra_pg_tokio::Tls)).
#[cfg(any(feature = "async-bb8", feature = "async-deadpool"))]
#[cfg_attr(
    docsrs,
    doc(cfg(any(feature = "async-bb8", feature = "async-deadpool")))
)]
pub use entra_pg_tokio;
