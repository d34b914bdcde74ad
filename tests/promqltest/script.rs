//! The promqltest script format: `load`, `clear` and `eval` commands with
//! their indented bodies. Reproduces upstream `promql/promqltest/test.go`
//! (`test.parse`, `parseLoad`, `parseEval`, `parseExpect`).

use regex::Regex;

use super::values::{
    parse_duration, parse_go_number, parse_metric, parse_series_desc, unquote, LabelSet, SeqValue,
};

/// One command of a script.
#[derive(Debug)]
pub enum Command {
    /// `load <interval>` / `load_with_nhcb <interval>` with its series.
    Load(Load),
    /// `clear`: start over with empty storage.
    Clear,
    /// An `eval` command with its expectations.
    Eval(Box<Eval>),
    /// A line this parser could not read (upstream would reject the file).
    Invalid {
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        msg: String,
    },
}

/// A `load` command.
#[derive(Debug)]
pub struct Load {
    /// 1-based line number of the command.
    pub line: usize,
    /// Time between consecutive values (ms).
    pub interval_ms: i64,
    /// `load_with_nhcb`: classic histograms also become NHCB series.
    pub with_nhcb: bool,
    /// The series, later definitions of the same labels replacing earlier ones.
    pub series: Vec<LoadSeries>,
}

/// One series of a `load` command.
#[derive(Debug)]
pub struct LoadSeries {
    /// Its labels.
    pub labels: LabelSet,
    /// Its values, the first at t=0.
    pub values: Vec<SeqValue>,
    /// From an `@st` line just before it: per value, the start timestamp
    /// as an offset (ms) from the value's time; `None` for `_`.
    pub st_offsets: Option<Vec<Option<i64>>>,
}

/// How an eval's expression is evaluated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EvalKind {
    /// An instant query at this time (ms).
    Instant(i64),
    /// A range query.
    Range {
        /// Start (ms).
        start: i64,
        /// End (ms).
        end: i64,
        /// Step (ms).
        step: i64,
    },
}

/// How an expected message is matched (upstream `expectCmd`).
#[derive(Debug, Clone)]
pub enum MsgMatch {
    /// `msg: <text>`: exact equality.
    Exact(String),
    /// `regex: <pattern>` (unanchored), or any text when none is given.
    Pattern(Regex),
}

impl MsgMatch {
    /// Whether `s` matches.
    pub fn matches(&self, s: &str) -> bool {
        match self {
            MsgMatch::Exact(m) => m == s,
            MsgMatch::Pattern(r) => r.is_match(s),
        }
    }
}

/// The `expect` lines of an eval.
#[derive(Debug, Clone, Default)]
pub struct Expects {
    /// `expect fail` (at most one).
    pub fail: Vec<MsgMatch>,
    /// `expect warn` lines.
    pub warn: Vec<MsgMatch>,
    /// `expect no_warn` given.
    pub no_warn: bool,
    /// `expect info` lines.
    pub info: Vec<MsgMatch>,
    /// `expect no_info` given.
    pub no_info: bool,
    /// `expect ordered` given.
    pub ordered: bool,
}

/// One expected series of an eval.
#[derive(Debug, Clone)]
pub struct ExpectedSeries {
    /// Its labels.
    pub labels: LabelSet,
    /// Line position within the eval body (1-based, `expect` lines not
    /// counted), which `ordered` compares against.
    pub pos: usize,
    /// Its values.
    pub values: Vec<SeqValue>,
}

