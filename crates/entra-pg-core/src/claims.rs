//! Reading the PostgreSQL user name from the claims of an Entra access token.
//!
//! The token is only decoded, never verified: the server verifies it. The user
//! is taken from the first claim that names the principal, in this order:
//!
//! 1. `xms_mirid`, only when it is the resource ID of a **user-assigned** managed
//!    identity (`…/providers/Microsoft.ManagedIdentity/userAssignedIdentities/<name>`),
//!    giving `<name>`;
//! 2. `upn`;
//! 3. `preferred_username`;
//! 4. `unique_name`.
//!
//! A system-assigned identity's `xms_mirid` (the resource ID of the VM or app) falls
//! through to the other claims. Empty and non-string claims count as absent; values are used as they are (not trimmed).
//! Of duplicate claims the last one counts, as in the reference library.

use base64::Engine as _;
use serde_json::{Map, Value};

use crate::Error;

/// The claims consulted for the user name, in order of preference.
pub const USER_CLAIMS: [&str; 4] = ["xms_mirid", "upn", "preferred_username", "unique_name"];

const USER_ASSIGNED_PATH: &str = "providers/microsoft.managedidentity/userassignedidentities";

/// The PostgreSQL user named by `token`'s claims, or `Ok(None)` when no claim names
/// the principal.
///
/// # Errors
/// [`Error::TokenDecode`] when `token` is not a JWT with a base64url JSON-object payload.
pub fn username_from_token(token: &str) -> Result<Option<String>, Error> {
    Ok(user_and_claim(token)?.map(|(user, _)| user))
}

/// The name of a user-assigned managed identity from its resource ID (the `xms_mirid`
/// claim), or `None` for any other resource ID (a system-assigned identity's VM or
/// app, or a malformed value). Segment names are compared case-insensitively, as
/// Azure resource IDs are, and must be whole segments (`…/xproviders/…` is not
/// `…/providers/…`); trailing slashes are ignored. The name keeps its case.
#[must_use]
pub fn parse_principal_name(xms_mirid: &str) -> Option<&str> {
    let path = xms_mirid.trim_end_matches('/');
    let (parent, name) = path.rsplit_once('/')?;
    let split = parent.len().checked_sub(USER_ASSIGNED_PATH.len())?;
    let (before, tail) = (parent.get(..split)?, parent.get(split..)?);
    let is_user_assigned = tail.eq_ignore_ascii_case(USER_ASSIGNED_PATH)
        && (before.is_empty() || before.ends_with('/'));
    (is_user_assigned && !name.is_empty()).then_some(name)
}

/// The user and the name of the claim it came from.
pub(crate) fn user_and_claim(token: &str) -> Result<Option<(String, &'static str)>, Error> {
    let claims = decode_payload(token)?;
    let text = |name: &str| {
        claims
            .get(name)
            .and_then(Value::as_str)
            .filter(|value| !value.is_empty())
    };
    if let Some(name) = text("xms_mirid").and_then(parse_principal_name) {
        return Ok(Some((name.to_owned(), "xms_mirid")));
    }
    Ok(USER_CLAIMS[1..]
        .iter()
        .find_map(|claim| text(claim).map(|user| (user.to_owned(), *claim))))
}

/// The JSON object in the middle part of a JWT.
fn decode_payload(token: &str) -> Result<Map<String, Value>, Error> {
    let parts: Vec<&str> = token.trim().split('.').collect();
    if parts.len() != 3 {
        return Err(Error::decode(format!(
            "it has {} dot-separated parts, a JWT has 3",
            parts.len()
        )));
    }
    let payload = parts[1].trim_end_matches('=');
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|err| Error::decode(format!("the payload is not base64url: {err}")))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(claims)) => Ok(claims),
        Ok(_) => Err(Error::decode("the payload is JSON but not an object")),
        Err(err) => Err(Error::decode(format!(
            "the payload is not JSON: {}",
            err.classify_description()
        ))),
    }
}

trait ClassifyDescription {
    fn classify_description(&self) -> &'static str;
}

