//! A verifying rustls connector: roots from `webpki-roots` and/or the OS, plus
//! root CAs from PEM (`PGSSLROOTCERT`).

use std::{fmt, path::Path, sync::Arc};

use entra_pg_core::Error as CoreError;
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::{CertificateDer, pem::PemObject};
use tokio_postgres_rustls::MakeRustlsConnect;

/// The environment variable libpq reads for a root CA file; [`Tls::from_env`]
/// reads it too. The value `system` means the operating system's roots.
pub const PGSSLROOTCERT: &str = "PGSSLROOTCERT";

/// Verified TLS for PostgreSQL connections: a rustls client configuration with an
/// explicit crypto provider (aws-lc-rs), so it works even when another crate in the
/// build enables a second rustls provider.
///
/// Certificates are always verified, chain and host name (what libpq calls
/// `verify-full`). Clones share one configuration.
#[derive(Clone)]
pub struct Tls {
    config: Arc<ClientConfig>,
    roots: usize,
}

impl Tls {
    /// A builder starting from no roots at all.
    pub fn builder() -> TlsBuilder {
        TlsBuilder {
            roots: RootCertStore::empty(),
            native_errors: Vec::new(),
        }
    }

    /// The default roots (those of the enabled features `webpki-roots` and
    /// `native-roots`) plus the PEM file named by `PGSSLROOTCERT`, when set.
    ///
    /// # Errors
    /// When `PGSSLROOTCERT` names a file that cannot be read or holds no
    /// certificate, or when no root at all is trusted.
    pub fn from_env() -> Result<Self, CoreError> {
        let mut builder = Self::builder().default_roots();
        match std::env::var_os(PGSSLROOTCERT) {
            Some(value) if value == "system" => builder = builder.native_roots(),
            Some(value) if !value.is_empty() => builder = builder.root_pem_file(value)?,
            _ => {}
        }
        builder.build()
    }

    /// The connector to pass to `tokio_postgres::Config::connect` (and to the
    /// connectors of this crate).
    #[must_use]
    pub fn connector(&self) -> MakeRustlsConnect {
        MakeRustlsConnect::new(ClientConfig::clone(&self.config))
    }

    /// The rustls configuration, for drivers that take one directly.
    #[must_use]
    pub fn client_config(&self) -> Arc<ClientConfig> {
        Arc::clone(&self.config)
    }

    /// How many root certificates are trusted.
    #[must_use]
    pub fn root_count(&self) -> usize {
        self.roots
    }
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls").field("roots", &self.roots).finish()
    }
}

/// The TLS connector a connector builder will use: one the caller gave, or the
/// default one ([`Tls::from_env`]), built only at `build()` so that a caller's own
/// connector costs no `PGSSLROOTCERT` read or root parsing.
pub enum TlsChoice<T> {
    /// The caller's connector.
    Given(T),
    /// Build the default connector when needed.
    Default(fn() -> Result<T, CoreError>),
}

impl TlsChoice<MakeRustlsConnect> {
    /// The default: [`Tls::from_env`]'s connector.
    #[must_use]
    pub fn from_env() -> Self {
        Self::Default(|| Tls::from_env().map(|tls| tls.connector()))
    }
}

impl<T> TlsChoice<T> {
    /// The connector, building the default one now if needed.
    ///
    /// # Errors
    /// As [`Tls::from_env`].
    pub fn resolve(self) -> Result<T, CoreError> {
        match self {
            Self::Given(tls) => Ok(tls),
            Self::Default(build) => build(),
        }
    }
}

/// Chooses the roots a [`Tls`] trusts.
#[must_use]
pub struct TlsBuilder {
    roots: RootCertStore,
    native_errors: Vec<String>,
}

impl TlsBuilder {
    /// Adds the roots of every enabled root feature (`webpki-roots`, `native-roots`).
    pub fn default_roots(self) -> Self {
        let builder = self;
        #[cfg(feature = "webpki-roots")]
        let builder = builder.webpki_roots();
        #[cfg(feature = "native-roots")]
        let builder = builder.native_roots();
        builder
    }