/// An `eval` command.
#[derive(Debug, Clone)]
pub struct Eval {
    /// 1-based line number.
    pub line: usize,
    /// The PromQL expression.
    pub expr: String,
    /// Instant or range, with times.
    pub kind: EvalKind,
    /// Deprecated prefixes `eval_fail` / `eval_warn` / `eval_info` / `eval_ordered`.
    pub prefix_fail: bool,
    /// `eval_warn`.
    pub prefix_warn: bool,
    /// `eval_info`.
    pub prefix_info: bool,
    /// `eval_ordered`.
    pub prefix_ordered: bool,
    /// The expect lines.
    pub expects: Expects,
    /// Legacy `expected_fail_message` / `expected_fail_regexp`.
    pub legacy_fail: Option<MsgMatch>,
    /// `expect range vector from A to B step S`: (start, end, step) in ms.
    pub expect_range: Option<(i64, i64, i64)>,
    /// `expect string "..."`.
    pub expect_string: Option<String>,
    /// A bare number: the expected scalar.
    pub expect_scalar: Option<f64>,
    /// Expected series.
    pub series: Vec<ExpectedSeries>,
}

impl Eval {
    /// Whether the query must fail.
    pub fn is_fail(&self) -> bool {
        self.prefix_fail || !self.expects.fail.is_empty()
    }

    /// Whether result order matters.
    pub fn is_ordered(&self) -> bool {
        self.prefix_ordered || self.expects.ordered
    }

    /// Upstream `excludeFromRangeQuery`: set by `expect range vector` and `expect string`.
    pub fn exclude_from_range_mode(&self) -> bool {
        self.expect_range.is_some() || self.expect_string.is_some()
    }

    /// (start, end, step) that expected matrix points are laid out on.
    pub fn matrix_times(&self) -> (i64, i64, i64) {
        match (self.expect_range, self.kind) {
            (Some(r), _) => r,
            (None, EvalKind::Range { start, end, step }) => (start, end, step),
            (None, EvalKind::Instant(t)) => (t, t, 0),
        }
    }
}

/// Lines trimmed, comment lines blanked (upstream `getLines`).
fn lines_of(input: &str) -> Vec<&str> {
    input
        .split('\n')
        .map(|l| {
            let l = l.trim();
            if l.starts_with('#') {
                ""
            } else {
                l
            }
        })
        .collect()
}

/// Parses a whole script into commands. Unreadable lines become
/// [`Command::Invalid`] so the rest of the file still runs.
pub fn parse_script(input: &str) -> Vec<Command> {
    let lines = lines_of(input);
    let mut cmds = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i];
        if l.is_empty() {
            i += 1;
            continue;
        }
        let word = l
            .split([' ', '\t'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        let (next, cmd) = if word == "clear" {
            (i + 1, Command::Clear)
        } else if word.starts_with("load") {
            parse_load(&lines, i)
        } else if word.starts_with("eval") {
            parse_eval(&lines, i)
        } else {
            let msg = format!("invalid command {l:?}");
            (i + 1, Command::Invalid { line: i + 1, msg })
        };
        cmds.push(cmd);
        i = next;
    }
    cmds
}

/// Index just past the body that starts at `i + 1` (the next blank line).
fn body_end(lines: &[&str], i: usize) -> usize {
    (i + 1..lines.len())
        .find(|&j| lines[j].is_empty())
        .unwrap_or(lines.len())
}

fn invalid(end: usize, line: usize, msg: String) -> (usize, Command) {
    (end, Command::Invalid { line, msg })
}

/// Upstream `parseLoad`.
fn parse_load(lines: &[&str], i: usize) -> (usize, Command) {
    let end = body_end(lines, i);
    let head = lines[i];
    let (word, arg) = head.split_once([' ', '\t']).unwrap_or((head, ""));
    let with_nhcb = match word {
        "load" => false,
        "load_with_nhcb" => true,
        _ => return invalid(end, i + 1, format!("invalid load command {head:?}")),
    };
    let Some(interval_ms) = parse_duration(arg.trim()) else {
        return invalid(end, i + 1, format!("invalid step definition {arg:?}"));
    };
    let mut load = Load {
        line: i + 1,
        interval_ms,
        with_nhcb,
        series: Vec::new(),
    };
    let mut pending: Option<(usize, LabelSet, Vec<Option<i64>>)> = None;
    for (j, def) in lines.iter().enumerate().take(end).skip(i + 1) {
        if let Err(msg) = add_load_line(&mut load, def, j, &mut pending) {
            return invalid(end, j + 1, msg);
        }
    }
    if let Some((line, ..)) = pending {
        return invalid(
            end,
            line + 1,
            "@st line has no following sample line".into(),
        );
    }
    (end, Command::Load(load))
}

