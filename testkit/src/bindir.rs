//! Finding the PostgreSQL server binaries. Standard library only: `cargo xtask`
//! uses this same file (through `#[path]`) to decide whether to install them.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

/// The directory holding the PostgreSQL server binaries (`initdb`, `pg_ctl`,
/// `postgres`), searched in `PG_BINDIR`, `pg_config --bindir`, `PATH`, the newest
/// `/usr/lib/postgresql/*/bin` (Debian, Ubuntu), then Homebrew's
/// `postgresql@*` prefixes. The error says what to install.
///
/// # Errors
/// When no directory with `initdb` is found.
pub fn find_bindir() -> Result<PathBuf, String> {
    let has_initdb = |dir: &Path| dir.join("initdb").is_file();
    if let Some(dir) = std::env::var_os("PG_BINDIR").map(PathBuf::from) {
        return if has_initdb(&dir) {
            Ok(dir)
        } else {
            Err(format!("PG_BINDIR={} has no initdb", dir.display()))
        };
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if has_initdb(&dir) {
            return Ok(dir);
        }
    }
    let on_path = std::env::var_os("PATH")
        .and_then(|path| std::env::split_paths(&path).find(|dir| has_initdb(dir)));
    if let Some(dir) = on_path {
        return Ok(dir);
    }
    let versioned = |parent: &str, prefix: &str, suffix: &str| -> Vec<(u32, PathBuf)> {
        fs::read_dir(parent)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| {
                let name = entry.file_name().to_str()?.to_owned();
                let version = name.strip_prefix(prefix)?.parse().ok()?;
                let bin = entry.path().join(suffix);
                has_initdb(&bin).then_some((version, bin))
            })
            .collect()
    };
    let mut found = versioned("/usr/lib/postgresql", "", "bin");
    found.extend(versioned("/opt/homebrew/opt", "postgresql@", "bin"));
    found.extend(versioned("/usr/local/opt", "postgresql@", "bin"));
    found.sort();
    found.pop().map(|(_, bin)| bin).ok_or_else(|| {
        "no PostgreSQL server binaries (initdb) found via PG_BINDIR, pg_config, PATH, \
         /usr/lib/postgresql/*/bin or Homebrew; `cargo xtask test` installs them \
         (Debian/Ubuntu: postgresql, Fedora: postgresql-server, macOS: postgresql@16)"
            .to_owned()
    })
}
