//! Integration tests of entra-pg-sync: the shared driver suite for a direct
//! blocking connection and an r2d2 pool, and where blocking connects may run.

mod drivers;
mod threads;

entra_pg_testkit::driver_suite!(sync_direct, crate::drivers::Direct);
entra_pg_testkit::driver_suite!(sync_r2d2, crate::drivers::R2d2);
