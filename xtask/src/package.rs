//! `cargo xtask package`: every publishable crate builds from its packaged
//! tarball, and each README's quickstart compiles in a crate of its own outside
//! the workspace, with the `[dependencies]` lines the README gives (so a user's
//! `Cargo.toml` works without the workspace's feature unification).

use std::{fmt::Write as _, fs, path::Path};

use crate::{cargo, lint::PUBLISHED, root, run};

pub(crate) fn run_package() -> Result<(), String> {
    forget_unpacked_packages()?;
    let mut package = cargo();
    // The publishable crates only, together: cargo resolves their dependencies
    // on each other from the packages it has just made.
    package.args(["package", "--locked", "--allow-dirty"]);
    // Each verification resolves its crate's own features, so nothing else
    // reuses what it builds: build it unoptimised, the quickest on 2 cores.
    package.args(["--config", "profile.dev.package.\"*\".opt-level=0"]);
    for name in PUBLISHED {
        package.args(["-p", name]);
    }
    run(package)?;
    readme_quickstarts()
}

/// `cargo package` verifies each crate against the others through a local
/// registry, which cargo unpacks into `$CARGO_HOME/registry/src/-<hash>/` (the
/// hash is of the target directory's path) and reuses when the same version is
/// there already: a second run would verify against the first run's sources.
/// Only local registries have names starting with `-`, so crates.io's unpacked
/// sources are left alone.
fn forget_unpacked_packages() -> Result<(), String> {
    let home = std::env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")))
        .ok_or("neither CARGO_HOME nor HOME is set")?;
    let Ok(registries) = fs::read_dir(home.join("registry/src")) else {
        return Ok(()); // nothing unpacked yet
    };
    for registry in registries.flatten() {
        if !registry.file_name().to_string_lossy().starts_with('-') {
            continue;
        }
        for unpacked in fs::read_dir(registry.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = unpacked.file_name();
            let ours = PUBLISHED.iter().any(|crate_name| {
                name.to_string_lossy()
                    .starts_with(&format!("{crate_name}-"))
            });
            if ours {
                fs::remove_dir_all(unpacked.path())
                    .map_err(|err| format!("{}: {err}", unpacked.path().display()))?;
            }
        }
    }
    Ok(())
}

/// The first fenced block of `kind` in `readme`, hidden lines (`# `) shown.
fn block(readme: &str, kind: &str) -> Option<String> {
    let start = readme.find(&format!("```{kind}"))?;
    let body = &readme[start..];
    let body = &body[body.find('\n')? + 1..];
    let end = body.find("\n```")?;
    Some(
        body[..end]
            .lines()
            .map(|line| match line.strip_prefix("# ") {
                Some(hidden) => hidden,
                None if line == "#" => "",
                None => line,
            })
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

/// The README's `[dependencies]` with our crate pointing at its directory.
fn dependencies(toml: &str, name: &str, dir: &Path) -> Result<String, String> {
    let mut out = String::new();
    let path = dir.display();
    for line in toml.lines() {
        let line = line.split(" #").next().unwrap_or(line).trim_end();
        if let Some(value) = line.strip_prefix(&format!("{name} = ")) {
            let entry = match value.strip_prefix('{') {
                Some(table) => format!("{{ path = \"{path}\",{table}"),
                None => format!("{{ path = \"{path}\" }}"),
            };
            let _ = writeln!(out, "{name} = {entry}");
        } else {
            let _ = writeln!(out, "{line}");
        }
    }
    if out.contains("path = ") {
        Ok(out)
    } else {
        Err(format!(
            "the README of {name} does not list {name} in its [dependencies]"
        ))
    }
}

fn readme_quickstarts() -> Result<(), String> {
    let root = root();
    let scratch = root.join("target/readme-check");
    fs::create_dir_all(&scratch).map_err(|err| format!("{}: {err}", scratch.display()))?;
    let mut members = Vec::new();
    for name in PUBLISHED {
        let dir = root.join("crates").join(name);
        let readme = fs::read_to_string(dir.join("README.md"))
            .map_err(|err| format!("{name}/README.md: {err}"))?;
        let toml = block(&readme, "toml").ok_or(format!("{name}/README.md has no toml block"))?;
        let Some(code) = block(&readme, "rust") else {
            continue; // a crate without a library quickstart (the CLI)
        };
        let member = format!("readme-{name}");
        let member_dir = scratch.join(&member);
        fs::create_dir_all(member_dir.join("src")).map_err(|err| err.to_string())?;
        let manifest = format!(
            "[package]\nname = \"{member}\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n{}",
            dependencies(&toml, name, &dir)?
        );
        fs::write(member_dir.join("Cargo.toml"), manifest).map_err(|err| err.to_string())?;
        fs::write(member_dir.join("src/main.rs"), code).map_err(|err| err.to_string())?;
        members.push(member);
    }
    let quoted: Vec<String> = members
        .iter()
        .map(|member| format!("\"{member}\""))
        .collect();
    fs::write(
        scratch.join("Cargo.toml"),
        format!(
            "[workspace]\nresolver = \"3\"\nmembers = [{}]\n",
            quoted.join(", ")
        ),
    )
    .map_err(|err| err.to_string())?;
    // The workspace's versions, so nothing new is downloaded or built.
    fs::copy(root.join("Cargo.lock"), scratch.join("Cargo.lock")).map_err(|err| err.to_string())?;
    for member in &members {
        let mut check = cargo();
        check
            .current_dir(&scratch)
            .args(["check", "--offline", "-p", member])
            // The workspace's target directory: the dependencies checked by
            // `cargo xtask lint` are reused.
            .env("CARGO_TARGET_DIR", root.join("target"));
        run(check).map_err(|err| format!("the README quickstart of {member}: {err}"))?;
    }
    Ok(())
}
