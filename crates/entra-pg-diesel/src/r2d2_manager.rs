//! An r2d2 connection manager for `diesel::PgConnection` with Entra login.

use diesel::{
    PgConnection,
    r2d2::{ManageConnection, R2D2Connection},
};

use crate::{Error, PgConnector};

/// An r2d2 [`ManageConnection`] for `diesel::PgConnection`: each new physical
/// connection is opened through a [`PgConnector`], so it logs in with the current
/// token from the shared cache. Use it as `diesel::r2d2::Pool<R2d2Manager>`; pooled
/// connections work with diesel's `RunQueryDsl` like any `PgConnection`.
///
/// Failures come back as [`Error`]: r2d2 hands each to its `error_handler`, and
/// `Pool::get` gives up after its `connection_timeout` with the last one in its
/// message. Connections are validated with diesel's ping (`SELECT 1`) and count
/// as broken as diesel's own manager decides (an unfinished transaction).
///
/// ```no_run
/// # fn run(connector: entra_pg_diesel::PgConnector) -> Result<(), Box<dyn std::error::Error>> {
/// use diesel::{RunQueryDsl, r2d2::Pool};
/// use entra_pg_diesel::R2d2Manager;
///
/// let pool = Pool::builder().max_size(10).build(R2d2Manager::new(connector))?;
/// let mut conn = pool.get()?;
/// diesel::sql_query("SELECT 1").execute(&mut conn)?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct R2d2Manager {
    connector: PgConnector,
}

impl R2d2Manager {
    /// A manager opening connections through `connector`.
    #[must_use]
    pub fn new(connector: PgConnector) -> Self {
        Self { connector }
    }

    /// The connector.
    #[must_use]
    pub fn connector(&self) -> &PgConnector {
        &self.connector
    }
}

impl ManageConnection for R2d2Manager {
    type Connection = PgConnection;
    type Error = Error;

    fn connect(&self) -> Result<PgConnection, Error> {
        self.connector.connect()
    }

    fn is_valid(&self, conn: &mut PgConnection) -> Result<(), Error> {
        conn.ping().map_err(Error::Query)
    }

    fn has_broken(&self, conn: &mut PgConnection) -> bool {
        std::thread::panicking() || conn.is_broken()
    }
}
