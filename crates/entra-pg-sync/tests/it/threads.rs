//! Blocking connects work on every kind of thread a sync driver may run on, on a
//! cold cache (the token is fetched by the core's own thread).

use entra_pg_sync::EntraConnector;
use entra_pg_testkit::{FakeEntra, PgServer, unique_name};

fn connector() -> (EntraConnector, String) {
    entra_pg_testkit::init_logs();
    let server = PgServer::shared();
    let user = format!("{}@contoso.com", unique_name("threads"));
    let identity = FakeEntra::shared()
        .identity()
        .upn(&user)
        .login_on(server, &user)
        .build();
    let auth = entra_pg_core::EntraAuth::builder(identity.managed_identity_credential())
        .allow_host("localhost")
        .build()
        .unwrap();
    let settings = format!("host=localhost port={} dbname=postgres", server.port());
    let connector = EntraConnector::builder(settings, auth)
        .root_cert_pem(server.ca_pem().as_bytes())
        .build()
        .unwrap();
    (connector, user)
}

fn current_user(connector: &EntraConnector) -> String {
    let mut client = connector.connect().unwrap();
    client
        .query_one("SELECT current_user::text", &[])
        .unwrap()
        .get(0)
}

#[test]
fn on_a_plain_thread() {
    let (connector, user) = connector();
    let current = std::thread::spawn(move || current_user(&connector))
        .join()
        .unwrap();
    assert_eq!(current, user);
}

#[test]
fn inside_spawn_blocking_of_multi_thread_and_current_thread_runtimes() {
    for runtime in [
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap(),
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap(),
    ] {
        let (connector, user) = connector();
        let current = runtime
            .block_on(async { tokio::task::spawn_blocking(move || current_user(&connector)).await })
            .unwrap();
        assert_eq!(current, user);
    }
}
