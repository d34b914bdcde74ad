//! Odd `Accept` headers on `/federate`: each must get a 200 in the text
//! format or, where protobuf is the best acceptable range, the delimited
//! protobuf format; never an error or a crash.

use super::cases::{Case, Send};
use super::raw::request;

const PROTO: &str =
    "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited";
const TEXT_TYPE: &str = "text/plain; version=0.0.4";
const PROTO_TYPE: &str =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";

fn accept(name: &str, value: String, body: &'static str) -> Case {
    let path = "/federate?match%5B%5D=up";
    Case {
        name: format!("federate with {name}"),
        send: Send::Raw(request("GET", path, &[("Accept", &value)], b"")),
        status: Some(200),
        body,
    }
}

/// The cases.
pub fn accept_cases() -> Vec<Case> {
    vec![
        accept(
            "a garbage Accept header",
            ";;,,/=;q=,;q=zz,a/b/c;;=".into(),
            TEXT_TYPE,
        ),
        accept(
            "protobuf at q=NaN, q=-1 and q=1e999",
            format!("{PROTO};q=NaN,{PROTO};q=-1,{PROTO};q=1e999"),
            TEXT_TYPE,
        ),
        accept(
            "a 30 KB Accept header ending in protobuf",
            format!("{}{PROTO}", "text/html;q=0.9,".repeat(2_000)),
            TEXT_TYPE,
        ),
        accept(
            "40 q-values before protobuf",
            format!("{}{PROTO};q=0.95", "text/html;q=0.9,".repeat(40)),
            PROTO_TYPE,
        ),
        accept(
            "protobuf with an unknown encoding",
            PROTO.replace("delimited", "zstd"),
            TEXT_TYPE,
        ),
    ]
}
