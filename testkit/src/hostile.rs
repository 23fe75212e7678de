//! A hostile PostgreSQL server: it speaks just enough of the protocol to ask every
//! client for a cleartext password, and counts the passwords that arrive.
//!
//! One [`HostileServer`] has a listener per way a token could leak ([`Listener`]):
//! plaintext TCP, TLS from an untrusted CA, TLS with a trusted certificate for
//! another host name, TLS with a trusted certificate for the Azure-style test name
//! and `localhost` (the positive control), and a Unix socket. Clients are given
//! [`trusted_ca_pem`](HostileServer::trusted_ca_pem) as an extra root. Every
//! password received is answered with `28P01 password authentication failed`.

use std::{
    collections::HashMap,
    io,
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, PoisonError,
    },
};

use rustls::{
    pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer},
    ServerConfig,
};
use tempfile::TempDir;
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    net::{TcpListener, UnixListener},
};
use tokio_rustls::TlsAcceptor;

use crate::{runtime, TestCa, AZURE_TEST_HOST};

/// The name the wrong-name listener's (trusted) certificate is for.
pub const OTHER_HOST: &str = "other.invalid";

/// The listeners of a [`HostileServer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Listener {
    /// Plain TCP: answers the TLS request with "no", then asks for the password.
    Plaintext,
    /// TLS with a certificate for every name used here, from a CA clients do not
    /// trust.
    UntrustedCa,
    /// TLS with a trusted certificate for [`OTHER_HOST`] only.
    WrongName,
    /// TLS with a trusted certificate for [`AZURE_TEST_HOST`], `localhost` and
    /// `127.0.0.1`: the positive control, where an allowed login does arrive.
    Trusted,
    /// A Unix-domain socket (no TLS possible).
    Socket,
}

impl Listener {
    /// Every listener.
    pub const ALL: [Self; 5] = [
        Self::Plaintext,
        Self::UntrustedCa,
        Self::WrongName,
        Self::Trusted,
        Self::Socket,
    ];
}

#[derive(Default)]
struct Counts {
    connections: AtomicU64,
    passwords: AtomicU64,
}

