//! PromQL: parsing (our own parser, `parser/`), tenant-scoped planning and
//! vectorised evaluation.
//!
//! The public face is [`Engine`]: it takes a [`TenantScope`] (one tenant's
//! storage partition plus the caller's forced matchers) and a query string,
//! and returns a [`QueryOutput`] or a [`QueryError`]. There is no way to
//! evaluate a selector without a scope: the planner binds every selector to
//! the scope's tenant and appends the forced matchers before any data is read.

pub mod cache;
mod error;
mod eval;
mod exemplars;
pub(crate) mod functions;
mod limits;
pub mod parser;
mod plan;
mod runner;
mod scope;
mod value;

pub use error::{Annotations, QueryError};
pub use exemplars::query_selectors;
pub use limits::QUERY_STACK_BYTES;
pub use runner::{Cancel, CancelOnDrop, QueryPool, DEFAULT_MAX_CONCURRENCY};
pub use scope::{TenantScope, TENANT_LABEL};
pub(crate) use value::{format_value, write_value};
pub use value::{InstantSample, QueryOutput, RangeSeries, Value};

use std::time::Duration;

use crate::storage::index::Matcher;

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

/// The PromQL engine. Cheap to share; holds only settings and the flag
/// that stops its queries.
#[derive(Debug, Clone, Default)]
pub struct Engine {
    cfg: EngineConfig,
    cancel: Cancel,
}

impl Engine {
    /// An engine with `cfg`.
    pub fn new(cfg: EngineConfig) -> Engine {
        Engine {
            cfg,
            cancel: Cancel::new(),
        }
    }

    /// This engine, stopping its queries with [`QueryError::Canceled`] once
    /// `cancel` is set (checked between nodes and between series).
    pub fn with_cancel(mut self, cancel: Cancel) -> Engine {
        self.cancel = cancel;
        self
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
        expr: &parser::Expr,
        time_ms: i64,
    ) -> Result<QueryOutput, QueryError> {
        let text = expr.to_string();
        self.run(scope, expr, &text, time_ms, time_ms, None)
    }

    /// [`Engine::range_query`] for an already parsed expression.
    pub fn range_query_expr(
        &self,
        scope: &TenantScope<'_>,
        expr: &parser::Expr,
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
        expr: &parser::Expr,
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
        let bounds = plan::Bounds {
            start,
            end,
            step: step.unwrap_or(0),
        };
        let node = plan::plan(expr, scope, bounds)?;
        let grid = eval::Grid {
            start,
            end,
            step: step.unwrap_or(1),
        };
        eval::run(
            scope,
            &self.cfg,
            &self.cancel,
            &node,
            grid,
            text,
            step.is_some(),
        )
    }
}

/// Parses a series selector such as `up{job="api"}` (the `match[]`
/// parameter) into storage matchers; anything else is `bad_data`.
pub fn parse_selector(text: &str) -> Result<Vec<Matcher>, QueryError> {
    plan::parse_selector(text)
}

/// Formats a query the way Prometheus's `/api/v1/format_query` does.
pub fn format_query(text: &str) -> Result<String, QueryError> {
    Ok(parser::prettify(&parse(text)?))
}

/// Parses a query exactly as the query endpoints do: string literals must
/// spell UTF-8, then the parser builds the AST. Callers that rewrite ASTs
/// and evaluate them with [`Engine::instant_query_expr`] (the conformance
/// runner's `@` variants) parse through here, so they never rewrite a
/// query the engine refuses as text.
pub fn parse_query(query: &str) -> Result<parser::Expr, QueryError> {
    parse(query)
}

/// Parses a query; a syntax error is `bad_data`. String literals whose
/// escapes spell invalid UTF-8 (`"\xff"`) are refused by the parser: labels
/// here are always UTF-8, and Prometheus refuses such names later anyway.
fn parse(query: &str) -> Result<parser::Expr, QueryError> {
    parser::parse(query).map_err(|e| QueryError::BadData(e.to_string()))
}
