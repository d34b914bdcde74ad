//! The `auth:` section of the configuration file, as written by the
//! operator. Nothing here is validated beyond its YAML shape;
//! [`super::Authenticator::new`] checks names, hashes and keys.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use crate::duration::PromDuration;

/// How requests are authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// Trust `X-Scope-OrgID` (anonymous when absent); for running behind a
    /// trusted proxy that authenticates.
    #[default]
    None,
    /// Static bearer tokens and basic-auth users from this file.
    Tokens,
    /// Bearer JWTs verified with keys from a file.
    Jwt,
}

/// The `auth:` section.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// `none`, `tokens` or `jwt`.
    pub mode: AuthMode,
    /// Static bearer tokens (mode `tokens`).
    pub tokens: Vec<TokenEntry>,
    /// Basic-auth users (mode `tokens`).
    pub basic_users: Vec<BasicUser>,
    /// JWT verification settings (mode `jwt`).
    pub jwt: Option<JwtConfig>,
    /// Named access policies, referred to by tokens, users and JWT claims.
    pub policies: BTreeMap<String, PolicyConfig>,
    /// Whether `/-/healthy` and `/-/ready` answer without credentials.
    pub health_public: bool,
    /// The policy that may read `/metrics`; absent means `/metrics` is public.
    pub metrics_policy: Option<String>,
    /// A policy that may use admin endpoints, besides any with `admin: true`.
    pub admin_policy: Option<String>,
}

impl Default for AuthConfig {
    fn default() -> AuthConfig {
        AuthConfig {
            mode: AuthMode::None,
            tokens: Vec::new(),
            basic_users: Vec::new(),
            jwt: None,
            policies: BTreeMap::new(),
            health_public: true,
            metrics_policy: None,
            admin_policy: None,
        }
    }
}

/// A static bearer token, stored only as a hash: exactly one of `sha256`
/// (64 hex digits) or `argon2` (a PHC string) is given.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenEntry {
    /// A name for logs; never the secret.
    pub name: String,
    /// Hex SHA-256 of the token.
    #[serde(default)]
    pub sha256: Option<String>,
    /// Argon2 PHC string of the token.
    #[serde(default)]
    pub argon2: Option<String>,
    /// The tenant the token acts for.
    pub tenant: String,
    /// The policy name in `policies`.
    pub policy: String,
}

/// A basic-auth user; the password is stored like a token's.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicUser {
    /// The user name (compared exactly).
    pub username: String,
    /// Hex SHA-256 of the password.
    #[serde(default)]
    pub sha256: Option<String>,
    /// Argon2 PHC string of the password.
    #[serde(default)]
    pub argon2: Option<String>,
    /// The tenant the user acts for.
    pub tenant: String,
    /// The policy name in `policies`.
    pub policy: String,
}

/// A JWT signature algorithm that may be accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
pub enum JwtAlgorithm {
    /// HMAC with SHA-256 and a shared secret.
    HS256,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// ECDSA on P-256 with SHA-256.
    ES256,
}

/// The `auth.jwt:` section.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtConfig {
    /// A PEM public key, a JWKS JSON file, or (HS256) a file holding the
    /// shared secret; relative paths are resolved against the config file's
    /// directory.
    pub keys_file: PathBuf,
    /// Algorithms accepted; a token signed with any other is refused.
    pub algorithms: Vec<JwtAlgorithm>,
    /// The required `iss` claim.
    pub issuer: String,
    /// The required `aud` claim (one of the token's audiences).
    pub audience: String,
    /// The top-level claim holding the tenant id, e.g. `org_id` or
    /// `https://example.com/tenant`.
    pub tenant_claim: String,
    /// The top-level claim naming the policy, if any.
    #[serde(default)]
    pub policy_claim: Option<String>,
    /// The policy used when the token has no policy claim.
    #[serde(default)]
    pub default_policy: Option<String>,
    /// Clock skew tolerated on `exp` and `nbf`; at most 5m.
    #[serde(default = "default_leeway")]
    pub leeway: PromDuration,
}

fn default_leeway() -> PromDuration {
    PromDuration(std::time::Duration::from_secs(30))
}

/// One entry of `auth.policies`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    /// May query.
    pub read: bool,
    /// May write (remote write, OTLP).
    pub write: bool,
    /// Selectors such as `{metric_purpose="external"}` whose matchers are
    /// added to every selector the caller's queries use.
    pub forced_matchers: Vec<String>,
    /// Label name to the values the caller may see.
    pub restricted_labels: BTreeMap<String, Vec<String>>,
    /// May query several tenants at once (`X-Scope-OrgID: a|b`).
    pub federation: bool,
    /// Tenants besides its own the caller may federate over.
    pub allowed_tenants: Vec<String>,
    /// May use admin endpoints.
    pub admin: bool,
    /// Per-query limits.
    pub limits: LimitsConfig,
}

/// Query limits of a policy; each absent key means no limit.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Most series one query may select.
    pub max_series_per_query: Option<u64>,
    /// Most samples one query may load.
    pub max_samples_per_query: Option<u64>,
    /// Most queries running at once for the caller's tenant.
    pub max_concurrent_queries: Option<u32>,
    /// Longest `end - start` of a range query.
    pub max_query_range: Option<PromDuration>,
    /// How far back from now a query may look.
    pub max_query_lookback: Option<PromDuration>,
}
