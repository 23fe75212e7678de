//! Runs every example against a throwaway PostgreSQL server and the test kit's
//! Entra-compatible endpoint: the demo runner (`cargo xtask demo`) prints the
//! table, the examples' test asserts it.

use std::{
    fmt, fs,
    path::{Path, PathBuf},
    process::{Command, Output},
};

use entra_pg_testkit::{FakeEntra, Identity, PgServer, Resource};

/// The user every example logs in as.
pub const DEMO_USER: &str = "demo@contoso.com";

/// A PostgreSQL server with TLS, the local Entra endpoint and an identity that
/// may log in to the server as [`DEMO_USER`].
pub struct Demo {
    // Field order: the identity before the endpoint, the server last.
    identity: Identity,
    entra: FakeEntra,
    server: PgServer,
    env: Vec<(&'static str, String)>,
}

/// One example's outcome.
#[derive(Debug, Clone)]
pub struct Row {
    /// The example (binary) name, and how it was run.
    pub example: String,
    /// The user it reported (`-` if none).
    pub user: String,
    /// Token requests the endpoint received while it ran.
    pub requests: u64,
    /// `ok …`, `expected failure: …` or `FAILED …`.
    pub result: String,
}

impl Row {
    /// Whether the example did what it should.
    #[must_use]
    pub fn passed(&self) -> bool {
        self.result.starts_with("ok") || self.result.starts_with("expected failure")
    }
}

impl fmt::Display for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "| {} | {} | {} | {} |",
            self.example, self.user, self.requests, self.result
        )
    }
}

impl Demo {
    /// Starts the server and the endpoint.
    #[must_use]
    pub fn start() -> Self {
        let server = PgServer::builder().start();
        let entra = FakeEntra::start();
        let identity = entra
            .identity()
            .upn(DEMO_USER)
            .login_on(&server, DEMO_USER)
            .build();
        let mut env: Vec<(&'static str, String)> = vec![
            ("POSTGRES_SERVER", server.host().to_owned()),
            ("POSTGRES_PORT", server.port().to_string()),
            ("POSTGRES_DATABASE", "postgres".to_owned()),
            ("PGSSLROOTCERT", server.ca_path().display().to_string()),
            // The demo server is `localhost`, outside the default host policy.
            ("ENTRA_PG_ALLOW_HOSTS", "localhost".to_owned()),
            ("AZURE_CLIENT_ID", identity.client_id().to_owned()),
        ];
        env.extend(entra.env());
        Self {
            identity,
            entra,
            server,
            env,
        }
    }

    /// The variables the examples run with (`PATH` puts the fake `az` first).
    #[must_use]
    pub fn env(&self) -> &[(&'static str, String)] {
        &self.env
    }

    /// The server.
    #[must_use]
    pub fn server(&self) -> &PgServer {
        &self.server
    }

    /// `program` with the demo's variables and none of the caller's that would
    /// change the credential or the user.
    #[must_use]
    pub fn command(&self, program: &Path) -> Command {
        let mut command = Command::new(program);
        command
            .envs(self.env.iter().map(|(key, value)| (*key, value.as_str())))
            .env_remove("POSTGRES_USER")
            .env_remove("AZURE_TOKEN_CREDENTIALS")
            .env_remove("AZURE_CLIENT_SECRET")
            .env_remove("AZURE_FEDERATED_TOKEN_FILE");
        command
    }

    /// Runs every example in `bin_dir` (the cargo target directory holding the
    /// built binaries), then `tokio_direct` as a role that does not exist, which
    /// must fail with a rejection.
    ///
    /// # Errors
    /// An example binary could not be started.
    pub fn run_examples(&self, bin_dir: &Path) -> Result<Vec<Row>, String> {
        let _ = &self.entra; // kept running while the examples ask it for tokens
        let mut rows = Vec::new();
        for example in example_names()? {
            let before = self.identity.requests(Resource::Database);
            let output = self
                .command(&bin_dir.join(&example))
                .output()
                .map_err(|err| format!("cannot run example {example}: {err}"))?;
            let requests = self.identity.requests(Resource::Database) - before;
            rows.push(row(&example, &output, requests));
        }
        // What an error looks like: a role that does not exist.
        let before = self.identity.requests(Resource::Database);
        let output = self
            .command(&bin_dir.join("tokio_direct"))
            .env("POSTGRES_USER", "nobody_has_this_role")
            .output()
            .map_err(|err| format!("cannot run example tokio_direct: {err}"))?;
        let stderr = error_line(&output);
        let failed_as_expected = !output.status.success() && stderr.contains("rejected");
        rows.push(Row {
            example: "tokio_direct, POSTGRES_USER=nobody_has_this_role".to_owned(),
            user: "-".to_owned(),
            requests: self.identity.requests(Resource::Database) - before,
            result: if failed_as_expected {
                format!("expected failure: {stderr}")
            } else {
                format!("FAILED: the login should have been rejected ({stderr})")
            },
        });
        Ok(rows)
    }
}

fn row(example: &str, output: &Output, requests: u64) -> Row {
    let stdout = String::from_utf8_lossy(&output.stdout);
    // `connected as <user>`, and for core_conninfo what it found out, in brackets.
    let rest = stdout
        .lines()
        .find_map(|line| line.strip_prefix("connected as "))
        .unwrap_or("-");
    let (user, details) = rest.split_once(' ').unwrap_or((rest, ""));
    let result = if output.status.success() && user == DEMO_USER {
        if details.is_empty() {
            "ok".to_owned()
        } else {
            format!("ok {details}")
        }
    } else {
        format!("FAILED ({}): {}", output.status, error_line(output))
    };
    Row {
        example: example.to_owned(),
        user: user.to_owned(),
        requests,
        result,
    }
}

/// The example's `error: …` line (its log lines left out), else all of stderr.
fn error_line(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    stderr
        .lines()
        .find(|line| line.starts_with("error: "))
        .map_or_else(|| stderr.trim().replace('\n', " "), str::to_owned)
}

/// The examples' directory in the workspace.
fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every example: each binary in `examples/src/bin`, sorted.
///
/// # Errors
/// The directory cannot be read.
pub fn example_names() -> Result<Vec<String>, String> {
    let dir = examples_dir().join("src/bin");
    let mut names: Vec<String> = fs::read_dir(&dir)
        .map_err(|err| format!("{}: {err}", dir.display()))?
        .flatten()
        .filter_map(|entry| {
            entry
                .file_name()
                .to_str()?
                .strip_suffix(".rs")
                .map(str::to_owned)
        })
        .collect();
    names.sort();
    Ok(names)
}
