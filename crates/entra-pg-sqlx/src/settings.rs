//! Reading the caller's sqlx settings as a [`Destination`], the login step that
//! adds the user and token for one connection, and the roots sqlx trusts.

use std::{fmt, path::PathBuf, str::FromStr};

use entra_pg_core::{
    Destination, EntraAuth, Error as CoreError, Login, SslMode, Target, TargetHost,
    connector::Roots,
};
use sqlx::{
    ConnectOptions as _,
    postgres::{PgConnectOptions, PgSslMode},
};

/// Settings an [`EntraConnectOptions`](crate::EntraConnectOptions) can start from:
/// [`PgConnectOptions`], or a `postgres://` URL.
///
/// Leave out the user to have it derived from the token, and the password: the
/// token is the password (a user *and* a password make a static login).
/// Environment variables that sqlx reads never weaken the rules: an `sslmode`
/// from `PGSSLMODE` and a root from `PGSSLROOTCERT` are ignored.
pub trait IntoSettings {
    /// Reads the settings.
    ///
    /// # Errors
    /// [`InvalidConfig`](CoreError::InvalidConfig) for a URL sqlx cannot read.
    fn into_settings(self) -> Result<Settings, CoreError>;
}

/// The caller's settings, read, before the contract is applied.
pub struct Settings {
    options: PgConnectOptions,
    ssl_mode: Option<SslMode>,
    user_given: bool,
    password_given: bool,
    has_host: bool,
    root: Option<RootInput>,
}

enum RootInput {
    File(PathBuf),
    Pem(Vec<u8>),
}

impl IntoSettings for PgConnectOptions {
    fn into_settings(self) -> Result<Settings, CoreError> {
        // `PgConnectOptions` keeps no record of what was set: a value equal to the
        // environment's (or to sqlx's default) counts as not set.
        let env_mode = env("PGSSLMODE")
            .and_then(|mode| PgSslMode::from_str(&mode).ok())
            .map(libpq_mode);
        let mode = libpq_mode(self.get_ssl_mode());
        let ssl_mode = (mode != SslMode::Prefer && Some(mode) != env_mode).then_some(mode);
        let user_given = env("PGUSER").is_some()
            || self.get_username() != Self::new_without_pgpass().get_username();
        Ok(Settings::read(self, ssl_mode, user_given, true))
    }
}

impl IntoSettings for &PgConnectOptions {
    fn into_settings(self) -> Result<Settings, CoreError> {
        self.clone().into_settings()
    }
}

impl IntoSettings for &str {
    fn into_settings(self) -> Result<Settings, CoreError> {
        let invalid = |what: String| CoreError::InvalidConfig {
            reason: format!(
                "cannot read the connection URL ({what}); use the form \
                 postgres://myserver.postgres.database.azure.com:5432/postgres"
            ),
        };
        let options = PgConnectOptions::from_str(self).map_err(|err| invalid(err.to_string()))?;
        let url = url::Url::parse(self).map_err(|err| invalid(err.to_string()))?;
        let query = |names: &[&str]| {
            url.query_pairs()
                .filter(|(key, _)| names.iter().any(|name| key.eq_ignore_ascii_case(name)))
                .map(|(_, value)| value.into_owned())
                .last()
        };
        let ssl_mode = query(&["sslmode", "ssl-mode"]).map(|_| libpq_mode(options.get_ssl_mode()));
        let user_given = !url.username().is_empty() || query(&["user"]).is_some();
        let has_host = url.host_str().is_some_and(|host| !host.is_empty())
            || query(&["host", "hostaddr"]).is_some();
        let mut settings = Settings::read(options, ssl_mode, user_given, has_host);
        settings.password_given |= url.password().is_some() || query(&["password"]).is_some();
        Ok(settings)
    }
}

impl IntoSettings for String {
    fn into_settings(self) -> Result<Settings, CoreError> {
        self.as_str().into_settings()
    }
}

