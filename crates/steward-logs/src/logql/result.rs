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

    /// Loki's `data` object (what [`Serialize`](serde::Serialize) writes,
    /// as a value). Stream values are `["<ns>", "line"]`, with a third
    /// element `{"structuredMetadata": {...}}` only when the entry has
    /// metadata; sample times are seconds as floats and values strings.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The `result` as a value (the API writes a log query's streams
    /// directly instead, see [`Serialize`]).
    fn result_value(&self) -> Value {
        match self {
            QueryResult::Streams(streams) => {
                serde_json::to_value(StreamsJson(streams)).unwrap_or(Value::Null)
            }
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
        }
    }
}

/// Written directly rather than through a [`Value`]: a log query's
/// thousands of lines were copied into a tree, then again into the
/// response's, before being written (a third of a limited query's time).
impl serde::Serialize for QueryResult {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("resultType", self.result_type())?;
        if let QueryResult::Streams(streams) = self {
            map.serialize_entry("result", &StreamsJson(streams))?;
        } else {
            map.serialize_entry("result", &self.result_value())?;
        }
        map.end()
    }
}

struct StreamsJson<'a>(&'a [Stream]);
struct LabelsJson<'a>(&'a Labels);
struct EntryJson<'a>(&'a Entry);
struct MetadataJson<'a>(&'a [(String, String)]);

impl serde::Serialize for StreamsJson<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        struct Values<'a>(&'a [Entry]);
        impl serde::Serialize for Values<'_> {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_seq(self.0.iter().map(EntryJson))
            }
        }
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for stream in self.0 {
            struct One<'a>(&'a Stream);
            impl serde::Serialize for One<'_> {
                fn serialize<S: serde::Serializer>(
                    &self,
                    serializer: S,
                ) -> Result<S::Ok, S::Error> {
                    let mut map = serializer.serialize_map(Some(2))?;
                    map.serialize_entry("stream", &LabelsJson(&self.0.labels))?;
                    map.serialize_entry("values", &Values(&self.0.entries))?;
                    map.end()
                }
            }
            seq.serialize_element(&One(stream))?;
        }
        seq.end()
    }
}

impl serde::Serialize for LabelsJson<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|l| (l.name.as_str(), l.value.as_str())))
    }
}

impl serde::Serialize for EntryJson<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        let e = self.0;
        let with_metadata = !e.metadata.is_empty();
        let mut seq = serializer.serialize_seq(Some(2 + usize::from(with_metadata)))?;
        seq.serialize_element(&e.ts.to_string())?;
        seq.serialize_element(&e.line)?;
        if with_metadata {
            struct Wrapped<'a>(&'a [(String, String)]);
            impl serde::Serialize for Wrapped<'_> {
                fn serialize<S: serde::Serializer>(
                    &self,
                    serializer: S,
                ) -> Result<S::Ok, S::Error> {
                    let mut map = serializer.serialize_map(Some(1))?;
                    map.serialize_entry("structuredMetadata", &MetadataJson(self.0))?;
                    map.end()
                }
            }
            seq.serialize_element(&Wrapped(&e.metadata))?;
        }
        seq.end()
    }
}

impl serde::Serialize for MetadataJson<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }
}
