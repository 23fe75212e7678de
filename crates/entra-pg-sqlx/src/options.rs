//! Reading the caller's sqlx settings: the TLS rule, whether a user was given, and
//! the login step that adds the user and token for one connection.

use std::{fmt, str::FromStr};

use entra_pg_core::{ConnInfo, Error as CoreError};
use sqlx::postgres::{PgConnectOptions, PgSslMode};

/// Environment variable sqlx reads the default `sslmode` from.
const PGSSLMODE: &str = "PGSSLMODE";
/// Environment variable sqlx reads an extra root certificate file from.
const PGSSLROOTCERT: &str = "PGSSLROOTCERT";

/// Settings an [`EntraConnectOptions`](crate::EntraConnectOptions) can start from:
/// [`PgConnectOptions`], or a `postgres://` URL.
///
/// Leave out the user to have it derived from the token, and the password: the
/// token is always the password.
pub trait IntoOptions {
    /// The settings, and the `sslmode` the caller asked for explicitly, if any.
    ///
    /// # Errors
    /// [`InvalidConfig`](CoreError::InvalidConfig) for a URL sqlx cannot read.
    fn into_options(self) -> Result<Given, CoreError>;
}

/// Settings as the caller gave them, before the TLS rule is applied.
pub struct Given {
    options: PgConnectOptions,
    explicit_ssl_mode: bool,
}

impl IntoOptions for PgConnectOptions {
    fn into_options(self) -> Result<Given, CoreError> {
        // `PgConnectOptions` keeps no record of whether `ssl_mode` was set; sqlx's
        // default (`prefer`) is taken as "not set" unless `PGSSLMODE` says it.
        Ok(Given {
            options: self,
            explicit_ssl_mode: std::env::var_os(PGSSLMODE).is_some(),
        })
    }
}

impl IntoOptions for &PgConnectOptions {
    fn into_options(self) -> Result<Given, CoreError> {
        self.clone().into_options()
    }
}

impl IntoOptions for &str {
    fn into_options(self) -> Result<Given, CoreError> {
        let options = PgConnectOptions::from_str(self).map_err(|err| CoreError::InvalidConfig {
            reason: format!(
                "cannot read the connection URL ({err}); use the form \
                 postgres://host:5432/database?sslmode=verify-full"
            ),
        })?;
        let in_url = url_names_ssl_mode(self);
        let mut given = options.into_options()?;
        given.explicit_ssl_mode |= in_url;
        Ok(given)
    }
}

impl IntoOptions for String {
    fn into_options(self) -> Result<Given, CoreError> {
        self.as_str().into_options()
    }
}

impl IntoOptions for &String {
    fn into_options(self) -> Result<Given, CoreError> {
        self.as_str().into_options()
    }
}

/// Whether a URL's query names an `sslmode` (sqlx also reads `ssl-mode`).
fn url_names_ssl_mode(url: &str) -> bool {
    url.split_once('?').is_some_and(|(_, query)| {
        query.split('&').any(|pair| {
            let key = pair.split_once('=').map_or(pair, |(key, _)| key);
            key.eq_ignore_ascii_case("sslmode") || key.eq_ignore_ascii_case("ssl-mode")
        })
    })
}

/// The caller's settings, checked: TLS that verifies the server unless the caller
/// opted out, and whether the user comes from the token.
#[derive(Clone)]
pub(crate) struct Checked {
    options: PgConnectOptions,
    user_from_token: bool,
}

