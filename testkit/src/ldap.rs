//! The process-wide LDAP responder behind the kit's PostgreSQL password check.
//!
//! Every [`PgServer`](crate::PgServer) authenticates TCP logins with `ldap` in
//! simple-bind mode: for a login as `user` with password `pw` the server binds to
//! this responder as `cn=<user>,dc=pg<server id>` with `pw`, and lets the user in
//! iff the bind succeeds. The responder keeps a registry of the passwords accepted
//! for each (server, role), each valid until an optional expiry, so the server
//! accepts *every* unexpired token issued for a role, like Azure does, while the
//! decision is still the server's.
//!
//! PostgreSQL builds the DN by plain concatenation (`ldapprefix` + user name +
//! `ldapsuffix`, no escaping), so user names with `,`, `=`, `"`, spaces … arrive
//! verbatim: the DN is parsed by stripping the known prefix and suffix, never by
//! splitting on commas. DN and password are compared as raw bytes, so they need
//! not be UTF-8; binds are parsed here rather than by `ldap3_proto`, which only
//! decodes UTF-8 names and passwords. Everything else goes through `ldap3_proto`.

use std::{
    collections::HashMap,
    io,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, MutexGuard, OnceLock, PoisonError,
    },
    time::Duration,
};

use futures::{SinkExt, StreamExt};
use ldap3_proto::{
    proto::{LdapBindResponse, LdapOp, LdapResult},
    DisconnectionNotice, LdapCodec, LdapMsg, LdapResultCode, ServerOps,
};
use time::OffsetDateTime;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::{
    bytes::BytesMut,
    codec::{Decoder, Encoder, Framed},
};

use entra_pg_core::clock::Clock;

use crate::runtime;

/// What PostgreSQL puts before the user name (`ldapprefix`).
const DN_PREFIX: &[u8] = b"cn=";
/// What PostgreSQL puts after the user name (`ldapsuffix`), followed by the id.
const DN_SUFFIX: &[u8] = b",dc=pg";
/// Largest LDAP message read. PostgreSQL caps passwords at 64 KiB itself.
const MAX_MESSAGE: usize = 1 << 20;

/// Identifies a server in the registry. Unique in the process (unlike ports,
/// which a later server may reuse), and part of the bind DN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct ServerId(u64);

impl ServerId {
    /// A new server with no accepted passwords; starts the responder if needed.
    pub(crate) fn register() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let id = Self(NEXT.fetch_add(1, Ordering::Relaxed));
        lock().insert(id, ServerState::default());
        id
    }

    /// The `pg_hba.conf` options of the `ldap` method that send this server's
    /// password checks to the responder.
    pub(crate) fn hba_options(self) -> String {
        format!(
            "ldapserver=127.0.0.1 ldapport={port} ldapprefix=\"{prefix}\" ldapsuffix=\"{suffix}{id}\"",
            port = port(),
            prefix = String::from_utf8_lossy(DN_PREFIX),
            suffix = String::from_utf8_lossy(DN_SUFFIX),
            id = self.0,
        )
    }

    /// Makes `password` valid for `role` until `valid_until` (`None`: forever) on
    /// `clock` (the system clock when `None`).
    pub(crate) fn accept(
        self,
        role: &str,
        password: &str,
        valid_until: Option<OffsetDateTime>,
        clock: Option<Arc<dyn Clock>>,
    ) {
        let mut registry = lock();
        let Some(server) = registry.get_mut(&self) else {
            return; // the server is gone
        };
        let passwords = server.roles.entry(role.to_owned()).or_default();
        passwords.retain(Accepted::valid);
        passwords.push(Accepted {
            password: password.to_owned(),
            valid_until,
            clock,
        });
    }

    /// From now on `password` is no longer accepted for `role` (revoked before
    /// its expiry).
    pub(crate) fn revoke(self, role: &str, password: &str) {
        if let Some(passwords) = lock()
            .get_mut(&self)
            .and_then(|server| server.roles.get_mut(role))
        {
            passwords.retain(|accepted| accepted.password != password);
        }
    }

    /// Passwords of `role` valid now.
    pub(crate) fn accepted(self, role: &str) -> usize {
        lock()
            .get(&self)
            .and_then(|server| server.roles.get(role))
            .map_or(0, |passwords| {
                passwords.iter().filter(|a| a.valid()).count()
            })
    }

    /// Binds made for this server: (all, successful).
    pub(crate) fn checks(self) -> (u64, u64) {
        lock()
            .get(&self)
            .map_or((0, 0), |server| (server.checks, server.passed))
    }

    /// Binds made for this server as `user`.
    pub(crate) fn checks_for(self, user: &str) -> u64 {
        lock()
            .get(&self)
            .and_then(|server| server.checks_by_user.get(user.as_bytes()).copied())
            .unwrap_or(0)
    }

    /// Drops the server's registry entry; later binds for it fail.
    pub(crate) fn forget(self) {
        lock().remove(&self);
    }
}

