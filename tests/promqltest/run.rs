//! Running scripts against real storage and the engine. Each `clear`
//! section gets its own tenant, so sections never see each other's data.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;
use std::time::Duration;

use tessera::model::{HistogramSample, LabelRef, Sample};
use tessera::promql::parser::Expr;
use tessera::promql::{Engine, EngineConfig, QueryError, QueryOutput, TenantScope, Value};
use tessera::storage::{SeriesInput, Storage, StorageConfig, SyncPolicy, TenantConfig};
use tessera::tenant::TenantId;

use super::compare::{self, check_annotations, check_failure, compare, error_text};
use super::exprs;
use super::nhcb;
use super::script::{parse_script, Command, Eval, EvalKind, Load};
use super::values::{LabelSet, SeqValue};

/// How one eval ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The main query and all extra checks passed.
    Pass,
    /// Something failed.
    Fail {
        /// Why.
        msg: String,
        /// The main query passed; an `@` variant or range-mode check failed.
        extra_only: bool,
        /// The engine panicked.
        panic: bool,
    },
    /// Not judged, with the reason.
    Skip(String),
}

/// One eval's result.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// 1-based line.
    pub line: usize,
    /// The expression.
    pub expr: String,
    /// The outcome.
    pub outcome: Outcome,
}

/// Everything that happened in one file.
#[derive(Debug, Default)]
pub struct FileReport {
    /// File name.
    pub name: String,
    /// One entry per eval.
    pub cases: Vec<CaseResult>,
    /// Float samples stored.
    pub samples_loaded: u64,
    /// Samples storage refused, by reason.
    pub rejected: BTreeMap<String, u64>,
    /// Histogram samples loaded (including NHCB series built from classic ones).
    pub histogram_samples: u64,
    /// Lines the script parser could not read.
    pub invalid_lines: Vec<(usize, String)>,
}

/// Engine settings of upstream `NewTestEngine`.
fn engine_config() -> EngineConfig {
    EngineConfig {
        lookback_delta_ms: 5 * 60 * 1000,
        max_samples: 10_000,
        max_series: 0,
        timeout: Duration::from_secs(100),
        default_subquery_step_ms: 60 * 1000,
    }
}

/// Storage shared by every file; sections differ by tenant.
pub struct Runner {
    storage: Storage,
    engine: Engine,
    next_tenant: usize,
    _dir: tempfile::TempDir,
}

/// The data state of the current `clear` section.
struct Section {
    tenant: TenantId,
}

impl Runner {
    /// Opens storage that accepts everything the scripts load: scripts add
    /// earlier samples in later `load` commands, so the out-of-order window
    /// covers all time, and nothing is flushed or compacted behind our back.
    pub fn new() -> Runner {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut cfg = StorageConfig::new(dir.path());
        cfg.maintenance_interval = None;
        cfg.wal.sync = SyncPolicy::None;
        cfg.block_range_ms = 1 << 40;
        cfg.tenant_defaults = TenantConfig {
            ooo_window_ms: i64::MAX / 4,
            ..TenantConfig::default()
        };
        let (storage, _) = Storage::open(cfg).expect("open storage");
        Runner {
            storage,
            engine: Engine::new(engine_config()),
            next_tenant: 0,
            _dir: dir,
        }
    }

    fn new_section(&mut self) -> Section {
        self.next_tenant += 1;
        let id = format!("promqltest-{}", self.next_tenant);
        Section {
            tenant: TenantId::new(&id).expect("valid tenant id"),
        }
    }

    /// Runs every command of one script.
    pub fn run_file(&mut self, name: &str, text: &str) -> FileReport {
        let mut rep = FileReport {
            name: name.to_string(),
            ..FileReport::default()
        };
        let mut sec = self.new_section();
        for cmd in parse_script(text) {
            match cmd {
                Command::Clear => sec = self.new_section(),
                Command::Load(l) => self.load(&mut sec, &l, &mut rep),
                Command::Invalid { line, msg } => rep.invalid_lines.push((line, msg)),
                Command::Eval(ev) => {
                    let outcome = self.eval(&sec, &ev);
                    rep.cases.push(CaseResult {
                        line: ev.line,
                        expr: ev.expr.clone(),
                        outcome,
                    });
                }
            }
        }
        rep
    }

