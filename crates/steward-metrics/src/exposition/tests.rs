//! Tests of the exposition parsers and the text encoder.

use proptest::prelude::*;

use super::*;

fn text(body: &str) -> Parsed {
    parse_format(body.as_bytes(), Format::Text).unwrap_or_else(|e| panic!("{e}\n{body}"))
}

fn om(body: &str) -> Parsed {
    parse_format(body.as_bytes(), Format::OpenMetrics).unwrap_or_else(|e| panic!("{e}\n{body}"))
}

fn err(body: &str, format: Format) -> String {
    match parse_format(body.as_bytes(), format) {
        Ok(p) => panic!("parsed {body:?} into {p:?}"),
        Err(e) => e.to_string(),
    }
}

fn l(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied())
}

#[test]
fn text_format_with_prometheus_tolerance() {
    let body = "# HELP http_requests_total The total.\\nSecond line \\\\ \\x\n\
                # TYPE http_requests_total counter\n\
                # just a comment\n\
                #TYPE not metadata\n\
                \n   \t\n\
                http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n\
                http_requests_total { method = \"get\" , code=\"400\", } 3\t1395066363000  \n\
                msdos{path=\"C:\\\\dir\\\\\",quote=\"say \\\"hi\\\"\",nl=\"a\\nb\",other=\"\\t\"} +Inf\n\
                \tindented -Inf\n\
                nospace{a=\"b\"}1\n\
                no_commas{a=\"1\" b=\"2\"} NaN\n\
                empty_value{a=\"\",b=\"x\"} 1.5e-3\n\
                # TYPE x untyped\n\
                x 0x\n"
        .replace("0x\n", "-0.0\n")
        + "last 7";
    let p = text(&body);
    assert_eq!(p.format, Format::Text);
    let m = &p.metadata[0];
    assert_eq!(m.family, "http_requests_total");
    assert_eq!(m.kind, Some(MetricType::Counter));
    assert_eq!(m.help.as_deref(), Some("The total.\nSecond line \\ \\x"));
    assert_eq!(p.metadata[1].kind, Some(MetricType::Unknown));
    let s = &p.samples;
    assert_eq!(s.len(), 9);
    assert_eq!(
        s[0].labels,
        l(&[
            ("__name__", "http_requests_total"),
            ("method", "post"),
            ("code", "200")
        ])
    );
    assert_eq!(
        (s[0].value, s[0].timestamp),
        (1027.0, Some(1_395_066_363_000))
    );
    assert_eq!(s[1].labels.get("method"), Some("get"));
    assert_eq!((s[1].value, s[1].timestamp), (3.0, Some(1_395_066_363_000)));
    assert_eq!(s[2].labels.get("path"), Some("C:\\dir\\"));
    assert_eq!(s[2].labels.get("quote"), Some("say \"hi\""));
    assert_eq!(s[2].labels.get("nl"), Some("a\nb"));
    // unknown escapes stay as written
    assert_eq!(s[2].labels.get("other"), Some("\\t"));
    assert_eq!(s[2].value, f64::INFINITY);
    assert_eq!(s[3].value, f64::NEG_INFINITY);
    assert_eq!(s[4].labels, l(&[("__name__", "nospace"), ("a", "b")]));
    assert_eq!(s[5].labels.get("b"), Some("2"));
    assert!(s[5].value.is_nan() && !crate::is_stale_nan(s[5].value));
    assert_eq!(s[5].value.to_bits(), 0x7ff8_0000_0000_0001);
    // an empty value means the label is absent
    assert_eq!(s[6].labels, l(&[("__name__", "empty_value"), ("b", "x")]));
    assert_eq!(s[6].value, 0.0015);
    assert!(s[7].value == 0.0 && s[7].value.is_sign_negative());
    assert_eq!((s[8].value, s[8].timestamp), (7.0, None));
    assert!(s.iter().all(|s| s.exemplar.is_none()));
}

