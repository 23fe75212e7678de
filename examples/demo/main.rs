//! `cargo xtask demo`: runs every example against a throwaway PostgreSQL server and
//! the test kit's Entra-compatible endpoint (no Azure account needed), shows what
//! an error looks like, and ends with `entra-pg doctor` against the same server.
//! `--serve` keeps both up afterwards, to run examples by hand.
#![allow(clippy::print_stdout, reason = "a demo reports to the terminal")]

use std::{
    fs,
    path::PathBuf,
    process::{Command, ExitCode, Output},
};

use entra_pg_testkit::{FakeEntra, PgServer, Resource};

const DEMO_USER: &str = "demo@contoso.com";

struct Row {
    example: String,
    user: String,
    requests: u64,
    result: String,
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("demo: {err}");
            ExitCode::FAILURE
        }
    }
}

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the examples live in the workspace")
        .to_path_buf()
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.current_dir(workspace());
    command
}

fn run() -> Result<(), String> {
    let serve = std::env::args().any(|arg| arg == "--serve");
    let examples = example_names()?;
    let mut build = cargo();
    build.args(["build", "--quiet", "--locked", "-p", "entra-pg-examples", "--bins"]);
    build.args(["-p", "entra-pg-cli"]);
    let status = build.status().map_err(|err| format!("cargo build: {err}"))?;
    if !status.success() {
        return Err("building the examples failed".to_owned());
    }

    println!("starting PostgreSQL (TLS) and the local Entra endpoint …");
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
    let command = |program: &str, args: &[&str]| {
        let mut command = Command::new(program);
        command
            .args(args)
            .envs(env.iter().map(|(key, value)| (*key, value.as_str())))
            .env_remove("POSTGRES_USER")
            .env_remove("AZURE_TOKEN_CREDENTIALS")
            .env_remove("AZURE_CLIENT_SECRET")
            .env_remove("AZURE_FEDERATED_TOKEN_FILE");
        command
    };
    let binary = |name: &str| workspace().join("target/debug").join(name);

    let mut rows = Vec::new();
    for example in &examples {
        let before = identity.requests(Resource::Database);
        let output = command(&binary(example).display().to_string(), &[])
            .output()
            .map_err(|err| format!("cannot run example {example}: {err}"))?;
        rows.push(row(example, &output, identity.requests(Resource::Database) - before));
    }
    // What an error looks like: a role that does not exist.
    let output = command(&binary("tokio_direct").display().to_string(), &[])
        .env("POSTGRES_USER", "nobody_has_this_role")
        .output()
        .map_err(|err| format!("cannot run example tokio_direct: {err}"))?;
    let stderr = String::from_utf8_lossy(&output.stderr).trim().replace('\n', " ");
    let failed_as_expected = !output.status.success() && stderr.contains("rejected");
    rows.push(Row {
        example: "tokio_direct, POSTGRES_USER=nobody_has_this_role".to_owned(),
        user: "-".to_owned(),
        requests: 0,
        result: if failed_as_expected {
            format!("expected failure: {stderr}")
        } else {
            format!("FAILED: the login should have been rejected ({stderr})")
        },
    });

    println!();
    println!("| example | connected user | token requests | result |");
    println!("|---|---|---|---|");
    for row in &rows {
        println!("| {} | {} | {} | {} |", row.example, row.user, row.requests, row.result);
    }

    println!();
    println!("$ entra-pg doctor");
    let doctor = command(&binary("entra-pg").display().to_string(), &["doctor"])
        .status()
        .map_err(|err| format!("cannot run entra-pg doctor: {err}"))?;

    println!();
    println!("The examples ran with this environment:");
    for (key, value) in &env {
        if *key != "PATH" {
            println!("  {key}={value}");
        }
    }
    println!("  (and the fake `az` first on PATH)");
    if serve {
        println!();
        println!("The server and the endpoint stay up; rerun one example by hand with the");
        println!("variables above, e.g. `cargo run -p entra-pg-examples --bin tokio_direct`.");
        println!("Press Enter to stop.");
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
    } else {
        println!("Run `cargo xtask demo --serve` to keep them up and rerun examples by hand.");
    }

    let failed = rows
        .iter()
        .filter(|row| row.result != "ok" && !row.result.starts_with("expected failure"))
        .count();
    if failed > 0 {
        return Err(format!("{failed} example(s) failed"));
    }
    if !doctor.success() {
        return Err("entra-pg doctor failed against the demo server".to_owned());
    }
    Ok(())
}

fn row(example: &str, output: &Output, requests: u64) -> Row {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let user = stdout
        .lines()
        .find_map(|line| {
            line.strip_prefix("connected as ")
                .or_else(|| line.split(' ').next().filter(|_| example == "core_conninfo"))
        })
        .unwrap_or("-")
        .to_owned();
    let result = if output.status.success() && user == DEMO_USER {
        "ok".to_owned()
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        format!("FAILED ({}): {}", output.status, stderr.trim().replace('\n', " "))
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
    let dir = workspace().join("examples/src/bin");
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
