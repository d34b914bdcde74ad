//! What a query may read: one or more tenants' partitions, narrowed by the
//! caller's access policy. Every selector the planner builds goes through
//! [`TenantScope::bind`], and the metadata endpoints (series, label names
//! and values) go through the scope's own methods, so a policy applies
//! everywhere data leaves the server.

use std::collections::BTreeSet;

use super::error::QueryError;
use crate::model::{LabelStr, Labels};
use crate::storage::index::{MatchOp, Matcher};
use crate::storage::{ReadSource, Storage};
use crate::tenant::TenantId;

/// The label a federated query adds to every series: the tenant it came
/// from (Mimir's convention).
pub const TENANT_LABEL: &str = "__tenant_id__";

/// A label the caller may only see some values of (e.g. `organisation_id`).
#[derive(Debug, Clone)]
struct Restriction {
    label: String,
    allowed: Vec<String>,
    /// `label=~"a|b|..."` over the allowed values, appended to every selector.
    matcher: Matcher,
}

/// One or more tenants' data plus the caller's policy: forced matchers
/// appended to every selector and restricted labels.
pub struct TenantScope<'a> {
    pub(crate) source: &'a dyn ReadSource,
    tenants: Vec<TenantId>,
    forced: Vec<Matcher>,
    restricted: Vec<Restriction>,
}

/// A selector's matchers after binding: what storage runs, and which
/// tenants (federated scopes) the selector asks for.
pub(crate) struct Bound {
    pub matchers: Vec<Matcher>,
    pub user_count: usize,
    pub tenant_matchers: Vec<Matcher>,
}

impl<'a> TenantScope<'a> {
    /// A scope over `tenant`'s data with no policy.
    pub fn new(storage: &'a Storage, tenant: TenantId) -> TenantScope<'a> {
        TenantScope {
            source: storage,
            tenants: vec![tenant],
            forced: Vec::new(),
            restricted: Vec::new(),
        }
    }

    /// A scope over several tenants (`X-Scope-OrgID: a|b`): every series
    /// gets a `__tenant_id__` label, and matchers on that label choose the
    /// tenants. With one tenant this is the same as [`TenantScope::new`].
    pub fn federated(storage: &'a Storage, mut tenants: Vec<TenantId>) -> TenantScope<'a> {
        tenants.sort();
        tenants.dedup();
        if tenants.is_empty() {
            tenants.push(TenantId::anonymous());
        }
        TenantScope {
            source: storage,
            tenants,
            forced: Vec::new(),
            restricted: Vec::new(),
        }
    }

    /// Reads series from `source` instead of the storage given at
    /// construction (cluster mode: the partition owners).
    pub fn with_source(mut self, source: &'a dyn ReadSource) -> TenantScope<'a> {
        self.source = source;
        self
    }

    /// Adds matchers that the planner appends to every selector.
    pub fn with_forced_matchers(mut self, forced: Vec<Matcher>) -> TenantScope<'a> {
        self.forced.extend(forced);
        self
    }

    /// Restricts `label` to `allowed` values: selectors may only use `=` or
    /// `=~` with an alternation of allowed plain values on it; without a
    /// matcher on it, the allowed set applies.
    pub fn with_restricted_label(
        mut self,
        label: &str,
        mut allowed: Vec<String>,
    ) -> Result<TenantScope<'a>, QueryError> {
        allowed.sort();
        allowed.dedup();
        let alternation = allowed
            .iter()
            .map(|v| regex::escape(v))
            .collect::<Vec<_>>()
            .join("|");
        // With no allowed value, match nothing: a value no label can hold.
        let re = if allowed.is_empty() {
            "[^\\s\\S]".to_string()
        } else {
            alternation
        };
        let matcher = Matcher::new(MatchOp::Regex, label, &re)
            .map_err(|e| QueryError::BadData(e.to_string()))?;
        self.restricted.push(Restriction {
            label: label.to_string(),
            allowed,
            matcher,
        });
        Ok(self)
    }

    /// The first (own) tenant.
    pub fn tenant(&self) -> &TenantId {
        &self.tenants[0]
    }

    /// Every tenant in scope.
    pub fn tenants(&self) -> &[TenantId] {
        &self.tenants
    }

    /// Whether series carry `__tenant_id__`.
    pub fn is_federated(&self) -> bool {
        self.tenants.len() > 1
    }

    /// The forced matchers.
    pub fn forced_matchers(&self) -> &[Matcher] {
        &self.forced
    }

    /// Checks the user's matchers against the policy and appends the
    /// forced and restricted-label matchers. A matcher the policy does not
    /// allow is `Forbidden`.
    pub(crate) fn bind(&self, user: Vec<Matcher>) -> Result<Bound, QueryError> {
        let (tenant_matchers, mut matchers): (Vec<Matcher>, Vec<Matcher>) = if self.is_federated() {
            user.into_iter().partition(|m| m.name == TENANT_LABEL)
        } else {
            (Vec::new(), user)
        };
        for r in &self.restricted {
            for m in matchers.iter().filter(|m| m.name == r.label) {
                check_restricted(m, &r.allowed)?;
            }
        }
        let user_count = matchers.len();
        matchers.extend(self.forced.iter().cloned());
        matchers.extend(self.restricted.iter().map(|r| r.matcher.clone()));
        Ok(Bound {
            matchers,
            user_count,
            tenant_matchers,
        })
    }

    /// The tenants a bound selector reads.
    pub(crate) fn tenants_for<'s>(
        &'s self,
        b: &'s Bound,
    ) -> impl Iterator<Item = &'s TenantId> + 's {
        self.tenants
            .iter()
            .filter(move |t| b.tenant_matchers.iter().all(|m| m.matches(t.as_str())))
    }

