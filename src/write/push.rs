//! Pushgateway semantics on a database that keeps history.
//!
//! Follows the Pushgateway's `handler/push.go` and `delete.go`: pushed
//! samples are stored at arrival time with the grouping labels added
//! (overriding same-named labels in the body). Where the Pushgateway would
//! simply forget a series, a stale marker is written so queries stop
//! returning it: PUT replaces the whole group, POST only the metric
//! families in the body, DELETE the whole group. A push is atomic: any bad
//! line refuses the whole body, and so does a sample carrying a timestamp.
//! The groups and their series are kept per tenant in [`PushGroups`],
//! stored through storage's tenant state files on one node and in the
//! cluster's key-value bucket in cluster mode (where the stale markers
//! travel through the log like every write).

use std::collections::{BTreeMap, BTreeSet, HashSet};

use super::push_groups::GroupStore;
use super::text::{body_text, inputs_of, label_refs, now_ms, text_metadata, with_labels, Row};
use super::{Pipeline, WriteError};
use crate::ingest::text::{count_sample_lines, parse, ParsedText, TextFormat, TextSample};
use crate::model::{stale_nan, LabelRef, Sample};
use crate::tenant::TenantId;

pub(crate) use super::push_groups::LabelPairs;
#[cfg(doc)]
use super::PushGroups;

/// Suffixes a sample name may add to its family's name.
const FAMILY_SUFFIXES: &[&str] = &[
    "_bucket", "_count", "_sum", "_total", "_created", "_gcount", "_gsum", "_info",
];

/// Most samples one push may carry (a push is parsed and replaced whole).
pub const MAX_PUSH_SAMPLES: u64 = 200_000;

/// How a push replaces its group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushMode {
    /// `PUT`: the whole group.
    Put,
    /// `POST`: only the metric families in the body.
    Post,
}

/// A body that passed every check.
struct Pushed {
    /// Each series' labels (grouping labels applied) and value.
    samples: Vec<(LabelPairs, f64)>,
    /// Each series' metric family.
    family_of: BTreeMap<LabelPairs, String>,
    /// Families present in the body (with samples or a `# TYPE`/`# HELP`).
    families: BTreeSet<String>,
    metadata: Vec<crate::ingest::text::TextMetadata>,
    /// OpenMetrics exemplars in the body, with their series' labels.
    exemplars: Vec<(LabelPairs, crate::ingest::text::TextExemplar)>,
}

