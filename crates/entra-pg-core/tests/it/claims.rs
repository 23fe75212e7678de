//! Claim parsing on hostile and arbitrary input: a typed error or the right user,
//! never a panic, never the token in an error. The fuzz target `claims` (see the
//! root README) covers the same functions for longer.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use entra_pg_core::{
    Error,
    claims::{principal_name, username_from_token},
};
use proptest::prelude::*;
use serde_json::{Value, json};

const UAMI_PARENT: &str = "/subscriptions/0000/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities";

fn jwt_from_payload(payload: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(payload),
        URL_SAFE_NO_PAD.encode(b"signature")
    )
}

fn jwt(claims: &Value) -> String {
    jwt_from_payload(claims.to_string().as_bytes())
}

/// A decode error whose text shows no part of the token.
#[track_caller]
fn assert_decode_error(token: &str) {
    let err = username_from_token(token).expect_err("a decode error");
    assert!(matches!(err, Error::TokenDecode { .. }), "{}", err.kind());
    let shown = format!("{err} {err:?}");
    for part in token.split('.').filter(|part| part.len() >= 16) {
        assert!(!shown.contains(part), "the error shows part of the token");
    }
}

#[test]
fn tokens_of_64_kib_are_read_or_refused() {
    // A well-formed token of 64 KiB: the user is read.
    let padding = "x".repeat(64 * 1024);
    let token = jwt(&json!({"upn": "big@contoso.com", "pad": padding}));
    assert!(token.len() > 64 * 1024);
    assert_eq!(
        username_from_token(&token).unwrap().as_deref(),
        Some("big@contoso.com")
    );
    // A 64 KiB user name is returned whole.
    let long_user = "u".repeat(64 * 1024);
    assert_eq!(
        username_from_token(&jwt(&json!({ "upn": long_user })))
            .unwrap()
            .as_deref(),
        Some(long_user.as_str())
    );
    // 64 KiB of garbage, of dots, of base64 that is not JSON.
    for token in [
        "A".repeat(64 * 1024),
        ".".repeat(64 * 1024),
        format!("h.{}.s", "A".repeat(64 * 1024)),
        format!("h.{}.s", "%".repeat(64 * 1024)),
    ] {
        assert_decode_error(&token);
    }
    // JSON nested deeper than the parser allows is an error, not a stack overflow.
    let deep = format!(
        "{{\"a\":{}1{}}}",
        "[".repeat(64 * 1024),
        "]".repeat(64 * 1024)
    );
    assert_decode_error(&jwt_from_payload(deep.as_bytes()));
}

