//! `format_query` output, byte for byte. The 100-column table was
//! checked against Prometheus 2.42's `/api/v1/format_query`; the 10-column
//! table exercises every kind of split upstream's prettier makes
//! (`promql/parser/prettier.go` at d15adb9, whose own test cases this
//! prettier also reproduces) on syntax 2.42 does not know as well.

use super::{parse, prettify, prettify_width};

fn check(width: usize, rows: &[(&str, &str)]) {
    for (q, want) in rows {
        let e = parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
        let got = if width == 100 { prettify(&e) } else { prettify_width(&e, width) };
        assert_eq!(&got, &want.replace("\\n", "\n"), "{q}");
    }
}

#[test]
fn format_query_matches_prometheus_2_42() {
    check(100, &[
        (r#"sum without(job,foo) (task:errors:rate10s{job="s"})"#, r#"sum without (job, foo) (task:errors:rate10s{job="s"})"#),
        (r#"sum(task:errors:rate10s{job="s"}) by(job,foo)"#, r#"sum by (job, foo) (task:errors:rate10s{job="s"})"#),
        (r#"topk(5, task:errors:rate10s{job="s"})"#, r#"topk(5, task:errors:rate10s{job="s"})"#),
        (r#"count_values("value", task:errors:rate10s{job="s"})"#, r#"count_values("value", task:errors:rate10s{job="s"})"#),
        (r#"quantile(0.9, rate(http_requests_total{job="api"}[5m]))"#, r#"quantile(0.9, rate(http_requests_total{job="api"}[5m]))"#),
        (r#"a + b"#, r#"a + b"#),
        (r#"a - on(b) group_left(x) c"#, r#"a - on (b) group_left (x) c"#),
        (r#"a - on(b) group_left c"#, r#"a - on (b) group_left () c"#),
        (r#"a - ignoring(b) group_right(x, y) c"#, r#"a - ignoring (b) group_right (x, y) c"#),
        (r#"a > bool 1"#, r#"a > bool 1"#),
        (r#"a and on(b) c"#, r#"a and on (b) c"#),
        (r#"a unless ignoring(b) c"#, r#"a unless ignoring (b) c"#),
        (r#"a or b"#, r#"a or b"#),
        (r#"label_replace(up{job="api-server",service="a:c"}, "foo", "$1", "service", "(.*):.*")"#, r#"label_replace(up{job="api-server",service="a:c"}, "foo", "$1", "service", "(.*):.*")"#),
        (r#"histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket{job="api-server"}[5m])))"#, r#"histogram_quantile(\n  0.9,\n  sum by (le) (rate(http_request_duration_seconds_bucket{job="api-server"}[5m]))\n)"#),
        (r#"round(rate(x[5m]), 0.5)"#, r#"round(rate(x[5m]), 0.5)"#),
        (r#"(foo)"#, r#"(foo)"#),
        (r#"((foo))"#, r#"((foo))"#),
        (r#"-foo"#, r#"-foo"#),
        (r#"-(1 + foo)"#, r#"-(1 + foo)"#),
        (r#"+foo"#, r#"+foo"#),
        (r#"-1"#, r#"-1"#),
        (r#"foo offset 5m"#, r#"foo offset 5m"#),
        (r#"foo offset -1h30m"#, r#"foo offset -1h30m"#),
        (r#"foo @ 1603775091"#, r#"foo @ 1603775091.000"#),
        (r#"foo @ start()"#, r#"foo @ start()"#),
        (r#"foo[5m] @ end() offset 1m"#, r#"foo[5m] @ end() offset 1m"#),
        (r#"rate(foo[5m] @ 100)"#, r#"rate(foo[5m] @ 100.000)"#),
        (r#"max_over_time(rate(foo[5m])[1h:5m])"#, r#"max_over_time(rate(foo[5m])[1h:5m])"#),
        (r#"max_over_time(rate(foo[5m])[1h:])"#, r#"max_over_time(rate(foo[5m])[1h:])"#),
        (r#"max_over_time(rate(foo[5m])[1h:5m] offset 10m @ 1000)"#, r#"max_over_time(rate(foo[5m])[1h:5m] @ 1000.000 offset 10m)"#),
        (r#"foo{a="b", c!="d", e=~"f.*", g!~"h|i"}"#, r#"foo{a="b",c!="d",e=~"f.*",g!~"h|i"}"#),
        (r#"{__name__="foo", job="x"}"#, r#"{__name__="foo",job="x"}"#),
        (r#"{__name__=~"foo|bar"}"#, r#"{__name__=~"foo|bar"}"#),
        (r#""a string""#, r#""a string""#),
        (r#"'single'"#, r#""single""#),
        (r#"1e3"#, r#"1000"#),
        (r#"0x10"#, r#"16"#),
        (r#"NaN"#, r#"NaN"#),
        (r#"Inf"#, r#"+Inf"#),
        (r#"-Inf"#, r#"-Inf"#),
        (r#"time()"#, r#"time()"#),
        (r#"vector(1)"#, r#"vector(1)"#),
        (r#"absent(nonexistent{job="myjob"})"#, r#"absent(nonexistent{job="myjob"})"#),
        (r#"sum by (job) (rate(http_requests_total{job="api-server",group="canary",instance="10.0.0.1:8080",handler="/api/v1/query_range"}[5m]))"#, r#"sum by (job) (\n  rate(\n    http_requests_total{group="canary",handler="/api/v1/query_range",instance="10.0.0.1:8080",job="api-server"}[5m]\n  )\n)"#),
        (r#"sum by (job) (rate(http_requests_total{job="api-server"}[5m])) / on (job) group_left sum by (job) (rate(http_requests_total{job="api-server",code=~"5.."}[5m]))"#, r#"  sum by (job) (rate(http_requests_total{job="api-server"}[5m]))\n/ on (job) group_left ()\n  sum by (job) (rate(http_requests_total{code=~"5..",job="api-server"}[5m]))"#),
        (r#"histogram_quantile(0.99, sum by (le, job, instance, handler) (rate(prometheus_http_request_duration_seconds_bucket{job="prometheus"}[5m])))"#, r#"histogram_quantile(\n  0.99,\n  sum by (le, job, instance, handler) (\n    rate(prometheus_http_request_duration_seconds_bucket{job="prometheus"}[5m])\n  )\n)"#),
        (r#"(sum by (instance) (rate(node_cpu_seconds_total{mode!="idle",job="node",instance=~"host-.*"}[5m])) / sum by (instance) (rate(node_cpu_seconds_total[5m])))"#, r#"(\n    sum by (instance) (rate(node_cpu_seconds_total{instance=~"host-.*",job="node",mode!="idle"}[5m]))\n  /\n    sum by (instance) (rate(node_cpu_seconds_total[5m]))\n)"#),
        (r#"-sum by (instance) (rate(node_network_receive_bytes_total{device!~"lo|veth.*|docker.*",job="node",instance=~"host-.*"}[5m]))"#, r#"-sum by (instance) (\n  rate(\n    node_network_receive_bytes_total{device!~"lo|veth.*|docker.*",instance=~"host-.*",job="node"}[5m]\n  )\n)"#),
        (r#"max_over_time(sum by (instance) (rate(node_network_receive_bytes_total{device!~"lo|veth.*",job="node"}[5m]))[1h:1m])"#, r#"max_over_time(\n  sum by (instance) (rate(node_network_receive_bytes_total{device!~"lo|veth.*",job="node"}[5m]))[1h:1m]\n)"#),
        (r#"label_join(up{job="api-server",instance="10.0.0.1:8080",group="canary",service="frontend-service-v2"}, "foo", ",", "job", "instance")"#, r#"label_join(\n  up{group="canary",instance="10.0.0.1:8080",job="api-server",service="frontend-service-v2"},\n  "foo",\n  ",",\n  "job",\n  "instance"\n)"#),
    ]);
}

#[test]
fn every_split_matches_upstream_prettier_rules() {
    check(10, &[
        (r#"topk(5, rate(http_requests_total[5m]))"#, r#"topk(\n  5,\n  rate(\n    http_requests_total[5m]\n  )\n)"#),
        (r#"sum by (job) (rate(x[5m])) / on (job) group_left (a) sum(y)"#, r#"  sum by (job) (\n    rate(\n      x[5m]\n    )\n  )\n/ on (job) group_left (a)\n  sum(y)"#),
        (r#"a + ignoring (x) fill_left (0) b"#, r#"  a\n+ ignoring (x) fill_left (0)\n  b"#),
        (r#"clamp(metric_name, 0, 100)"#, r#"clamp(\n  metric_name,\n  0,\n  100\n)"#),
        (r#"((a + b))"#, r#"((a + b))"#),
        (r#"-sum(rate(metric_name[5m]))"#, r#"-sum(\n  rate(\n    metric_name[5m]\n  )\n)"#),
        (r#"max_over_time(rate(metric_name[5m])[1h:5m] offset 1m)"#, r#"max_over_time(\n  rate(\n    metric_name[5m]\n  )[1h:5m] offset 1m\n)"#),
        (r#"rate(metric_name[5m:1m])[1h:] @ start()"#, r#"rate(\n  metric_name[5m:1m]\n)[1h:] @ start()"#),
        (r#"metric_name[step() * 2] anchored"#, r#"metric_name[step() * 2] anchored"#),
        (r#"rate(metric_name[5m + 1m] smoothed offset -(1m))"#, r#"rate(\n  metric_name[5m + 1m] smoothed offset -(1m)\n)"#),
    ]);
}
