//! Unit tests for the `auth` module: capping journaled strings, bearer
//! parsing, the rate limiter, stream slots and the summary of refusals.

use std::{net::Ipv4Addr, time::Duration};

use prometheus::IntGauge;

use super::{denied::DeniedLog, *};

#[test]
fn long_strings_are_cut_on_a_character_boundary_with_a_marker() {
    assert_eq!(cap("/api/v1/tokens", 256), "/api/v1/tokens");
    let long = "x".repeat(20_000);
    let capped = cap(&long, 256);
    assert!(capped.starts_with(&"x".repeat(256)));
    assert!(capped.ends_with("…[truncated, 20000 bytes]"), "{capped}");
    assert!(capped.len() < 300);
    // "é" is two bytes: a cut at an odd byte backs up to the boundary.
    let accented = "é".repeat(200);
    let capped = cap(&accented, 255);
    assert!(capped.starts_with(&"é".repeat(127)), "{capped}");
    assert!(!capped.starts_with(&"é".repeat(128)), "{capped}");
}

fn request(authorization: Option<&[u8]>) -> Request {
    let mut builder = axum::http::Request::builder().uri("/api/v1/status");
    if let Some(value) = authorization {
        builder = builder.header(
            header::AUTHORIZATION,
            axum::http::HeaderValue::from_bytes(value).unwrap(),
        );
    }
    builder.body(Body::empty()).unwrap()
}

#[test]
fn bearer_tokens_are_missing_malformed_or_present() {
    let token = |value: &[u8]| bearer(&request(Some(value))).map(|t| t.map(|t| t.into_owned()));
    assert_eq!(bearer(&request(None)), Ok(None));
    assert_eq!(token(b"Bearer abc "), Ok(Some("abc".to_owned())));
    assert_eq!(token(b"bearer abc"), Ok(Some("abc".to_owned())));
    // basic auth (Loki clients, Grafana): the password is the token
    assert_eq!(token(b"Basic dXNlcjpwYXNz"), Ok(Some("pass".to_owned())));
    assert_eq!(token(b"basic OnN0dy1hYmM="), Ok(Some("stw-abc".to_owned())));
    for malformed in [
        &b"Basic dXNlcg=="[..],
        b"Basic dXNlcjo=",
        b"Basic !!!",
        b"Bearer",
        b"Bearer   ",
        b"abc",
        b"Bearer \xff\xfe",
    ] {
        assert_eq!(
            bearer(&request(Some(malformed))),
            Err(DenialReason::Malformed),
            "{}",
            String::from_utf8_lossy(malformed)
        );
    }
}

#[test]
fn ipv6_clients_are_limited_per_64_and_mapped_ipv4_as_ipv4() {
    let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
    let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
    let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
    assert_eq!(client_key(a), client_key(b));
    assert_ne!(client_key(a), client_key(c));
    assert_eq!(client_key(a), "2001:db8:1:2::".parse::<IpAddr>().unwrap());
    let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
    assert_eq!(client_key(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
}

fn client(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, n))
}

#[tokio::test(start_paused = true)]
async fn a_client_gets_its_burst_then_its_rate() {
    let limiter = RateLimiter::new(10, 5, 100);
    let now = Instant::now();
    for _ in 0..5 {
        limiter.check(client(1), now).unwrap();
    }
    let wait = limiter.check(client(1), now).unwrap_err();
    assert!(
        wait.abs_diff(Duration::from_millis(100)) < Duration::from_millis(1),
        "{wait:?}"
    );
    // Another client has its own bucket.
    limiter.check(client(2), now).unwrap();

    tokio::time::advance(Duration::from_millis(100)).await;
    let now = Instant::now();
    limiter.check(client(1), now).unwrap();
    assert!(limiter.check(client(1), now).is_err());

    // After a quiet second the whole burst is back.
    tokio::time::advance(Duration::from_secs(1)).await;
    let now = Instant::now();
    for _ in 0..5 {
        limiter.check(client(1), now).unwrap();
    }
    assert!(limiter.check(client(1), now).is_err());
}

