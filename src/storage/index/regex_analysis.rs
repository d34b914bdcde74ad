//! Turns a regex matcher's pattern into the cheapest equivalent test.
//!
//! This plays the role of Prometheus' `FastRegexMatcher` analysis
//! (`model/labels/regexp.go`: `findSetMatches`, `optimizeConcatRegex`,
//! `stringMatcherFromRegexp`), written against `regex-syntax`'s HIR instead
//! of Go's `regexp/syntax`. Working on the HIR rather than the source text
//! keeps every fast path exact: `(?i)a` is already a class `[Aa]` in the
//! HIR, so case folding can never be mistaken for a literal.

use regex::Regex;
use regex_syntax::hir::{Class, Hir, HirKind};

use crate::storage::error::{Result, StorageError};

/// Most strings a finite pattern may expand to before it is treated as a
/// general regex (Prometheus' `maxSetMatches` uses the same bound).
const MAX_SET: usize = 256;

/// Largest repetition bound (`a{0,4}`) expanded into a set; larger bounds
/// blow up quickly and are better left to the regex engine.
const MAX_REPEAT: u32 = 8;

/// The cheapest exact test for a pattern, as decided at construction.
#[derive(Debug, Clone)]
pub(crate) enum Fast {
    /// Matches exactly these strings (sorted, unique; may contain "").
    Set(Vec<String>),
    /// `.*`: matches every string.
    Any,
    /// `.+`: matches every non-empty string.
    NonEmpty,
    /// `lit.*`
    Prefix(String),
    /// `.*lit`
    Suffix(String),
    /// `.*lit.*`
    Contains(String),
    /// `lit` followed by anything else: the prefix is checked first so the
    /// regex only runs on candidates that can match.
    PrefixRegex(String, Regex),
    /// Nothing cheaper was found.
    Regex(Regex),
}

impl Fast {
    /// Whether `v` matches the pattern (fully anchored).
    pub(crate) fn matches(&self, v: &str) -> bool {
        match self {
            Fast::Set(set) => set.binary_search_by(|s| s.as_str().cmp(v)).is_ok(),
            Fast::Any => true,
            Fast::NonEmpty => !v.is_empty(),
            Fast::Prefix(p) => v.starts_with(p.as_str()),
            Fast::Suffix(s) => v.ends_with(s.as_str()),
            Fast::Contains(s) => v.contains(s.as_str()),
            Fast::PrefixRegex(p, re) => v.starts_with(p.as_str()) && re.is_match(v),
            Fast::Regex(re) => re.is_match(v),
        }
    }
}

/// Parses and analyses `pattern` with Prometheus 3 semantics: fully
/// anchored, and `.` matches newlines (`"^(?s:" + v + ")$"` upstream).
pub(crate) fn analyse(pattern: &str) -> Result<Fast> {
    // Parsing the bare pattern first also guarantees it is balanced, so it
    // cannot close the anchoring group early (`a)|(b`) when wrapped below.
    let hir = regex_syntax::ParserBuilder::new()
        .dot_matches_new_line(true)
        .build()
        .parse(pattern)
        .map_err(|e| invalid(pattern, &e))?;
    if let Some(set) = finite(&hir) {
        return Ok(Fast::Set(set));
    }
    let pieces = flatten(&hir);
    if let Some(fast) = shape(&pieces) {
        return Ok(fast);
    }
    let re = compile(pattern)?;
    match literal_of(
        pieces
            .iter()
            .copied()
            .take_while(|h| matches!(h.kind(), HirKind::Literal(_))),
    ) {
        Some(p) if !p.is_empty() => Ok(Fast::PrefixRegex(p, re)),
        _ => Ok(Fast::Regex(re)),
    }
}

/// Most bytes a compiled regex may take (the `regex` crate's own default,
/// stated here because patterns come from untrusted queries): a pattern
/// past it is refused as invalid instead of being built.
pub const MAX_REGEX_COMPILED_BYTES: usize = 10 << 20;

/// Most bytes of lazy-DFA cache one compiled regex may grow per thread.
pub const MAX_REGEX_DFA_BYTES: usize = 2 << 20;

/// Compiles the fully anchored form of `pattern` (`"^(?s:" + v + ")$"`
/// upstream), within [`MAX_REGEX_COMPILED_BYTES`].
pub fn compile_regex(pattern: &str) -> std::result::Result<Regex, regex::Error> {
    regex::RegexBuilder::new(&format!("^(?s:{pattern})$"))
        .size_limit(MAX_REGEX_COMPILED_BYTES)
        .dfa_size_limit(MAX_REGEX_DFA_BYTES)
        .build()
}

/// [`compile_regex`] with storage's error.
pub(crate) fn compile(pattern: &str) -> Result<Regex> {
    compile_regex(pattern).map_err(|e| invalid(pattern, &e))
}

fn invalid(pattern: &str, e: &dyn std::fmt::Display) -> StorageError {
    StorageError::InvalidMatcher(format!("invalid regex {pattern:?}: {e}"))
}

