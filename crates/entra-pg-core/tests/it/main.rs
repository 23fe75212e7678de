//! Integration tests of entra-pg-core: the real `azure_identity` credentials against
//! the test kit's fake Entra endpoint, and a real PostgreSQL server over TLS.

mod blocking;
mod cache;
mod claims;
mod contract;
mod kit;
mod redaction;
mod server;
mod support;
mod user;
