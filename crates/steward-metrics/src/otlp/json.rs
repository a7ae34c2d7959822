//! OTLP/JSON: the protobuf JSON mapping of the metrics messages, decoded
//! into the same types as the protobuf encoding.
//!
//! The mapping as the OTLP specification gives it: field names in
//! lowerCamelCase (the `.proto` names in snake_case are accepted too, as
//! protobuf's JSON parsers do), 64-bit integers as decimal strings or
//! numbers, enums as integers or their names, doubles as numbers or
//! `"NaN"`/`"Infinity"`/`"-Infinity"`, bytes as base64, `null` as absent,
//! unknown fields ignored. Exemplars (with their hex trace and span ids)
//! are not read: Prometheus' classic series have no place for them.
//!
//! Written by hand rather than with serde derives so that a value of the
//! wrong type is an error naming where it is, never a point silently
//! dropped.

use base64::Engine as _;
use serde_json::{Map, Value};

use super::proto::{
    AnyValue, ArrayValue, Buckets, ExponentialHistogram, ExponentialHistogramDataPoint,
    ExportMetricsServiceRequest, Gauge, Histogram, HistogramDataPoint, InstrumentationScope,
    KeyValue, KeyValueList, Metric, NumberDataPoint, Resource, ResourceMetrics, ScopeMetrics, Sum,
    Summary, SummaryDataPoint, ValueAtQuantile, any_value, metric, number_data_point,
};

/// Decodes an `ExportMetricsServiceRequest` from its JSON encoding. The
/// error says what is wrong and where (a path of field names).
pub fn decode_request(body: &[u8]) -> Result<ExportMetricsServiceRequest, String> {
    let value: Value = serde_json::from_slice(body).map_err(|e| format!("invalid json: {e}"))?;
    let root = Obj::new(&value, String::new())?;
    Ok(ExportMetricsServiceRequest {
        resource_metrics: root.list("resourceMetrics", resource_metrics)?,
    })
}

/// A JSON object being read, with its path for error messages (public so
/// that the OTLP logs decoder of steward-logs reads its messages the same
/// way).
#[derive(Debug)]
pub struct Obj<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

impl<'a> Obj<'a> {
    /// `value` as an object found at `path` (empty for the request).
    pub fn new(value: &'a Value, path: String) -> Result<Self, String> {
        match value {
            Value::Object(map) => Ok(Self { map, path }),
            _ => Err(format!("{}: expected an object", display_path(&path))),
        }
    }

    /// The field `camel` (or its snake_case spelling), `null` as absent.
    pub fn get(&self, camel: &str) -> Option<(&'a Value, String)> {
        let found = self
            .map
            .get(camel)
            .map(|v| (v, camel.to_owned()))
            .or_else(|| {
                let snake = snake_case(camel);
                self.map.get(&snake).map(|v| (v, snake))
            })?;
        if found.0.is_null() {
            return None;
        }
        let path = if self.path.is_empty() {
            found.1
        } else {
            format!("{}.{}", self.path, found.1)
        };
        Some((found.0, path))
    }

