//! A deterministic choice of `azure_identity` credential from the environment.
//!
//! `azure_identity` 1.x has no `DefaultAzureCredential`. [`credential_from_env`]
//! picks exactly one credential by these rules, first match wins:
//!
//! | environment | credential |
//! |---|---|
//! | `AZURE_TOKEN_CREDENTIALS` set | the one it names (see below) |
//! | `AZURE_FEDERATED_TOKEN_FILE` | `WorkloadIdentityCredential` (also reads `AZURE_CLIENT_ID`, `AZURE_TENANT_ID`) |
//! | `AZURE_CLIENT_SECRET` + `AZURE_CLIENT_ID` + `AZURE_TENANT_ID` | `ClientSecretCredential` |
//! | `IDENTITY_ENDPOINT` | `ManagedIdentityCredential` (user-assigned when `AZURE_CLIENT_ID` is set) |
//! | otherwise | `DeveloperToolsCredential` (Azure CLI, then Azure Developer CLI) |
//!
//! `AZURE_TOKEN_CREDENTIALS` accepts (case-insensitive) `dev` (developer tools),
//! `prod` (workload identity, client secret or managed identity by the rules above,
//! managed identity through IMDS when none is configured), or a credential name:
//! `WorkloadIdentityCredential`, `ClientSecretCredential` (alias
//! `EnvironmentCredential`), `ManagedIdentityCredential`, `AzureCliCredential`,
//! `AzureDeveloperCliCredential`, `DeveloperToolsCredential`.
//!
//! The HTTP credentials are built with bounded retries (3 retries within 5
//! seconds, instead of the SDK's 8 within a minute), so a failing identity
//! endpoint is reported with its HTTP status well within the default fetch
//! timeout instead of as a bare timeout.

use std::sync::Arc;

use azure_core::{
    credentials::{Secret, TokenCredential},
    http::{ClientOptions, ExponentialRetryOptions, RetryOptions},
};
use azure_identity::{
    AzureCliCredential, AzureDeveloperCliCredential, ClientAssertionCredentialOptions,
    ClientSecretCredential, ClientSecretCredentialOptions, DeveloperToolsCredential,
    ManagedIdentityCredential, ManagedIdentityCredentialOptions, UserAssignedId,
    WorkloadIdentityCredential, WorkloadIdentityCredentialOptions,
};

/// The client options of the HTTP credentials: at most 3 retries within 5 s.
fn client_options() -> ClientOptions {
    ClientOptions {
        retry: RetryOptions::exponential(ExponentialRetryOptions {
            initial_delay: time::Duration::milliseconds(200),
            max_retries: 3,
            max_total_elapsed: time::Duration::seconds(5),
            max_delay: time::Duration::seconds(2),
        }),
        ..ClientOptions::default()
    }
}

use crate::Error;

/// Which credential [`credential_from_env`] uses. See the module rules above.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CredentialSource {
    /// `WorkloadIdentityCredential` (Kubernetes workload identity, federated token file).
    WorkloadIdentity,
    /// `ClientSecretCredential` from `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET`.
    ClientSecret,
    /// `ManagedIdentityCredential`, user-assigned when a client ID is given.
    ManagedIdentity {
        /// Client ID of a user-assigned identity (`AZURE_CLIENT_ID`), or `None` for
        /// the system-assigned identity.
        client_id: Option<String>,
    },
    /// `AzureCliCredential` (`az login`).
    AzureCli,
    /// `AzureDeveloperCliCredential` (`azd auth login`).
    AzureDeveloperCli,
    /// `DeveloperToolsCredential`: Azure CLI, then Azure Developer CLI.
    DeveloperTools,
}

impl std::fmt::Display for CredentialSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::WorkloadIdentity => f.write_str("WorkloadIdentityCredential"),
            Self::ClientSecret => f.write_str("ClientSecretCredential"),
            Self::ManagedIdentity {
                client_id: Some(id),
            } => write!(
                f,
                "ManagedIdentityCredential (user-assigned, client id {id})"
            ),
            Self::ManagedIdentity { client_id: None } => {
                f.write_str("ManagedIdentityCredential (system-assigned)")
            }
            Self::AzureCli => f.write_str("AzureCliCredential"),
            Self::AzureDeveloperCli => f.write_str("AzureDeveloperCliCredential"),
            Self::DeveloperTools => f.write_str("DeveloperToolsCredential (Azure CLI, then azd)"),
        }
    }
}

const NAMES: &str = "dev, prod, WorkloadIdentityCredential, ClientSecretCredential, \
                     EnvironmentCredential, ManagedIdentityCredential, AzureCliCredential, \
                     AzureDeveloperCliCredential, DeveloperToolsCredential";