    /// Adds the Mozilla root set of `webpki-roots` (it includes DigiCert Global Root
    /// G2 and Microsoft RSA Root CA 2017, which Azure's servers chain to).
    #[cfg(feature = "webpki-roots")]
    #[cfg_attr(docsrs, doc(cfg(feature = "webpki-roots")))]
    pub fn webpki_roots(mut self) -> Self {
        self.roots
            .extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        self
    }

    /// Adds the operating system's roots. Certificates that fail to load are
    /// skipped; if none loads, [`build`](Self::build) reports why.
    pub fn native_roots(mut self) -> Self {
        #[cfg(feature = "native-roots")]
        {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = self.roots.add_parsable_certificates(found.certs);
            if added == 0 {
                self.native_errors
                    .extend(found.errors.iter().map(ToString::to_string));
                self.native_errors
                    .push("no usable root certificate in the OS store".to_owned());
            }
        }
        #[cfg(not(feature = "native-roots"))]
        self.native_errors.push(
            "the OS roots were asked for (PGSSLROOTCERT=system or native_roots()), but \
             entra-pg-tokio was built without its `native-roots` feature"
                .to_owned(),
        );
        self
    }

    /// Adds every certificate of a PEM document (for example Azure China's
    /// DigiCert Global Root CA, or a test CA).
    ///
    /// # Errors
    /// When the PEM holds no certificate or one cannot be parsed.
    pub fn root_pem(mut self, pem: impl AsRef<[u8]>) -> Result<Self, CoreError> {
        self.add_pem(pem.as_ref(), "the PEM given to TlsBuilder::root_pem")?;
        Ok(self)
    }

    /// Adds every certificate of a PEM file (what `PGSSLROOTCERT` names).
    ///
    /// # Errors
    /// When the file cannot be read, holds no certificate, or one cannot be parsed.
    pub fn root_pem_file(mut self, path: impl AsRef<Path>) -> Result<Self, CoreError> {
        let path = path.as_ref();
        let pem = std::fs::read(path).map_err(|err| CoreError::InvalidConfig {
            reason: format!(
                "cannot read the root CA file {} ({err}); check PGSSLROOTCERT",
                path.display()
            ),
        })?;
        self.add_pem(&pem, &format!("the root CA file {}", path.display()))?;
        Ok(self)
    }

    fn add_pem(&mut self, pem: &[u8], what: &str) -> Result<(), CoreError> {
        let invalid = |detail: String| CoreError::InvalidConfig {
            reason: format!("{what} {detail}; it must hold PEM \"CERTIFICATE\" blocks"),
        };
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|err| invalid(format!("is not valid PEM ({err})")))?;
            self.roots
                .add(cert)
                .map_err(|err| invalid(format!("has a certificate rustls rejects ({err})")))?;
            added += 1;
        }
        if added == 0 {
            return Err(invalid("holds no certificate".to_owned()));
        }
        Ok(())
    }

    /// Builds the configuration.
    ///
    /// # Errors
    /// When no root is trusted at all, or OS roots were asked for but could not
    /// be loaded.
    pub fn build(self) -> Result<Tls, CoreError> {
        if !self.native_errors.is_empty() {
            return Err(CoreError::InvalidConfig {
                reason: format!(
                    "cannot use the operating system's root certificates: {}",
                    self.native_errors.join("; ")
                ),
            });
        }
        if self.roots.is_empty() {
            return Err(CoreError::InvalidConfig {
                reason: "no trusted root certificate: enable the `webpki-roots` or \
                         `native-roots` feature, or add the server's root CA from PEM \
                         (PGSSLROOTCERT, TlsBuilder::root_pem_file)"
                    .to_owned(),
            });
        }
        let roots = self.roots.len();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|err| CoreError::InvalidConfig {
                reason: format!("rustls refused its default protocol versions ({err})"),
            })?
            .with_root_certificates(self.roots)
            .with_no_client_auth();
        Ok(Tls {
            config: Arc::new(config),
            roots,
        })
    }
}

impl fmt::Debug for TlsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsBuilder")
            .field("roots", &self.roots.len())
            .finish_non_exhaustive()
    }
}
