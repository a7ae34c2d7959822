//! Tests of the level, trace id and span id detection.

use super::*;

fn level(line: &str) -> Option<Level> {
    parse(line).level
}

#[test]
fn tracing_subscriber_json() {
    let line = r#"{"timestamp":"2024-05-01T12:00:00.123456Z","level":"INFO","fields":{"message":"started","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7"},"target":"steward","span":{"name":"request"},"spans":[{"name":"request"}]}"#;
    let parsed = parse(line);
    assert_eq!(parsed.format, Format::Json);
    assert_eq!(parsed.level, Some(Level::Info));
    assert_eq!(
        parsed.trace_id.as_deref(),
        Some("4bf92f3577b34da6a3ce929d0e0e4736")
    );
    assert_eq!(parsed.span_id.as_deref(), Some("00f067aa0ba902b7"));
}

#[test]
fn common_json_loggers() {
    // Go: zap, logrus, slog (with an offset level)
    assert_eq!(
        level(r#"{"level":"warn","ts":1714561200.1,"msg":"slow"}"#),
        Some(Level::Warn)
    );
    assert_eq!(
        level(r#"{"level":"warning","msg":"x","time":"t"}"#),
        Some(Level::Warn)
    );
    assert_eq!(
        level(r#"{"time":"t","level":"ERROR+2","msg":"x"}"#),
        Some(Level::Error)
    );
    // Python: python-json-logger, structlog, Google Cloud's severity
    assert_eq!(
        level(r#"{"levelname": "CRITICAL", "message": "x"}"#),
        Some(Level::Fatal)
    );
    assert_eq!(
        level(r#"{"event": "x", "level": "err"}"#),
        Some(Level::Error)
    );
    assert_eq!(
        level(r#"{"severity":"NOTICE","message":"x"}"#),
        Some(Level::Info)
    );
    // pino's numbers, ECS's nested and dotted keys
    assert_eq!(level(r#"{"level":50,"msg":"x"}"#), Some(Level::Error));
    assert_eq!(
        level(r#"{"log":{"level":"debug"},"message":"x"}"#),
        Some(Level::Debug)
    );
    let ecs = parse(r#"{"log.level":"crit","trace.id":"abc","span.id":"def"}"#);
    assert_eq!(ecs.level, Some(Level::Fatal));
    assert_eq!(ecs.trace_id.as_deref(), Some("abc"));
    assert_eq!(ecs.span_id.as_deref(), Some("def"));
}

#[test]
fn trace_id_spellings() {
    for key in ["trace_id", "traceId", "traceID", "trace.id", "otelTraceID"] {
        let line = format!(r#"{{"{key}":"t1","msg":"x"}}"#);
        assert_eq!(parse(&line).trace_id.as_deref(), Some("t1"), "{key}");
    }
    for key in ["span_id", "spanId", "spanID", "span.id"] {
        let line = format!(r#"{{"{key}":"s1"}}"#);
        assert_eq!(parse(&line).span_id.as_deref(), Some("s1"), "{key}");
    }
    // Datadog's numeric ids
    let dd = parse(r#"{"dd":{"trace_id":1234567890123456789}}"#);
    assert_eq!(dd.trace_id.as_deref(), Some("1234567890123456789"));
}

#[test]
fn first_value_wins_and_escapes_are_read() {
    let parsed = parse(r#"{"level":"info","fields":{"level":"error"},"trace_id":"a\"b"}"#);
    assert_eq!(parsed.level, Some(Level::Info));
    assert_eq!(parsed.trace_id.as_deref(), Some("a\"b"));
}

#[test]
fn malformed_json_falls_back_to_plain() {
    let parsed = parse(r#"{"level":"warn", oops}"#);
    assert_eq!(parsed.format, Format::Plain);
    // what was read before the error is kept
    assert_eq!(parsed.level, Some(Level::Warn));
    assert_eq!(parse("{ERROR} not json").level, Some(Level::Error));
    assert_eq!(parse("{").level, None);
}

#[test]
fn logfmt_lines() {
    let parsed = parse(
        r#"ts=2024-05-01T12:00:00Z level=WARNING msg="disk \"almost\" full" traceID=abc span_id=def"#,
    );
    assert_eq!(parsed.format, Format::Logfmt);
    assert_eq!(parsed.level, Some(Level::Warn));
    assert_eq!(parsed.trace_id.as_deref(), Some("abc"));
    assert_eq!(parsed.span_id.as_deref(), Some("def"));
    assert_eq!(level(r#"lvl="eror" msg=x"#), Some(Level::Error));
    // a quoted value that never ends is read to the end of the line
    assert_eq!(parse(r#"msg="unterminated level=info"#).level, None);
}

#[test]
fn plain_text_levels() {
    // tracing-subscriber's default format, with and without colours
    assert_eq!(
        level("2024-05-01T12:00:00.123456Z  INFO steward: started"),
        Some(Level::Info)
    );
    assert_eq!(
        level(
            "\u{1b}[2m2024-05-01T12:00:00Z\u{1b}[0m \u{1b}[33m WARN\u{1b}[0m \u{1b}[2msteward\u{1b}[0m: slow"
        ),
        Some(Level::Warn)
    );
    assert_eq!(
        level("12:00:00.123 [main] ERROR com.example.App - failed"),
        Some(Level::Error)
    );
    assert_eq!(level("WARNING:root:careful"), Some(Level::Warn));
    assert_eq!(level("[warn] low disk"), Some(Level::Warn));
    assert_eq!(level("error: cannot open file"), Some(Level::Error));
    assert_eq!(level("<debug> tick"), Some(Level::Debug));
    // a lower-case bare word is not a level; nor one past the first words
    assert_eq!(level("connected to the info service"), None);
    assert_eq!(level("one two three four five six ERROR"), None);
    assert_eq!(
        level("thread 'main' panicked at src/main.rs:2:5:"),
        Some(Level::Error)
    );
    assert_eq!(
        level("Traceback (most recent call last):"),
        Some(Level::Error)
    );
    assert_eq!(level("hello"), None);
}

#[test]
fn level_words_normalise() {
    assert_eq!(Level::from_word("Warning"), Some(Level::Warn));
    assert_eq!(Level::from_word("CRITICAL"), Some(Level::Fatal));
    assert_eq!(Level::from_word("fatal"), Some(Level::Fatal));
    assert_eq!(Level::from_word("DEBUG-4"), Some(Level::Debug));
    assert_eq!(Level::from_word("averyveryverylongword"), None);
    assert_eq!(Level::from_word(""), None);
}

#[test]
fn annotate_appends_once() {
    let mut entry = Entry::new(1, "level=error trace_id=t\n  more");
    entry
        .metadata
        .push((TRACE_ID.to_owned(), "given".to_owned()));
    annotate(&mut entry);
    assert_eq!(entry.metadata(LEVEL), Some("error"));
    assert_eq!(entry.metadata(TRACE_ID), Some("given"));
    assert_eq!(entry.line, "level=error trace_id=t\n  more");
}

#[test]
fn long_ids_are_dropped() {
    let long = "x".repeat(MAX_ID_LEN + 1);
    assert_eq!(parse(&format!("trace_id={long}")).trace_id, None);
}

proptest::proptest! {
    #[test]
    fn never_panics(line in "\\PC*") {
        let _ = parse(&line);
    }

    #[test]
    fn never_panics_on_json_like(line in "\\{[\"a-z:=,\\\\{}\\[\\] 0-9]*\\}") {
        let _ = parse(&line);
    }
}
