//! Integration tests of entra-pg-tokio: real PostgreSQL over TLS, the real
//! `azure_identity` credentials against the test kit's fake Entra endpoint.

mod cli;
mod direct;
mod outage;
mod pools;
mod redaction;
mod rotation;
mod settings;
mod support;
mod tls;
