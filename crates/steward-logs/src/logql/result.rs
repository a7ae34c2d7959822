//! What a query returns and its rendering as the `data` object of Loki's
//! query API (`resultType` and `result`).

use serde_json::{Map, Value, json};
use steward_metrics::Labels;

use super::units::format_value;
use crate::Entry;

/// The result of a query.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryResult {
    /// A log query's streams, grouped by their final label set.
    Streams(Vec<Stream>),
    /// An instant metric query's samples.
    Vector(Vec<Sample>),
    /// A range metric query's series.
    Matrix(Vec<Series>),
    /// A scalar at a time (ns): `1 + 1` as an instant query.
    Scalar(i64, f64),
}

/// One stream of a log query's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Stream {
    /// The labels after the pipeline: stream labels, structured metadata,
    /// extracted labels.
    pub labels: Labels,
    /// The entries, in the query's direction, with the line as the
    /// pipeline left it and the entry's structured metadata.
    pub entries: Vec<Entry>,
}

/// One sample of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The series' labels.
    pub labels: Labels,
    /// The evaluation time, in ns.
    pub ts: i64,
    /// The value.
    pub value: f64,
}

/// One series of a range query's matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The series' labels.
    pub labels: Labels,
    /// `(ns, value)` points in time order.
    pub points: Vec<(i64, f64)>,
}

fn label_map(labels: &Labels) -> Value {
    Value::Object(
        labels
            .iter()
            .map(|l| (l.name.clone(), Value::String(l.value.clone())))
            .collect::<Map<_, _>>(),
    )
}

fn secs(ns: i64) -> Value {
    let s = ns as f64 / 1e9;
    serde_json::Number::from_f64(s).map_or(Value::Null, Value::Number)
}

impl QueryResult {
    /// `streams`, `vector`, `matrix` or `scalar`.
    pub fn result_type(&self) -> &'static str {
        match self {
            QueryResult::Streams(_) => "streams",
            QueryResult::Vector(_) => "vector",
            QueryResult::Matrix(_) => "matrix",
            QueryResult::Scalar(..) => "scalar",
        }
    }

    /// Loki's `data` object. Stream values are `["<ns>", "line"]`, with a
    /// third element `{"structuredMetadata": {...}}` only when the entry
    /// has metadata; sample times are seconds as floats and values strings.
    pub fn to_json(&self) -> Value {
        let result = match self {
            QueryResult::Streams(streams) => Value::Array(
                streams
                    .iter()
                    .map(|s| {
                        let values: Vec<Value> = s
                            .entries
                            .iter()
                            .map(|e| {
                                let mut v = vec![json!(e.ts.to_string()), json!(e.line)];
                                if !e.metadata.is_empty() {
                                    let md: Map<String, Value> = e
                                        .metadata
                                        .iter()
                                        .map(|(k, v)| (k.clone(), json!(v)))
                                        .collect();
                                    v.push(json!({ "structuredMetadata": md }));
                                }
                                Value::Array(v)
                            })
                            .collect();
                        json!({ "stream": label_map(&s.labels), "values": values })
                    })
                    .collect(),
            ),
            QueryResult::Vector(samples) => Value::Array(
                samples
                    .iter()
                    .map(|s| {
                        json!({
                            "metric": label_map(&s.labels),
                            "value": [secs(s.ts), format_value(s.value)],
                        })
                    })
                    .collect(),
            ),
            QueryResult::Matrix(series) => Value::Array(
                series
                    .iter()
                    .map(|s| {
                        let values: Vec<Value> = s
                            .points
                            .iter()
                            .map(|(t, v)| json!([secs(*t), format_value(*v)]))
                            .collect();
                        json!({ "metric": label_map(&s.labels), "values": values })
                    })
                    .collect(),
            ),
            QueryResult::Scalar(t, v) => json!([secs(*t), format_value(*v)]),
        };
        json!({ "resultType": self.result_type(), "result": result })
    }
}