    /// Appends a load command's samples and histograms, with the start
    /// timestamps of `@st` lines (upstream `loadCmd.set`: sample time plus
    /// offset), in one batch; with `load_with_nhcb`, also the NHCB series
    /// built from classic histogram series (`appendCustomHistogram`).
    fn load(&self, sec: &mut Section, l: &Load, rep: &mut FileReport) {
        let mut owned: Vec<(LabelSet, Vec<Sample>, Vec<HistogramSample>)> = Vec::new();
        let mut sts: Vec<Vec<i64>> = Vec::new();
        for s in &l.series {
            let mut samples = Vec::new();
            let mut hists = Vec::new();
            let (mut st, mut hist_st) = (Vec::new(), Vec::new());
            for (i, v) in s.values.iter().enumerate() {
                let t = (i as i64).saturating_mul(l.interval_ms);
                let offset = s
                    .st_offsets
                    .as_ref()
                    .and_then(|o| o.get(i).copied().flatten());
                match v {
                    SeqValue::Float(f) => {
                        samples.push(Sample::new(t, *f));
                        st.push(offset.map_or(0, |o| t + o));
                    }
                    SeqValue::Histogram(h) => {
                        hists.push(HistogramSample { t, h: h.to_model() });
                        hist_st.push(offset.map_or(0, |o| t + o));
                    }
                    SeqValue::Omitted => {}
                }
            }
            // The storage API takes the histograms' start timestamps after
            // the samples'.
            st.extend(hist_st);
            rep.histogram_samples += hists.len() as u64;
            owned.push((s.labels.clone(), samples, hists));
            sts.push(st);
        }
        if l.with_nhcb {
            self.add_nhcb(&mut owned, &mut sts, l, rep);
        }
        let refs: Vec<Vec<LabelRef>> = owned
            .iter()
            .map(|(ls, _, _)| ls.iter().map(|(n, v)| LabelRef::new(n, v)).collect())
            .collect();
        let batch: Vec<SeriesInput> = refs
            .iter()
            .zip(&owned)
            .map(|(labels, (_, samples, histograms))| SeriesInput {
                labels,
                samples,
                histograms,
            })
            .collect();
        let st_refs: Vec<&[i64]> = sts.iter().map(Vec::as_slice).collect();
        match self
            .storage
            .append_with_start_times(&sec.tenant, &batch, &st_refs)
        {
            Ok(out) => {
                rep.samples_loaded += out.accepted + out.duplicates_ignored;
                for (reason, n) in out.rejected_by_reason {
                    *rep.rejected.entry(reason.to_string()).or_default() += n;
                }
            }
            Err(e) => {
                let total: usize = owned.iter().map(|(_, s, h)| s.len() + h.len()).sum();
                let key = format!("append error (load at line {}): {e}", l.line);
                *rep.rejected.entry(key).or_default() += total as u64;
            }
        }
    }

    /// Adds the NHCB series of a `load_with_nhcb` command to the batch.
    fn add_nhcb(
        &self,
        owned: &mut Vec<(LabelSet, Vec<Sample>, Vec<HistogramSample>)>,
        sts: &mut Vec<Vec<i64>>,
        l: &Load,
        rep: &mut FileReport,
    ) {
        let classic: Vec<(LabelSet, Vec<(i64, f64)>)> = owned
            .iter()
            .map(|(ls, s, _)| (ls.clone(), s.iter().map(|x| (x.t, x.v)).collect()))
            .collect();
        for (base, hs) in nhcb::convert(&classic) {
            match hs {
                Ok(hs) => {
                    let hs: Vec<HistogramSample> = hs
                        .into_iter()
                        .map(|(t, h)| HistogramSample { t, h: h.to_model() })
                        .collect();
                    rep.histogram_samples += hs.len() as u64;
                    owned.push((base, Vec::new(), hs));
                    sts.push(Vec::new());
                }
                Err(e) => {
                    let key = format!("NHCB conversion (load at line {}): {e}", l.line);
                    *rep.rejected.entry(key).or_default() += 1;
                }
            }
        }
    }