/// Recognises `.*`, `.+`, `lit.*`, `.*lit` and `.*lit.*`.
fn shape(pieces: &[&Hir]) -> Option<Fast> {
    let n = pieces.len();
    let first_star = pieces.first().is_some_and(|h| is_any(h, 0));
    let last_star = n > 1 && pieces.last().is_some_and(|h| is_any(h, 0));
    match pieces {
        [one] if is_any(one, 0) => Some(Fast::Any),
        [one] if is_any(one, 1) => Some(Fast::NonEmpty),
        _ if first_star && last_star => {
            literal_of(pieces[1..n - 1].iter().copied()).map(Fast::Contains)
        }
        _ if first_star => literal_of(pieces[1..].iter().copied()).map(Fast::Suffix),
        _ if last_star => literal_of(pieces[..n - 1].iter().copied()).map(Fast::Prefix),
        _ => None,
    }
}

/// The single string a run of pieces matches, if it matches exactly one.
fn literal_of<'a>(pieces: impl Iterator<Item = &'a Hir>) -> Option<String> {
    let mut out = String::new();
    for h in pieces {
        let set = finite(h)?;
        match set.as_slice() {
            [one] => out.push_str(one),
            _ => return None,
        }
    }
    Some(out)
}

/// Whether `h` is `.{min,}` with a dot that matches every character.
fn is_any(h: &Hir, min: u32) -> bool {
    match h.kind() {
        HirKind::Repetition(r) if r.min == min && r.max.is_none() => is_full_class(&r.sub),
        HirKind::Capture(c) => is_any(&c.sub, min),
        _ => false,
    }
}

fn is_full_class(h: &Hir) -> bool {
    match h.kind() {
        HirKind::Class(Class::Unicode(c)) => {
            matches!(c.ranges(), [r] if r.start() == '\0' && r.end() == char::MAX)
        }
        HirKind::Capture(c) => is_full_class(&c.sub),
        _ => false,
    }
}

/// The top-level concatenation of `h`, with captures unwrapped and nested
/// concatenations inlined.
fn flatten(h: &Hir) -> Vec<&Hir> {
    let mut out = Vec::new();
    flatten_into(h, &mut out);
    out
}

fn flatten_into<'a>(h: &'a Hir, out: &mut Vec<&'a Hir>) {
    match h.kind() {
        HirKind::Capture(c) => flatten_into(&c.sub, out),
        HirKind::Concat(subs) => subs.iter().for_each(|s| flatten_into(s, out)),
        _ => out.push(h),
    }
}

/// Every string `h` matches, sorted and unique, if there are at most
/// [`MAX_SET`] of them and the pattern has no look-around.
pub(crate) fn finite(h: &Hir) -> Option<Vec<String>> {
    let mut set = finite_unsorted(h)?;
    set.sort_unstable();
    set.dedup();
    Some(set)
}

fn finite_unsorted(h: &Hir) -> Option<Vec<String>> {
    match h.kind() {
        HirKind::Empty => Some(vec![String::new()]),
        HirKind::Literal(lit) => Some(vec![std::str::from_utf8(&lit.0).ok()?.to_owned()]),
        HirKind::Class(c) => class_chars(c),
        HirKind::Look(_) => None,
        HirKind::Capture(c) => finite_unsorted(&c.sub),
        HirKind::Concat(subs) => {
            let mut acc = vec![String::new()];
            for s in subs {
                acc = product(&acc, &finite_unsorted(s)?)?;
            }
            Some(acc)
        }
        HirKind::Alternation(subs) => {
            let mut acc = Vec::new();
            for s in subs {
                acc.extend(finite_unsorted(s)?);
                if acc.len() > MAX_SET {
                    return None;
                }
            }
            Some(acc)
        }
        HirKind::Repetition(r) => {
            let max = r.max.filter(|&m| m <= MAX_REPEAT)?;
            let sub = finite_unsorted(&r.sub)?;
            let mut power = vec![String::new()];
            let mut acc = Vec::new();
            for k in 0..=max {
                if k >= r.min {
                    acc.extend(power.iter().cloned());
                }
                if acc.len() > MAX_SET {
                    return None;
                }
                if k < max {
                    power = product(&power, &sub)?;
                }
            }
            Some(acc)
        }
    }
}

/// All concatenations `a ++ b`, or `None` past [`MAX_SET`].
fn product(a: &[String], b: &[String]) -> Option<Vec<String>> {
    if a.len().checked_mul(b.len())? > MAX_SET {
        return None;
    }
    Some(
        a.iter()
            .flat_map(|x| b.iter().map(move |y| format!("{x}{y}")))
            .collect(),
    )
}

/// The characters of a class, if there are few enough.
fn class_chars(c: &Class) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut push = |lo: char, hi: char| -> Option<()> {
        for ch in lo..=hi {
            if out.len() >= MAX_SET {
                return None;
            }
            out.push(ch.to_string());
        }
        Some(())
    };
    match c {
        Class::Unicode(u) => u
            .ranges()
            .iter()
            .try_for_each(|r| push(r.start(), r.end()))?,
        // Byte classes only appear with `(?-u)`; beyond ASCII they are not text.
        Class::Bytes(b) => b.ranges().iter().try_for_each(|r| {
            if r.end() > 0x7f {
                return None;
            }
            push(char::from(r.start()), char::from(r.end()))
        })?,
    }
    Some(out)
}
