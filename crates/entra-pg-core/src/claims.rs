//! Reading the PostgreSQL user name, and a summary of the principal, from the
//! claims of an Entra access token.
//!
//! The token is only decoded, never verified: the server verifies it. The user
//! is taken from the first claim that names the principal, in this order:
//!
//! 1. `xms_mirid`, the resource ID of a managed identity: the resource's name,
//!    for user-assigned identities (`…/providers/Microsoft.ManagedIdentity/userAssignedIdentities/<name>`
//!    gives `<name>`) and system-assigned ones alike (`…/providers/Microsoft.Compute/virtualMachines/my-vm`
//!    gives `my-vm`; `…/providers/Microsoft.Web/sites/my-app/slots/staging` gives
//!    `my-app/slots/staging`, child resources kept in Azure's display-name form);
//! 2. `upn`;
//! 3. `preferred_username`;
//! 4. `unique_name`.
//!
//! The role of a system-assigned identity is named after its resource (Azure's
//! managed-identity documentation: a VM's identity is the VM's name, an app's the
//! app's name, a deployment slot's `<app>/slots/<slot>`). The reference Python
//! library accepts only user-assigned paths, and through an operator-precedence
//! bug never falls back to the other claims when `xms_mirid` is another path.
//! An `xms_mirid` that is not a resource ID falls through to the other claims.
//! Empty and non-string claims count as absent; values are used as they are (not
//! trimmed). Of duplicate claims the last one counts, as in the reference library.
//!
//! Application (service principal) tokens carry no name: `appid` and `oid` only.
//! Their role is the application's display name, which must be given explicitly.

use base64::Engine as _;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::Error;

/// The claims consulted for the user name, in order of preference.
pub const USER_CLAIMS: [&str; 4] = ["xms_mirid", "upn", "preferred_username", "unique_name"];

/// The PostgreSQL user named by `token`'s claims, or `Ok(None)` when no claim names
/// the principal.
///
/// # Errors
/// [`Error::TokenDecode`] when `token` is not a JWT with a base64url JSON-object payload.
pub fn username_from_token(token: &str) -> Result<Option<String>, Error> {
    Ok(user_and_claim(token)?.map(|(user, _)| user))
}

/// The name of the resource a managed identity's resource ID (the `xms_mirid`
/// claim) names, as its PostgreSQL role is called: the segments after the last
/// `/providers/<namespace>/<type>/`, `<name>` or `<name>/<child type>/<child name>…`.
/// `None` for anything that is not a resource ID (no `providers` segment, empty
/// segments, a type without a name).
///
/// `providers` is compared case-insensitively, as Azure resource IDs are; the
/// names keep their case; trailing slashes are ignored.
#[must_use]
pub fn principal_name(xms_mirid: &str) -> Option<String> {
    resource_of(xms_mirid).map(|resource| resource.name)
}

/// A resource ID read as `…/providers/<namespace>/<type>/<name>[/<child type>/<child name>]…`.
struct Resource<'a> {
    namespace: &'a str,
    kind: &'a str,
    /// `<name>[/<child type>/<child name>]…`
    name: String,
    nested: bool,
}

/// The resource `xms_mirid` names: after the last `providers` segment that is
/// followed by a namespace, a type and a name (so a resource may itself be
/// called `providers`).
fn resource_of(xms_mirid: &str) -> Option<Resource<'_>> {
    let path = xms_mirid.trim_end_matches('/');
    let path = path.strip_prefix('/').unwrap_or(path);
    let segments: Vec<&str> = path.split('/').collect();
    if segments.iter().any(|segment| segment.is_empty()) {
        return None;
    }
    let resource = (0..segments.len())
        .rev()
        .filter(|&at| segments[at].eq_ignore_ascii_case("providers"))
        // providers <namespace> <type> <name> [<child type> <child name>]…
        .find_map(|at| {
            segments
                .get(at + 1..)
                .filter(|rest| rest.len() >= 3 && rest.len() % 2 == 1)
        })?;
    let parts = &resource[2..];
    Some(Resource {
        namespace: resource[0],
        kind: resource[1],
        name: parts[1..]
            .iter()
            .fold(parts[0].to_owned(), |mut name, part| {
                name.push('/');
                name.push_str(part);
                name
            }),
        nested: parts.len() > 1,
    })
}

