//! Who is calling, and what they may do.
//!
//! [`Authenticator::authenticate`] turns a request's headers into a
//! [`Caller`]: the tenant a credential belongs to, the tenants the request
//! may read, and the [`Policy`] that governs it. Three modes
//! ([`AuthMode`]):
//!
//! - `none`: the tenant comes from `X-Scope-OrgID` (`anonymous` when
//!   absent, `a|b` for several) with an all-permissive policy; for running
//!   behind a trusted proxy that authenticates.
//! - `tokens`: `Authorization: Bearer <token>` or `Basic <user:password>`
//!   against hashes (SHA-256 or Argon2) in the config; never plain text.
//! - `jwt`: `Authorization: Bearer <JWT>` verified with HS256, RS256 or
//!   ES256 keys from a PEM, JWKS or secret file; the tenant and policy
//!   come from claims. A token that Grafana forwards with "Forward OAuth
//!   identity" is such a bearer JWT.
//!
//! In `tokens` and `jwt` modes the credential decides the tenant. An
//! `X-Scope-OrgID` naming any other tenant is 403, unless the policy has
//! `federation` and every named tenant is its own or in `allowed_tenants`.
//!
//! ```yaml
//! auth:
//!   mode: jwt                      # none | tokens | jwt
//!   jwt:
//!     keys_file: jwks.json         # PEM public key, JWKS, or HS256 secret
//!     algorithms: [RS256, ES256]
//!     issuer: https://idp.example.com
//!     audience: tessera
//!     tenant_claim: https://example.com/tenant
//!     policy_claim: role           # optional
//!     default_policy: viewer       # when the claim is absent
//!     leeway: 30s                  # on exp/nbf; at most 5m
//!   policies:
//!     viewer: {read: true, forced_matchers: ['{metric_purpose="external"}']}
//!   health_public: true
//!   admin_policy: ops
//! ```
//!
//! Enforcement of read/write, forced matchers, restricted labels and limits
//! is the caller's: [`Caller::require_read`], [`Caller::require_write`],
//! [`Policy::restrict`] and [`Policy::limits`] give it the pieces.

mod build;
mod config;
mod hash;
mod headers;
mod jwt;
mod policy;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

pub use config::{
    AuthConfig, AuthMode, BasicUser, JwtAlgorithm, JwtConfig, LimitsConfig, PolicyConfig,
    TokenEntry,
};
pub use hash::sha256_hex;
pub use headers::{RequestHeaders, MAX_HEADER_LEN, TENANT_HEADER};
pub use policy::{Policy, QueryLimits, TenantSet};

use crate::tenant::TenantId;
use hash::SecretStore;
use headers::Credentials;

/// Why the `auth:` section was refused; the message names the entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthConfigError {
    /// A value is missing, malformed, duplicated or names an unknown policy.
    #[error("auth: {0}")]
    Invalid(String),
    /// The JWT key file could not be read or holds no usable key.
    #[error("auth.jwt: {0}")]
    Keys(String),
}

/// The authentication scheme a 401 challenges the client to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `Authorization: Bearer`.
    Bearer,
    /// `Authorization: Basic`.
    Basic,
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// 401: credentials missing or invalid. Answer with the
    /// [`AuthError::www_authenticate`] header.
    #[error("{message}")]
    Unauthorized {
        /// What was wrong, safe to show the client.
        message: String,
        /// The scheme to challenge with.
        scheme: Scheme,
    },
    /// 403: valid credentials that may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// 400: a malformed or oversized header, or an invalid tenant id.
    #[error("{0}")]
    BadRequest(String),
}

impl AuthError {
    pub(crate) fn unauthorized(message: impl Into<String>, scheme: Scheme) -> AuthError {
        AuthError::Unauthorized {
            message: message.into(),
            scheme,
        }
    }

    /// The status code `api/` answers with (as a number: auth knows no
    /// HTTP types).
    pub fn status(&self) -> u16 {
        match self {
            AuthError::Unauthorized { .. } => 401,
            AuthError::Forbidden(_) => 403,
            AuthError::BadRequest(_) => 400,
        }
    }

