//! A real, throwaway PostgreSQL server for tests.

use std::{
    fmt, fs,
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::{Arc, Mutex, OnceLock, PoisonError},
    time::Duration,
};

use rustls::pki_types::{pem::PemObject, CertificateDer};
use tempfile::TempDir;
use time::OffsetDateTime;
use tokio_postgres::{config::SslMode, Client, NoTls};

use crate::{bindir::find_bindir, certs::TestCa, ldap::ServerId, runtime};

/// How to start a [`PgServer`].
#[must_use]
pub struct PgServerBuilder {
    tls: bool,
    max_connections: u32,
    socket_logins: bool,
}

impl PgServerBuilder {
    /// `false` starts a server without TLS that still asks for (and checks) the
    /// cleartext password: the insecure server the driver crates must refuse to
    /// send a token to ([`PgServer::password_checks`] tells whether one did).
    pub fn tls(mut self, tls: bool) -> Self {
        self.tls = tls;
        self
    }

    /// `true` lets login roles connect over the server's Unix socket too, with the
    /// password checked like over TCP: the server asks a socket client for its
    /// password, so a client that sends a token there is caught
    /// ([`password_checks_for`](PgServer::password_checks_for) counts it). By
    /// default only the superuser may use the socket.
    pub fn socket_logins(mut self, allow: bool) -> Self {
        self.socket_logins = allow;
        self
    }

    /// `max_connections` of the server (default 300).
    pub fn max_connections(mut self, max: u32) -> Self {
        self.max_connections = max;
        self
    }

    /// Starts the server; panics with the reason when it cannot.
    pub fn start(self) -> PgServer {
        let mut last_error = String::new();
        for _ in 0..3 {
            match PgServer::try_start(&self) {
                Ok(server) => return server,
                Err(err) => last_error = err,
            }
        }
        panic!("test kit: cannot start PostgreSQL: {last_error}");
    }
}

/// A PostgreSQL server in a temporary directory, removed when dropped (or, for the
/// process-wide [`shared`](Self::shared) server, by a watchdog when the process ends).
///
/// Login roles may connect over TCP only with TLS (plaintext is rejected), and
/// only with a password the server checks through LDAP (`hostssl … ldap`) against
/// the kit's process-wide registry: a password is accepted for a role iff it was
/// registered for this server and role with [`accept_password`](Self::accept_password)
/// (which every database token issued for a [`login_on`](crate::IdentityBuilder::login_on)
/// role does) and has not expired. So, as on Azure, every unexpired token of a
/// role logs in, not only the newest. The superuser `postgres` connects over the
/// Unix socket in the directory, without password, for administration.
pub struct PgServer {
    dir: TempDir,
    port: u16,
    tls: bool,
    ca_pem: String,
    /// The superuser's connection; replaced when it has closed (after a restart).
    admin: Mutex<Arc<Client>>,
    bin: PathBuf,
    as_postgres: bool,
    ldap: ServerId,
}

/// Why a test login failed, as the server (or TLS) reported it.
#[derive(Debug, Clone)]
pub struct LoginError {
    /// The SQLSTATE, when the server answered with an error.
    pub code: Option<String>,
    /// The driver's message (with its source chain).
    pub message: String,
}

impl LoginError {
    /// Whether the server refused the login: SQLSTATE 28000
    /// (invalid_authorization_specification: how PostgreSQL reports a failed LDAP
    /// password check, and also a `pg_hba.conf` rejection) or 28P01
    /// (invalid_password).
    pub fn is_auth_failure(&self) -> bool {
        matches!(self.code.as_deref(), Some("28000" | "28P01"))
    }
}

impl fmt::Display for LoginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (SQLSTATE {:?})", self.message, self.code)
    }
}

impl PgServer {
    /// A builder for a server with TLS on and room for 300 connections.
    pub fn builder() -> PgServerBuilder {
        PgServerBuilder {
            tls: true,
            max_connections: 300,
            socket_logins: false,
        }
    }

