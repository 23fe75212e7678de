//! The declared `rust-version`s, checked against the dependency graph: only one
//! toolchain can be installed here, so each publishable crate's `rust-version`
//! must be at least the highest `rust-version` any of its normal dependencies
//! (all features, as in `Cargo.lock`) declares.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::{cargo, lint::PUBLISHED};

/// `1.94` → `(1, 94, 0)`.
fn version(text: &str) -> (u64, u64, u64) {
    let mut parts = text.split('.').map(|part| part.parse().unwrap_or(0));
    (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    )
}

pub(crate) fn check() -> Result<(), String> {
    let output = cargo()
        .args([
            "metadata",
            "--format-version",
            "1",
            "--locked",
            "--all-features",
        ])
        .output()
        .map_err(|err| format!("cargo metadata: {err}"))?;
    if !output.status.success() {
        return Err(format!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let metadata: Value =
        serde_json::from_slice(&output.stdout).map_err(|err| format!("cargo metadata: {err}"))?;
    let packages: BTreeMap<&str, &Value> = metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|package| Some((package["id"].as_str()?, package)))
        .collect();
    let nodes: BTreeMap<&str, Vec<&str>> = metadata["resolve"]["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|node| {
            let normal = node["deps"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|dep| {
                    dep["dep_kinds"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|kind| kind["kind"].is_null())
                })
                .filter_map(|dep| dep["pkg"].as_str())
                .collect();
            Some((node["id"].as_str()?, normal))
        })
        .collect();
    let mut problems = Vec::new();
    println!("| crate | declared rust-version | highest in its dependencies |");
    println!("|---|---|---|");
    for name in PUBLISHED {
        let Some((id, package)) = packages
            .iter()
            .find(|(_, package)| package["name"] == *name)
        else {
            return Err(format!("{name} is not in the workspace"));
        };
        let declared = package["rust_version"].as_str().unwrap_or("none");
        let mut seen = BTreeSet::new();
        let mut stack = vec![*id];
        let mut highest = ("0.0".to_owned(), String::new());
        while let Some(current) = stack.pop() {
            if !seen.insert(current) {
                continue;
            }
            if current != *id
                && let Some(rust) = packages[current]["rust_version"].as_str()
                && version(rust) > version(&highest.0)
            {
                highest = (
                    rust.to_owned(),
                    format!(
                        "{} {}",
                        packages[current]["name"].as_str().unwrap_or_default(),
                        packages[current]["version"].as_str().unwrap_or_default()
                    ),
                );
            }
            stack.extend(nodes.get(current).into_iter().flatten());
        }
        println!("| {name} | {declared} | {} ({}) |", highest.0, highest.1);
        if version(declared) < version(&highest.0) {
            problems.push(format!(
                "{name} declares rust-version {declared}, but {} needs {}",
                highest.1, highest.0
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}