    /// The `WWW-Authenticate` value for a 401, `None` otherwise.
    pub fn www_authenticate(&self) -> Option<&'static str> {
        match self {
            AuthError::Unauthorized {
                scheme: Scheme::Bearer,
                ..
            } => Some(r#"Bearer realm="tessera""#),
            AuthError::Unauthorized {
                scheme: Scheme::Basic,
                ..
            } => Some(r#"Basic realm="tessera""#),
            _ => None,
        }
    }
}

/// An authenticated request's identity.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The credential's own tenant (mode `none`: the first tenant of the
    /// header, or `anonymous`). Writes go here.
    pub tenant: TenantId,
    /// The tenants the request reads, never empty: `[tenant]` unless
    /// `X-Scope-OrgID` named others (`a|b`, in the order given, repeats
    /// dropped), which the policy allowed.
    pub tenants: Vec<TenantId>,
    /// The policy in force.
    pub policy: Arc<Policy>,
    /// For logs: `token:<name>`, `user:<name>`, `jwt:<sub>` or `none`;
    /// never a secret.
    pub credential: String,
}

impl Caller {
    /// 403 unless the policy allows queries.
    pub fn require_read(&self) -> Result<(), AuthError> {
        if self.policy.read {
            return Ok(());
        }
        Err(AuthError::Forbidden(format!(
            "{} (policy {:?}) may not read",
            self.credential, self.policy.name
        )))
    }

    /// The tenant to write to, or 403 if the policy does not allow writes
    /// or the request names tenants other than its own (a write goes to
    /// exactly one tenant, as in Mimir).
    pub fn require_write(&self) -> Result<&TenantId, AuthError> {
        if !self.policy.write {
            return Err(AuthError::Forbidden(format!(
                "{} (policy {:?}) may not write",
                self.credential, self.policy.name
            )));
        }
        if self.tenants.as_slice() != std::slice::from_ref(&self.tenant) {
            return Err(AuthError::Forbidden(format!(
                "writes go to one tenant, {}; {TENANT_HEADER} names {}",
                self.tenant,
                headers::join_tenants(&self.tenants)
            )));
        }
        Ok(&self.tenant)
    }
}

/// A credential's resolved identity: who, which tenant, which policy.
#[derive(Debug, Clone)]
struct Identity {
    credential: String,
    tenant: TenantId,
    policy: Arc<Policy>,
}

/// Decides who is calling; built once from the config, shared by requests.
#[derive(Debug)]
pub struct Authenticator {
    mode: AuthMode,
    tokens: SecretStore<Identity>,
    /// Keyed by password; each entry's `credential` is `user:<name>`.
    users: SecretStore<Identity>,
    jwt: Option<jwt::JwtVerifier>,
    default_jwt_policy: Option<Arc<Policy>>,
    policies: BTreeMap<String, Arc<Policy>>,
    permissive: Arc<Policy>,
    health_public: bool,
    metrics_policy: Option<String>,
    admin_policy: Option<String>,
}

impl Authenticator {
    /// Validates the config and loads keys. `base_dir` resolves a relative
    /// `jwt.keys_file` (normally the config file's directory).
    pub fn new(cfg: &AuthConfig, base_dir: &Path) -> Result<Authenticator, AuthConfigError> {
        build::authenticator(cfg, base_dir)
    }

    /// Decides who is calling from the request headers.
    /// In `tokens` and `jwt` modes credentials are checked before
    /// `X-Scope-OrgID`, so a request without them is 401 whatever else
    /// it carries.
    pub fn authenticate(&self, headers: &dyn RequestHeaders) -> Result<Caller, AuthError> {
        if self.mode == AuthMode::None {
            let requested = headers::tenants(headers)?;
            let tenants = requested.unwrap_or_else(|| vec![TenantId::anonymous()]);
            let tenant = tenants.first().cloned().unwrap_or_else(TenantId::anonymous);
            return Ok(Caller {
                tenant,
                tenants,
                policy: self.permissive.clone(),
                credential: "none".to_string(),
            });
        }
        let id = self.identify(headers)?;
        let tenants = scope(&id, headers::tenants(headers)?)?;
        Ok(Caller {
            tenant: id.tenant,
            tenants,
            policy: id.policy,
            credential: id.credential,
        })
    }

    /// The mode in force.
    pub fn mode(&self) -> AuthMode {
        self.mode
    }

    /// Whether `/-/healthy` and `/-/ready` answer without credentials.
    pub fn health_public(&self) -> bool {
        self.health_public
    }

    /// Whether `/metrics` answers without credentials.
    pub fn metrics_public(&self) -> bool {
        self.metrics_policy.is_none()
    }