    /// The process-wide TLS server, started on first use.
    pub fn shared() -> &'static Self {
        static SHARED: OnceLock<PgServer> = OnceLock::new();
        SHARED.get_or_init(|| Self::builder().start())
    }

    /// The process-wide server *without* TLS (it accepts cleartext passwords),
    /// started on first use: the insecure server clients must refuse.
    pub fn shared_plaintext() -> &'static Self {
        static SHARED: OnceLock<PgServer> = OnceLock::new();
        SHARED.get_or_init(|| Self::builder().tls(false).start())
    }

    /// The host name clients use; the certificate is valid for it.
    pub fn host(&self) -> &'static str {
        "localhost"
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether the server speaks TLS.
    pub fn tls(&self) -> bool {
        self.tls
    }

    /// The PEM of the CA that signed the server certificate.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The directory of the server's Unix socket (`.s.PGSQL.<port>` inside).
    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    /// A file holding [`ca_pem`](Self::ca_pem), for `PGSSLROOTCERT`.
    pub fn ca_path(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// Runs SQL as the superuser (blocking; works from any thread).
    pub fn execute(&self, sql: &str) {
        let admin = self.admin();
        let sql = sql.to_owned();
        runtime::block_on(async move { admin.batch_execute(&sql).await })
            .unwrap_or_else(|err| panic!("test kit: admin SQL failed: {err:?}"));
    }

    /// The superuser's connection, reconnected if it has closed (the server was
    /// restarted).
    fn admin(&self) -> Arc<Client> {
        let mut admin = self.admin.lock().unwrap_or_else(PoisonError::into_inner);
        if admin.is_closed() {
            let client = connect_admin(self.dir.path(), self.port)
                .unwrap_or_else(|err| panic!("test kit: {err}"));
            *admin = Arc::new(client);
        }
        Arc::clone(&admin)
    }

    /// Restarts the server (`pg_ctl restart -m fast`: open sessions are ended) and
    /// returns once it accepts connections again; panics with the reason when it
    /// cannot. Roles, passwords and settings are kept.
    pub fn restart(&self) {
        let data = self.dir.path().join("data");
        let log = self.dir.path().join("server.log");
        run_pg(
            &self.bin,
            self.as_postgres,
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-l".as_ref(),
                log.as_os_str(),
                "-m".as_ref(),
                "fast".as_ref(),
                "-w".as_ref(),
                "-t".as_ref(),
                "60".as_ref(),
                "restart".as_ref(),
            ],
        )
        .unwrap_or_else(|err| panic!("test kit: cannot restart PostgreSQL: {err}"));
        // The old admin session ended with the old server.
        let client = connect_admin(self.dir.path(), self.port)
            .unwrap_or_else(|err| panic!("test kit: {err}"));
        *self.admin.lock().unwrap_or_else(PoisonError::into_inner) = Arc::new(client);
    }

    /// Creates a role that may log in but has no password yet: it can log in once a
    /// password is accepted for it, by [`accept_password`](Self::accept_password) or
    /// by a [`FakeEntra`](crate::FakeEntra) identity bound to it issuing a token.
    pub fn create_login_role(&self, role: &str) {
        self.execute(&format!("CREATE ROLE {} LOGIN", quote_ident(role)));
    }

    /// Creates a login role with a static password that never expires: the
    /// classic password login, checked by the server the same way as tokens (so
    /// benchmarks compare like with like).
    pub fn create_password_role(&self, role: &str, password: &str) {
        self.create_login_role(role);
        self.accept_password(role, password, None);
    }

    /// From now on the server accepts `password` for `role`, until `valid_until`
    /// (exclusive; `None`: forever), in addition to the passwords accepted before.
    /// The role must exist to log in. Empty passwords are never accepted.
    pub fn accept_password(&self, role: &str, password: &str, valid_until: Option<OffsetDateTime>) {
        self.ldap.accept(role, password, valid_until, None);
    }

    /// From now on the server no longer accepts `password` for `role`, even if it
    /// has not expired (a revoked token).
    pub fn revoke_password(&self, role: &str, password: &str) {
        self.ldap.revoke(role, password);
    }

    /// How many passwords of `role` the server accepts right now (unexpired).
    pub fn accepted_passwords(&self, role: &str) -> usize {
        self.ldap.accepted(role)
    }

    /// How many passwords this server has received from clients and checked
    /// (LDAP binds), accepted or not. A login that never got as far as sending a
    /// password (a client refusing to send it, a TLS failure) does not count.
    pub fn password_checks(&self) -> u64 {
        self.ldap.checks().0
    }

    /// How many passwords this server has received and checked for the user
    /// `role`: exact even while other tests use the server.
    pub fn password_checks_for(&self, role: &str) -> u64 {
        self.ldap.checks_for(role)
    }

    /// How many of the [`password_checks`](Self::password_checks) passed.
    pub fn password_checks_passed(&self) -> u64 {
        self.ldap.checks().1
    }

    pub(crate) fn ldap_id(&self) -> ServerId {
        self.ldap
    }

    /// Logs in over verified TLS as `user` with `password` and returns `current_user`.
    /// The server decides; this only reports.
    pub async fn login(&self, user: &str, password: &str) -> Result<String, LoginError> {
        let mut config = tokio_postgres::Config::new();
        config
            .host(self.host())
            .port(self.port)
            .user(user)
            .password(password)
            .dbname("postgres")
            .ssl_mode(SslMode::Require)
            .connect_timeout(Duration::from_secs(10));
        let tls = tokio_postgres_rustls::MakeRustlsConnect::new(client_tls_config(&self.ca_pem));
        runtime::run(async move {
            let (client, connection) = config.connect(tls).await.map_err(login_error)?;
            tokio::spawn(connection);
            let row = client
                .query_one("SELECT current_user::text", &[])
                .await
                .map_err(login_error)?;
            Ok(row.get::<_, String>(0))
        })
        .await
    }

    /// [`login`](Self::login) for synchronous code.
    pub fn login_blocking(&self, user: &str, password: &str) -> Result<String, LoginError> {
        futures::executor::block_on(self.login(user, password))
    }

    fn try_start(options: &PgServerBuilder) -> Result<Self, String> {
        let bin = find_bindir()?;
        let as_postgres = running_as_root();
        let dir = tempfile::Builder::new()
            .prefix("entra-pg-test-")
            .tempdir()
            .map_err(|err| format!("temp dir: {err}"))?;
        if as_postgres {
            chown_to_postgres(dir.path())?;
        }
        let data = dir.path().join("data");
        run_pg(
            &bin,
            as_postgres,
            "initdb",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-U".as_ref(),
                "postgres".as_ref(),
                "-A".as_ref(),
                "trust".as_ref(),
                "-E".as_ref(),
                "UTF8".as_ref(),
                "--locale=C".as_ref(),
                "--no-sync".as_ref(),
            ],
        )?;

        let ca = TestCa::new("entra-pg test CA");
        let (cert, key) = ca.server_cert();
        write_file(&data.join("server.crt"), &cert, 0o644, as_postgres)?;
        write_file(&data.join("server.key"), &key, 0o600, as_postgres)?;
        write_file(&dir.path().join("ca.crt"), &ca.pem(), 0o644, false)?;

        let port = free_port()?;
        let conf = format!(
            "\n# entra-pg test kit\n\
             listen_addresses = 'localhost'\n\
             port = {port}\n\
             unix_socket_directories = '{socket}'\n\
             ssl = {ssl}\n\
             ssl_cert_file = 'server.crt'\n\
             ssl_key_file = 'server.key'\n\
             max_connections = {max}\n\
             shared_buffers = 32MB\n\
             fsync = off\n\
             synchronous_commit = off\n\
             full_page_writes = off\n\
             log_connections = on\n",
            socket = dir.path().display(),
            ssl = if options.tls { "on" } else { "off" },
            max = options.max_connections,
        );
        append_file(&data.join("postgresql.conf"), &conf)?;
        let ldap = ServerId::register();
        let hba = hba_conf(options.tls, options.socket_logins, &ldap.hba_options());
        write_file(&data.join("pg_hba.conf"), &hba, 0o600, as_postgres)?;

        let log = dir.path().join("server.log");
        run_pg(
            &bin,
            as_postgres,
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-l".as_ref(),
                log.as_os_str(),
                "-w".as_ref(),
                "-t".as_ref(),
                "60".as_ref(),
                "start".as_ref(),
            ],
        )
        .map_err(|err| {
            format!(
                "{err}\nserver log:\n{}",
                fs::read_to_string(&log).unwrap_or_default()
            )
        })?;
        spawn_watchdog(dir.path(), &data);

        let admin = connect_admin(dir.path(), port)?;

        Ok(Self {
            dir,
            port,
            tls: options.tls,
            ca_pem: ca.pem(),
            admin: Mutex::new(Arc::new(admin)),
            bin,
            as_postgres,
            ldap,
        })
    }
}

