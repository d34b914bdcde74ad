//! `GET /api/v1/status/whoami`: the caller, described to itself.
//!
//! The web UI asks this first: a 200 says which auth mode is in force and
//! which tenant the page is acting for; a 401 (with its `WWW-Authenticate`
//! challenge) says the page must ask for a credential. The answer only
//! ever describes the credential that sent the request, so it tells a
//! caller nothing it could not already do.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use super::caller::Authenticated;
use super::{ApiError, AppState};
use crate::auth::{AuthMode, Caller, TenantSet};

/// The handler.
pub(crate) async fn whoami(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
) -> Result<Json<Value>, ApiError> {
    let mode = state.authenticator().mode();
    Ok(Json(
        json!({"status": "success", "data": describe(mode, &caller)}),
    ))
}

/// The body's `data`: mode, tenants and what the policy allows.
fn describe(mode: AuthMode, c: &Caller) -> Value {
    let mode = match mode {
        AuthMode::None => "none",
        AuthMode::Tokens => "tokens",
        AuthMode::Jwt => "jwt",
    };
    let p = &c.policy;
    // Only the caller's own policy is shown, and only its federation
    // list: the names of tenants it may already query.
    let allowed: Value = match (&p.allowed_tenants, p.federation) {
        (_, false) => json!([]),
        (TenantSet::Any, true) => json!("any"),
        (TenantSet::Only(set), true) => set.iter().map(|t| t.as_str()).collect(),
    };
    json!({
        "authMode": mode,
        "tenant": c.tenant.as_str(),
        "tenants": c.tenants.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
        "credential": c.credential,
        "policy": {
            "name": p.name,
            "read": p.read,
            "write": p.write,
            "admin": p.admin,
            "federation": p.federation,
            "allowedTenants": allowed,
            "restricted": !p.forced_matchers.is_empty() || !p.restricted_labels.is_empty(),
        },
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::auth::Policy;
    use crate::tenant::TenantId;

    fn caller(policy: Policy, tenants: &[&str]) -> Caller {
        let tenants: Vec<TenantId> = tenants.iter().map(|t| TenantId::new(t).unwrap()).collect();
        Caller {
            tenant: tenants[0].clone(),
            tenants,
            policy: Arc::new(policy),
            credential: "token:t1".into(),
        }
    }

    #[test]
    fn permissive_caller_may_federate_over_any_tenant() {
        let v = describe(AuthMode::None, &caller(Policy::permissive(), &["a", "b"]));
        assert_eq!(v["authMode"], "none");
        assert_eq!(v["tenant"], "a");
        assert_eq!(v["tenants"], json!(["a", "b"]));
        assert_eq!(v["policy"]["allowedTenants"], "any");
        assert_eq!(v["policy"]["restricted"], false);
    }

    #[test]
    fn without_federation_no_other_tenant_is_listed() {
        let mut p = Policy::permissive();
        p.federation = false;
        p.name = "viewer".into();
        let v = describe(AuthMode::Tokens, &caller(p, &["a"]));
        assert_eq!(v["authMode"], "tokens");
        assert_eq!(v["policy"]["name"], "viewer");
        assert_eq!(v["policy"]["allowedTenants"], json!([]));
        assert_eq!(v["credential"], "token:t1");
    }

    #[test]
    fn federation_lists_the_allowed_tenants() {
        let mut p = Policy::permissive();
        let only = ["x", "y"].iter().map(|t| TenantId::new(t).unwrap());
        p.allowed_tenants = TenantSet::Only(only.collect());
        let v = describe(AuthMode::Jwt, &caller(p, &["a"]));
        assert_eq!(v["authMode"], "jwt");
        assert_eq!(v["policy"]["allowedTenants"], json!(["x", "y"]));
    }
}
