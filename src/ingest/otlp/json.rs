//! OTLP/JSON into the protobuf messages.
//!
//! The OTLP JSON encoding is proto3's JSON mapping with OTLP's deviations:
//! keys in lowerCamelCase (the proto names are accepted too), 64-bit
//! integers as decimal strings or numbers, enums as integers, and trace and
//! span ids as hex strings instead of base64. Unknown keys are ignored, as
//! the specification asks of receivers.

use serde_json::{Map, Value as Json};

use super::decode::{MAX_DATA_POINTS, MAX_ITEMS, MAX_JSON_BYTES};
use super::proto::*;
use crate::ingest::IngestError;

type Res<T> = Result<T, IngestError>;

/// Decodes an OTLP/JSON body.
pub fn decode_json(body: &[u8]) -> Res<ExportMetricsServiceRequest> {
    if body.len() > MAX_JSON_BYTES {
        return Err(IngestError::TooLarge {
            size: body.len(),
            limit: MAX_JSON_BYTES,
        });
    }
    let root: Json = serde_json::from_slice(body)
        .map_err(|e| IngestError::Otlp(format!("invalid OTLP JSON body: {e}")))?;
    let mut cx = Cx::default();
    let obj = cx.object(&root, "request")?;
    Ok(ExportMetricsServiceRequest {
        resource_metrics: cx.list(obj, &["resourceMetrics", "resource_metrics"], |cx, v| {
            cx.resource_metrics(v)
        })?,
    })
}

/// Counts what is built, against the same limits as protobuf bodies.
#[derive(Default)]
struct Cx {
    items: u64,
    points: u64,
}

fn bad(what: &str, why: impl std::fmt::Display) -> IngestError {
    IngestError::Otlp(format!("invalid OTLP JSON body: {what}: {why}"))
}

fn field<'a>(obj: &'a Map<String, Json>, names: &[&str]) -> Option<&'a Json> {
    names
        .iter()
        .find_map(|n| obj.get(*n))
        .filter(|v| !v.is_null())
}

impl Cx {
    fn count(&mut self, point: bool) -> Res<()> {
        self.items += 1;
        self.points += u64::from(point);
        if self.points > MAX_DATA_POINTS {
            return Err(IngestError::TooMany(format!(
                "OTLP request carries more than {MAX_DATA_POINTS} data points; split it"
            )));
        }
        if self.items > MAX_ITEMS {
            return Err(IngestError::TooMany(format!(
                "OTLP request carries more than {MAX_ITEMS} messages; split it"
            )));
        }
        Ok(())
    }

