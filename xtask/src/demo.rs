//! `cargo xtask demo`: runs every example against a throwaway PostgreSQL server
//! and the test kit's Entra-compatible endpoint; no Azure account needed.

use std::{fs, process::Output};

use entra_pg_testkit::{FakeEntra, PgServer, Resource};

use crate::cargo;

const DEMO_USER: &str = "demo@contoso.com";

struct Row {
    example: String,
    user: String,
    requests: u64,
    result: String,
}

pub(crate) fn run() -> Result<(), String> {
    let examples = example_names()?;
    let mut build = cargo();
    build.args([
        "build",
        "--quiet",
        "--locked",
        "-p",
        "entra-pg-examples",
        "--bins",
    ]);
    crate::run(build)?;

    println!("starting PostgreSQL (TLS) and the local Entra endpoint …");
    let server = PgServer::builder().start();
    let entra = FakeEntra::start();
    let identity = entra
        .identity()
        .upn(DEMO_USER)
        .login_on(&server, DEMO_USER)
        .build();

    let mut rows = Vec::new();
    for example in &examples {
        let before = identity.requests(Resource::Database);
        let mut command = cargo();
        command
            .args([
                "run",
                "--quiet",
                "--locked",
                "-p",
                "entra-pg-examples",
                "--bin",
                example,
            ])
            .env("POSTGRES_SERVER", server.host())
            .env("POSTGRES_PORT", server.port().to_string())
            .env("POSTGRES_DATABASE", "postgres")
            .env("PGSSLROOTCERT", server.ca_path())
            .env("AZURE_CLIENT_ID", identity.client_id())
            .env_remove("POSTGRES_USER")
            .env_remove("AZURE_TOKEN_CREDENTIALS")
            .env_remove("AZURE_CLIENT_SECRET")
            .env_remove("AZURE_FEDERATED_TOKEN_FILE")
            .envs(entra.env());
        let output = command
            .output()
            .map_err(|err| format!("cannot run example {example}: {err}"))?;
        rows.push(row(
            example,
            &output,
            identity.requests(Resource::Database) - before,
        ));
    }

    println!();
    println!("| example | connected user | token requests | result |");
    println!("|---|---|---|---|");
    for row in &rows {
        println!(
            "| {} | {} | {} | {} |",
            row.example, row.user, row.requests, row.result
        );
    }
    let failed = rows.iter().filter(|row| row.result != "ok").count();
    if failed == 0 {
        Ok(())
    } else {
        Err(format!("{failed} example(s) failed"))
    }
}

fn row(example: &str, output: &Output, requests: u64) -> Row {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let user = stdout
        .lines()
        .find_map(|line| {
            line.strip_prefix("connected as ").or_else(|| {
                line.strip_prefix("derived user ")
                    .and_then(|rest| rest.split(',').next())
            })
        })
        .unwrap_or("-")
        .to_owned();
    let result = if output.status.success() && user == DEMO_USER {
        "ok".to_owned()
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        format!(
            "FAILED ({}): {}",
            output.status,
            stderr.trim().replace('\n', " ")
        )
    };
    Row {
        example: example.to_owned(),
        user,
        requests,
        result,
    }
}

/// Every binary in `examples/src/bin`, sorted.
fn example_names() -> Result<Vec<String>, String> {
    let dir = crate::root().join("examples/src/bin");
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
