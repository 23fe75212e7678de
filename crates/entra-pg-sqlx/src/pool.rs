//! [`EntraPool`]: a sqlx `PgPool` whose new connections always log in with a
//! valid token.

use std::{fmt, ops::Deref, sync::Arc};

use entra_pg_core::EntraAuth;
use sqlx::{PgPool, Postgres, pool::PoolConnection};

use crate::{
    EntraConnectOptions, Error,
    refresher::{self, PoolLogin, RefreshMonitor, RefreshStatus, StopOnDrop},
};

/// A sqlx [`PgPool`] with Entra login, and the refresher that keeps its connect
/// options holding a valid token.
///
/// Use it wherever a `&PgPool` goes (it dereferences to one), or take
/// [`pool`](Self::pool). Clones share the pool and the refresher. The refresher
/// stops when the pool is [closed](Self::close) or when the last `EntraPool`
/// handle is dropped: keep an `EntraPool` (not only a cloned `PgPool`) for as long
/// as the pool is used.
#[derive(Clone)]
pub struct EntraPool {
    login: Arc<PoolLogin>,
    _refresher: Arc<StopOnDrop>,
}

impl EntraPool {
    pub(crate) fn start(
        options: EntraConnectOptions,
        pool: PgPool,
        first: entra_pg_core::ConnInfo,
    ) -> Self {
        let (settings, auth) = options.into_parts();
        let login = Arc::new(PoolLogin::new(auth, settings, pool, first));
        let refresher = refresher::spawn(Arc::clone(&login));
        Self {
            login,
            _refresher: Arc::new(refresher),
        }
    }

    /// The sqlx pool.
    #[must_use]
    pub fn pool(&self) -> &PgPool {
        &self.login.pool
    }

    /// The Entra login of this pool.
    #[must_use]
    pub fn auth(&self) -> &EntraAuth {
        &self.login.auth
    }

    /// A connection from the pool, with typed errors.
    ///
    /// Unlike `PgPool::acquire`, this first makes sure the pool's options hold an
    /// unexpired token: when none can be had and no idle connection is left, it
    /// returns the token error ([`Error::Entra`]) instead of letting the server
    /// refuse an expired token.
    ///
    /// # Errors
    /// [`Error::Entra`] as above; [`Certificate`](Error::Certificate),
    /// [`Rejected`](Error::Rejected) or [`Sqlx`](Error::Sqlx) (pool timeout
    /// included) from sqlx.
    pub async fn acquire(&self) -> Result<PoolConnection<Postgres>, Error> {
        if let Err(err) = self.login.ensure_fresh().await
            && self.login.pool.num_idle() == 0
        {
            return Err(Error::Entra(err));
        }
        self.login
            .pool
            .acquire()
            .await
            .map_err(|err| Error::from_connect(err, self.login.settings.host(), &self.login.user()))
    }

    /// What the refresher has done: last and next refresh, token expiry, last error.
    #[must_use]
    pub fn status(&self) -> RefreshStatus {
        self.login.status()
    }

    /// A watch on the refresher that does not keep the pool alive: read its state,
    /// or wait for a change or for it to stop.
    #[must_use]
    pub fn monitor(&self) -> RefreshMonitor {
        self.login.monitor()
    }

    /// Closes the pool (as [`PgPool::close`]) and stops the refresher.
    pub async fn close(&self) {
        self.login.pool.close().await;
    }
}

impl Deref for EntraPool {
    type Target = PgPool;

    fn deref(&self) -> &PgPool {
        &self.login.pool
    }
}

impl fmt::Debug for EntraPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `PgPool`'s Debug shows sizes and pool options, never the connect options.
        f.debug_struct("EntraPool")
            .field("pool", &self.login.pool)
            .field("settings", &self.login.settings)
            .field("refresh", &self.status())
            .finish()
    }
}
