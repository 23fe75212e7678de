//! The security contract as a table: transport rule, static login and host
//! policy, for destinations as the driver crates describe them. (The shared
//! driver suite proves the same against real and hostile servers for every
//! driver path.)

use std::sync::Arc;

use entra_pg_core::{Cloud, Destination, EntraAuth, SslMode, TargetHost};
use entra_pg_testkit::{AZURE_TEST_HOST, FixedToken};

fn auth(
    configure: impl FnOnce(entra_pg_core::EntraAuthBuilder) -> entra_pg_core::EntraAuthBuilder,
) -> EntraAuth {
    configure(EntraAuth::builder(Arc::new(FixedToken("h.e.y".to_owned()))).user("u"))
        .build()
        .unwrap()
}

fn to(host: &str) -> Destination {
    Destination::new("test-driver").tcp_host(host)
}

#[test]
fn every_sslmode_against_a_driver_that_verifies_only_verify_full() {
    let auth = auth(|builder| builder);
    for (mode, allowed) in [
        (None, Some(SslMode::VerifyFull)),
        (Some(SslMode::VerifyFull), Some(SslMode::VerifyFull)),
        (Some(SslMode::VerifyCa), None),
        (Some(SslMode::Require), None),
        (Some(SslMode::Prefer), None),
        (Some(SslMode::Allow), None),
        (Some(SslMode::Disable), None),
    ] {
        let result = auth.target(to(AZURE_TEST_HOST).ssl_mode(mode));
        match allowed {
            Some(want) => assert_eq!(result.unwrap().ssl_mode(), want, "{mode:?}"),
            None => {
                let err = result.unwrap_err();
                assert_eq!(err.kind(), "insecure_transport", "{mode:?}");
                let text = err.to_string();
                assert!(text.contains(mode.unwrap().as_str()), "{text}");
                assert!(text.contains("danger_allow_insecure_transport"), "{text}");
            }
        }
        // With the opt-out every mode is kept as asked.
        let insecure = auth
            .target(
                to(AZURE_TEST_HOST)
                    .ssl_mode(mode)
                    .allow_insecure_transport(true),
            )
            .unwrap();
        assert_eq!(insecure.ssl_mode(), mode.unwrap_or(SslMode::VerifyFull));
    }
    // A driver whose `require` verifies fully (rustls) may use it.
    let rustls = auth
        .target(
            to(AZURE_TEST_HOST)
                .ssl_mode(Some(SslMode::Require))
                .verifies(&[SslMode::Require]),
        )
        .unwrap();
    assert_eq!(rustls.ssl_mode(), SslMode::Require);
    let err = auth
        .target(to(AZURE_TEST_HOST).ssl_mode(Some(SslMode::Require)))
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("does not verify the server certificate with test-driver"),
        "{err}"
    );
}

#[test]
fn sockets_missing_hosts_and_bare_addresses_are_refused() {
    let auth = auth(|builder| builder.allow_host("/run/postgresql"));
    let socket = Destination::new("d").host(TargetHost::Socket("/run/postgresql".into()));
    let err = auth.target(socket.clone()).unwrap_err();
    assert_eq!(err.kind(), "insecure_transport");
    assert!(err.to_string().contains("Unix-domain socket"), "{err}");
    // With the opt-out a socket must also be allowed by the policy.
    assert!(auth.target(socket.allow_insecure_transport(true)).is_ok());
    let other = Destination::new("d")
        .host(TargetHost::Socket("/tmp".into()))
        .allow_insecure_transport(true);
    assert_eq!(auth.target(other).unwrap_err().kind(), "host_not_allowed");

    let err = auth.target(Destination::new("d")).unwrap_err();
    assert!(err.to_string().contains("name no host"), "{err}");
    let err = auth
        .target(
            Destination::new("d")
                .host(TargetHost::Address("10.0.0.5".into()))
                .allow_insecure_transport(true),
        )
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("hostaddr=10.0.0.5 is given without a host name"),
        "{err}"
    );
}

