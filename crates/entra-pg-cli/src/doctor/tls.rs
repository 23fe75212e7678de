//! The TLS step: ask the server for TLS as a PostgreSQL client does, take the
//! handshake with the roots a connection would trust, and describe what it saw.

use std::{
    io::Write as _,
    net::SocketAddr,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use rustls::{
    ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
    client::{
        WebPkiServerVerifier,
        danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
    },
};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime, pem::PemObject};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::settings::Settings;

/// What the handshake showed.
#[derive(Debug, Default)]
pub(crate) struct Report {
    pub(crate) protocol: String,
    pub(crate) chain: Vec<String>,
    pub(crate) issuer: String,
    pub(crate) trusted_by: Option<String>,
    pub(crate) names: Vec<String>,
    pub(crate) expires: String,
}

/// Why the TLS step failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The server answered the TLS request with "no".
    NoTls,
    /// The handshake failed; what rustls said, and what the chain showed.
    Handshake(String, Report),
    /// Network trouble after the TCP connect.
    Io(String),
}

/// The roots a connection trusts: the Mozilla set and `PGSSLROOTCERT`'s file.
pub(crate) fn roots() -> Result<(RootCertStore, Vec<String>), String> {
    let mut store = RootCertStore::empty();
    store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let mut added = Vec::new();
    if let Some(path) = Settings::root_cert() {
        let pem = std::fs::read(&path)
            .map_err(|err| format!("cannot read PGSSLROOTCERT={} ({err})", path.display()))?;
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|err| format!("PGSSLROOTCERT={}: {err}", path.display()))?;
            added.push(subject(&cert));
            store
                .add(cert)
                .map_err(|err| format!("PGSSLROOTCERT={}: {err}", path.display()))?;
        }
    }
    Ok((store, added))
}

/// A root bundle file for libpq (`psql`): the OS bundle plus `PGSSLROOTCERT`'s.
pub(crate) fn root_bundle_file() -> Result<tempfile::NamedTempFile, String> {
    let system = entra_pg_core::connector::system_root_bundle().map_err(|err| err.to_string())?;
    let mut pem = std::fs::read(&system).map_err(|err| format!("{}: {err}", system.display()))?;
    if let Some(extra) = Settings::root_cert() {
        pem.push(b'\n');
        pem.extend(
            std::fs::read(&extra)
                .map_err(|err| format!("PGSSLROOTCERT={}: {err}", extra.display()))?,
        );
    }
    let mut file = tempfile::Builder::new()
        .prefix("entra-pg-roots-")
        .suffix(".pem")
        .tempfile()
        .map_err(|err| format!("cannot write the root bundle: {err}"))?;
    file.write_all(&pem)
        .map_err(|err| format!("cannot write the root bundle: {err}"))?;
    Ok(file)
}

/// An IP address SAN as text.
fn ip_text(bytes: &[u8]) -> Option<String> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes)
            .ok()
            .map(|v4| std::net::Ipv4Addr::from(v4).to_string()),
        16 => <[u8; 16]>::try_from(bytes)
            .ok()
            .map(|v6| std::net::Ipv6Addr::from(v6).to_string()),
        _ => None,
    }
}

/// A trust anchor's subject (the contents of the Name's SEQUENCE) as text.
fn name_of(contents: &[u8]) -> String {
    use x509_parser::prelude::FromDer as _;
    let mut der = vec![0x30];
    match contents.len() {
        len @ 0..0x80 => der.push(u8::try_from(len).unwrap_or(0)),
        len => {
            let bytes: Vec<u8> = len
                .to_be_bytes()
                .into_iter()
                .skip_while(|byte| *byte == 0)
                .collect();
            der.push(0x80 | u8::try_from(bytes.len()).unwrap_or(0));
            der.extend(bytes);
        }
    }
    der.extend_from_slice(contents);
    x509_parser::x509::X509Name::from_der(&der)
        .map(|(_, name)| name.to_string())
        .unwrap_or_default()
}

