//! [`PgConnector`]: libpq settings + [`EntraAuth`], opening `diesel::PgConnection`s.

use std::{
    fmt,
    path::{Path, PathBuf},
};

use diesel::{Connection, PgConnection};
use entra_pg_core::{EntraAuth, Error as CoreError};
use percent_encoding::utf8_percent_encode;
use tracing::debug;

use crate::{
    Error,
    settings::{CheckedParams, Params},
};

/// Opens `diesel::PgConnection`s (libpq) that log in with Microsoft Entra ID.
///
/// Holds the base settings (TLS rule applied, root bundle chosen) and the shared
/// [`EntraAuth`]. Each [`connect`](Self::connect) takes the user and the current
/// token from [`EntraAuth::conninfo_blocking`] (no request while the token is
/// fresh), builds a libpq URL with both percent-encoded, and calls
/// `PgConnection::establish`. Clones share everything; [`R2d2Manager`](crate::R2d2Manager)
/// holds one.
///
/// Like every libpq call, `connect` blocks: use it on plain threads or inside
/// `tokio::task::spawn_blocking`, not on an async executor's worker thread.
#[derive(Clone)]
pub struct PgConnector {
    settings: CheckedParams,
    auth: EntraAuth,
}

impl PgConnector {
    /// A connector for libpq `settings`: a `postgresql://` URL or a `key=value`
    /// string, normally without user and password (Entra fills both).
    ///
    /// # Errors
    /// When the settings cannot be parsed, name an sslmode other than
    /// `verify-full`, or no root certificate bundle can be found.
    pub fn new(settings: &str, auth: EntraAuth) -> Result<Self, Error> {
        Self::builder(settings, auth).build()
    }

    /// A builder, to name the root CA file or set the dangerous opt-out.
    pub fn builder(settings: &str, auth: EntraAuth) -> PgConnectorBuilder {
        PgConnectorBuilder {
            params: Params::parse(settings),
            auth,
            root_cert: None,
            allow_insecure: false,
        }
    }

    /// The libpq URL for one new connection: the base settings with the user
    /// (when they have none) and the current token as the password, each value
    /// percent-encoded. Blocks only when a token must be fetched.
    ///
    /// Handle the result as a secret: it holds the token (its `Debug` does not).
    ///
    /// # Errors
    /// When no token can be had (see [`EntraAuth::conninfo_blocking`]).
    pub fn login_url(&self) -> Result<LoginUrl, Error> {
        let login = if self.settings.is_static_login() {
            None
        } else {
            Some(self.auth.conninfo_blocking()?)
        };
        let params = self.settings.with_login(login.as_ref());
        Ok(LoginUrl {
            user: params.get("user").unwrap_or_default().to_owned(),
            password: params.get("password").unwrap_or_default().to_owned(),
            url: params.to_url(),
        })
    }

    /// Opens one connection.
    ///
    /// # Errors
    /// [`Error::Entra`] when no token can be had or the server offers no TLS,
    /// [`Error::Certificate`] when its certificate is not trusted,
    /// [`Error::Rejected`] when it refuses the login, [`Error::Connection`] otherwise.
    pub fn connect(&self) -> Result<PgConnection, Error> {
        let login = self.login_url()?;
        let hosts = self.settings.hosts();
        // Never the URL: it holds the token.
        debug!(user = login.user, hosts, "entra-pg: connecting (libpq)");
        PgConnection::establish(login.expose()).map_err(|err| {
            let encoded = utf8_percent_encode(&login.password, crate::settings::VALUE).to_string();
            Error::from_libpq(err, hosts, &login.user, &[&login.password, &encoded])
        })
    }

    /// The shared [`EntraAuth`].
    #[must_use]
    pub fn auth(&self) -> &EntraAuth {
        &self.auth
    }

    /// Whether the settings carry their own user and password, so Entra is not used.
    #[must_use]
    pub fn is_static_login(&self) -> bool {
        self.settings.is_static_login()
    }

    /// The `sslmode` connections use (`verify-full` unless the opt-out allowed
    /// another).
    #[must_use]
    pub fn ssl_mode(&self) -> &str {
        self.settings.params().get("sslmode").unwrap_or_default()
    }

    /// The root CA file libpq verifies the server against, if any
    /// (`sslrootcert`).
    #[must_use]
    pub fn root_cert(&self) -> Option<&Path> {
        self.settings.params().get("sslrootcert").map(Path::new)
    }
}

impl fmt::Debug for PgConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The parameters' Debug redacts a password.
        f.debug_struct("PgConnector")
            .field("settings", &self.settings)
            .field("auth", &self.auth)
            .finish()
    }
}

/// Builds a [`PgConnector`].
#[must_use]
pub struct PgConnectorBuilder {
    params: Result<Params, CoreError>,
    auth: EntraAuth,
    root_cert: Option<PathBuf>,
    allow_insecure: bool,
}

