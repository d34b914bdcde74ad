//! Who is calling: the extractors that authenticate a request with the
//! server's [`Authenticator`] and check what the caller may do. Every data
//! endpoint uses one of them; there is no other way to learn a tenant.

use std::sync::{Arc, OnceLock};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::{ApiError, AppState};
use crate::auth::{AuthConfig, AuthError, Authenticator, Caller};
use crate::promql::TenantScope;
use crate::storage::{ReadSource, Storage};
use crate::tenant::TenantId;

impl crate::auth::RequestHeaders for axum::http::HeaderMap {
    fn values(&self, name: &str) -> Vec<&[u8]> {
        self.get_all(name).iter().map(|v| v.as_bytes()).collect()
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> ApiError {
        match &e {
            AuthError::Unauthorized { .. } => ApiError::Unauthorized(
                e.to_string(),
                e.www_authenticate().unwrap_or("Bearer realm=\"tessera\""),
            ),
            AuthError::Forbidden(m) => ApiError::Forbidden(m.clone()),
            AuthError::BadRequest(m) => ApiError::BadData(m.clone()),
        }
    }
}

/// The authenticator of a state built without one: mode `none`.
pub(crate) fn default_authenticator() -> Arc<Authenticator> {
    static DEFAULT: OnceLock<Arc<Authenticator>> = OnceLock::new();
    DEFAULT
        .get_or_init(|| {
            Arc::new(
                Authenticator::new(&AuthConfig::default(), std::path::Path::new("."))
                    .unwrap_or_else(|e| panic!("the default auth config is valid: {e}")),
            )
        })
        .clone()
}

fn authenticate(parts: &Parts, state: &AppState) -> Result<Caller, ApiError> {
    Ok(state.authenticator().authenticate(&parts.headers)?)
}

/// A caller allowed to read: its tenants and policy, and in cluster mode
/// where its series come from (the owners of its tenants' partitions).
pub struct Reader(
    pub Caller,
    pub(crate) Option<Arc<crate::cluster::ClusterReads>>,
);

impl FromRequestParts<AppState> for Reader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = authenticate(parts, state)?;
        caller.require_read()?;
        let source = state.cluster().map(|c| {
            // The owners authenticate the caller again from the same
            // headers, so a forged internal read gets nothing more.
            let forwarded = [
                http::header::AUTHORIZATION.as_str(),
                crate::auth::TENANT_HEADER,
            ]
            .iter()
            .filter_map(|name| {
                let v = parts.headers.get(*name)?.to_str().ok()?;
                Some((name.to_string(), v.to_string()))
            })
            .collect();
            let strong = parts
                .headers
                .get(crate::cluster::CONSISTENCY_HEADER)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("strong"));
            let metrics = state.metrics().clone();
            let count: crate::cluster::ReadCounter =
                Arc::new(move |t, n| metrics.usage().add_read(t, n));
            Arc::new(
                c.reads(forwarded, strong, state.engine().config().max_samples)
                    .counting(count),
            )
        });
        Ok(Reader(caller, source))
    }
}

impl Reader {
    /// The query scope: the caller's tenants, narrowed by its policy's
    /// forced matchers and restricted labels.
    pub fn scope<'a>(&'a self, storage: &'a Storage) -> Result<TenantScope<'a>, ApiError> {
        let c = &self.0;
        let mut scope = TenantScope::federated(storage, c.tenants.clone())
            .with_forced_matchers(c.policy.forced_matchers.clone());
        if let Some(source) = &self.1 {
            scope = scope.with_source(&**source);
        }
        for (label, allowed) in &c.policy.restricted_labels {
            scope = scope.with_restricted_label(label, allowed.iter().cloned().collect())?;
        }
        Ok(scope)
    }

    /// Where this request reads: the partition owners in cluster mode,
    /// else `storage`. Not narrowed by the policy: callers that read
    /// through it directly apply it themselves.
    pub fn source<'a>(&'a self, storage: &'a Storage) -> &'a dyn ReadSource {
        match &self.1 {
            Some(source) => &**source,
            None => storage,
        }
    }

    /// The one tenant of an endpoint that reads a single tenant
    /// (`/federate`, `status/tsdb`): a federated request is refused.
    pub fn single_tenant(&self, endpoint: &str) -> Result<TenantId, ApiError> {
        match self.0.tenants.as_slice() {
            [one] => Ok(one.clone()),
            _ => Err(ApiError::BadData(format!(
                "{endpoint} reads one tenant; X-Scope-OrgID names several"
            ))),
        }
    }

    /// Whether the policy narrows what this caller sees inside a tenant.
    pub fn is_restricted(&self) -> bool {
        !self.0.policy.forced_matchers.is_empty() || !self.0.policy.restricted_labels.is_empty()
    }
}

/// A caller allowed to write, and the one tenant it writes to.
pub struct Writer(pub TenantId);

impl FromRequestParts<AppState> for Writer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = authenticate(parts, state)?;
        Ok(Writer(caller.require_write()?.clone()))
    }
}

/// A caller with an admin policy, and its tenant.
pub struct Admin(pub TenantId);

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = authenticate(parts, state)?;
        state.authenticator().authorize_admin(&caller)?;
        Ok(Admin(caller.tenant))
    }
}

/// Access to `/metrics`: public unless a metrics policy is configured.
pub struct MetricsAccess;

impl FromRequestParts<AppState> for MetricsAccess {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let auth = state.authenticator();
        if !auth.metrics_public() {
            let caller = authenticate(parts, state)?;
            auth.authorize_metrics(&caller)?;
        }
        Ok(MetricsAccess)
    }
}

/// Access to `/-/healthy` and `/-/ready`: public unless configured not to be.
pub struct HealthAccess;

impl FromRequestParts<AppState> for HealthAccess {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if !state.authenticator().health_public() {
            authenticate(parts, state)?;
        }
        Ok(HealthAccess)
    }
}

/// Any authenticated caller, whatever its policy allows: for endpoints
/// that only describe the caller to itself (`status/whoami`).
pub struct Authenticated(pub Caller);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(Authenticated(authenticate(parts, state)?))
    }
}
