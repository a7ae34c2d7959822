//! Unit tests of the LogQL parser and engine; the data-driven cases of
//! `tests/cases/logql/` run through [`cases`].

mod cases;

use std::ops::ControlFlow;

use parking_lot::Mutex;
use serde_json::json;
use steward_metrics::{Labels, Matcher};

use super::*;
use crate::{Entry, LogSource, MemorySource, PushStream, Selection};

#[test]
fn log_query_cases() {
    let n = cases::run_file(
        "log_queries.txt",
        include_str!("../../tests/cases/logql/log_queries.txt"),
    );
    assert!(n >= 20, "only {n} cases ran");
}

#[test]
fn metric_query_cases() {
    let n = cases::run_file(
        "metric_queries.txt",
        include_str!("../../tests/cases/logql/metric_queries.txt"),
    );
    assert!(n >= 40, "only {n} cases ran");
}

/// Queries and their canonical text: parsing the canonical text gives it back.
const ROUND_TRIPS: &[(&str, &str)] = &[
    (r#"{a="b"}"#, r#"{a="b"}"#),
    (
        r#"{service="gateway", stream=~"std.*", x!="y", z!~"re"}"#,
        r#"{service="gateway", stream=~"std.*", x!="y", z!~"re"}"#,
    ),
    (
        r#"{a="b"} |= "x" != `y` |~ "r.*" !~ "s" |= "a" or "b""#,
        r#"{a="b"} |= "x" != "y" |~ "r.*" !~ "s" |= "a" or "b""#,
    ),
    (
        r#"{a="b"} | json | logfmt | json x="a.b", y="c[0]" | logfmt k, v="w""#,
        r#"{a="b"} | json | logfmt | json x="a.b", y="c[0]" | logfmt k="k", v="w""#,
    ),
    (
        r#"{a="b"} | pattern "<ip> - <_>" | regexp `(?P<x>\d+)` | unpack | decolorize"#,
        r#"{a="b"} | pattern "<ip> - <_>" | regexp "(?P<x>\\d+)" | unpack | decolorize"#,
    ),
    (
        r#"{a="b"} | x > 10s and y <= 5MB or z == 3, w=~"v""#,
        r#"{a="b"} | ((x>10s and y<=5MB) or (z==3 and w=~"v"))"#,
    ),
    (
        r#"{a="b"} | line_format "{{.level}}" | label_format a=b, c="{{.x}}" | drop a, b="c" | keep d"#,
        r#"{a="b"} | line_format "{{.level}}" | label_format a=b, c="{{.x}}" | drop a, b="c" | keep d"#,
    ),
    (
        r#"count_over_time({a="b"}[5m])"#,
        r#"count_over_time({a="b"} [5m])"#,
    ),
    (
        r#"rate({a="b"}[1h30m] offset 5m)"#,
        r#"rate({a="b"} [1h30m] offset 5m)"#,
    ),
    (
        r#"quantile_over_time(0.99, {a="b"} | json | unwrap duration(latency) | __error__="" [1m]) by (path)"#,
        r#"quantile_over_time(0.99, {a="b"} | json | unwrap duration(latency) | __error__="" [1m]) by (path)"#,
    ),
    (
        r#"sum(rate({a="b"}[5m])) by (x, y)"#,
        r#"sum by (x, y) (rate({a="b"} [5m]))"#,
    ),
    (
        r#"topk(3, sum without (a) (bytes_rate({a="b"}[1m])))"#,
        r#"topk(3, sum without (a) (bytes_rate({a="b"} [1m])))"#,
    ),
    (
        r#"sum(rate({a="b"}[1m])) / on (x) group_left (y) sum(rate({a="c"}[1m])) > bool 0.5"#,
        r#"(sum(rate({a="b"} [1m])) / on (x) group_left (y) sum(rate({a="c"} [1m]))) > bool 0.5"#,
    ),
    ("1 + 2 * 3 ^ 2", "1 + (2 * (3 ^ 2))"),
    ("(1 + 2) * -3", "(1 + 2) * -3"),
    (
        r#"count_over_time({a="b"}[1m]) and count_over_time({a="c"}[1m]) or vector(0)"#,
        r#"(count_over_time({a="b"} [1m]) and count_over_time({a="c"} [1m])) or vector(0)"#,
    ),
    (
        r#"label_replace(rate({a="b"}[1m]), "d", "$1", "s", "(.*)")"#,
        r#"label_replace(rate({a="b"} [1m]), "d", "$1", "s", "(.*)")"#,
    ),
];

#[test]
fn round_trips() {
    for (query, canonical) in ROUND_TRIPS {
        let expr = parse(query).unwrap_or_else(|e| panic!("{query}: {e}"));
        assert_eq!(expr.to_string(), *canonical, "{query}");
        let again = parse(canonical).unwrap_or_else(|e| panic!("{canonical}: {e}"));
        assert_eq!(again.to_string(), *canonical);
    }
}

/// Invalid queries and the start of their error (column and what is wrong).
const ERRORS: &[(&str, &str)] = &[
    (
        "",
        "column 1: expected a metric expression, found end of query",
    ),
    (
        r#"{}"#,
        "column 1: queries require at least one regexp or equality matcher",
    ),
    (r#"{a=~".*"}"#, "column 1: queries require at least one"),
    (r#"{a="b""#, r#"column 7: expected "}", found end of query"#),
    (r#"{a="b" |= "x"}"#, r#"column 8: expected "}", found "|=""#),
    (
        r#"{a=b}"#,
        "column 4: expected a quoted string, found \"b\"",
    ),
    (r#"{a="b"} | foo"#, "column 11: expected a parser (json"),
    (r#"{a="b"} |= x"#, "column 12: expected a quoted string"),
    (
        r#"{a="b"} | x > "y""#,
        "column 15: expected a number, a duration or a byte size",
    ),
    (
        r#"{a="b"} | x > 5xyz"#,
        "column 15: invalid number, duration or byte size",
    ),
    (r#"{a="b"} |~ "(""#, "column 12: invalid regular expression"),
    (r#"{a=~"("}"#, "column 5: "),
    (
        r#"{a="b"} | pattern "<a><b>""#,
        "column 19: invalid pattern",
    ),
    (r#"{a="b"} | pattern "abc""#, "column 19: invalid pattern"),
    (
        r#"{a="b"} | regexp "(a)""#,
        "column 18: the regexp parser needs at least one named group",
    ),
    (
        r#"{a="b"} | line_format "{{.a""#,
        "column 23: invalid template",
    ),
    (r#"{a="b"} | unwrap x"#, "column 11: unwrap is only allowed"),
    (r#"{a="b"} "x""#, "column 9: expected end of query"),
    (
        r#"count_over_time({a="b"})"#,
        "column 24: expected a range such as [5m]",
    ),
    (
        r#"count_over_time({a="b"}[5x])"#,
        "column 25: invalid duration",
    ),
    (
        r#"sum_over_time({a="b"}[5m])"#,
        "column 1: sum_over_time requires an unwrap expression",
    ),
    (
        r#"count_over_time({a="b"} | unwrap x [5m])"#,
        "column 1: count_over_time does not take an unwrap",
    ),
    (
        r#"count_over_time({a="b"}[5m]) by (x)"#,
        "column 1: grouping is only allowed",
    ),
    (
        r#"topk(x, count_over_time({a="b"}[5m]))"#,
        "column 6: expected k, an integer",
    ),
    (
        r#"topk(0.5, count_over_time({a="b"}[5m]))"#,
        "column 6: topk needs an integer k",
    ),
    (
        r#"sum(count_over_time({a="b"}[5m])"#,
        r#"column 33: expected ")", found end of query"#,
    ),
    (
        r#"1 and 2"#,
        "column 3: set operator \"and\" needs vectors on both sides",
    ),
    (
        r#"1 > 2"#,
        "column 3: comparisons between scalars must use the bool modifier",
    ),
    (r#"1 + on (a) 2"#, "column 3: vector matching"),
    (r#"{a="b"} + 1"#, "column 9: expected end of query"),
    (
        r#"sum({a="b"})"#,
        "column 5: a log query cannot be used here",
    ),
    (
        r#"{a="b"} | label_format x=y, x=z"#,
        "column 29: label \"x\" is formatted twice",
    ),
    (r#"{a="b"} |= "x"#, "column 12: unterminated string"),
    (r#"{a="b"} ; "#, "column 9: unexpected character ';'"),
];

#[test]
fn errors_name_the_column() {
    for (query, want) in ERRORS {
        match parse(query) {
            Ok(e) => panic!("{query}: parsed as {e}"),
            Err(crate::Error::InvalidQuery(msg)) => {
                assert!(
                    msg.starts_with(want),
                    "{query}: {msg:?} does not start with {want:?}"
                );
                assert!(!msg.ends_with('.'), "{msg}");
            }
            Err(e) => panic!("{query}: wrong error kind {e:?}"),
        }
    }
}

#[test]
fn kind_and_selectors() {
    let e = parse(r#"{a="b"} |= "x""#).unwrap();
    assert!(!e.is_metric());
    assert_eq!(e.selectors(), vec![&[Matcher::equal("a", "b")][..]]);
    let e =
        parse(r#"sum(rate({a="b"}[1m])) / sum(rate({c="d", e=~"f"}[1m])) or vector(1)"#).unwrap();
    assert!(e.is_metric());
    let sels = e.selectors();
    assert_eq!(sels.len(), 2);
    assert_eq!(sels[0][0].name, "a");
    assert_eq!(sels[1].len(), 2);
    assert!(parse("1 + 1").unwrap().selectors().is_empty());
}

/// A source that records the selections it is given.
struct Recording {
    inner: MemorySource,
    seen: Mutex<Vec<(i64, i64, Vec<String>)>>,
}

impl LogSource for Recording {
    fn select(
        &self,
        selection: &Selection<'_>,
        visit: &mut dyn FnMut(&Labels, &[Entry]) -> ControlFlow<()>,
    ) -> crate::Result<()> {
        self.seen
            .lock()
            .push((selection.start, selection.end, selection.contains.to_vec()));
        self.inner.select(selection, visit)
    }

    fn series(&self, m: &[Matcher], start: i64, end: i64) -> crate::Result<Vec<Labels>> {
        self.inner.series(m, start, end)
    }
}

/// A stream's labels and its `(ns, line)` entries.
type TestStream<'a> = (&'a [(&'a str, &'a str)], &'a [(i64, &'a str)]);

fn source(streams: &[TestStream<'_>]) -> MemorySource {
    let src = MemorySource::new();
    for (labels, entries) in streams {
        src.push(vec![PushStream {
            labels: Labels::from_pairs(labels.iter().copied()),
            entries: entries.iter().map(|(ts, l)| Entry::new(*ts, *l)).collect(),
        }]);
    }
    src
}

const S: i64 = 1_000_000_000;

#[test]
fn contains_hints_and_selection_range() {
    let rec = Recording {
        inner: source(&[(&[("a", "b")], &[(5 * S, "x error y")])]),
        seen: Mutex::new(Vec::new()),
    };
    let params = RangeParams {
        start: 0,
        end: 10 * S,
        step: S,
        limit: 10,
        direction: Direction::Forward,
    };
    let e = parse(r#"{a="b"} |= "error" |= "x" or "z" != "q" |= "y" | json |= "w""#).unwrap();
    Engine::default().query_range(&rec, &e, &params).unwrap();
    let e = parse(r#"count_over_time({a="b"} |= "err" [1m] offset 10s)"#).unwrap();
    let params = RangeParams {
        start: 100 * S,
        end: 200 * S,
        step: 10 * S,
        ..params
    };
    let r = Engine::default().query_range(&rec, &e, &params).unwrap();
    assert_eq!(r, QueryResult::Matrix(Vec::new()));
    let seen = rec.seen.lock();
    // `|=` filters before the first parser, without `or` alternatives; one
    // selection covering every step's window
    assert_eq!(
        *seen,
        vec![
            (0, 10 * S, vec!["error".to_owned(), "y".to_owned()]),
            (
                100 * S - 60 * S - 10 * S + 1,
                200 * S - 10 * S + 1,
                vec!["err".to_owned()]
            ),
        ]
    );
}

#[test]
fn structured_metadata_is_labels_and_json_third_element() {
    let src = MemorySource::new();
    src.push(vec![PushStream {
        labels: Labels::from_pairs([("app", "x")]),
        entries: vec![
            Entry {
                ts: 1_700_000_000_123_456_789,
                line: "with".to_owned(),
                metadata: vec![("trace_id".to_owned(), "abc".to_owned())],
            },
            Entry::new(1_700_000_000_000_000_000, "without"),
        ],
    }]);
    let params = RangeParams {
        start: 0,
        end: i64::MAX,
        step: 1,
        limit: 10,
        direction: Direction::Backward,
    };
    let e = parse(r#"{app="x"} | trace_id="abc" or trace_id="""#).unwrap();
    let r = Engine::default().query_range(&src, &e, &params).unwrap();
    assert_eq!(
        r.to_json(),
        json!({"resultType": "streams", "result": [
            {"stream": {"app": "x"}, "values": [["1700000000000000000", "without"]]},
            {"stream": {"app": "x", "trace_id": "abc"}, "values": [
                ["1700000000123456789", "with", {"structuredMetadata": {"trace_id": "abc"}}]
            ]},
        ]})
    );
}

#[test]
fn metric_json_shapes() {
    let src = source(&[(&[("app", "x")], &[(1_700_000_000 * S, "l")])]);
    let e = parse(r#"count_over_time({app="x"}[1m])"#).unwrap();
    let engine = Engine::default();
    let v = engine
        .query_instant(&src, &e, 1_700_000_000 * S + S / 2)
        .unwrap();
    assert_eq!(
        v.to_json(),
        json!({"resultType": "vector", "result": [{"metric": {"app": "x"}, "value": [1_700_000_000.5, "1"]}]})
    );
    let params = RangeParams {
        start: 1_700_000_000 * S,
        end: 1_700_000_030 * S,
        step: 30 * S,
        limit: 0,
        direction: Direction::Forward,
    };
    let m = engine.query_range(&src, &e, &params).unwrap();
    assert_eq!(
        m.to_json(),
        json!({"resultType": "matrix", "result": [{"metric": {"app": "x"}, "values": [[1_700_000_000.0, "1"], [1_700_000_030.0, "1"]]}]})
    );
    let s = engine
        .query_instant(&src, &parse("1 / 0").unwrap(), 2 * S)
        .unwrap();
    assert_eq!(
        s.to_json(),
        json!({"resultType": "scalar", "result": [2.0, "+Inf"]})
    );
}

#[test]
fn series_limit() {
    let src = source(&[
        (&[("app", "x"), ("i", "1")], &[(S, "l")]),
        (&[("app", "x"), ("i", "2")], &[(S, "l")]),
        (&[("app", "x"), ("i", "3")], &[(S, "l")]),
    ]);
    let engine = Engine {
        max_series: 2,
        ..Engine::default()
    };
    let e = parse(r#"count_over_time({app="x"}[1m])"#).unwrap();
    assert!(matches!(
        engine.query_instant(&src, &e, 2 * S),
        Err(crate::Error::Limit(_))
    ));
    let e = parse(r#"sum(count_over_time({app="x"}[1m]))"#).unwrap();
    assert!(matches!(
        engine.query_instant(&src, &e, 2 * S),
        Err(crate::Error::Limit(_))
    ));
    let e = parse(r#"count_over_time({app="x", i=~"1|2"}[1m])"#).unwrap();
    assert!(engine.query_instant(&src, &e, 2 * S).is_ok());
}

#[test]
fn decolorize_and_line_format_timestamp() {
    let src = source(&[(&[("app", "x")], &[(3 * S, "\x1b[31mred\x1b[0m text")])]);
    let params = RangeParams {
        start: 0,
        end: 10 * S,
        step: 1,
        limit: 10,
        direction: Direction::Forward,
    };
    let e =
        parse(r#"{app="x"} | decolorize | line_format "{{__line__}}@{{__timestamp__}}""#).unwrap();
    let QueryResult::Streams(streams) = Engine::default().query_range(&src, &e, &params).unwrap()
    else {
        panic!("not streams");
    };
    assert_eq!(streams[0].entries[0].line, "red text@3000000000");
}

#[test]
fn limit_heap_stops_scanning_a_batch() {
    // many entries, a small limit: the result is the latest ones in order
    let entries: Vec<(i64, String)> = (0..1000).map(|i| (i * S, format!("line {i}"))).collect();
    let refs: Vec<(i64, &str)> = entries.iter().map(|(t, l)| (*t, l.as_str())).collect();
    let src = source(&[(&[("app", "x")], &refs)]);
    let params = RangeParams {
        start: 0,
        end: 2000 * S,
        step: 1,
        limit: 3,
        direction: Direction::Backward,
    };
    let e = parse(r#"{app="x"} |~ "line [0-9]*[02468]$""#).unwrap();
    let QueryResult::Streams(streams) = Engine::default().query_range(&src, &e, &params).unwrap()
    else {
        panic!("not streams");
    };
    let lines: Vec<&str> = streams[0].entries.iter().map(|e| e.line.as_str()).collect();
    assert_eq!(lines, ["line 998", "line 996", "line 994"]);
}

#[test]
fn units() {
    use super::units::*;
    assert_eq!(parse_duration_ns("1h30m"), Some(5400e9));
    assert_eq!(parse_duration_secs("250ms"), Some(0.25));
    assert_eq!(parse_duration_secs("1.5s"), Some(1.5));
    assert_eq!(parse_duration_secs("5MB"), None);
    assert_eq!(parse_bytes("5MB"), Some(5e6));
    assert_eq!(parse_bytes("1 KiB"), Some(1024.0));
    assert_eq!(parse_bytes("10b"), Some(10.0));
    assert_eq!(parse_bytes("x"), None);
    assert_eq!(format_duration(5400 * S), "1h30m");
    assert_eq!(format_duration(S / 4), "250ms");
    assert_eq!(format_value(f64::NEG_INFINITY), "-Inf");
    assert_eq!(format_value(0.1), "0.1");
}

proptest::proptest! {
    /// Arbitrary text never panics the parser: it parses or says why not.
    #[test]
    fn parse_never_panics(q in r#"[{}()\[\]|=!~<>+*/%^,"`a-z_0-9. \-#]{0,40}"#) {
        let _ = parse(&q);
    }

    /// Fragments of valid queries, recombined, never panic either, and
    /// what parses prints as text that parses to the same text.
    #[test]
    fn recombined_queries_round_trip(parts in proptest::collection::vec(
        proptest::sample::select(vec![
            r#"{a="b"}"#, "|= \"x\"", "| json", "| logfmt", "| x > 5", "[5m]", "sum", "by (a)",
            "(", ")", "rate(", "count_over_time(", "| unwrap x", "+", "/", "on (a)", "1", "or",
            "topk(2,", ",", "| pattern \"<a> <b>\"", "| line_format \"{{.a}}\"", "offset 1m",
        ]),
        0..12,
    )) {
        let q = parts.join(" ");
        if let Ok(e) = parse(&q) {
            let text = e.to_string();
            let again = parse(&text).map(|e| e.to_string());
            proptest::prop_assert_eq!(again.ok(), Some(text));
        }
    }
}

/// A range aggregation over line filters only keys its series per stream
/// (lines without metadata); a stage that keeps every line but goes
/// through labels (`| __error__=""`) takes the line-by-line path: both
/// must agree, with metadata (which makes series of its own), grouping,
/// bytes and several steps.
#[test]
fn line_filter_only_aggregations_match_the_labelled_path() {
    let src = MemorySource::new();
    let entry = |ts: i64, line: &str, trace: Option<&str>| Entry {
        ts: ts * S,
        line: line.to_owned(),
        metadata: trace
            .map(|t| vec![("trace_id".to_owned(), t.to_owned())])
            .unwrap_or_default(),
    };
    src.push(vec![
        PushStream {
            labels: Labels::from_pairs([("service", "api"), ("stream", "stdout")]),
            entries: vec![
                entry(1, "GET /a error", None),
                entry(2, "GET /b ok", None),
                entry(3, "error: x", Some("t1")),
                entry(61, "error again", None),
            ],
        },
        PushStream {
            labels: Labels::from_pairs([("service", "api"), ("stream", "stderr")]),
            entries: vec![entry(5, "panic: error", None), entry(70, "fine", None)],
        },
        PushStream {
            labels: Labels::from_pairs([("service", "db"), ("stream", "stdout")]),
            entries: vec![entry(4, "slow error", Some("t2")), entry(90, "error", None)],
        },
    ]);
    let params = RangeParams {
        start: 0,
        end: 120 * S,
        step: 30 * S,
        limit: 100,
        direction: Direction::Forward,
    };
    for (query, expect_series) in [
        (r#"count_over_time({service=~".+"} |= "error" [1m])"#, 5),
        (
            r#"sum by (service) (count_over_time({service=~".+"} |= "error" != "panic" [1m]))"#,
            2,
        ),
        (r#"bytes_over_time({service=~".+"} |~ "err.r" [1m])"#, 5),
        (r#"sum without (stream) (rate({service=~".+"} [1m]))"#, 4),
    ] {
        let labelled = query.replacen(" [1m]", r#" | __error__="" [1m]"#, 1);
        let fast = Engine::default()
            .query_range(&src, &parse(query).unwrap(), &params)
            .unwrap();
        let slow = Engine::default()
            .query_range(&src, &parse(&labelled).unwrap(), &params)
            .unwrap();
        assert_eq!(fast, slow, "{query}");
        let QueryResult::Matrix(series) = &fast else {
            panic!("{query}: {fast:?}")
        };
        assert_eq!(series.len(), expect_series, "{query}: {fast:?}");
    }
}
