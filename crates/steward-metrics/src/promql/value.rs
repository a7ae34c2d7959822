//! Query results as the API returns them, serialized into the `data`
//! object of Prometheus' HTTP API (`{"resultType": ..., "result": ...}`).

use serde::Serialize;
use serde::ser::{SerializeMap, SerializeSeq, Serializer};

use crate::Labels;
use crate::storage::Series;

/// What a query returned, with the warnings met on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    /// The value.
    pub value: Value,
    /// Non-fatal problems (Prometheus' `warnings`).
    pub warnings: Vec<String>,
}

/// One element of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorSample {
    /// The series' labels.
    pub labels: Labels,
    /// The evaluation time (ms).
    pub t: i64,
    /// The value.
    pub v: f64,
}

/// A query's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A scalar at time `t` (ms).
    Scalar {
        /// Evaluation time (ms).
        t: i64,
        /// The value.
        v: f64,
    },
    /// A string at time `t` (ms).
    String {
        /// Evaluation time (ms).
        t: i64,
        /// The string.
        v: String,
    },
    /// An instant vector.
    Vector(Vec<VectorSample>),
    /// A range vector (range queries, or an instant query of a range selector).
    Matrix(Vec<Series>),
}

impl Value {
    /// Prometheus' name of the value's type (`resultType`).
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Scalar { .. } => "scalar",
            Value::String { .. } => "string",
            Value::Vector(_) => "vector",
            Value::Matrix(_) => "matrix",
        }
    }
}

/// A float as Prometheus prints sample values: shortest round-trip form,
/// never an exponent, and `NaN`, `+Inf`, `-Inf`.
pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

/// `[time_in_seconds, "value"]`.
struct Point<'a>(i64, &'a str);

impl Serialize for Point<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(2))?;
        if self.0 % 1000 == 0 {
            seq.serialize_element(&(self.0 / 1000))?;
        } else {
            seq.serialize_element(&(self.0 as f64 / 1000.0))?;
        }
        seq.serialize_element(self.1)?;
        seq.end()
    }
}

struct VectorItems<'a>(&'a [VectorSample]);

impl Serialize for VectorItems<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for e in self.0 {
            let v = format_value(e.v);
            seq.serialize_element(&VectorItem {
                metric: &e.labels,
                value: Point(e.t, &v),
            })?;
        }
        seq.end()
    }
}

#[derive(Serialize)]
struct VectorItem<'a> {
    metric: &'a Labels,
    value: Point<'a>,
}

struct MatrixItems<'a>(&'a [Series]);

impl Serialize for MatrixItems<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for e in self.0 {
            seq.serialize_element(&MatrixItem(e))?;
        }
        seq.end()
    }
}

struct MatrixItem<'a>(&'a Series);

impl Serialize for MatrixItem<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("metric", &self.0.labels)?;
        m.serialize_entry("values", &Points(&self.0.samples))?;
        m.end()
    }
}

struct Points<'a>(&'a [crate::Sample]);

impl Serialize for Points<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for p in self.0 {
            let v = format_value(p.v);
            seq.serialize_element(&Point(p.t, &v))?;
        }
        seq.end()
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("resultType", self.type_name())?;
        match self {
            Value::Scalar { t, v } => {
                let v = format_value(*v);
                m.serialize_entry("result", &Point(*t, &v))?;
            }
            Value::String { t, v } => m.serialize_entry("result", &Point(*t, v))?,
            Value::Vector(items) => m.serialize_entry("result", &VectorItems(items))?,
            Value::Matrix(items) => m.serialize_entry("result", &MatrixItems(items))?,
        }
        m.end()
    }
}