/// One line of a load body. An `@st` line is held in `pending` until the
/// series line it belongs to (upstream `parseLoad`).
fn add_load_line(
    load: &mut Load,
    def: &str,
    line: usize,
    pending: &mut Option<(usize, LabelSet, Vec<Option<i64>>)>,
) -> Result<(), String> {
    let def = def.trim();
    let (first, rest) = def.split_once([' ', '\t']).unwrap_or((def, ""));
    if let Some(metric) = first.strip_suffix("@st") {
        if pending.is_some() {
            return Err("@st line has no following sample line".into());
        }
        let (labels, tail) = parse_metric(metric)?;
        if !tail.is_empty() {
            return Err(format!("invalid @st metric {metric:?}"));
        }
        *pending = Some((line, labels, parse_st_sequence(rest)?));
        return Ok(());
    }
    let (labels, values) = parse_series_desc(def)?;
    let st_offsets = match pending.take() {
        Some((_, l, _)) if l != labels => {
            return Err("@st metric does not match the following sample line metric".into())
        }
        Some((_, _, sts)) if sts.len() != values.len() => {
            return Err(format!(
                "@st line has {} values but sample line has {}",
                sts.len(),
                values.len()
            ))
        }
        Some((_, _, sts)) => Some(sts),
        None => None,
    };
    // Upstream keys series by label hash, so a repeated series replaces the earlier one.
    load.series.retain(|s| s.labels != labels);
    load.series.push(LoadSeries {
        labels,
        values,
        st_offsets,
    });
    Ok(())
}

/// Upstream `parseSTSequence`: `_`, `_xN`, `<dur>`, `<dur>xN`,
/// `<dur>+<dur>xN` and `<dur>-<dur>xN`, durations with an optional sign.
pub fn parse_st_sequence(input: &str) -> Result<Vec<Option<i64>>, String> {
    let mut out = Vec::new();
    for item in input.split_whitespace() {
        let bad = |e: String| format!("invalid ST item {item:?}: {e}");
        if item == "_" {
            out.push(None);
            continue;
        }
        if let Some(n) = item.strip_prefix("_x") {
            let n: usize = n
                .parse()
                .ok()
                .filter(|&n| n > 0)
                .ok_or(bad("invalid repeat count".into()))?;
            out.extend(std::iter::repeat_n(None, n));
            continue;
        }
        let (base, rest) = duration_prefix(item).map_err(bad)?;
        let (delta, count) = match rest.as_bytes().first() {
            None => (0, 0),
            Some(b'x') => (0, rest[1..].parse::<i64>().map_err(|e| bad(e.to_string()))?),
            Some(&sign @ (b'+' | b'-')) => {
                let (d, rest2) = duration_prefix(&rest[1..]).map_err(bad)?;
                let n = rest2
                    .strip_prefix('x')
                    .ok_or(bad("expected 'x<count>' after step duration".into()))?;
                let n = n.parse::<i64>().map_err(|e| bad(e.to_string()))?;
                (if sign == b'-' { -d } else { d }, n)
            }
            Some(c) => return Err(bad(format!("unexpected character {:?}", *c as char))),
        };
        out.extend((0..=count).map(|k| Some(base + k * delta)));
    }
    Ok(out)
}

