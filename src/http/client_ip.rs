//! Who is the client? The TCP peer, unless the peer is a trusted proxy: then the addresses the
//! proxies forwarded, read from the right (the hop nearest altgate) and stopping at the first
//! address that is not itself a trusted proxy. An untrusted peer cannot name anyone: whatever
//! it puts in `X-Forwarded-For` is ignored. Microsoft's proxies for active clients (Exchange
//! Online's basic-auth proxy, the Web Application Proxy) name the end user in
//! `X-MS-Forwarded-Client-IP`, which is honoured from trusted peers too.
//!
//! The result feeds extranet lockout (every address must be familiar), `banned_ips`, the
//! per-address failure budget, `insidecorporatenetwork` and the audit log.

pub use crate::request::ClientAddresses;
use hyper::header::HeaderMap;
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};

/// The most forwarded hops read from one request (the rest is ignored).
pub const MAX_HOPS: usize = 16;

fn trusted(ip: IpAddr, proxies: &[IpNet]) -> bool {
    proxies.iter().any(|n| n.contains(&ip))
}

/// One address as proxies write it: `1.2.3.4`, `1.2.3.4:567`, `[::1]`, `[::1]:567`, `"[::1]"`.
fn parse_addr(s: &str) -> Option<IpAddr> {
    let s = s.trim().trim_matches('"');
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(normalise(ip));
    }
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Some(normalise(sa.ip()));
    }
    s.strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .and_then(|r| r.parse::<IpAddr>().ok())
        .map(normalise)
}

