//! Connection settings: what a connector accepts, the TLS rule, and the login.

use entra_pg_core::{ConnInfo, Error as CoreError};
use tokio_postgres::{
    Config,
    config::{Host, SslMode},
};

/// Connection settings a connector accepts: a [`tokio_postgres::Config`], or a
/// conninfo string (`host=… dbname=…`) or URL (`postgresql://…`).
///
/// libpq's `sslmode=verify-full` and `sslmode=verify-ca` are accepted in strings and
/// mean `require` here: the rustls connector always verifies chain and host name.
pub trait IntoConfig {
    /// Converts into a `tokio_postgres::Config`.
    ///
    /// # Errors
    /// When a string cannot be parsed.
    fn into_config(self) -> Result<Config, CoreError>;
}

impl IntoConfig for Config {
    fn into_config(self) -> Result<Config, CoreError> {
        Ok(self)
    }
}

impl IntoConfig for &Config {
    fn into_config(self) -> Result<Config, CoreError> {
        Ok(self.clone())
    }
}

impl IntoConfig for &str {
    fn into_config(self) -> Result<Config, CoreError> {
        let normalized = self
            .replace("sslmode=verify-full", "sslmode=require")
            .replace("sslmode=verify-ca", "sslmode=require");
        // The parser's messages name the option, never echo the value.
        normalized.parse().map_err(|err| CoreError::InvalidConfig {
            reason: format!(
                "cannot parse the PostgreSQL connection settings ({err}); use \
                     `key=value` pairs or a postgresql:// URL, and percent-encode a user \
                     name with `@` in a URL (me%40contoso.com)"
            ),
        })
    }
}

impl IntoConfig for String {
    fn into_config(self) -> Result<Config, CoreError> {
        self.as_str().into_config()
    }
}

impl IntoConfig for &String {
    fn into_config(self) -> Result<Config, CoreError> {
        self.as_str().into_config()
    }
}

/// What the TLS rule and the login need from a driver's settings type. Implemented
/// for [`tokio_postgres::Config`]; the blocking crate implements it for
/// `postgres::Config`, so both follow one rule.
pub trait PgSettings {
    /// The user, if set.
    fn user(&self) -> Option<&str>;
    /// Sets the user.
    fn set_user(&mut self, user: &str);
    /// Whether a password is set.
    fn has_password(&self) -> bool;
    /// Sets the password.
    fn set_password(&mut self, password: &str);
    /// The `sslmode`.
    fn ssl_mode(&self) -> SslMode;
    /// Sets the `sslmode`.
    fn set_ssl_mode(&mut self, mode: SslMode);
    /// The hosts.
    fn hosts(&self) -> &[Host];
}

impl PgSettings for Config {
    fn user(&self) -> Option<&str> {
        self.get_user()
    }
    fn set_user(&mut self, user: &str) {
        Self::user(self, user);
    }
    fn has_password(&self) -> bool {
        self.get_password().is_some()
    }
    fn set_password(&mut self, password: &str) {
        self.password(password);
    }
    fn ssl_mode(&self) -> SslMode {
        self.get_ssl_mode()
    }
    fn set_ssl_mode(&mut self, mode: SslMode) {
        Self::ssl_mode(self, mode);
    }
    fn hosts(&self) -> &[Host] {
        self.get_hosts()
    }
}

/// Driver settings checked once for Entra login: the TLS rule applied, the hosts
/// described for messages, a static login (user and password given) detected.
/// Both connectors (this crate's and `entra-pg-sync`'s) hold one, so they follow
/// one rule.
#[derive(Clone, Debug)]
pub struct CheckedSettings<C> {
    config: C,
    hosts: String,
    static_login: bool,
}

impl<C: PgSettings + Clone> CheckedSettings<C> {
    /// Applies the TLS rule: `sslmode=prefer` (tokio-postgres' default, which falls
    /// back to plaintext) becomes `require`; `disable` is refused unless
    /// `allow_plaintext` (the dangerous opt-out for local servers) is set.
    ///
    /// # Errors
    /// [`InsecureTransport`](CoreError::InsecureTransport) for `sslmode=disable`
    /// without the opt-out.
    pub fn new(mut config: C, allow_plaintext: bool) -> Result<Self, CoreError> {
        enforce_tls(&mut config, allow_plaintext)?;
        Ok(Self {
            hosts: describe_hosts(&config),
            static_login: is_static_login(&config),
            config,
        })
    }

    /// Whether the settings carry both a user and a password: then they are a
    /// static login and Entra is not used at all.
    #[must_use]
    pub fn is_static_login(&self) -> bool {
        self.static_login
    }

    /// The hosts, for messages (`localhost,db2`).
    #[must_use]
    pub fn hosts(&self) -> &str {
        &self.hosts
    }

    /// The settings for one new connection: with `login` (none for a static
    /// login), the user is set only when the settings have none, and the token is
    /// always the password.
    #[must_use]
    pub fn with_login(&self, login: Option<&ConnInfo>) -> C {
        let mut config = self.config.clone();
        if let Some(login) = login {
            apply_login(&mut config, login);
        }
        config
    }
}

/// The TLS rule of [`CheckedSettings::new`].
fn enforce_tls(config: &mut impl PgSettings, allow_plaintext: bool) -> Result<(), CoreError> {
    match config.ssl_mode() {
        SslMode::Disable if allow_plaintext => Ok(()),
        SslMode::Disable => Err(CoreError::InsecureTransport {
            reason: "the connection settings say sslmode=disable, which would send the token \
                     in the clear; remove it (sslmode=require is used), or for a local test \
                     server only, opt out with danger_allow_plaintext"
                .to_owned(),
        }),
        _ => {
            config.set_ssl_mode(SslMode::Require);
            Ok(())
        }
    }
}

fn is_static_login(config: &impl PgSettings) -> bool {
    config.user().is_some() && config.has_password()
}

fn apply_login(config: &mut impl PgSettings, login: &ConnInfo) {
    if config.user().is_none() {
        config.set_user(login.user());
    }
    config.set_password(login.password());
}

fn describe_hosts(config: &impl PgSettings) -> String {
    let hosts: Vec<String> = config
        .hosts()
        .iter()
        .map(|host| match host {
            Host::Tcp(name) => name.clone(),
            Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    if hosts.is_empty() {
        "the configured host".to_owned()
    } else {
        hosts.join(",")
    }
}
