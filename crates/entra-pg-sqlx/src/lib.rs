#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod connect_options;
mod error;
pub mod options;
mod pool;
mod refresher;

pub use connect_options::{EntraConnectOptions, EntraConnectOptionsBuilder, connect, connect_pool};
pub use error::Error;
pub use options::IntoOptions;
pub use pool::EntraPool;
pub use refresher::{RefreshMonitor, RefreshStatus};

/// Re-exported: the core crate ([`EntraAuth`](entra_pg_core::EntraAuth) and friends).
pub use entra_pg_core;
/// Re-exported: sqlx, so versions always match.
pub use sqlx;
