//! The PostgreSQL user from token claims, through the real credential.

use entra_pg_core::{EntraAuth, Error};
use entra_pg_testkit::{Fault, Resource};

use crate::support::{auth, builder};

const UAMI: &str = "/subscriptions/0000/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/orders-api";
const VM: &str =
    "/subscriptions/0000/resourcegroups/rg/providers/Microsoft.Compute/virtualMachines/vm1";

#[tokio::test]
async fn user_assigned_identity_name_comes_from_xms_mirid() {
    let identity = builder()
        .claim("xms_mirid", UAMI)
        .upn("ignored@contoso.com")
        .build();
    let auth = auth(&identity);
    assert_eq!(auth.conninfo().await.unwrap().user(), "orders-api");
    assert_eq!(auth.user(), Some("orders-api"));
}

#[tokio::test]
async fn system_assigned_identity_falls_through_to_the_other_claims() {
    let identity = builder()
        .claim("xms_mirid", VM)
        .claim("preferred_username", "vm1-identity")
        .build();
    assert_eq!(
        auth(&identity).conninfo().await.unwrap().user(),
        "vm1-identity"
    );
    assert_eq!(identity.requests(Resource::Management), 0);
}

#[tokio::test]
async fn management_token_names_the_user_once_per_entra_auth() {
    let identity = builder()
        .claim("xms_mirid", VM)
        .management_claim("unique_name", "from-management")
        .build();
    let auth = auth(&identity);
    assert_eq!(auth.conninfo().await.unwrap().user(), "from-management");
    for _ in 0..3 {
        assert_eq!(auth.refresh().await.unwrap().user(), "from-management");
    }
    assert_eq!(identity.requests(Resource::Database), 4);
    assert_eq!(identity.requests(Resource::Management), 1, "derived once");
}

#[tokio::test]
async fn refused_management_token_is_its_own_error() {
    let identity = builder().management_claim("upn", "never-seen").build();
    identity.set_management_fault(Some(Fault::Status(403)));
    let err = auth(&identity).conninfo().await.unwrap_err();
    assert!(
        matches!(err, Error::ManagementScopeRefused { .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("https://management.azure.com/.default"),
        "{text}"
    );
    assert!(text.contains("EntraAuthBuilder::user"), "{text}");
    assert!(std::error::Error::source(&err).is_some());
}

#[tokio::test]
async fn no_claim_anywhere_is_user_not_derivable() {
    let identity = builder().claim("oid", "1234").build();
    let err = auth(&identity).conninfo().await.unwrap_err();
    assert!(matches!(err, Error::UserNotDerivable), "{err:?}");
    assert!(
        err.to_string().contains("pgaadauth_create_principal"),
        "{err}"
    );
    assert_eq!(identity.requests(Resource::Management), 1);
}

#[tokio::test]
async fn explicit_user_skips_claims_and_management() {
    let identity = builder().build();
    let auth = EntraAuth::builder(identity.managed_identity_credential())
        .user("app_group")
        .build()
        .unwrap();
    assert_eq!(auth.user(), Some("app_group"));
    assert_eq!(auth.conninfo().await.unwrap().user(), "app_group");
    assert_eq!(identity.requests(Resource::Management), 0);
}

#[tokio::test]
async fn a_token_that_is_not_a_jwt_is_a_decode_error() {
    let identity = builder().build();
    identity.set_fault(Some(Fault::NotAJwt));
    let err = auth(&identity).conninfo().await.unwrap_err();
    assert!(matches!(err, Error::TokenDecode { .. }), "{err:?}");
    let token = identity.issued_tokens().pop().unwrap();
    assert!(!format!("{err} {err:?}").contains(&token));
}

#[tokio::test]
async fn sovereign_cloud_scopes_reach_the_endpoint() {
    use entra_pg_core::Cloud;
    let identity = builder()
        .claim("oid", "x")
        .management_claim("upn", "gov@contoso.us")
        .build();
    let auth = EntraAuth::builder(identity.managed_identity_credential())
        .host("srv.postgres.database.usgovcloudapi.net")
        .build()
        .unwrap();
    assert_eq!(auth.scope(), Cloud::UsGovernment.database_scope());
    assert_eq!(auth.conninfo().await.unwrap().user(), "gov@contoso.us");
    let tokens = identity.issued_tokens();
    let aud = |token: &str| entra_pg_testkit::decode_claims(token).unwrap()["aud"].clone();
    assert_eq!(
        aud(&tokens[0]),
        "https://ossrdbms-aad.database.usgovcloudapi.net"
    );
    assert_eq!(aud(&tokens[1]), "https://management.usgovcloudapi.net");

    // A host that is not an Azure name keeps the configured cloud.
    let china = EntraAuth::builder(identity.managed_identity_credential())
        .cloud(Cloud::China)
        .host("localhost")
        .build()
        .unwrap();
    assert_eq!(
        china.scope(),
        "https://ossrdbms-aad.database.chinacloudapi.cn/.default"
    );
}

#[test]
fn invalid_settings_are_refused() {
    let identity = builder().build();
    let credential = identity.managed_identity_credential();
    for builder in [
        EntraAuth::builder(credential.clone()).user(""),
        EntraAuth::builder(credential.clone()).scope("two scopes"),
        EntraAuth::builder(credential.clone()).scope(""),
        EntraAuth::builder(credential.clone()).fetch_timeout(std::time::Duration::ZERO),
    ] {
        assert!(matches!(builder.build(), Err(Error::InvalidConfig { .. })));
    }
}