/// Upstream `parseDurationPrefix`: an optional sign, digits and a unit
/// (letters other than `x`); returns milliseconds and the rest.
fn duration_prefix(s: &str) -> Result<(i64, &str), String> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let digits = body.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(format!("expected digits in duration {s:?}"));
    }
    let unit = body[digits..]
        .bytes()
        .take_while(|b| b.is_ascii_alphabetic() && *b != b'x')
        .count();
    let text = &body[..digits + unit];
    let ms = parse_duration(text).ok_or(format!("invalid duration {text:?}"))?;
    Ok((if neg { -ms } else { ms }, &body[digits + unit..]))
}

/// The pieces of an eval command line.
struct EvalHead {
    modifier: String,
    kind: EvalKind,
    expr: String,
}

fn eval_head_regexes() -> &'static (Regex, Regex) {
    static RE: std::sync::OnceLock<(Regex, Regex)> = std::sync::OnceLock::new();
    RE.get_or_init(|| {
        let instant =
            Regex::new(r"^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$");
        let range = Regex::new(
            r"^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$",
        );
        (instant.expect("instant regex"), range.expect("range regex"))
    })
}

fn parse_eval_head(l: &str) -> Result<EvalHead, String> {
    let (instant, range) = eval_head_regexes();
    let group = |c: &regex::Captures, n| c.get(n).map_or("", |m| m.as_str()).to_string();
    if let Some(c) = instant.captures(l) {
        let at = group(&c, 2);
        let t = parse_duration(&at).ok_or(format!("invalid timestamp definition {at:?}"))?;
        return Ok(EvalHead {
            modifier: group(&c, 1),
            kind: EvalKind::Instant(t),
            expr: group(&c, 3),
        });
    }
    let c = range.captures(l).ok_or("invalid evaluation command")?;
    let (start, end, step) = parse_range_times(&group(&c, 2), &group(&c, 3), &group(&c, 4))?;
    Ok(EvalHead {
        modifier: group(&c, 1),
        kind: EvalKind::Range { start, end, step },
        expr: group(&c, 5),
    })
}

/// Upstream `parseDurations`: from, to, step, with to not before from.
fn parse_range_times(from: &str, to: &str, step: &str) -> Result<(i64, i64, i64), String> {
    let f = parse_duration(from).ok_or(format!("invalid start timestamp {from:?}"))?;
    let t = parse_duration(to).ok_or(format!("invalid end timestamp {to:?}"))?;
    let s = parse_duration(step).ok_or(format!("invalid step {step:?}"))?;
    if t < f {
        return Err(format!("end timestamp {to} is before start {from}"));
    }
    Ok((f, t, s))
}

/// Upstream `parseEval`.
fn parse_eval(lines: &[&str], i: usize) -> (usize, Command) {
    let end = body_end(lines, i);
    let head = match parse_eval_head(lines[i]) {
        Ok(h) => h,
        Err(msg) => return invalid(end, i + 1, msg),
    };
    let mut ev = Eval {
        line: i + 1,
        expr: head.expr,
        kind: head.kind,
        prefix_fail: head.modifier == "fail",
        prefix_warn: head.modifier == "warn",
        prefix_info: head.modifier == "info",
        prefix_ordered: head.modifier == "ordered",
        expects: Expects::default(),
        legacy_fail: None,
        expect_range: None,
        expect_string: None,
        expect_scalar: None,
        series: Vec::new(),
    };
    let mut pos = 1;
    let mut j = i + 1;
    while j < end {
        match body_line(&mut ev, lines[j], pos) {
            Ok(BodyStep::Next { counts }) => pos += usize::from(counts),
            // Upstream ends the eval body here; later lines are read as commands.
            Ok(BodyStep::Stop) => return (j + 1, Command::Eval(Box::new(ev))),
            Err(msg) => return invalid(end, j + 1, msg),
        }
        j += 1;
    }
    (end, Command::Eval(Box::new(ev)))
}

enum BodyStep {
    /// Keep reading; `counts` says whether the line takes an ordered position.
    Next { counts: bool },
    /// The body ends after this line.
    Stop,
}

