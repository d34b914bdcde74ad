//! Building an [`Authenticator`] from its config: every name, hash, tenant
//! and key is checked here so that a bad config fails at startup rather
//! than on the first request.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use super::hash::{SecretHash, SecretStore};
use super::jwt::JwtVerifier;
use super::{AuthConfig, AuthConfigError, AuthMode, Authenticator, Identity, Policy};
use crate::tenant::TenantId;

fn invalid(msg: impl Into<String>) -> AuthConfigError {
    AuthConfigError::Invalid(msg.into())
}

pub(super) fn authenticator(
    cfg: &AuthConfig,
    base_dir: &Path,
) -> Result<Authenticator, AuthConfigError> {
    check_sections(cfg)?;
    let mut policies = BTreeMap::new();
    for (name, p) in &cfg.policies {
        let resolved = Policy::from_config(name, p).map_err(invalid)?;
        policies.insert(name.clone(), Arc::new(resolved));
    }
    let lookup = |what: &str, name: &str| {
        policies
            .get(name)
            .cloned()
            .ok_or_else(|| invalid(format!("{what}: policy {name:?} is not defined")))
    };
    for (what, name) in [
        ("metrics_policy", &cfg.metrics_policy),
        ("admin_policy", &cfg.admin_policy),
    ] {
        if let Some(n) = name {
            lookup(what, n)?;
        }
    }
    let mut tokens = Vec::new();
    for t in &cfg.tokens {
        let what = format!("token {:?}", t.name);
        let hash = SecretHash::from_config(&what, t.sha256.as_deref(), t.argon2.as_deref())
            .map_err(invalid)?;
        let id = identity(&what, format!("token:{}", t.name), &t.tenant)?;
        tokens.push((hash, id.with_policy(lookup(&what, &t.policy)?)));
    }
    let mut users = Vec::new();
    for u in &cfg.basic_users {
        let what = format!("basic user {:?}", u.username);
        let hash = SecretHash::from_config(&what, u.sha256.as_deref(), u.argon2.as_deref())
            .map_err(invalid)?;
        let id = identity(&what, format!("user:{}", u.username), &u.tenant)?;
        users.push((hash, id.with_policy(lookup(&what, &u.policy)?)));
    }
    check_unique(
        "token",
        &tokens,
        &cfg.tokens.iter().map(|t| &t.name).collect::<Vec<_>>(),
    )?;
    check_unique(
        "basic user",
        &users,
        &cfg.basic_users
            .iter()
            .map(|u| &u.username)
            .collect::<Vec<_>>(),
    )?;
    let (jwt, default_jwt_policy) = match &cfg.jwt {
        None => (None, None),
        Some(j) => {
            if j.policy_claim.is_none() && j.default_policy.is_none() {
                return Err(invalid("jwt: set policy_claim, default_policy or both"));
            }
            let default = match &j.default_policy {
                Some(n) => Some(lookup("jwt.default_policy", n)?),
                None => None,
            };
            let path = base_dir.join(&j.keys_file);
            let v = JwtVerifier::new(j, &path).map_err(AuthConfigError::Keys)?;
            (Some(v), default)
        }
    };
    Ok(Authenticator {
        mode: cfg.mode,
        tokens: SecretStore::new(tokens),
        users: SecretStore::new(users),
        jwt,
        default_jwt_policy,
        policies,
        permissive: Arc::new(Policy::permissive()),
        health_public: cfg.health_public,
        metrics_policy: cfg.metrics_policy.clone(),
        admin_policy: cfg.admin_policy.clone(),
    })
}

/// Each mode uses its own sections; a section another mode uses is an
/// error, so nobody believes tokens are checked while mode is `none`.
fn check_sections(cfg: &AuthConfig) -> Result<(), AuthConfigError> {
    let has_static = !cfg.tokens.is_empty() || !cfg.basic_users.is_empty();
    match cfg.mode {
        AuthMode::None if has_static => Err(invalid(
            "tokens and basic_users are only used with mode: tokens",
        )),
        AuthMode::None | AuthMode::Tokens if cfg.jwt.is_some() => {
            Err(invalid("the jwt section is only used with mode: jwt"))
        }
        AuthMode::Tokens if !has_static => Err(invalid(
            "mode tokens needs at least one entry in tokens or basic_users",
        )),
        AuthMode::Jwt if has_static => Err(invalid(
            "tokens and basic_users are only used with mode: tokens",
        )),
        AuthMode::Jwt if cfg.jwt.is_none() => Err(invalid("mode jwt needs a jwt section")),
        _ => Ok(()),
    }
}

/// An identity without its policy yet: the policy comes from a lookup that
/// is checked separately.
struct PartialIdentity {
    credential: String,
    tenant: TenantId,
}

impl PartialIdentity {
    fn with_policy(self, policy: Arc<Policy>) -> Identity {
        Identity {
            credential: self.credential,
            tenant: self.tenant,
            policy,
        }
    }
}

fn identity(
    what: &str,
    credential: String,
    tenant: &str,
) -> Result<PartialIdentity, AuthConfigError> {
    let tenant = TenantId::new(tenant).map_err(|e| invalid(format!("{what}: tenant: {e}")))?;
    Ok(PartialIdentity { credential, tenant })
}

/// Names must be non-empty and unique, and no two tokens' SHA-256 hashes
/// equal (two entries for one secret would make the match depend on order;
/// users are told apart by name, so they may share a password). Argon2
/// hashes are salted, so equal secrets cannot be spotted there.
fn check_unique(
    kind: &str,
    entries: &[(SecretHash, Identity)],
    names: &[&String],
) -> Result<(), AuthConfigError> {
    let mut seen = HashSet::new();
    for name in names {
        if name.is_empty() {
            return Err(invalid(format!("a {kind} has an empty name")));
        }
        if kind == "basic user" && name.contains(':') {
            return Err(invalid(format!(
                "{kind} {name:?}: ':' cannot be sent in Basic auth"
            )));
        }
        if !seen.insert(name.as_str()) {
            return Err(invalid(format!("{kind} {name:?} appears twice")));
        }
    }
    let mut digests = HashSet::new();
    for (hash, id) in entries {
        if let (SecretHash::Sha256(d), "token") = (hash, kind) {
            if !digests.insert(*d) {
                return Err(invalid(format!(
                    "{} has the same sha256 as an earlier {kind}",
                    id.credential
                )));
            }
        }
    }
    Ok(())
}