    fn scope(&self, sec: &Section) -> TenantScope<'_> {
        TenantScope::new(&self.storage, sec.tenant.clone())
    }

    /// Judges one eval command.
    fn eval(&self, sec: &Section, ev: &Eval) -> Outcome {
        unsupported_to_skip(self.eval_inner(sec, ev))
    }

    fn eval_inner(&self, sec: &Section, ev: &Eval) -> Outcome {
        // Through the engine's own parse entry point, so the AST that the
        // `@` variants rewrite is one the engine accepts as text.
        let parsed = guarded(|| {
            tessera::promql::parse_query(&ev.expr).map_err(|e| match e {
                // The crate's own message, as skip reasons group by it.
                QueryError::BadData(m) => m.strip_prefix("parse error: ").unwrap_or(&m).to_string(),
                other => error_text(&other),
            })
        })
        .unwrap_or_else(|p| Err(format!("parser panicked: {p}")));
        let ast = match parsed {
            Ok(ast) => ast,
            Err(e) if ev.is_fail() => return self.expected_failure_unparsed(sec, ev, &e),
            Err(e) => return Outcome::Skip(exprs::unparsed_reason(&ev.expr, &e)),
        };
        let scope = self.scope(sec);
        let ctx = Ctx {
            engine: &self.engine,
            scope: &scope,
            ev,
        };
        let outcome = match ev.kind {
            EvalKind::Range { start, end, step } => ctx.range_eval(start, end, step),
            EvalKind::Instant(t) => ctx.instant_eval(&ast, t),
        };
        outcome
    }

    /// The crate cannot parse an expression upstream expects to fail: the
    /// case passes if the engine refuses it with a matching message.
    fn expected_failure_unparsed(&self, sec: &Section, ev: &Eval, parse_err: &str) -> Outcome {
        let scope = self.scope(sec);
        let ctx = Ctx {
            engine: &self.engine,
            scope: &scope,
            ev,
        };
        let res = match ev.kind {
            EvalKind::Instant(t) => {
                let t = ev.expect_range.map_or(t, |r| r.1);
                guarded(|| ctx.engine.instant_query(ctx.scope, &ev.expr, t))
            }
            EvalKind::Range { start, end, step } => guarded(|| {
                ctx.engine
                    .range_query(ctx.scope, &ev.expr, start, end, step)
            }),
        };
        match res {
            Err(p) => fail_panic(p, false),
            Ok(Ok(_)) => fail(
                format!("expected error (crate: {parse_err}) but got none"),
                false,
            ),
            Ok(Err(e)) => match check_failure(ev, &error_text(&e)) {
                Ok(()) => Outcome::Pass,
                // Upstream's message comes from a construct the crate cannot
                // parse, so ours cannot match it: skip, naming the construct.
                Err(m) => {
                    let reason = exprs::unparsed_reason(&ev.expr, parse_err);
                    if reason.starts_with("unparsed:") {
                        fail(m, false)
                    } else {
                        Outcome::Skip(reason)
                    }
                }
            },
        }
    }
}

/// Marks what the engine refuses as not supported yet for native
/// histograms as a skip, named by the construct it names.
fn unsupported_to_skip(o: Outcome) -> Outcome {
    const MARK: &str = "PromQL over native histograms: ";
    match &o {
        Outcome::Fail {
            msg, panic: false, ..
        } if msg.contains(MARK) => {
            let what = msg.split(MARK).nth(1).unwrap_or("");
            let what = what.split(" is not supported yet").next().unwrap_or(what);
            Outcome::Skip(format!("native histograms: {what} not supported"))
        }
        _ => o,
    }
}

