//! Header rewriting: examples, and a property test over arbitrary headers,
//! peers and trusted networks.

use std::net::IpAddr;

use hyper::{
    HeaderMap,
    header::{HeaderName, HeaderValue},
};
use ipnet::IpNet;
use proptest::prelude::*;

use super::{
    FORWARDING, HOP_BY_HOP, connection_named, is_trusted, remove_hop_by_hop, rewrite_request,
};

fn map(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        headers.append(*name, HeaderValue::from_static(value));
    }
    headers
}

fn nets(list: &[&str]) -> Vec<IpNet> {
    list.iter().map(|net| net.parse().unwrap()).collect()
}

fn values(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
        .collect()
}

#[test]
fn hop_by_hop_headers_and_those_named_by_connection_are_removed() {
    let mut headers = map(&[
        ("connection", "keep-alive, x-session-secret"),
        ("keep-alive", "timeout=5"),
        ("transfer-encoding", "chunked"),
        ("x-session-secret", "s"),
        ("authorization", "Bearer t"),
    ]);
    remove_hop_by_hop(&mut headers);
    let left: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
    assert_eq!(left, ["authorization"]);
}

const SPOOFED: [(&str, &str); 7] = [
    ("host", "agents.example"),
    ("x-forwarded-for", "203.0.113.9"),
    ("x-forwarded-proto", "https"),
    ("x-forwarded-host", "bank.example"),
    ("x-forwarded-port", "443"),
    ("forwarded", "for=203.0.113.9"),
    ("x-real-ip", "203.0.113.9"),
];

#[test]
fn an_untrusted_peers_forwarding_headers_are_replaced() {
    let mut headers = map(&SPOOFED);
    rewrite_request(&mut headers, "10.0.0.7".parse().unwrap(), &[]);
    assert_eq!(values(&headers, "x-forwarded-for"), ["10.0.0.7"]);
    assert_eq!(values(&headers, "x-real-ip"), ["10.0.0.7"]);
    assert_eq!(values(&headers, "x-forwarded-proto"), ["http"]);
    assert_eq!(values(&headers, "x-forwarded-host"), ["agents.example"]);
    assert!(values(&headers, "x-forwarded-port").is_empty());
    assert_eq!(
        values(&headers, "forwarded"),
        ["for=10.0.0.7;proto=http;host=\"agents.example\""]
    );
}

#[test]
fn a_trusted_peer_extends_the_chain_and_x_real_ip_is_the_first_untrusted_hop() {
    let mut headers = map(&SPOOFED);
    headers.append("x-forwarded-for", HeaderValue::from_static("10.0.0.3"));
    let trusted = nets(&["10.0.0.0/8"]);
    rewrite_request(&mut headers, "10.0.0.7".parse().unwrap(), &trusted);
    assert_eq!(
        values(&headers, "x-forwarded-for"),
        ["203.0.113.9, 10.0.0.3, 10.0.0.7"]
    );
    // 10.0.0.7 and 10.0.0.3 are trusted proxies: the client is before.
    assert_eq!(values(&headers, "x-real-ip"), ["203.0.113.9"]);
    assert_eq!(values(&headers, "x-forwarded-proto"), ["https"]);
    assert_eq!(values(&headers, "x-forwarded-host"), ["bank.example"]);
    assert_eq!(values(&headers, "x-forwarded-port"), ["443"]);
    assert_eq!(
        values(&headers, "forwarded"),
        ["for=203.0.113.9, for=10.0.0.7;proto=http;host=\"agents.example\""]
    );
}

#[test]
fn x_real_ip_stops_at_an_entry_that_is_not_an_address() {
    let mut headers = map(&[("x-forwarded-for", "203.0.113.9, unknown, [2001:db8::1]:443")]);
    let trusted = nets(&["10.0.0.0/8", "2001:db8::/32"]);
    rewrite_request(&mut headers, "10.0.0.7".parse().unwrap(), &trusted);
    assert_eq!(values(&headers, "x-real-ip"), ["2001:db8::1"]);
}

#[test]
fn ipv6_and_ipv4_mapped_peers() {
    let mut headers = map(&[("host", "h:8080")]);
    rewrite_request(&mut headers, "2001:db8::5".parse().unwrap(), &[]);
    assert_eq!(values(&headers, "x-forwarded-for"), ["2001:db8::5"]);
    assert_eq!(
        values(&headers, "forwarded"),
        ["for=\"[2001:db8::5]\";proto=http;host=\"h:8080\""]
    );

    // A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d.
    let mut headers = map(&[("x-forwarded-for", "203.0.113.9")]);
    let trusted = nets(&["192.0.2.0/24"]);
    rewrite_request(&mut headers, "::ffff:192.0.2.1".parse().unwrap(), &trusted);
    assert_eq!(
        values(&headers, "x-forwarded-for"),
        ["203.0.113.9, 192.0.2.1"]
    );
}

#[test]
fn connection_cannot_take_the_host_away_from_x_forwarded_host() {
    let mut headers = map(&[("host", "agents.example"), ("connection", "host")]);
    rewrite_request(&mut headers, "10.0.0.7".parse().unwrap(), &[]);
    assert_eq!(values(&headers, "x-forwarded-host"), ["agents.example"]);
}