impl CredentialSource {
    /// Applies the rules to the process environment.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] when `AZURE_TOKEN_CREDENTIALS` names no known
    /// credential, or names one whose settings are missing.
    pub fn from_env() -> Result<Self, Error> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`from_env`](Self::from_env), and which rule chose it (for diagnostics:
    /// `"AZURE_TOKEN_CREDENTIALS=prod"`, `"IDENTITY_ENDPOINT is set"` …).
    ///
    /// # Errors
    /// As [`from_env`](Self::from_env).
    pub fn from_env_with_reason() -> Result<(Self, String), Error> {
        Self::choose(|name| std::env::var(name).ok())
    }

    /// The rules applied to any variable lookup (a tool's own flag standing in
    /// for `AZURE_TOKEN_CREDENTIALS`, say), and which rule chose the credential.
    /// Empty values count as unset.
    ///
    /// # Errors
    /// As [`from_env`](Self::from_env).
    pub fn choose(lookup: impl Fn(&str) -> Option<String>) -> Result<(Self, String), Error> {
        let lookup = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let source = Self::from_lookup(lookup)?;
        let reason = if let Some(named) = lookup("AZURE_TOKEN_CREDENTIALS") {
            format!("AZURE_TOKEN_CREDENTIALS={named}")
        } else {
            match &source {
                Self::WorkloadIdentity => "AZURE_FEDERATED_TOKEN_FILE is set".to_owned(),
                Self::ClientSecret => {
                    "AZURE_CLIENT_SECRET, AZURE_CLIENT_ID and AZURE_TENANT_ID are set".to_owned()
                }
                Self::ManagedIdentity { .. } => "IDENTITY_ENDPOINT is set".to_owned(),
                _ => "no service credential is configured in the environment (developer tools)"
                    .to_owned(),
            }
        };
        Ok((source, reason))
    }

    /// Applies the rules to any variable lookup (empty values count as unset).
    pub(crate) fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let var = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let has = |name: &str| var(name).is_some();
        let client_secret =
            has("AZURE_CLIENT_SECRET") && has("AZURE_CLIENT_ID") && has("AZURE_TENANT_ID");
        let managed = || Self::ManagedIdentity {
            client_id: var("AZURE_CLIENT_ID"),
        };
        let production = || {
            if has("AZURE_FEDERATED_TOKEN_FILE") {
                Self::WorkloadIdentity
            } else if client_secret {
                Self::ClientSecret
            } else {
                managed()
            }
        };
        let Some(named) = var("AZURE_TOKEN_CREDENTIALS") else {
            return Ok(
                if has("AZURE_FEDERATED_TOKEN_FILE") || client_secret || has("IDENTITY_ENDPOINT") {
                    production()
                } else {
                    Self::DeveloperTools
                },
            );
        };
        let source = match named.trim().to_ascii_lowercase().as_str() {
            "dev" | "developertoolscredential" => Self::DeveloperTools,
            "prod" => production(),
            "workloadidentitycredential" => Self::WorkloadIdentity,
            "clientsecretcredential" | "environmentcredential" => Self::ClientSecret,
            "managedidentitycredential" => managed(),
            "azureclicredential" => Self::AzureCli,
            "azuredeveloperclicredential" => Self::AzureDeveloperCli,
            _ => {
                return Err(Error::InvalidConfig {
                    reason: format!(
                        "AZURE_TOKEN_CREDENTIALS={named:?} names no credential; use one of {NAMES}"
                    ),
                });
            }
        };
        if source == Self::ClientSecret && !client_secret {
            return Err(Error::InvalidConfig {
                reason: "AZURE_TOKEN_CREDENTIALS asks for ClientSecretCredential; set \
                         AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET"
                    .to_owned(),
            });
        }
        Ok(source)
    }

    /// Constructs the credential. No token is requested yet.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] when the credential rejects its settings (for
    /// example a missing `AZURE_TENANT_ID` for workload identity).
    pub fn build(&self) -> Result<Arc<dyn TokenCredential>, Error> {
        let invalid = |err: azure_core::Error| Error::InvalidConfig {
            reason: format!("cannot set up {self:?} from the environment: {err}"),
        };
        let required = |name: &str| {
            std::env::var(name).map_err(|_| Error::InvalidConfig {
                reason: format!("{self:?} needs the environment variable {name}"),
            })
        };
        Ok(match self {
            Self::WorkloadIdentity => {
                WorkloadIdentityCredential::new(Some(WorkloadIdentityCredentialOptions {
                    credential_options: ClientAssertionCredentialOptions {
                        client_options: client_options(),
                    },
                    ..Default::default()
                }))
                .map_err(invalid)?
            }
            Self::ClientSecret => ClientSecretCredential::new(
                &required("AZURE_TENANT_ID")?,
                required("AZURE_CLIENT_ID")?,
                Secret::new(required("AZURE_CLIENT_SECRET")?),
                Some(ClientSecretCredentialOptions {
                    client_options: client_options(),
                }),
            )
            .map_err(invalid)?,
            Self::ManagedIdentity { client_id } => {
                ManagedIdentityCredential::new(Some(ManagedIdentityCredentialOptions {
                    user_assigned_id: client_id.clone().map(UserAssignedId::ClientId),
                    client_options: client_options(),
                }))
                .map_err(invalid)?
            }
            Self::AzureCli => AzureCliCredential::new(None).map_err(invalid)?,
            Self::AzureDeveloperCli => AzureDeveloperCliCredential::new(None).map_err(invalid)?,
            Self::DeveloperTools => DeveloperToolsCredential::new(None).map_err(invalid)?,
        })
    }
}

