//! A 20-connection pool warming up on the Azure CLI credential, whose `az` takes
//! about a quarter of a second per run like the real one. The reference library
//! runs `az` once per connection; entra-pg runs it once.

use std::time::{Duration, Instant};

use entra_pg_testkit::{Fault, Resource};
use entra_pg_tokio::{Bb8Pool, ClientManager};

use super::{Lab, ms, multi_thread_runtime};

const POOL_SIZE: u32 = 20;
/// What the real `az account get-access-token` takes on a warm machine, roughly.
const AZ_DELAY: Duration = Duration::from_millis(250);

pub(super) fn section(lab: &Lab) -> Result<String, String> {
    let runtime = multi_thread_runtime()?;
    let (identity, _) = lab.identity("bench_az", Duration::from_secs(3600));
    identity.set_fault(Some(Fault::Delay(AZ_DELAY)));
    let auth = lab.auth(identity.azure_cli_credential())?;
    let connector = lab.connector(auth)?;
    let started = Instant::now();
    let pool: Bb8Pool = runtime
        .block_on(
            bb8::Pool::builder()
                .max_size(POOL_SIZE)
                .min_idle(POOL_SIZE)
                .connection_timeout(Duration::from_secs(60))
                .build(ClientManager::new(connector)),
        )
        .map_err(|err| err.to_string())?;
    let warm_up = started.elapsed();
    let connections = pool.state().connections;
    let runs = identity.requests(Resource::Database);
    drop(pool);
    Ok(format!(
        "| pool | connections | `az` runs | warm-up time | `az` runs the reference would make |\n\
         |---|---|---|---|---|\n\
         | bb8, `AzureCliCredential`, `az` delayed {} | {connections} | {runs} | {} | {POOL_SIZE} (≈ {} of `az` alone) |\n\n\
         Target: 1 `az` run. The fake `az` is the test kit's bash script answering from the \
         local endpoint after the delay.\n",
        ms(AZ_DELAY),
        ms(warm_up),
        ms(AZ_DELAY * POOL_SIZE),
    ))
}