impl IntoSettings for &String {
    fn into_settings(self) -> Result<Settings, CoreError> {
        self.as_str().into_settings()
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

impl Settings {
    fn read(
        options: PgConnectOptions,
        ssl_mode: Option<SslMode>,
        user_given: bool,
        has_host: bool,
    ) -> Self {
        // sqlx's own URL form of the options is the one way to read the password
        // and the root certificate it holds. It panics on user and host names that
        // do not fit in a URL (a socket path from PGHOST, say), so it is made of a
        // copy with harmless ones.
        let url = options
            .clone()
            .username("entra-pg")
            .host("localhost")
            .to_url_lossy();
        let password_given = url.password().is_some_and(|password| !password.is_empty());
        let from_env = env("PGSSLROOTCERT").map(|value| format!("file: {value}"));
        let root = url
            .query_pairs()
            .find(|(key, _)| key == "sslrootcert")
            .map(|(_, value)| value.into_owned())
            .filter(|value| Some(value) != from_env.as_ref())
            .map(|value| match value.strip_prefix("file: ") {
                Some(path) => RootInput::File(PathBuf::from(path)),
                None => RootInput::Pem(value.into_bytes()),
            });
        Self {
            options,
            ssl_mode,
            user_given,
            password_given,
            has_host,
            root,
        }
    }

    /// Applies the contract, and gives the options the roots to trust: sqlx's
    /// default set plus `roots` and a root the settings named (never
    /// `PGSSLROOTCERT`).
    pub(crate) fn check(
        self,
        auth: &EntraAuth,
        roots: &Roots,
        insecure: bool,
    ) -> Result<Checked, CoreError> {
        let options = self.options;
        let host = options.get_host();
        let host = match options.get_socket() {
            Some(socket) => TargetHost::Socket(socket.display().to_string()),
            None => TargetHost::from_libpq(host),
        };
        let host_origin = (env("PGHOST").as_deref() == Some(options.get_host())
            || env("PGHOSTADDR").as_deref() == Some(options.get_host()))
        .then_some("PGHOST or PGHOSTADDR in the environment");
        let mut destination = Destination::new("sqlx")
            .ssl_mode(self.ssl_mode)
            .port(options.get_port())
            .user(self.user_given.then(|| options.get_username()))
            .password(self.password_given)
            .host_origin(host_origin)
            .allow_insecure_transport(insecure);
        if self.has_host {
            destination = destination.host(host);
        }
        let target = auth.target(destination)?;
        let mut pem = roots.pem().to_vec();
        match self.root {
            Some(RootInput::File(path)) => {
                let file = std::fs::read(&path).map_err(|err| CoreError::InvalidConfig {
                    reason: format!(
                        "cannot read the root CA file {} named by sslrootcert in the settings \
                         ({err}); give the path of a PEM file holding the server's root CA",
                        path.display()
                    ),
                })?;
                pem.extend_from_slice(&file);
            }
            Some(RootInput::Pem(text)) => pem.extend_from_slice(&text),
            None => {}
        }
        let options = options
            .ssl_mode(sqlx_mode(target.ssl_mode()))
            .ssl_root_cert_from_pem(pem);
        Ok(Checked { options, target })
    }
}

/// The caller's settings, checked.
#[derive(Clone)]
pub(crate) struct Checked {
    options: PgConnectOptions,
    target: Target,
}

impl Checked {
    pub(crate) fn target(&self) -> &Target {
        &self.target
    }

    /// The options for one connection: the user (unless given) and the token.
    ///
    /// The result's `Debug` output shows the token: never log it.
    pub(crate) fn with_login(&self, login: Option<&Login>) -> PgConnectOptions {
        let Some(login) = login else {
            return self.options.clone();
        };
        let options = self.options.clone().password(login.password());
        if self.target.user().is_some() {
            options
        } else {
            options.username(login.user())
        }
    }

    /// The user a connection logs in as.
    pub(crate) fn user<'a>(&'a self, login: Option<&'a Login>) -> &'a str {
        match (self.target.user(), login) {
            (Some(user), _) => user,
            (None, Some(login)) => login.user(),
            (None, None) => self.options.get_username(),
        }
    }
}

impl fmt::Debug for Checked {
    /// Never the options' own `Debug`: it prints the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("host", &self.options.get_host())
            .field("port", &self.options.get_port())
            .field("database", &self.options.get_database())
            .field("user", &self.target.user())
            .field("sslmode", &self.target.ssl_mode())
            .finish_non_exhaustive()
    }
}

fn libpq_mode(mode: PgSslMode) -> SslMode {
    match mode {
        PgSslMode::Disable => SslMode::Disable,
        PgSslMode::Allow => SslMode::Allow,
        PgSslMode::Prefer => SslMode::Prefer,
        PgSslMode::Require => SslMode::Require,
        PgSslMode::VerifyCa => SslMode::VerifyCa,
        PgSslMode::VerifyFull => SslMode::VerifyFull,
    }
}

fn sqlx_mode(mode: SslMode) -> PgSslMode {
    match mode {
        SslMode::Disable => PgSslMode::Disable,
        SslMode::Allow => PgSslMode::Allow,
        SslMode::Prefer => PgSslMode::Prefer,
        SslMode::Require => PgSslMode::Require,
        SslMode::VerifyCa => PgSslMode::VerifyCa,
        _ => PgSslMode::VerifyFull,
    }
}