#[tokio::test(start_paused = true)]
async fn the_table_of_clients_stays_bounded() {
    let limiter = RateLimiter::new(1, 2, 3);
    let now = Instant::now();
    for n in 1..=3 {
        limiter.check(client(n), now).unwrap();
    }
    assert_eq!(limiter.clients(), 3);
    // A full table of active clients: newcomers share one bucket.
    limiter.check(client(10), now).unwrap();
    limiter.check(client(11), now).unwrap();
    assert!(limiter.check(client(12), now).is_err());
    assert_eq!(limiter.clients(), 3);

    // Once their buckets have refilled, the first clients are evicted and
    // newcomers get buckets of their own again.
    tokio::time::advance(Duration::from_secs(2)).await;
    let now = Instant::now();
    limiter.check(client(20), now).unwrap();
    limiter.check(client(20), now).unwrap();
    assert!(limiter.check(client(20), now).is_err());
    assert_eq!(limiter.clients(), 1);

    // Idle clients are evicted even when the table is not full.
    tokio::time::advance(Duration::from_secs(61)).await;
    limiter.check(client(21), Instant::now()).unwrap();
    assert_eq!(limiter.clients(), 1);
}

#[test]
fn a_token_holds_at_most_its_streams() {
    let gauge = IntGauge::new("streams", "test").unwrap();
    let slots = StreamSlots::new(2, gauge.clone());
    let first = slots.acquire("tok_a").unwrap();
    let second = slots.acquire("tok_a").unwrap();
    assert!(slots.acquire("tok_a").is_none());
    let other = slots.acquire("tok_b").unwrap();
    assert_eq!(gauge.get(), 3);
    drop(first);
    assert_eq!(slots.open("tok_a"), 1);
    let third = slots.acquire("tok_a").unwrap();
    drop((second, third, other));
    assert_eq!(slots.open("tok_a"), 0);
    assert_eq!(gauge.get(), 0);

    let unlimited = StreamSlots::new(0, IntGauge::new("more", "test").unwrap());
    let held: Vec<_> = (0..100)
        .map(|_| unlimited.acquire("tok_a").unwrap())
        .collect();
    assert_eq!(unlimited.open("tok_a"), 100);
    drop(held);
}

#[tokio::test(start_paused = true)]
async fn refusals_are_summarised_once_per_interval() {
    let log = DeniedLog::new();
    assert!(log.take(Instant::now()).is_none(), "nothing to summarise");
    let long_route = format!("/api/v1/{}", "r".repeat(1000));
    for n in 0..30u8 {
        let reason = if n % 3 == 0 {
            DenialReason::Invalid
        } else {
            DenialReason::Missing
        };
        log.record(reason, "/api/v1/tokens", Some(client(n % 4)));
    }
    log.record(DenialReason::Malformed, "/api/v1/events", None);
    log.record(DenialReason::Malformed, &long_route, None);
    tokio::time::advance(denied::SUMMARY_INTERVAL).await;

    let event = log.take(Instant::now()).expect("a summary");
    assert_eq!(event.kind.as_str(), "audit.denied");
    assert_eq!(event.actor.as_str(), "system");
    let payload = &event.payload;
    assert_eq!(payload["count"], 32);
    assert_eq!(payload["seconds"], 60);
    assert_eq!(payload["clients"], 4);
    assert_eq!(payload["other_clients_requests"], 2);
    assert_eq!(payload["reasons"]["missing_token"], 20);
    assert_eq!(payload["reasons"]["invalid_token"], 10);
    assert_eq!(payload["reasons"]["malformed_token"], 2);
    assert_eq!(payload["top_routes"][0]["route"], "/api/v1/tokens");
    assert_eq!(payload["top_routes"][0]["count"], 30);
    let capped_route = payload["top_routes"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|entry| entry["route"].as_str().filter(|r| r.contains("rrr")))
        .expect("the long route is listed");
    assert!(
        capped_route.len() < JOURNAL_STRING_MAX + 40,
        "{capped_route}"
    );
    assert!(
        event.summary.starts_with("32 request(s)"),
        "{}",
        event.summary
    );

    // The next interval starts empty.
    assert!(log.take(Instant::now()).is_none());
}

#[test]
fn a_flood_from_many_clients_keeps_the_summary_small() {
    let log = DeniedLog::new();
    for n in 0..5000u32 {
        let addr = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n));
        log.record(DenialReason::Missing, "/api/v1/tokens", Some(addr));
    }
    let event = log.take(Instant::now()).unwrap();
    assert_eq!(event.payload["count"], 5000);
    assert_eq!(event.payload["clients"], 1024);
    assert_eq!(event.payload["other_clients_requests"], 5000 - 1024);
    assert_eq!(event.payload["top_clients"].as_array().unwrap().len(), 5);
    assert!(event.payload.to_string().len() < 2048);
}