/// The superuser's connection over the Unix socket in `dir`, driven on the kit's
/// runtime.
fn connect_admin(dir: &Path, port: u16) -> Result<Client, String> {
    let mut config = tokio_postgres::Config::new();
    config
        .host_path(dir)
        .port(port)
        .user("postgres")
        .dbname("postgres");
    runtime::block_on(async move {
        let (client, connection) = config.connect(NoTls).await?;
        tokio::spawn(connection);
        Ok::<_, tokio_postgres::Error>(client)
    })
    .map_err(|err| format!("admin connection: {err}"))
}

/// Superuser over the socket without password; everyone else over TCP, with the
/// password checked through LDAP (and over the socket too with `socket_logins`);
/// with TLS on, TCP without TLS is rejected.
fn hba_conf(tls: bool, socket_logins: bool, ldap_options: &str) -> String {
    let host = if tls { "hostssl" } else { "host" };
    let socket = if socket_logins {
        format!("ldap {ldap_options}")
    } else {
        "reject".to_owned()
    };
    let mut hba = format!(
        "local all postgres trust\n\
         local all all {socket}\n\
         {host} all all 127.0.0.1/32 ldap {ldap_options}\n\
         {host} all all ::1/128 ldap {ldap_options}\n"
    );
    if tls {
        hba.push_str(
            "hostnossl all all 127.0.0.1/32 reject\n\
             hostnossl all all ::1/128 reject\n",
        );
    }
    hba
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let _ = run_pg(
            &self.bin,
            self.as_postgres,
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-m".as_ref(),
                "immediate".as_ref(),
                "-w".as_ref(),
                "stop".as_ref(),
            ],
        );
        self.ldap.forget();
    }
}