    /// Adds `__tenant_id__` when federated.
    pub(crate) fn tag(&self, labels: Labels, t: &TenantId) -> Labels {
        if !self.is_federated() {
            return labels;
        }
        let mut pairs: Vec<(LabelStr, LabelStr)> = labels
            .into_vec()
            .into_iter()
            .filter(|l| l.name != TENANT_LABEL)
            .map(|l| (l.name, l.value))
            .collect();
        pairs.push((TENANT_LABEL.into(), t.as_str().into()));
        Labels::from_pairs(pairs)
    }

    /// Binds already parsed matchers to this scope (policy checked and
    /// appended): the storage matchers. Owners use it on reads forwarded
    /// by another node.
    pub fn bind_matchers(&self, user: Vec<Matcher>) -> Result<Vec<Matcher>, QueryError> {
        Ok(self.bind(user)?.matchers)
    }

    /// Parses a series selector and binds it to this scope: the storage
    /// matchers, policy applied (for endpoints that walk storage directly).
    pub fn bind_selector(&self, text: &str) -> Result<Vec<Matcher>, QueryError> {
        Ok(self.bind(super::plan::parse_selector(text)?)?.matchers)
    }

    /// Raw samples in `[start, end]` of every series matching `user`, the
    /// policy applied as for any selector, from each tenant the scope reads
    /// (with `__tenant_id__` when federated): remote read's walk. `f`
    /// returns false to stop.
    pub fn select_samples(
        &self,
        user: Vec<Matcher>,
        start: i64,
        end: i64,
        mut f: impl FnMut(Labels, Vec<crate::model::Sample>) -> bool,
    ) -> Result<(), QueryError> {
        let b = self.bind(user)?;
        for t in self.tenants_for(&b) {
            let mut go = true;
            self.source
                .reader(t, start, end)
                .select_each_st(&b.matchers, false, &mut |l, v| {
                    // Float samples only: remote read carries no native
                    // histograms here yet.
                    if v.samples.is_empty() {
                        return true;
                    }
                    go = f(self.tag(l, t), v.samples);
                    go
                })
                .map_err(storage_err)?;
            if !go {
                break;
            }
        }
        Ok(())
    }

    /// Binds the `match[]` selectors of a metadata request; none means
    /// "everything the policy allows".
    fn bind_sets(&self, selectors: &[&str]) -> Result<Vec<Bound>, QueryError> {
        if selectors.is_empty() {
            return Ok(vec![self.bind(Vec::new())?]);
        }
        selectors
            .iter()
            .map(|s| self.bind(super::plan::parse_selector(s)?))
            .collect()
    }