fn body_line(ev: &mut Eval, l: &str, pos: usize) -> Result<BodyStep, String> {
    if ev.prefix_fail {
        for (key, exact) in [
            ("expected_fail_message", true),
            ("expected_fail_regexp", false),
        ] {
            if let Some(rest) = l.strip_prefix(key) {
                ev.legacy_fail = Some(msg_match(rest.trim(), exact)?);
                return Ok(BodyStep::Stop);
            }
        }
    }
    if let Some(rest) = l.strip_prefix("expect range vector") {
        ev.expect_range = Some(parse_expect_range(rest)?);
        return Ok(BodyStep::Next { counts: true });
    }
    if l.starts_with("expect string") {
        let s = l
            .strip_prefix("expect string ")
            .ok_or("expect string needs a string")?;
        ev.expect_string = Some(unquote(s)?);
        return Ok(BodyStep::Next { counts: true });
    }
    if l.split(' ').next() == Some("expect") {
        parse_expect(l, &mut ev.expects)?;
        return Ok(BodyStep::Next { counts: false });
    }
    if let Some(f) = parse_go_number(l) {
        ev.expect_scalar = Some(f);
        return Ok(BodyStep::Stop);
    }
    let (labels, values) = parse_series_desc(l)?;
    if values.len() > 1 && matches!(ev.kind, EvalKind::Instant(_)) && ev.expect_range.is_none() {
        return Err("expecting multiple values in instant evaluation not allowed".into());
    }
    ev.series.retain(|s| s.labels != labels);
    ev.series.push(ExpectedSeries {
        labels,
        pos,
        values,
    });
    Ok(BodyStep::Next { counts: true })
}

/// ` from A to B step S` (after `expect range vector`).
fn parse_expect_range(rest: &str) -> Result<(i64, i64, i64), String> {
    static RE: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    let re = RE.get_or_init(|| {
        Regex::new(r"^\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+)$").expect("range vector regex")
    });
    let c = re
        .captures(rest)
        .ok_or(format!("invalid range vector definition {rest:?}"))?;
    parse_range_times(&c[1], &c[2], &c[3])
}

fn msg_match(text: &str, exact: bool) -> Result<MsgMatch, String> {
    if exact {
        return Ok(MsgMatch::Exact(text.to_string()));
    }
    Regex::new(text)
        .map(MsgMatch::Pattern)
        .map_err(|e| format!("invalid regex {text:?}: {e}"))
}

/// Upstream `parseExpect` plus `validateExpectedCmds`.
pub fn parse_expect(l: &str, ex: &mut Expects) -> Result<(), String> {
    static RE: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    let re = RE.get_or_init(|| {
        Regex::new(r"^expect\s+(ordered|fail|warn|no_warn|info|no_info)(?:\s+(regex|msg):(.+))?$")
            .expect("expect regex")
    });
    let c = re
        .captures(l.trim())
        .ok_or_else(|| format!("invalid expect statement {l:?}"))?;
    let m = match c.get(2).map(|m| m.as_str()) {
        Some(kind) => msg_match(c[3].trim(), kind == "msg")?,
        None => MsgMatch::Pattern(Regex::new("^.*$").expect("match-any regex")),
    };
    match &c[1] {
        "ordered" => ex.ordered = true,
        "fail" => ex.fail.push(m),
        "warn" => ex.warn.push(m),
        "no_warn" => ex.no_warn = true,
        "info" => ex.info.push(m),
        _ => ex.no_info = true,
    }
    if !ex.info.is_empty() && ex.no_info {
        return Err("info and no_info cannot be used together".into());
    }
    if !ex.warn.is_empty() && ex.no_warn {
        return Err("warn and no_warn cannot be used together".into());
    }
    if ex.fail.len() > 1 {
        return Err("multiple expect fail lines are not allowed".into());
    }
    Ok(())
}
