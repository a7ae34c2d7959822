//! The protobuf messages of Prometheus' remote write 1.0 and remote read
//! (`prompb`: `types.proto` and `remote.proto`), written as `prost`
//! derives so no `protoc` or build script is needed, and the snappy block
//! compression both protocols wrap them in.
//!
//! Field numbers and types are the wire contract and follow the `.proto`
//! files; fields steward does not use (native histograms, chunked read
//! responses) are left out and skipped as unknown fields when received.

use prost::Message;

use crate::{Error, Labels, Result};

/// A label of a series on the wire.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct Label {
    /// The label name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// The label value.
    #[prost(string, tag = "2")]
    pub value: String,
}

/// A float sample.
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct Sample {
    /// The value.
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Milliseconds since the Unix epoch.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// An exemplar attached to a series.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Exemplar {
    /// The exemplar's own labels (a trace id, usually).
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// The value.
    #[prost(double, tag = "2")]
    pub value: f64,
    /// Milliseconds since the Unix epoch.
    #[prost(int64, tag = "3")]
    pub timestamp: i64,
}

/// One series and its samples.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    /// The labels, sorted by name, `__name__` among them.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// The samples, oldest first.
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
    /// Exemplars (received and ignored: steward stores none).
    #[prost(message, repeated, tag = "3")]
    pub exemplars: Vec<Exemplar>,
}

/// The type of a metric family in [`MetricMetadata`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum MetricType {
    /// Unknown.
    Unknown = 0,
    /// Counter.
    Counter = 1,
    /// Gauge.
    Gauge = 2,
    /// Histogram.
    Histogram = 3,
    /// Gauge histogram.
    Gaugehistogram = 4,
    /// Summary.
    Summary = 5,
    /// Info.
    Info = 6,
    /// State set.
    Stateset = 7,
}

/// A metric family's metadata.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MetricMetadata {
    /// Its type ([`MetricType`]).
    #[prost(enumeration = "MetricType", tag = "1")]
    pub r#type: i32,
    /// The family name.
    #[prost(string, tag = "2")]
    pub metric_family_name: String,
    /// `# HELP`.
    #[prost(string, tag = "4")]
    pub help: String,
    /// `# UNIT`.
    #[prost(string, tag = "5")]
    pub unit: String,
}

/// The body of a remote write request (before snappy).
#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    /// The series with their samples.
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
    /// Metadata of metric families (tag 2 is reserved).
    #[prost(message, repeated, tag = "3")]
    pub metadata: Vec<MetricMetadata>,
}

/// How a [`LabelMatcher`] compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum MatcherType {
    /// `=`
    Eq = 0,
    /// `!=`
    Neq = 1,
    /// `=~`
    Re = 2,
    /// `!~`
    Nre = 3,
}

/// A label matcher of a remote read query.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct LabelMatcher {
    /// The comparison ([`MatcherType`]).
    #[prost(enumeration = "MatcherType", tag = "1")]
    pub r#type: i32,
    /// The label name.
    #[prost(string, tag = "2")]
    pub name: String,
    /// The value or regular expression.
    #[prost(string, tag = "3")]
    pub value: String,
}

/// What the querying PromQL expression does with the data (advisory).
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct ReadHints {
    /// The query's step.
    #[prost(int64, tag = "1")]
    pub step_ms: i64,
    /// The function around the selector.
    #[prost(string, tag = "2")]
    pub func: String,
    /// The start of the selection.
    #[prost(int64, tag = "3")]
    pub start_ms: i64,
    /// The end of the selection.
    #[prost(int64, tag = "4")]
    pub end_ms: i64,
    /// The labels of the aggregation around the selector.
    #[prost(string, repeated, tag = "5")]
    pub grouping: Vec<String>,
    /// Whether `grouping` is `by` (else `without`).
    #[prost(bool, tag = "6")]
    pub by: bool,
    /// The range of a range selector.
    #[prost(int64, tag = "7")]
    pub range_ms: i64,
}

