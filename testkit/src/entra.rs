//! A fake Microsoft Entra token endpoint, called by the real `azure_identity` code.

use std::{
    collections::HashMap,
    path::Path,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, OnceLock, PoisonError,
    },
    time::Duration,
};

use axum::{
    extract::{Path as UrlPath, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use azure_core::credentials::TokenCredential;
use azure_identity::{
    AzureCliCredential, AzureCliCredentialOptions, ManagedIdentityCredential,
    ManagedIdentityCredentialOptions, UserAssignedId,
};
use serde_json::{json, Map, Value};
use tempfile::TempDir;
use time::OffsetDateTime;

use entra_pg_core::clock::{Clock, ManualClock};

use crate::{az, jwt, ldap::ServerId, runtime, PgServer};

/// The `IDENTITY_HEADER` secret the fake endpoint expects.
pub const IDENTITY_HEADER: &str = "entra-pg-test-identity-header";

/// What a token is for, by the resource (audience) asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resource {
    /// Azure Database for PostgreSQL (`https://ossrdbms-aad.…`, any cloud).
    Database,
    /// Azure Resource Manager (`https://management.…`, any cloud).
    Management,
    /// Anything else.
    Other,
}

impl Resource {
    fn of(resource: &str) -> Self {
        if resource.starts_with("https://ossrdbms-aad.") {
            Self::Database
        } else if resource.starts_with("https://management.") {
            Self::Management
        } else {
            Self::Other
        }
    }
}

/// Default token lifetime: four minutes. `azure_identity`'s credentials cache a
/// token until five minutes before its expiry, so tokens shorter than that always
/// reach the endpoint, where tests can count them.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(240);

/// A failure the endpoint injects into its answers.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this HTTP status and an error body.
    Status(u16),
    /// Wait this long, then answer normally.
    Delay(Duration),
    /// Never answer (within an hour).
    Hang,
    /// Answer 200 with a truncated JSON body that still contains a token.
    MalformedJson,
    /// Answer 200 with a token that is not a JWT.
    NotAJwt,
    /// Answer HTTP 429 with `Retry-After` set to this many seconds.
    Throttle(u64),
}

/// The fake endpoint. One per test binary through [`shared`](Self::shared).
pub struct FakeEntra {
    base: String,
    port: u16,
    app: App,
    az_dir: TempDir,
}

#[derive(Clone, Default)]
struct App {
    identities: Arc<Mutex<HashMap<String, Arc<IdentityState>>>>,
    issued: Arc<Mutex<Vec<String>>>,
}

impl FakeEntra {
    /// Starts an endpoint on a random loopback port. Sets no environment variables:
    /// pass [`env`](Self::env) to child processes.
    pub fn start() -> Self {
        let app = App::default();
        let router = Router::new()
            .route("/msi", get(msi))
            .route("/az/{tenant}", get(az_token))
            .with_state(app.clone());
        let listener = runtime::block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("test kit: bind the fake Entra endpoint");
        let port = listener.local_addr().expect("local addr").port();
        runtime::handle().spawn(async move { axum::serve(listener, router).await });
        let az_dir = tempfile::Builder::new()
            .prefix("entra-pg-fake-az-")
            .tempdir()
            .expect("test kit: temp dir for fake az");
        az::write_fake_az(az_dir.path(), port).expect("test kit: write fake az");
        Self {
            base: format!("http://127.0.0.1:{port}"),
            port,
            app,
            az_dir,
        }
    }

