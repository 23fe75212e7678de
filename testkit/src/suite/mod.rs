//! The shared driver suite: the security contract and the token lifecycle, proven
//! once for every driver path.
//!
//! A driver crate's tests implement [`Driver`] for each of its paths (a direct
//! connection, a pool) and instantiate the suite with [`driver_suite!`](crate::driver_suite):
//!
//! ```text
//! entra_pg_testkit::driver_suite!(tokio_direct, crate::drivers::TokioDirect);
//! ```
//!
//! Every scenario builds its own identity, `EntraAuth` and servers, asks the
//! driver for a [`Session`] (a connector, or a pool around one) and checks what
//! arrived where: the real PostgreSQL server judges tokens, the
//! [`HostileServer`](crate::HostileServer) counts passwords that must never
//! arrive.

pub mod scenarios;

use std::{error::Error as StdError, fmt::Write as _, future::Future, pin::Pin};

use entra_pg_core::{ConnectError, ConnectFailure, EntraAuth, LastFailure};

/// A boxed future, as the [`Driver`] and [`Session`] methods return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One driver path under test (tokio-postgres direct, bb8, sqlx pool …).
pub trait Driver: Send + Sync + 'static {
    /// The path's name, for messages.
    fn name(&self) -> &'static str;

    /// Whether `sslmode=require` verifies the chain and host name on this path
    /// (the rustls paths), so the contract accepts it.
    fn require_verifies(&self) -> bool;

    /// Whether the path's settings take `hostaddr` (sqlx's do not).
    fn takes_hostaddr(&self) -> bool {
        true
    }

    /// Builds the path for `case`: its connector, and the pool around it if any.
    /// A connector the contract refuses is a [`Failure`].
    fn open(&self, case: Case) -> BoxFuture<'static, Result<Box<dyn Session>, Failure>>;
}

/// An open driver path: connects, and keeps every connection it made open until
/// dropped (so each [`connect`](Self::connect) of a pool opens a new physical
/// connection).
pub trait Session: Send + Sync {
    /// Opens one new physical connection and returns `current_user`.
    fn connect(&self) -> BoxFuture<'_, Result<String, Failure>>;

    /// The `Debug` text of the connector or pool (checked for tokens).
    fn describe(&self) -> String;

    /// Waits until tokens the cache got are in use by the path (the sqlx pool
    /// refresher installs them in the pool's options); immediate elsewhere.
    fn settle(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

/// What a scenario asks a driver path to connect with.
#[derive(Debug, Clone)]
pub struct Case {
    /// The shared Entra login.
    pub auth: EntraAuth,
    /// The connection settings.
    pub settings: Settings,
    /// A root CA to add with the builder's `root_cert_pem`.
    pub root_pem: Option<String>,
    /// The builder's `danger_allow_insecure_transport`.
    pub insecure: bool,
}

/// Connection settings, rendered in each driver's own form.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// `host` (comma-separated for several).
    pub host: Option<String>,
    /// `hostaddr` (comma-separated for several).
    pub hostaddr: Option<String>,
    /// `port`.
    pub port: Option<u16>,
    /// `dbname`.
    pub dbname: Option<String>,
    /// `sslmode` as libpq names it.
    pub sslmode: Option<String>,
    /// `user`.
    pub user: Option<String>,
    /// `password`.
    pub password: Option<String>,
}

impl Settings {
    /// `host=… port=…` in libpq's `key=value` form (quoted values), which
    /// tokio-postgres reads too.
    pub fn key_value(&self) -> String {
        let mut out = String::new();
        for (key, value) in self.pairs() {
            let quoted = value.replace('\\', "\\\\").replace('\'', "\\'");
            let _ = write!(out, "{key}='{quoted}' ");
        }
        out.trim_end().to_owned()
    }

    /// A `postgres://` URL: user and password in the authority, the rest in the
    /// query, every value percent-encoded.
    pub fn url(&self) -> String {
        use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
        let encode = |value: &str| utf8_percent_encode(value, NON_ALPHANUMERIC).to_string();
        let mut url = String::from("postgres://");
        if let Some(user) = &self.user {
            url.push_str(&encode(user));
            if let Some(password) = &self.password {
                url.push(':');
                url.push_str(&encode(password));
            }
            url.push('@');
        }
        let socket = self
            .host
            .as_deref()
            .is_some_and(|host| host.starts_with('/'));
        if let Some(host) = self.host.as_deref().filter(|_| !socket) {
            let hosts: Vec<String> = host
                .split(',')
                .map(|host| match self.port {
                    Some(port) => format!("{host}:{port}"),
                    None => host.to_owned(),
                })
                .collect();
            url.push_str(&hosts.join(","));
        }
        url.push('/');
        url.push_str(&encode(self.dbname.as_deref().unwrap_or("postgres")));
        let mut query = Vec::new();
        if socket {
            query.push(format!(
                "host={}",
                encode(self.host.as_deref().unwrap_or_default())
            ));
            if let Some(port) = self.port {
                query.push(format!("port={port}"));
            }
        }
        if let Some(hostaddr) = &self.hostaddr {
            query.push(format!("hostaddr={}", encode(hostaddr)));
        }
        if let Some(mode) = &self.sslmode {
            query.push(format!("sslmode={}", encode(mode)));
        }
        if !query.is_empty() {
            url.push('?');
            url.push_str(&query.join("&"));
        }
        url
    }

    fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        let mut push = |key, value: &Option<String>| {
            if let Some(value) = value {
                pairs.push((key, value.clone()));
            }
        };
        push("host", &self.host);
        push("hostaddr", &self.hostaddr);
        push("port", &self.port.map(|port| port.to_string()));
        push("dbname", &self.dbname);
        push("sslmode", &self.sslmode);
        push("user", &self.user);
        push("password", &self.password);
        pairs
    }
}

/// A failed connect, as every driver path reports it: the one `kind()`
/// vocabulary, the messages and the `Debug` text.
#[derive(Debug, Clone)]
pub struct Failure {
    /// [`ConnectError::kind`](entra_pg_core::ConnectError::kind).
    pub kind: String,
    /// `Display`.
    pub message: String,
    /// `Display` and every source.
    pub chain: String,
    /// `Debug`.
    pub debug: String,
}

impl Failure {
    /// From a connector's typed error.
    pub fn of<E: StdError + 'static>(err: &ConnectError<E>) -> Self {
        Self {
            kind: err.kind().to_owned(),
            message: err.to_string(),
            chain: entra_pg_core::error_chain(err),
            debug: format!("{err:?}"),
        }
    }

    /// From the snapshot a connector kept (for pools whose own error says less).
    pub fn from_snapshot(failure: &ConnectFailure) -> Self {
        Self {
            kind: failure.kind.to_owned(),
            message: failure.message.clone(),
            chain: failure.chain.clone(),
            debug: format!("{failure:?}"),
        }
    }

    /// A pool's own error that carries no typed cause (`kind` is `pool`).
    pub fn pool(err: &dyn std::fmt::Display) -> Self {
        Self {
            kind: "pool".to_owned(),
            message: err.to_string(),
            chain: err.to_string(),
            debug: err.to_string(),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}] {}", self.kind, self.chain)
    }
}

/// Runs a pool's `get`, but returns the connector's typed failure as soon as it
/// records one (bb8, r2d2 and diesel-async pools only report a timeout). `get`'s
/// own error becomes a [`Failure::pool`] unless a typed one was recorded.
pub async fn pool_get<T, E: std::fmt::Display>(
    get: impl Future<Output = Result<T, E>>,
    failures: &LastFailure,
) -> Result<T, Failure> {
    let seen = failures.count();
    let next = failures.next_after(seen);
    futures::pin_mut!(get, next);
    match futures::future::select(get, next).await {
        futures::future::Either::Left((Ok(value), _)) => Ok(value),
        futures::future::Either::Left((Err(err), _)) => Err(match failures.get() {
            Some(failure) if failures.count() > seen => Failure::from_snapshot(&failure),
            _ => Failure::pool(&err),
        }),
        futures::future::Either::Right((failure, _)) => Err(Failure::from_snapshot(&failure)),
    }
}

/// Runs one scenario on a fresh multi-thread Tokio runtime (the driver paths spawn
/// connection tasks and blocking work on it).
pub fn run<F: Future<Output = ()>>(scenario: F) {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("test kit: scenario runtime")
        .block_on(scenario);
}

/// Instantiates every scenario of the shared suite for one driver path, as a
/// module of tests named `$name`:
///
/// ```text
/// entra_pg_testkit::driver_suite!(sqlx_pool, crate::drivers::SqlxPool);
/// ```
///
/// `$driver` is an expression of a type implementing [`Driver`].
#[macro_export]
macro_rules! driver_suite {
    ($name:ident, $driver:expr) => {
        mod $name {
            #[allow(
                unused_imports,
                reason = "the driver expression may name items of the parent"
            )]
            use super::*;

            macro_rules! scenario {
                ($scenario:ident) => {
                    #[test]
                    fn $scenario() {
                        $crate::suite::run($crate::suite::scenarios::$scenario(&$driver));
                    }
                };
            }

            scenario!(listeners_by_sslmode);
            scenario!(host_policy);
            scenario!(several_hosts);
            scenario!(unix_socket_on_a_real_server);
            scenario!(static_login);
            scenario!(redaction);
            scenario!(principals);
            scenario!(rotation);
            scenario!(outage);
            scenario!(rejection_recovery);
            scenario!(rejection_with_the_credential_cache);

            /// Runs [`hostile_environment_child`] once per hostile `PG*` variable,
            /// each in its own process (the environment is process-wide).
            #[test]
            fn hostile_environment() {
                let path = module_path!();
                let test = path.split_once("::").map_or(path, |(_, rest)| rest);
                $crate::suite::scenarios::hostile_environment_parent(&format!(
                    "{test}::hostile_environment_child"
                ));
            }

            /// One hostile environment (the clean one when run on its own).
            #[test]
            fn hostile_environment_child() {
                $crate::suite::run($crate::suite::scenarios::hostile_environment_child(
                    &$driver,
                ));
            }
        }
    };
}
