//! The one connector builder of every driver crate: the same methods, the same
//! names and the same rules whichever driver it builds for.
//!
//! Each driver crate names it after its connector (`EntraConnectorBuilder`,
//! `EntraConnectOptionsBuilder`) and supplies a [`Flavor`]: how to read its
//! settings into a [`Destination`](crate::Destination) and what to build.

use std::{fmt, marker::PhantomData, path::PathBuf};

use rustls_pki_types::{CertificateDer, pem::PemObject};

use crate::{EntraAuth, Error};

/// What a driver crate's connector builder builds. Implemented by each driver
/// crate; users never need it.
pub trait Flavor: Sized {
    /// The driver's parsed connection settings.
    type Settings;
    /// The connector built, with TLS connector `T`.
    type Output<T>;
    /// The driver crate's error type.
    type Error: From<Error>;

    /// Checks the settings against the contract and builds the connector.
    ///
    /// # Errors
    /// When the settings break the contract or the TLS set-up fails.
    fn build<T>(parts: Parts<Self::Settings, T>) -> Result<Self::Output<T>, Self::Error>;
}

/// Flavors whose driver takes a custom TLS connector ([`ConnectorBuilder::tls`]).
pub trait CustomTls: Flavor {}

/// Everything a connector is built from.
#[derive(Debug)]
#[non_exhaustive]
pub struct Parts<S, T> {
    /// The driver's settings, as given.
    pub settings: S,
    /// The shared Entra login.
    pub auth: EntraAuth,
    /// The TLS connector: the caller's, or the default one built with `roots`.
    pub tls: T,
    /// Root CAs added with `root_cert_pem` / `root_cert_file` (empty with a
    /// custom TLS connector).
    pub roots: Roots,
    /// The `danger_allow_insecure_transport` opt-out.
    pub allow_insecure_transport: bool,
}

/// Root CAs trusted in addition to the default roots, checked when the connector
/// is built.
#[derive(Clone, Default)]
pub struct Roots {
    certificates: Vec<CertificateDer<'static>>,
    pem: Vec<u8>,
}

impl Roots {
    /// Whether no root was added.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.certificates.is_empty()
    }

    /// The added roots.
    #[must_use]
    pub fn certificates(&self) -> &[CertificateDer<'static>] {
        &self.certificates
    }

    /// The added roots as one PEM document.
    #[must_use]
    pub fn pem(&self) -> &[u8] {
        &self.pem
    }

    fn add(&mut self, pem: &[u8], what: &str) -> Result<(), Error> {
        let invalid = |detail: String| {
            Error::invalid(format!(
                "{what} {detail}; it must hold PEM \"CERTIFICATE\" blocks of the server's root CA"
            ))
        };
        let mut added = 0;
        for certificate in CertificateDer::pem_slice_iter(pem) {
            let certificate =
                certificate.map_err(|err| invalid(format!("is not valid PEM ({err})")))?;
            self.certificates.push(certificate.into_owned());
            added += 1;
        }
        if added == 0 {
            return Err(invalid("holds no certificate".to_owned()));
        }
        self.pem.extend_from_slice(pem);
        if !self.pem.ends_with(b"\n") {
            self.pem.push(b'\n');
        }
        Ok(())
    }
}

impl fmt::Debug for Roots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Roots")
            .field("certificates", &self.certificates.len())
            .finish()
    }
}

/// Not API: the accessors every driver crate's connector has, written once so
/// they have the same names, docs and rules everywhere. The connector must have
/// a `shared` field with `settings` (having `target()`), `auth` and `failures`.
#[doc(hidden)]
#[macro_export]
macro_rules! __connector_accessors {
    () => {
        /// The shared `EntraAuth` (its token cache is shared by every clone).
        #[must_use]
        pub fn auth(&self) -> &$crate::EntraAuth {
            &self.shared.auth
        }

        /// The settings as checked against the contract (hosts, `sslmode`).
        #[must_use]
        pub fn target(&self) -> &$crate::Target {
            self.shared.settings.target()
        }

        /// Whether the settings carry their own user and password, so Entra is
        /// not used (a static login).
        #[must_use]
        pub fn is_static_login(&self) -> bool {
            self.target().is_static_login()
        }

        /// The typed cause of the last failed connect, shared by the clones and
        /// their pools (whose own errors often say only "timed out").
        #[must_use]
        pub fn last_failure(&self) -> Option<$crate::ConnectFailure> {
            self.shared.failures.get()
        }

        /// The record of failed connects itself (to wait for the next one).
        #[must_use]
        pub fn failures(&self) -> &$crate::LastFailure {
            &self.shared.failures
        }
    };
}

/// Where operating systems keep their PEM bundle of trusted roots, in the
/// order [`system_root_bundle`] looks.
pub const SYSTEM_ROOT_BUNDLES: &[&str] = &[
    // Debian, Ubuntu, Arch, Gentoo
    "/etc/ssl/certs/ca-certificates.crt",
    // Fedora, RHEL, CentOS
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/pki/tls/certs/ca-bundle.crt",
    // openSUSE
    "/etc/ssl/ca-bundle.pem",
    // Alpine, macOS, OpenBSD
    "/etc/ssl/cert.pem",
    // FreeBSD
    "/usr/local/share/certs/ca-root-nss.crt",
    // macOS with Homebrew OpenSSL
    "/opt/homebrew/etc/openssl@3/cert.pem",
    "/usr/local/etc/openssl@3/cert.pem",
];