/// The credential chosen from the environment by the rules of [`CredentialSource`]:
/// one credential, picked deterministically, never a chain that tries several.
///
/// # Errors
/// [`Error::InvalidConfig`] when the environment names an unknown credential or the
/// chosen credential's settings are incomplete.
pub fn credential_from_env() -> Result<Arc<dyn TokenCredential>, Error> {
    CredentialSource::from_env()?.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choose(vars: &[(&str, &str)]) -> Result<CredentialSource, Error> {
        CredentialSource::from_lookup(|name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        })
    }

    const SECRET: [(&str, &str); 3] = [
        ("AZURE_CLIENT_SECRET", "s"),
        ("AZURE_CLIENT_ID", "c"),
        ("AZURE_TENANT_ID", "t"),
    ];

    #[test]
    fn defaults_follow_the_documented_order() {
        use CredentialSource::*;
        assert_eq!(choose(&[]).unwrap(), DeveloperTools);
        assert_eq!(
            choose(&[("IDENTITY_ENDPOINT", "http://x")]).unwrap(),
            ManagedIdentity { client_id: None }
        );
        assert_eq!(
            choose(&[("IDENTITY_ENDPOINT", "http://x"), ("AZURE_CLIENT_ID", "c")]).unwrap(),
            ManagedIdentity {
                client_id: Some("c".into())
            }
        );
        let mut vars = SECRET.to_vec();
        vars.push(("IDENTITY_ENDPOINT", "http://x"));
        assert_eq!(choose(&vars).unwrap(), ClientSecret);
        vars.push(("AZURE_FEDERATED_TOKEN_FILE", "/token"));
        assert_eq!(choose(&vars).unwrap(), WorkloadIdentity);
        // Incomplete client-secret settings do not count.
        assert_eq!(choose(&SECRET[..2]).unwrap(), DeveloperTools);
        // Empty values count as unset.
        assert_eq!(
            choose(&[("IDENTITY_ENDPOINT", "")]).unwrap(),
            DeveloperTools
        );
    }

    #[test]
    fn azure_token_credentials_names_one() {
        use CredentialSource::*;
        let with = |value: &'static str, extra: &[(&'static str, &'static str)]| {
            let mut vars = vec![("AZURE_TOKEN_CREDENTIALS", value)];
            vars.extend_from_slice(extra);
            choose(&vars)
        };
        assert_eq!(with("dev", &SECRET).unwrap(), DeveloperTools);
        assert_eq!(with("AzureCliCredential", &SECRET).unwrap(), AzureCli);
        assert_eq!(
            with("azuredeveloperclicredential", &[]).unwrap(),
            AzureDeveloperCli
        );
        assert_eq!(
            with("ManagedIdentityCredential", &[]).unwrap(),
            ManagedIdentity { client_id: None }
        );
        assert_eq!(
            with("prod", &[]).unwrap(),
            ManagedIdentity { client_id: None }
        );
        assert_eq!(with("prod", &SECRET).unwrap(), ClientSecret);
        assert_eq!(
            with("EnvironmentCredential", &SECRET).unwrap(),
            ClientSecret
        );
        assert_eq!(
            with("WorkloadIdentityCredential", &[]).unwrap(),
            WorkloadIdentity
        );
        let err = with("ClientSecretCredential", &[]).unwrap_err();
        assert!(err.to_string().contains("AZURE_CLIENT_SECRET"), "{err}");
        let err = with("DefaultAzureCredential", &[]).unwrap_err();
        assert!(matches!(err, Error::InvalidConfig { .. }));
        assert!(
            err.to_string().contains("ManagedIdentityCredential"),
            "{err}"
        );
    }
}
