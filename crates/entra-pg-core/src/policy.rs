//! The host policy: which hosts may receive an Entra token.
//!
//! The database audience is one value per cloud, shared by every Azure Database
//! for PostgreSQL (and MySQL) server, so a token handed to any server works on
//! every server where the principal has a role. Tokens therefore go only to host
//! names under the Azure Database for PostgreSQL domain of the configured cloud,
//! plus the hosts the application allows explicitly.

use crate::{Cloud, Error};

/// Which hosts get a token. Built once by the [`EntraAuthBuilder`](crate::EntraAuthBuilder).
#[derive(Debug, Clone)]
pub(crate) struct HostPolicy {
    cloud: Cloud,
    allowed: Vec<Pattern>,
    any: bool,
}

/// A host pattern given to `allow_host`, normalised: lower case, no trailing dot.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    /// An exact host name, IP address or socket path.
    Exact(String),
    /// `*.suffix`: any host name one or more labels under `suffix`.
    Under(String),
}

impl HostPolicy {
    pub(crate) fn new(cloud: Cloud, patterns: &[String], any: bool) -> Result<Self, Error> {
        let allowed = patterns
            .iter()
            .map(|pattern| parse_pattern(pattern))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            cloud,
            allowed,
            any,
        })
    }

    /// Whether a token may go to `host` (a host name the certificate is checked
    /// against, an IP address, or a Unix-socket path). Allocation-free.
    pub(crate) fn permits(&self, host: &str) -> bool {
        if self.any {
            return true;
        }
        // A DNS name may end in the root's dot; a socket directory is compared as is.
        let host = if is_path(host) {
            host
        } else {
            host.strip_suffix('.').unwrap_or(host)
        };
        if host.is_empty() {
            return false;
        }
        is_under(host, self.cloud.server_domain())
            || self.allowed.iter().any(|pattern| match pattern {
                Pattern::Exact(exact) if is_path(exact) => host == exact,
                Pattern::Exact(exact) => host.eq_ignore_ascii_case(exact),
                Pattern::Under(suffix) => is_under(host, suffix),
            })
    }

    /// The refusal for `host`, naming both ways to allow it.
    pub(crate) fn refusal(&self, host: &str, origin: Option<&str>) -> Error {
        Error::HostNotAllowed {
            host: host.to_owned(),
            domain: self.cloud.server_domain(),
            origin: origin.map(str::to_owned),
        }
    }

    pub(crate) fn describe(&self) -> String {
        if self.any {
            return "any host (danger_allow_any_host)".to_owned();
        }
        let mut parts = vec![format!("*.{}", self.cloud.server_domain())];
        parts.extend(self.allowed.iter().map(|pattern| match pattern {
            Pattern::Exact(exact) => exact.clone(),
            Pattern::Under(suffix) => format!("*.{suffix}"),
        }));
        parts.join(", ")
    }
}

fn is_path(pattern: &str) -> bool {
    pattern.starts_with('/') || pattern.starts_with('@')
}

/// Whether `host` is one or more valid DNS labels followed by `.suffix`,
/// compared case-insensitively on a label boundary.
fn is_under(host: &str, suffix: &str) -> bool {
    let (host, suffix) = (host.as_bytes(), suffix.as_bytes());
    let Some(prefix_len) = host.len().checked_sub(suffix.len() + 1) else {
        return false;
    };
    let (prefix, rest) = host.split_at(prefix_len);
    rest[0] == b'.' && rest[1..].eq_ignore_ascii_case(suffix) && are_labels(prefix)
}

