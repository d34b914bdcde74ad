//! `GET /api/v1/status/tsdb`: cardinality statistics of the caller's
//! tenant head, the explorer that finds the one label whose values exploded
//! (`API.serveTSDBStatus` in `web/api/v1/api.go`). In cluster mode the
//! heads are those of the tenant's partitions, wherever they are owned.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use super::{blocking, ApiError, AppState, Params, Reader};
use crate::storage::{CardinalityStat, TsdbStatus};

/// Entries per list when `limit` is not given.
const DEFAULT_LIMIT: usize = 10;
/// Largest `limit` accepted (upstream's `maxTSDBLimit`).
const MAX_LIMIT: usize = 10_000;

/// The handler: `limit` (default 10, 1 to 10000) entries per list.
pub(crate) async fn status_tsdb(
    State(state): State<AppState>,
    reader: Reader,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    let limit = parse_limit(params.get("limit"))?;
    let tenant = reader.single_tenant("/api/v1/status/tsdb")?;
    // The statistics cover the whole tenant head; a caller whose policy
    // narrows its view would learn about series it may not see.
    if reader.is_restricted() {
        return Err(ApiError::Forbidden(
            "status/tsdb covers the whole tenant; the caller's policy restricts which series it may see".into(),
        ));
    }
    let storage = state.require_storage()?;
    // In cluster mode the owners of the tenant's partitions answer, and
    // their heads' statistics are summed before ranking.
    let status = blocking(move || Ok(reader.source(&storage).tsdb_status(&tenant, limit)?)).await?;
    Ok(Json(json!({"status": "success", "data": to_json(&status)})))
}

/// Upstream's `limit` rules and messages.
fn parse_limit(v: Option<&str>) -> Result<usize, ApiError> {
    let Some(v) = v else {
        return Ok(DEFAULT_LIMIT);
    };
    match v.parse::<i64>() {
        Ok(n) if n >= 1 && n as u64 <= MAX_LIMIT as u64 => Ok(n as usize),
        Ok(n) if n > 1 => Err(ApiError::BadData(format!(
            "limit must not exceed {MAX_LIMIT}"
        ))),
        _ => Err(ApiError::BadData("limit must be a positive number".into())),
    }
}

/// The body's `data`, in upstream's field names.
fn to_json(s: &TsdbStatus) -> Value {
    let list = |v: &[CardinalityStat]| -> Value {
        v.iter()
            .map(|e| json!({"name": e.name, "value": e.value}))
            .collect()
    };
    json!({
        "headStats": {
            "numSeries": s.num_series,
            "numLabelPairs": s.num_label_pairs,
            "chunkCount": s.chunk_count,
            "minTime": s.min_time,
            "maxTime": s.max_time,
        },
        "seriesCountByMetricName": list(&s.series_count_by_metric_name),
        "labelValueCountByLabelName": list(&s.label_value_count_by_label_name),
        "memoryInBytesByLabelName": list(&s.memory_in_bytes_by_label_name),
        "seriesCountByLabelValuePair": list(&s.series_count_by_label_value_pair),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_follows_upstream_rules() {
        let cases: &[(Option<&str>, Result<usize, &str>)] = &[
            (None, Ok(10)),
            (Some("1"), Ok(1)),
            (Some("10000"), Ok(10_000)),
            (Some("10001"), Err("limit must not exceed 10000")),
            (Some("0"), Err("limit must be a positive number")),
            (Some("-3"), Err("limit must be a positive number")),
            (Some("x"), Err("limit must be a positive number")),
        ];
        for (input, want) in cases {
            let got = parse_limit(*input).map_err(|e| e.to_string());
            assert_eq!(got, want.map_err(String::from), "{input:?}");
        }
    }
}