    fn object<'a>(&mut self, v: &'a Json, what: &str) -> Res<&'a Map<String, Json>> {
        self.count(false)?;
        v.as_object().ok_or_else(|| bad(what, "expected an object"))
    }

    fn list<T>(
        &mut self,
        obj: &Map<String, Json>,
        names: &[&str],
        mut each: impl FnMut(&mut Self, &Json) -> Res<T>,
    ) -> Res<Vec<T>> {
        match field(obj, names) {
            None => Ok(Vec::new()),
            Some(Json::Array(a)) => a.iter().map(|v| each(self, v)).collect(),
            Some(_) => Err(bad(names[0], "expected an array")),
        }
    }

    fn resource_metrics(&mut self, v: &Json) -> Res<ResourceMetrics> {
        let o = self.object(v, "resourceMetrics")?;
        let resource = match field(o, &["resource"]) {
            Some(r) => {
                let r = self.object(r, "resource")?;
                Some(Resource {
                    attributes: self.attributes(r, &["attributes"])?,
                })
            }
            None => None,
        };
        Ok(ResourceMetrics {
            resource,
            scope_metrics: self.list(o, &["scopeMetrics", "scope_metrics"], |cx, v| {
                cx.scope_metrics(v)
            })?,
            schema_url: string(o, &["schemaUrl", "schema_url"])?,
        })
    }

    fn scope_metrics(&mut self, v: &Json) -> Res<ScopeMetrics> {
        let o = self.object(v, "scopeMetrics")?;
        let scope = match field(o, &["scope"]) {
            Some(s) => {
                let s = self.object(s, "scope")?;
                Some(InstrumentationScope {
                    name: string(s, &["name"])?,
                    version: string(s, &["version"])?,
                    attributes: self.attributes(s, &["attributes"])?,
                })
            }
            None => None,
        };
        Ok(ScopeMetrics {
            scope,
            metrics: self.list(o, &["metrics"], |cx, v| cx.metric(v))?,
            schema_url: string(o, &["schemaUrl", "schema_url"])?,
        })
    }

    fn metric(&mut self, v: &Json) -> Res<Metric> {
        let o = self.object(v, "metric")?;
        let temporality = |d: &Map<String, Json>| {
            int(d, &["aggregationTemporality", "aggregation_temporality"]).map(|t| t as i32)
        };
        let points = ["dataPoints", "data_points"];
        let data = if let Some(d) = field(o, &["gauge"]) {
            let d = self.object(d, "gauge")?;
            Some(MetricData::Gauge(Gauge {
                data_points: self.list(d, &points, |cx, v| cx.number_point(v))?,
            }))
        } else if let Some(d) = field(o, &["sum"]) {
            let d = self.object(d, "sum")?;
            Some(MetricData::Sum(Sum {
                data_points: self.list(d, &points, |cx, v| cx.number_point(v))?,
                aggregation_temporality: temporality(d)?,
                is_monotonic: boolean(d, &["isMonotonic", "is_monotonic"])?,
            }))
        } else if let Some(d) = field(o, &["histogram"]) {
            let d = self.object(d, "histogram")?;
            Some(MetricData::Histogram(Histogram {
                data_points: self.list(d, &points, |cx, v| cx.histogram_point(v))?,
                aggregation_temporality: temporality(d)?,
            }))
        } else if let Some(d) = field(o, &["exponentialHistogram", "exponential_histogram"]) {
            let d = self.object(d, "exponentialHistogram")?;
            Some(MetricData::ExponentialHistogram(ExponentialHistogram {
                data_points: self.list(d, &points, |cx, v| cx.exponential_point(v))?,
                aggregation_temporality: temporality(d)?,
            }))
        } else if let Some(d) = field(o, &["summary"]) {
            let d = self.object(d, "summary")?;
            Some(MetricData::Summary(Summary {
                data_points: self.list(d, &points, |cx, v| cx.summary_point(v))?,
            }))
        } else {
            None
        };
        Ok(Metric {
            name: string(o, &["name"])?,
            description: string(o, &["description"])?,
            unit: string(o, &["unit"])?,
            data,
        })
    }

    fn number_point(&mut self, v: &Json) -> Res<NumberDataPoint> {
        self.count(true)?;
        let o = self.object(v, "dataPoint")?;
        let value = if field(o, &["asDouble", "as_double"]).is_some() {
            Some(NumberValue::AsDouble(double(
                o,
                &["asDouble", "as_double"],
            )?))
        } else if field(o, &["asInt", "as_int"]).is_some() {
            Some(NumberValue::AsInt(int(o, &["asInt", "as_int"])?))
        } else {
            None
        };
        Ok(NumberDataPoint {
            attributes: self.attributes(o, &["attributes"])?,
            start_time_unix_nano: uint(o, &["startTimeUnixNano", "start_time_unix_nano"])?,
            time_unix_nano: uint(o, &["timeUnixNano", "time_unix_nano"])?,
            value,
            exemplars: self.exemplars(o)?,
            flags: uint(o, &["flags"])? as u32,
        })
    }

    fn histogram_point(&mut self, v: &Json) -> Res<HistogramDataPoint> {
        self.count(true)?;
        let o = self.object(v, "dataPoint")?;
        Ok(HistogramDataPoint {
            attributes: self.attributes(o, &["attributes"])?,
            start_time_unix_nano: uint(o, &["startTimeUnixNano", "start_time_unix_nano"])?,
            time_unix_nano: uint(o, &["timeUnixNano", "time_unix_nano"])?,
            count: uint(o, &["count"])?,
            sum: opt_double(o, &["sum"])?,
            bucket_counts: self.list(o, &["bucketCounts", "bucket_counts"], |cx, v| {
                cx.count(false)?;
                uint_value(v, "bucketCounts")
            })?,
            explicit_bounds: self.list(o, &["explicitBounds", "explicit_bounds"], |cx, v| {
                cx.count(false)?;
                double_value(v, "explicitBounds")
            })?,
            exemplars: self.exemplars(o)?,
            flags: uint(o, &["flags"])? as u32,
        })
    }

    fn exponential_point(&mut self, v: &Json) -> Res<ExponentialHistogramDataPoint> {
        self.count(true)?;
        let o = self.object(v, "dataPoint")?;
        let buckets = |cx: &mut Self, name: &str| -> Res<Option<Buckets>> {
            let Some(b) = field(o, &[name]) else {
                return Ok(None);
            };
            let b = cx.object(b, name)?;
            Ok(Some(Buckets {
                offset: i32::try_from(int(b, &["offset"])?)
                    .map_err(|_| bad(name, "offset out of range"))?,
                bucket_counts: cx.list(b, &["bucketCounts", "bucket_counts"], |cx, v| {
                    cx.count(false)?;
                    uint_value(v, "bucketCounts")
                })?,
            }))
        };
        let positive = buckets(self, "positive")?;
        let negative = buckets(self, "negative")?;
        Ok(ExponentialHistogramDataPoint {
            attributes: self.attributes(o, &["attributes"])?,
            start_time_unix_nano: uint(o, &["startTimeUnixNano", "start_time_unix_nano"])?,
            time_unix_nano: uint(o, &["timeUnixNano", "time_unix_nano"])?,
            count: uint(o, &["count"])?,
            sum: opt_double(o, &["sum"])?,
            scale: i32::try_from(int(o, &["scale"])?).map_err(|_| bad("scale", "out of range"))?,
            zero_count: uint(o, &["zeroCount", "zero_count"])?,
            positive,
            negative,
            flags: uint(o, &["flags"])? as u32,
            exemplars: self.exemplars(o)?,
            zero_threshold: double(o, &["zeroThreshold", "zero_threshold"])?,
        })
    }

    fn summary_point(&mut self, v: &Json) -> Res<SummaryDataPoint> {
        self.count(true)?;
        let o = self.object(v, "dataPoint")?;
        Ok(SummaryDataPoint {
            attributes: self.attributes(o, &["attributes"])?,
            start_time_unix_nano: uint(o, &["startTimeUnixNano", "start_time_unix_nano"])?,
            time_unix_nano: uint(o, &["timeUnixNano", "time_unix_nano"])?,
            count: uint(o, &["count"])?,
            sum: double(o, &["sum"])?,
            quantile_values: self.list(o, &["quantileValues", "quantile_values"], |cx, v| {
                let q = cx.object(v, "quantileValues")?;
                Ok(ValueAtQuantile {
                    quantile: double(q, &["quantile"])?,
                    value: double(q, &["value"])?,
                })
            })?,
            flags: uint(o, &["flags"])? as u32,
        })
    }

    fn exemplars(&mut self, o: &Map<String, Json>) -> Res<Vec<Exemplar>> {
        self.list(o, &["exemplars"], |cx, v| {
            let e = cx.object(v, "exemplar")?;
            let value = if field(e, &["asDouble", "as_double"]).is_some() {
                Some(ExemplarValue::AsDouble(double(
                    e,
                    &["asDouble", "as_double"],
                )?))
            } else if field(e, &["asInt", "as_int"]).is_some() {
                Some(ExemplarValue::AsInt(int(e, &["asInt", "as_int"])?))
            } else {
                None
            };
            Ok(Exemplar {
                filtered_attributes: cx
                    .attributes(e, &["filteredAttributes", "filtered_attributes"])?,
                time_unix_nano: uint(e, &["timeUnixNano", "time_unix_nano"])?,
                value,
                span_id: hex(e, &["spanId", "span_id"])?,
                trace_id: hex(e, &["traceId", "trace_id"])?,
            })
        })
    }

    fn attributes(&mut self, o: &Map<String, Json>, names: &[&str]) -> Res<Vec<KeyValue>> {
        self.list(o, names, |cx, v| cx.key_value(v))
    }

    fn key_value(&mut self, v: &Json) -> Res<KeyValue> {
        let o = self.object(v, "attribute")?;
        let value = match field(o, &["value"]) {
            Some(v) => Some(self.any_value(v)?),
            None => None,
        };
        Ok(KeyValue {
            key: string(o, &["key"])?,
            value,
        })
    }

    fn any_value(&mut self, v: &Json) -> Res<AnyValue> {
        let o = self.object(v, "value")?;
        let value = if let Some(s) = field(o, &["stringValue", "string_value"]) {
            Some(Value::StringValue(
                s.as_str()
                    .ok_or_else(|| bad("stringValue", "expected a string"))?
                    .to_string(),
            ))
        } else if field(o, &["boolValue", "bool_value"]).is_some() {
            Some(Value::BoolValue(boolean(o, &["boolValue", "bool_value"])?))
        } else if field(o, &["intValue", "int_value"]).is_some() {
            Some(Value::IntValue(int(o, &["intValue", "int_value"])?))
        } else if field(o, &["doubleValue", "double_value"]).is_some() {
            Some(Value::DoubleValue(double(
                o,
                &["doubleValue", "double_value"],
            )?))
        } else if let Some(a) = field(o, &["arrayValue", "array_value"]) {
            let a = self.object(a, "arrayValue")?;
            Some(Value::ArrayValue(ArrayValue {
                values: self.list(a, &["values"], |cx, v| cx.any_value(v))?,
            }))
        } else if let Some(k) = field(o, &["kvlistValue", "kvlist_value"]) {
            let k = self.object(k, "kvlistValue")?;
            Some(Value::KvlistValue(KeyValueList {
                values: self.attributes(k, &["values"])?,
            }))
        } else if let Some(b) = field(o, &["bytesValue", "bytes_value"]) {
            use base64::Engine as _;
            let s = b
                .as_str()
                .ok_or_else(|| bad("bytesValue", "expected a base64 string"))?;
            Some(Value::BytesValue(
                base64::engine::general_purpose::STANDARD
                    .decode(s)
                    .map_err(|e| bad("bytesValue", e))?,
            ))
        } else {
            None
        };
        Ok(AnyValue { value })
    }
}

