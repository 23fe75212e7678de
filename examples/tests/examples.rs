//! Every example, run as a user would run it, against a real PostgreSQL server
//! over TLS and the local Entra endpoint: each logs in as the demo user with one
//! token request, and a role that does not exist is reported as a rejection.

use std::path::Path;

use entra_pg_examples::demo::{DEMO_USER, Demo, example_names};

#[test]
fn every_example_logs_in_with_one_token_request() {
    // Cargo builds the package's binaries for its integration tests, next to each other.
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_tokio_direct"))
        .parent()
        .expect("the binaries' directory");
    let demo = Demo::start();
    let rows = demo.run_examples(bin_dir).expect("run the examples");
    let names = example_names().expect("the examples");
    assert_eq!(
        rows.len(),
        names.len() + 1,
        "every example and the failing one ran"
    );
    for row in &rows {
        assert!(row.passed(), "{row}");
    }
    for row in &rows[..names.len()] {
        assert_eq!(row.user, DEMO_USER, "{row}");
        assert_eq!(row.requests, 1, "one token request: {row}");
    }
    let failure = rows.last().expect("the failing run");
    assert!(failure.result.contains("nobody_has_this_role"), "{failure}");
    assert!(
        failure.result.contains("pgaadauth_create_principal"),
        "the advice: {failure}"
    );
}
