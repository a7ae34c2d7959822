//! The query `steward logs` makes from its arguments, and how a line is
//! printed.

use std::collections::BTreeMap;

use super::{Line, level, query_of, render};
use crate::cli::LogsArgs;

fn args(service: Option<&str>, grep: Option<&str>, query: Option<&str>) -> LogsArgs {
    LogsArgs {
        service: service.map(str::to_owned),
        since: steward_core::HumanDuration::from_secs(600),
        grep: grep.map(str::to_owned),
        query: query.map(str::to_owned),
        limit: 100,
        follow: false,
    }
}

#[test]
fn the_arguments_make_a_logql_query() {
    assert_eq!(
        query_of(&args(None, None, None)).expect("query"),
        r#"{service=~".+"}"#
    );
    assert_eq!(
        query_of(&args(Some("worker"), Some("said \"no\""), None)).expect("query"),
        r#"{service="worker"} |= "said \"no\"""#
    );
    assert_eq!(
        query_of(&args(None, None, Some(r#"{a="b"} | json"#))).expect("query"),
        r#"{a="b"} | json"#
    );
    assert!(query_of(&args(Some("worker"), None, Some("{a=\"b\"}"))).is_err());
}

fn line(labels: &[(&str, &str)], text: &str) -> Line {
    Line {
        ts: "1700000000123000000".to_owned(),
        labels: labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<BTreeMap<_, _>>(),
        line: text.to_owned(),
    }
}

#[test]
fn lines_are_printed_with_their_source_and_coloured_by_level() {
    let l = line(
        &[
            ("service", "worker"),
            ("replica", "worker-1"),
            ("stream", "stderr"),
        ],
        "boom",
    );
    assert_eq!(
        render(&l, false),
        "2023-11-14T22:13:20.123Z worker/worker-1 stderr boom"
    );
    let error = line(&[("service", "api"), ("level", "error")], "it failed");
    assert_eq!(level(&error), Some("error"));
    assert!(render(&error, true).contains("\x1b[31mit failed\x1b[0m"));
    assert_eq!(level(&line(&[], "WARN disk almost full")), Some("warn"));
    assert_eq!(level(&line(&[], "GET / 200")), None);
    assert!(!render(&line(&[], "GET / 200"), true).contains("\x1b[31m"));
}