impl PgConnectorBuilder {
    /// Verifies the server against the root CA(s) in this PEM file (libpq's
    /// `sslrootcert`), instead of the default bundle. Overrides `sslrootcert` in
    /// the settings.
    pub fn root_cert(mut self, pem_file: impl Into<PathBuf>) -> Self {
        self.root_cert = Some(pem_file.into());
        self
    }

    /// **Dangerous**: honours an `sslmode` weaker than `verify-full` in the
    /// settings (`verify-ca`, `require`, `prefer`, `allow`, `disable`), which may
    /// send the token to a server whose certificate was not checked, or in the
    /// clear. Only for a local server on a trusted machine; never for Azure.
    pub fn danger_allow_insecure_sslmode(mut self, allow: bool) -> Self {
        self.allow_insecure = allow;
        self
    }

    /// Checks the settings and builds the connector.
    ///
    /// # Errors
    /// When the settings cannot be parsed, name an sslmode other than
    /// `verify-full` without the opt-out, or no root certificate bundle can be
    /// found (or the one named does not exist).
    pub fn build(self) -> Result<PgConnector, Error> {
        Ok(PgConnector {
            settings: CheckedParams::new(self.params?, self.root_cert, self.allow_insecure)?,
            auth: self.auth,
        })
    }
}

impl fmt::Debug for PgConnectorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgConnectorBuilder")
            .field("root_cert", &self.root_cert)
            .field("allow_insecure", &self.allow_insecure)
            .finish_non_exhaustive()
    }
}

/// A libpq URL holding a login: user and token, percent-encoded.
///
/// `Debug` shows the user only; there is no `Display`. Pass
/// [`expose`](Self::expose) straight to `PgConnection::establish` and do not log
/// it — nor let diesel's instrumentation log it (see the crate documentation).
#[derive(Clone)]
pub struct LoginUrl {
    url: String,
    user: String,
    password: String,
}

impl LoginUrl {
    /// The URL, token included.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.url
    }

    /// The PostgreSQL user it logs in as.
    #[must_use]
    pub fn user(&self) -> &str {
        &self.user
    }
}

impl fmt::Debug for LoginUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginUrl")
            .field("user", &self.user)
            .field("url", &"<redacted>")
            .finish()
    }
}

/// A URL with every password removed, safe to log: a `password` query parameter
/// or `key=value` pair, and the password of `user:password@`, become
/// `<redacted>`.
///
/// For diesel instrumentation, whose connection events carry the URL given to
/// `establish` (for Entra connections: the token). Anything it cannot read is
/// replaced whole.
#[must_use]
pub fn redact_url(url: &str) -> String {
    const REDACTED: &str = "<redacted>";
    let trimmed = url.trim();
    let Some((scheme, rest)) = ["postgresql://", "postgres://"]
        .iter()
        .find_map(|scheme| trimmed.strip_prefix(scheme).map(|rest| (*scheme, rest)))
    else {
        // key=value form: re-render with the password hidden, or hide everything.
        return match Params::parse(trimmed) {
            Ok(params) => format!("{params:?}"),
            Err(_) => REDACTED.to_owned(),
        };
    };
    let (before_query, query) = match rest.split_once('?') {
        Some((before, query)) => (before, Some(query)),
        None => (rest, None),
    };
    let mut out = String::from(scheme);
    let (authority, path) = match before_query.split_once('/') {
        Some((authority, path)) => (authority, Some(path)),
        None => (before_query, None),
    };
    // The last `@`: whatever an unencoded password holds stays hidden.
    match authority.rsplit_once('@') {
        Some((userinfo, hosts)) => {
            match userinfo.split_once(':') {
                Some((user, _)) => {
                    out.push_str(user);
                    out.push(':');
                    out.push_str(REDACTED);
                }
                None => out.push_str(userinfo),
            }
            out.push('@');
            out.push_str(hosts);
        }
        None => out.push_str(authority),
    }
    if let Some(path) = path {
        out.push('/');
        out.push_str(path);
    }
    if let Some(query) = query {
        out.push('?');
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => {
                    format!("{key}={REDACTED}")
                }
                _ => pair.to_owned(),
            })
            .collect();
        out.push_str(&pairs.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn redact_url_hides_every_password() {
        assert_eq!(
            redact_url("postgresql://?host=h&user=a%40b&password=eyJ.x.y&sslmode=verify-full"),
            "postgresql://?host=h&user=a%40b&password=<redacted>&sslmode=verify-full"
        );
        assert_eq!(
            redact_url("postgres://me:s3cret@h:5432/db"),
            "postgres://me:<redacted>@h:5432/db"
        );
        let key_value = redact_url("host=h password='s3cret'");
        assert!(!key_value.contains("s3cret"), "{key_value}");
        assert_eq!(redact_url("host=h password='s3cret"), "<redacted>");
    }
}