    /// The object field `name`, if present.
    pub fn obj(&self, name: &str) -> Result<Option<Obj<'a>>, String> {
        self.get(name).map(|(v, p)| Obj::new(v, p)).transpose()
    }

    /// The array field `name` (empty when absent), each item an object.
    pub fn list<T>(
        &self,
        name: &str,
        item: impl Fn(&Obj<'a>) -> Result<T, String>,
    ) -> Result<Vec<T>, String> {
        let Some((value, path)) = self.get(name) else {
            return Ok(Vec::new());
        };
        let Value::Array(items) = value else {
            return Err(format!("{path}: expected an array"));
        };
        items
            .iter()
            .enumerate()
            .map(|(i, v)| item(&Obj::new(v, format!("{path}[{i}]"))?))
            .collect()
    }

    fn scalars<T>(
        &self,
        name: &str,
        item: impl Fn(&Value, &str) -> Result<T, String>,
    ) -> Result<Vec<T>, String> {
        let Some((value, path)) = self.get(name) else {
            return Ok(Vec::new());
        };
        let Value::Array(items) = value else {
            return Err(format!("{path}: expected an array"));
        };
        items
            .iter()
            .enumerate()
            .map(|(i, v)| item(v, &format!("{path}[{i}]")))
            .collect()
    }

    /// The string field `name` (empty when absent).
    pub fn string(&self, name: &str) -> Result<String, String> {
        match self.get(name) {
            None => Ok(String::new()),
            Some((Value::String(s), _)) => Ok(s.clone()),
            Some((_, path)) => Err(format!("{path}: expected a string")),
        }
    }

    fn bool(&self, name: &str) -> Result<bool, String> {
        match self.get(name) {
            None => Ok(false),
            Some((Value::Bool(b), _)) => Ok(*b),
            Some((_, path)) => Err(format!("{path}: expected a boolean")),
        }
    }

    /// The unsigned integer field `name` (0 when absent).
    pub fn u64(&self, name: &str) -> Result<u64, String> {
        self.get(name).map_or(Ok(0), |(v, p)| u64_of(v, &p))
    }

    fn i64(&self, name: &str) -> Result<i64, String> {
        self.get(name).map_or(Ok(0), |(v, p)| i64_of(v, &p))
    }

    /// The 32-bit integer field `name` (0 when absent).
    pub fn i32(&self, name: &str) -> Result<i32, String> {
        let Some((v, path)) = self.get(name) else {
            return Ok(0);
        };
        i32::try_from(i64_of(v, &path)?).map_err(|_| format!("{path}: out of range"))
    }

    /// The unsigned 32-bit integer field `name` (0 when absent).
    pub fn u32(&self, name: &str) -> Result<u32, String> {
        let Some((v, path)) = self.get(name) else {
            return Ok(0);
        };
        u32::try_from(u64_of(v, &path)?).map_err(|_| format!("{path}: out of range"))
    }

    fn f64(&self, name: &str) -> Result<Option<f64>, String> {
        self.get(name).map(|(v, p)| f64_of(v, &p)).transpose()
    }

    /// An `AggregationTemporality`, as its number or its name.
    fn temporality(&self) -> Result<i32, String> {
        match self.get("aggregationTemporality") {
            Some((Value::String(s), path)) => match s.as_str() {
                "AGGREGATION_TEMPORALITY_UNSPECIFIED" => Ok(0),
                "AGGREGATION_TEMPORALITY_DELTA" => Ok(1),
                "AGGREGATION_TEMPORALITY_CUMULATIVE" => Ok(2),
                _ => s
                    .parse()
                    .map_err(|_| format!("{path}: unknown aggregation temporality {s:?}")),
            },
            _ => self.i32("aggregationTemporality"),
        }
    }
}

fn display_path(path: &str) -> &str {
    if path.is_empty() { "request" } else { path }
}

fn snake_case(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 4);
    for c in camel.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn u64_of(v: &Value, path: &str) -> Result<u64, String> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
    .ok_or_else(|| format!("{path}: expected an unsigned integer"))
}

fn i64_of(v: &Value, path: &str) -> Result<i64, String> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
    .ok_or_else(|| format!("{path}: expected an integer"))
}

fn f64_of(v: &Value, path: &str) -> Result<f64, String> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.as_str() {
            "NaN" => Some(f64::NAN),
            "Infinity" => Some(f64::INFINITY),
            "-Infinity" => Some(f64::NEG_INFINITY),
            s => s.parse().ok().filter(|f: &f64| f.is_finite()),
        },
        _ => None,
    }
    .ok_or_else(|| format!("{path}: expected a number"))
}

fn resource_metrics(o: &Obj<'_>) -> Result<ResourceMetrics, String> {
    Ok(ResourceMetrics {
        resource: o
            .obj("resource")?
            .map(|r| {
                Ok::<_, String>(Resource {
                    attributes: r.list("attributes", key_value)?,
                })
            })
            .transpose()?,
        scope_metrics: o.list("scopeMetrics", scope_metrics)?,
    })
}

fn scope_metrics(o: &Obj<'_>) -> Result<ScopeMetrics, String> {
    Ok(ScopeMetrics {
        scope: o
            .obj("scope")?
            .map(|s| {
                Ok::<_, String>(InstrumentationScope {
                    name: s.string("name")?,
                    version: s.string("version")?,
                })
            })
            .transpose()?,
        metrics: o.list("metrics", metric)?,
    })
}

/// A `KeyValue`.
pub fn key_value(o: &Obj<'_>) -> Result<KeyValue, String> {
    Ok(KeyValue {
        key: o.string("key")?,
        value: o.obj("value")?.map(|v| any_value(&v)).transpose()?,
    })
}

/// An `AnyValue` (empty when it holds none of the known kinds).
pub fn any_value(o: &Obj<'_>) -> Result<AnyValue, String> {
    use any_value::Value as V;
    let value = if let Some((v, path)) = o.get("stringValue") {
        V::StringValue(
            v.as_str()
                .ok_or_else(|| format!("{path}: expected a string"))?
                .to_owned(),
        )
    } else if o.get("boolValue").is_some() {
        V::BoolValue(o.bool("boolValue")?)
    } else if o.get("intValue").is_some() {
        V::IntValue(o.i64("intValue")?)
    } else if let Some(d) = o.f64("doubleValue")? {
        V::DoubleValue(d)
    } else if let Some(a) = o.obj("arrayValue")? {
        V::ArrayValue(ArrayValue {
            values: a.list("values", any_value)?,
        })
    } else if let Some(kv) = o.obj("kvlistValue")? {
        V::KvlistValue(KeyValueList {
            values: kv.list("values", key_value)?,
        })
    } else if let Some((v, path)) = o.get("bytesValue") {
        let s = v
            .as_str()
            .ok_or_else(|| format!("{path}: expected a base64 string"))?;
        let engine = base64::engine::general_purpose::STANDARD;
        let bytes = engine
            .decode(s)
            .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(s))
            .map_err(|e| format!("{path}: invalid base64: {e}"))?;
        V::BytesValue(bytes)
    } else {
        return Ok(AnyValue { value: None });
    };
    Ok(AnyValue { value: Some(value) })
}

