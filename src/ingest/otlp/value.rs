//! OTLP attribute values as label values.

use super::proto::{AnyValue, Value};

/// An attribute value as a label value (pdata's `Value.AsString`).
pub fn value_string(v: Option<&AnyValue>) -> String {
    match v.and_then(|v| v.value.as_ref()) {
        None => String::new(),
        Some(Value::StringValue(s)) => s.clone(),
        Some(Value::BoolValue(b)) => b.to_string(),
        Some(Value::IntValue(i)) => i.to_string(),
        Some(Value::DoubleValue(f)) => float_string(*f),
        Some(Value::BytesValue(b)) => {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.encode(b)
        }
        Some(Value::ArrayValue(_) | Value::KvlistValue(_)) => {
            json_value(v.and_then(|v| v.value.as_ref())).to_string()
        }
    }
}

/// Floats as ES6 number-to-string, as pdata does.
fn float_string(f: f64) -> String {
    if f.is_nan() || f.is_infinite() {
        return format!("json: unsupported value: {f}");
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let s = format!("{f:e}");
        // Rust writes `1e21`, Go `1e+21`.
        return match s.split_once('e') {
            Some((m, e)) if !e.starts_with('-') => format!("{m}e+{e}"),
            _ => s,
        };
    }
    format!("{f}")
}

fn json_value(v: Option<&Value>) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        None => J::Null,
        Some(Value::StringValue(s)) => J::String(s.clone()),
        Some(Value::BoolValue(b)) => J::Bool(*b),
        Some(Value::IntValue(i)) => J::from(*i),
        Some(Value::DoubleValue(f)) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
        Some(Value::BytesValue(_)) => {
            J::String(value_string(Some(&AnyValue { value: v.cloned() })))
        }
        Some(Value::ArrayValue(a)) => J::Array(
            a.values
                .iter()
                .map(|x| json_value(x.value.as_ref()))
                .collect(),
        ),
        Some(Value::KvlistValue(kv)) => J::Object(
            kv.values
                .iter()
                .map(|x| {
                    let inner = x.value.as_ref().and_then(|v| v.value.as_ref());
                    (x.key.clone(), json_value(inner))
                })
                .collect(),
        ),
    }
}
