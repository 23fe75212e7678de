//! Token claim reading on arbitrary input (`username_from_token`, `token_info`,
//! `principal_name`): never panics; a decode error is `Error::TokenDecode` whose
//! message names only the kind of failure (never a part of the token); a JSON
//! payload is accepted exactly when it is a JSON object, and yields the user, the
//! claim it came from and the principal summary that the claim rules, written out
//! independently here, name.

#![no_main]

use base64::Engine as _;
use entra_pg_core::{
    Error,
    claims::{PrincipalKind, TokenInfo, principal_name, token_info, username_from_token},
};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

fuzz_target!(|data: &[u8]| run(data));

fn run(data: &[u8]) {
    let text = String::from_utf8_lossy(data);

    // The bytes as a whole token, and as an `xms_mirid` value.
    match username_from_token(&text) {
        Ok(Some(user)) => assert!(!user.is_empty(), "an empty user was derived"),
        Ok(None) => {}
        Err(err) => check_decode_error(&err),
    }
    if let Err(err) = token_info(&text) {
        check_decode_error(&err);
    }
    assert_eq!(
        principal_name(&text),
        expected_principal_name(&text),
        "principal_name differs from the rules"
    );

    // The bytes as the payload of a JWT: reaches the JSON parser with anything,
    // unpadded (as Entra sends it) and padded.
    let unpadded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data);
    let padded = base64::engine::general_purpose::URL_SAFE.encode(data);
    let token = format!("eyJhbGciOiJSUzI1NiJ9.{unpadded}.c2lnbmF0dXJl");
    let padded_token = format!(" eyJhbGciOiJSUzI1NiJ9.{padded}.c2lnbmF0dXJl\n");
    let claims = match serde_json::from_slice::<Value>(data) {
        Ok(Value::Object(claims)) => Some(claims),
        _ => None,
    };
    let user = username_from_token(&token);
    let info = token_info(&token);
    assert_eq!(
        format!("{user:?} {info:?}"),
        format!(
            "{:?} {:?}",
            username_from_token(&padded_token),
            token_info(&padded_token)
        ),
        "padding or surrounding whitespace changed the reading"
    );
    match (user, info, claims) {
        (Ok(user), Ok(info), Some(claims)) => {
            let (want_user, want_claim) = match expected_user(&claims) {
                Some((user, claim)) => (Some(user), Some(claim)),
                None => (None, None),
            };
            assert_eq!(user, want_user, "wrong user for the claims");
            assert_eq!(info.user, want_user, "token_info: user");
            assert_eq!(info.user_claim, want_claim, "token_info: claim");
            check_info(&info, &claims);
        }
        (Err(user_err), Err(info_err), None) => {
            check_decode_error(&user_err);
            check_decode_error(&info_err);
        }
        (user, info, claims) => panic!(
            "accepted a payload that is no JSON object, or refused one that is \
             (user {}, info {}, object {})",
            user.is_ok(),
            info.is_ok(),
            claims.is_some()
        ),
    }
}

/// Decode errors are `TokenDecode` and say only which kind of failure it was:
/// with the numbers taken out, the reason is one of a few fixed texts, so it
/// cannot carry any part of the token.
fn check_decode_error(err: &Error) {
    let Error::TokenDecode { reason } = err else {
        panic!("not a decode error: {}", err.kind());
    };
    let numbers_out =
        |text: &str| -> String { text.chars().filter(|c| !c.is_ascii_digit()).collect() };
    let known = match reason.strip_prefix("the payload is not base64url: ") {
        // base64's own messages: a byte value and offsets, or a length.
        Some(base64) => [
            "Invalid symbol , offset .",
            "Invalid input length: ",
            "Invalid last symbol , offset .",
            "Invalid padding",
        ]
        .contains(&numbers_out(base64).as_str()),
        None => [
            "it has  dot-separated parts, a JWT has ",
            "the payload is JSON but not an object",
            "the payload is not JSON: read error",
            "the payload is not JSON: syntax error",
            "the payload is not JSON: unexpected data",
            "the payload is not JSON: truncated",
        ]
        .contains(&numbers_out(reason).as_str()),
    };
    assert!(known, "a decode error says more than the kind of failure");
    let display = err.to_string();
    assert!(
        display.contains(reason.as_str()),
        "Display omits the reason"
    );
    assert_eq!(
        format!("{err:?}"),
        format!("entra_pg_core::Error::token_decode({display})"),
        "Debug is not the tagged Display"
    );
}

/// The user-name claims, in order of preference.
const NAME_CLAIMS: [&str; 3] = ["upn", "preferred_username", "unique_name"];

