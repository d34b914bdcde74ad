//! `/api/v1/query_exemplars` (storing a write's exemplars is the write
//! pipeline's hand-off, `write::Pipeline::exemplars`).

use axum::extract::State;
use axum::response::Response;

use super::meta::{blocking, bounds, success};
use super::query::{format_ts, format_value, json_labels};
use super::{ApiError, AppState, Params, Reader};
use crate::model::{Exemplar, Labels};

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