/// What kind of principal a token belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum PrincipalKind {
    /// A user (a person), named by `upn` or `preferred_username`.
    User,
    /// A system-assigned managed identity: its role is its resource's name.
    SystemAssignedIdentity,
    /// A user-assigned managed identity: its role is the identity's name.
    UserAssignedIdentity,
    /// An application (service principal): its role is the application's display
    /// name, which no token carries.
    Application,
    /// Something else, or not enough claims to tell.
    #[default]
    Unknown,
}

impl PrincipalKind {
    /// A short description (`user`, `managed identity (system-assigned)` …).
    #[must_use]
    pub const fn describe(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::SystemAssignedIdentity => "managed identity (system-assigned)",
            Self::UserAssignedIdentity => "managed identity (user-assigned)",
            Self::Application => "application (service principal)",
            Self::Unknown => "unknown",
        }
    }
}

/// What a token says about its principal: ids and names only, never the token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenInfo {
    /// The kind of principal.
    pub kind: PrincipalKind,
    /// The tenant (`tid`).
    pub tenant_id: Option<String>,
    /// The principal's object id (`oid`).
    pub object_id: Option<String>,
    /// The application (client) id (`appid`, or `azp` in v2 tokens).
    pub app_id: Option<String>,
    /// The audience (`aud`).
    pub audience: Option<String>,
    /// The managed identity's resource id (`xms_mirid`).
    pub resource_id: Option<String>,
    /// The expiry (`exp`).
    pub expires_on: Option<OffsetDateTime>,
    /// The PostgreSQL user the claims name, if any.
    pub user: Option<String>,
    /// The claim the user came from.
    pub user_claim: Option<&'static str>,
}

/// Reads a token's principal summary (see [`TokenInfo`]).
///
/// # Errors
/// [`Error::TokenDecode`] when `token` is not a JWT with a base64url JSON-object payload.
pub fn token_info(token: &str) -> Result<TokenInfo, Error> {
    let claims = decode_payload(token)?;
    let text = |name: &str| {
        claims
            .get(name)
            .and_then(Value::as_str)
            .filter(|value| !value.is_empty())
            .map(str::to_owned)
    };
    let (user, user_claim) = match user_in(&claims) {
        Some((user, claim)) => (Some(user), Some(claim)),
        None => (None, None),
    };
    let resource_id = text("xms_mirid");
    let kind = if let Some(resource) = resource_id.as_deref().and_then(resource_of) {
        let user_assigned = resource
            .namespace
            .eq_ignore_ascii_case("Microsoft.ManagedIdentity")
            && resource.kind.eq_ignore_ascii_case("userAssignedIdentities")
            && !resource.nested;
        if user_assigned {
            PrincipalKind::UserAssignedIdentity
        } else {
            PrincipalKind::SystemAssignedIdentity
        }
    } else if text("idtyp").as_deref() == Some("user") || text("upn").is_some() {
        PrincipalKind::User
    } else if text("idtyp").as_deref() == Some("app")
        || text("appid").is_some()
        || text("azp").is_some()
    {
        PrincipalKind::Application
    } else {
        PrincipalKind::Unknown
    };
    Ok(TokenInfo {
        kind,
        tenant_id: text("tid"),
        object_id: text("oid"),
        app_id: text("appid").or_else(|| text("azp")),
        audience: text("aud"),
        resource_id,
        expires_on: claims
            .get("exp")
            .and_then(Value::as_i64)
            .and_then(|exp| OffsetDateTime::from_unix_timestamp(exp).ok()),
        user,
        user_claim,
    })
}

/// The user and the name of the claim it came from.
pub(crate) fn user_and_claim(token: &str) -> Result<Option<(String, &'static str)>, Error> {
    Ok(user_in(&decode_payload(token)?))
}

