//! User names with `@` and other URL-special characters log in end to end:
//! derived from the token or given in the settings, sync (libpq URL) and async.

use entra_pg_diesel::{PgConnector, connect_async};
use entra_pg_testkit::{PgServer, Resource, unique_name};

use crate::support::{
    async_connector, auth, builder, current_user, current_user_async, insert_row, insert_row_async,
    pg_connector, settings,
};

/// Every character that means something in a URL or a libpq conninfo string.
const SPECIAL: &str = "a@b/c?d#e%f+g h:i&j=k'l\"m\\n,o;p[q]";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_derived_user_with_url_special_characters_logs_in() {
    let server = PgServer::shared();
    let user = unique_name(SPECIAL);
    let identity = builder().upn(&user).login_on(server, &user).build();
    let auth = auth(&identity);

    let sync_connector = pg_connector(auth.clone());
    let (sync_user, sync_owner) = tokio::task::spawn_blocking(move || {
        let mut conn = sync_connector.connect().unwrap();
        let owner = unique_name("special_sync");
        (insert_row(&mut conn, &owner).0, current_user(&mut conn))
    })
    .await
    .unwrap();
    assert_eq!(sync_user, user);
    assert_eq!(sync_owner, user);

    let mut conn = connect_async(&async_connector(auth)).await.unwrap();
    assert_eq!(
        insert_row_async(&mut conn, &unique_name("special_async"))
            .await
            .0,
        user
    );
    assert_eq!(current_user_async(&mut conn).await, user);
    assert_eq!(identity.requests(Resource::Database), 1);
    assert_eq!(server.password_checks_for(&user), 2);
}

#[test]
fn an_explicit_user_with_url_special_characters_in_a_url_or_conninfo_logs_in() {
    let server = PgServer::shared();
    let role = unique_name(SPECIAL);
    let identity = builder()
        .upn(&format!("{}@contoso.com", unique_name("someone")))
        .login_on(server, &role)
        .build();
    let encoded: String = role
        .bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() {
                char::from(byte).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect();
    let quoted = role.replace('\\', "\\\\").replace('\'', "\\'");
    for settings in [
        format!(
            "postgresql://{encoded}@{}:{}/postgres",
            server.host(),
            server.port()
        ),
        format!("{} user='{quoted}'", settings(server)),
    ] {
        let connector = PgConnector::builder(&settings, auth(&identity))
            .root_cert(server.ca_path())
            .build()
            .unwrap();
        assert_eq!(current_user(&mut connector.connect().unwrap()), role);
    }
}