/// A rustls client config that trusts only `ca_pem`, with an explicit provider.
pub(crate) fn client_tls_config(ca_pem: &str) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.expect("CA PEM")).expect("CA certificate");
    }
    rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_root_certificates(roots)
    .with_no_client_auth()
}

fn login_error(err: tokio_postgres::Error) -> LoginError {
    let mut message = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    LoginError {
        code: err.code().map(|code| code.code().to_owned()),
        message,
    }
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
        .unwrap_or(false)
}

fn postgres_ids() -> Result<(u32, u32), String> {
    let id = |flag: &str| -> Result<u32, String> {
        let out = Command::new("id")
            .args([flag, "postgres"])
            .output()
            .map_err(|err| format!("id: {err}"))?;
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .map_err(|_| {
                "running as root needs an OS user named postgres to run the server".to_owned()
            })
    };
    Ok((id("-u")?, id("-g")?))
}

fn chown_to_postgres(path: &Path) -> Result<(), String> {
    let (uid, gid) = postgres_ids()?;
    std::os::unix::fs::chown(path, Some(uid), Some(gid))
        .map_err(|err| format!("chown {}: {err}", path.display()))
}

fn write_file(path: &Path, text: &str, mode: u32, own: bool) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    fs::write(path, text).map_err(|err| format!("write {}: {err}", path.display()))?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(|err| format!("chmod {}: {err}", path.display()))?;
    if own {
        chown_to_postgres(path)?;
    }
    Ok(())
}

