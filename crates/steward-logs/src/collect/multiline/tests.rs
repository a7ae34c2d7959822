//! Tests of the joining of lines into entries.

use std::time::Duration;

use steward_core::ByteSize;

use super::*;

/// Joins `text`'s lines with the default rules; the cursor is the line's
/// number (from 1); what is held at the end is flushed.
fn join(text: &str) -> Vec<(String, usize)> {
    join_with(&MultilineConfig::default(), text)
}

fn join_with(config: &MultilineConfig, text: &str) -> Vec<(String, usize)> {
    let mut joiner = Joiner::new(config).expect("valid config");
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        joiner.push(n as i64, line, n + 1, &mut out);
    }
    out.extend(joiner.flush());
    out.into_iter()
        .map(|joined| (joined.entry.line, joined.cursor))
        .collect()
}

fn lines(joined: &[(String, usize)]) -> Vec<&str> {
    joined.iter().map(|(line, _)| line.as_str()).collect()
}

#[test]
fn ordinary_lines_stay_apart() {
    let joined = join("one\ntwo\n{\"level\":\"info\"}");
    assert_eq!(lines(&joined), ["one", "two", "{\"level\":\"info\"}"]);
    assert_eq!(joined[1].1, 2);
}

#[test]
fn rust_panic_with_backtrace() {
    let text = "\
starting
thread 'main' panicked at src/main.rs:2:5:
assertion `left == right` failed
  left: None
 right: Some(Error)
stack backtrace:
   0: __rustc::rust_begin_unwind
             at /rustc/abc/library/std/src/panicking.rs:689:5
   1: core::panicking::panic_fmt
note: Some details are omitted, run with `RUST_BACKTRACE=full` for a verbose backtrace.
next line";
    let joined = join(text);
    assert_eq!(joined.len(), 3);
    assert!(joined[1].0.starts_with("thread 'main' panicked"));
    assert!(joined[1].0.ends_with("verbose backtrace."));
    assert_eq!(joined[1].0.lines().count(), 9);
    assert_eq!(joined[1].1, 10);
    assert_eq!(joined[2].0, "next line");
}

#[test]
fn rust_panic_without_backtrace() {
    let text = "\
thread 'tokio-runtime-worker' panicked at src/lib.rs:10:9:
boom
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace
after";
    assert_eq!(lines(&join(text)).len(), 2);
    // the older format has the message in the header: the next line is new
    let old = "thread 'main' panicked at 'boom', src/main.rs:2:5\nafter";
    assert_eq!(
        lines(&join(old)),
        ["thread 'main' panicked at 'boom', src/main.rs:2:5", "after"]
    );
}

