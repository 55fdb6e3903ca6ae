//! The client address (`http::client_ip::client_addresses`) over arbitrary `Forwarded`,
//! `X-Forwarded-For` and `X-MS-Forwarded-Client-IP` values, from a trusted and an untrusted
//! peer. Never panics; the client is among the addresses; the addresses are never empty, never
//! repeat, and name no trusted proxy unless the peer is all there is; an untrusted peer names
//! only itself.
#![no_main]

use altgate::http::client_ip::client_addresses;
use hyper::header::{HeaderMap, HeaderValue};
use ipnet::IpNet;
use libfuzzer_sys::fuzz_target;
use std::net::IpAddr;

const NAMES: [&str; 3] = ["forwarded", "x-forwarded-for", "x-ms-forwarded-client-ip"];

fuzz_target!(|data: &[u8]| {
    // One header field per line; the line's first byte picks the header.
    let mut headers = HeaderMap::new();
    for line in data.split(|&b| b == b'\n') {
        let Some((&which, value)) = line.split_first() else {
            continue;
        };
        if let Ok(v) = HeaderValue::from_bytes(value) {
            headers.append(NAMES[usize::from(which) % NAMES.len()], v);
        }
    }
    let proxies: Vec<IpNet> = ["10.0.0.0/8", "2001:db8:1::/48", "40.96.0.0/13"]
        .iter()
        .map(|n| n.parse().expect("net"))
        .collect();
    let trusted = |ip: &IpAddr| proxies.iter().any(|n| n.contains(ip));
    for peer in [
        "10.0.0.1",
        "::ffff:10.0.0.1",
        "2001:db8:1::1",
        "198.51.100.7",
    ] {
        let peer: IpAddr = peer.parse().expect("ip");
        let a = client_addresses(peer, &headers, &proxies);
        // IPv4-mapped IPv6 peers are judged (and reported) as IPv4.
        let peer = peer.to_canonical();
        assert!(!a.all().is_empty() && a.all().contains(&a.client()), "{a:?}");
        for (i, ip) in a.all().iter().enumerate() {
            assert!(!a.all()[..i].contains(ip), "repeated: {a:?}");
        }
        if a.all().len() > 1 || a.all().first().is_some_and(|ip| *ip != a.client()) {
            assert!(!a.all().iter().any(trusted), "a proxy named as client: {a:?}");
        }
        if !trusted(&peer) {
            assert_eq!(a.all(), &[peer]);
        }
    }
});