fn subject(cert: &CertificateDer<'_>) -> String {
    x509_parser::parse_x509_certificate(cert)
        .map(|(_, parsed)| parsed.subject().to_string())
        .unwrap_or_else(|_| "(unreadable certificate)".to_owned())
}

/// Records the chain, then verifies as a connection would.
#[derive(Debug)]
struct Recording {
    inner: Arc<WebPkiServerVerifier>,
    chain: Mutex<Vec<CertificateDer<'static>>>,
}

impl ServerCertVerifier for Recording {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let mut chain = vec![end_entity.clone().into_owned()];
        chain.extend(intermediates.iter().map(|cert| cert.clone().into_owned()));
        *self.chain.lock().unwrap_or_else(PoisonError::into_inner) = chain;
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

fn describe(chain: &[CertificateDer<'static>], report: &mut Report) {
    for (index, cert) in chain.iter().enumerate() {
        let Ok((_, parsed)) = x509_parser::parse_x509_certificate(cert) else {
            report.chain.push("(unreadable certificate)".to_owned());
            continue;
        };
        report.chain.push(parsed.subject().to_string());
        if index == 0 {
            report.expires = parsed.validity().not_after.to_string();
            if let Ok(Some(names)) = parsed.subject_alternative_name() {
                report.names = names
                    .value
                    .general_names
                    .iter()
                    .map(|name| match name {
                        x509_parser::extensions::GeneralName::DNSName(dns) => (*dns).to_owned(),
                        x509_parser::extensions::GeneralName::IPAddress(bytes) => {
                            ip_text(bytes).unwrap_or_else(|| name.to_string())
                        }
                        other => other.to_string(),
                    })
                    .collect();
            }
        }
        if index + 1 == chain.len() {
            report.issuer = parsed.issuer().to_string();
        }
    }
}

/// Asks `address` for TLS and shakes hands as `host`.
pub(crate) async fn inspect(host: &str, address: SocketAddr) -> Result<Report, Failure> {
    let io = |err: std::io::Error| Failure::Io(err.to_string());
    let mut stream = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(address))
        .await
        .map_err(|_| Failure::Io("the connection timed out".to_owned()))?
        .map_err(io)?;
    // SSLRequest: length 8, code 80877103.
    stream
        .write_all(&[0, 0, 0, 8, 4, 210, 22, 47])
        .await
        .map_err(io)?;
    let answer = stream.read_u8().await.map_err(io)?;
    if answer != b'S' {
        return Err(Failure::NoTls);
    }
    let (store, added) = roots().map_err(Failure::Io)?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let inner =
        WebPkiServerVerifier::builder_with_provider(Arc::new(store.clone()), Arc::clone(&provider))
            .build()
            .map_err(|err| Failure::Io(err.to_string()))?;
    let recording = Arc::new(Recording {
        inner,
        chain: Mutex::default(),
    });
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| Failure::Io(err.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::clone(&recording) as Arc<dyn ServerCertVerifier>)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"postgresql".to_vec()];
    let name = ServerName::try_from(host.to_owned()).map_err(|err| Failure::Io(err.to_string()))?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let result = connector.connect(name, stream).await;
    let chain = recording
        .chain
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let mut report = Report::default();
    describe(&chain, &mut report);
    let root_subjects: Vec<String> = webpki_roots::TLS_SERVER_ROOTS
        .iter()
        .map(|anchor| name_of(&anchor.subject))
        .chain(added)
        .collect();
    report.trusted_by = root_subjects
        .iter()
        .find(|subject| **subject == report.issuer)
        .cloned();
    match result {
        Ok(tls) => {
            let (_, connection) = tls.get_ref();
            report.protocol = connection
                .protocol_version()
                .map(|version| format!("{version:?}"))
                .unwrap_or_default();
            Ok(report)
        }
        Err(err) => Err(Failure::Handshake(err.to_string(), report)),
    }
}
