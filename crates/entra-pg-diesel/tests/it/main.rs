//! Integration tests of entra-pg-diesel: real PostgreSQL over TLS, the real
//! `azure_identity` credentials against the test kit's fake Entra endpoint, and a
//! real table used through diesel.

mod login_url;
mod outage;
mod pools;
mod redaction;
mod rotation;
mod support;
mod sync_direct;
mod tls;
mod users;
