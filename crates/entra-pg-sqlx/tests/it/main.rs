//! entra-pg-sqlx against a real PostgreSQL server over TLS and the test kit's Entra
//! endpoint, through the real `ManagedIdentityCredential`.

mod direct;
mod lifecycle;
mod outage;
mod pool;
mod redaction;
mod rotation;
mod support;
mod tls;
