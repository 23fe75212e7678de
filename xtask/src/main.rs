//! Project automation. Run through the cargo alias: `cargo xtask <command>`.
//!
//! - `cargo xtask test`: the test suite (needs PostgreSQL server binaries; see README).
//! - `cargo xtask demo`: every example against a local PostgreSQL and a local
//!   Entra-compatible endpoint, then a summary table.
//! - `cargo xtask bench [--quick]`: the benchmark report (hot path, connect time
//!   static password vs Entra for every driver, cold burst, Azure CLI, soak and
//!   outage), printed and written to `target/bench-report.md`.
//! - `cargo xtask lint`: fmt check, clippy `-D warnings`, docs `-D warnings`,
//!   `cargo deny check bans licenses sources`.
//! - `cargo xtask ci`: `test`, then `lint`.
#![allow(
    clippy::print_stdout,
    reason = "a command-line tool reports to the terminal"
)]

mod bench;
mod bench_diesel;
mod demo;

use std::{
    path::PathBuf,
    process::{Command, ExitCode},
};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(&args[1..]),
        Some("demo") => demo::run(),
        // Measured in release: the debug build of our own crates is not what users run.
        Some("bench") if cfg!(debug_assertions) => {
            let mut command = cargo();
            command.args([
                "run",
                "--release",
                "--quiet",
                "--locked",
                "-p",
                "xtask",
                "--",
                "bench",
            ]);
            command.args(&args[1..]);
            run(command)
        }
        Some("bench") => bench::run(&args[1..]),
        Some("lint") => lint(),
        Some("ci") => test(&[]).and_then(|()| lint()),
        _ => {
            eprintln!("usage: cargo xtask <test|demo|bench|lint|ci>");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: {err}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (the parent of this crate's directory).
pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

pub(crate) fn cargo() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.current_dir(root());
    command
}

fn run(mut command: Command) -> Result<(), String> {
    println!("$ {command:?}");
    let status = command
        .status()
        .map_err(|err| format!("cannot run {command:?}: {err}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{command:?} failed ({status})"))
    }
}

fn test(extra: &[String]) -> Result<(), String> {
    check_postgres()?;
    let mut command = cargo();
    command
        .args(["test", "--workspace", "--all-features", "--locked"])
        .args(extra);
    run(command)
}

fn lint() -> Result<(), String> {
    let mut fmt = cargo();
    fmt.args(["fmt", "--all", "--check"]);
    run(fmt)?;
    let mut clippy = cargo();
    clippy.args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--all-features",
        "--locked",
        "--",
        "-D",
        "warnings",
    ]);
    run(clippy)?;
    let mut doc = cargo();
    doc.args([
        "doc",
        "--workspace",
        "--all-features",
        "--no-deps",
        "--locked",
    ])
    .env("RUSTDOCFLAGS", "-D warnings");
    run(doc)?;
    // The RustSec advisory database cannot be fetched without general internet
    // access; advisories are checked where it can (`cargo deny check advisories`).
    let mut deny = cargo();
    deny.args(["deny", "--locked", "check", "bans", "licenses", "sources"]);
    run(deny)
}

/// The tests start their own PostgreSQL server; say what to install when the
/// binaries are missing rather than failing deep inside a test. Uses the test
/// kit's own search, so this check and the tests always agree.
fn check_postgres() -> Result<(), String> {
    entra_pg_testkit::find_bindir()
        .map(|_| ())
        .map_err(|err| format!("{err}; .ci/run does this for you"))
}
