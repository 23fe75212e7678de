//! `cargo xtask lint`: formatting, clippy, docs, `cargo deny`, `rust-version`s.

use std::process::Command;

use crate::{cargo, msrv, run};

/// The crates users depend on, in dependency order.
pub(crate) const PUBLISHED: &[&str] = &[
    "entra-pg-core",
    "entra-pg-tokio",
    "entra-pg-sync",
    "entra-pg-sqlx",
    "entra-pg-diesel",
    "entra-pg-cli",
];

pub(crate) fn run_lint() -> Result<(), String> {
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
    // Each publishable crate alone with no features: a feature-gated item may
    // not be missed (or left unused) when the others are off. Each crate alone
    // with its default features is built by `cargo xtask package` (from its
    // tarball, and again under its README's quickstart).
    for package in PUBLISHED {
        let mut clippy = cargo();
        clippy
            .args(["clippy", "--locked", "-p", package, "--no-default-features"])
            .args(["--", "-D", "warnings"]);
        run(clippy)?;
    }

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
    // The crate documentation is the README whatever features are on.
    for package in PUBLISHED {
        let mut doc = cargo();
        doc.args(["doc", "--no-deps", "--locked", "-p", package])
            .env("RUSTDOCFLAGS", "-D warnings");
        run(doc)?;
    }

    ensure_cargo_deny()?;
    // The RustSec advisory database cannot be fetched without general internet
    // access; advisories are checked where it can (`cargo deny check advisories`).
    let mut deny = cargo();
    deny.args(["deny", "--locked", "check", "bans", "licenses", "sources"]);
    run(deny)?;

    msrv::check()
}

/// Installs cargo-deny when it is missing (from crates.io, built locally).
fn ensure_cargo_deny() -> Result<(), String> {
    let present = Command::new("cargo")
        .args(["deny", "--version"])
        .output()
        .is_ok_and(|out| out.status.success());
    if present {
        return Ok(());
    }
    println!("xtask: installing cargo-deny (cargo install cargo-deny --locked --debug) …");
    // A debug build: under 2 minutes on 2 cores (its release profile is fat LTO
    // with one codegen unit), and it checks this graph in 4 seconds all the same.
    let mut install = Command::new("cargo");
    install.args(["install", "cargo-deny", "--locked", "--debug", "--quiet"]);
    run(install)
}
