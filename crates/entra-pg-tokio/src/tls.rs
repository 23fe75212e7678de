//! A verifying rustls connector: roots from `webpki-roots` and/or the OS, plus
//! root CAs from PEM.

use std::{fmt, path::Path, sync::Arc};

use entra_pg_core::{Error as CoreError, connector::Roots};
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::{CertificateDer, pem::PemObject};
use tokio_postgres_rustls::MakeRustlsConnect;

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
    /// A builder starting from no roots at all: add
    /// [`default_roots`](TlsBuilder::default_roots) to start from the default set.
    pub fn builder() -> TlsBuilder {
        TlsBuilder {
            roots: RootCertStore::empty(),
            native_errors: Vec::new(),
        }
    }

    /// The default roots (those of the enabled features `webpki-roots` and
    /// `native-roots`) plus `extra`: the TLS of connectors that were given no
    /// TLS connector of their own.
    pub fn default_with(extra: &Roots) -> Result<Self, CoreError> {
        let mut builder = Self::builder().default_roots();
        for certificate in extra.certificates() {
            builder
                .roots
                .add(certificate.clone())
                .map_err(|err| CoreError::InvalidConfig {
                    reason: format!("a root CA certificate is not one rustls accepts ({err})"),
                })?;
        }
        builder.build()
    }

    /// The connector to pass to `tokio_postgres::Config::connect`, or to a
    /// connector builder's `tls(..)`.
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

    /// Adds the operating system's roots (feature `native-roots`). Certificates
    /// that fail to load are skipped; if none loads, [`build`](Self::build)
    /// reports why.
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
            "the OS roots were asked for (native_roots()), but entra-pg-tokio was built \
             without its `native-roots` feature"
                .to_owned(),
        );
        self
    }

    /// Adds every certificate of a PEM document (for example Azure China's
    /// DigiCert Global Root CA, or a test CA).
    ///
    /// # Errors
    /// When the PEM holds no certificate or one cannot be parsed.
    pub fn root_cert_pem(mut self, pem: impl AsRef<[u8]>) -> Result<Self, CoreError> {
        self.add_pem(pem.as_ref(), "the PEM given to TlsBuilder::root_cert_pem")?;
        Ok(self)
    }

    /// Adds every certificate of a PEM file.
    ///
    /// # Errors
    /// When the file cannot be read, holds no certificate, or one cannot be parsed.
    pub fn root_cert_file(mut self, path: impl AsRef<Path>) -> Result<Self, CoreError> {
        let path = path.as_ref();
        let pem = std::fs::read(path).map_err(|err| CoreError::InvalidConfig {
            reason: format!(
                "cannot read the root CA file {} ({err}); give the path of a PEM file holding \
                 the server's root CA",
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
                         (root_cert_file / root_cert_pem)"
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
        // PostgreSQL 17's direct TLS needs it; older servers ignore it.
        let mut config = config;
        config.alpn_protocols = vec![b"postgresql".to_vec()];
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
