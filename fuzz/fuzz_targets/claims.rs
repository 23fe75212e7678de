//! Token claim parsing on arbitrary input: never panics, never echoes the token in
//! an error, and a JSON payload yields the user the claim rules name.

#![no_main]

use base64::Engine as _;
use entra_pg_core::{
    Error,
    claims::{parse_principal_name, username_from_token},
};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

const USER_ASSIGNED: &str = "providers/microsoft.managedidentity/userassignedidentities";

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);

    // The bytes as a whole token, and as an `xms_mirid` value.
    if let Ok(Some(user)) = username_from_token(&text) {
        assert!(!user.is_empty(), "an empty user was derived");
    }
    check_principal_name(&text);

    // The bytes as the payload of a JWT: reaches the JSON parser with anything.
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data);
    let token = format!("eyJhbGciOiJSUzI1NiJ9.{payload}.c2lnbmF0dXJl");
    match username_from_token(&token) {
        Ok(user) => {
            let claims: Map<String, Value> =
                serde_json::from_slice(data).expect("accepted a payload that is no JSON object");
            assert_eq!(user, expected_user(&claims), "wrong user for the claims");
        }
        Err(err) => {
            assert!(
                matches!(err, Error::TokenDecode { .. }),
                "not a decode error"
            );
            if payload.len() >= 24 {
                let shown = format!("{err} {err:?}");
                assert!(
                    !shown.contains(&payload),
                    "the error echoes the token payload"
                );
            }
        }
    }
});

/// The claim rules, written out independently of the crate.
fn expected_user(claims: &Map<String, Value>) -> Option<String> {
    let text = |name: &str| claims.get(name)?.as_str().filter(|v| !v.is_empty());
    if let Some(name) = text("xms_mirid").and_then(parse_principal_name) {
        return Some(name.to_owned());
    }
    ["upn", "preferred_username", "unique_name"]
        .into_iter()
        .find_map(text)
        .map(str::to_owned)
}

fn check_principal_name(mirid: &str) {
    let Some(name) = parse_principal_name(mirid) else {
        return;
    };
    assert!(!name.is_empty(), "empty principal name");
    assert!(!name.contains('/'), "principal name spans segments");
    let path = mirid.trim_end_matches('/');
    let parent = path
        .strip_suffix(name)
        .and_then(|p| p.strip_suffix('/'))
        .expect("the name is not the last segment");
    let lower = parent.to_ascii_lowercase();
    assert!(
        lower == USER_ASSIGNED || lower.ends_with(&format!("/{USER_ASSIGNED}")),
        "accepted a resource ID that is not a user-assigned identity"
    );
}
