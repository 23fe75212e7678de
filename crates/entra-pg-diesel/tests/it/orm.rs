//! diesel's DSL on a real table through every pool of this crate: the
//! connections are ordinary diesel connections once opened.

use diesel::{ExpressionMethods as _, QueryDsl as _};
use entra_pg_core::EntraAuth;
use entra_pg_diesel::{
    AsyncBb8Pool, AsyncConnector, AsyncDeadpoolPool, EntraConnector, PgConnectionManager,
    async_manager,
};
use entra_pg_testkit::{FakeEntra, PgServer, unique_name};

diesel::table! {
    entra_pg_notes (id) {
        id -> Int4,
        body -> Text,
        author -> Text,
    }
}

fn auth() -> (EntraAuth, String) {
    entra_pg_testkit::init_logs();
    let server = PgServer::shared();
    let user = format!("{}@contoso.com", unique_name("orm"));
    let identity = FakeEntra::shared()
        .identity()
        .upn(&user)
        .login_on(server, &user)
        .build();
    server.execute(
        "CREATE TABLE IF NOT EXISTS entra_pg_notes \
         (id serial PRIMARY KEY, body text NOT NULL, author text NOT NULL DEFAULT current_user); \
         GRANT ALL ON entra_pg_notes TO PUBLIC; GRANT ALL ON SEQUENCE entra_pg_notes_id_seq TO PUBLIC",
    );
    let auth = EntraAuth::builder(identity.managed_identity_credential())
        .allow_host("localhost")
        .build()
        .unwrap();
    (auth, user)
}

fn settings() -> String {
    format!(
        "host=localhost port={} dbname=postgres",
        PgServer::shared().port()
    )
}

#[test]
fn the_r2d2_pool_inserts_and_reads_rows() {
    let (auth, user) = auth();
    let connector = EntraConnector::builder(settings(), auth)
        .root_cert_pem(PgServer::shared().ca_pem().as_bytes())
        .build()
        .unwrap();
    let pool = diesel::r2d2::Pool::builder()
        .max_size(2)
        .build(PgConnectionManager::new(connector))
        .unwrap();
    let mut connection = pool.get().unwrap();
    let body = unique_name("r2d2 note");
    use diesel::RunQueryDsl as _;
    diesel::insert_into(entra_pg_notes::table)
        .values(entra_pg_notes::body.eq(&body))
        .execute(&mut connection)
        .unwrap();
    let author: String = entra_pg_notes::table
        .filter(entra_pg_notes::body.eq(&body))
        .select(entra_pg_notes::author)
        .first(&mut connection)
        .unwrap();
    assert_eq!(author, user);
}

#[tokio::test]
async fn the_async_pools_insert_and_read_rows() {
    let (auth, user) = auth();
    let connector = AsyncConnector::builder(settings(), auth)
        .root_cert_pem(PgServer::shared().ca_pem().as_bytes())
        .build()
        .unwrap();
    let bb8 = AsyncBb8Pool::builder()
        .max_size(2)
        .build(async_manager(connector.clone()))
        .await
        .unwrap();
    let deadpool = AsyncDeadpoolPool::builder(async_manager(connector))
        .max_size(2)
        .build()
        .unwrap();
    let mut from_bb8 = bb8.get().await.unwrap();
    let mut from_deadpool = deadpool.get().await.unwrap();
    use diesel_async::RunQueryDsl as _;
    for connection in [&mut *from_bb8, &mut *from_deadpool] {
        let body = unique_name("async note");
        diesel::insert_into(entra_pg_notes::table)
            .values(entra_pg_notes::body.eq(&body))
            .execute(connection)
            .await
            .unwrap();
        let author: String = entra_pg_notes::table
            .filter(entra_pg_notes::body.eq(&body))
            .select(entra_pg_notes::author)
            .first(connection)
            .await
            .unwrap();
        assert_eq!(author, user);
    }
}
