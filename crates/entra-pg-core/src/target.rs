//! Where a connection goes: the [`Destination`] an adapter reads from its driver's
//! settings, and the [`Target`] that the security contract makes of it.
//!
//! The contract, applied by [`EntraAuth::target`](crate::EntraAuth::target) once
//! per set of settings:
//!
//! 1. **Transport.** Every host is a TCP host name; Unix sockets, settings without
//!    a host and `hostaddr` without a host name are refused. The `sslmode` must
//!    verify the chain and the host name: `verify-full` (the default), or a mode
//!    the driver itself verifies fully ([`Destination::verifies`], such as
//!    `require` with rustls in tokio-postgres). Weaker modes and sockets are
//!    allowed only with the connector's `danger_allow_insecure_transport(true)`.
//! 2. **Static login.** Settings with both a user and a password are used as they
//!    are and never touch Entra (the host policy does not apply; the transport rule
//!    does).
//! 3. **Host policy.** For Entra logins, every host must be permitted by the
//!    `EntraAuth`'s host policy (the cloud's server domain and `allow_host`),
//!    checked before any connection is attempted.

use std::{fmt, sync::Arc};

use tracing::warn;

use crate::{EntraAuth, Error};

/// An `sslmode`, as libpq names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SslMode {
    /// No TLS.
    Disable,
    /// Plaintext first, TLS if the server insists.
    Allow,
    /// TLS if the server offers it, else plaintext.
    Prefer,
    /// TLS; whether the certificate is verified depends on the driver.
    Require,
    /// TLS, chain verified, host name not checked.
    VerifyCa,
    /// TLS, chain and host name verified.
    VerifyFull,
}