    /// 403 unless `caller` may read `/metrics`: any caller when no
    /// `metrics_policy` is set, else that policy or an admin one.
    pub fn authorize_metrics(&self, caller: &Caller) -> Result<(), AuthError> {
        match &self.metrics_policy {
            None => Ok(()),
            Some(p) if *p == caller.policy.name || caller.policy.admin => Ok(()),
            Some(p) => Err(AuthError::Forbidden(format!(
                "/metrics needs policy {p:?}; {} has {:?}",
                caller.credential, caller.policy.name
            ))),
        }
    }

    /// 403 unless `caller` may use admin endpoints: a policy with
    /// `admin: true`, or the one named by `admin_policy`.
    pub fn authorize_admin(&self, caller: &Caller) -> Result<(), AuthError> {
        let named = self.admin_policy.as_ref() == Some(&caller.policy.name);
        if caller.policy.admin || named {
            return Ok(());
        }
        Err(AuthError::Forbidden(format!(
            "admin endpoints need an admin policy; {} has {:?}",
            caller.credential, caller.policy.name
        )))
    }

    /// A configured policy by name.
    pub fn policy(&self, name: &str) -> Option<Arc<Policy>> {
        self.policies.get(name).cloned()
    }

    fn identify(&self, headers: &dyn RequestHeaders) -> Result<Identity, AuthError> {
        let creds = headers::credentials(headers)?;
        let Some(creds) = creds else {
            return Err(AuthError::unauthorized(
                "missing Authorization header",
                self.challenge(),
            ));
        };
        match (&self.jwt, creds) {
            (Some(jwt), Credentials::Bearer(token)) => self.identify_jwt(jwt, &token),
            (Some(_), Credentials::Basic { .. }) => Err(AuthError::unauthorized(
                "basic auth is not accepted in mode jwt; send a bearer JWT",
                Scheme::Bearer,
            )),
            (None, Credentials::Bearer(token)) => self
                .tokens
                .find(token.as_bytes())
                .cloned()
                .ok_or_else(|| AuthError::unauthorized("unknown bearer token", Scheme::Bearer)),
            (None, Credentials::Basic { user, password }) => {
                let want = format!("user:{user}");
                self.users
                    .find_where(password.as_bytes(), |id| id.credential == want)
                    .cloned()
                    .ok_or_else(|| {
                        AuthError::unauthorized("unknown user or wrong password", Scheme::Basic)
                    })
            }
        }
    }

    fn identify_jwt(&self, jwt: &jwt::JwtVerifier, token: &str) -> Result<Identity, AuthError> {
        let found = jwt
            .verify(token)
            .map_err(|m| AuthError::unauthorized(m, Scheme::Bearer))?;
        let policy = match &found.policy {
            Some(name) => self.policy(name).ok_or_else(|| {
                AuthError::Forbidden(format!("JWT names policy {name:?}, which is not defined"))
            })?,
            None => self.default_jwt_policy.clone().ok_or_else(|| {
                AuthError::unauthorized(
                    "JWT has no policy claim and no default_policy is set",
                    Scheme::Bearer,
                )
            })?,
        };
        let subject = found.subject.as_deref().unwrap_or("-");
        Ok(Identity {
            credential: format!("jwt:{subject}"),
            tenant: found.tenant,
            policy,
        })
    }

    /// The scheme a missing credential is challenged with.
    fn challenge(&self) -> Scheme {
        if self.jwt.is_none() && self.tokens.is_empty() && !self.users.is_empty() {
            Scheme::Basic
        } else {
            Scheme::Bearer
        }
    }
}

/// The tenants a credential's request reads, given `X-Scope-OrgID`.
fn scope(id: &Identity, requested: Option<Vec<TenantId>>) -> Result<Vec<TenantId>, AuthError> {
    let own = &id.tenant;
    let Some(named) = requested else {
        return Ok(vec![own.clone()]);
    };
    if named.as_slice() == std::slice::from_ref(own) {
        return Ok(named);
    }
    if !id.policy.federation {
        return Err(AuthError::Forbidden(format!(
            "{TENANT_HEADER} {} does not match the credential's tenant {own}",
            headers::join_tenants(&named)
        )));
    }
    if let Some(t) = named
        .iter()
        .find(|t| *t != own && !id.policy.allowed_tenants.contains(t))
    {
        return Err(AuthError::Forbidden(format!(
            "{TENANT_HEADER} names tenant {t}, which policy {:?} of {} may not query",
            id.policy.name, id.credential
        )));
    }
    Ok(named)
}