impl Pipeline<'_> {
    /// Pushes a text body into the group `key` (sorted grouping labels,
    /// empty values dropped), marking what the push replaced stale.
    pub fn push(
        &self,
        tenant: &TenantId,
        key: &[(String, String)],
        body: &[u8],
        format: TextFormat,
        mode: PushMode,
    ) -> Result<(), WriteError> {
        let key: LabelPairs = key.to_vec();
        let pushed = parse_push(body, format, &key)?;
        self.record_metadata(tenant, &text_metadata(&pushed.metadata))?;
        let families = (mode == PushMode::Post).then_some(&pushed.families);
        let change = |registry: &mut super::push_groups::TenantGroups| {
            let t = registry.write_time(&key, now_ms());
            let vanished = registry.replace(&key, pushed.family_of.clone(), families, t);
            Some((t, vanished))
        };
        let write = |(t, vanished): (i64, Vec<LabelPairs>)| {
            self.store_group(tenant, &pushed.samples, &vanished, t)
                .and_then(|()| self.push_exemplars(tenant, &pushed.exemplars, t))
        };
        self.push_groups()
            .change(self.group_store(), tenant, change, write)
    }

    /// Where the tenant's push groups are kept: the key-value bucket in
    /// cluster mode, storage's tenant state file otherwise.
    fn group_store(&self) -> GroupStore<'_> {
        match self.cluster {
            Some(c) => GroupStore::Cluster(c),
            None => GroupStore::Node(self.storage()),
        }
    }

    /// Stores a push's exemplars after its samples, at the push's time `t`
    /// when they carry none.
    fn push_exemplars(
        &self,
        tenant: &TenantId,
        exemplars: &[(LabelPairs, crate::ingest::text::TextExemplar)],
        t: i64,
    ) -> Result<(), WriteError> {
        let refs: Vec<Vec<LabelRef<'_>>> = exemplars
            .iter()
            .map(|(l, _)| l.iter().map(|(n, v)| LabelRef::new(n, v)).collect())
            .collect();
        let items = refs
            .iter()
            .zip(exemplars)
            .map(|(r, (_, e))| (r.as_slice(), e, t));
        self.text_exemplars(tenant, items).map(|_| ())
    }

    /// Deletes the group `key`, marking its series stale. An unknown group
    /// is not an error (the Pushgateway answers 202 either way).
    pub fn delete_group(
        &self,
        tenant: &TenantId,
        key: &[(String, String)],
    ) -> Result<(), WriteError> {
        let key: LabelPairs = key.to_vec();
        let change = |registry: &mut super::push_groups::TenantGroups| {
            let t = registry.write_time(&key, now_ms());
            registry.delete(&key).map(|vanished| (t, vanished))
        };
        let write =
            |(t, vanished): (i64, Vec<LabelPairs>)| self.store_group(tenant, &[], &vanished, t);
        self.push_groups()
            .change(self.group_store(), tenant, change, write)
    }

    /// Appends the pushed values and stale markers for vanished series at
    /// `t`, after the tenant's rate; any refusal fails the push.
    fn store_group(
        &self,
        tenant: &TenantId,
        pushed: &[(LabelPairs, f64)],
        vanished: &[LabelPairs],
        t: i64,
    ) -> Result<(), WriteError> {
        let rows: Vec<Row> = pushed
            .iter()
            .map(|(l, v)| (l.clone(), Sample::new(t, *v)))
            .chain(
                vanished
                    .iter()
                    .map(|l| (l.clone(), Sample::new(t, stale_nan()))),
            )
            .collect();
        self.admit(tenant, rows.len() as u64)?;
        let refs = label_refs(&rows);
        let outcome = self.append(tenant, &inputs_of(&rows, &refs), None)?;
        if outcome.rejected == 0 {
            return Ok(());
        }
        let mut lines = vec![format!("{} samples rejected by storage", outcome.rejected)];
        lines.extend(outcome.rejections.iter().take(10).map(|r| r.to_string()));
        Err(WriteError::Invalid(lines.join("\n")))
    }
}

/// Parses a push body, refusing it whole on any bad line, any timestamp
/// or any series given twice.
fn parse_push(body: &[u8], format: TextFormat, key: &LabelPairs) -> Result<Pushed, WriteError> {
    let text = body_text(body)?;
    // A push replaces its group as a whole, so it is parsed whole; the
    // sample count is bounded before anything is parsed.
    let lines = count_sample_lines(text);
    if lines > MAX_PUSH_SAMPLES {
        return Err(WriteError::TooLarge(format!(
            "push body has {lines} sample lines, more than the limit of {MAX_PUSH_SAMPLES} per push; split it into several POST requests (each replaces only the metrics it names) or use /api/v1/import/prometheus"
        )));
    }
    let parsed = parse(text, format);
    let more_errors = parsed.more_errors;
    let ParsedText {
        samples,
        metadata,
        errors,
        ..
    } = parsed;
    if !errors.is_empty() {
        let bad = errors.len() as u64 + more_errors;
        let mut lines = vec![format!("{bad} lines rejected, nothing stored")];
        lines.extend(
            errors
                .iter()
                .take(10)
                .map(|e| e.to_string().replace('\n', "\\n")),
        );
        return Err(WriteError::Invalid(lines.join("\n")));
    }
    if let Some(s) = samples.iter().find(|s| s.timestamp_ms.is_some()) {
        return Err(timestamp_error(text, s));
    }
    let declared: HashSet<&str> = metadata.iter().map(|m| m.metric.as_str()).collect();
    let mut out = Pushed {
        samples: Vec::with_capacity(samples.len()),
        family_of: BTreeMap::new(),
        families: metadata.iter().map(|m| m.metric.clone()).collect(),
        metadata: metadata.clone(),
        exemplars: Vec::new(),
    };
    for s in &samples {
        let mut labels = with_labels(&s.labels, key);
        labels.retain(|(_, v)| !v.is_empty());
        labels.sort();
        let name = labels
            .iter()
            .find(|(n, _)| n == "__name__")
            .map(|(_, v)| v.as_str());
        let family = family_of(name.unwrap_or_default(), &declared);
        if out
            .family_of
            .insert(labels.clone(), family.clone())
            .is_some()
        {
            return Err(WriteError::Invalid(format!(
                "series {} pushed twice",
                describe(&labels)
            )));
        }
        if let Some(e) = &s.exemplar {
            out.exemplars.push((labels.clone(), e.clone()));
        }
        out.families.insert(family);
        out.samples.push((labels, s.value));
    }
    Ok(out)
}

