//! Integration tests of entra-pg-sqlx: the shared driver suite for a single
//! `PgConnection` and an `EntraPool`, and the pool refresher's own lifecycle.

mod drivers;
mod refresher;

entra_pg_testkit::driver_suite!(sqlx_connection, crate::drivers::Connection);
entra_pg_testkit::driver_suite!(sqlx_pool, crate::drivers::Pool);