/// Non-empty labels of letters, digits, `-` and `_`, joined by dots.
fn are_labels(name: &[u8]) -> bool {
    !name.is_empty()
        && name.split(|&byte| byte == b'.').all(|label| {
            !label.is_empty()
                && label
                    .iter()
                    .all(|&byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
        })
}

fn parse_pattern(pattern: &str) -> Result<Pattern, Error> {
    let invalid = |why: &str| Error::InvalidConfig {
        reason: format!(
            "allow_host({pattern:?}): {why}; give an exact host name (myserver.example.com), \
             an IP address, a Unix-socket path, or `*.` and a domain (*.db.example.com)"
        ),
    };
    let trimmed = pattern.trim();
    if trimmed != pattern || trimmed.is_empty() {
        return Err(invalid("empty, or with spaces around it"));
    }
    if is_path(trimmed) {
        return Ok(Pattern::Exact(trimmed.to_owned()));
    }
    let normalized = trimmed
        .strip_suffix('.')
        .unwrap_or(trimmed)
        .to_ascii_lowercase();
    if let Some(suffix) = normalized.strip_prefix("*.") {
        if !are_labels(suffix.as_bytes()) {
            return Err(invalid("the domain after `*.` is not a host name"));
        }
        if !suffix.contains('.') {
            return Err(invalid(
                "`*.` must be followed by a domain with at least two labels",
            ));
        }
        return Ok(Pattern::Under(suffix.to_owned()));
    }
    if normalized.contains('*') {
        return Err(invalid(
            "`*` is allowed only as the first label (`*.domain`)",
        ));
    }
    let is_ip = normalized.parse::<std::net::IpAddr>().is_ok();
    if !is_ip && !are_labels(normalized.as_bytes()) {
        return Err(invalid("not a host name"));
    }
    Ok(Pattern::Exact(normalized))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(patterns: &[&str]) -> HostPolicy {
        let patterns: Vec<String> = patterns.iter().map(|p| (*p).to_owned()).collect();
        HostPolicy::new(Cloud::Public, &patterns, false).unwrap()
    }

    #[test]
    fn the_default_allows_only_server_names_of_the_cloud() {
        let default = policy(&[]);
        for host in [
            "myserver.postgres.database.azure.com",
            "MyServer.Postgres.Database.Azure.COM.",
            "a-b_c.postgres.database.azure.com",
            "replica.myserver.postgres.database.azure.com",
        ] {
            assert!(default.permits(host), "{host}");
        }
        for host in [
            "postgres.database.azure.com",
            ".postgres.database.azure.com",
            "..postgres.database.azure.com",
            "a..postgres.database.azure.com",
            "xpostgres.database.azure.com",
            "x.postgres.database.azure.com.evil.example",
            "x.postgres.database.azure.com..",
            "evil.example/x.postgres.database.azure.com",
            "evil example.postgres.database.azure.com",
            "ünï.postgres.database.azure.com",
            "srv.postgres.database.usgovcloudapi.net",
            "localhost",
            "127.0.0.1",
            "::1",
            "/tmp",
            "",
            ".",
        ] {
            assert!(!default.permits(host), "{host}");
        }
        let china = HostPolicy::new(Cloud::China, &[], false).unwrap();
        assert!(china.permits("srv.postgres.database.chinacloudapi.cn"));
        assert!(!china.permits("srv.postgres.database.azure.com"));
    }

    #[test]
    fn allowed_hosts_and_patterns() {
        let allowed = policy(&[
            "localhost",
            "*.db.example.com",
            "10.0.0.5",
            "/run/pg",
            "Db.Corp.",
        ]);
        for host in [
            "localhost",
            "LOCALHOST.",
            "a.db.example.com",
            "a.b.db.example.com",
            "10.0.0.5",
            "/run/pg",
            "db.corp",
        ] {
            assert!(allowed.permits(host), "{host}");
        }
        for host in [
            "db.example.com",
            "adb.example.com",
            "a.db.example.com.evil",
            "10.0.0.6",
            "/run/PG",
            "/run/pg/x",
            "/run/pg.",
            "localhost.evil",
        ] {
            assert!(!allowed.permits(host), "{host}");
        }
        assert!(
            HostPolicy::new(Cloud::Public, &[], true)
                .unwrap()
                .permits("anything")
        );
    }

    #[test]
    fn bad_patterns_are_config_errors() {
        for bad in [
            "",
            " localhost",
            "*",
            "*.",
            "*.com",
            "a.*.com",
            "**.x.com",
            "bad host",
            "*.a..b",
        ] {
            let err = HostPolicy::new(Cloud::Public, &[bad.to_owned()], false).unwrap_err();
            assert!(matches!(err, Error::InvalidConfig { .. }), "{bad}: {err}");
            assert!(err.to_string().contains("allow_host"), "{err}");
        }
    }
}