    /// The process-wide endpoint. On first use it sets `IDENTITY_ENDPOINT` and
    /// `IDENTITY_HEADER` (App Service managed identity) and puts the fake `az`
    /// first on `PATH`, so the real credentials find it.
    pub fn shared() -> &'static Self {
        static SHARED: OnceLock<FakeEntra> = OnceLock::new();
        SHARED.get_or_init(|| {
            let fake = Self::start();
            for (key, value) in fake.env() {
                std::env::set_var(key, value);
            }
            fake
        })
    }

    /// Environment for a process whose credentials should use this endpoint:
    /// `IDENTITY_ENDPOINT`, `IDENTITY_HEADER` and a `PATH` with the fake `az` first.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let path = std::env::var("PATH").unwrap_or_default();
        vec![
            ("IDENTITY_ENDPOINT", format!("{}/msi", self.base)),
            ("IDENTITY_HEADER", IDENTITY_HEADER.to_owned()),
            ("PATH", format!("{}:{path}", self.az_dir.path().display())),
        ]
    }

    /// The directory holding the fake `az`.
    pub fn az_dir(&self) -> &Path {
        self.az_dir.path()
    }

    /// The endpoint's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every token this endpoint has issued, to any identity.
    pub fn issued_tokens(&self) -> Vec<String> {
        lock(&self.app.issued).clone()
    }

    /// Starts describing a new identity (own client ID, tenant, claims, counters).
    pub fn identity(&self) -> IdentityBuilder<'_> {
        IdentityBuilder {
            fake: self,
            database_claims: Map::new(),
            management_claims: None,
            lifetime: DEFAULT_LIFETIME,
            logins: Vec::new(),
            clock: None,
        }
    }
}

/// Describes an [`Identity`]. By default it has no name claims at all.
#[must_use]
pub struct IdentityBuilder<'a> {
    fake: &'a FakeEntra,
    database_claims: Map<String, Value>,
    management_claims: Option<Map<String, Value>>,
    lifetime: Duration,
    logins: Vec<(ServerId, String)>,
    clock: Option<Arc<dyn Clock>>,
}

impl IdentityBuilder<'_> {
    /// Adds a claim to every token (database and management).
    pub fn claim(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.database_claims.insert(name.to_owned(), value.into());
        self
    }

    /// Shorthand for the `upn` claim.
    pub fn upn(self, upn: &str) -> Self {
        self.claim("upn", upn)
    }

    /// Adds a claim to management-scope tokens only; once called, management tokens
    /// carry only the claims given this way.
    pub fn management_claim(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.management_claims
            .get_or_insert_with(Map::new)
            .insert(name.to_owned(), value.into());
        self
    }

    /// Token lifetime (default [`DEFAULT_LIFETIME`]).
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// Issues tokens on `clock` (their `iat` and expiry), and has the servers of
    /// [`login_on`](Self::login_on) judge their expiry on it too: share it with
    /// the `EntraAuth` under test, and move it instead of waiting. Start it in the
    /// past (see [`crate::test_clock`]) so that `azure_identity`'s own cache, which
    /// uses the system clock, never keeps a token.
    pub fn clock(mut self, clock: ManualClock) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// Creates `role` on `server` (login, no password); from then on each database
    /// token issued to the identity is accepted by the server as a password of
    /// `role` until the token expires, older unexpired tokens included (as on Azure).
    pub fn login_on(mut self, server: &PgServer, role: &str) -> Self {
        server.create_login_role(role);
        self.logins.push((server.ldap_id(), role.to_owned()));
        self
    }

    /// Registers the identity with the endpoint.
    pub fn build(self) -> Identity {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let id = format!(
            "00000000-0000-4000-8000-{:012x}",
            u64::from(std::process::id()) << 24 | NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let state = Arc::new(IdentityState {
            config: Mutex::new(Config {
                management_claims: self
                    .management_claims
                    .unwrap_or_else(|| self.database_claims.clone()),
                database_claims: self.database_claims,
                lifetime: self.lifetime,
                fault: None,
                management_fault: None,
                logins: self.logins,
                clock: self.clock,
                accepted: true,
            }),
            counts: Mutex::default(),
            issued: Mutex::default(),
        });
        lock(&self.fake.app.identities).insert(id.clone(), Arc::clone(&state));
        Identity { id, state }
    }
}

/// A principal known to the fake endpoint. Tests use their own.
#[derive(Clone)]
pub struct Identity {
    id: String,
    state: Arc<IdentityState>,
}

struct IdentityState {
    config: Mutex<Config>,
    counts: Mutex<HashMap<Resource, u64>>,
    issued: Mutex<Vec<String>>,
}

