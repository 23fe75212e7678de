//! `whoami`, `token` and `psql`.

use std::{io::Write as _, process::ExitCode};

use entra_pg_core::{Destination, EntraAuth, Login, Target, claims::token_info};

use crate::{output, settings::Settings};

/// The target a command gets its token for: the server, checked by the host
/// policy. Without a server (`whoami` only, which sends the token nowhere) a
/// name of the cloud's server domain stands in.
pub(crate) fn target(
    auth: &EntraAuth,
    settings: &Settings,
    require_host: bool,
) -> Result<Target, String> {
    let host = match settings.host() {
        Ok(host) => host.to_owned(),
        Err(err) if require_host => return Err(err),
        Err(_) => format!("whoami.{}", auth.cloud().server_domain()),
    };
    auth.target(
        Destination::new("entra-pg")
            .tcp_host(host)
            .port(settings.port)
            .user(settings.user.as_deref()),
    )
    .map_err(|err| err.to_string())
}

async fn login(settings: &Settings, require_host: bool) -> Result<(Login, String), String> {
    let (auth, source, reason) = settings.auth().map_err(|err| err.to_string())?;
    let target = target(&auth, settings, require_host)?;
    let spinner = output::spinner("asking the credential for a token …");
    let login = auth.login(&target).await;
    spinner.finish_and_clear();
    let login = login.map_err(|err| entra_pg_core::error_chain(&err))?;
    Ok((login, format!("{source}, because {reason}")))
}

fn fail(err: &str) -> ExitCode {
    output::error(err);
    ExitCode::FAILURE
}

/// `entra-pg whoami`.
pub(crate) async fn whoami(settings: &Settings) -> ExitCode {
    let (login, credential) = match login(settings, false).await {
        Ok(found) => found,
        Err(err) => return fail(&err),
    };
    let info = match token_info(login.password()) {
        Ok(info) => info,
        Err(err) => return fail(&err.to_string()),
    };
    let unknown = || "(not in the token)".to_owned();
    output::field("credential", &credential);
    output::field("principal", info.kind.describe());
    output::field("tenant", &info.tenant_id.clone().unwrap_or_else(unknown));
    output::field("object id", &info.object_id.clone().unwrap_or_else(unknown));
    output::field("app id", &info.app_id.clone().unwrap_or_else(unknown));
    if let Some(resource) = &info.resource_id {
        output::field("resource", resource);
    }
    output::field("audience", &info.audience.clone().unwrap_or_else(unknown));
    output::field("expires", &login.expires_on().to_string());
    let source = match (&settings.user, info.user_claim) {
        (Some(_), _) => "given (--user or POSTGRES_USER)".to_owned(),
        (None, Some(claim)) => format!("from the claim {claim}"),
        (None, None) => "from a management-scope token".to_owned(),
    };
    output::field("PostgreSQL user", &format!("{} ({source})", login.user()));
    ExitCode::SUCCESS
}

/// `entra-pg token`: the token on stdout, nothing else.
pub(crate) async fn token(settings: &Settings) -> ExitCode {
    match login(settings, true).await {
        Ok((login, _)) => {
            let mut out = std::io::stdout();
            if writeln!(out, "{}", login.password()).is_err() {
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(err) => fail(&err),
    }
}

/// `entra-pg psql -- ARGS`.
pub(crate) async fn psql(settings: &Settings, args: &[String]) -> ExitCode {
    let host = match settings.host() {
        Ok(host) => host.to_owned(),
        Err(err) => return fail(&err),
    };
    let (login, _) = match login(settings, true).await {
        Ok(found) => found,
        Err(err) => return fail(&err),
    };
    let bundle = match crate::doctor::tls::root_bundle_file() {
        Ok(bundle) => bundle,
        Err(err) => return fail(&err),
    };
    let mut command = tokio::process::Command::new("psql");
    command
        .args(args)
        // Variables that could send the login elsewhere or weaken TLS.
        .env_remove("PGSERVICE")
        .env_remove("PGSERVICEFILE")
        .env_remove("PGHOSTADDR")
        .env_remove("PGREQUIRESSL")
        .env_remove("PGSSLNEGOTIATION")
        .env("PGHOST", &host)
        .env("PGPORT", settings.port.to_string())
        .env("PGDATABASE", &settings.database)
        .env("PGUSER", login.user())
        .env("PGPASSWORD", login.password())
        .env("PGSSLMODE", "verify-full")
        .env("PGGSSENCMODE", "disable")
        .env("PGSSLROOTCERT", bundle.path());
    match command.status().await {
        Ok(status) if status.success() => ExitCode::SUCCESS,
        Ok(status) => ExitCode::from(u8::try_from(status.code().unwrap_or(1)).unwrap_or(1)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => fail(
            "psql is not installed or not on PATH: install PostgreSQL's client (Debian/Ubuntu: \
             postgresql-client, Fedora: postgresql, macOS: brew install libpq)",
        ),
        Err(err) => fail(&format!("cannot run psql: {err}")),
    }
}
