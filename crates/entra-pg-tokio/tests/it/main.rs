//! Integration tests of entra-pg-tokio: the shared driver suite for each of its
//! paths (a real PostgreSQL over TLS, the hostile server, the real `azure_identity`
//! credentials against the test kit's endpoint), and the crate's own settings and
//! TLS tests.

mod drivers;
mod settings;
mod tls;

entra_pg_testkit::driver_suite!(tokio_direct, crate::drivers::Direct);
entra_pg_testkit::driver_suite!(tokio_bb8, crate::drivers::Bb8);
entra_pg_testkit::driver_suite!(tokio_deadpool, crate::drivers::Deadpool);