struct Config {
    database_claims: Map<String, Value>,
    management_claims: Map<String, Value>,
    lifetime: Duration,
    fault: Option<Fault>,
    management_fault: Option<Fault>,
    logins: Vec<(ServerId, String)>,
    clock: Option<Arc<dyn Clock>>,
    /// Whether the servers accept newly issued tokens.
    accepted: bool,
}

impl Identity {
    /// The identity's client ID (also used as its tenant ID for the fake `az`).
    pub fn client_id(&self) -> &str {
        &self.id
    }

    /// The real `ManagedIdentityCredential` (App Service protocol) for this identity,
    /// with retries off so injected faults show at once. Needs [`FakeEntra::shared`].
    pub fn managed_identity_credential(&self) -> Arc<dyn TokenCredential> {
        let mut options = ManagedIdentityCredentialOptions {
            user_assigned_id: Some(UserAssignedId::ClientId(self.id.clone())),
            ..Default::default()
        };
        options.client_options.retry = azure_core::http::RetryOptions::none();
        ManagedIdentityCredential::new(Some(options)).expect("ManagedIdentityCredential")
    }

    /// The real `AzureCliCredential`, running the fake `az` for this identity.
    /// Needs [`FakeEntra::shared`].
    pub fn azure_cli_credential(&self) -> Arc<dyn TokenCredential> {
        AzureCliCredential::new(Some(AzureCliCredentialOptions {
            tenant_id: Some(self.id.clone()),
            ..Default::default()
        }))
        .expect("AzureCliCredential")
    }

    /// Injects a fault into every answer (`None` heals the endpoint).
    pub fn set_fault(&self, fault: Option<Fault>) {
        lock(&self.state.config).fault = fault;
    }

    /// Injects a fault into management-scope answers only.
    pub fn set_management_fault(&self, fault: Option<Fault>) {
        lock(&self.state.config).management_fault = fault;
    }

    /// Lifetime of tokens issued from now on.
    pub fn set_lifetime(&self, lifetime: Duration) {
        lock(&self.state.config).lifetime = lifetime;
    }

    /// Requests received for `resource`, failed ones included.
    pub fn requests(&self, resource: Resource) -> u64 {
        lock(&self.state.counts)
            .get(&resource)
            .copied()
            .unwrap_or(0)
    }

    /// Tokens issued to this identity, oldest first.
    pub fn issued_tokens(&self) -> Vec<String> {
        lock(&self.state.issued).clone()
    }

    /// The servers stop accepting every token issued so far, though none has
    /// expired (revocation, as when the principal's access is removed).
    pub fn revoke_tokens(&self) {
        let logins = lock(&self.state.config).logins.clone();
        for token in self.issued_tokens() {
            for (server, role) in &logins {
                server.revoke(role, &token);
            }
        }
    }

    /// Whether the servers accept tokens issued from now on (`false`: the role
    /// exists but this principal's tokens are refused, as with a misnamed role).
    pub fn set_accepted(&self, accepted: bool) {
        lock(&self.state.config).accepted = accepted;
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Clone, Copy)]
enum Protocol {
    AppService,
    AzureCli,
}

async fn msi(
    State(app): State<App>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if headers
        .get("x-identity-header")
        .and_then(|h| h.to_str().ok())
        != Some(IDENTITY_HEADER)
    {
        return (
            StatusCode::UNAUTHORIZED,
            "missing or wrong x-identity-header",
        )
            .into_response();
    }
    let id = query.get("client_id").cloned().unwrap_or_default();
    let resource = query.get("resource").cloned().unwrap_or_default();
    answer(&app, &id, &resource, Protocol::AppService).await
}

async fn az_token(
    State(app): State<App>,
    UrlPath(tenant): UrlPath<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let scope = query.get("scope").cloned().unwrap_or_default();
    let resource = scope.strip_suffix("/.default").unwrap_or(&scope).to_owned();
    answer(&app, &tenant, &resource, Protocol::AzureCli).await
}

