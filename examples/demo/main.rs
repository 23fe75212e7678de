//! `cargo xtask demo`: runs every example against a throwaway PostgreSQL server and
//! the test kit's Entra-compatible endpoint (no Azure account needed), shows what
//! an error looks like, and ends with `entra-pg doctor` against the same server.
//! `--serve` keeps both up afterwards, to run examples by hand.
#![allow(clippy::print_stdout, reason = "a demo reports to the terminal")]

use std::{
    path::PathBuf,
    process::{Command, ExitCode},
};

use entra_pg_examples::demo::Demo;

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

fn run() -> Result<(), String> {
    let serve = std::env::args().any(|arg| arg == "--serve");
    let mut build = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    build
        .current_dir(workspace())
        .args([
            "build",
            "--quiet",
            "--locked",
            "-p",
            "entra-pg-examples",
            "--bins",
        ])
        .args(["-p", "entra-pg-cli"]);
    let status = build
        .status()
        .map_err(|err| format!("cargo build: {err}"))?;
    if !status.success() {
        return Err("building the examples failed".to_owned());
    }
    // This binary's own directory holds the examples cargo just built.
    let exe = std::env::current_exe().map_err(|err| format!("this binary's path: {err}"))?;
    let bin_dir = exe.parent().ok_or("this binary has no directory")?;

    println!("starting PostgreSQL (TLS) and the local Entra endpoint …");
    let demo = Demo::start();
    let rows = demo.run_examples(bin_dir)?;

    println!();
    println!("| example | connected user | token requests | result |");
    println!("|---|---|---|---|");
    for row in &rows {
        println!("{row}");
    }

    println!();
    println!("$ entra-pg doctor");
    let doctor = demo
        .command(&bin_dir.join("entra-pg"))
        .arg("doctor")
        .status()
        .map_err(|err| format!("cannot run entra-pg doctor: {err}"))?;

    println!();
    println!("The examples ran with this environment:");
    for (key, value) in demo.env() {
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

    let failed = rows.iter().filter(|row| !row.passed()).count();
    if failed > 0 {
        return Err(format!("{failed} example(s) failed"));
    }
    if !doctor.success() {
        return Err("entra-pg doctor failed against the demo server".to_owned());
    }
    Ok(())
}