impl Checked {
    /// Applies the TLS rule: `verify-full` unless set otherwise; `verify-ca` is
    /// accepted; `require`, `prefer`, `allow` and `disable` only with
    /// `allow_insecure`.
    pub(crate) fn new(
        given: Given,
        root_pem: Option<Vec<u8>>,
        allow_insecure: bool,
    ) -> Result<Self, CoreError> {
        let Given {
            mut options,
            explicit_ssl_mode,
        } = given;
        let mode = options.get_ssl_mode();
        match mode {
            PgSslMode::VerifyFull | PgSslMode::VerifyCa => {}
            PgSslMode::Prefer if !explicit_ssl_mode => {
                options = options.ssl_mode(PgSslMode::VerifyFull);
            }
            _ if allow_insecure => {
                tracing::warn!(
                    host = options.get_host(),
                    sslmode = mode_name(mode),
                    "entra-pg: the server certificate is not verified \
                     (danger_allow_insecure_transport); the token can be read by anyone \
                     who can intercept this connection"
                );
            }
            _ => {
                return Err(CoreError::InsecureTransport {
                    reason: format!(
                        "sslmode={} does not verify the server certificate of {}, so the token \
                         could be sent to an impostor; use sslmode=verify-full (the default when \
                         no sslmode is given), or, for a local test server only, \
                         danger_allow_insecure_transport(true)",
                        mode_name(mode),
                        options.get_host()
                    ),
                });
            }
        }
        if let Some(pem) = root_pem {
            options = options.ssl_root_cert_from_pem(pem);
        } else if std::env::var_os(PGSSLROOTCERT).is_some_and(|value| value == "system") {
            // libpq's "system": sqlx would read it as a file name. Its rustls set-up
            // always trusts the Mozilla roots; add nothing to them.
            options = options.ssl_root_cert_from_pem(Vec::new());
        }
        let user_from_token = is_default_user(&options);
        Ok(Self {
            options,
            user_from_token,
        })
    }

    /// The settings for one connection: the user (unless given) and the token.
    ///
    /// The result's `Debug` output shows the token: never log it.
    pub(crate) fn with_login(&self, login: &ConnInfo) -> PgConnectOptions {
        let options = self.options.clone().password(login.password());
        if self.user_from_token {
            options.username(login.user())
        } else {
            options
        }
    }

    /// The user a login with `login` connects as.
    pub(crate) fn user<'a>(&'a self, login: &'a ConnInfo) -> &'a str {
        if self.user_from_token {
            login.user()
        } else {
            self.options.get_username()
        }
    }

    /// The server host name, for error messages.
    pub(crate) fn host(&self) -> &str {
        self.options.get_host()
    }
}

impl fmt::Debug for Checked {
    /// Never the options' own `Debug`: it prints the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("host", &self.options.get_host())
            .field("port", &self.options.get_port())
            .field("database", &self.options.get_database())
            .field(
                "user",
                &(!self.user_from_token).then(|| self.options.get_username()),
            )
            .field("sslmode", &mode_name(self.options.get_ssl_mode()))
            .finish_non_exhaustive()
    }
}

/// Whether the options' user is sqlx's default (`PGUSER`, else the OS user), which
/// means the caller named none: with `PGUSER` unset, a user equal to the OS user's
/// name is taken as "not given".
fn is_default_user(options: &PgConnectOptions) -> bool {
    if std::env::var_os("PGUSER").is_some() {
        return false;
    }
    options.get_username() == PgConnectOptions::new_without_pgpass().get_username()
}

/// libpq's name of an `sslmode`.
pub(crate) fn mode_name(mode: PgSslMode) -> &'static str {
    match mode {
        PgSslMode::Disable => "disable",
        PgSslMode::Allow => "allow",
        PgSslMode::Prefer => "prefer",
        PgSslMode::Require => "require",
        PgSslMode::VerifyCa => "verify-ca",
        PgSslMode::VerifyFull => "verify-full",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_query_names_ssl_mode() {
        assert!(url_names_ssl_mode("postgres://h/db?sslmode=prefer"));
        assert!(url_names_ssl_mode(
            "postgres://h/db?application_name=a&ssl-mode=require"
        ));
        assert!(!url_names_ssl_mode(
            "postgres://h/db?application_name=sslmode"
        ));
        assert!(!url_names_ssl_mode("postgres://h/db"));
    }
}
