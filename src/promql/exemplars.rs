//! What `/api/v1/query_exemplars` reads: the selectors of a query, each
//! bound to the caller's scope like any other selector, then the
//! exemplars of the series they match.

use std::collections::BTreeMap;

use super::error::QueryError;
use super::parser::{Expr, VectorSelector};
use super::plan::{convert, storage_matcher};
use super::scope::TenantScope;
use crate::model::{Exemplar, Labels};
use crate::storage::index::{MatchOp, Matcher};

/// The label matchers of every vector selector in `query` (those inside
/// range selectors and subqueries included), in the order written, as
/// Prometheus' `parser.ExtractSelectors` gives them.
pub fn query_selectors(query: &str) -> Result<Vec<Vec<Matcher>>, QueryError> {
    let expr = super::parse_query(query)?;
    let mut found: Vec<&VectorSelector> = Vec::new();
    collect(&expr, &mut found);
    found.into_iter().map(selector_matchers).collect()
}

fn selector_matchers(vs: &VectorSelector) -> Result<Vec<Matcher>, QueryError> {
    let mut out = Vec::with_capacity(vs.matchers.len() + 1);
    if !vs.name.is_empty() {
        out.push(storage_matcher(MatchOp::Equal, "__name__", &vs.name)?);
    }
    for m in &vs.matchers {
        out.push(convert(m)?);
    }
    Ok(out)
}

fn collect<'e>(e: &'e Expr, out: &mut Vec<&'e VectorSelector>) {
    match e {
        Expr::Number(_) | Expr::String(_) => {}
        Expr::Vector(vs) => out.push(vs),
        Expr::Matrix(m) => out.push(&m.vs),
        Expr::Subquery(s) => collect(&s.expr, out),
        Expr::Paren(p) => collect(&p.expr, out),
        Expr::Unary(u) => collect(&u.expr, out),
        Expr::Binary(b) => {
            collect(&b.lhs, out);
            collect(&b.rhs, out);
        }
        Expr::Aggregate(a) => {
            if let Some(p) = &a.param {
                collect(p, out);
            }
            collect(&a.expr, out);
        }
        Expr::Call(c) => c.args.iter().for_each(|a| collect(a, out)),
    }
}

impl TenantScope<'_> {
    /// Exemplars in `[start, end]` (ms) of the series any of `selectors`
    /// matches, each selector checked against and narrowed by the caller's
    /// policy, from each tenant in scope (series get `__tenant_id__` when
    /// federated). Series come back in label order, each once.
    pub fn select_exemplars(
        &self,
        selectors: Vec<Vec<Matcher>>,
        start: i64,
        end: i64,
    ) -> Result<Vec<(Labels, Vec<Exemplar>)>, QueryError> {
        let mut out: BTreeMap<Labels, Vec<Exemplar>> = BTreeMap::new();
        for user in selectors {
            let b = self.bind(user)?;
            for t in self.tenants_for(&b) {
                let found = self
                    .source
                    .exemplars(t, &b.matchers, start, end)
                    .map_err(QueryError::from)?;
                for s in found {
                    out.entry(self.tag(s.labels, t)).or_insert(s.exemplars);
                }
            }
        }
        Ok(out.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(q: &str) -> Vec<String> {
        query_selectors(q)
            .unwrap()
            .iter()
            .map(|ms| {
                ms.iter()
                    .map(|m| format!("{}={}", m.name, m.value))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .collect()
    }

    #[test]
    fn selectors_come_from_every_part_of_the_query() {
        assert_eq!(names("up"), ["__name__=up"]);
        assert_eq!(
            names("sum by (x) (rate(a{j=\"1\"}[5m])) / on() b + count_values(\"v\", max_over_time(c[1h:1m]))"),
            ["__name__=a,j=1", "__name__=b", "__name__=c"]
        );
        assert!(names("1 + 2").is_empty());
        assert!(query_selectors("up{").is_err());
    }
}
