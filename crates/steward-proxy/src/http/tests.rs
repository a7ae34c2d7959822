//! Header handling of forwarded requests.

use hyper::{HeaderMap, header::HeaderValue};

use super::{add_forwarded, remove_hop_by_hop};

#[test]
fn hop_by_hop_headers_and_those_named_by_connection_are_removed() {
    let mut headers = HeaderMap::new();
    headers.insert(
        "connection",
        HeaderValue::from_static("keep-alive, x-session-secret"),
    );
    headers.insert("keep-alive", HeaderValue::from_static("timeout=5"));
    headers.insert("transfer-encoding", HeaderValue::from_static("chunked"));
    headers.insert("x-session-secret", HeaderValue::from_static("s"));
    headers.insert("authorization", HeaderValue::from_static("Bearer t"));
    remove_hop_by_hop(&mut headers);
    let left: Vec<&str> = headers.keys().map(|name| name.as_str()).collect();
    assert_eq!(left, ["authorization"]);
}

#[test]
fn forwarded_headers_extend_the_chain() {
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_static("agents.example"));
    headers.insert("x-forwarded-for", HeaderValue::from_static("203.0.113.9"));
    add_forwarded(&mut headers, "10.0.0.7:55000".parse().unwrap());
    assert_eq!(headers["x-forwarded-for"], "203.0.113.9, 10.0.0.7");
    assert_eq!(headers["x-forwarded-proto"], "http");
    assert_eq!(headers["x-forwarded-host"], "agents.example");
}