#[derive(Default)]
struct ServerState {
    roles: HashMap<String, Vec<Accepted>>,
    checks: u64,
    passed: u64,
    /// Binds per user name (raw bytes, as the server sent them).
    checks_by_user: HashMap<Vec<u8>, u64>,
}

struct Accepted {
    password: String,
    valid_until: Option<OffsetDateTime>,
    /// The clock the expiry is judged on (a test's manual clock), else the system's.
    clock: Option<Arc<dyn Clock>>,
}

impl Accepted {
    /// Valid strictly before its expiry: at the expiry instant it is expired.
    fn valid(&self) -> bool {
        let now = self
            .clock
            .as_ref()
            .map_or_else(OffsetDateTime::now_utc, |clock| clock.now());
        self.valid_until.is_none_or(|until| now < until)
    }
}

fn lock() -> MutexGuard<'static, HashMap<ServerId, ServerState>> {
    static REGISTRY: OnceLock<Mutex<HashMap<ServerId, ServerState>>> = OnceLock::new();
    REGISTRY
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

/// Decides a simple bind: `dn` must name a known server and a role, and
/// `password` must be one accepted for it and unexpired now. Counts the bind.
fn check(dn: &[u8], password: &[u8]) -> bool {
    let Some((server, user)) = parse_dn(dn) else {
        return false;
    };
    let mut registry = lock();
    let Some(state) = registry.get_mut(&server) else {
        return false;
    };
    state.checks += 1;
    *state.checks_by_user.entry(user.to_vec()).or_default() += 1;
    // An empty password would be an unauthenticated bind (RFC 4513 §5.1.2).
    let passed = !password.is_empty()
        && std::str::from_utf8(user)
            .ok()
            .and_then(|role| state.roles.get(role))
            .is_some_and(|accepted| {
                accepted
                    .iter()
                    .any(|a| a.valid() && a.password.as_bytes() == password)
            });
    if passed {
        state.passed += 1;
    }
    passed
}

/// `cn=<user>,dc=pg<id>` → (id, user). The user part is taken verbatim between
/// the prefix and the *last* suffix, whatever it contains.
fn parse_dn(dn: &[u8]) -> Option<(ServerId, &[u8])> {
    let at = dn
        .windows(DN_SUFFIX.len())
        .rposition(|window| window == DN_SUFFIX)?;
    let digits = &dn[at + DN_SUFFIX.len()..];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let id = std::str::from_utf8(digits).ok()?.parse().ok()?;
    let user = dn[..at].strip_prefix(DN_PREFIX)?;
    Some((ServerId(id), user))
}

/// The responder's port, starting it on the kit's runtime on first use.
fn port() -> u16 {
    static PORT: OnceLock<u16> = OnceLock::new();
    *PORT.get_or_init(|| {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.set_nonblocking(true).map(|()| listener))
            .expect("test kit: bind the LDAP responder");
        let port = listener.local_addr().expect("local addr").port();
        runtime::handle().spawn(async move {
            let listener =
                TcpListener::from_std(listener).expect("test kit: LDAP responder listener");
            serve(listener).await;
        });
        port
    })
}