#[test]
fn non_utf8_and_non_base64url_payloads_are_decode_errors() {
    let cases = [
        // Payload bytes that are not UTF-8.
        jwt_from_payload(&[0xff, 0xfe, 0xfd, b'{', b'}']),
        jwt_from_payload(b"{\"upn\":\"\xc3\x28\"}"),
        // A lone surrogate escape: valid JSON syntax, not a valid string.
        jwt_from_payload(br#"{"upn":"\ud800"}"#),
        // Standard base64 (`+`, `/`) instead of base64url.
        format!("h.{}.s", "ey+/".repeat(8)),
        // Characters outside any base64 alphabet; a length no encoding produces.
        "h.eyJ1cG4iOiJhIn0$$.s".to_owned(),
        "h.eyJ1cG4iOiJhIn0aa.s".to_owned(),
        // Padding in the middle.
        "h.ey==Jhbm4iOiJhIn0.s".to_owned(),
        // Valid base64url, JSON that is not an object.
        jwt_from_payload(b"\"upn\""),
        jwt_from_payload(b"null"),
        jwt_from_payload(b""),
        // Not three parts.
        "".to_owned(),
        "..".to_owned() + ".",
        format!("{}.x", jwt(&json!({"upn": "a@b"}))),
    ];
    for token in cases {
        assert_decode_error(&token);
    }
}

#[test]
fn duplicate_claims_take_the_last_value() {
    // JSON allows duplicate names; like the reference library (Python's json), the
    // last one wins.
    let token = jwt_from_payload(br#"{"upn":"first@x","upn":"last@x"}"#);
    assert_eq!(
        username_from_token(&token).unwrap().as_deref(),
        Some("last@x")
    );
    // A later non-string duplicate makes the claim absent.
    let token = jwt_from_payload(br#"{"upn":"first@x","upn":7,"unique_name":"n@x"}"#);
    assert_eq!(username_from_token(&token).unwrap().as_deref(), Some("n@x"));
}

#[test]
fn non_string_claims_count_as_absent() {
    for value in [
        json!(null),
        json!(true),
        json!(12),
        json!(1.5e300),
        json!(["a@x"]),
        json!({"upn": "a@x"}),
        json!(""),
    ] {
        let claims = json!({"xms_mirid": value, "upn": value, "preferred_username": value});
        assert_eq!(username_from_token(&jwt(&claims)).unwrap(), None);
        let claims = json!({"xms_mirid": value, "upn": value, "unique_name": "n@x"});
        assert_eq!(
            username_from_token(&jwt(&claims)).unwrap().as_deref(),
            Some("n@x")
        );
    }
}

#[test]
fn xms_mirid_casing_and_trailing_slashes() {
    // `providers` compares case-insensitively; the identity's name keeps its
    // case. Trailing slashes are ignored (the reference returns no name for them).
    for mirid in [
        format!("{UAMI_PARENT}/Orders-API"),
        format!("{UAMI_PARENT}/Orders-API/"),
        format!("{UAMI_PARENT}/Orders-API///"),
        format!("{}/Orders-API", UAMI_PARENT.to_uppercase()),
        format!("{}/Orders-API", UAMI_PARENT.to_lowercase()),
        "providers/MICROSOFT.MANAGEDIDENTITY/userassignedidentities/Orders-API".to_owned(),
    ] {
        assert_eq!(
            principal_name(&mirid).as_deref(),
            Some("Orders-API"),
            "{mirid}"
        );
        let claims = json!({"xms_mirid": mirid, "upn": "other@x"});
        assert_eq!(
            username_from_token(&jwt(&claims)).unwrap().as_deref(),
            Some("Orders-API")
        );
    }
    // Any resource type: system-assigned identities are named after the resource,
    // child resources in Azure's display form.
    for (mirid, name) in [
        ("/providers/Microsoft.Compute/virtualMachines/vm1", "vm1"),
        (
            "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Web/sites/app/slots/blue",
            "app/slots/blue",
        ),
        ("/subscriptions/0/PROVIDERS/Microsoft.Web/sites/App/", "App"),
        (
            "/providers/Microsoft.ManagedIdentity/userAssignedIdentity/a",
            "a",
        ),
        (
            "/providers/Microſoft.ManagedIdentity/userAssignedIdentities/a",
            "a",
        ),
    ] {
        assert_eq!(principal_name(mirid).as_deref(), Some(name), "{mirid}");
    }
    // Not a resource ID: falls through to the next claim.
    for mirid in [
        UAMI_PARENT.to_owned(),
        format!("{UAMI_PARENT}/"),
        format!("{UAMI_PARENT}/a/b"),
        "/rg/xproviders/Microsoft.ManagedIdentity/userAssignedIdentities/a".to_owned(),
        "/providers/Microsoft.Compute/virtualMachines".to_owned(),
        "/providers".to_owned(),
        "/subscriptions/0/resourceGroups/rg".to_owned(),
        "/subscriptions//providers/Microsoft.Compute/virtualMachines/vm1".to_owned(),
    ] {
        assert_eq!(principal_name(&mirid), None, "{mirid}");
        let claims = json!({"xms_mirid": mirid, "upn": "other@x"});
        assert_eq!(
            username_from_token(&jwt(&claims)).unwrap().as_deref(),
            Some("other@x")
        );
    }
}

#[test]
fn user_names_with_quotes_at_spaces_and_non_ascii_are_kept_exactly() {
    for user in [
        "O'Brien@contoso.com",
        r#"a "quoted" name"#,
        "back\\slash",
        " leading and trailing spaces ",
        "Zoë Ünïcødé@contoso.com",
        "名前@例え.jp",
        "emoji 🦀",
        "semi;colon=equals&amp?",
        "tab\tnew\nline",
    ] {
        assert_eq!(
            username_from_token(&jwt(&json!({ "upn": user })))
                .unwrap()
                .as_deref(),
            Some(user)
        );
        if !user.contains('/') {
            let mirid = format!("{UAMI_PARENT}/{user}");
            assert_eq!(principal_name(&mirid).as_deref(), Some(user));
        }
    }
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// A user-assigned identity's resource ID in random casing, with 0–2 trailing slashes.
fn mirid(name: String) -> impl Strategy<Value = String> {
    (
        proptest::collection::vec(any::<bool>(), UAMI_PARENT.len()),
        0..3usize,
    )
        .prop_map(move |(upper, slashes)| {
            let parent: String = UAMI_PARENT
                .chars()
                .zip(upper)
                .map(|(c, up)| {
                    if up {
                        c.to_ascii_uppercase()
                    } else {
                        c.to_ascii_lowercase()
                    }
                })
                .collect();
            format!("{parent}/{name}{}", "/".repeat(slashes))
        })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_strings_never_panic(text in any::<String>()) {
        if let Ok(Some(user)) = username_from_token(&text) {
            prop_assert!(!user.is_empty());
        }
        if let Some(name) = principal_name(&text) {
            // A name, or a name and child types and names: an odd number of
            // non-empty segments.
            let segments: Vec<&str> = name.split('/').collect();
            prop_assert!(segments.len() % 2 == 1 && segments.iter().all(|s| !s.is_empty()));
        }
    }

    #[test]
    fn arbitrary_payload_bytes_never_panic(payload in proptest::collection::vec(any::<u8>(), 0..512)) {
        let token = jwt_from_payload(&payload);
        let is_object = matches!(serde_json::from_slice(&payload), Ok(Value::Object(_)));
        match username_from_token(&token) {
            Ok(_) => prop_assert!(is_object),
            Err(err) => {
                prop_assert!(!is_object);
                prop_assert!(matches!(err, Error::TokenDecode { .. }), "{}", err.kind());
            }
        }
    }

    #[test]
    fn arbitrary_json_objects_never_panic(
        claims in proptest::collection::btree_map(
            prop_oneof![
                Just("xms_mirid".to_owned()),
                Just("upn".to_owned()),
                Just("preferred_username".to_owned()),
                Just("unique_name".to_owned()),
                any::<String>(),
            ],
            prop_oneof![
                any::<String>().prop_map(Value::from),
                any::<i64>().prop_map(Value::from),
                any::<bool>().prop_map(Value::from),
                Just(Value::Null),
            ],
            0..6,
        )
    ) {
        let claims: serde_json::Map<String, Value> = claims.into_iter().collect();
        let user = username_from_token(&jwt(&Value::Object(claims.clone()))).unwrap();
        let text = |name: &str| claims.get(name)?.as_str().filter(|v| !v.is_empty());
        let want = text("xms_mirid")
            .and_then(principal_name)
            .or_else(|| {
                ["upn", "preferred_username", "unique_name"]
                    .into_iter()
                    .find_map(text)
                    .map(str::to_owned)
            });
        prop_assert_eq!(user, want);
    }

    #[test]
    fn upn_preferred_username_and_unique_name_round_trip(
        user in any::<String>().prop_filter("non-empty", |u| !u.is_empty()),
        claim in prop_oneof![Just("upn"), Just("preferred_username"), Just("unique_name")],
    ) {
        let token = jwt(&json!({ claim: user, "oid": "0000" }));
        prop_assert_eq!(username_from_token(&token).unwrap(), Some(user));
    }

    #[test]
    fn xms_mirid_round_trips(
        (name, mirid) in "[^/]{1,64}".prop_flat_map(|name| (Just(name.clone()), mirid(name))),
    ) {
        prop_assert_eq!(principal_name(&mirid), Some(name.clone()));
        let token = jwt(&json!({"xms_mirid": mirid, "upn": "someone-else@x"}));
        prop_assert_eq!(username_from_token(&token).unwrap(), Some(name));
    }
}

/// A resource ID of any type, with child resources: the name is every segment
/// after `providers/<namespace>/<type>/`, in Azure's display form.
fn resource_id() -> impl Strategy<Value = (String, String)> {
    let segment = "[A-Za-z0-9._-]{1,12}";
    (
        segment,
        segment,
        segment,
        proptest::collection::vec((segment, segment), 0..3),
        0..3usize,
    )
        .prop_map(|(namespace, kind, name, children, slashes)| {
            let mut display = name.clone();
            let mut path =
                format!("/subscriptions/0/resourceGroups/rg/providers/{namespace}/{kind}/{name}");
            for (child_kind, child_name) in children {
                path.push_str(&format!("/{child_kind}/{child_name}"));
                display.push_str(&format!("/{child_kind}/{child_name}"));
            }
            (format!("{path}{}", "/".repeat(slashes)), display)
        })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_resource_id_names_its_resource((mirid, name) in resource_id()) {
        prop_assert_eq!(principal_name(&mirid), Some(name.clone()));
        let token = jwt(&json!({"xms_mirid": mirid, "upn": "someone-else@x"}));
        prop_assert_eq!(username_from_token(&token).unwrap(), Some(name));
    }
}