#[test]
fn the_host_policy_of_each_cloud_and_its_exceptions() {
    let public = auth(|builder| builder);
    assert!(public.target(to("srv.postgres.database.azure.com")).is_ok());
    for host in [
        "srv.postgres.database.usgovcloudapi.net",
        "srv.postgres.database.azure.com.evil.example",
        "localhost",
        "10.0.0.5",
    ] {
        let err = public.target(to(host)).unwrap_err();
        assert_eq!(err.kind(), "host_not_allowed", "{host}");
        assert!(
            err.to_string().contains(&format!("allow_host(\"{host}\")")),
            "{err}"
        );
    }
    let gov = auth(|builder| builder.host("srv.postgres.database.usgovcloudapi.net"));
    assert_eq!(gov.cloud(), Cloud::UsGovernment);
    assert!(
        gov.target(to("srv.postgres.database.usgovcloudapi.net"))
            .is_ok()
    );
    assert!(gov.target(to("srv.postgres.database.azure.com")).is_err());

    let allowed = auth(|builder| {
        builder
            .allow_host("db.corp.example")
            .allow_host("*.private.example")
    });
    for host in [
        "db.corp.example",
        "DB.corp.example.",
        "a.private.example",
        "srv.postgres.database.azure.com",
    ] {
        assert!(allowed.target(to(host)).is_ok(), "{host}");
    }
    assert!(allowed.target(to("private.example")).is_err());
    assert_eq!(
        allowed.allowed_hosts(),
        "*.postgres.database.azure.com, db.corp.example, *.private.example"
    );
    let any = auth(|builder| builder.danger_allow_any_host(true));
    assert!(any.target(to("anything.example")).is_ok());
}

#[test]
fn every_host_is_checked_before_any_connection() {
    let auth = auth(|builder| builder);
    let destination = Destination::new("d")
        .tcp_host(AZURE_TEST_HOST)
        .tcp_host("evil.example");
    let err = auth.target(destination).unwrap_err();
    assert!(err.to_string().contains("evil.example"), "{err}");
}

#[test]
fn a_static_login_skips_the_policy_but_not_the_transport_rule() {
    let auth = auth(|builder| builder);
    let target = auth
        .target(to("localhost").user(Some("app")).password(true))
        .unwrap();
    assert!(target.is_static_login());
    assert_eq!(target.user(), Some("app"));
    let err = auth
        .target(
            to("localhost")
                .user(Some("app"))
                .password(true)
                .ssl_mode(Some(SslMode::Disable)),
        )
        .unwrap_err();
    assert_eq!(err.kind(), "insecure_transport");
    // An empty user or no password is no static login.
    assert!(
        auth.target(to("localhost").user(Some("")).password(true))
            .is_err()
    );
    assert!(auth.target(to("localhost").user(Some("app"))).is_err());
    // No token is handed out for a static login.
    assert_eq!(
        auth.login_blocking(&target).unwrap_err().kind(),
        "invalid_config"
    );
}

#[test]
fn a_target_checked_by_another_entra_auth_is_checked_again() {
    let lenient = auth(|builder| builder.allow_host("localhost"));
    let strict = auth(|builder| builder);
    let target = lenient.target(to("localhost")).unwrap();
    assert!(lenient.login_blocking(&target).is_ok());
    assert_eq!(
        strict.login_blocking(&target).unwrap_err().kind(),
        "host_not_allowed"
    );
}

#[test]
fn bad_allow_host_patterns_are_configuration_errors() {
    for pattern in ["", "*", "*.com", "bad host", "a.*.b"] {
        let err = EntraAuth::builder(Arc::new(FixedToken("t".into())))
            .allow_host(pattern)
            .build()
            .unwrap_err();
        assert_eq!(err.kind(), "invalid_config", "{pattern}");
    }
}