async fn serve(listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(session(stream));
            }
            Err(err) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!("test kit: LDAP responder cannot accept: {err}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

/// One connection from a PostgreSQL backend: binds until it unbinds.
async fn session(stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut framed = Framed::new(stream, ServerCodec::default());
    while let Some(request) = framed.next().await {
        let reply = match request {
            Ok(Request::SimpleBind {
                msgid,
                dn,
                password,
            }) => bind_response(msgid, check(&dn, &password)),
            // No reply to an unbind (RFC 4511 §4.3): just close.
            Ok(Request::Unbind) => return,
            Ok(Request::Other) => {
                let notice = DisconnectionNotice::gen_response(
                    LdapResultCode::UnwillingToPerform,
                    "test kit: only simple binds are supported",
                );
                let _ = framed.send(notice).await;
                return;
            }
            Err(_) => {
                let notice = DisconnectionNotice::gen_response(
                    LdapResultCode::ProtocolError,
                    "test kit: malformed LDAP message",
                );
                let _ = framed.send(notice).await;
                return;
            }
        };
        if framed.send(reply).await.is_err() {
            return;
        }
    }
}

fn bind_response(msgid: i32, passed: bool) -> LdapMsg {
    let (code, message) = if passed {
        (LdapResultCode::Success, "")
    } else {
        (
            LdapResultCode::InvalidCredentials,
            "test kit: not an unexpired password accepted for this role",
        )
    };
    LdapMsg {
        msgid,
        op: LdapOp::BindResponse(LdapBindResponse {
            res: LdapResult {
                code,
                matcheddn: String::new(),
                message: message.to_owned(),
                referral: Vec::new(),
            },
            saslcreds: None,
        }),
        ctrl: Vec::new(),
    }
}

/// A request as the responder sees it.
#[derive(PartialEq)]
enum Request {
    /// A simple bind, name and password as sent (raw bytes).
    SimpleBind {
        msgid: i32,
        dn: Vec<u8>,
        password: Vec<u8>,
    },
    Unbind,
    /// Anything else: SASL binds, searches, extended operations …
    Other,
}

// By hand, so that a password never shows.
impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::SimpleBind { msgid, dn, .. } => f
                .debug_struct("SimpleBind")
                .field("msgid", msgid)
                .field("dn", &String::from_utf8_lossy(dn))
                .finish_non_exhaustive(),
            Self::Unbind => f.write_str("Unbind"),
            Self::Other => f.write_str("Other"),
        }
    }
}

/// Frames LDAP messages; decodes simple binds itself (raw bytes, any length up
/// to [`MAX_MESSAGE`]) and everything else with `ldap3_proto`'s codec, which also
/// encodes the replies.
struct ServerCodec(LdapCodec);

impl Default for ServerCodec {
    fn default() -> Self {
        Self(LdapCodec::new(Some(MAX_MESSAGE), None))
    }
}

impl Decoder for ServerCodec {
    type Item = Request;
    type Error = io::Error;

    fn decode(&mut self, buf: &mut BytesMut) -> io::Result<Option<Request>> {
        let Some(len) = message_len(buf)? else {
            return Ok(None);
        };
        if buf.len() < len {
            buf.reserve(len - buf.len());
            return Ok(None);
        }
        let mut message = buf.split_to(len);
        if let Some(bind) = simple_bind(&message) {
            return Ok(Some(bind));
        }
        let msg = self
            .0
            .decode(&mut message)?
            .ok_or_else(|| invalid("truncated LDAP message"))?;
        Ok(Some(match ServerOps::try_from(msg) {
            Ok(ServerOps::SimpleBind(bind)) => Request::SimpleBind {
                msgid: bind.msgid,
                dn: bind.dn.into_bytes(),
                password: bind.pw.into_bytes(),
            },
            Ok(ServerOps::Unbind(_)) => Request::Unbind,
            _ => Request::Other,
        }))
    }
}

impl Encoder<LdapMsg> for ServerCodec {
    type Error = io::Error;

    fn encode(&mut self, msg: LdapMsg, buf: &mut BytesMut) -> io::Result<()> {
        self.0.encode(msg, buf)
    }
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

/// The length of the LDAPMessage starting `buf`, once its header is in.
fn message_len(buf: &[u8]) -> io::Result<Option<usize>> {
    let (Some(&tag), Some(&first)) = (buf.first(), buf.get(1)) else {
        return Ok(None);
    };
    if tag != 0x30 {
        return Err(invalid("not an LDAPMessage"));
    }
    let (header, len) = if first < 0x80 {
        (2, usize::from(first))
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 {
            return Err(invalid("unsupported BER length"));
        }
        let Some(bytes) = buf.get(2..2 + count) else {
            return Ok(None);
        };
        (2 + count, be_usize(bytes))
    };
    if len > MAX_MESSAGE {
        return Err(invalid("LDAP message too large"));
    }
    Ok(Some(header + len))
}

fn be_usize(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .fold(0, |acc, &byte| (acc << 8) | usize::from(byte))
}

/// Splits one BER element (one-byte tag, definite length) off `input`:
/// (tag, contents, rest).
fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let (bytes, rest) = rest.split_at(count);
        (be_usize(bytes), rest)
    };
    if rest.len() < len {
        return None;
    }
    let (contents, rest) = rest.split_at(len);
    Some((tag, contents, rest))
}

