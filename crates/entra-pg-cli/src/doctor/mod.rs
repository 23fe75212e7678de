//! `entra-pg doctor`: every step from the host name to a login, in order, each
//! with its time, a pass/fail mark, and on failure the likely causes and fixes.

mod advice;
mod login;
mod net;
pub(crate) mod tls;

use std::{process::ExitCode, time::Instant};

use entra_pg_core::{Cloud, claims::token_info};
use serde::Serialize;

use crate::{commands, output, settings::Settings};

/// One checked step.
#[derive(Debug, Serialize)]
struct Step {
    step: &'static str,
    ok: bool,
    millis: u128,
    detail: String,
    hints: Vec<String>,
}

/// The steps so far, printed as they finish unless the output is JSON.
struct Steps {
    json: bool,
    steps: Vec<Step>,
}

impl Steps {
    fn record(
        &mut self,
        step: &'static str,
        started: Instant,
        result: Result<String, (String, Vec<String>)>,
    ) -> bool {
        let millis = started.elapsed().as_millis();
        let (ok, detail, hints) = match result {
            Ok(detail) => (true, detail, Vec::new()),
            Err((detail, hints)) => (false, detail, hints),
        };
        if !self.json {
            output::step(ok, step, millis, &detail);
            for hint in &hints {
                output::hint(hint);
            }
        }
        self.steps.push(Step {
            step,
            ok,
            millis,
            detail,
            hints,
        });
        ok
    }

    fn skip(&mut self, step: &'static str, why: &str) {
        self.record(
            step,
            Instant::now(),
            Err((format!("skipped: {why}"), Vec::new())),
        );
    }
}