fn string(o: &Map<String, Json>, names: &[&str]) -> Res<String> {
    match field(o, names) {
        None => Ok(String::new()),
        Some(Json::String(s)) => Ok(s.clone()),
        Some(_) => Err(bad(names[0], "expected a string")),
    }
}

fn boolean(o: &Map<String, Json>, names: &[&str]) -> Res<bool> {
    match field(o, names) {
        None => Ok(false),
        Some(Json::Bool(b)) => Ok(*b),
        Some(_) => Err(bad(names[0], "expected true or false")),
    }
}

/// A 64-bit integer: a JSON number or a decimal string.
fn int(o: &Map<String, Json>, names: &[&str]) -> Res<i64> {
    match field(o, names) {
        None => Ok(0),
        Some(Json::Number(n)) => n
            .as_i64()
            .ok_or_else(|| bad(names[0], format!("{n} is not a 64-bit integer"))),
        Some(Json::String(s)) => s
            .trim()
            .parse()
            .map_err(|_| bad(names[0], format!("{s:?} is not a 64-bit integer"))),
        Some(_) => Err(bad(names[0], "expected an integer")),
    }
}

fn uint(o: &Map<String, Json>, names: &[&str]) -> Res<u64> {
    match field(o, names) {
        None => Ok(0),
        Some(v) => uint_value(v, names[0]),
    }
}

