//! Shared set-up: connectors to the shared server, and a real table used through
//! diesel (`diesel::table!`), from every test of the binary.

use std::sync::OnceLock;

use diesel::{
    ExpressionMethods, PgConnection, QueryDsl,
    dsl::sql,
    sql_types::{Integer, Text},
};
use diesel_async::AsyncPgConnection;
use entra_pg_core::EntraAuth;
use entra_pg_diesel::{AsyncConnector, PgConnector, entra_pg_tokio::Tls};
use entra_pg_testkit::{FakeEntra, Identity, IdentityBuilder, PgServer};

pub(crate) use entra_pg_testkit::identity_with_role;

diesel::table! {
    /// Rows written by the tests: who wrote them, from which server session.
    entra_items (id) {
        id -> Int4,
        owner -> Text,
        pid -> Int4,
    }
}

/// A new identity description on the shared endpoint (environment set up).
pub(crate) fn builder() -> IdentityBuilder<'static> {
    entra_pg_testkit::init_logs();
    FakeEntra::shared().identity()
}

/// `EntraAuth` with the real `ManagedIdentityCredential` of `identity`.
pub(crate) fn auth(identity: &Identity) -> EntraAuth {
    EntraAuth::new(identity.managed_identity_credential())
}

/// libpq settings for `server` with no user and no password: Entra fills both.
pub(crate) fn settings(server: &PgServer) -> String {
    format!(
        "host={} port={} dbname=postgres",
        server.host(),
        server.port()
    )
}

/// A sync connector to the shared server, trusting its CA file only.
pub(crate) fn pg_connector(auth: EntraAuth) -> PgConnector {
    let server = PgServer::shared();
    PgConnector::builder(&settings(server), auth)
        .root_cert(server.ca_path())
        .build()
        .unwrap()
}

/// TLS trusting the test CA of `server` only.
pub(crate) fn tls(server: &PgServer) -> Tls {
    Tls::builder()
        .root_pem(server.ca_pem())
        .unwrap()
        .build()
        .unwrap()
}

/// An async connector to the shared server for `auth`.
pub(crate) fn async_connector(auth: EntraAuth) -> AsyncConnector {
    let server = PgServer::shared();
    AsyncConnector::builder(settings(server), auth)
        .tls(tls(server).connector())
        .build()
        .unwrap()
}

/// Creates the table once per test binary; every role may use it.
pub(crate) fn ensure_table() {
    static CREATED: OnceLock<()> = OnceLock::new();
    CREATED.get_or_init(|| {
        PgServer::shared().execute(
            "CREATE TABLE IF NOT EXISTS entra_items \
                 (id serial PRIMARY KEY, owner text NOT NULL, pid int4 NOT NULL); \
             GRANT SELECT, INSERT ON entra_items TO PUBLIC; \
             GRANT USAGE ON SEQUENCE entra_items_id_seq TO PUBLIC;",
        );
    });
}

/// Inserts a row for `owner` from this session; returns `current_user` and the
/// session's backend pid (as stored).
pub(crate) fn insert_row(conn: &mut PgConnection, owner: &str) -> (String, i32) {
    use diesel::RunQueryDsl;
    ensure_table();
    let pid = diesel::insert_into(entra_items::table)
        .values((
            entra_items::owner.eq(owner),
            entra_items::pid.eq(sql::<Integer>("pg_backend_pid()")),
        ))
        .returning(entra_items::pid)
        .get_result(conn)
        .unwrap();
    (current_user(conn), pid)
}

/// The pids stored for `owner`, sorted.
pub(crate) fn rows_of(conn: &mut PgConnection, owner: &str) -> Vec<i32> {
    use diesel::RunQueryDsl;
    entra_items::table
        .filter(entra_items::owner.eq(owner))
        .select(entra_items::pid)
        .order(entra_items::pid)
        .load(conn)
        .unwrap()
}

/// `SELECT current_user` through diesel.
pub(crate) fn current_user(conn: &mut PgConnection) -> String {
    use diesel::RunQueryDsl;
    diesel::select(sql::<Text>("current_user::text"))
        .get_result(conn)
        .unwrap()
}

/// [`insert_row`] through diesel-async.
pub(crate) async fn insert_row_async(conn: &mut AsyncPgConnection, owner: &str) -> (String, i32) {
    use diesel_async::RunQueryDsl;
    ensure_table();
    let pid = diesel::insert_into(entra_items::table)
        .values((
            entra_items::owner.eq(owner),
            entra_items::pid.eq(sql::<Integer>("pg_backend_pid()")),
        ))
        .returning(entra_items::pid)
        .get_result(conn)
        .await
        .unwrap();
    (current_user_async(conn).await, pid)
}

/// [`rows_of`] through diesel-async.
pub(crate) async fn rows_of_async(conn: &mut AsyncPgConnection, owner: &str) -> Vec<i32> {
    use diesel_async::RunQueryDsl;
    entra_items::table
        .filter(entra_items::owner.eq(owner))
        .select(entra_items::pid)
        .order(entra_items::pid)
        .load(conn)
        .await
        .unwrap()
}

/// [`current_user`] through diesel-async.
pub(crate) async fn current_user_async(conn: &mut AsyncPgConnection) -> String {
    use diesel_async::RunQueryDsl;
    diesel::select(sql::<Text>("current_user::text"))
        .get_result(conn)
        .await
        .unwrap()
}