/// A hostile server with one listener of each kind. Stops when dropped.
pub struct HostileServer {
    ports: HashMap<Listener, u16>,
    socket_dir: TempDir,
    socket_port: u16,
    trusted_ca: String,
    untrusted_ca: String,
    counts: HashMap<Listener, Arc<Counts>>,
    users: Arc<Mutex<Vec<String>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl HostileServer {
    /// Starts every listener on loopback.
    pub fn start() -> Self {
        let trusted = TestCa::new("entra-pg hostile test CA (trusted)");
        let untrusted = TestCa::new("entra-pg hostile test CA (NOT trusted)");
        let everything = [AZURE_TEST_HOST, "localhost", "127.0.0.1", OTHER_HOST];
        let users = Arc::new(Mutex::new(Vec::new()));
        let socket_dir = tempfile::Builder::new()
            .prefix("entra-pg-hostile-")
            .tempdir()
            .expect("test kit: hostile socket dir");
        let mut ports = HashMap::new();
        let mut counts = HashMap::new();
        let mut tasks = Vec::new();
        let socket_port = 5432;
        for listener in Listener::ALL {
            let tls = match listener {
                Listener::Plaintext | Listener::Socket => None,
                Listener::UntrustedCa => Some(acceptor(untrusted.server_cert_for(&everything))),
                Listener::WrongName => Some(acceptor(trusted.server_cert_for(&[OTHER_HOST]))),
                Listener::Trusted => Some(acceptor(trusted.server_cert_for(&[
                    AZURE_TEST_HOST,
                    "localhost",
                    "127.0.0.1",
                ]))),
            };
            let count = Arc::new(Counts::default());
            counts.insert(listener, Arc::clone(&count));
            let users = Arc::clone(&users);
            let task = if listener == Listener::Socket {
                let path = socket_dir.path().join(format!(".s.PGSQL.{socket_port}"));
                let _guard = runtime::handle().enter();
                let unix = UnixListener::bind(&path).expect("test kit: bind hostile socket");
                runtime::handle().spawn(async move {
                    while let Ok((stream, _)) = unix.accept().await {
                        tokio::spawn(serve(stream, None, Arc::clone(&count), Arc::clone(&users)));
                    }
                })
            } else {
                let tcp = runtime::block_on(TcpListener::bind("127.0.0.1:0"))
                    .expect("test kit: bind hostile listener");
                ports.insert(listener, tcp.local_addr().expect("local addr").port());
                runtime::handle().spawn(async move {
                    while let Ok((stream, _)) = tcp.accept().await {
                        let _ = stream.set_nodelay(true);
                        tokio::spawn(serve(
                            stream,
                            tls.clone(),
                            Arc::clone(&count),
                            Arc::clone(&users),
                        ));
                    }
                })
            };
            tasks.push(task);
        }
        Self {
            ports,
            socket_dir,
            socket_port,
            trusted_ca: trusted.pem(),
            untrusted_ca: untrusted.pem(),
            counts,
            users,
            tasks,
        }
    }

    /// The TCP port of `listener` (the socket's port number is
    /// [`socket_port`](Self::socket_port)).
    pub fn port(&self, listener: Listener) -> u16 {
        match listener {
            Listener::Socket => self.socket_port,
            other => self.ports[&other],
        }
    }

    /// The directory of the Unix socket.
    pub fn socket_dir(&self) -> &Path {
        self.socket_dir.path()
    }

    /// The port number in the socket's file name (`.s.PGSQL.<port>`).
    pub fn socket_port(&self) -> u16 {
        self.socket_port
    }

    /// The full path of the Unix socket file.
    pub fn socket_path(&self) -> PathBuf {
        self.socket_dir
            .path()
            .join(format!(".s.PGSQL.{}", self.socket_port))
    }

    /// The CA that signed the [`WrongName`](Listener::WrongName) and
    /// [`Trusted`](Listener::Trusted) certificates; clients trust it.
    pub fn trusted_ca_pem(&self) -> &str {
        &self.trusted_ca
    }

    /// The CA of the [`UntrustedCa`](Listener::UntrustedCa) certificate, which
    /// clients must not trust (a hostile `PGSSLROOTCERT` names it).
    pub fn untrusted_ca_pem(&self) -> &str {
        &self.untrusted_ca
    }

    /// Passwords `listener` has received.
    pub fn passwords(&self, listener: Listener) -> u64 {
        self.counts[&listener].passwords.load(Ordering::SeqCst)
    }

    /// Connections `listener` has accepted (a client that refuses before
    /// connecting makes none).
    pub fn connections(&self, listener: Listener) -> u64 {
        self.counts[&listener].connections.load(Ordering::SeqCst)
    }

    /// Passwords received by every listener but `except`.
    pub fn passwords_except(&self, except: Listener) -> u64 {
        Listener::ALL
            .iter()
            .filter(|listener| **listener != except)
            .map(|listener| self.passwords(*listener))
            .sum()
    }

    /// The user names of every startup message received.
    pub fn users(&self) -> Vec<String> {
        self.users
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for HostileServer {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn acceptor((cert, key): (String, String)) -> TlsAcceptor {
    let chain = CertificateDer::pem_slice_iter(cert.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .expect("test kit: hostile certificate");
    let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).expect("test kit: hostile key");
    let config = ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .expect("test kit: hostile TLS config");
    TlsAcceptor::from(Arc::new(config))
}

const SSL_REQUEST: u32 = 80_877_103;
const GSSENC_REQUEST: u32 = 80_877_104;

/// One client: TLS negotiation as the listener allows, then the password request.
async fn serve<S>(
    mut stream: S,
    tls: Option<TlsAcceptor>,
    count: Arc<Counts>,
    users: Arc<Mutex<Vec<String>>>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    count.connections.fetch_add(1, Ordering::SeqCst);
    loop {
        let Ok(first) = stream.read_u8().await else {
            return;
        };
        if first == 0x16 {
            // A TLS ClientHello straight away (sslnegotiation=direct): not
            // supported here; the client fails closed.
            return;
        }
        let mut rest = [0_u8; 7];
        if stream.read_exact(&mut rest).await.is_err() {
            return;
        }
        let length = u32::from_be_bytes([first, rest[0], rest[1], rest[2]]) as usize;
        let code = u32::from_be_bytes([rest[3], rest[4], rest[5], rest[6]]);
        match code {
            SSL_REQUEST => match &tls {
                Some(acceptor) => {
                    if stream.write_all(b"S").await.is_err() {
                        return;
                    }
                    let Ok(secure) = acceptor.accept(stream).await else {
                        return; // the client refused the certificate
                    };
                    return ask_for_password(secure, None, &count, &users).await;
                }
                None => {
                    if stream.write_all(b"N").await.is_err() {
                        return;
                    }
                }
            },
            GSSENC_REQUEST => {
                if stream.write_all(b"N").await.is_err() {
                    return;
                }
            }
            _ => {
                // A startup message: the rest of it follows.
                let mut body = vec![0_u8; length.saturating_sub(8).min(1 << 16)];
                if stream.read_exact(&mut body).await.is_err() {
                    return;
                }
                return ask_for_password(stream, Some(body), &count, &users).await;
            }
        }
    }
}

async fn ask_for_password<S>(
    mut stream: S,
    startup: Option<Vec<u8>>,
    count: &Counts,
    users: &Mutex<Vec<String>>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let body = match startup {
        Some(body) => body,
        None => match read_startup(&mut stream).await {
            Ok(body) => body,
            Err(_) => return,
        },
    };
    let user = startup_user(&body).unwrap_or_default();
    users
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(user.clone());
    // AuthenticationCleartextPassword.
    if stream
        .write_all(&[b'R', 0, 0, 0, 8, 0, 0, 0, 3])
        .await
        .is_err()
    {
        return;
    }
    let Ok(tag) = stream.read_u8().await else {
        return;
    };
    let Ok(length) = stream.read_u32().await else {
        return;
    };
    let mut password = vec![0_u8; (length as usize).saturating_sub(4).min(1 << 16)];
    if tag != b'p' || stream.read_exact(&mut password).await.is_err() {
        return;
    }
    count.passwords.fetch_add(1, Ordering::SeqCst);
    let message = format!("password authentication failed for user \"{user}\"");
    let _ = stream.write_all(&error_response("28P01", &message)).await;
    let _ = stream.shutdown().await;
}

async fn read_startup<S: AsyncRead + Unpin>(stream: &mut S) -> io::Result<Vec<u8>> {
    let length = stream.read_u32().await? as usize;
    let mut body = vec![0_u8; length.saturating_sub(4).min(1 << 16)];
    stream.read_exact(&mut body).await?;
    // Drop the protocol version.
    Ok(body.split_off(4.min(body.len())))
}

/// The `user` parameter of a startup message body (after the version).
fn startup_user(body: &[u8]) -> Option<String> {
    let mut parts = body.split(|&byte| byte == 0);
    while let Some(key) = parts.next() {
        let value = parts.next()?;
        if key == b"user" {
            return Some(String::from_utf8_lossy(value).into_owned());
        }
    }
    None
}

fn error_response(code: &str, message: &str) -> Vec<u8> {
    let mut fields = Vec::new();
    for (tag, value) in [
        (b'S', "FATAL"),
        (b'V', "FATAL"),
        (b'C', code),
        (b'M', message),
    ] {
        fields.push(tag);
        fields.extend_from_slice(value.as_bytes());
        fields.push(0);
    }
    fields.push(0);
    let mut out = vec![b'E'];
    out.extend_from_slice(&(u32::try_from(fields.len() + 4).unwrap_or(u32::MAX)).to_be_bytes());
    out.extend_from_slice(&fields);
    out
}
