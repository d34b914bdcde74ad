//! Reads every stored sample back through the query API and holds it
//! against the senders' logs.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::load::{series_id, value, Outcome, SenderLog, METRIC, SAMPLES_PER_BATCH};
use super::load::{SERIES_PER_SENDER, TENANT};

/// What one verification saw.
#[derive(Debug, Default)]
pub struct Verified {
    /// Acknowledged samples, all found with their exact values.
    pub acked: u64,
    /// Samples of refused or failed requests.
    pub unknown: u64,
    /// How many of those were stored (each with its exact value).
    pub unknown_present: u64,
    /// Requests by outcome: acknowledged, refused, failed.
    pub requests: (u64, u64, u64),
    /// Refused requests by HTTP status.
    pub refused: BTreeMap<u16, u64>,
}

/// Every timestamp a sender attempted, with whether it was acknowledged.
pub fn attempted(log: &SenderLog) -> BTreeMap<i64, bool> {
    let mut m = BTreeMap::new();
    for b in &log.batches {
        for t in b.first_t..b.first_t + SAMPLES_PER_BATCH {
            m.insert(t, b.outcome == Outcome::Acked);
        }
    }
    m
}

/// GETs an API path with `params` as the test tenant; panics unless the
/// answer is `status: success`, and returns its `data`. A cluster's 503
/// (`cluster: ...`: partitions changing owner, which its message says to
/// retry) is retried for up to a minute, as a client would.
pub async fn api(base: &str, path: &str, params: &[(&str, String)]) -> Value {
    let started = std::time::Instant::now();
    loop {
        let resp = reqwest::Client::new()
            .get(format!("{base}{path}"))
            .header("X-Scope-OrgID", TENANT)
            .query(params)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        let status = resp.status();
        let body: Value = resp
            .json()
            .await
            .unwrap_or_else(|e| panic!("{path}: not JSON: {e}"));
        let moving = status == reqwest::StatusCode::SERVICE_UNAVAILABLE
            && body["error"]
                .as_str()
                .is_some_and(|e| e.starts_with("cluster: "));
        if moving && started.elapsed() < std::time::Duration::from_secs(60) {
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            continue;
        }
        assert!(
            status.is_success() && body["status"] == "success",
            "{path} {params:?}: {status} {body}"
        );
        return body["data"].clone();
    }
}

/// Float seconds as the API takes them, from ms.
pub fn secs(t: i64) -> String {
    format!("{}.{:03}", t.div_euclid(1000), t.rem_euclid(1000))
}

/// Raw samples of one sender's series: an instant query of a range
/// selector that covers every timestamp attempted. Keyed by series id.
async fn raw(
    base: &str,
    sender: usize,
    min_t: i64,
    max_t: i64,
) -> BTreeMap<usize, Vec<(i64, f64)>> {
    // The range is left-open, so it reaches one ms further back.
    let range = max_t - min_t + 1;
    let q = format!("{METRIC}{{sender=\"{sender}\"}}[{range}ms]");
    let data = api(
        base,
        "/api/v1/query",
        &[("query", q), ("time", secs(max_t))],
    )
    .await;
    assert_eq!(data["resultType"], "matrix", "{data}");
    let mut out = BTreeMap::new();
    for s in data["result"].as_array().expect("result") {
        let id: usize = s["metric"]["series"]
            .as_str()
            .expect("series label")
            .parse()
            .unwrap();
        let samples = s["values"]
            .as_array()
            .expect("values")
            .iter()
            .map(|p| {
                let t = (p[0].as_f64().expect("ts") * 1000.0).round() as i64;
                let v: f64 = p[1].as_str().expect("value").parse().expect("float");
                (t, v)
            })
            .collect();
        assert!(out.insert(id, samples).is_none(), "series {id} twice");
    }
    out
}

/// Checks every sender's series: each acknowledged sample present with its
/// exact value; nothing present that was never sent, or with another
/// value; no timestamp twice. Panics with the first problems found.
pub async fn verify(base: &str, logs: &[SenderLog]) -> Verified {
    let mut v = Verified::default();
    let mut problems = Vec::new();
    for log in logs {
        let tried = attempted(log);
        count_requests(log, &mut v);
        let (Some((&min_t, _)), Some((&max_t, _))) =
            (tried.first_key_value(), tried.last_key_value())
        else {
            continue;
        };
        let stored = raw(base, log.sender, min_t, max_t).await;
        for i in 0..SERIES_PER_SENDER {
            let id = series_id(log.sender, i);
            let samples = stored.get(&id).map(Vec::as_slice).unwrap_or(&[]);
            check_series(id, samples, &tried, &mut v, &mut problems);
        }
        for id in stored.keys() {
            if !(0..SERIES_PER_SENDER).any(|i| series_id(log.sender, i) == *id) {
                problems.push(format!(
                    "series {id} was never written by sender {}",
                    log.sender
                ));
            }
        }
    }
    if !problems.is_empty() {
        let n = problems.len();
        problems.truncate(20);
        panic!(
            "{n} durability problems, the first ones:\n{}",
            problems.join("\n")
        );
    }
    v
}

fn count_requests(log: &SenderLog, v: &mut Verified) {
    for b in &log.batches {
        match b.outcome {
            Outcome::Acked => v.requests.0 += 1,
            Outcome::Refused(code) => {
                v.requests.1 += 1;
                *v.refused.entry(code).or_default() += 1;
            }
            Outcome::Failed => v.requests.2 += 1,
        }
    }
}

/// Holds one series' stored samples against what was attempted.
pub fn check_series(
    id: usize,
    samples: &[(i64, f64)],
    tried: &BTreeMap<i64, bool>,
    v: &mut Verified,
    problems: &mut Vec<String>,
) {
    let mut present = BTreeSet::new();
    for &(t, got) in samples {
        if !present.insert(t) {
            problems.push(format!("series {id}: t={t} stored twice"));
        }
        match tried.get(&t) {
            None => problems.push(format!("series {id}: t={t} (value {got}) was never sent")),
            Some(_) if got.to_bits() != value(id, t).to_bits() => problems.push(format!(
                "series {id}: t={t} holds {got}, but {} was sent",
                value(id, t)
            )),
            Some(_) => {}
        }
    }
    for (&t, &acked) in tried {
        match (acked, present.contains(&t)) {
            (true, true) => v.acked += 1,
            (true, false) => problems.push(format!("series {id}: acknowledged t={t} is missing")),
            (false, p) => {
                v.unknown += 1;
                v.unknown_present += u64::from(p);
            }
        }
    }
}
