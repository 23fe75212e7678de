//! Connection settings of the blocking driver: what a connector accepts, and the
//! shared TLS rule and login applied to `postgres::Config`.

use entra_pg_core::Error as CoreError;
use entra_pg_tokio::{
    settings::PgSettings,
    tokio_postgres::config::{Host, SslMode},
};

/// Connection settings a connector accepts: a [`postgres::Config`], a
/// `tokio_postgres::Config`, or a conninfo string (`host=… dbname=…`) or URL
/// (`postgresql://…`). As with the tokio crate, libpq's `sslmode=verify-full` and
/// `verify-ca` are accepted in strings (rustls always verifies).
pub trait IntoConfig {
    /// Converts into a `postgres::Config`.
    ///
    /// # Errors
    /// When a string cannot be parsed.
    fn into_config(self) -> Result<postgres::Config, CoreError>;
}

impl IntoConfig for postgres::Config {
    fn into_config(self) -> Result<postgres::Config, CoreError> {
        Ok(self)
    }
}

impl IntoConfig for &postgres::Config {
    fn into_config(self) -> Result<postgres::Config, CoreError> {
        Ok(self.clone())
    }
}

impl IntoConfig for entra_pg_tokio::tokio_postgres::Config {
    fn into_config(self) -> Result<postgres::Config, CoreError> {
        Ok(self.into())
    }
}

impl IntoConfig for &str {
    fn into_config(self) -> Result<postgres::Config, CoreError> {
        entra_pg_tokio::IntoConfig::into_config(self).map(postgres::Config::from)
    }
}

impl IntoConfig for String {
    fn into_config(self) -> Result<postgres::Config, CoreError> {
        self.as_str().into_config()
    }
}

impl IntoConfig for &String {
    fn into_config(self) -> Result<postgres::Config, CoreError> {
        self.as_str().into_config()
    }
}

/// `postgres::Config` seen through the tokio crate's [`PgSettings`], so both
/// crates apply one TLS rule and one login rule.
#[derive(Clone, Debug)]
pub(crate) struct Settings(pub(crate) postgres::Config);

impl PgSettings for Settings {
    fn user(&self) -> Option<&str> {
        self.0.get_user()
    }
    fn set_user(&mut self, user: &str) {
        self.0.user(user);
    }
    fn has_password(&self) -> bool {
        self.0.get_password().is_some()
    }
    fn set_password(&mut self, password: &str) {
        self.0.password(password);
    }
    fn ssl_mode(&self) -> SslMode {
        self.0.get_ssl_mode()
    }
    fn set_ssl_mode(&mut self, mode: SslMode) {
        self.0.ssl_mode(mode);
    }
    fn hosts(&self) -> &[Host] {
        self.0.get_hosts()
    }
}
