//! A fake `az` for `AzureCliCredential`: a bash script that asks the fake endpoint
//! for a token over `/dev/tcp`, routed by the `--tenant` argument.

use std::{fs, os::unix::fs::PermissionsExt, path::Path};

pub(crate) fn write_fake_az(dir: &Path, port: u16) -> std::io::Result<()> {
    let script = format!(
        r#"#!/bin/bash
# Fake Azure CLI written by the entra-pg test kit. Answers only
# `az account get-access-token -o json --scope S [--tenant T]`.
scope=""; tenant="default"
while [ $# -gt 0 ]; do
  case "$1" in
    --scope) scope="$2"; shift ;;
    --tenant) tenant="$2"; shift ;;
  esac
  shift
done
exec 3<>/dev/tcp/127.0.0.1/{port} || {{ echo "ERROR: fake az cannot reach the test endpoint" >&2; exit 1; }}
printf 'GET /az/%s?scope=%s HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$tenant" "$scope" >&3
IFS= read -r status <&3
while IFS= read -r line <&3; do line="${{line%$'\r'}}"; [ -z "$line" ] && break; done
body="$(cat <&3)"
case "$status" in
  *" 200 "*) printf '%s\n' "$body" ;;
  *) printf 'ERROR: %s\n' "$body" >&2; exit 1 ;;
esac
"#
    );
    let path = dir.join("az");
    fs::write(&path, script)?;
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755))
}
