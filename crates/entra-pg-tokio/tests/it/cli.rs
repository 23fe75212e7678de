//! `AzureCliCredential`: a 20-connection pool runs `az` once.

use std::sync::Arc;

use entra_pg_core::EntraAuth;
use entra_pg_testkit::Resource;
use entra_pg_tokio::{Bb8Manager, bb8};
use tokio::sync::Barrier;

use crate::support::{connector, identity_with_role};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_twenty_connection_pool_runs_az_once() {
    let (identity, user) = identity_with_role();
    let auth = EntraAuth::new(identity.azure_cli_credential());
    let pool = bb8::Pool::builder()
        .max_size(20)
        .build(Bb8Manager::new(connector(auth)))
        .await
        .unwrap();
    let barrier = Arc::new(Barrier::new(20));
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (pool, barrier) = (pool.clone(), Arc::clone(&barrier));
            tokio::spawn(async move {
                let client = pool.get().await.unwrap();
                let current = crate::support::current_user(&client).await;
                barrier.wait().await;
                current
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), user);
    }
    assert_eq!(pool.state().connections, 20);
    assert_eq!(identity.requests(Resource::Database), 1, "az ran once");
}