/// IPv4-mapped IPv6 (`::ffff:1.2.3.4`) compares as IPv4.
fn normalise(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// The forwarded chain, nearest hop last: `Forwarded: for=` values, else `X-Forwarded-For`.
/// `None` when a present header is malformed (then nothing forwarded is believed).
fn forwarded_chain(headers: &HeaderMap) -> Option<Vec<IpAddr>> {
    let mut chain = Vec::new();
    let forwarded: Vec<&str> = headers
        .get_all("forwarded")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if !forwarded.is_empty() {
        for element in forwarded.iter().flat_map(|v| v.split(',')) {
            let for_value = element.split(';').find_map(|pair| {
                let (k, v) = pair.split_once('=')?;
                k.trim().eq_ignore_ascii_case("for").then_some(v)
            })?;
            chain.push(parse_addr(for_value)?);
        }
        return Some(chain);
    }
    for value in headers.get_all("x-forwarded-for") {
        let v = value.to_str().ok()?;
        for part in v.split(',') {
            chain.push(parse_addr(part)?);
        }
    }
    Some(chain)
}

/// The client addresses of a request from `peer`.
pub fn client_addresses(peer: IpAddr, headers: &HeaderMap, proxies: &[IpNet]) -> ClientAddresses {
    let peer = normalise(peer);
    if !trusted(peer, proxies) {
        return ClientAddresses::single(peer);
    }
    let chain = forwarded_chain(headers).unwrap_or_default();
    let forwarded_client = chain
        .iter()
        .rev()
        .take(MAX_HOPS)
        .copied()
        .find(|ip| !trusted(*ip, proxies));
    // The end user a trusted Microsoft proxy names for an active client comes first: it is the
    // person signing in; the forwarding hop (e.g. Exchange Online) is also carried.
    let ms: Vec<IpAddr> = headers
        .get_all("x-ms-forwarded-client-ip")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .take(MAX_HOPS)
        .filter_map(parse_addr)
        .filter(|ip| !trusted(*ip, proxies))
        .collect();
    // A trusted proxy that named no one leaves the peer as the client, but a request entirely
    // made of proxy addresses still has one address to judge.
    let mut named = ms.into_iter().chain(forwarded_client);
    match named.next() {
        Some(client) => ClientAddresses::new(client, named),
        None => ClientAddresses::single(peer),
    }
}

/// True when any of `addresses` is in `banned`.
pub fn is_banned(addresses: &ClientAddresses, banned: &[IpNet]) -> bool {
    addresses.all().iter().any(|ip| trusted(*ip, banned))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                hyper::header::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                v.parse().expect("value"),
            );
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    fn nets(s: &[&str]) -> Vec<IpNet> {
        s.iter().map(|n| n.parse().expect("net")).collect()
    }

    #[test]
    fn an_untrusted_peer_cannot_name_the_client() {
        let h = headers(&[
            ("x-forwarded-for", "10.1.2.3"),
            ("forwarded", "for=10.1.2.3"),
            ("x-ms-forwarded-client-ip", "10.1.2.3"),
        ]);
        let a = client_addresses(ip("198.51.100.7"), &h, &nets(&["10.0.0.0/8"]));
        assert_eq!(a.client(), ip("198.51.100.7"));
        assert_eq!(a.all(), &[ip("198.51.100.7")]);
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client_and_earlier_claims_are_ignored() {
        let proxies = nets(&["10.0.0.0/8"]);
        // The client claims to be 127.0.0.1; the LB appended the real address; an inner proxy
        // appended the LB.
        let h = headers(&[("x-forwarded-for", "127.0.0.1, 203.0.113.5, 10.0.0.2")]);
        let a = client_addresses(ip("10.0.0.1"), &h, &proxies);
        assert_eq!(a.client(), ip("203.0.113.5"));
        assert_eq!(a.all(), &[ip("203.0.113.5")]);
        // Split across header fields, with ports and IPv6.
        let h = headers(&[
            ("x-forwarded-for", "1.1.1.1"),
            ("x-forwarded-for", "[2001:db8::7]:4711"),
        ]);
        assert_eq!(
            client_addresses(ip("10.0.0.1"), &h, &proxies).client(),
            ip("2001:db8::7")
        );
    }

    #[test]
    fn forwarded_wins_over_x_forwarded_for_and_malformed_headers_name_no_one() {
        let proxies = nets(&["10.0.0.0/8"]);
        let h = headers(&[
            (
                "forwarded",
                "for=192.0.2.60;proto=https, for=\"[2001:db8:cafe::17]:4711\"",
            ),
            ("x-forwarded-for", "198.51.100.1"),
        ]);
        assert_eq!(
            client_addresses(ip("10.0.0.1"), &h, &proxies).client(),
            ip("2001:db8:cafe::17")
        );
        let h = headers(&[("x-forwarded-for", "203.0.113.5, not-an-ip")]);
        assert_eq!(
            client_addresses(ip("10.0.0.1"), &h, &proxies).client(),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn microsofts_client_ip_header_names_the_end_user_behind_a_trusted_proxy() {
        let proxies = nets(&["10.0.0.0/8", "40.96.0.0/13"]);
        let h = headers(&[
            ("x-forwarded-for", "40.97.1.1"),
            ("x-ms-forwarded-client-ip", "203.0.113.99, 40.97.1.1"),
        ]);
        let a = client_addresses(ip("10.0.0.1"), &h, &proxies);
        assert_eq!(a.client(), ip("203.0.113.99"));
        assert_eq!(a.all(), &[ip("203.0.113.99")]);
        // Both named: the end user and the forwarding client must both be familiar.
        let h = headers(&[
            ("x-forwarded-for", "198.51.100.4"),
            ("x-ms-forwarded-client-ip", "203.0.113.99"),
        ]);
        let a = client_addresses(ip("10.0.0.1"), &h, &proxies);
        assert_eq!(a.all(), &[ip("203.0.113.99"), ip("198.51.100.4")]);
    }

    #[test]
    fn mapped_ipv4_and_banned_lists() {
        let a = client_addresses(ip("::ffff:192.0.2.1"), &HeaderMap::new(), &[]);
        assert_eq!(a.client(), ip("192.0.2.1"));
        assert!(is_banned(&a, &nets(&["192.0.2.0/24"])));
        assert!(!is_banned(&a, &nets(&["198.51.100.0/24"])));
    }

    #[test]
    fn hop_count_is_bounded() {
        let proxies = nets(&["10.0.0.0/8"]);
        let many = std::iter::repeat_n("10.9.9.9", 1000)
            .collect::<Vec<_>>()
            .join(",");
        let h = headers(&[("x-forwarded-for", &format!("203.0.113.1,{many}"))]);
        // The real client is beyond MAX_HOPS proxies: altgate does not walk that far.
        assert_eq!(
            client_addresses(ip("10.0.0.1"), &h, &proxies).client(),
            ip("10.0.0.1")
        );
    }
}