async fn answer(app: &App, id: &str, resource: &str, protocol: Protocol) -> Response {
    let Some(identity) = lock(&app.identities).get(id).cloned() else {
        return (StatusCode::BAD_REQUEST, format!("unknown identity {id:?}")).into_response();
    };
    let kind = Resource::of(resource);
    *lock(&identity.counts).entry(kind).or_default() += 1;
    let (claims, lifetime, fault, logins, clock) = {
        let config = lock(&identity.config);
        let fault = match kind {
            Resource::Management => config.fault.clone().or(config.management_fault.clone()),
            _ => config.fault.clone(),
        };
        let claims = match kind {
            Resource::Management => config.management_claims.clone(),
            _ => config.database_claims.clone(),
        };
        let logins = if config.accepted {
            config.logins.clone()
        } else {
            Vec::new()
        };
        (claims, config.lifetime, fault, logins, config.clock.clone())
    };
    match &fault {
        Some(Fault::Status(code)) => {
            let status = StatusCode::from_u16(*code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let body = json!({"error": "injected_fault", "error_description": format!("test kit fault: HTTP {code}")});
            return (status, body.to_string()).into_response();
        }
        Some(Fault::Throttle(seconds)) => {
            let body = json!({"error": "throttled", "error_description": "test kit fault: too many requests"});
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", seconds.to_string())],
                body.to_string(),
            )
                .into_response();
        }
        Some(Fault::Delay(delay)) => tokio::time::sleep(*delay).await,
        Some(Fault::Hang) => tokio::time::sleep(Duration::from_secs(3600)).await,
        _ => {}
    }

    static SERIAL: AtomicU64 = AtomicU64::new(1);
    let serial = SERIAL.fetch_add(1, Ordering::Relaxed);
    let now = clock
        .as_ref()
        .map_or_else(OffsetDateTime::now_utc, |clock| clock.now());
    let expires_on = now + lifetime;
    let token = if matches!(fault, Some(Fault::NotAJwt)) {
        format!("not-a-jwt-{serial}-{}", now.unix_timestamp_nanos())
    } else {
        jwt::make_token(
            &token_claims(claims, id, resource, now, expires_on, serial),
            serial,
        )
    };
    lock(&identity.issued).push(token.clone());
    lock(&app.issued).push(token.clone());

    // Registered before the answer leaves: a client never holds a token the
    // server does not know yet.
    if kind == Resource::Database && !matches!(fault, Some(Fault::MalformedJson)) {
        for (server, role) in logins {
            server.accept(&role, &token, Some(expires_on), clock.clone());
        }
    }

    let exp = expires_on.unix_timestamp();
    let body = match protocol {
        Protocol::AppService => json!({
            "access_token": token, "expires_on": exp.to_string(),
            "token_type": "Bearer", "resource": resource,
        }),
        Protocol::AzureCli => json!({
            "accessToken": token, "expires_on": exp, "tokenType": "Bearer",
            "tenant": id, "subscription": "00000000-0000-0000-0000-000000000000",
        }),
    }
    .to_string();
    if matches!(fault, Some(Fault::MalformedJson)) {
        // Cut after the token: the parser fails, and the token must not leak into
        // the error the caller sees.
        let cut = body
            .find(&token)
            .map_or(body.len() / 2, |at| at + token.len() + 2);
        return (StatusCode::OK, body[..cut].to_owned()).into_response();
    }
    (StatusCode::OK, [("content-type", "application/json")], body).into_response()
}

fn token_claims(
    mut claims: Map<String, Value>,
    id: &str,
    resource: &str,
    now: OffsetDateTime,
    expires_on: OffsetDateTime,
    serial: u64,
) -> Map<String, Value> {
    let standard = json!({
        "aud": resource,
        "iss": "https://sts.windows.net/00000000-0000-0000-0000-000000000000/",
        "iat": now.unix_timestamp(),
        "nbf": now.unix_timestamp(),
        "exp": expires_on.unix_timestamp(),
        "appid": id,
        "oid": id,
        "tid": "00000000-0000-0000-0000-000000000000",
        "uti": format!("entra-pg-test-{serial}"),
        "ver": "1.0",
        // Real tokens carry many more claims; this keeps ours at a realistic size.
        "xms_tcdt": base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            jwt::pseudo_random_bytes(serial, 900),
        ),
    });
    if let Value::Object(standard) = standard {
        for (name, value) in standard {
            claims.entry(name).or_insert(value);
        }
    }
    claims
}
