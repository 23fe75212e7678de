#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod connector;
mod error;
#[cfg(any(feature = "bb8", feature = "deadpool"))]
mod manager;
mod settings;
mod tls;

pub use connector::{EntraConnector, EntraConnectorBuilder, connect, connect_with_tls};
pub use error::Error;
#[cfg(feature = "bb8")]
pub use manager::Bb8Pool;
#[cfg(any(feature = "bb8", feature = "deadpool"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "bb8", feature = "deadpool"))))]
pub use manager::ClientManager;
#[cfg(feature = "deadpool")]
pub use manager::{DeadpoolError, DeadpoolObject, DeadpoolPool};
pub use settings::IntoSettings;
pub use tls::{Tls, TlsBuilder};

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

/// Not API: shared with `entra-pg-sync` and `entra-pg-diesel`, which build on
/// this crate's settings, TLS and error reading. May change in any release.
#[doc(hidden)]
pub mod __private {
    pub use crate::{
        connector::{Shared, default_tls},
        error::classify,
        settings::{Checked, PgConfig, Settings},
    };

    /// The connector flavor of this crate (see `entra_pg_core::connector`).
    #[derive(Debug)]
    pub struct Tokio;

    /// Drives a connection on the current Tokio runtime until it closes.
    pub fn spawn_connection<S>(
        connection: tokio_postgres::Connection<tokio_postgres::Socket, S>,
    ) -> tokio::task::JoinHandle<()>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, "entra-pg: connection closed with an error");
            }
        })
    }
}
