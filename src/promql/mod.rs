//! PromQL: parsing (the `promql-parser` crate), tenant-scoped planning and
//! vectorised evaluation.
//!
//! The public face is [`Engine`]: it takes a [`TenantScope`] (one tenant's
//! storage partition plus the caller's forced matchers) and a query string,
//! and returns a [`QueryOutput`] or a [`QueryError`]. There is no way to
//! evaluate a selector without a scope: the planner binds every selector to
//! the scope's tenant and appends the forced matchers before any data is read.

mod error;
mod eval;
pub(crate) mod functions;
mod plan;
mod value;

pub use error::{Annotations, QueryError};
pub use value::{InstantSample, QueryOutput, RangeSeries, Value};

use std::time::Duration;

use crate::storage::index::Matcher;
use crate::storage::Storage;
use crate::tenant::TenantId;

/// Engine settings. The defaults are Prometheus's.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// How far back an instant selector looks for a sample (`--query.lookback-delta`, 5m).
    pub lookback_delta_ms: i64,
    /// Most samples a query may hold in memory at once (`--query.max-samples`, 50M).
    pub max_samples: usize,
    /// Most series a single selector may return (0 = unlimited).
    pub max_series: usize,
    /// Wall-clock limit for one query (`--query.timeout`, 2m).
    pub timeout: Duration,
    /// Subquery step when none is given (Prometheus uses the global evaluation interval, 1m).
    pub default_subquery_step_ms: i64,
}

impl Default for EngineConfig {
    fn default() -> EngineConfig {
        EngineConfig {
            lookback_delta_ms: 5 * 60 * 1000,
            max_samples: 50_000_000,
            max_series: 0,
            timeout: Duration::from_secs(120),
            default_subquery_step_ms: 60 * 1000,
        }
    }
}

/// What a query may read: one tenant's partition of `storage`, narrowed by
/// the caller's forced matchers (from its access policy; empty by default).
pub struct TenantScope<'a> {
    storage: &'a Storage,
    tenant: TenantId,
    forced: Vec<Matcher>,
}

impl<'a> TenantScope<'a> {
    /// A scope over `tenant`'s data with no forced matchers.
    pub fn new(storage: &'a Storage, tenant: TenantId) -> TenantScope<'a> {
        TenantScope {
            storage,
            tenant,
            forced: Vec::new(),
        }
    }

    /// Adds matchers that the planner appends to every selector.
    pub fn with_forced_matchers(mut self, forced: Vec<Matcher>) -> TenantScope<'a> {
        self.forced.extend(forced);
        self
    }

    /// The tenant every selector is bound to.
    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    /// The forced matchers.
    pub fn forced_matchers(&self) -> &[Matcher] {
        &self.forced
    }
}

/// The PromQL engine. Cheap to share; holds only settings.
#[derive(Debug, Clone, Default)]
pub struct Engine {
    cfg: EngineConfig,
}

impl Engine {
    /// An engine with `cfg`.
    pub fn new(cfg: EngineConfig) -> Engine {
        Engine { cfg }
    }

    /// The settings.
    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    /// Evaluates `query` at `time_ms` (an instant query, `/api/v1/query`).
    pub fn instant_query(
        &self,
        scope: &TenantScope<'_>,
        query: &str,
        time_ms: i64,
    ) -> Result<QueryOutput, QueryError> {
        let expr = parse(query)?;
        self.run(scope, &expr, query, time_ms, time_ms, None)
    }

    /// Evaluates `query` at every step from `start_ms` to `end_ms` (a range
    /// query, `/api/v1/query_range`). The result is a matrix (or an error).
    pub fn range_query(
        &self,
        scope: &TenantScope<'_>,
        query: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<QueryOutput, QueryError> {
        let expr = parse(query)?;
        self.run(scope, &expr, query, start_ms, end_ms, Some(step_ms))
    }

    /// [`Engine::instant_query`] for an already parsed expression (the
    /// conformance runner rewrites ASTs, e.g. to add `@` modifiers).
    pub fn instant_query_expr(
        &self,
        scope: &TenantScope<'_>,
        expr: &promql_parser::parser::Expr,
        time_ms: i64,
    ) -> Result<QueryOutput, QueryError> {
        let text = expr.to_string();
        self.run(scope, expr, &text, time_ms, time_ms, None)
    }

    /// [`Engine::range_query`] for an already parsed expression.
    pub fn range_query_expr(
        &self,
        scope: &TenantScope<'_>,
        expr: &promql_parser::parser::Expr,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<QueryOutput, QueryError> {
        let text = expr.to_string();
        self.run(scope, expr, &text, start_ms, end_ms, Some(step_ms))
    }

    fn run(
        &self,
        scope: &TenantScope<'_>,
        expr: &promql_parser::parser::Expr,
        text: &str,
        start: i64,
        end: i64,
        step: Option<i64>,
    ) -> Result<QueryOutput, QueryError> {
        if let Some(step) = step {
            if step <= 0 {
                return Err(QueryError::BadData(
                    "zero or negative query resolution step widths are not accepted. Try a positive integer".into(),
                ));
            }
            if end < start {
                return Err(QueryError::BadData(
                    "end timestamp must not be before start time".into(),
                ));
            }
        }
        let node = plan::plan(expr, scope, plan::Bounds { start, end })?;
        let grid = eval::Grid {
            start,
            end,
            step: step.unwrap_or(1),
        };
        eval::run(scope, &self.cfg, &node, grid, text, step.is_some())
    }
}

/// Parses a series selector such as `up{job="api"}` (the `match[]`
/// parameter) into storage matchers; anything else is `bad_data`.
pub fn parse_selector(text: &str) -> Result<Vec<Matcher>, QueryError> {
    plan::parse_selector(text)
}

/// Formats a query the way Prometheus's `/api/v1/format_query` does.
pub fn format_query(text: &str) -> Result<String, QueryError> {
    Ok(parse(text)?.prettify())
}

/// Parses a query; a syntax error is `bad_data`.
fn parse(query: &str) -> Result<promql_parser::parser::Expr, QueryError> {
    promql_parser::parser::parse(query)
        .map_err(|e| QueryError::BadData(format!("parse error: {e}")))
}