/// A claim as text: strings only, empty ones count as absent.
fn text<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    match claims.get(name) {
        Some(Value::String(value)) if !value.is_empty() => Some(value),
        _ => None,
    }
}

/// The claim rules: the resource named by `xms_mirid`, else the first name claim.
fn expected_user(claims: &Map<String, Value>) -> Option<(String, &'static str)> {
    if let Some(name) = text(claims, "xms_mirid").and_then(expected_principal_name) {
        return Some((name, "xms_mirid"));
    }
    NAME_CLAIMS
        .into_iter()
        .find_map(|claim| Some((text(claims, claim)?.to_owned(), claim)))
}

/// The provider segments of a resource ID: what follows the last
/// `providers` segment (case-insensitive) that is followed by a namespace, a type
/// and a name plus zero or more `<child type>/<child name>` pairs, kept as
/// written. Trailing slashes and one leading slash are ignored; no segment may be
/// empty.
fn provider_segments(resource_id: &str) -> Option<Vec<&str>> {
    let mut path = resource_id;
    while let Some(rest) = path.strip_suffix('/') {
        path = rest;
    }
    let path = path.strip_prefix('/').unwrap_or(path);
    let segments: Vec<&str> = path.split('/').collect();
    if segments.contains(&"") {
        return None;
    }
    let mut at = segments.len();
    while at > 0 {
        at -= 1;
        if !segments[at].eq_ignore_ascii_case("providers") {
            continue;
        }
        // <namespace> <type> <name> [<child type> <child name>]…
        let after = &segments[at + 1..];
        if after.len() >= 3 && (after.len() - 3).is_multiple_of(2) {
            return Some(after.to_vec());
        }
    }
    None
}

/// The resource a resource ID names: its name and child segments.
fn expected_principal_name(resource_id: &str) -> Option<String> {
    provider_segments(resource_id).map(|after| after[2..].join("/"))
}

/// Whether the resource ID names a `Microsoft.ManagedIdentity/userAssignedIdentities`
/// resource itself (no child resource).
fn is_user_assigned_identity(resource_id: &str) -> bool {
    provider_segments(resource_id).is_some_and(|after| {
        after.len() == 3
            && after[0].eq_ignore_ascii_case("microsoft.managedidentity")
            && after[1].eq_ignore_ascii_case("userassignedidentities")
    })
}

/// The principal summary: the ids as they are, and the kind the claims tell.
fn check_info(info: &TokenInfo, claims: &Map<String, Value>) {
    let owned = |name: &str| text(claims, name).map(str::to_owned);
    assert_eq!(info.tenant_id, owned("tid"), "token_info: tid");
    assert_eq!(info.object_id, owned("oid"), "token_info: oid");
    assert_eq!(
        info.app_id,
        owned("appid").or_else(|| owned("azp")),
        "token_info: app id"
    );
    assert_eq!(info.audience, owned("aud"), "token_info: aud");
    assert_eq!(
        info.resource_id,
        owned("xms_mirid"),
        "token_info: xms_mirid"
    );
    let expires_on = claims
        .get("exp")
        .and_then(Value::as_i64)
        .and_then(|exp| time::OffsetDateTime::from_unix_timestamp(exp).ok());
    assert_eq!(info.expires_on, expires_on, "token_info: exp");

    let mirid = text(claims, "xms_mirid");
    let idtyp = text(claims, "idtyp");
    match mirid.filter(|mirid| expected_principal_name(mirid).is_some()) {
        Some(mirid) => {
            // A resource ID whose last provider is a user-assigned identity is
            // one; the crate also counts any other path that merely contains
            // `/microsoft.managedidentity/userassignedidentities/` (see the fuzz
            // report), so only the first direction is asserted exactly.
            if is_user_assigned_identity(mirid) {
                assert_eq!(
                    info.kind,
                    PrincipalKind::UserAssignedIdentity,
                    "a user-assigned identity not told"
                );
            } else {
                assert!(
                    matches!(
                        info.kind,
                        PrincipalKind::SystemAssignedIdentity | PrincipalKind::UserAssignedIdentity
                    ),
                    "a managed identity not told: {:?}",
                    info.kind
                );
            }
        }
        None => {
            let kind = if idtyp == Some("user") || text(claims, "upn").is_some() {
                PrincipalKind::User
            } else if idtyp == Some("app") || info.app_id.is_some() {
                PrincipalKind::Application
            } else {
                PrincipalKind::Unknown
            };
            assert_eq!(info.kind, kind, "token_info: kind");
        }
    }
}
