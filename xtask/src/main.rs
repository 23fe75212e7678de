//! Project automation. Run through the cargo alias: `cargo xtask <command>`.
//!
//! - `cargo xtask test`: the test suite. Installs what a fresh machine lacks
//!   first (PostgreSQL server binaries, libpq, the test host names).
//! - `cargo xtask demo [--serve]`: every example against a local PostgreSQL and a
//!   local Entra-compatible endpoint, then `entra-pg doctor`; `--serve` keeps
//!   them up to rerun examples by hand.
//! - `cargo xtask bench [ARGS]`: the benchmark report (`bench/`, release build),
//!   written to `BENCHMARKS.md`.
//! - `cargo xtask lint`: fmt, clippy `-D warnings` per package, docs
//!   `-D warnings` (all features, and each crate with none), `cargo deny`, the
//!   declared `rust-version`s.
//! - `cargo xtask package`: `cargo package` of every publishable crate, each
//!   built from its tarball; and each crate's README quickstart compiled in a
//!   crate outside the workspace.
//! - `cargo xtask ci`: `test`, `lint`, then `package`.
#![allow(
    clippy::print_stdout,
    reason = "a command-line tool reports to the terminal"
)]

mod lint;
mod msrv;
mod package;
mod prereqs;

use std::{
    path::PathBuf,
    process::{Command, ExitCode},
};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest = args.get(1..).unwrap_or_default();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(rest),
        Some("demo") => demo(rest),
        Some("bench") => bench(rest),
        Some("lint") => lint::run_lint(),
        Some("package") => package::run_package(),
        Some("msrv") => msrv::check(),
        Some("ci") => ci(),
        _ => {
            eprintln!("usage: cargo xtask <test|demo|bench|lint|package|ci> [args]");
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

pub(crate) fn run(mut command: Command) -> Result<(), String> {
    println!("$ {command:?}");
    let start = std::time::Instant::now();
    let status = command
        .status()
        .map_err(|err| format!("cannot run {command:?}: {err}"))?;
    // Each step's time, to keep CI within its budget.
    println!("xtask: {:.0} s", start.elapsed().as_secs_f64());
    if status.success() {
        Ok(())
    } else {
        Err(format!("{command:?} failed ({status})"))
    }
}

/// `test`, `lint` and `package`, each phase timed (CI's budget is 30 minutes).
fn ci() -> Result<(), String> {
    type Phase = fn() -> Result<(), String>;
    let phases: [(&str, Phase); 3] = [
        ("test", || test(&[])),
        ("lint", lint::run_lint),
        ("package", package::run_package),
    ];
    let mut times = Vec::new();
    for (name, phase) in phases {
        let start = std::time::Instant::now();
        phase()?;
        times.push(format!(
            "{name} {:.1} min",
            start.elapsed().as_secs_f64() / 60.0
        ));
    }
    println!("xtask ci: {}", times.join(", "));
    Ok(())
}

fn test(extra: &[String]) -> Result<(), String> {
    let bindir = prereqs::ensure_all()?;
    let mut command = cargo();
    command
        .args(["test", "--workspace", "--locked"])
        .args(extra)
        .env("PG_BINDIR", bindir);
    run(command)
}

fn demo(extra: &[String]) -> Result<(), String> {
    let bindir = prereqs::ensure_all()?;
    let mut command = cargo();
    command
        .args([
            "run",
            "--quiet",
            "--locked",
            "-p",
            "entra-pg-examples",
            "--bin",
            "demo",
            "--",
        ])
        .args(extra)
        .env("PG_BINDIR", bindir);
    run(command)
}

fn bench(extra: &[String]) -> Result<(), String> {
    let bindir = prereqs::ensure_all()?;
    let mut command = cargo();
    // Measured in release: the debug build of our own crates is not what users run.
    command
        .args([
            "run",
            "--release",
            "--quiet",
            "--locked",
            "-p",
            "entra-pg-bench",
            "--",
        ])
        .args(extra)
        .env("PG_BINDIR", bindir);
    run(command)
}
