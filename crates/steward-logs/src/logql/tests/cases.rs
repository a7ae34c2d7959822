//! The runner of the data-driven cases in `tests/cases/logql/*.txt`.
//!
//! A file holds `data` sections (lines `{labels} <seconds> <line>`, which
//! replace the source for the cases after them) and cases:
//!
//! ```text
//! === name
//! query <LogQL>
//! range <start> <end> <step> [limit <n>] [forward|backward]   (seconds)
//! instant <t>
//! expect
//! <the result, rendered as `render` does>
//! error <text the error contains>
//! ```

use std::fmt::Write as _;

use steward_metrics::Labels;

use crate::logql::units::format_value;
use crate::logql::{self, Direction, Engine, QueryResult, RangeParams};
use crate::{Entry, MemorySource, PushStream};

const NS: f64 = 1e9;

fn secs(ns: i64) -> String {
    format_value(ns as f64 / NS)
}

/// The result as the case files write it: streams as their labels and
/// indented `<s> <line>` entries; series as `{labels} <s>=<v> ...`;
/// vector samples as `{labels} <v>` in result order; `scalar <v>`.
pub(super) fn render(r: &QueryResult) -> String {
    let mut out = String::new();
    match r {
        QueryResult::Streams(streams) => {
            for s in streams {
                let _ = writeln!(out, "{}", s.labels);
                for e in &s.entries {
                    let _ = writeln!(out, "  {} {}", secs(e.ts), e.line);
                }
            }
        }
        QueryResult::Matrix(series) => {
            for s in series {
                let points: Vec<String> = s
                    .points
                    .iter()
                    .map(|(t, v)| format!("{}={}", secs(*t), format_value(*v)))
                    .collect();
                let _ = writeln!(out, "{} {}", s.labels, points.join(" "));
            }
        }
        QueryResult::Vector(samples) => {
            for s in samples {
                let _ = writeln!(out, "{} {}", s.labels, format_value(s.value));
            }
        }
        QueryResult::Scalar(_, v) => {
            let _ = writeln!(out, "scalar {}", format_value(*v));
        }
    }
    out
}

fn parse_labels(text: &str) -> Labels {
    match logql::parse(text) {
        Ok(logql::Expr::Log(l)) => {
            Labels::from_pairs(l.selector.iter().map(|m| (m.name.clone(), m.value.clone())))
        }
        other => panic!("bad labels {text:?}: {other:?}"),
    }
}

fn source(data: &[String]) -> MemorySource {
    let src = MemorySource::new();
    for line in data {
        let (labels, rest) = line
            .split_once("} ")
            .unwrap_or_else(|| panic!("bad data line {line:?}"));
        let (ts, text) = rest.split_once(' ').unwrap_or((rest, ""));
        let ts: f64 = ts
            .parse()
            .unwrap_or_else(|_| panic!("bad time in {line:?}"));
        src.push(vec![PushStream {
            labels: parse_labels(&format!("{labels}}}")),
            entries: vec![Entry::new((ts * NS) as i64, text)],
        }]);
    }
    src
}

struct Case {
    name: String,
    query: String,
    when: String,
    expect: Option<String>,
    error: Option<String>,
}

fn run_case(engine: &Engine, src: &MemorySource, case: &Case) -> Result<(), String> {
    let words: Vec<&str> = case.when.split_whitespace().collect();
    let num = |i: usize| -> i64 {
        let v: f64 = words
            .get(i)
            .and_then(|w| w.parse().ok())
            .unwrap_or_else(|| panic!("{}: bad {:?}", case.name, case.when));
        (v * NS) as i64
    };
    let result = logql::parse(&case.query).and_then(|expr| match words.first() {
        Some(&"instant") => engine.query_instant(src, &expr, num(1)),
        Some(&"range") => {
            let mut params = RangeParams {
                start: num(1),
                end: num(2),
                step: num(3),
                limit: 1000,
                direction: Direction::Forward,
            };
            let mut i = 4;
            while i < words.len() {
                match words[i] {
                    "limit" => {
                        params.limit = words[i + 1].parse().unwrap_or(0);
                        i += 1;
                    }
                    "forward" => params.direction = Direction::Forward,
                    "backward" => params.direction = Direction::Backward,
                    w => panic!("{}: unknown word {w:?}", case.name),
                }
                i += 1;
            }
            engine.query_range(src, &expr, &params)
        }
        _ => panic!("{}: needs `range` or `instant`", case.name),
    });
    match (&case.error, result) {
        (Some(want), Err(e)) if e.to_string().contains(want.as_str()) => Ok(()),
        (Some(want), Err(e)) => Err(format!("error {e:?} does not contain {want:?}")),
        (Some(want), Ok(r)) => Err(format!("wanted error {want:?}, got\n{}", render(&r))),
        (None, Err(e)) => Err(format!("unexpected error: {e}")),
        (None, Ok(r)) => {
            let got = render(&r);
            let want = case.expect.clone().unwrap_or_default();
            if got.trim_end() == want.trim_end() {
                Ok(())
            } else {
                Err(format!("want:\n{want}\ngot:\n{got}"))
            }
        }
    }
}

/// Runs every case of one file; returns how many ran.
pub(super) fn run_file(name: &str, text: &str) -> usize {
    let engine = Engine::default();
    let mut data: Vec<String> = Vec::new();
    let mut src = MemorySource::new();
    let mut failures = Vec::new();
    let mut ran = 0;
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        if line == "data" {
            data.clear();
            while let Some(l) = lines.next_if(|l| !l.is_empty() && !l.starts_with("===")) {
                data.push(l.to_owned());
            }
            src = source(&data);
            continue;
        }
        let Some(case_name) = line.strip_prefix("=== ") else {
            panic!("{name}: unexpected line {line:?}");
        };
        let mut case = Case {
            name: format!("{name}: {case_name}"),
            query: String::new(),
            when: String::new(),
            expect: None,
            error: None,
        };
        while let Some(l) = lines.next_if(|l| !l.starts_with("===") && *l != "data") {
            if let Some(q) = l.strip_prefix("query ") {
                case.query = q.to_owned();
            } else if l.starts_with("range ") || l.starts_with("instant ") {
                case.when = l.to_owned();
            } else if let Some(e) = l.strip_prefix("error ") {
                case.error = Some(e.to_owned());
            } else if l == "expect" {
                let mut body = String::new();
                while let Some(b) = lines.next_if(|l| !l.starts_with("===") && *l != "data") {
                    if !b.trim().is_empty() && !b.starts_with('#') {
                        body.push_str(b);
                        body.push('\n');
                    }
                }
                case.expect = Some(body);
            } else if !l.trim().is_empty() && !l.starts_with('#') {
                panic!("{}: unexpected line {l:?}", case.name);
            }
        }
        ran += 1;
        if let Err(e) = run_case(&engine, &src, &case) {
            failures.push(format!("--- {} (query {})\n{e}", case.name, case.query));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    ran
}
