//! [`PgConnectionManager`]: the r2d2 connection manager for `diesel::PgConnection`.

use diesel::{
    PgConnection,
    r2d2::{ManageConnection, R2D2Connection},
};
use entra_pg_core::ConnectError;

use crate::{DriverError, EntraConnector, Error};

/// An r2d2 [`ManageConnection`] for `diesel::PgConnection`: each new physical
/// connection is opened through an [`EntraConnector`], so it logs in with the
/// current token from the shared cache. Use it as [`R2d2Pool`]; pooled
/// connections work with diesel's `RunQueryDsl` like any `PgConnection`.
///
/// Failures come back as [`Error`]: r2d2 hands each to its `error_handler`, and
/// `Pool::get` gives up after its `connection_timeout` with the last one in its
/// message; the connector's [`last_failure`](EntraConnector::last_failure) has it
/// typed. Connections are validated with diesel's ping (`SELECT 1`) and count as
/// broken as diesel's own manager decides (an unfinished transaction).
#[derive(Clone, Debug)]
pub struct PgConnectionManager {
    connector: EntraConnector,
}

/// An r2d2 pool of Entra `diesel::PgConnection`s.
pub type R2d2Pool = diesel::r2d2::Pool<PgConnectionManager>;

impl PgConnectionManager {
    /// A manager opening connections through `connector`.
    #[must_use]
    pub fn new(connector: EntraConnector) -> Self {
        Self { connector }
    }

    /// The connector.
    #[must_use]
    pub fn connector(&self) -> &EntraConnector {
        &self.connector
    }
}

impl ManageConnection for PgConnectionManager {
    type Connection = PgConnection;
    type Error = Error;

    fn connect(&self) -> Result<PgConnection, Error> {
        self.connector.connect()
    }

    fn is_valid(&self, conn: &mut PgConnection) -> Result<(), Error> {
        conn.ping().map_err(|err| ConnectError::Driver {
            target: self.connector.target().describe().to_owned(),
            source: DriverError::Query(err),
        })
    }

    fn has_broken(&self, conn: &mut PgConnection) -> bool {
        std::thread::panicking() || conn.is_broken()
    }
}