#[test]
fn text_format_errors_name_line_and_column() {
    let cases: &[(&str, &str)] = &[
        (
            "a 1\nb 2\nup{instance=\"x\",job \"api\"} 1\n",
            "line 3, column 21: expected '=' after label name \"job\", got '\"'",
        ),
        (
            "a 1\r\nb 2\r\n",
            "line 1, column 4: expected a timestamp or end of line, got a carriage return (lines must end with \\n alone)",
        ),
        (
            "\r\n",
            "line 1, column 1: expected a metric name, a comment or a blank line, got a carriage return (lines must end with \\n alone)",
        ),
        (
            "# TYPE a counter\r\n",
            "line 1, column 10: invalid metric type \"counter\\r\"",
        ),
        (
            "a{b=\"1\",b=\"2\"} 1\n",
            "line 1, column 9: duplicate label name \"b\"",
        ),
        (
            "a{__name__=\"x\"} 1\n",
            "line 1, column 3: duplicate label name \"__name__\"",
        ),
        (
            "a{1b=\"x\"} 1\n",
            "line 1, column 3: expected a label name or '}', got '1'",
        ),
        (
            "1a 1\n",
            "line 1, column 1: expected a metric name, a comment or a blank line, got '1'",
        ),
        ("a-b 1\n", "line 1, column 2: invalid value \"-b\""),
        ("a{b=\"x} 1\n", "line 1, column 5: unterminated label value"),
        (
            "a{b=x} 1\n",
            "line 1, column 5: expected a quoted value for label \"b\", got 'x'",
        ),
        (
            "a\n",
            "line 1, column 2: expected a value after the metric, got end of line",
        ),
        (
            "a 1 2 3\n",
            "line 1, column 7: expected end of line after the timestamp, got '3'",
        ),
        (
            "a 1 -5\n",
            "line 1, column 5: expected a timestamp or end of line, got '-'",
        ),
        (
            "a 1 1.5\n",
            "line 1, column 6: expected end of line after the timestamp, got '.'",
        ),
        (
            "a 1 99999999999999999999\n",
            "line 1, column 5: timestamp out of range",
        ),
        ("a 0x1p3\n", "line 1, column 3: invalid value \"0x1p3\""),
        ("a 1_000\n", "line 1, column 3: invalid value \"1_000\""),
        ("a 1e400\n", "line 1, column 3: invalid value \"1e400\""),
        ("a +NaN\n", "line 1, column 3: invalid value \"+NaN\""),
        (
            "# TYPE a gaugehistogram\n",
            "line 1, column 10: invalid metric type \"gaugehistogram\"",
        ),
        (
            "# HELP\ta\x01x\n",
            "line 1, column 9: expected a space after the metric name in HELP, got byte 0x01",
        ),
        (
            "# HELP 9 x\n",
            "line 1, column 8: expected metric name after HELP, got '9'",
        ),
        (
            "a{b=\"\u{e9}\"} 1\nc{d=\"\\\n\"} 1",
            "line 2, column 6: backslash at end of line in label value",
        ),
        ("a \0\n", "line 1, column 3: invalid value \"\\0\""),
    ];
    let wrong: Vec<String> = cases
        .iter()
        .filter_map(|(body, want)| {
            let got = err(body, Format::Text);
            (got != *want).then(|| format!("{body:?}\n  got  {got}\n  want {want}"))
        })
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // invalid utf-8 in a label value, columns counted in characters
    let e = parse_format(b"\xc3\xa9{a=\"\xff\"} 1\n", Format::Text)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "line 1, column 1: expected a metric name, a comment or a blank line, got 'é'"
    );
    let e = parse_format(b"ab{a=\"\xff\"} 1\n", Format::Text)
        .unwrap_err()
        .to_string();
    assert_eq!(e, "line 1, column 7: label value is not valid utf-8");
}

#[test]
fn go_float_syntax() {
    let ok: &[(&str, f64)] = &[
        ("1", 1.0),
        ("-1.5", -1.5),
        ("+2", 2.0),
        (".5", 0.5),
        ("5.", 5.0),
        ("1E3", 1000.0),
        ("1e-3", 0.001),
        ("Inf", f64::INFINITY),
        ("+inf", f64::INFINITY),
        ("-Infinity", f64::NEG_INFINITY),
        ("1e-400", 0.0),
    ];
    for (s, v) in ok {
        assert_eq!(lex::parse_go_float(s.as_bytes()), Some(*v), "{s}");
    }
    for s in ["nan", "NaN", "NAN"] {
        assert!(
            lex::parse_go_float(s.as_bytes()).is_some_and(f64::is_nan),
            "{s}"
        );
    }
    for s in [
        "", ".", "e5", "1e", "0x10", "0x1p4", "1_0", "-nan", "infinit", "1e309", "--1", "1.2.3",
        "١",
    ] {
        assert_eq!(lex::parse_go_float(s.as_bytes()), None, "{s}");
    }
}