/// The operating system's PEM bundle of trusted roots, for drivers and tools
/// that verify with OpenSSL and take one file (libpq's `sslrootcert`, `psql`).
///
/// # Errors
/// [`Error::InvalidConfig`] naming the package to install when no bundle exists.
pub fn system_root_bundle() -> Result<PathBuf, Error> {
    SYSTEM_ROOT_BUNDLES
        .iter()
        .map(PathBuf::from)
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| {
            Error::invalid(
                "no root certificate bundle found for sslmode=verify-full: install the \
                 operating system's CA bundle (the ca-certificates package), which holds the \
                 roots of Azure's servers (DigiCert Global Root G2, Microsoft RSA Root CA \
                 2017, DigiCert Global Root CA)",
            )
        })
}

enum RootSource {
    Pem(Vec<u8>),
    File(PathBuf),
}

enum TlsChoice<T> {
    Given(T),
    Default(fn(&Roots) -> Result<T, Error>),
}

/// Builds a driver crate's connector. Get one from the connector's `builder`.
///
/// Nothing is checked until [`build`](Self::build): the settings, the root CA
/// files and the contract are all checked there, and the first problem is
/// returned.
#[must_use]
pub struct ConnectorBuilder<F: Flavor, T> {
    settings: Result<F::Settings, Error>,
    auth: EntraAuth,
    tls: TlsChoice<T>,
    roots: Vec<RootSource>,
    insecure: bool,
    flavor: PhantomData<F>,
}

impl<F: Flavor, T> ConnectorBuilder<F, T> {
    /// A builder for `settings` (or the error reading them) and `auth`, whose
    /// default TLS connector is made by `default_tls` from the added roots. For
    /// driver crates.
    pub fn new(
        settings: Result<F::Settings, Error>,
        auth: EntraAuth,
        default_tls: fn(&Roots) -> Result<T, Error>,
    ) -> Self {
        Self {
            settings,
            auth,
            tls: TlsChoice::Default(default_tls),
            roots: Vec::new(),
            insecure: false,
            flavor: PhantomData,
        }
    }

    /// Also trusts the root CA(s) in this PEM document (for example Azure China's
    /// DigiCert Global Root CA, or a test CA), besides the default roots.
    pub fn root_cert_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.roots.push(RootSource::Pem(pem.into()));
        self
    }

    /// Also trusts the root CA(s) in this PEM file, besides the default roots.
    /// The library never reads `PGSSLROOTCERT` itself (a variable must not widen
    /// whom the token is trusted to); pass its value here if you use it, as the
    /// examples do.
    pub fn root_cert_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.roots.push(RootSource::File(path.into()));
        self
    }

    /// **Dangerous**: allows what the transport rule refuses: an `sslmode` that
    /// does not verify the server fully (`verify-ca`, `require` where it does not
    /// verify, `prefer`, `allow`, `disable`) and Unix-socket hosts (which must
    /// also be allowed by the host policy). Anyone who can intercept the
    /// connection can then read the token. Only for a local test server on a
    /// trusted machine; never for Azure.
    pub fn danger_allow_insecure_transport(mut self, allow: bool) -> Self {
        self.insecure = allow;
        self
    }

    /// Checks everything and builds the connector.
    ///
    /// # Errors
    /// Settings that cannot be read, a root CA that cannot be read, root CAs
    /// given with a custom TLS connector, or settings that break the security
    /// contract (see [`EntraAuth::target`]).
    pub fn build(self) -> Result<F::Output<T>, F::Error> {
        let settings = self.settings?;
        let mut roots = Roots::default();
        for source in &self.roots {
            match source {
                RootSource::Pem(pem) => roots.add(pem, "the root CA PEM given to root_cert_pem")?,
                RootSource::File(path) => {
                    let pem = std::fs::read(path).map_err(|err| {
                        Error::invalid(format!(
                            "cannot read the root CA file {} ({err}); give the path of a PEM \
                             file holding the server's root CA",
                            path.display()
                        ))
                    })?;
                    roots.add(&pem, &format!("the root CA file {}", path.display()))?;
                }
            }
        }
        let tls = match self.tls {
            TlsChoice::Given(_) if !roots.is_empty() => {
                return Err(Error::invalid(
                    "root_cert_pem / root_cert_file have no effect with a custom TLS connector \
                     (tls(..)); add the root CA to that connector instead",
                )
                .into());
            }
            TlsChoice::Given(tls) => tls,
            TlsChoice::Default(build) => build(&roots)?,
        };
        F::build(Parts {
            settings,
            auth: self.auth,
            tls,
            roots,
            allow_insecure_transport: self.insecure,
        })
    }
}

impl<F: CustomTls, T> ConnectorBuilder<F, T> {
    /// Uses this TLS connector instead of the default one (rustls with the default
    /// roots and any added ones).
    ///
    /// The connector must verify the server's certificate chain and host name:
    /// one that does not (a "dangerous" verifier) breaks the promise that the
    /// token only reaches the intended server, and nothing here can tell. A
    /// connector without TLS (`NoTls`) and a server without TLS still fail closed
    /// before any password is sent.
    pub fn tls<U>(self, tls: U) -> ConnectorBuilder<F, U> {
        ConnectorBuilder {
            settings: self.settings,
            auth: self.auth,
            tls: TlsChoice::Given(tls),
            roots: self.roots,
            insecure: self.insecure,
            flavor: PhantomData,
        }
    }
}

impl<F: Flavor, T> fmt::Debug for ConnectorBuilder<F, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectorBuilder")
            .field("auth", &self.auth)
            .field("roots", &self.roots.len())
            .field("custom_tls", &matches!(self.tls, TlsChoice::Given(_)))
            .field("allow_insecure_transport", &self.insecure)
            .finish_non_exhaustive()
    }
}