#[test]
fn python_traceback_keeps_its_exception_line() {
    let text = "\
INFO:root:working
Traceback (most recent call last):
  File \"app.py\", line 3, in <module>
    main()
  File \"app.py\", line 2, in main
    raise ValueError(\"boom\")
ValueError: boom
INFO:root:next";
    let joined = join(text);
    assert_eq!(joined.len(), 3);
    assert!(joined[1].0.ends_with("ValueError: boom"));
    assert_eq!(joined[1].0.lines().count(), 6);
    assert_eq!(joined[2].0, "INFO:root:next");
}

#[test]
fn chained_python_tracebacks_are_one_entry() {
    let text = "\
Traceback (most recent call last):
  File \"x.py\", line 2, in <module>
    1/0
ZeroDivisionError: division by zero

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File \"x.py\", line 4, in <module>
    raise ValueError(\"boom\")
ValueError: boom

after";
    let joined = join(text);
    assert_eq!(joined.len(), 2, "{joined:?}");
    // the blank line after the traceback is consumed, not kept at its end
    assert!(joined[0].0.ends_with("ValueError: boom"));
    assert_eq!(joined[0].1, 12);
    assert_eq!(joined[1].0, "after");
}

#[test]
fn java_exceptions() {
    let text = "\
Exception in thread \"main\" java.lang.IllegalStateException: outer
\tat com.example.App.run(App.java:10)
\tat com.example.App.main(App.java:5)
Caused by: java.io.IOException: inner
\tat com.example.Io.read(Io.java:3)
\t... 2 more
12:00:00.000 [main] INFO  com.example.App - next
java.lang.NullPointerException: npe
\tat com.example.B.c(B.java:1)
done";
    let joined = join(text);
    assert_eq!(joined.len(), 4, "{joined:?}");
    assert_eq!(joined[0].0.lines().count(), 6);
    assert!(joined[2].0.starts_with("java.lang.NullPointerException"));
    assert_eq!(joined[2].0.lines().count(), 2);
    assert_eq!(joined[3].0, "done");
}

#[test]
fn start_pattern_decides() {
    let config = MultilineConfig {
        start_pattern: Some(r"^\d{4}-\d{2}-\d{2}".to_owned()),
        ..MultilineConfig::default()
    };
    let text = "\
orphan
2024-05-01 first
continued without indent
2024-05-01 second";
    assert_eq!(
        lines(&join_with(&config, text)),
        [
            "orphan",
            "2024-05-01 first\ncontinued without indent",
            "2024-05-01 second"
        ]
    );
    let bad = MultilineConfig {
        start_pattern: Some("(".to_owned()),
        ..MultilineConfig::default()
    };
    assert!(Joiner::<()>::new(&bad).is_err());
}

#[test]
fn limits_cut_entries() {
    let config = MultilineConfig {
        max_lines: 3,
        ..MultilineConfig::default()
    };
    let text = "a\n 1\n 2\n 3\n 4\nb";
    assert_eq!(
        lines(&join_with(&config, text)),
        ["a\n 1\n 2", " 3\n 4", "b"]
    );

    let config = MultilineConfig {
        max_bytes: ByteSize(8),
        ..MultilineConfig::default()
    };
    // "a\n 1\n 2" is 7 bytes: " 3" would make it 10
    let text = "a\n 1\n 2\n 3\nlonger than eight\nc";
    assert_eq!(
        lines(&join_with(&config, text)),
        ["a\n 1\n 2", " 3", "longer than eight", "c"]
    );
}

#[test]
fn limits_keep_the_shape() {
    // the traceback's exception line still belongs after a cut
    let config = MultilineConfig {
        max_lines: 2,
        ..MultilineConfig::default()
    };
    let text = "Traceback (most recent call last):\n  File \"a\"\n    x\nValueError: v\nnext";
    assert_eq!(
        lines(&join_with(&config, text)),
        [
            "Traceback (most recent call last):\n  File \"a\"",
            "    x\nValueError: v",
            "next"
        ]
    );
}

#[test]
fn serde_defaults() {
    let config: MultilineConfig = serde_json::from_str(r#"{"max_wait":"2s"}"#).expect("parses");
    assert_eq!(config.max_wait.get(), Duration::from_secs(2));
    assert_eq!(config.max_lines, 500);
    assert!(serde_json::from_str::<MultilineConfig>(r#"{"max_wiat":"2s"}"#).is_err());
}

#[tokio::test(start_paused = true)]
async fn a_pause_completes_the_entry() {
    let mut joiner = Joiner::new(&MultilineConfig::default()).expect("valid");
    let mut out = Vec::new();
    assert_eq!(joiner.deadline(), None);
    joiner.push(1, "Traceback (most recent call last):", 1, &mut out);
    tokio::time::sleep(Duration::from_millis(300)).await;
    joiner.push(2, "  File \"a\"", 2, &mut out);
    let deadline = joiner.deadline().expect("an entry is held");
    assert_eq!(
        deadline,
        tokio::time::Instant::now() + Duration::from_millis(500)
    );
    tokio::time::sleep(Duration::from_millis(499)).await;
    assert_eq!(joiner.flush_due(tokio::time::Instant::now()), None);
    tokio::time::sleep_until(deadline).await;
    let joined = joiner.flush_due(tokio::time::Instant::now()).expect("due");
    assert_eq!(
        joined.entry.line,
        "Traceback (most recent call last):\n  File \"a\""
    );
    assert_eq!(joined.entry.ts, 1);
    assert_eq!(joined.cursor, 2);
    assert!(out.is_empty());
    // after a pause, an indented line no longer continues a traceback's
    // shape, but starts afresh
    joiner.push(3, "ValueError: late", 3, &mut out);
    assert!(joiner.is_holding());
}

proptest::proptest! {
    #[test]
    fn every_line_is_kept(lines in proptest::collection::vec("[ a-zA-Z\\t:.'\"]{0,12}", 0..40)) {
        let config = MultilineConfig { max_lines: 4, max_bytes: ByteSize(30), ..MultilineConfig::default() };
        let mut joiner = Joiner::new(&config).expect("valid");
        let mut out = Vec::new();
        for (n, line) in lines.iter().enumerate() {
            joiner.push(0, line, n, &mut out);
        }
        out.extend(joiner.flush());
        // every line is in exactly one entry, in order, but trailing blank ones
        let joined: Vec<String> = out.iter().map(|j| j.entry.line.clone()).collect();
        let all = joined.join("\n");
        let expected = lines.join("\n");
        proptest::prop_assert_eq!(
            all.split('\n').filter(|l| !l.is_empty()).collect::<Vec<_>>(),
            expected.split('\n').filter(|l| !l.is_empty()).collect::<Vec<_>>()
        );
        for j in &out {
            proptest::prop_assert!(j.entry.line.lines().count() <= 4);
        }
    }
}