impl ClassifyDescription for serde_json::Error {
    fn classify_description(&self) -> &'static str {
        // The error's own Display may quote parts of the payload; only say which kind
        // of failure it was.
        match self.classify() {
            serde_json::error::Category::Io => "read error",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "unexpected data",
            serde_json::error::Category::Eof => "truncated",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn jwt(claims: &Value) -> String {
        let enc = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        format!(
            "{}.{}.{}",
            enc(br#"{"alg":"RS256","typ":"JWT"}"#),
            enc(claims.to_string().as_bytes()),
            enc(b"signature")
        )
    }

    const UAMI: &str = "/subscriptions/0000/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/my-app-identity";
    const SYSTEM: &str =
        "/subscriptions/0000/resourcegroups/rg/providers/Microsoft.Compute/virtualMachines/vm1";

    #[test]
    fn claim_order() {
        let all = json!({"xms_mirid": UAMI, "upn": "u@x", "preferred_username": "p@x", "unique_name": "n@x"});
        assert_eq!(
            user_and_claim(&jwt(&all)).unwrap(),
            Some(("my-app-identity".into(), "xms_mirid"))
        );
        let cases = [
            (
                json!({"upn": "u@x", "preferred_username": "p@x", "unique_name": "n@x"}),
                "u@x",
            ),
            (
                json!({"preferred_username": "p@x", "unique_name": "n@x"}),
                "p@x",
            ),
            (json!({"unique_name": "n@x"}), "n@x"),
        ];
        for (claims, want) in cases {
            assert_eq!(
                username_from_token(&jwt(&claims)).unwrap().as_deref(),
                Some(want)
            );
        }
        assert_eq!(
            username_from_token(&jwt(&json!({"oid": "1"}))).unwrap(),
            None
        );
    }

    #[test]
    fn system_assigned_mirid_falls_through_to_other_claims() {
        // The reference library returns no user here (operator-precedence bug).
        let claims = json!({"xms_mirid": SYSTEM, "upn": "u@x"});
        assert_eq!(
            user_and_claim(&jwt(&claims)).unwrap(),
            Some(("u@x".into(), "upn"))
        );
        let claims = json!({"xms_mirid": SYSTEM, "unique_name": "n@x"});
        assert_eq!(
            username_from_token(&jwt(&claims)).unwrap().as_deref(),
            Some("n@x")
        );
        assert_eq!(
            username_from_token(&jwt(&json!({"xms_mirid": SYSTEM}))).unwrap(),
            None
        );
    }

    #[test]
    fn empty_and_non_string_claims_count_as_absent() {
        let claims =
            json!({"xms_mirid": 7, "upn": "", "preferred_username": ["a"], "unique_name": "n@x"});
        assert_eq!(
            username_from_token(&jwt(&claims)).unwrap().as_deref(),
            Some("n@x")
        );
    }

    #[test]
    fn principal_name_from_mirid() {
        assert_eq!(parse_principal_name(UAMI), Some("my-app-identity"));
        let odd_case = "/subscriptions/0/resourceGroups/rg/PROVIDERS/microsoft.managedidentity/USERASSIGNEDIDENTITIES/Id1/";
        assert_eq!(parse_principal_name(odd_case), Some("Id1"));
        for bad in [
            SYSTEM,
            "",
            "/",
            "no-slashes",
            "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/",
            "/providers/Microsoft.ManagedIdentity/userAssignedIdentitiesX/name",
            "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/name/extra",
            "/rg/xproviders/Microsoft.ManagedIdentity/userAssignedIdentities/name",
        ] {
            assert_eq!(parse_principal_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn malformed_tokens_are_decode_errors_that_do_not_echo_the_token() {
        let secret_payload = "c2VjcmV0LXBheWxvYWQtdGV4dA"; // not JSON
        let cases = [
            "not-a-jwt".to_owned(),
            "a.b".to_owned(),
            "a.b.c.d".to_owned(),
            format!("h.{secret_payload}.s"),
            "h.$$$.s".to_owned(),
            format!(
                "h.{}.s",
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("[1,2]")
            ),
            format!(
                "h.{}.s",
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([0xff, 0xfe])
            ),
        ];
        for token in cases {
            let err = username_from_token(&token).unwrap_err();
            assert!(matches!(err, Error::TokenDecode { .. }), "{token}: {err}");
            let text = format!("{err} {err:?}");
            assert!(!text.contains(&token), "{text}");
            assert!(!text.contains(secret_payload), "{text}");
        }
    }

    #[test]
    fn padded_payloads_are_accepted() {
        let claims = json!({"upn": "ab"}).to_string();
        let padded = base64::engine::general_purpose::URL_SAFE.encode(claims);
        assert_eq!(
            username_from_token(&format!("h.{padded}.s"))
                .unwrap()
                .as_deref(),
            Some("ab")
        );
    }
}
