//! What the tests, the demo and the benchmark need on the machine, found or
//! installed: PostgreSQL server binaries, libpq, an OS user `postgres` when we
//! are root (initdb refuses root), and the test kit's host names in `/etc/hosts`.
//! `.ci/run` relies on the same code.

use std::{path::PathBuf, process::Command};

#[path = "../../testkit/src/bindir.rs"]
#[allow(
    unreachable_pub,
    reason = "the test kit's file, where it is public API"
)]
mod bindir;

/// The line the test kit's names need (see `entra_pg_testkit::HOSTS_LINE`).
const HOSTS_LINE: &str =
    "127.0.0.1 entra-pg-test.postgres.database.azure.com other.invalid # entra-pg test kit";

/// A package manager we know how to drive.
#[derive(Clone, Copy, Debug)]
enum Manager {
    Apt,
    Dnf,
    Brew,
}

impl Manager {
    fn detect() -> Option<Self> {
        let has = |program: &str| {
            Command::new("sh")
                .args(["-c", &format!("command -v {program}")])
                .output()
                .is_ok_and(|out| out.status.success())
        };
        if has("apt-get") {
            Some(Self::Apt)
        } else if has("dnf") {
            Some(Self::Dnf)
        } else if has("brew") {
            Some(Self::Brew)
        } else {
            None
        }
    }

    /// The package with the server binaries, and the one with libpq.
    fn packages(self) -> (&'static str, &'static str) {
        match self {
            Self::Apt => ("postgresql", "libpq-dev"),
            Self::Dnf => ("postgresql-server", "libpq-devel"),
            Self::Brew => ("postgresql@16", "libpq"),
        }
    }

    fn install(self, package: &str) -> Result<(), String> {
        println!("xtask: installing {package} ({self:?}) …");
        let (program, args): (&str, Vec<&str>) = match self {
            Self::Apt => ("apt-get", vec!["install", "-y", "-qq", package]),
            Self::Dnf => ("dnf", vec!["install", "-y", "-q", package]),
            Self::Brew => ("brew", vec!["install", package]),
        };
        if matches!(self, Self::Apt) {
            as_root("apt-get", &["update", "-qq"], package)?;
        }
        if matches!(self, Self::Brew) {
            return status(Command::new(program).args(&args), package);
        }
        as_root(program, &args, package)
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// Runs `program args` as root: directly when we are root, else through
/// `sudo -n` (never a password prompt). The error names what to do by hand.
fn as_root(program: &str, args: &[&str], what: &str) -> Result<(), String> {
    let mut command = if is_root() {
        Command::new(program)
    } else {
        let mut sudo = Command::new("sudo");
        sudo.args(["-n", program]);
        sudo
    };
    command.args(args).env("DEBIAN_FRONTEND", "noninteractive");
    status(&mut command, what).map_err(|err| {
        format!("{err}; not root and no password-less sudo: install {what} yourself, then rerun")
    })
}

fn status(command: &mut Command, what: &str) -> Result<(), String> {
    match command.status() {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(format!("installing {what} failed ({status})")),
        Err(err) => Err(format!("cannot run the installer for {what}: {err}")),
    }
}

/// Finds or installs everything; returns the server binaries' directory.
pub(crate) fn ensure_all() -> Result<PathBuf, String> {
    let bindir = ensure_server()?;
    ensure_libpq()?;
    ensure_postgres_user()?;
    ensure_hosts()?;
    Ok(bindir)
}

fn ensure_server() -> Result<PathBuf, String> {
    if let Ok(dir) = bindir::find_bindir() {
        return Ok(dir);
    }
    let manager = Manager::detect().ok_or(
        "no PostgreSQL server binaries and no known package manager (apt-get, dnf, brew): \
         install PostgreSQL 14 or newer and set PG_BINDIR to the directory with initdb",
    )?;
    println!("xtask: PostgreSQL server binaries are missing; the tests start their own servers");
    manager.install(manager.packages().0)?;
    bindir::find_bindir()
}

fn ensure_libpq() -> Result<(), String> {
    let found = [
        "/usr/lib/x86_64-linux-gnu/libpq.so",
        "/usr/lib/aarch64-linux-gnu/libpq.so",
        "/usr/lib64/libpq.so",
        "/usr/lib/libpq.so",
        "/opt/homebrew/opt/libpq/lib/libpq.dylib",
        "/usr/local/opt/libpq/lib/libpq.dylib",
    ]
    .iter()
    .any(|path| std::path::Path::new(path).exists())
        || Command::new("pg_config")
            .arg("--libdir")
            .output()
            .is_ok_and(|out| {
                let dir = String::from_utf8_lossy(&out.stdout).trim().to_owned();
                std::path::Path::new(&dir).join("libpq.so").exists()
            });
    if found {
        return Ok(());
    }
    let manager = Manager::detect().ok_or(
        "libpq is missing (diesel's PgConnection links it): install libpq's development files",
    )?;
    println!("xtask: libpq is missing (diesel's PgConnection links it)");
    manager.install(manager.packages().1)
}

/// initdb refuses to run as root: the test kit runs the server as `postgres`.
fn ensure_postgres_user() -> Result<(), String> {
    if !is_root()
        || Command::new("id")
            .arg("postgres")
            .output()
            .is_ok_and(|out| out.status.success())
    {
        return Ok(());
    }
    println!("xtask: adding the OS user postgres (initdb refuses root)");
    status(
        Command::new("useradd").args([
            "--system",
            "--home-dir",
            "/var/lib/postgresql",
            "--shell",
            "/bin/bash",
            "postgres",
        ]),
        "the OS user postgres",
    )
}

/// The test kit reaches an Azure-style name on 127.0.0.1 (sqlx has no
/// `hostaddr`).
fn ensure_hosts() -> Result<(), String> {
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    if hosts.lines().any(|line| line.trim() == HOSTS_LINE) {
        return Ok(());
    }
    println!("xtask: adding `{HOSTS_LINE}` to /etc/hosts (names the test kit's servers use)");
    let script = format!("printf '%s\\n' '{HOSTS_LINE}' >> /etc/hosts");
    as_root("sh", &["-c", &script], "the /etc/hosts line")
        .map_err(|err| format!("{err} (or add the line `{HOSTS_LINE}` to /etc/hosts)"))
}