/// RFC 4511: `LDAPMessage ::= SEQUENCE { messageID INTEGER, bindRequest
/// [APPLICATION 0] SEQUENCE { version INTEGER (3), name OCTET STRING, simple
/// [0] OCTET STRING }, controls [0] OPTIONAL }`. `None` for anything else.
fn simple_bind(message: &[u8]) -> Option<Request> {
    let (0x30, message, _) = element(message)? else {
        return None;
    };
    let (0x02, msgid, rest) = element(message)? else {
        return None;
    };
    let (0x60, bind, _controls) = element(rest)? else {
        return None;
    };
    let (0x02, [3], rest) = element(bind)? else {
        return None;
    };
    let (0x04, dn, rest) = element(rest)? else {
        return None;
    };
    let (0x80, password, []) = element(rest)? else {
        return None;
    };
    Some(Request::SimpleBind {
        msgid: message_id(msgid)?,
        dn: dn.to_vec(),
        password: password.to_vec(),
    })
}

/// A BER INTEGER's contents as a message ID (0 ..= 2³¹−1).
fn message_id(contents: &[u8]) -> Option<i32> {
    let (&first, _) = contents.split_first()?;
    if contents.len() > 8 {
        return None;
    }
    let sign = if first & 0x80 == 0 { 0 } else { -1 };
    let value = contents
        .iter()
        .fold(sign, |acc: i64, &byte| (acc << 8) | i64::from(byte));
    i32::try_from(value).ok().filter(|id| *id >= 0)
}

#[cfg(test)]
mod tests {
    use ldap3_proto::proto::{LdapBindCred, LdapBindRequest};

    use super::*;

    fn encode(msg: LdapMsg) -> BytesMut {
        let mut buf = BytesMut::new();
        LdapCodec::default().encode(msg, &mut buf).unwrap();
        buf
    }

    fn bind(msgid: i32, dn: &str, password: &str) -> LdapMsg {
        LdapMsg {
            msgid,
            op: LdapOp::BindRequest(LdapBindRequest {
                dn: dn.to_owned(),
                cred: LdapBindCred::Simple(password.to_owned()),
            }),
            ctrl: Vec::new(),
        }
    }

    fn decode_all(mut buf: BytesMut) -> Vec<Request> {
        let mut codec = ServerCodec::default();
        let mut out = Vec::new();
        while let Some(request) = codec.decode(&mut buf).unwrap() {
            out.push(request);
        }
        assert!(buf.is_empty(), "all consumed");
        out
    }

    #[test]
    fn simple_binds_decode_with_raw_name_and_password_of_any_size() {
        let long = "x".repeat(16 * 1024);
        for (dn, password) in [
            ("cn=a,dc=pg1", "secret"),
            ("cn=\"o'brien, x\"=1 @contoso.com,dc=pg12", "pw"),
            ("cn=ü,dc=pg3", long.as_str()),
        ] {
            let got = decode_all(encode(bind(7, dn, password)));
            assert!(
                got == [Request::SimpleBind {
                    msgid: 7,
                    dn: dn.as_bytes().to_vec(),
                    password: password.as_bytes().to_vec(),
                }],
                "{dn}"
            );
        }
    }

    #[test]
    fn a_password_that_is_not_utf8_is_kept_as_bytes() {
        // SEQUENCE { INTEGER 2, [APPLICATION 0] { INTEGER 3, "cn=a,dc=pg1", [0] ff fe } }
        let dn = b"cn=a,dc=pg1";
        let mut bind = vec![0x02, 0x01, 0x03, 0x04, dn.len() as u8];
        bind.extend_from_slice(dn);
        bind.extend_from_slice(&[0x80, 0x02, 0xff, 0xfe]);
        let mut message = vec![0x02, 0x01, 0x02, 0x60, bind.len() as u8];
        message.extend_from_slice(&bind);
        let mut frame = vec![0x30, message.len() as u8];
        frame.extend_from_slice(&message);
        let got = decode_all(BytesMut::from(&frame[..]));
        assert!(
            got == [Request::SimpleBind {
                msgid: 2,
                dn: dn.to_vec(),
                password: vec![0xff, 0xfe],
            }]
        );
    }

