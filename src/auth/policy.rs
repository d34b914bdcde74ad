//! Resolved access policies: what a caller may do once authenticated.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::config::PolicyConfig;
use crate::storage::Matcher;
use crate::tenant::TenantId;

/// The tenants a policy may federate over besides the caller's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TenantSet {
    /// Any tenant (mode `none`, where a trusted proxy decides).
    Any,
    /// Only these (empty: only the caller's own tenant).
    Only(BTreeSet<TenantId>),
}

impl TenantSet {
    /// Whether `t` is in the set.
    pub fn contains(&self, t: &TenantId) -> bool {
        match self {
            TenantSet::Any => true,
            TenantSet::Only(set) => set.contains(t),
        }
    }
}

/// Per-query limits; `None` is unlimited. Enforced by the query layer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryLimits {
    /// Most series one query may select.
    pub max_series_per_query: Option<u64>,
    /// Most samples one query may load.
    pub max_samples_per_query: Option<u64>,
    /// Most queries running at once for the tenant.
    pub max_concurrent_queries: Option<u32>,
    /// Longest time range one query may span; the query layer clamps
    /// longer ones and adds a warning.
    pub max_query_range: Option<Duration>,
    /// How far back from now a query may look; older starts are clamped.
    pub max_query_lookback: Option<Duration>,
}

/// A named access policy with its selectors parsed.
#[derive(Debug, Clone)]
pub struct Policy {
    /// The name under `auth.policies` (`default` in mode `none`).
    pub name: String,
    /// May query.
    pub read: bool,
    /// May write.
    pub write: bool,
    /// Matchers added to every selector of the caller's queries.
    pub forced_matchers: Vec<Matcher>,
    /// Label name to the values the caller may see.
    pub restricted_labels: BTreeMap<String, BTreeSet<String>>,
    /// May name several tenants in `X-Scope-OrgID`.
    pub federation: bool,
    /// Tenants besides its own the caller may federate over.
    pub allowed_tenants: TenantSet,
    /// May use admin endpoints.
    pub admin: bool,
    /// Per-query limits.
    pub limits: QueryLimits,
}

impl Policy {
    /// The policy of mode `none`: everything allowed, any tenants.
    pub fn permissive() -> Policy {
        Policy {
            name: "default".to_string(),
            read: true,
            write: true,
            forced_matchers: Vec::new(),
            restricted_labels: BTreeMap::new(),
            federation: true,
            allowed_tenants: TenantSet::Any,
            admin: true,
            limits: QueryLimits::default(),
        }
    }

    /// Resolves a configured policy; errors name the policy and the key.
    pub(crate) fn from_config(name: &str, cfg: &PolicyConfig) -> Result<Policy, String> {
        let bad = |key: &str, why: String| format!("policy {name:?}: {key}: {why}");
        let mut forced_matchers = Vec::new();
        for sel in &cfg.forced_matchers {
            let ms = crate::promql::parse_selector(sel)
                .map_err(|e| bad("forced_matchers", format!("{sel:?}: {e}")))?;
            forced_matchers.extend(ms);
        }
        let mut restricted_labels = BTreeMap::new();
        for (label, values) in &cfg.restricted_labels {
            if values.is_empty() {
                return Err(bad(
                    "restricted_labels",
                    format!("{label:?} lists no values"),
                ));
            }
            restricted_labels.insert(label.clone(), values.iter().cloned().collect());
        }
        let mut allowed = BTreeSet::new();
        for t in &cfg.allowed_tenants {
            allowed.insert(TenantId::new(t).map_err(|e| bad("allowed_tenants", e.to_string()))?);
        }
        if !allowed.is_empty() && !cfg.federation {
            return Err(bad(
                "allowed_tenants",
                "only used with federation: true".to_string(),
            ));
        }
        Ok(Policy {
            name: name.to_string(),
            read: cfg.read,
            write: cfg.write,
            forced_matchers,
            restricted_labels,
            federation: cfg.federation,
            allowed_tenants: TenantSet::Only(allowed),
            admin: cfg.admin,
            limits: limits_from_config(cfg).map_err(|e| bad("limits", e))?,
        })
    }
}

fn limits_from_config(cfg: &PolicyConfig) -> Result<QueryLimits, String> {
    let l = &cfg.limits;
    let positive = |key: &str, v: Option<u64>| match v {
        Some(0) => Err(format!("{key} must be above 0; leave it out for no limit")),
        _ => Ok(v),
    };
    let dur = |key: &str, v: Option<crate::duration::PromDuration>| match v {
        Some(d) if d.0.is_zero() => Err(format!("{key} must be above 0; leave it out")),
        _ => Ok(v.map(|d| d.0)),
    };
    Ok(QueryLimits {
        max_series_per_query: positive("max_series_per_query", l.max_series_per_query)?,
        max_samples_per_query: positive("max_samples_per_query", l.max_samples_per_query)?,
        max_concurrent_queries: positive(
            "max_concurrent_queries",
            l.max_concurrent_queries.map(u64::from),
        )?
        .and_then(|v| u32::try_from(v).ok()),
        max_query_range: dur("max_query_range", l.max_query_range)?,
        max_query_lookback: dur("max_query_lookback", l.max_query_lookback)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(yaml: &str) -> Result<Policy, String> {
        let cfg: PolicyConfig = serde_yaml::from_str(yaml).map_err(|e| e.to_string())?;
        Policy::from_config("p", &cfg)
    }

    #[test]
    fn config_is_resolved_or_refused() {
        let p = policy(
            "read: true\nforced_matchers: ['{metric_purpose=\"external\"}', 'up{job!=\"x\"}']\n\
             restricted_labels: {org: [a, b]}\nfederation: true\nallowed_tenants: [t2]\n\
             limits: {max_series_per_query: 10, max_query_range: 1d}",
        )
        .unwrap();
        assert!(p.read && !p.write && p.federation && !p.admin);
        let forced: Vec<String> = p.forced_matchers.iter().map(|m| m.to_string()).collect();
        assert_eq!(
            forced,
            [
                r#"metric_purpose="external""#,
                r#"__name__="up""#,
                r#"job!="x""#
            ]
        );
        assert!(p.allowed_tenants.contains(&TenantId::new("t2").unwrap()));
        assert_eq!(p.limits.max_series_per_query, Some(10));
        assert_eq!(p.limits.max_query_range, Some(Duration::from_secs(86400)));
        let cases = [
            (
                "forced_matchers: ['rate(x[5m])']",
                "expected a series selector",
            ),
            ("forced_matchers: ['{a=']", "forced_matchers"),
            ("restricted_labels: {org: []}", "lists no values"),
            (
                "federation: true\nallowed_tenants: ['a/b']",
                "allowed_tenants",
            ),
            ("allowed_tenants: [b]", "only used with federation"),
            ("limits: {max_samples_per_query: 0}", "must be above 0"),
            ("limits: {max_query_lookback: 0}", "must be above 0"),
            ("limits: {max_query_range: 5x}", "invalid duration"),
            ("reed: true", "unknown field"),
        ];
        for (yaml, want) in cases {
            let e = policy(yaml).unwrap_err();
            assert!(e.contains(want), "{yaml}: {e}");
        }
    }
}