/// One selection of a remote read request.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Query {
    /// The first millisecond selected (inclusive).
    #[prost(int64, tag = "1")]
    pub start_timestamp_ms: i64,
    /// The last millisecond selected (inclusive).
    #[prost(int64, tag = "2")]
    pub end_timestamp_ms: i64,
    /// The matchers every series must satisfy.
    #[prost(message, repeated, tag = "3")]
    pub matchers: Vec<LabelMatcher>,
    /// Hints about the query.
    #[prost(message, optional, tag = "4")]
    pub hints: Option<ReadHints>,
}

/// The response types of remote read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum ResponseType {
    /// One snappy-compressed [`ReadResponse`] with raw samples.
    Samples = 0,
    /// A stream of XOR chunks (not served by steward).
    StreamedXorChunks = 1,
}

/// The body of a remote read request (before snappy).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReadRequest {
    /// The selections.
    #[prost(message, repeated, tag = "1")]
    pub queries: Vec<Query>,
    /// The response types the client accepts, preferred first; empty means
    /// [`ResponseType::Samples`].
    #[prost(enumeration = "ResponseType", repeated, tag = "2")]
    pub accepted_response_types: Vec<i32>,
}

/// The series of one [`Query`].
#[derive(Clone, PartialEq, prost::Message)]
pub struct QueryResult {
    /// The series selected, with their samples.
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

/// The body of a `SAMPLES` remote read response (before snappy): one
/// result per query, in order.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReadResponse {
    /// The results.
    #[prost(message, repeated, tag = "1")]
    pub results: Vec<QueryResult>,
}

/// The wire labels of a label set (already sorted).
pub fn labels_to_proto(labels: &Labels) -> Vec<Label> {
    labels
        .iter()
        .map(|l| Label {
            name: l.name.clone(),
            value: l.value.clone(),
        })
        .collect()
}

/// A label set from wire labels (no validation: see the receiver's).
pub fn labels_from_proto(labels: &[Label]) -> Labels {
    Labels::from_pairs(labels.iter().map(|l| (l.name.as_str(), l.value.as_str())))
}

/// `message` encoded and snappy-compressed (the block format, as both
/// protocols use it).
pub fn encode_snappy(message: &impl Message) -> Vec<u8> {
    let raw = message.encode_to_vec();
    // compressing fails only past 2^32 bytes, which no batch reaches
    snap::raw::Encoder::new()
        .compress_vec(&raw)
        .unwrap_or_default()
}

/// Decompresses a snappy block of at most `limit` bytes once decoded and
/// decodes `M` from it; the message says what was wrong.
pub fn decode_snappy<M: Message + Default>(body: &[u8], limit: usize) -> Result<M> {
    let len = snap::raw::decompress_len(body).map_err(|e| Error::RemoteProtocol(e.to_string()))?;
    if len > limit {
        return Err(Error::RemoteProtocol(format!(
            "decoded body of {len} bytes exceeds the limit of {limit} bytes"
        )));
    }
    // A buffer per thread, kept between calls: a fresh one of a megabyte
    // or more per push is fresh pages from the kernel each time (page
    // faults and zeroing were a tenth of a log push's CPU).
    DECODE_BUFFER.with_borrow_mut(|buf| {
        buf.clear();
        buf.resize(len, 0);
        let decoded = snap::raw::Decoder::new()
            .decompress(body, buf)
            .map_err(|e| Error::RemoteProtocol(e.to_string()))
            .and_then(|n| M::decode(&buf[..n]).map_err(|e| Error::RemoteProtocol(e.to_string())));
        if buf.capacity() > KEPT_DECODE_BUFFER {
            *buf = Vec::new();
        }
        decoded
    })
}

/// The largest decompression buffer a thread keeps between bodies.
const KEPT_DECODE_BUFFER: usize = 16 << 20;

thread_local! {
    static DECODE_BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}