const OM_BODY: &str = "# TYPE acme_http_router_request_seconds summary\n\
# UNIT acme_http_router_request_seconds seconds\n\
# HELP acme_http_router_request_seconds Latency \\\"quoted\\\" \\\\ \\n.\n\
acme_http_router_request_seconds_sum{path=\"/api/v1\",method=\"GET\"} 9036.32\n\
acme_http_router_request_seconds_count{path=\"/api/v1\",method=\"GET\"} 807283.0\n\
acme_http_router_request_seconds_created{path=\"/api/v1\",method=\"GET\"} 1605281325.0\n\
# TYPE go_goroutines gauge\n\
go_goroutines 69 1605281325.123456\n\
# TYPE foo counter\n\
foo_total 17.0 1520879607.789 # {trace_id=\"KOO5S4vxi0o\"} 0.67 1520879607.12\n\
foo_created 1520430000.123\n\
# TYPE hist histogram\n\
hist_bucket{le=\"0.01\"} 0 # {} 0.005\n\
hist_bucket{le=\"+Inf\"} 17 # {a=\"b\",c=\"d\"} 4\n\
# TYPE ss stateset\n\
ss{ss=\"a\"} 1\n\
# TYPE ii info\n\
ii_info{v=\"1.2\"} 1\n\
# TYPE gh gaugehistogram\n\
gh_gcount 3\n\
# TYPE u unknown\n\
u -1e-3 -1.5\n\
# EOF\n";

#[test]
fn openmetrics_with_exemplars_units_and_timestamps() {
    let p = om(OM_BODY);
    assert_eq!(p.format, Format::OpenMetrics);
    let m = p
        .metadata_for("acme_http_router_request_seconds_count")
        .expect("family");
    assert_eq!(m.kind, Some(MetricType::Summary));
    assert_eq!(m.unit.as_deref(), Some("seconds"));
    assert_eq!(m.help.as_deref(), Some("Latency \"quoted\" \\ \n."));
    let kinds: Vec<_> = p.metadata.iter().filter_map(|m| m.kind).collect();
    assert_eq!(
        kinds,
        [
            MetricType::Summary,
            MetricType::Gauge,
            MetricType::Counter,
            MetricType::Histogram,
            MetricType::Stateset,
            MetricType::Info,
            MetricType::GaugeHistogram,
            MetricType::Unknown
        ]
    );
    let s = &p.samples;
    assert_eq!(s.len(), 12);
    assert_eq!(s[1].value, 807_283.0);
    // samples kept as exposed: _created is a sample like any other
    assert_eq!(
        s[2].labels.metric_name(),
        Some("acme_http_router_request_seconds_created")
    );
    assert_eq!(s[3].timestamp, Some(1_605_281_325_123));
    let foo = &s[4];
    assert_eq!(foo.labels, l(&[("__name__", "foo_total")]));
    assert_eq!((foo.value, foo.timestamp), (17.0, Some(1_520_879_607_789)));
    let ex = foo.exemplar.as_ref().expect("exemplar");
    assert_eq!(ex.labels, l(&[("trace_id", "KOO5S4vxi0o")]));
    assert_eq!((ex.value, ex.timestamp), (0.67, Some(1_520_879_607_120)));
    assert_eq!(s[5].labels.metric_name(), Some("foo_created"));
    assert_eq!(s[5].timestamp, None);
    assert_eq!(
        s[6].exemplar
            .as_ref()
            .map(|e| (e.labels.is_empty(), e.value, e.timestamp)),
        Some((true, 0.005, None))
    );
    assert_eq!(s[7].exemplar.as_ref().map(|e| e.labels.len()), Some(2));
    assert_eq!(
        p.metadata_for("gh_gcount").and_then(|m| m.kind),
        Some(MetricType::GaugeHistogram)
    );
    // negative timestamps in seconds truncate toward zero as Prometheus
    assert_eq!((s[11].value, s[11].timestamp), (-0.001, Some(-1500)));
    // nothing else carries an exemplar
    assert_eq!(s.iter().filter(|s| s.exemplar.is_some()).count(), 3);
}