fn fail(msg: String, extra_only: bool) -> Outcome {
    Outcome::Fail {
        msg,
        extra_only,
        panic: false,
    }
}

fn fail_panic(msg: String, extra_only: bool) -> Outcome {
    Outcome::Fail {
        msg: format!("panic: {msg}"),
        extra_only,
        panic: true,
    }
}

thread_local! {
    /// Set while an engine call runs, so the panic hook stays quiet for it.
    static GUARDED: RefCell<bool> = const { RefCell::new(false) };
}

/// Runs `f`, turning a panic into `Err(message)` without printing it
/// (thousands of identical backtraces would bury the table).
pub fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !GUARDED.with(|g| *g.borrow()) {
                default(info);
            }
        }));
    });
    GUARDED.with(|g| *g.borrow_mut() = true);
    let r = panic::catch_unwind(AssertUnwindSafe(f));
    GUARDED.with(|g| *g.borrow_mut() = false);
    r.map_err(|p| {
        p.downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(non-string panic payload)".into())
    })
}

/// What a query step produced: a panic, or the engine's answer.
type Answer = Result<Result<QueryOutput, QueryError>, String>;

/// One eval's execution context.
struct Ctx<'a> {
    engine: &'a Engine,
    scope: &'a TenantScope<'a>,
    ev: &'a Eval,
}

/// Why a step failed, and whether it was a panic.
struct StepFail {
    msg: String,
    panic: bool,
}

impl StepFail {
    fn msg(msg: String) -> StepFail {
        StepFail { msg, panic: false }
    }

    fn into_outcome(self, extra_only: bool) -> Outcome {
        if self.panic {
            fail_panic(self.msg, extra_only)
        } else {
            fail(self.msg, extra_only)
        }
    }
}

