//! The PostgreSQL user from token claims, through the real credential.

use entra_pg_core::{EntraAuth, Error};
use entra_pg_testkit::{Fault, Resource};

use crate::support::{Logins as _, auth, builder};

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
    assert_eq!(auth.login_now().await.unwrap().user(), "orders-api");
    assert_eq!(auth.user(), Some("orders-api"));
}

#[tokio::test]
async fn a_system_assigned_identity_is_named_after_its_resource() {
    let identity = builder().claim("xms_mirid", VM).build();
    assert_eq!(auth(&identity).login_now().await.unwrap().user(), "vm1");
    assert_eq!(identity.requests(Resource::Management), 0);
    let slot =
        "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Web/sites/shop/slots/staging";
    let identity = builder().claim("xms_mirid", slot).build();
    assert_eq!(
        auth(&identity).login_now().await.unwrap().user(),
        "shop/slots/staging"
    );
}

#[tokio::test]
async fn management_token_names_the_user_once_per_entra_auth() {
    let identity = builder()
        .claim("oid", "1234")
        .management_claim("unique_name", "from-management")
        .build();
    let auth = auth(&identity);
    assert_eq!(auth.login_now().await.unwrap().user(), "from-management");
    for _ in 0..3 {
        assert_eq!(auth.refresh_now().await.unwrap().user(), "from-management");
    }
    assert_eq!(identity.requests(Resource::Database), 4);
    assert_eq!(identity.requests(Resource::Management), 1, "derived once");
}

#[tokio::test]
async fn refused_management_token_is_its_own_error() {
    let identity = builder().management_claim("upn", "never-seen").build();
    identity.set_management_fault(Some(Fault::Status(403)));
    let err = auth(&identity).login_now().await.unwrap_err();
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
    let err = auth(&identity).login_now().await.unwrap_err();
    assert!(matches!(err, Error::UserNotDerivable { .. }), "{err:?}");
    assert!(
        err.to_string().contains("pgaadauth_create_principal"),
        "{err}"
    );
    assert_eq!(identity.requests(Resource::Management), 1);
}

#[tokio::test]
async fn a_user_in_the_settings_needs_no_claims_at_all() {
    // A token that is not even a JWT: with the user named, nothing reads it.
    let identity = builder().build();
    identity.set_fault(Some(Fault::NotAJwt));
    let auth = auth(&identity);
    let target = auth
        .target(
            entra_pg_core::Destination::new("test")
                .tcp_host(entra_pg_testkit::AZURE_TEST_HOST)
                .user(Some("app display name")),
        )
        .unwrap();
    assert_eq!(
        auth.login(&target).await.unwrap().user(),
        "app display name"
    );
    assert_eq!(identity.requests(Resource::Management), 0);
    assert_eq!(auth.user(), None, "nothing was derived");
}

#[tokio::test]
async fn an_application_token_says_which_ids_it_has_and_how_to_create_the_role() {
    let identity = builder().claim("idtyp", "app").build();
    let err = auth(&identity).login_now().await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains(identity.client_id()), "the object id: {text}");
    assert!(text.contains("application (service principal)"), "{text}");
    assert!(
        text.contains(&format!(
            "pgaadauth_create_principal_with_oid('<display name>', '{}', 'service', false, false)",
            identity.client_id()
        )),
        "{text}"
    );
}

#[tokio::test]
async fn explicit_user_skips_claims_and_management() {
    let identity = builder().build();
    let auth = EntraAuth::builder(identity.managed_identity_credential())
        .user("app_group")
        .build()
        .unwrap();
    assert_eq!(auth.user(), Some("app_group"));
    assert_eq!(auth.login_now().await.unwrap().user(), "app_group");
    assert_eq!(identity.requests(Resource::Management), 0);
}

#[tokio::test]
async fn a_token_that_is_not_a_jwt_is_a_decode_error() {
    let identity = builder().build();
    identity.set_fault(Some(Fault::NotAJwt));
    let err = auth(&identity).login_now().await.unwrap_err();
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
    assert_eq!(auth.login_now().await.unwrap().user(), "gov@contoso.us");
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
