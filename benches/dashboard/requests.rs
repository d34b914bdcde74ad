//! The dashboard requests, their answers in comparable form, and the table.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::{Duration, Instant};

use serde_json::Value as Json;

use super::servers::Server;
use super::Row;

/// What a request asks.
enum Ask {
    /// `query_range` over the whole hour at the scrape step.
    Range(&'static str),
    /// `query` at the last scrape.
    Instant(&'static str),
    /// A `GET` of this API path over the whole hour (labels, values, series).
    Lookup(&'static str),
}

/// One dashboard request.
pub struct Request {
    /// Short name for the table.
    pub name: &'static str,
    ask: Ask,
    start_ms: i64,
    end_ms: i64,
}

/// A request's answer in comparable form.
#[derive(Debug)]
pub enum Answer {
    /// Per series (labels as one string): points and the sum of finite values.
    Series(BTreeMap<String, (usize, f64)>),
    /// A lookup's list of strings, sorted.
    Strings(Vec<String>),
    /// Something else (an error), verbatim.
    Other(String),
}

/// Relative tolerance on each series' sum.
const REL: f64 = 1e-6;

impl Answer {
    /// The first few entries, for a message.
    pub fn brief(&self) -> String {
        match self {
            Answer::Series(m) => format!(
                "{} series: {:?}",
                m.len(),
                m.iter().take(3).collect::<Vec<_>>()
            ),
            Answer::Strings(v) => format!("{} strings: {:?}", v.len(), &v[..v.len().min(3)]),
            Answer::Other(s) => s.clone(),
        }
    }

    /// Whether `self` and `other` are the same result.
    pub fn agrees(&self, other: &Answer) -> bool {
        match (self, other) {
            (Answer::Series(a), Answer::Series(b)) => {
                a.len() == b.len()
                    && a.iter().zip(b).all(|((ka, (pa, sa)), (kb, (pb, sb)))| {
                        let scale = sa.abs().max(sb.abs()).max(f64::MIN_POSITIVE);
                        ka == kb && pa == pb && (sa - sb).abs() / scale <= REL
                    })
            }
            (Answer::Strings(a), Answer::Strings(b)) => a == b,
            _ => false,
        }
    }
}

/// The fixed request list over data from `start_ms` to `end_ms`.
pub fn list(start_ms: i64, end_ms: i64) -> Vec<Request> {
    let asks: [(&'static str, Ask); 15] = [
        ("sum(rate(cpu))", Ask::Range("sum(rate(node_cpu_seconds_total[5m]))")),
        (
            "busy cpu by instance",
            Ask::Range(r#"sum by (instance) (rate(node_cpu_seconds_total{mode!="idle"}[5m]))"#),
        ),
        (
            "cpu % by instance",
            Ask::Range(
                r#"100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m])))"#,
            ),
        ),
        (
            "p99 latency",
            Ask::Range(
                "histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))",
            ),
        ),
        (
            "p90 latency by instance",
            Ask::Range(
                "histogram_quantile(0.9, sum by (le, instance) (rate(http_request_duration_seconds_bucket[5m])))",
            ),
        ),
        (
            "top 10 network",
            Ask::Range("topk(10, sum by (instance) (rate(node_network_receive_bytes_total[5m])))"),
        ),
        (
            "memory used ratio",
            Ask::Range("1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes"),
        ),
        (
            "fs avail by mount",
            Ask::Range("max by (mountpoint) (node_filesystem_avail_bytes)"),
        ),
        (
            "avg load, smoothed",
            Ask::Range("avg(avg_over_time(node_load1[5m]))"),
        ),
        (
            "request rate by instance",
            Ask::Range("sum by (instance) (rate(http_request_duration_seconds_count[5m]))"),
        ),
        (
            "instant cpu by instance",
            Ask::Instant("sum by (instance) (rate(node_cpu_seconds_total[5m]))"),
        ),
        ("instant top 5 load", Ask::Instant("topk(5, node_load1)")),
        ("label names", Ask::Lookup("/api/v1/labels")),
        ("instance values", Ask::Lookup("/api/v1/label/instance/values")),
        (
            "series of node_load1",
            Ask::Lookup("/api/v1/series?match[]=node_load1"),
        ),
    ];
    asks.into_iter()
        .map(|(name, ask)| Request {
            name,
            ask,
            start_ms,
            end_ms,
        })
        .collect()
}

fn secs(ms: i64) -> String {
    format!("{:.3}", ms as f64 / 1000.0)
}

impl Request {
    /// Runs the request on `s`, with `nocache=1` when `nocache`, and
    /// reads its answer.
    pub fn run(&self, s: &Server, nocache: bool) -> Answer {
        match self.fetch(s, nocache) {
            Ok(body) => answer(&body),
            Err(e) => Answer::Other(e),
        }
    }

    /// The request and its body read, what a dashboard waits for; the
    /// benchmark times this, not the parsing of the body into an
    /// [`Answer`].
    pub fn fetch(&self, s: &Server, nocache: bool) -> Result<String, String> {
        let (path, mut params): (&str, Vec<(&str, String)>) = match self.ask {
            Ask::Range(q) => (
                "/api/v1/query_range",
                vec![
                    ("query", q.to_string()),
                    ("start", secs(self.start_ms)),
                    ("end", secs(self.end_ms)),
                    ("step", "15".to_string()),
                ],
            ),
            Ask::Instant(q) => (
                "/api/v1/query",
                vec![("query", q.to_string()), ("time", secs(self.end_ms))],
            ),
            Ask::Lookup(p) => (
                p,
                vec![("start", secs(self.start_ms)), ("end", secs(self.end_ms))],
            ),
        };
        if nocache {
            params.push(("nocache", "1".to_string()));
        }
        let r = s
            .client
            .get(format!("{}{path}", s.base))
            .query(&params)
            .send()
            .and_then(|r| r.text());
        r.map_err(|e| e.to_string())
    }
}

fn answer(body: &str) -> Answer {
    let Ok(j) = serde_json::from_str::<Json>(body) else {
        return Answer::Other(body.chars().take(200).collect());
    };
    if j["status"] != "success" {
        return Answer::Other(body.chars().take(200).collect());
    }
    let data = &j["data"];
    if let Some(items) = data.as_array() {
        let mut v: Vec<String> = items
            .iter()
            .map(|i| match i.as_str() {
                Some(s) => s.to_string(),
                None => canonical(i),
            })
            .collect();
        v.sort();
        return Answer::Strings(v);
    }
    let mut out = BTreeMap::new();
    for series in data["result"].as_array().into_iter().flatten() {
        let key = canonical(&series["metric"]);
        let points: Vec<&Json> = match series.get("values") {
            Some(vs) => vs.as_array().into_iter().flatten().collect(),
            None => vec![&series["value"]],
        };
        let mut sum = 0.0;
        for p in &points {
            let v: f64 = p[1]
                .as_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or(f64::NAN);
            if v.is_finite() {
                sum += v;
            }
        }
        out.insert(key, (points.len(), sum));
    }
    Answer::Series(out)
}

/// Labels of a series as `{a="x",b="y"}`, sorted by name.
fn canonical(labels: &Json) -> String {
    let mut pairs: Vec<(String, String)> = labels
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect();
    pairs.sort();
    let inner: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", inner.join(","))
}

/// Waits until `s` holds `samples` samples (up to 3 minutes).
pub fn wait_for_count(s: &Server, end_ms: i64, samples: u64) {
    // One family at a time: dropping the metric name would leave series
    // with equal label sets, which Prometheus refuses.
    let q = super::data::FAMILIES
        .iter()
        .map(|f| format!("sum(count_over_time({f}[62m]))"))
        .collect::<Vec<_>>()
        .join(" + ");
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut last = String::new();
    while Instant::now() < deadline {
        let got = s
            .client
            .get(format!("{}/api/v1/query", s.base))
            .query(&[("query", q.as_str()), ("time", &secs(end_ms))])
            .send()
            .and_then(|r| r.text());
        if let Ok(body) = got {
            if let Answer::Series(m) = answer(&body) {
                if m.values().next().is_some_and(|&(_, n)| n == samples as f64) {
                    return;
                }
            }
            last = body;
        }
        s.flush();
        std::thread::sleep(Duration::from_millis(500));
    }
    panic!(
        "{} holds a different number of samples than the {samples} sent: {last}",
        s.kind.name()
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn geomean(xs: impl Iterator<Item = f64>) -> f64 {
    let (mut log, mut n) = (0.0, 0);
    for x in xs {
        log += x.ln();
        n += 1;
    }
    (log / n.max(1) as f64).exp()
}

/// The markdown table of `rows`.
pub fn table(rows: &[Row], hosts: usize, runs: usize) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "Dashboard requests, {hosts} hosts x 87 series, 1 h at 15 s; median of at least {runs} runs, more until 300 ms were timed, in rounds over the servers (ms).\n"
    );
    let _ = writeln!(
        t,
        "| request | Tessera no cache | VM no cache | ratio | Tessera cache | VM cache | ratio | Prometheus | Tessera/Prom | VM answer |"
    );
    let _ = writeln!(t, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for r in rows {
        let [toff, ton] = r.tessera.map(ms);
        let [voff, von] = r.victoria.map(ms);
        let p = ms(r.prometheus);
        let _ = writeln!(
            t,
            "| {} | {toff:.2} | {voff:.2} | {:.2} | {ton:.2} | {von:.2} | {:.2} | {p:.2} | {:.2} | {} |",
            r.name,
            toff / voff,
            ton / von,
            toff / p,
            if r.victoria_agrees { "same" } else { "differs" }
        );
    }
    let g_off = geomean(rows.iter().map(|r| ms(r.tessera[0]) / ms(r.victoria[0])));
    let g_on = geomean(rows.iter().map(|r| ms(r.tessera[1]) / ms(r.victoria[1])));
    let g_p = geomean(rows.iter().map(|r| ms(r.tessera[0]) / ms(r.prometheus)));
    let worst = rows
        .iter()
        .map(|r| (ms(r.tessera[1]) / ms(r.victoria[1])).max(ms(r.tessera[0]) / ms(r.victoria[0])))
        .fold(0.0, f64::max);
    let _ = writeln!(
        t,
        "| **geometric mean** | | | **{g_off:.2}** | | | **{g_on:.2}** | | **{g_p:.2}** | |"
    );
    let _ = writeln!(
        t,
        "\nWorst single request against VictoriaMetrics (either mode): {worst:.2}x. \
         Targets: geometric mean <= 0.5x VM without cache, <= 0.8x with cache, \
         no request slower than VM, <= 0.3x Prometheus."
    );
    t
}
