//! Integration tests of entra-pg-sync: real PostgreSQL over TLS, the real
//! `azure_identity` credentials against the test kit's fake Entra endpoint.

mod direct;
mod outage;
mod pool;
mod redaction;
mod rotation;
mod support;
mod tls;