fn uint_value(v: &Json, what: &str) -> Res<u64> {
    match v {
        Json::Number(n) => n
            .as_u64()
            .ok_or_else(|| bad(what, format!("{n} is not an unsigned 64-bit integer"))),
        Json::String(s) => s
            .trim()
            .parse()
            .map_err(|_| bad(what, format!("{s:?} is not an unsigned 64-bit integer"))),
        _ => Err(bad(what, "expected an unsigned integer")),
    }
}

fn double(o: &Map<String, Json>, names: &[&str]) -> Res<f64> {
    Ok(opt_double(o, names)?.unwrap_or(0.0))
}

fn opt_double(o: &Map<String, Json>, names: &[&str]) -> Res<Option<f64>> {
    field(o, names)
        .map(|v| double_value(v, names[0]))
        .transpose()
}

/// A double: a JSON number, or the proto3 JSON strings `"NaN"`,
/// `"Infinity"`, `"-Infinity"` or a number in a string.
fn double_value(v: &Json, what: &str) -> Res<f64> {
    match v {
        Json::Number(n) => n.as_f64().ok_or_else(|| bad(what, "not a number")),
        Json::String(s) => match s.as_str() {
            "NaN" => Ok(f64::NAN),
            "Infinity" => Ok(f64::INFINITY),
            "-Infinity" => Ok(f64::NEG_INFINITY),
            s => s
                .parse()
                .map_err(|_| bad(what, format!("{s:?} is not a number"))),
        },
        _ => Err(bad(what, "expected a number")),
    }
}

/// Trace and span ids: hex strings in OTLP/JSON.
fn hex(o: &Map<String, Json>, names: &[&str]) -> Res<Vec<u8>> {
    let s = match field(o, names) {
        None => return Ok(Vec::new()),
        Some(Json::String(s)) => s,
        Some(_) => return Err(bad(names[0], "expected a hex string")),
    };
    if s.len() % 2 != 0 {
        return Err(bad(names[0], format!("{s:?} is not hex")));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            s.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| bad(names[0], format!("{s:?} is not hex")))
        })
        .collect()
}
