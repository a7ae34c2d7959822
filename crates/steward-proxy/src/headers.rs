//! The headers an upstream receives: hop-by-hop headers removed, and the
//! forwarding headers that tell it who the client is set by the proxy
//! itself. The proxy is the edge, so what a client claims there is
//! replaced, unless the client is a trusted proxy in front of this one
//! (nginx's `real_ip` with `real_ip_recursive`, Envoy's trusted hops).
//!
//! What the upstream gets, with `peer` the address that connected:
//!
//! | header | untrusted peer | trusted peer |
//! | --- | --- | --- |
//! | `X-Forwarded-For` | `peer` | the chain as sent, then `peer` |
//! | `X-Forwarded-Proto` | `http` | as sent (`http` when absent) |
//! | `X-Forwarded-Host` | the `Host` header | as sent (`Host` when absent) |
//! | `X-Forwarded-Port` | removed | as sent |
//! | `X-Real-IP` | `peer` | the client, see below |
//! | `Forwarded` | `for=peer;proto=http;host="Host"` | as sent, then that element |
//!
//! `X-Real-IP` is the client as far as trusted proxies vouch for it: the
//! rightmost address of `X-Forwarded-For` (with `peer` last) that is not
//! a trusted proxy, or the leftmost trusted one when the chain has
//! nothing else or an entry that is not an address. `Forwarded` (RFC
//! 7239) gets one element per hop, so this proxy's element says what it
//! saw itself (`proto=http`), while `X-Forwarded-Proto` and `-Host` carry
//! what the first proxy saw. Addresses are in canonical form: an
//! IPv4-mapped IPv6 peer (a dual-stack listener) is written as IPv4 and
//! matches IPv4 networks.

use std::net::{IpAddr, SocketAddr};

use hyper::{
    HeaderMap,
    header::{self, HeaderName, HeaderValue},
};
use ipnet::IpNet;

/// Headers that describe one connection, not the request (RFC 9110 7.6.1).
pub(crate) const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Headers in which proxies tell upstreams about the client; only a
/// trusted peer's are kept.
pub(crate) const FORWARDING: [&str; 6] = [
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-port",
    "x-forwarded-proto",
    "x-real-ip",
];

const X_FORWARDED_FOR: &str = "x-forwarded-for";
const X_FORWARDED_PROTO: &str = "x-forwarded-proto";
const X_FORWARDED_HOST: &str = "x-forwarded-host";
const X_REAL_IP: &str = "x-real-ip";

/// Removes the hop-by-hop headers and those that `Connection` names.
pub(crate) fn remove_hop_by_hop(headers: &mut HeaderMap) {
    for name in connection_named(headers) {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

/// The headers that `Connection` declares hop-by-hop.
pub(crate) fn connection_named(headers: &HeaderMap) -> Vec<HeaderName> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect()
}

/// Whether `ip` (canonical) is in one of the trusted networks.
pub(crate) fn is_trusted(trusted: &[IpNet], ip: IpAddr) -> bool {
    trusted.iter().any(|net| net.contains(&ip))
}

/// Prepares a client's request headers for the upstream: hop-by-hop
/// headers removed, forwarding headers set as the module documents.
pub(crate) fn rewrite_request(headers: &mut HeaderMap, peer: IpAddr, trusted: &[IpNet]) {
    let peer = peer.to_canonical();
    // Read before the hop-by-hop removal, which a `Connection: host`
    // would otherwise turn into a request without a known host.
    let host = headers.get(header::HOST).cloned();
    remove_hop_by_hop(headers);
    let believed = is_trusted(trusted, peer);
    if !believed {
        for name in FORWARDING {
            headers.remove(name);
        }
    }
    let peer_text = peer.to_string();

    let mut chain = joined(headers, X_FORWARDED_FOR).unwrap_or_default();
    if !chain.is_empty() {
        chain.extend_from_slice(b", ");
    }
    chain.extend_from_slice(peer_text.as_bytes());
    let client = client_address(&chain, trusted);
    // The joined lines were valid values and ", <ip>" adds only visible
    // ASCII, so the fallback is for form's sake.
    let chain = HeaderValue::from_bytes(&chain).unwrap_or_else(|_| ip_value(peer));
    headers.insert(X_FORWARDED_FOR, chain);
    headers.insert(X_REAL_IP, ip_value(client));

    if !headers.contains_key(X_FORWARDED_PROTO) {
        headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static("http"));
    }
    if let Some(host) = &host
        && !headers.contains_key(X_FORWARDED_HOST)
    {
        headers.insert(X_FORWARDED_HOST, host.clone());
    }

    let element = forwarded_element(peer, host.as_ref());
    let forwarded = match joined(headers, header::FORWARDED.as_str()) {
        Some(mut earlier) => {
            earlier.extend_from_slice(b", ");
            earlier.extend_from_slice(element.as_bytes());
            HeaderValue::from_bytes(&earlier).ok()
        }
        None => None,
    };
    let forwarded = forwarded
        .unwrap_or_else(|| HeaderValue::from_str(&element).expect("the element is visible ASCII"));
    headers.insert(header::FORWARDED, forwarded);
}

