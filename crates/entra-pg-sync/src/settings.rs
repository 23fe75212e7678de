//! Connection settings of the blocking driver: what a connector accepts, read
//! through `entra-pg-tokio`'s one reading of PostgreSQL settings.

use entra_pg_core::Error as CoreError;
use entra_pg_tokio::{
    __private::{PgConfig, Settings},
    tokio_postgres::config::{Host, SslMode},
};

/// Connection settings a connector accepts: a [`postgres::Config`], a
/// `tokio_postgres::Config`, or a conninfo string (`host=… dbname=…`) or URL
/// (`postgresql://…`). As with `entra-pg-tokio`, libpq's `sslmode=verify-full`
/// is accepted in strings (rustls always verifies), and a `Config`'s default
/// `sslmode=prefer` counts as not set.
pub trait IntoSettings {
    /// Reads the settings.
    ///
    /// # Errors
    /// When a string cannot be parsed.
    fn into_settings(self) -> Result<Settings<SyncConfig>, CoreError>;
}

impl IntoSettings for postgres::Config {
    fn into_settings(self) -> Result<Settings<SyncConfig>, CoreError> {
        Ok(Settings::from_config(SyncConfig(self)))
    }
}

impl IntoSettings for &postgres::Config {
    fn into_settings(self) -> Result<Settings<SyncConfig>, CoreError> {
        self.clone().into_settings()
    }
}

impl IntoSettings for entra_pg_tokio::tokio_postgres::Config {
    fn into_settings(self) -> Result<Settings<SyncConfig>, CoreError> {
        entra_pg_tokio::IntoSettings::into_settings(self)
            .map(|settings| settings.map(|config| SyncConfig(config.into())))
    }
}

impl IntoSettings for &str {
    fn into_settings(self) -> Result<Settings<SyncConfig>, CoreError> {
        entra_pg_tokio::IntoSettings::into_settings(self)
            .map(|settings| settings.map(|config| SyncConfig(config.into())))
    }
}

impl IntoSettings for String {
    fn into_settings(self) -> Result<Settings<SyncConfig>, CoreError> {
        self.as_str().into_settings()
    }
}

impl IntoSettings for &String {
    fn into_settings(self) -> Result<Settings<SyncConfig>, CoreError> {
        self.as_str().into_settings()
    }
}

/// `postgres::Config` seen through `entra-pg-tokio`'s reading of settings, so
/// both crates follow one rule. Not API beyond naming the settings type.
#[doc(hidden)]
#[derive(Clone, Debug)]
pub struct SyncConfig(pub(crate) postgres::Config);

impl PgConfig for SyncConfig {
    fn hosts(&self) -> &[Host] {
        self.0.get_hosts()
    }
    fn hostaddrs(&self) -> &[std::net::IpAddr] {
        self.0.get_hostaddrs()
    }
    fn ports(&self) -> &[u16] {
        self.0.get_ports()
    }
    fn user(&self) -> Option<&str> {
        self.0.get_user()
    }
    fn set_user(&mut self, user: &str) {
        self.0.user(user);
    }
    fn has_password(&self) -> bool {
        self.0
            .get_password()
            .is_some_and(|password| !password.is_empty())
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
}
