//! Azure clouds and the token scopes each one uses.

/// Scope of Azure Database for PostgreSQL tokens in the public cloud.
pub const DATABASE_SCOPE: &str = "https://ossrdbms-aad.database.windows.net/.default";

/// Scope of Azure Resource Manager tokens in the public cloud, asked for only when
/// the database token does not name the user.
pub const MANAGEMENT_SCOPE: &str = "https://management.azure.com/.default";

/// An Azure cloud. Each has its own database and management token audiences and
/// its own server domain.
///
/// The credential must sign in to the same cloud (for client-secret and workload
/// credentials set its authority host, e.g. `AZURE_AUTHORITY_HOST`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Cloud {
    /// Azure public cloud (`*.postgres.database.azure.com`).
    #[default]
    Public,
    /// Azure US Government (`*.postgres.database.usgovcloudapi.net`).
    UsGovernment,
    /// Azure operated by 21Vianet in China (`*.postgres.database.chinacloudapi.cn`).
    China,
}

impl std::fmt::Display for Cloud {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Public => "Azure public cloud",
            Self::UsGovernment => "Azure US Government",
            Self::China => "Azure China (21Vianet)",
        })
    }
}

impl Cloud {
    /// The cloud a server host name belongs to, or `None` for hosts that are not
    /// Azure Database for PostgreSQL servers (local servers, IP addresses, custom DNS
    /// names). Case-insensitive; a trailing dot is ignored.
    #[must_use]
    pub fn from_host(host: &str) -> Option<Self> {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        [Self::Public, Self::UsGovernment, Self::China]
            .into_iter()
            .find(|cloud| {
                host.strip_suffix(cloud.server_domain())
                    .is_some_and(|name| name.len() > 1 && name.ends_with('.'))
            })
    }

    /// The token scope for Azure Database for PostgreSQL in this cloud.
    #[must_use]
    pub const fn database_scope(self) -> &'static str {
        match self {
            Self::Public => DATABASE_SCOPE,
            Self::UsGovernment => "https://ossrdbms-aad.database.usgovcloudapi.net/.default",
            Self::China => "https://ossrdbms-aad.database.chinacloudapi.cn/.default",
        }
    }

    /// The Azure Resource Manager token scope in this cloud.
    #[must_use]
    pub const fn management_scope(self) -> &'static str {
        match self {
            Self::Public => MANAGEMENT_SCOPE,
            Self::UsGovernment => "https://management.usgovcloudapi.net/.default",
            Self::China => "https://management.chinacloudapi.cn/.default",
        }
    }

    /// The domain of Azure Database for PostgreSQL servers in this cloud
    /// (`postgres.database.azure.com` …): the host policy's default.
    #[must_use]
    pub const fn server_domain(self) -> &'static str {
        match self {
            Self::Public => "postgres.database.azure.com",
            Self::UsGovernment => "postgres.database.usgovcloudapi.net",
            Self::China => "postgres.database.chinacloudapi.cn",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_host_recognises_each_cloud() {
        let cases = [
            ("myserver.postgres.database.azure.com", Some(Cloud::Public)),
            ("MyServer.Postgres.Database.Azure.COM.", Some(Cloud::Public)),
            (
                "srv.postgres.database.usgovcloudapi.net",
                Some(Cloud::UsGovernment),
            ),
            ("srv.postgres.database.chinacloudapi.cn", Some(Cloud::China)),
            ("postgres.database.azure.com", None),
            (".postgres.database.azure.com", None),
            ("evilpostgres.database.azure.com", None),
            ("srv.postgres.database.azure.com.evil.example", None),
            ("localhost", None),
            ("127.0.0.1", None),
            ("", None),
        ];
        for (host, want) in cases {
            assert_eq!(Cloud::from_host(host), want, "{host}");
        }
    }

    #[test]
    fn scopes_per_cloud() {
        assert_eq!(Cloud::default().database_scope(), DATABASE_SCOPE);
        assert_eq!(Cloud::Public.management_scope(), MANAGEMENT_SCOPE);
        assert_eq!(
            Cloud::UsGovernment.database_scope(),
            "https://ossrdbms-aad.database.usgovcloudapi.net/.default"
        );
        assert_eq!(
            Cloud::China.database_scope(),
            "https://ossrdbms-aad.database.chinacloudapi.cn/.default"
        );
        for cloud in [Cloud::Public, Cloud::UsGovernment, Cloud::China] {
            assert!(cloud.database_scope().ends_with("/.default"));
            assert!(cloud.management_scope().ends_with("/.default"));
        }
    }
}