impl Ctx<'_> {
    /// Upstream `execRangeEval`.
    fn range_eval(&self, start: i64, end: i64, step: i64) -> Outcome {
        let ans = guarded(|| {
            self.engine
                .range_query(self.scope, &self.ev.expr, start, end, step)
        });
        match self.judge(ans) {
            Ok(_) => Outcome::Pass,
            Err(f) => f.into_outcome(false),
        }
    }

    /// Checks an answer against the eval (error expectations, annotations,
    /// value). Returns the value when the query succeeded as expected.
    fn judge(&self, ans: Answer) -> Result<Option<Value>, StepFail> {
        let res = ans.map_err(|p| StepFail {
            msg: p,
            panic: true,
        })?;
        let out = match res {
            // What the engine does not support yet is never an expected
            // failure: it becomes a skip, whatever the case expects.
            Err(e @ QueryError::Unsupported(_)) => {
                return Err(StepFail::msg(format!("query error: {e}")))
            }
            Err(e) if self.ev.is_fail() => {
                return check_failure(self.ev, &error_text(&e))
                    .map(|_| None)
                    .map_err(StepFail::msg)
            }
            Err(e) => return Err(StepFail::msg(format!("query error: {e}"))),
            Ok(_) if self.ev.is_fail() => {
                return Err(StepFail::msg("expected an error but got none".into()))
            }
            Ok(out) => out,
        };
        check_annotations(self.ev, &out.annotations).map_err(StepFail::msg)?;
        compare(self.ev, &out.value).map_err(|m| {
            StepFail::msg(format!(
                "{m}\n    want: {}\n    got: {}",
                compare::fmt_expected(self.ev),
                compare::fmt_value(&out.value)
            ))
        })?;
        Ok(Some(out.value))
    }

    /// Upstream `execInstantEval`: the query, its range-mode check, then
    /// the `@` variants with theirs.
    fn instant_eval(&self, ast: &Expr, t: i64) -> Outcome {
        // `expect range vector` evaluates at the end of that range.
        let t = self.ev.expect_range.map_or(t, |r| r.1);
        let ans = guarded(|| self.engine.instant_query(self.scope, &self.ev.expr, t));
        let value = match self.judge(ans) {
            Ok(Some(v)) => v,
            Ok(None) => return self.at_checks(ast, t).unwrap_or(Outcome::Pass),
            Err(f) => return f.into_outcome(false),
        };
        let text = &self.ev.expr;
        if let Err(f) = self.range_mode(text, None, t, &value) {
            return StepFail {
                msg: format!("range mode: {}", f.msg),
                panic: f.panic,
            }
            .into_outcome(true);
        }
        self.at_checks(ast, t).unwrap_or(Outcome::Pass)
    }

    /// Runs the `@`-pinned variants; `None` when all pass or are skipped.
    fn at_checks(&self, ast: &Expr, t: i64) -> Option<Outcome> {
        let (pinned, times) = exprs::at_variants(ast, t)?;
        let text = pinned.to_string();
        for at in times {
            let ans = guarded(|| self.engine.instant_query_expr(self.scope, &pinned, at));
            let r = self.judge(ans).and_then(|v| match v {
                Some(v) => self.range_mode(&text, Some(&pinned), at, &v),
                None => Ok(()),
            });
            if let Err(f) = r {
                let msg = format!("@ {t} variant evaluated at {at}: {}", f.msg);
                return Some(
                    StepFail {
                        msg,
                        panic: f.panic,
                    }
                    .into_outcome(true),
                );
            }
        }
        None
    }

    /// Upstream's range-mode check: the query over [t-1m, t+1m] step 1m
    /// must give the instant result at its middle step.
    fn range_mode(
        &self,
        text: &str,
        pinned: Option<&Expr>,
        t: i64,
        instant: &Value,
    ) -> Result<(), StepFail> {
        if self.ev.exclude_from_range_mode() || exprs::uses_query_context(text) {
            return Ok(());
        }
        let (s, e) = (t - 60_000, t + 60_000);
        let ans = guarded(|| match pinned {
            Some(p) => self.engine.range_query_expr(self.scope, p, s, e, 60_000),
            None => self.engine.range_query(self.scope, text, s, e, 60_000),
        });
        let out = ans
            .map_err(|p| StepFail {
                msg: p,
                panic: true,
            })?
            .map_err(|e| StepFail::msg(format!("query error: {e}")))?;
        if self.ev.is_ordered() {
            return Ok(());
        }
        let Value::Matrix(m) = &out.value else {
            return Err(StepFail::msg(format!(
                "range query returned {}",
                compare::fmt_value(&out.value)
            )));
        };
        compare::check_sorted(m).map_err(StepFail::msg)?;
        let vec: Vec<tessera::promql::InstantSample> = m
            .iter()
            .filter_map(|s| {
                if let Some(h) = s.histograms.iter().find(|p| p.t == t) {
                    return Some(tessera::promql::InstantSample {
                        labels: s.labels.clone(),
                        t,
                        v: 0.0,
                        histogram: Some(h.h.clone()),
                    });
                }
                let p = s.samples.iter().find(|p| p.t == t)?;
                Some(tessera::promql::InstantSample {
                    labels: s.labels.clone(),
                    t,
                    v: p.v,
                    histogram: None,
                })
            })
            .collect();
        let mid = match instant {
            Value::Scalar { .. } => match vec.first() {
                Some(p) => Value::Scalar { t, v: p.v },
                None => return Err(StepFail::msg("no point at the middle step".into())),
            },
            _ => Value::Vector(vec),
        };
        compare(self.ev, &mid)
            .map_err(|m| StepFail::msg(format!("{m}\n    got: {}", compare::fmt_value(&out.value))))
    }
}
