//! Integration tests of entra-pg-diesel: the shared driver suite for libpq
//! connections, the r2d2 pool and the two diesel-async pools, the login URL on
//! arbitrary settings, diesel's instrumentation, and diesel's DSL on a real table.

mod drivers;
mod instrumentation;
mod login_url;
mod orm;

entra_pg_testkit::driver_suite!(diesel_libpq, crate::drivers::Libpq);
entra_pg_testkit::driver_suite!(diesel_r2d2, crate::drivers::R2d2);
entra_pg_testkit::driver_suite!(diesel_async_bb8, crate::drivers::AsyncBb8);
entra_pg_testkit::driver_suite!(diesel_async_deadpool, crate::drivers::AsyncDeadpool);