    /// Label sets of series matching any of `selectors` in `[start, end]`.
    pub fn series(
        &self,
        selectors: &[&str],
        start: i64,
        end: i64,
    ) -> Result<Vec<Labels>, QueryError> {
        // Each querier answers in label order already, so one selector of
        // one tenant needs no reordering: the sort only merges several.
        let mut out = Vec::new();
        self.each_querier(selectors, start, end, |t, m, q| {
            let found = q.select_labels(m).map_err(storage_err)?;
            out.extend(found.into_iter().map(|l| self.tag(l, t)));
            Ok(())
        })?;
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// Label names of series matching any of `selectors` (all, if none).
    pub fn label_names(
        &self,
        selectors: &[&str],
        start: i64,
        end: i64,
    ) -> Result<Vec<String>, QueryError> {
        let mut out = BTreeSet::new();
        self.each_querier(selectors, start, end, |_, m, q| {
            out.extend(q.label_names(m, None).map_err(storage_err)?);
            if self.is_federated() {
                out.insert(TENANT_LABEL.to_string());
            }
            Ok(())
        })?;
        Ok(out.into_iter().collect())
    }

    /// Values of `name` on series matching any of `selectors` (all, if none).
    pub fn label_values(
        &self,
        name: &str,
        selectors: &[&str],
        start: i64,
        end: i64,
    ) -> Result<Vec<String>, QueryError> {
        let mut out = BTreeSet::new();
        self.each_querier(selectors, start, end, |t, m, q| {
            if self.is_federated() && name == TENANT_LABEL {
                out.insert(t.as_str().to_string());
            } else {
                out.extend(q.label_values(name, m, None).map_err(storage_err)?);
            }
            Ok(())
        })?;
        Ok(out.into_iter().collect())
    }

    /// Calls `f` with a querier over `[start, end]` for each bound selector
    /// and each tenant it reads, with the selector's storage matchers.
    fn each_querier(
        &self,
        selectors: &[&str],
        start: i64,
        end: i64,
        mut f: impl FnMut(
            &TenantId,
            &[Matcher],
            Box<dyn crate::storage::TenantReader + '_>,
        ) -> Result<(), QueryError>,
    ) -> Result<(), QueryError> {
        for b in self.bind_sets(selectors)? {
            for t in self.tenants_for(&b) {
                f(t, &b.matchers, self.source.reader(t, start, end))?;
            }
        }
        Ok(())
    }
}

fn storage_err(e: crate::storage::StorageError) -> QueryError {
    QueryError::from(e)
}

/// Whether a matcher on a restricted label stays inside `allowed`: `=` an
/// allowed value, or `=~` an alternation of allowed plain values. Anything
/// else (`!=`, `!~`, other regexes) could widen the set and is refused.
fn check_restricted(m: &Matcher, allowed: &[String]) -> Result<(), QueryError> {
    let deny = |why: &str| {
        Err(QueryError::Forbidden(format!(
            "matcher {}{}{:?} on restricted label {:?} is not allowed: {why}",
            m.name,
            op_str(m.op),
            m.value,
            m.name
        )))
    };
    match m.op {
        MatchOp::Equal if allowed.contains(&m.value) => Ok(()),
        MatchOp::Equal => deny("the value is not in the caller's allowed set"),
        MatchOp::Regex => {
            let Some(values) = plain_alternation(&m.value) else {
                return deny("only an alternation of plain values (a|b) may be used");
            };
            if values.iter().any(|v| !allowed.contains(v)) {
                return deny("a value is not in the caller's allowed set");
            }
            Ok(())
        }
        MatchOp::NotEqual | MatchOp::NotRegex => deny("only = and =~ may be used"),
    }
}

fn op_str(op: MatchOp) -> &'static str {
    match op {
        MatchOp::Equal => "=",
        MatchOp::NotEqual => "!=",
        MatchOp::Regex => "=~",
        MatchOp::NotRegex => "!~",
    }
}

/// Splits `a|b|c` into its values if no part uses a regex operator;
/// escaped punctuation such as `a\.b` is the literal character.
fn plain_alternation(re: &str) -> Option<Vec<String>> {
    let mut out = vec![String::new()];
    let mut chars = re.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e) if e.is_ascii_punctuation() => out.last_mut()?.push(e),
                _ => return None,
            },
            '|' => out.push(String::new()),
            '.' | '+' | '*' | '?' | '(' | ')' | '[' | ']' | '{' | '}' | '^' | '$' => return None,
            c => out.last_mut()?.push(c),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(op: MatchOp, v: &str) -> Matcher {
        Matcher::new(op, "org", v).unwrap()
    }

    #[test]
    fn restricted_label_matchers() {
        let allowed = vec!["a".to_string(), "b".to_string()];
        let ok = [
            m(MatchOp::Equal, "a"),
            m(MatchOp::Regex, "a|b"),
            m(MatchOp::Regex, "b"),
        ];
        for x in &ok {
            assert!(check_restricted(x, &allowed).is_ok(), "{x:?}");
        }
        let bad = [
            m(MatchOp::Equal, "c"),
            m(MatchOp::Equal, ""),
            m(MatchOp::Regex, ".*"),
            m(MatchOp::Regex, "a|.*"),
            m(MatchOp::Regex, "(?i)A"),
            m(MatchOp::Regex, "a|c"),
            m(MatchOp::Regex, "a|"),
            m(MatchOp::Regex, ""),
            m(MatchOp::Regex, "c.d"),
            m(MatchOp::NotEqual, ""),
            m(MatchOp::NotRegex, "c"),
        ];
        for x in &bad {
            let e = check_restricted(x, &allowed).unwrap_err();
            assert!(matches!(e, QueryError::Forbidden(_)), "{x:?}");
        }
    }
}