/// Header names: the ones the rewriting cares about, and arbitrary tokens.
fn header_name() -> impl Strategy<Value = HeaderName> {
    let special: Vec<&'static str> = HOP_BY_HOP
        .iter()
        .chain(FORWARDING.iter())
        .copied()
        .chain(["host", "x-session", "authorization"])
        .collect();
    prop_oneof![
        proptest::sample::select(special).prop_map(HeaderName::from_static),
        "[a-zA-Z0-9!#$%&'*+.^_`|~-]{1,24}"
            .prop_map(|name| HeaderName::from_bytes(name.as_bytes()).unwrap()),
    ]
}

/// Header values: any bytes `http` accepts (visible ASCII, space, tab,
/// obs-text), including lists of header names, addresses and commas.
fn header_value() -> impl Strategy<Value = HeaderValue> {
    let byte = prop_oneof![Just(b'\t'), 0x20u8..0x7f, 0x80u8..=0xff,];
    prop_oneof![
        proptest::collection::vec(byte, 0..40)
            .prop_map(|bytes| HeaderValue::from_bytes(&bytes).unwrap()),
        proptest::collection::vec(
            prop_oneof![
                header_name().prop_map(|name| name.as_str().to_owned()),
                any::<IpAddr>().prop_map(|ip| ip.to_string()),
                Just(" ".to_owned()),
                Just("unknown".to_owned()),
            ],
            0..5
        )
        .prop_map(|parts| HeaderValue::from_str(&parts.join(",")).unwrap()),
    ]
}

fn ip_net() -> impl Strategy<Value = IpNet> {
    (any::<IpAddr>(), any::<u8>()).prop_map(|(ip, prefix)| {
        let max = if ip.is_ipv4() { 32 } else { 128 };
        IpNet::new(ip, prefix % (max + 1)).unwrap().trunc()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn rewriting_never_forwards_hop_by_hop_or_an_untrusted_clients_claims(
        pairs in proptest::collection::vec((header_name(), header_value()), 0..16),
        peer in any::<IpAddr>(),
        mut trusted in proptest::collection::vec(ip_net(), 0..4),
        trust_peer in any::<bool>(),
    ) {
        if trust_peer {
            trusted.push(IpNet::from(peer.to_canonical()));
        }
        let mut headers = HeaderMap::new();
        for (name, value) in &pairs {
            headers.append(name.clone(), value.clone());
        }
        let original = headers.clone();
        let named = connection_named(&original);
        let canonical = peer.to_canonical();
        let peer_text = canonical.to_string();
        let believed = is_trusted(&trusted, canonical);

        rewrite_request(&mut headers, peer, &trusted);

        // Set by the proxy whatever the client sent (or named).
        let ours = ["x-forwarded-for", "x-real-ip", "forwarded", "x-forwarded-proto", "x-forwarded-host"];
        for name in HOP_BY_HOP {
            prop_assert!(!headers.contains_key(name), "{name} forwarded");
        }
        for name in &named {
            prop_assert!(
                ours.contains(&name.as_str()) || !headers.contains_key(name),
                "{name}, named by connection, forwarded"
            );
        }

        let chain = headers.get_all("x-forwarded-for").iter().collect::<Vec<_>>();
        prop_assert_eq!(chain.len(), 1);
        let last = chain[0].as_bytes().rsplit(|b| *b == b',').next().unwrap();
        prop_assert_eq!(last.trim_ascii(), peer_text.as_bytes());
        let real_ip = headers.get("x-real-ip").map(|v| v.to_str().unwrap().parse::<IpAddr>());
        prop_assert!(matches!(real_ip, Some(Ok(_))), "{real_ip:?}");

        if believed {
            // The trusted proxy's word is kept.
            let named_proto = named.iter().any(|name| name == "x-forwarded-proto");
            if !named_proto && original.contains_key("x-forwarded-proto") {
                prop_assert_eq!(
                    headers.get_all("x-forwarded-proto").iter().collect::<Vec<_>>(),
                    original.get_all("x-forwarded-proto").iter().collect::<Vec<_>>()
                );
            }
        } else {
            let host = original.get("host");
            prop_assert_eq!(chain[0].as_bytes(), peer_text.as_bytes());
            prop_assert_eq!(headers.get("x-real-ip").unwrap().as_bytes(), peer_text.as_bytes());
            prop_assert_eq!(headers.get_all("x-forwarded-proto").iter().collect::<Vec<_>>(), vec!["http"]);
            prop_assert_eq!(headers.get_all("x-forwarded-host").iter().collect::<Vec<_>>(), host.into_iter().collect::<Vec<_>>());
            prop_assert!(!headers.contains_key("x-forwarded-port"));
            let forwarded = headers.get_all("forwarded").iter().collect::<Vec<_>>();
            prop_assert_eq!(forwarded.len(), 1);
            let expected_for = match canonical {
                IpAddr::V4(ip) => format!("for={ip};"),
                IpAddr::V6(ip) => format!("for=\"[{ip}]\";"),
            };
            prop_assert!(forwarded[0].to_str().unwrap().starts_with(&expected_for), "{:?}", forwarded[0]);
        }

        // Everything else passes unchanged.
        for name in original.keys() {
            let dropped = HOP_BY_HOP.contains(&name.as_str())
                || FORWARDING.contains(&name.as_str())
                || named.contains(name);
            if !dropped {
                prop_assert_eq!(
                    headers.get_all(name).iter().collect::<Vec<_>>(),
                    original.get_all(name).iter().collect::<Vec<_>>()
                );
            }
        }
    }
}
