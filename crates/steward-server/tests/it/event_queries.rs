//! Property tests of the journal's query parameters (`since`, `until`,
//! `kind`, `limit`, cursors...): whatever a client sends, the API answers
//! with a page or a 4xx, never a panic or a 5xx, and a `kind` filter
//! returns only that kind and its sub-kinds, whatever LIKE wildcards it
//! holds.

use std::sync::atomic::{AtomicUsize, Ordering};

use axum::{
    body::Body,
    http::{Method, Request, StatusCode, header},
};
use http_body_util::BodyExt;
use proptest::{prelude::*, test_runner::TestRunner};
use steward_core::{Actor, EventKind, NewEvent};

use crate::support::App;

/// Kinds in the journal: some that differ only where a LIKE pattern
/// would blur them (`_`, `%`).
const KINDS: [&str; 8] = [
    "ci",
    "ci.build",
    "ci.build.done",
    "ci_build",
    "cixbuild",
    "cixbuild.done",
    "cis.build",
    "other",
];

/// Percent-encodes every byte that is not alphanumeric.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() {
                (byte as char).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        // Durations, in range and far out of it.
        "[0-9]{1,25}(y|w|d|h|m|s|ms)",
        "[0-9]{1,3}h[0-9]{1,3}m",
        // RFC 3339 times, valid or nearly.
        "[+-]?[0-9]{4,6}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,12})?(Z|[+-][0-9]{2}:[0-9]{2})",
        Just("9999-12-31T23:59:59Z".to_owned()),
        Just("0000-01-01T00:00:00+23:59".to_owned()),
        // Numbers for `limit` and `cursor`.
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        Just("0".to_owned()),
        Just("1000".to_owned()),
        Just("1001".to_owned()),
        Just("asc".to_owned()),
        Just("desc".to_owned()),
        // Kinds and LIKE wildcards.
        prop::sample::select(KINDS.to_vec()).prop_map(str::to_owned),
        Just("ci_".to_owned()),
        Just("ci%".to_owned()),
        Just("%".to_owned()),
        Just("_".to_owned()),
        Just("c_".to_owned()),
        Just("\\".to_owned()),
        Just("ci\\".to_owned()),
        Just(String::new()),
        any::<String>(),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "since", "until", "kind", "service", "actor", "q", "cursor", "order", "limit", "after",
        ])
        .prop_map(str::to_owned),
        "[a-z]{1,6}",
    ]
}

/// A query string of a few parameters, percent-encoded, sometimes with a
/// raw (unencoded) piece; or a `kind` filter that may find events.
fn query() -> impl Strategy<Value = String> {
    prop_oneof![arbitrary_query(), kind_query()]
}

/// A `kind` filter (a kind, a prefix of one, or one with wildcards), with
/// an order and a page size at times.
fn kind_query() -> impl Strategy<Value = String> {
    let kind = prop_oneof![
        prop::sample::select(KINDS.to_vec()).prop_map(str::to_owned),
        prop::sample::select(vec![
            "c",
            "ci.",
            "ci_",
            "ci%",
            "c_",
            "c%",
            "%",
            "_",
            "ci\\",
            "ci.build%"
        ])
        .prop_map(str::to_owned),
    ];
    (
        kind,
        prop::option::of(prop::sample::select(vec!["asc", "desc"])),
        prop::option::of(1u32..=10),
    )
        .prop_map(|(kind, order, limit)| {
            let mut query = format!("kind={}", encode(&kind));
            if let Some(order) = order {
                query.push_str(&format!("&order={order}"));
            }
            if let Some(limit) = limit {
                query.push_str(&format!("&limit={limit}"));
            }
            query
        })
}

fn arbitrary_query() -> impl Strategy<Value = String> {
    (
        prop::collection::vec((key(), value()), 0..5),
        prop::option::of(prop::sample::select(vec![
            "%", "%zz", "&&", "==", "a=b=c", "kind",
        ])),
    )
        .prop_map(|(pairs, raw)| {
            let mut parts: Vec<String> = pairs
                .iter()
                .map(|(key, value)| format!("{}={}", encode(key), encode(value)))
                .collect();
            if let Some(raw) = raw {
                parts.push(raw.to_owned());
            }
            parts.join("&")
        })
}

#[test]
fn arbitrary_event_queries_answer_a_page_or_a_client_error() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let app = runtime.block_on(async {
        let app = App::without_deployments().await;
        for kind in KINDS {
            app.store
                .append(NewEvent::new(
                    EventKind::new(kind).unwrap(),
                    Actor::system(),
                    format!("a {kind} event"),
                ))
                .await
                .unwrap();
        }
        app
    });
    // How many answers were pages, and how many of those filtered by kind
    // found events: the property must not hold only for want of either.
    let pages = AtomicUsize::new(0);
    let filtered = AtomicUsize::new(0);
    let mut runner = TestRunner::new(ProptestConfig::with_cases(200));
    runner
        .run(&query(), |query| {
            runtime.block_on(async {
                for path in ["/api/v1/events", "/api/v1/events/stream"] {
                    let uri = format!("{path}?{query}");
                    let Ok(request) = Request::builder()
                        .method(Method::GET)
                        .uri(&uri)
                        .header(header::AUTHORIZATION, format!("Bearer {}", app.viewer))
                        .body(Body::empty())
                    else {
                        // Not a URI a client could send.
                        continue;
                    };
                    let response = app.send(request).await;
                    let status = response.status();
                    prop_assert!(!status.is_server_error(), "{uri} answered {status}");
                    if path.ends_with("stream") {
                        // An open stream: only its status matters here.
                        continue;
                    }
                    let bytes = response.into_body().collect().await.unwrap().to_bytes();
                    let body: serde_json::Value = serde_json::from_slice(&bytes)
                        .map_err(|err| TestCaseError::fail(format!("{uri}: not JSON: {err}")))?;
                    if status != StatusCode::OK {
                        prop_assert!(body["error"]["code"].is_string(), "{uri}: {body}");
                        continue;
                    }
                    pages.fetch_add(1, Ordering::Relaxed);
                    let wanted = query_kind(&uri);
                    if wanted.is_some() && body["events"].as_array().is_some_and(|e| !e.is_empty())
                    {
                        filtered.fetch_add(1, Ordering::Relaxed);
                    }
                    for event in body["events"].as_array().into_iter().flatten() {
                        let kind = event["kind"].as_str().unwrap_or_default();
                        if let Some(wanted) = &wanted {
                            prop_assert!(
                                kind == wanted || kind.starts_with(&format!("{wanted}.")),
                                "{uri}: `{kind}` does not match kind `{wanted}`"
                            );
                        }
                    }
                }
                Ok(())
            })
        })
        .unwrap();
    let (pages, filtered) = (pages.into_inner(), filtered.into_inner());
    assert!(
        pages >= 50 && filtered >= 20,
        "{pages} pages, {filtered} filtered by kind"
    );
}

/// The `kind` the server read from the query string (its last value, as
/// serde reads repeated keys... or the only one).
fn query_kind(uri: &str) -> Option<String> {
    let query = uri.split_once('?')?.1;
    let mut kinds = query.split('&').filter_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == "kind").then(|| decode(value))
    });
    let first = kinds.next()?;
    // With a repeated key the server refuses the request, so one is enough.
    Some(first)
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(byte) = text
                .get(i + 1..i + 3)
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            out.push(byte);
            i += 3;
        } else if bytes[i] == b'+' {
            out.push(b' ');
            i += 1;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
