//! libpq settings checked against the security contract, and the login URL of
//! one connection.
//!
//! libpq ignores `sslmode` on Unix sockets and falls back to `PGHOST`, a service
//! file or its compiled-in socket directory when no host is given: the contract
//! refuses both. The login URL names every setting that matters explicitly
//! (`host`, `sslmode`, `sslrootcert`, `gssencmode=disable`, user, password), so no
//! `PG*` variable or service file can change them.

use std::fmt;

use entra_pg_core::{
    Destination, EntraAuth, Error as CoreError, Login, SslMode, Target, TargetHost,
    connector::Roots,
};

use crate::{roots::Bundle, settings::Params};

/// Settings as given, before the contract is applied.
#[derive(Clone, Debug)]
pub struct Settings(pub(crate) Params);

/// Settings checked against the contract.
#[derive(Clone)]
pub(crate) struct Checked {
    params: Params,
    target: Target,
    _bundle: Option<Bundle>,
}

impl Settings {
    pub(crate) fn check(
        self,
        auth: &EntraAuth,
        roots: &Roots,
        insecure: bool,
    ) -> Result<Checked, CoreError> {
        let mut params = self.0;
        let split = |key: &str| -> Vec<String> {
            params
                .get(key)
                .map(|value| value.split(',').map(str::to_owned).collect())
                .unwrap_or_default()
        };
        let (hosts, addresses) = (split("host"), split("hostaddr"));
        let ssl_mode = match params.get("sslmode") {
            None => None,
            Some(name) => Some(
                SslMode::parse(name).ok_or_else(|| CoreError::InvalidConfig {
                    reason: format!(
                        "sslmode={name:?} is not a libpq sslmode; remove it (verify-full is used)"
                    ),
                })?,
            ),
        };
        let mut destination = Destination::new("libpq")
            .ssl_mode(ssl_mode)
            .user(params.get("user"))
            .password(
                params
                    .get("password")
                    .is_some_and(|password| !password.is_empty()),
            )
            .port(
                params
                    .get("port")
                    .filter(|port| !port.is_empty())
                    .unwrap_or("5432"),
            )
            .allow_insecure_transport(insecure);
        for index in 0..hosts.len().max(addresses.len()) {
            let host = hosts.get(index).map(String::as_str).unwrap_or_default();
            let address = addresses.get(index).map(String::as_str).unwrap_or_default();
            if !host.is_empty() {
                destination = destination.host(TargetHost::from_libpq(host));
            } else if !address.is_empty() {
                destination = destination.host(TargetHost::Address(address.to_owned()));
            } else {
                // libpq reads an empty item as its compiled-in Unix-socket directory,
                // where it ignores sslmode: no token goes there.
                return Err(CoreError::InsecureTransport {
                    reason: format!(
                        "item {} of the host list is empty, which libpq reads as its default \
                         Unix socket (where TLS does not apply); remove the empty item (a \
                         stray comma) or name the socket directory",
                        index + 1
                    ),
                });
            }
        }
        let target = auth.target(destination)?;
        let mode = target.ssl_mode();
        params.set("sslmode", mode.as_str());
        // libpq would prefer GSS encryption over TLS when a Kerberos ticket exists.
        params.set("gssencmode", "disable");
        let bundle = if matches!(mode, SslMode::VerifyFull | SslMode::VerifyCa) {
            let bundle = Bundle::new(roots, params.get("sslrootcert"))?;
            params.set("sslrootcert", bundle.path());
            Some(bundle)
        } else {
            None
        };
        Ok(Checked {
            params,
            target,
            _bundle: bundle,
        })
    }
}

impl Checked {
    pub(crate) fn target(&self) -> &Target {
        &self.target
    }

    pub(crate) fn params(&self) -> &Params {
        &self.params
    }

    /// The login URL for one connection: the user only when the settings have
    /// none, the token always as the password, every value percent-encoded.
    pub(crate) fn login_url(&self, login: Option<&Login>) -> LoginUrl {
        let mut params = self.params.clone();
        if let Some(login) = login {
            if self.target.user().is_none() {
                params.set("user", login.user());
            }
            params.set("password", login.password());
        }
        LoginUrl {
            user: params.get("user").unwrap_or_default().to_owned(),
            password: params.get("password").unwrap_or_default().to_owned(),
            url: params.to_url(),
        }
    }
}

impl fmt::Debug for Checked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The parameters' Debug redacts a password.
        f.debug_struct("Settings")
            .field("params", &self.params)
            .field("target", &self.target)
            .finish()
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

    /// The secrets to scrub from libpq's messages: the password, raw and
    /// percent-encoded.
    pub(crate) fn secrets(&self) -> [String; 2] {
        let encoded = percent_encoding::utf8_percent_encode(&self.password, crate::settings::VALUE)
            .to_string();
        [self.password.clone(), encoded]
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