fn metric(o: &Obj<'_>) -> Result<Metric, String> {
    let data = if let Some(g) = o.obj("gauge")? {
        Some(metric::Data::Gauge(Gauge {
            data_points: g.list("dataPoints", number_point)?,
        }))
    } else if let Some(s) = o.obj("sum")? {
        Some(metric::Data::Sum(Sum {
            data_points: s.list("dataPoints", number_point)?,
            aggregation_temporality: s.temporality()?,
            is_monotonic: s.bool("isMonotonic")?,
        }))
    } else if let Some(h) = o.obj("histogram")? {
        Some(metric::Data::Histogram(Histogram {
            data_points: h.list("dataPoints", histogram_point)?,
            aggregation_temporality: h.temporality()?,
        }))
    } else if let Some(h) = o.obj("exponentialHistogram")? {
        Some(metric::Data::ExponentialHistogram(ExponentialHistogram {
            data_points: h.list("dataPoints", exponential_point)?,
            aggregation_temporality: h.temporality()?,
        }))
    } else if let Some(s) = o.obj("summary")? {
        Some(metric::Data::Summary(Summary {
            data_points: s.list("dataPoints", summary_point)?,
        }))
    } else {
        None
    };
    Ok(Metric {
        name: o.string("name")?,
        description: o.string("description")?,
        unit: o.string("unit")?,
        data,
    })
}

fn number_point(o: &Obj<'_>) -> Result<NumberDataPoint, String> {
    let value = if o.get("asInt").is_some() {
        Some(number_data_point::Value::AsInt(o.i64("asInt")?))
    } else {
        o.f64("asDouble")?.map(number_data_point::Value::AsDouble)
    };
    Ok(NumberDataPoint {
        attributes: o.list("attributes", key_value)?,
        start_time_unix_nano: o.u64("startTimeUnixNano")?,
        time_unix_nano: o.u64("timeUnixNano")?,
        flags: o.u32("flags")?,
        value,
    })
}

fn histogram_point(o: &Obj<'_>) -> Result<HistogramDataPoint, String> {
    Ok(HistogramDataPoint {
        attributes: o.list("attributes", key_value)?,
        start_time_unix_nano: o.u64("startTimeUnixNano")?,
        time_unix_nano: o.u64("timeUnixNano")?,
        count: o.u64("count")?,
        sum: o.f64("sum")?,
        bucket_counts: o.scalars("bucketCounts", u64_of)?,
        explicit_bounds: o.scalars("explicitBounds", f64_of)?,
        flags: o.u32("flags")?,
    })
}

fn buckets(o: &Obj<'_>) -> Result<Buckets, String> {
    Ok(Buckets {
        offset: o.i32("offset")?,
        bucket_counts: o.scalars("bucketCounts", u64_of)?,
    })
}

fn exponential_point(o: &Obj<'_>) -> Result<ExponentialHistogramDataPoint, String> {
    Ok(ExponentialHistogramDataPoint {
        attributes: o.list("attributes", key_value)?,
        start_time_unix_nano: o.u64("startTimeUnixNano")?,
        time_unix_nano: o.u64("timeUnixNano")?,
        count: o.u64("count")?,
        sum: o.f64("sum")?,
        scale: o.i32("scale")?,
        zero_count: o.u64("zeroCount")?,
        positive: o.obj("positive")?.map(|b| buckets(&b)).transpose()?,
        negative: o.obj("negative")?.map(|b| buckets(&b)).transpose()?,
        flags: o.u32("flags")?,
        zero_threshold: o.f64("zeroThreshold")?.unwrap_or(0.0),
    })
}

fn summary_point(o: &Obj<'_>) -> Result<SummaryDataPoint, String> {
    Ok(SummaryDataPoint {
        attributes: o.list("attributes", key_value)?,
        start_time_unix_nano: o.u64("startTimeUnixNano")?,
        time_unix_nano: o.u64("timeUnixNano")?,
        count: o.u64("count")?,
        sum: o.f64("sum")?.unwrap_or(0.0),
        quantile_values: o.list("quantileValues", |q| {
            Ok(ValueAtQuantile {
                quantile: q.f64("quantile")?.unwrap_or(0.0),
                value: q.f64("value")?.unwrap_or(0.0),
            })
        })?,
        flags: o.u32("flags")?,
    })
}