/// Runs the checks; exit status 0 only when the login succeeded.
pub(crate) async fn run(settings: &Settings, json: bool) -> ExitCode {
    let mut steps = Steps {
        json,
        steps: Vec::new(),
    };
    let host = match settings.host() {
        Ok(host) => host.to_owned(),
        Err(err) => {
            output::error(&err);
            return ExitCode::from(2);
        }
    };
    let logged_in = check(settings, &host, &mut steps).await;
    if json {
        let document = serde_json::json!({
            "host": host,
            "port": settings.port,
            "ok": logged_in,
            "steps": steps.steps,
        });
        output::line(&serde_json::to_string_pretty(&document).unwrap_or_default());
    }
    if logged_in {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

async fn check(settings: &Settings, host: &str, steps: &mut Steps) -> bool {
    // 1. Host policy.
    let started = Instant::now();
    let auth = settings.auth();
    let policy_ok = match &auth {
        Ok((auth, _, _)) if auth.permits_host(host) => steps.record(
            "host policy",
            started,
            Ok(format!("{host} is allowed ({})", auth.allowed_hosts())),
        ),
        Ok((auth, _, _)) => steps.record(
            "host policy",
            started,
            Err((
                format!(
                    "{host} is not allowed to receive a token ({})",
                    auth.allowed_hosts()
                ),
                advice::host_policy(host),
            )),
        ),
        Err(err) => steps.record("host policy", started, Err((err.to_string(), Vec::new()))),
    };

    // 2. DNS.
    let started = Instant::now();
    let spinner = output::spinner(&format!("resolving {host} …"));
    let resolved = net::resolve(host, settings.port).await;
    spinner.finish_and_clear();
    let address = match resolved {
        Ok(resolved) => {
            let addresses: Vec<String> = resolved
                .addresses
                .iter()
                .map(|address| {
                    let kind = if net::is_private(address.ip()) {
                        "private"
                    } else {
                        "public"
                    };
                    format!("{} ({kind})", address.ip())
                })
                .collect();
            let mut detail = addresses.join(", ");
            if let Some(alias) = resolved
                .aliases
                .iter()
                .find(|alias| alias.contains(".privatelink."))
            {
                detail.push_str(&format!("; through the private endpoint alias {alias}"));
            } else if !resolved.aliases.is_empty() {
                detail.push_str(&format!("; aliases {}", resolved.aliases.join(" → ")));
            }
            steps.record("DNS", started, Ok(detail));
            resolved.addresses.first().copied()
        }
        Err(err) => {
            steps.record("DNS", started, Err((err, advice::dns(host))));
            None
        }
    };

    // 3. TCP.
    let started = Instant::now();
    let reached = match address {
        None => {
            steps.skip("TCP", "the name did not resolve");
            false
        }
        Some(address) => {
            let spinner = output::spinner(&format!("connecting to {address} …"));
            let result = net::reach(address).await;
            spinner.finish_and_clear();
            let result = result
                .map(|()| format!("{address} accepts connections"))
                .map_err(|failure| advice::tcp(&failure, address, settings.port));
            steps.record("TCP", started, result)
        }
    };

    // 4. TLS.
    let started = Instant::now();
    let tls_ok = match address.filter(|_| reached) {
        None => {
            steps.skip("TLS", "no TCP connection");
            false
        }
        Some(address) => {
            let spinner = output::spinner("TLS handshake …");
            let result = tls::inspect(host, address).await;
            spinner.finish_and_clear();
            let result = result
                .map(|report| advice::tls_report(&report))
                .map_err(|failure| advice::tls_failure(&failure, host));
            steps.record("TLS", started, result)
        }
    };

    // 5. Credential.
    let started = Instant::now();
    let Ok((auth, source, reason)) = auth else {
        let err = auth.err().map(|err| err.to_string()).unwrap_or_default();
        steps.record("credential", started, Err((err, advice::credential())));
        for step in ["token", "claims", "user", "login"] {
            steps.skip(step, "no credential");
        }
        return false;
    };
    steps.record(
        "credential",
        started,
        Ok(format!("{source}, because {reason}")),
    );

    // 6. Token. The token itself is asked for the server's cloud; it is sent
    // nowhere unless every step before the login passed.
    let started = Instant::now();
    let target = match commands::target(&auth, settings, false) {
        Ok(target) => Some(target),
        Err(_) => {
            // Outside the policy: a token for the cloud, for the claims only.
            let stand_in = Settings {
                host: None,
                ..settings.clone()
            };
            commands::target(&auth, &stand_in, false).ok()
        }
    };
    let spinner = output::spinner("asking the credential for a token …");
    let login = match &target {
        Some(target) => Some(auth.login(target).await),
        None => None,
    };
    spinner.finish_and_clear();
    let login = match login {
        Some(Ok(login)) => {
            steps.record(
                "token",
                started,
                Ok(format!("expires {}", login.expires_on())),
            );
            Some(login)
        }
        Some(Err(err)) => {
            let hints = advice::token(&err);
            steps.record(
                "token",
                started,
                Err((entra_pg_core::error_chain(&err), hints)),
            );
            None
        }
        None => {
            steps.record(
                "token",
                started,
                Err(("no target to ask a token for".to_owned(), Vec::new())),
            );
            None
        }
    };
    let Some(login) = login else {
        for step in ["claims", "user", "login"] {
            steps.skip(step, "no token");
        }
        return false;
    };

    // 7. Claims.
    let started = Instant::now();
    let info = token_info(login.password()).ok();
    let expected = Cloud::from_host(host).unwrap_or(auth.cloud());
    match &info {
        Some(info) => {
            let detail = format!(
                "{}, tenant {}, object id {}, audience {}",
                info.kind.describe(),
                info.tenant_id.as_deref().unwrap_or("?"),
                info.object_id.as_deref().unwrap_or("?"),
                info.audience.as_deref().unwrap_or("?"),
            );
            let audience_ok = info
                .audience
                .as_deref()
                .is_none_or(|audience| expected.database_scope().starts_with(audience));
            if audience_ok {
                steps.record("claims", started, Ok(detail));
            } else {
                steps.record("claims", started, Err((detail, advice::audience(expected))));
            }
        }
        None => {
            steps.record(
                "claims",
                started,
                Err(("the token is not a readable JWT".to_owned(), Vec::new())),
            );
        }
    }

    // 8. User.
    let started = Instant::now();
    let claim = info.as_ref().and_then(|info| info.user_claim);
    let source = match (&settings.user, claim) {
        (Some(_), _) => "given".to_owned(),
        (None, Some(claim)) => format!("from the claim {claim}"),
        (None, None) => "from a management-scope token".to_owned(),
    };
    steps.record("user", started, Ok(format!("{} ({source})", login.user())));

    // 9. Login.
    let started = Instant::now();
    if !(policy_ok && tls_ok) {
        steps.skip(
            "login",
            "the token is only sent once the host policy and TLS pass",
        );
        return false;
    }
    let spinner = output::spinner("logging in …");
    let result = login::attempt(settings, host, auth.clone()).await;
    spinner.finish_and_clear();
    let result = result
        .map(|user| format!("logged in as {user}"))
        .map_err(|err| advice::login(&err, login.user(), info.as_ref(), settings.port, &login));
    steps.record("login", started, result)
}