fn append_file(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    fs::OpenOptions::new()
        .append(true)
        .open(path)
        .and_then(|mut file| file.write_all(text.as_bytes()))
        .map_err(|err| format!("append {}: {err}", path.display()))
}

fn run_pg(
    bin: &Path,
    as_postgres: bool,
    program: &str,
    args: &[&std::ffi::OsStr],
) -> Result<(), String> {
    let program = bin.join(program);
    let mut command = if as_postgres {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(&program);
        command
    } else {
        Command::new(&program)
    };
    let out = command
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|err| format!("{}: {err}", program.display()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{} failed ({}): {}{}",
            program.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|err| format!("no free port: {err}"))
}

/// Stops the server and removes its directory once this process has ended, however
/// it ends (statics are never dropped, tests may panic or be killed).
fn spawn_watchdog(dir: &Path, data: &Path) {
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
         kill -QUIT \"$(head -n 1 '{data}/postmaster.pid' 2>/dev/null)\" 2>/dev/null; \
         sleep 2; rm -rf '{dir}'",
        pid = std::process::id(),
        data = data.display(),
        dir = dir.display(),
    );
    let _ = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Logs in without TLS, as a careless client would.
    fn plaintext_login(
        server: &PgServer,
        user: &str,
        password: &str,
    ) -> Result<String, LoginError> {
        let mut config = tokio_postgres::Config::new();
        config
            .host(server.host())
            .port(server.port())
            .user(user)
            .password(password)
            .dbname("postgres")
            .ssl_mode(SslMode::Disable)
            .connect_timeout(Duration::from_secs(10));
        runtime::block_on(async move {
            let (client, connection) = config.connect(NoTls).await.map_err(login_error)?;
            tokio::spawn(connection);
            let row = client
                .query_one("SELECT current_user::text", &[])
                .await
                .map_err(login_error)?;
            Ok(row.get::<_, String>(0))
        })
    }

    #[test]
    fn a_server_without_tls_asks_for_and_checks_a_cleartext_password() {
        let server = PgServer::builder().tls(false).max_connections(10).start();
        server.create_password_role("plain", "secret");
        // A client that insists on TLS never gets as far as sending the password …
        let err = server.login_blocking("plain", "secret").unwrap_err();
        assert_eq!(server.password_checks(), 0, "{err}");
        // … a plaintext client does, and the server checks it.
        assert_eq!(
            plaintext_login(&server, "plain", "secret").unwrap(),
            "plain"
        );
        let err = plaintext_login(&server, "plain", "wrong").unwrap_err();
        assert!(err.is_auth_failure(), "{err}");
        assert_eq!(server.password_checks(), 2);
        assert_eq!(server.password_checks_passed(), 1);
    }

    #[test]
    fn a_restart_ends_sessions_and_keeps_roles_and_the_admin_connection() {
        let server = PgServer::builder().max_connections(10).start();
        server.create_password_role("before restart", "secret");
        assert_eq!(
            server.login_blocking("before restart", "secret").unwrap(),
            "before restart"
        );
        server.restart();
        assert_eq!(
            server.login_blocking("before restart", "secret").unwrap(),
            "before restart"
        );
        // The admin connection works again.
        server.create_password_role("after restart", "secret");
        assert_eq!(
            server.login_blocking("after restart", "secret").unwrap(),
            "after restart"
        );
    }

    #[test]
    fn a_tls_server_rejects_plaintext_before_any_password() {
        let server = PgServer::builder().max_connections(10).start();
        server.create_password_role("tls only", "secret");
        let err = plaintext_login(&server, "tls only", "secret").unwrap_err();
        assert!(err.is_auth_failure(), "{err}");
        assert_eq!(server.password_checks(), 0, "{err}");
        assert_eq!(
            server.login_blocking("tls only", "secret").unwrap(),
            "tls only"
        );
        assert_eq!(server.password_checks(), 1);
        assert_eq!(server.password_checks_passed(), 1);
    }
}