fn user_in(claims: &Map<String, Value>) -> Option<(String, &'static str)> {
    let text = |name: &str| {
        claims
            .get(name)
            .and_then(Value::as_str)
            .filter(|value| !value.is_empty())
    };
    if let Some(name) = text("xms_mirid").and_then(principal_name) {
        return Some((name, "xms_mirid"));
    }
    USER_CLAIMS[1..]
        .iter()
        .find_map(|claim| text(claim).map(|user| (user.to_owned(), *claim)))
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
    fn a_system_assigned_identity_is_named_after_its_resource() {
        let claims = json!({"xms_mirid": SYSTEM, "upn": "u@x"});
        assert_eq!(
            user_and_claim(&jwt(&claims)).unwrap(),
            Some(("vm1".into(), "xms_mirid"))
        );
        let slot =
            "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Web/sites/my-app/slots/staging";
        assert_eq!(
            username_from_token(&jwt(&json!({ "xms_mirid": slot })))
                .unwrap()
                .as_deref(),
            Some("my-app/slots/staging")
        );
        // Not a resource ID: the other claims.
        let claims =
            json!({"xms_mirid": "/subscriptions/0/resourceGroups/rg", "unique_name": "n@x"});
        assert_eq!(
            username_from_token(&jwt(&claims)).unwrap().as_deref(),
            Some("n@x")
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
        let name = |path: &str| principal_name(path);
        assert_eq!(name(UAMI).as_deref(), Some("my-app-identity"));
        let odd_case = "/subscriptions/0/resourceGroups/rg/PROVIDERS/microsoft.managedidentity/USERASSIGNEDIDENTITIES/Id1/";
        assert_eq!(name(odd_case).as_deref(), Some("Id1"));
        assert_eq!(name(SYSTEM).as_deref(), Some("vm1"));
        assert_eq!(
            name(
                "/subscriptions/0/resourcegroups/rg/providers/Microsoft.Web/sites/app/slots/blue//"
            )
            .as_deref(),
            Some("app/slots/blue")
        );
        // The last `providers` counts (extension resources).
        assert_eq!(
            name("/subscriptions/0/providers/Microsoft.Compute/virtualMachines/vm/providers/Microsoft.X/things/t1")
                .as_deref(),
            Some("t1")
        );
        // A resource may itself be called `providers`.
        assert_eq!(
            name("/subscriptions/0/providers/Microsoft.Compute/virtualMachines/providers")
                .as_deref(),
            Some("providers")
        );
        for bad in [
            "",
            "/",
            "no-slashes",
            "/subscriptions/0/resourceGroups/rg",
            "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/",
            "/providers/Microsoft.ManagedIdentity/userAssignedIdentities",
            "/providers/Microsoft.ManagedIdentity",
            "/providers",
            "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/name/extra",
            "/rg/xproviders/Microsoft.ManagedIdentity/userAssignedIdentities/name",
            "/subscriptions//providers/Microsoft.Compute/virtualMachines/vm",
        ] {
            assert_eq!(name(bad), None, "{bad}");
        }
    }

    #[test]
    fn token_info_tells_the_principal_kind() {
        let info = token_info(&jwt(
            &json!({"upn": "u@x", "oid": "o", "tid": "t", "aud": "a", "exp": 1_800_000_000}),
        ))
        .unwrap();
        assert_eq!(info.kind, PrincipalKind::User);
        assert_eq!(info.user.as_deref(), Some("u@x"));
        assert_eq!(info.user_claim, Some("upn"));
        assert_eq!(info.tenant_id.as_deref(), Some("t"));
        assert_eq!(
            info.expires_on.map(OffsetDateTime::unix_timestamp),
            Some(1_800_000_000)
        );
        let info = token_info(&jwt(&json!({"xms_mirid": UAMI, "appid": "c"}))).unwrap();
        assert_eq!(info.kind, PrincipalKind::UserAssignedIdentity);
        let info = token_info(&jwt(&json!({"xms_mirid": SYSTEM, "appid": "c"}))).unwrap();
        assert_eq!(info.kind, PrincipalKind::SystemAssignedIdentity);
        assert_eq!(info.user.as_deref(), Some("vm1"));
        // The namespace and type decide, not a resource group that looks like them.
        let lookalike = "/subscriptions/0/resourceGroups/microsoft.managedidentity/userAssignedIdentities/providers/Microsoft.Compute/virtualMachines/vm1";
        let info = token_info(&jwt(&json!({ "xms_mirid": lookalike }))).unwrap();
        assert_eq!(info.kind, PrincipalKind::SystemAssignedIdentity);
        assert_eq!(info.user.as_deref(), Some("vm1"));
        let nested = "/subscriptions/0/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1/federatedIdentityCredentials/f1";
        let info = token_info(&jwt(&json!({ "xms_mirid": nested }))).unwrap();
        assert_eq!(info.kind, PrincipalKind::SystemAssignedIdentity);
        let info =
            token_info(&jwt(&json!({"appid": "app", "oid": "obj", "idtyp": "app"}))).unwrap();
        assert_eq!(info.kind, PrincipalKind::Application);
        assert_eq!((info.app_id.as_deref(), info.user), (Some("app"), None));
        assert_eq!(
            token_info(&jwt(&json!({}))).unwrap().kind,
            PrincipalKind::Unknown
        );
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