    #[test]
    fn messages_split_anywhere_and_unbind_and_others_decode() {
        let search = LdapMsg {
            msgid: 3,
            op: LdapOp::ExtendedRequest(ldap3_proto::proto::LdapExtendedRequest {
                name: "1.3.6.1.4.1.1466.20037".to_owned(), // StartTLS
                value: None,
            }),
            ctrl: Vec::new(),
        };
        let unbind = LdapMsg {
            msgid: 2,
            op: LdapOp::UnbindRequest,
            ctrl: Vec::new(),
        };
        let mut all = encode(bind(1, "cn=a,dc=pg1", &"p".repeat(300)));
        all.extend_from_slice(&encode(search));
        all.extend_from_slice(&encode(unbind));
        let mut codec = ServerCodec::default();
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for byte in all {
            buf.extend_from_slice(&[byte]);
            if let Some(request) = codec.decode(&mut buf).unwrap() {
                got.push(request);
            }
        }
        assert_eq!(got.len(), 3);
        assert!(matches!(got[0], Request::SimpleBind { msgid: 1, .. }));
        assert_eq!(got[1], Request::Other);
        assert_eq!(got[2], Request::Unbind);
    }

    #[test]
    fn garbage_is_an_error() {
        let mut codec = ServerCodec::default();
        assert!(codec
            .decode(&mut BytesMut::from(&b"GET / HTTP/1.1"[..]))
            .is_err());
        let huge = [0x30, 0x84, 0x7f, 0xff, 0xff, 0xff];
        assert!(codec.decode(&mut BytesMut::from(&huge[..])).is_err());
    }

    #[test]
    fn the_dn_is_split_at_the_known_prefix_and_last_suffix() {
        assert_eq!(
            parse_dn(b"cn=a,b=c,dc=pg1,dc=pg22"),
            Some((ServerId(22), &b"a,b=c,dc=pg1"[..]))
        );
        assert_eq!(
            parse_dn(b"cn=,dc=pg5"),
            Some((ServerId(5), &b""[..])),
            "empty user"
        );
        assert_eq!(parse_dn(b"cn=a,dc=pg"), None);
        assert_eq!(parse_dn(b"cn=a,dc=pg5x"), None);
        assert_eq!(parse_dn(b"uid=a,dc=pg5"), None);
        assert_eq!(parse_dn(b""), None);
    }

    #[test]
    fn binds_pass_only_for_registered_unexpired_passwords() {
        let server = ServerId::register();
        let other = ServerId::register();
        let now = OffsetDateTime::now_utc();
        let hour = time::Duration::hours(1);
        server.accept("r", "forever", None, None);
        server.accept("r", "later", Some(now + hour), None);
        server.accept("r", "gone", Some(now - hour), None);
        other.accept("r", "other", None, None);
        // On a manual clock an hour in the past, "gone" in system time is valid.
        let clock = entra_pg_core::clock::ManualClock::new(now - 2 * hour);
        server.accept(
            "r",
            "clocked",
            Some(now - hour),
            Some(Arc::new(clock.clone())),
        );
        let dn = format!("cn=r,dc=pg{}", server.0);
        let dn = dn.as_bytes();
        assert!(check(dn, b"forever"));
        assert!(check(dn, b"later"));
        assert!(!check(dn, b"gone"));
        assert!(check(dn, b"clocked"));
        clock.advance(2 * hour);
        assert!(!check(dn, b"clocked"), "expired on its own clock");
        server.accept("r", "revoked", None, None);
        assert!(check(dn, b"revoked"));
        server.revoke("r", "revoked");
        assert!(!check(dn, b"revoked"));
        assert!(!check(dn, b"other"));
        assert!(!check(dn, b""));
        assert!(!check(
            format!("cn=s,dc=pg{}", server.0).as_bytes(),
            b"forever"
        ));
        assert_eq!(server.checks(), (10, 4));
        assert_eq!(server.accepted("r"), 2, "the expired one is not counted");
        server.forget();
        assert!(!check(dn, b"forever"));
        assert_eq!(server.checks(), (0, 0));
    }
}