/// The error for a timestamped sample, naming its line when it can be found
/// (`handler/push.go` refuses these: "pushed metrics must not have timestamps").
fn timestamp_error(text: &str, sample: &TextSample) -> WriteError {
    let line = text.split('\n').enumerate().find(|(_, l)| {
        !l.starts_with('#')
            && parse(l, TextFormat::Prometheus)
                .samples
                .first()
                .is_some_and(|s| s.labels == sample.labels && s.timestamp_ms.is_some())
    });
    let what = match line {
        Some((n, _)) => format!("line {}", n + 1),
        None => format!("series {}", describe(&sample.labels)),
    };
    WriteError::Invalid(format!(
        "{what}: pushed metrics must not have timestamps; nothing stored"
    ))
}

/// The family a sample name belongs to: a declared family it extends by
/// a known suffix, else the name itself.
fn family_of(name: &str, declared: &HashSet<&str>) -> String {
    if declared.contains(name) {
        return name.to_string();
    }
    FAMILY_SUFFIXES
        .iter()
        .filter_map(|s| name.strip_suffix(s))
        .find(|stem| declared.contains(stem))
        .unwrap_or(name)
        .to_string()
}

fn describe(labels: &[(String, String)]) -> String {
    let inner: Vec<String> = labels.iter().map(|(n, v)| format!("{n}={v:?}")).collect();
    format!("{{{}}}", inner.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_names_map_to_families() {
        let declared: HashSet<&str> = ["h", "c", "x_total"].into();
        // (sample name, family)
        let cases = [
            ("h_bucket", "h"),
            ("h_sum", "h"),
            ("h", "h"),
            ("c_total", "c"),
            ("x_total", "x_total"),
            ("undeclared_sum", "undeclared_sum"),
            ("", ""),
        ];
        for (name, want) in cases {
            assert_eq!(family_of(name, &declared), want, "{name}");
        }
    }

    #[test]
    fn push_bodies_are_checked_whole() {
        let key: LabelPairs = vec![("job".into(), "j".into())];
        let ok = parse_push(
            b"# TYPE c counter\nc_total{job=\"x\",a=\"1\"} 2\n",
            TextFormat::Prometheus,
            &key,
        )
        .unwrap();
        assert_eq!(ok.samples.len(), 1);
        assert_eq!(
            describe(&ok.samples[0].0),
            r#"{__name__="c_total", a="1", job="j"}"#
        );
        assert!(ok.families.contains("c"));
        // (body, fragment of the error)
        let bad: &[(&[u8], &str)] = &[
            (
                b"a 1\nb 2 1000\n",
                "line 2: pushed metrics must not have timestamps",
            ),
            (b"a 1\n}{ 2\nc 3\n", "1 lines rejected"),
            (b"a 1\na 2\n", "pushed twice"),
            (b"a{job=\"y\"} 1\na 2\n", "pushed twice"),
            (b"\xff", "not valid UTF-8"),
        ];
        for (body, want) in bad {
            let e = parse_push(body, TextFormat::Prometheus, &key)
                .err()
                .unwrap();
            assert!(e.to_string().contains(want), "{body:?}: {e}");
        }
    }
}