impl SslMode {
    /// libpq's name of the mode (`verify-full` …).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Allow => "allow",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        }
    }

    /// Reads libpq's name of a mode; `None` for anything else.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::Disable,
            Self::Allow,
            Self::Prefer,
            Self::Require,
            Self::VerifyCa,
            Self::VerifyFull,
        ]
        .into_iter()
        .find(|mode| mode.as_str() == name)
    }

    fn danger(self, driver: &str) -> String {
        match self {
            Self::Disable => "sends the token in the clear".to_owned(),
            Self::Allow | Self::Prefer => {
                "falls back to a connection without TLS, sending the token in the clear".to_owned()
            }
            Self::Require => format!(
                "does not verify the server certificate with {driver}, so an impostor could \
                 receive the token"
            ),
            Self::VerifyCa => "does not check the server's host name, so any certificate from a \
                               trusted authority, for any name, would receive the token"
                .to_owned(),
            Self::VerifyFull => String::new(),
        }
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One host of the connection settings, as the driver will use it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TargetHost {
    /// A TCP host: the name the server certificate is verified against (with
    /// `hostaddr`, the `host` name, not the address).
    Name(String),
    /// A Unix-domain socket directory or abstract socket (`/dir`, `@name`).
    Socket(String),
    /// A TCP address given without a host name (`hostaddr` alone): there is no
    /// name to verify a certificate against.
    Address(String),
}

impl TargetHost {
    /// Reads a libpq-style host: a path or `@name` is a socket, anything else a
    /// TCP host name.
    #[must_use]
    pub fn from_libpq(host: &str) -> Self {
        if host.starts_with('/') || host.starts_with('@') {
            Self::Socket(host.to_owned())
        } else {
            Self::Name(host.to_owned())
        }
    }

    fn text(&self) -> &str {
        match self {
            Self::Name(text) | Self::Socket(text) | Self::Address(text) => text,
        }
    }
}

/// What a driver is about to connect to, read from its settings by an adapter,
/// before the contract is applied ([`EntraAuth::target`](crate::EntraAuth::target)).
#[derive(Debug, Clone)]
#[must_use]
pub struct Destination {
    driver: &'static str,
    hosts: Vec<TargetHost>,
    port: Option<String>,
    ssl_mode: Option<SslMode>,
    verifies: &'static [SslMode],
    user: Option<String>,
    password: bool,
    host_origin: Option<&'static str>,
    insecure: bool,
}

impl Destination {
    /// A destination for `driver` (its name, for messages) with no host yet.
    pub fn new(driver: &'static str) -> Self {
        Self {
            driver,
            hosts: Vec::new(),
            port: None,
            ssl_mode: None,
            verifies: &[],
            user: None,
            password: false,
            host_origin: None,
            insecure: false,
        }
    }

    /// Adds a host, in the order the driver tries them.
    pub fn host(mut self, host: TargetHost) -> Self {
        self.hosts.push(host);
        self
    }

    /// Adds a TCP host name.
    pub fn tcp_host(self, name: impl Into<String>) -> Self {
        self.host(TargetHost::Name(name.into()))
    }

    /// The port(s), for messages only (`5432`, or `5432,6432`).
    pub fn port(mut self, port: impl fmt::Display) -> Self {
        self.port = Some(port.to_string());
        self
    }

    /// The `sslmode` the settings ask for; `None` when they name none (then
    /// `verify-full` is used).
    pub fn ssl_mode(mut self, mode: Option<SslMode>) -> Self {
        self.ssl_mode = mode;
        self
    }

    /// The modes besides `verify-full` that this driver verifies fully (chain and
    /// host name), such as `require` with a rustls connector.
    pub fn verifies(mut self, modes: &'static [SslMode]) -> Self {
        self.verifies = modes;
        self
    }

    /// The user the settings name (an empty one counts as none).
    pub fn user(mut self, user: Option<&str>) -> Self {
        self.user = user.filter(|user| !user.is_empty()).map(str::to_owned);
        self
    }

    /// Whether the settings carry a (non-empty) password.
    pub fn password(mut self, present: bool) -> Self {
        self.password = present;
        self
    }

    /// Where the hosts came from when not from the settings themselves (for
    /// example `"PGHOST in the environment"`), for messages.
    pub fn host_origin(mut self, origin: Option<&'static str>) -> Self {
        self.host_origin = origin;
        self
    }

    /// The connector's `danger_allow_insecure_transport` opt-out.
    pub fn allow_insecure_transport(mut self, allow: bool) -> Self {
        self.insecure = allow;
        self
    }

    fn describe(&self) -> String {
        let hosts: Vec<&str> = self.hosts.iter().map(TargetHost::text).collect();
        let hosts = if hosts.is_empty() {
            "(no host)".to_owned()
        } else {
            hosts.join(",")
        };
        match &self.port {
            Some(port) => format!("{hosts}:{port}"),
            None => hosts,
        }
    }
}

/// Connection settings checked against the security contract: the `sslmode` to
/// use, whether the login is static, and the hosts a token may go to.
///
/// Made by [`EntraAuth::target`](crate::EntraAuth::target) and handed back to
/// [`EntraAuth::login`](crate::EntraAuth::login) for every connection, so a token
/// is only ever given out together with the checked hosts it is for. Cheap to
/// clone.
#[derive(Clone)]
pub struct Target {
    inner: Arc<TargetInner>,
}

struct TargetInner {
    auth_id: usize,
    hosts: Vec<TargetHost>,
    user: Option<Arc<str>>,
    ssl_mode: SslMode,
    static_login: bool,
    description: String,
}

impl Target {
    /// The `sslmode` the adapter must configure: `verify-full`, a weaker mode the
    /// driver verifies fully, or (with the opt-out only) the weaker mode asked for.
    #[must_use]
    pub fn ssl_mode(&self) -> SslMode {
        self.inner.ssl_mode
    }

    /// Whether the settings carry their own user and password: then Entra is not
    /// used at all.
    #[must_use]
    pub fn is_static_login(&self) -> bool {
        self.inner.static_login
    }

    /// The user named by the settings, if any (it wins over every other source).
    #[must_use]
    pub fn user(&self) -> Option<&str> {
        self.inner.user.as_deref()
    }

    /// `host1,host2:port`, for messages.
    #[must_use]
    pub fn describe(&self) -> &str {
        &self.inner.description
    }

    pub(crate) fn settings_user(&self) -> Option<&Arc<str>> {
        self.inner.user.as_ref()
    }

    /// Whether `auth` checked this target (else its hosts are checked again).
    pub(crate) fn checked_by(&self, auth: &EntraAuth) -> bool {
        self.inner.auth_id == auth.id()
    }

    pub(crate) fn hosts(&self) -> &[TargetHost] {
        &self.inner.hosts
    }
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("hosts", &self.inner.description)
            .field("sslmode", &self.inner.ssl_mode)
            .field("user", &self.inner.user)
            .field("static_login", &self.inner.static_login)
            .finish()
    }
}

