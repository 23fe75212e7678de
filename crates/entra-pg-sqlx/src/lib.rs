#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod connect_options;
mod error;
mod pool;
mod refresher;
mod settings;

#[doc(hidden)]
pub use connect_options::Sqlx;
pub use connect_options::{EntraConnectOptions, EntraConnectOptionsBuilder, connect, connect_pool};
pub use error::Error;
pub use pool::EntraPool;
pub use refresher::{RefreshMonitor, RefreshStatus};
pub use settings::{IntoSettings, Settings};

/// Re-exported: the core crate ([`EntraAuth`](entra_pg_core::EntraAuth) and friends).
pub use entra_pg_core;
/// Re-exported: sqlx, so versions always match.
pub use sqlx;