#[test]
fn openmetrics_errors_name_line_and_column() {
    let cases: &[(&str, &str)] = &[
        ("a 1\n", "line 2, column 1: data does not end with # EOF"),
        ("", "line 1, column 1: data does not end with # EOF"),
        ("a 1", "line 1, column 4: data does not end with # EOF"),
        (
            "a 1\n# EOF\nb 1\n",
            "line 3, column 1: unexpected data after # EOF",
        ),
        (
            "a 1\n# EOF\n\n",
            "line 3, column 1: unexpected data after # EOF",
        ),
        (
            "a 1\n\n# EOF\n",
            "line 2, column 1: expected a metric name or '# ', got end of line",
        ),
        (
            "a  1\n# EOF\n",
            "line 1, column 3: expected a space and a value after the metric, got ' '",
        ),
        (
            "a 1 \n# EOF\n",
            "line 1, column 5: expected a timestamp, got end of line",
        ),
        (
            "a{b=\"1\",} 1\n# EOF\n",
            "line 1, column 9: expected a label name after ',', got '}'",
        ),
        (
            "a{b=\"1\" ,c=\"2\"} 1\n# EOF\n",
            "line 1, column 8: expected ',' or '}', got ' '",
        ),
        (
            "a{b = \"1\"} 1\n# EOF\n",
            "line 1, column 4: expected '=' after label name \"b\", got ' '",
        ),
        (
            "a{b=\"1\nx\"} 1\n# EOF\n",
            "line 1, column 7: unescaped newline in label value",
        ),
        (
            "# comment\n# EOF\n",
            "line 1, column 3: expected HELP, TYPE, UNIT or EOF after '# '",
        ),
        (
            "#TYPE a gauge\n# EOF\n",
            "line 1, column 2: expected a space after '#', got 'T'",
        ),
        (
            "a_total 1\n# TYPE a counter\n# EOF\n",
            "line 2, column 8: TYPE for metric family \"a\" after its samples",
        ),
        (
            "a 1\n# TYPE a gauge\n# EOF\n",
            "line 2, column 8: TYPE for metric family \"a\" after its samples",
        ),
        (
            "# TYPE a untyped\n# EOF\n",
            "line 1, column 10: invalid metric type \"untyped\"",
        ),
        (
            "# UNIT a_bytes seconds\n# EOF\n",
            "line 1, column 16: unit \"seconds\" is not a suffix of metric \"a_bytes\"",
        ),
        (
            "# UNIT abytes bytes\n# EOF\n",
            "line 1, column 15: unit \"bytes\" is not a suffix of metric \"abytes\"",
        ),
        (
            "# TYPE a\n# EOF\n",
            "line 1, column 9: expected a space and text after the metric name in TYPE, got end of line",
        ),
        (
            "a 1 # {a=\"b\"}\n# EOF\n",
            "line 1, column 14: expected a space and a value after the exemplar labels, got end of line",
        ),
        (
            "a 1 NaN\n# EOF\n",
            "line 1, column 5: invalid timestamp \"NaN\"",
        ),
        (
            "a 1 2 3\n# EOF\n",
            "line 1, column 6: expected end of line or an exemplar after the timestamp, got ' '",
        ),
        (
            "a 1\r\n# EOF\r\n",
            "line 1, column 4: expected a space or end of line after the value, got a carriage return (lines must end with \\n alone)",
        ),
        (
            "a{a=\"1\",a=\"2\"} 1\n# EOF\n",
            "line 1, column 9: duplicate label name \"a\"",
        ),
        (
            "a 1 # {x=\"1\",x=\"2\"} 1\n# EOF\n",
            "line 1, column 14: duplicate label name \"x\"",
        ),
    ];
    let wrong: Vec<String> = cases
        .iter()
        .filter_map(|(body, want)| {
            let got = err(body, Format::OpenMetrics);
            (got != *want).then(|| format!("{body:?}\n  got  {got}\n  want {want}"))
        })
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn openmetrics_accepts_eof_without_newline_and_help_after_samples() {
    let p = om("a 1\n# HELP a later\n# EOF");
    assert_eq!(p.samples.len(), 1);
    assert_eq!(p.metadata[0].help.as_deref(), Some("later"));
}

#[test]
fn content_type_picks_the_parser_as_prometheus() {
    let cases: &[(&str, Format)] = &[
        (
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::OpenMetrics,
        ),
        (
            "application/openmetrics-text;version=0.0.1",
            Format::OpenMetrics,
        ),
        ("Application/OpenMetrics-Text", Format::OpenMetrics),
        ("application/openmetrics-text;", Format::OpenMetrics),
        ("text/plain; version=0.0.4; charset=utf-8", Format::Text),
        ("", Format::Text),
        ("application/json", Format::Text),
        ("garbage", Format::Text),
        // Go's mime parser fails on these, and Prometheus then uses the
        // text parser whatever the media type says
        ("application/openmetrics-text; version", Format::Text),
        ("application/openmetrics-text;;", Format::Text),
        ("application/openmetrics-text; a=b c", Format::Text),
    ];
    for (ct, want) in cases {
        assert_eq!(Format::from_content_type(ct).unwrap(), *want, "{ct:?}");
    }
    let e = Format::from_content_type("application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited").unwrap_err();
    assert!(
        e.to_string()
            .contains("unsupported exposition content type"),
        "{e}"
    );
    assert_eq!(
        parse(b"a 1\n# EOF\n", "application/openmetrics-text")
            .unwrap()
            .format,
        Format::OpenMetrics
    );
    assert_eq!(parse(b"a 1\n", "").unwrap().samples.len(), 1);
    assert_eq!(
        SCRAPE_ACCEPT,
        "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
    );
}

#[test]
fn streaming_gives_raw_series_for_caching() {
    let body = b"# TYPE a gauge\na{x=\"1\"} 1\na { x=\"2\" } 2\n";
    let mut p = Parser::new(body, Format::Text);
    let mut series = Vec::new();
    while let Some(e) = p.next_entry().unwrap() {
        if let Entry::Sample(s) = e {
            series.push((
                std::str::from_utf8(s.series).unwrap().to_owned(),
                s.name,
                p.labels(),
            ));
        }
    }
    assert_eq!(series[0].0, "a{x=\"1\"}");
    assert_eq!(series[1].0, "a { x=\"2\" }");
    assert_eq!(series[1].1, "a");
    assert_eq!(series[1].2, l(&[("__name__", "a"), ("x", "2")]));
    // after an error the parser stays finished
    let mut p = Parser::new(b"a 1\n} 2\nb 3\n", Format::Text);
    assert!(p.next_entry().unwrap().is_some());
    assert!(p.next_entry().is_err());
    assert!(p.next_entry().unwrap().is_none());
}

fn family(
    name: &str,
    kind: MetricType,
    help: Option<&str>,
    samples: Vec<(Labels, f64, Option<i64>)>,
) -> MetricFamily {
    MetricFamily {
        name: name.to_owned(),
        help: help.map(str::to_owned),
        kind,
        samples: samples
            .into_iter()
            .map(|(labels, value, timestamp)| FamilySample {
                labels,
                value,
                timestamp,
            })
            .collect(),
    }
}

#[test]
fn writer_round_trips_through_the_text_parser() {
    let fams = vec![
        family(
            "steward_process_cpu_seconds_total",
            MetricType::Counter,
            Some("CPU time.\nIn seconds \\ per process."),
            vec![
                (l(&[("app", "web"), ("path", "C:\\x \"y\"\nz")]), 12.5, None),
                (l(&[("app", "db")]), f64::INFINITY, Some(1_700_000_000_000)),
            ],
        ),
        family(
            "steward_latency_seconds",
            MetricType::Histogram,
            None,
            vec![
                (
                    l(&[
                        ("__name__", "steward_latency_seconds_bucket"),
                        ("le", "0.1"),
                    ]),
                    3.0,
                    None,
                ),
                (
                    l(&[
                        ("__name__", "steward_latency_seconds_bucket"),
                        ("le", "+Inf"),
                    ]),
                    5.0,
                    None,
                ),
                (
                    l(&[("__name__", "steward_latency_seconds_sum")]),
                    1e-300,
                    None,
                ),
                (
                    l(&[("__name__", "steward_latency_seconds_count")]),
                    5.0,
                    None,
                ),
            ],
        ),
        family(
            "steward_up",
            MetricType::Info,
            None,
            vec![
                (Labels::empty(), f64::NAN, None),
                (Labels::empty(), -0.0, None),
            ],
        ),
        family(
            "steward_big",
            MetricType::Gauge,
            Some(""),
            vec![
                (Labels::empty(), 1.7976931348623157e308, None),
                (Labels::empty(), 5e-324, None),
            ],
        ),
    ];
    let mut out = String::new();
    write_text(&mut out, &fams).unwrap();
    assert!(out.starts_with("# HELP steward_process_cpu_seconds_total CPU time.\\nIn seconds \\\\ per process.\n# TYPE steward_process_cpu_seconds_total counter\nsteward_process_cpu_seconds_total{app=\"web\",path=\"C:\\\\x \\\"y\\\"\\nz\"} 12.5\n"), "{out}");
    assert!(
        out.contains("# TYPE steward_up untyped\nsteward_up NaN\n"),
        "{out}"
    );
    let p = parse(out.as_bytes(), TEXT_CONTENT_TYPE).unwrap();
    let mut back = Vec::new();
    for f in &fams {
        let m = p.metadata.iter().find(|m| m.family == f.name).unwrap();
        assert_eq!(m.help, f.help);
        for s in &f.samples {
            let mut labels = s.labels.builder();
            if s.labels.metric_name().is_none() {
                labels.set("__name__", f.name.clone());
            }
            back.push((labels.build(), s.value.to_bits(), s.timestamp));
        }
    }
    let got: Vec<_> = p
        .samples
        .iter()
        .map(|s| {
            // the parser normalises NaN; compare NaN as "a NaN"
            let bits = if s.value.is_nan() {
                f64::NAN.to_bits()
            } else {
                s.value.to_bits()
            };
            (s.labels.clone(), bits, s.timestamp)
        })
        .collect();
    assert_eq!(got, back);
}

#[test]
fn writer_refuses_invalid_names() {
    let bad = [
        family("1bad", MetricType::Gauge, None, vec![]),
        family(
            "ok",
            MetricType::Gauge,
            None,
            vec![(l(&[("bad-label", "x")]), 1.0, None)],
        ),
        family(
            "ok",
            MetricType::Gauge,
            None,
            vec![(l(&[("__name__", "bad name")]), 1.0, None)],
        ),
        family(
            "ok",
            MetricType::Gauge,
            None,
            vec![(Labels::empty(), 1.0, Some(-1))],
        ),
    ];
    for f in bad {
        let mut out = String::new();
        let e = write_text(&mut out, std::slice::from_ref(&f)).unwrap_err();
        assert!(
            e.to_string().starts_with("cannot encode metric family"),
            "{e}"
        );
        assert!(out.is_empty());
    }
}

fn label_value() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[a-z\\\\\"\n é{}=,#]{0,12}").expect("regex")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = parse_format(&body, Format::Text);
        let _ = parse_format(&body, Format::OpenMetrics);
    }

    #[test]
    fn near_valid_input_never_panics(
        lines in proptest::collection::vec(
            proptest::string::string_regex("(# (HELP|TYPE|UNIT|EOF) ?)?[a-z_]{0,3}(\\{([a-z]{1,2}=\"[a-z\\\\\"]{0,3}\"?,?){0,3}\\}?)? ?[-+0-9.eNaIf]{0,4}( [0-9.]{0,3})?( # \\{[a-z=\"]{0,6}\\} ?[0-9]{0,2})?").expect("regex"),
            0..8,
        )
    ) {
        let body = lines.join("\n");
        let _ = parse_format(body.as_bytes(), Format::Text);
        let _ = parse_format(body.as_bytes(), Format::OpenMetrics);
        let om_body = format!("{body}\n# EOF\n");
        let _ = parse_format(om_body.as_bytes(), Format::OpenMetrics);
    }

    #[test]
    fn written_values_and_labels_parse_back(
        values in proptest::collection::vec(label_value(), 1..4),
        v in any::<f64>().prop_filter("not NaN", |v| !v.is_nan()),
    ) {
        let labels = Labels::from_pairs(values.iter().enumerate().map(|(i, v)| (format!("l{i}"), v.clone())));
        let fams = [family("m", MetricType::Gauge, Some(&values[0]), vec![(labels.clone(), v, None)])];
        let mut out = String::new();
        write_text(&mut out, &fams).unwrap();
        let p = parse(out.as_bytes(), "").unwrap();
        let mut want = labels.builder();
        want.set("__name__", "m");
        prop_assert_eq!(&p.samples[0].labels, &want.build());
        prop_assert_eq!(p.samples[0].value.to_bits(), v.to_bits());
        prop_assert_eq!(p.metadata[0].help.as_deref(), Some(values[0].as_str()));
    }
}
