//! Shared by the `conninfo` and `diesel_conninfo` targets (included with
//! `#[path]`): a credential handing out one fixed token, the login and host policy
//! an input asks for, an independent reading of the host policy's rules, and the
//! check that the token shows in no text unless the settings or the user spell it.

#![allow(dead_code)]

use std::sync::Arc;

use arbitrary::Arbitrary;
use base64::Engine as _;
use entra_pg_core::{
    EntraAuth, EntraAuthBuilder, Error,
    azure_core::{
        self,
        credentials::{AccessToken, Secret, TokenCredential, TokenRequestOptions},
    },
    clock::{Jitter, ManualClock},
};

/// Hands out one fixed token for any scope, expiring an hour after [`start`].
pub struct FixedToken(pub String);

impl std::fmt::Debug for FixedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FixedToken")
    }
}

#[async_trait::async_trait]
impl TokenCredential for FixedToken {
    async fn get_token(
        &self,
        _scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        Ok(AccessToken::new(
            Secret::new(self.0.clone()),
            start() + time::Duration::hours(1),
        ))
    }
}

/// A fixed "now" (and no jitter), so that `Debug` output (expiry and refresh
/// times) is the same for the real token and the control token.
pub fn start() -> time::OffsetDateTime {
    time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000)
}

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Percent-encodes every byte but the URL-unreserved ones.
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for &b in value.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A string no longer than `text` and different from it at every position:
/// `text` is not in it (unless empty).
pub fn other_than(text: &str) -> String {
    text.chars()
        .map(|c| if c == 'x' { 'y' } else { 'x' })
        .collect()
}

/// The host policy of the `EntraAuth`.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// The default: `*.postgres.database.azure.com` only.
    Default,
    /// The default and [`ALLOWED`].
    Allowed,
    /// `danger_allow_any_host(true)`.
    AnyHost,
}

/// The `allow_host` patterns of [`Policy::Allowed`].
pub const ALLOWED: [&str; 4] = ["db.example.com", "*.corp.example.com", "::1", "/run/pg"];

/// The server domain of the public cloud (the default).
pub const AZURE_DOMAIN: &str = "postgres.database.azure.com";

impl Policy {
    fn apply(self, mut builder: EntraAuthBuilder) -> EntraAuthBuilder {
        match self {
            Self::Default => builder,
            Self::Allowed => {
                for pattern in ALLOWED {
                    builder = builder.allow_host(pattern);
                }
                builder
            }
            Self::AnyHost => builder.danger_allow_any_host(true),
        }
    }

    /// The policy's rules, written out independently of the crate: a host name
    /// (one trailing dot ignored, compared case-insensitively) is allowed when it
    /// is one or more DNS labels (letters, digits, `-`, `_`) under the cloud's
    /// server domain, or matches an allowed pattern; a socket path (`/…`, `@…`)
    /// only when it is exactly an allowed path.
    pub fn permits(self, host: &str) -> bool {
        if self == Self::AnyHost {
            return true;
        }
        let allowed = self == Self::Allowed;
        if host.starts_with('/') || host.starts_with('@') {
            return allowed && ALLOWED.contains(&host);
        }
        let name = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
        if name.is_empty() {
            return false;
        }
        labels_under(&name, AZURE_DOMAIN)
            || (allowed
                && (name == "db.example.com"
                    || name == "::1"
                    || labels_under(&name, "corp.example.com")))
    }
}

/// Whether `name` (lower case) is `label.….domain`, with at least one label.
fn labels_under(name: &str, domain: &str) -> bool {
    let Some(labels) = name
        .strip_suffix(domain)
        .and_then(|rest| rest.strip_suffix('.'))
    else {
        return false;
    };
    !labels.is_empty()
        && labels.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// The Entra login of an input: the `EntraAuth`'s user and token, and its policy.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub struct Login<'a> {
    /// The login user: given to the builder, or put in the token's `upn` claim.
    pub user: &'a str,
    /// The token (explicit user), or the signature of the JWT (user from claims).
    pub token: &'a str,
    pub user_from_claims: bool,
    pub policy: Policy,
}

impl Login<'_> {
    /// The token the credential hands out and the `EntraAuth` over it; `None` when
    /// the builder refuses (only an empty explicit user). The control token is as
    /// long as the real one and differs from it, so it does not contain it.
    pub fn auth(&self, control: bool) -> Option<(String, EntraAuth)> {
        let (token, user) = if self.user_from_claims {
            let claims = serde_json::json!({ "upn": self.user }).to_string();
            let header: &[u8] = if control {
                br#"{"alg":"RS256","typ":"JWS"}"#
            } else {
                br#"{"alg":"RS256","typ":"JWT"}"#
            };
            let token = format!(
                "{}.{}.{}",
                b64(header),
                b64(claims.as_bytes()),
                b64(self.token.as_bytes())
            );
            (token, None)
        } else if control {
            (other_than(self.token), Some(self.user))
        } else {
            (self.token.to_owned(), Some(self.user))
        };
        let mut builder = EntraAuth::builder(Arc::new(FixedToken(token.clone())))
            .clock(ManualClock::new(start()))
            .jitter(Jitter::none());
        builder = self.policy.apply(builder);
        if let Some(user) = user {
            builder = builder.user(user);
        }
        match builder.build() {
            Ok(auth) => Some((token, auth)),
            Err(err) => {
                assert!(user == Some(""), "the builder refused a non-empty user");
                assert!(
                    matches!(err, Error::InvalidConfig { .. }),
                    "not a config error"
                );
                None
            }
        }
    }

    /// The user of a login to settings that name none: the explicit user, or the
    /// token's `upn`; `None` when nobody is named (then `UserNotDerivable`).
    pub fn user_when_settings_name_none(&self) -> Option<&str> {
        if self.user_from_claims && self.user.is_empty() {
            None
        } else {
            Some(self.user)
        }
    }
}

/// The forms in which a token could show in a text: as it is, as `Debug` escapes
/// it, and percent-encoded.
fn needles(token: &str, percent: bool) -> Vec<String> {
    let mut needles = vec![token.to_owned()];
    let escaped = format!("{token:?}");
    let escaped = &escaped[1..escaped.len() - 1];
    if escaped != token {
        needles.push(escaped.to_owned());
    }
    if percent {
        let encoded = encode(token);
        if encoded != token {
            needles.push(encoded);
        }
    }
    needles.retain(|needle| !needle.is_empty());
    needles
}

/// The token shows in none of `texts`, unless the same texts made with the
/// control token (`control`, called only when needed) show the same needle: then
/// the settings or the user spell it, not the token.
pub fn assert_token_hidden(
    token: &str,
    texts: &[String],
    percent: bool,
    control: impl FnOnce() -> Vec<String>,
) {
    let needles = needles(token, percent);
    if !needles
        .iter()
        .any(|needle| texts.iter().any(|text| text.contains(needle.as_str())))
    {
        return;
    }
    let control = control();
    assert_eq!(texts.len(), control.len(), "the control run differs");
    for needle in &needles {
        for (text, control_text) in texts.iter().zip(&control) {
            assert!(
                !text.contains(needle.as_str()) || control_text.contains(needle.as_str()),
                "the token shows in a message, redacted URL or Debug output"
            );
        }
    }
}