/// Applies the contract (see the module documentation).
pub(crate) fn check(auth: &EntraAuth, destination: Destination) -> Result<Target, Error> {
    let description = destination.describe();
    let ssl_mode = transport(&destination, &description)?;
    let static_login = destination.user.is_some() && destination.password;
    if !static_login {
        for host in &destination.hosts {
            check_host(auth, host, destination.host_origin)?;
        }
    }
    Ok(Target {
        inner: Arc::new(TargetInner {
            auth_id: auth.id(),
            hosts: destination.hosts,
            user: destination.user.map(Arc::from),
            ssl_mode,
            static_login,
            description,
        }),
    })
}

/// The host policy for one host.
pub(crate) fn check_host(
    auth: &EntraAuth,
    host: &TargetHost,
    origin: Option<&str>,
) -> Result<(), Error> {
    let policy = auth.policy();
    match host {
        TargetHost::Name(name) | TargetHost::Socket(name) if policy.permits(name) => Ok(()),
        other => Err(policy.refusal(other.text(), origin)),
    }
}

/// The transport rule: the `sslmode` to use, or why the settings are refused.
fn transport(destination: &Destination, description: &str) -> Result<SslMode, Error> {
    let refuse = |reason: String| Err(Error::InsecureTransport { reason });
    let opt_out = "for a local test server only, opt out with \
                   danger_allow_insecure_transport(true)";
    if destination.hosts.is_empty() {
        return refuse(
            "the connection settings name no host, so the driver would fall back to PGHOST, a \
             service file or a Unix socket; name the server, for example \
             host=myserver.postgres.database.azure.com"
                .to_owned(),
        );
    }
    for host in &destination.hosts {
        match host {
            TargetHost::Address(address) => {
                return refuse(format!(
                    "hostaddr={address} is given without a host name, so there is no name to \
                     verify the server certificate against; add host=<the server's name> (the \
                     address is still used to connect)"
                ));
            }
            TargetHost::Socket(path) if !destination.insecure => {
                return refuse(format!(
                    "the host {path} is a Unix-domain socket, which has no TLS, so whatever \
                     listens there would receive the token; connect to the server's TCP host \
                     name instead, or {opt_out}"
                ));
            }
            _ => {}
        }
    }
    let mode = destination.ssl_mode.unwrap_or(SslMode::VerifyFull);
    if mode == SslMode::VerifyFull || destination.verifies.contains(&mode) {
        return Ok(mode);
    }
    if destination.insecure {
        warn!(
            hosts = description,
            sslmode = mode.as_str(),
            "entra-pg: the server certificate is not fully verified \
             (danger_allow_insecure_transport); anyone who can intercept this connection can \
             read the token"
        );
        return Ok(mode);
    }
    refuse(format!(
        "the connection settings say sslmode={mode}, which {}; remove it (sslmode=verify-full \
         is used) or set sslmode=verify-full, or {opt_out}",
        mode.danger(destination.driver)
    ))
}
