//! Exemplars in the API: storing those a write carried (one narrow call
//! from each ingest endpoint, after its samples are stored) and
//! `/api/v1/query_exemplars`.

use axum::extract::State;
use axum::response::Response;

use super::meta::{blocking, bounds, success};
use super::query::{format_ts, format_value, json_labels};
use super::{ApiError, AppState, Params, Reader};
use crate::ingest::remote_write::DecodedBatch;
use crate::ingest::text::TextExemplar;
use crate::model::{Exemplar, LabelRef, Labels};
use crate::storage::{ExemplarInput, Storage};
use crate::tenant::TenantId;

/// Stores `inputs` for `tenant` and counts every exemplar not stored
/// (plus `invalid` ones the decoder already refused) in
/// `tessera_exemplars_discarded_total`. Returns how many were written
/// (stored, or already held: Prometheus counts a duplicate as written).
/// In cluster mode nothing is kept: the log carries no exemplars.
pub(crate) fn store(
    state: &AppState,
    storage: &Storage,
    tenant: &TenantId,
    inputs: &[ExemplarInput<'_>],
    invalid: u64,
) -> Result<u64, ApiError> {
    let sent: u64 = inputs.iter().map(|i| i.exemplars.len() as u64).sum();
    let metrics = state.metrics();
    if state.cluster().is_some() || sent == 0 {
        metrics.add_exemplars_discarded(tenant, sent + invalid);
        return Ok(0);
    }
    let outcome = storage.append_exemplars(tenant, inputs)?;
    metrics.add_exemplars_discarded(tenant, outcome.discarded() + invalid);
    Ok(outcome.stored + outcome.duplicates)
}

/// [`store`] for a decoded remote_write request: the exemplars of its
/// accepted series; those of refused series and invalid ones are counted
/// as discarded.
pub(crate) fn store_remote_write(
    state: &AppState,
    storage: &Storage,
    tenant: &TenantId,
    batch: &DecodedBatch<'_>,
) -> Result<u64, ApiError> {
    let inputs: Vec<ExemplarInput<'_>> = batch
        .series
        .iter()
        .filter(|s| !s.exemplar_range.is_empty())
        .filter_map(|s| {
            Some(ExemplarInput {
                labels: batch.labels.get(s.labels.clone())?,
                exemplars: batch.exemplars.get(s.exemplar_range.clone())?,
            })
        })
        .collect();
    if let Some(p) = &batch.exemplar_problem {
        tracing::debug!(tenant = %tenant, problem = %p, "exemplars refused");
    }
    let refused: u64 = batch.rejected.iter().map(|r| r.exemplars).sum();
    store(
        state,
        storage,
        tenant,
        &inputs,
        refused + batch.exemplars_invalid,
    )
}

/// [`store`] for text samples (import, push): each item is a sample's
/// labels, its exemplar and the sample's time, which an exemplar without
/// its own timestamp takes. Exemplars with invalid labels (over 128 runes,
/// say) are counted as discarded.
pub(crate) fn store_text<'a>(
    state: &AppState,
    storage: &Storage,
    tenant: &TenantId,
    items: impl Iterator<Item = (&'a [LabelRef<'a>], &'a TextExemplar, i64)>,
) -> Result<u64, ApiError> {
    let mut invalid = 0;
    let mut kept: Vec<(&'a [LabelRef<'a>], Exemplar)> = Vec::new();
    for (labels, e, t) in items {
        let refs: Vec<LabelRef<'_>> = e.labels.iter().map(|(n, v)| LabelRef::new(n, v)).collect();
        match Exemplar::from_refs(&refs, e.value, e.timestamp_ms.unwrap_or(t)) {
            Ok(x) => kept.push((labels, x)),
            Err(reason) => {
                invalid += 1;
                tracing::debug!(tenant = %tenant, %reason, "exemplar refused");
            }
        }
    }
    let inputs: Vec<ExemplarInput<'_>> = kept
        .iter()
        .map(|(labels, x)| ExemplarInput {
            labels,
            exemplars: std::slice::from_ref(x),
        })
        .collect();
    store(state, storage, tenant, &inputs, invalid)
}

/// `GET|POST /api/v1/query_exemplars` (`query`, `start`, `end`): the
/// exemplars of the series the query's selectors match, in Prometheus'
/// shape (`api.queryExemplars`): `[{seriesLabels, exemplars: [{labels,
/// value, timestamp}]}]`, series in label order. Each selector is bound to
/// the caller's tenants and policy like any other read. A query without
/// selectors answers `null`, as Prometheus does.
pub(crate) async fn query_exemplars(
    State(state): State<AppState>,
    reader: Reader,
    p: Params,
) -> Result<Response, ApiError> {
    let (start, end) = bounds(&p)?;
    let q = p.get("query").unwrap_or_default().to_string();
    let selectors =
        crate::promql::query_selectors(&q).map_err(|e| ApiError::BadData(e.to_string()))?;
    if selectors.is_empty() {
        return Ok(success("null"));
    }
    let found = blocking(&state, move |s| {
        Ok(reader.scope(s)?.select_exemplars(selectors, start, end)?)
    })
    .await?;
    Ok(success(&exemplars_json(&found)))
}

fn exemplars_json(found: &[(Labels, Vec<Exemplar>)]) -> String {
    let mut s = String::from("[");
    for (i, (series, exemplars)) in found.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str("{\"seriesLabels\":");
        json_labels(&mut s, series);
        s.push_str(",\"exemplars\":[");
        for (j, e) in exemplars.iter().enumerate() {
            if j > 0 {
                s.push(',');
            }
            s.push_str("{\"labels\":");
            json_labels(&mut s, &e.labels);
            s.push_str(",\"value\":\"");
            s.push_str(&format_value(e.value));
            s.push_str("\",\"timestamp\":");
            s.push_str(&format_ts(e.t));
            s.push('}');
        }
        s.push_str("]}");
    }
    s.push(']');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_shape() {
        let series = Labels::from_pairs([("__name__", "rq"), ("job", "a")]);
        let e = Exemplar {
            labels: Labels::from_pairs([("trace_id", "x\"y")]),
            value: 0.25,
            t: 1_600_096_945_479,
        };
        let mut e2 = e.clone();
        e2.t = 1_600_096_946_000;
        e2.labels = Labels::default();
        e2.value = f64::INFINITY;
        assert_eq!(
            exemplars_json(&[(series, vec![e, e2])]),
            r#"[{"seriesLabels":{"__name__":"rq","job":"a"},"exemplars":[{"labels":{"trace_id":"x\"y"},"value":"0.25","timestamp":1600096945.479},{"labels":{},"value":"+Inf","timestamp":1600096946}]}]"#
        );
        assert_eq!(exemplars_json(&[]), "[]");
    }
}