/// Every line of a header joined with `, ` (RFC 9110 5.3), blank lines
/// left out; `None` when nothing is left.
fn joined(headers: &HeaderMap, name: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    for value in headers.get_all(name) {
        let value = value.as_bytes().trim_ascii();
        if value.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.extend_from_slice(b", ");
        }
        out.extend_from_slice(value);
    }
    (!out.is_empty()).then_some(out)
}

/// The client in an `X-Forwarded-For` chain whose last element is the
/// peer: walking left while the current hop is a trusted proxy.
fn client_address(chain: &[u8], trusted: &[IpNet]) -> IpAddr {
    let mut elements = chain.rsplit(|byte| *byte == b',');
    let mut client = elements
        .next()
        .and_then(parse_node)
        .expect("the chain ends with the peer");
    for element in elements {
        if !is_trusted(trusted, client) {
            break;
        }
        match parse_node(element) {
            Some(ip) => client = ip,
            None => break,
        }
    }
    client
}

/// An address in a forwarding chain: `ip`, `ip:port`, `[ipv6]` or
/// `[ipv6]:port`, in canonical form.
fn parse_node(element: &[u8]) -> Option<IpAddr> {
    let text = std::str::from_utf8(element).ok()?.trim();
    let ip = text
        .parse::<IpAddr>()
        .or_else(|_| text.parse::<SocketAddr>().map(|addr| addr.ip()))
        .or_else(|_| {
            text.strip_prefix('[')
                .and_then(|rest| rest.strip_suffix(']'))
                .unwrap_or_default()
                .parse::<IpAddr>()
        })
        .ok()?;
    Some(ip.to_canonical())
}

fn ip_value(ip: IpAddr) -> HeaderValue {
    HeaderValue::from_str(&ip.to_string()).expect("an ip address is a valid header value")
}

/// This hop's element of `Forwarded` (RFC 7239 4): an IPv6 node is
/// bracketed and quoted; the host is a quoted-string, left out when it is
/// not visible ASCII.
fn forwarded_element(peer: IpAddr, host: Option<&HeaderValue>) -> String {
    let mut element = match peer {
        IpAddr::V4(ip) => format!("for={ip}"),
        IpAddr::V6(ip) => format!("for=\"[{ip}]\""),
    };
    element.push_str(";proto=http");
    if let Some(host) = host.and_then(|host| host.to_str().ok()) {
        element.push_str(";host=\"");
        for c in host.chars() {
            if c == '"' || c == '\\' {
                element.push('\\');
            }
            element.push(c);
        }
        element.push('"');
    }
    element
}

#[cfg(test)]
mod tests;
