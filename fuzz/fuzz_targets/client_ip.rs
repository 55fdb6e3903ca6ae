//! The client address (`http::client_ip::client_addresses`) over arbitrary `Forwarded`,
//! `X-Forwarded-For` and `X-MS-Forwarded-Client-IP` values, from a trusted and an untrusted
//! peer, behind an `X-Forwarded-For` proxy, a `Forwarded` proxy and a Microsoft relay. Never
//! panics; the addresses never repeat; an unknown client has none; a known client is never a
//! trusted proxy (only a relay's own address is carried beside the user it names); an untrusted
//! peer names only itself.
#![no_main]

use altgate::config::edge::{ForwardedHeader, TrustedProxy};
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
    let net = |n: &str| n.parse::<IpNet>().expect("net");
    let proxies = [
        TrustedProxy::x_forwarded_for(net("10.0.0.0/8")),
        TrustedProxy {
            header: ForwardedHeader::Forwarded,
            ..TrustedProxy::x_forwarded_for(net("2001:db8:1::/48"))
        },
        TrustedProxy {
            header: ForwardedHeader::XMsForwardedClientIp,
            ..TrustedProxy::x_forwarded_for(net("40.96.0.0/13"))
        },
    ];
    let trusted = |ip: &IpAddr| proxies.iter().any(|p| p.network.contains(ip));
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
        for (i, ip) in a.all().iter().enumerate() {
            assert!(!a.all()[..i].contains(ip), "repeated: {a:?}");
        }
        if a.is_known() {
            assert_eq!(a.all().first(), Some(&a.client()), "{a:?}");
            assert!(!trusted(&a.client()), "a proxy named as client: {a:?}");
            assert!(a.all().len() == 1 || a.via_extranet_edge(), "{a:?}");
        } else {
            assert!(a.all().is_empty(), "{a:?}");
        }
        if !trusted(&peer) {
            assert_eq!(a.all(), &[peer]);
        }
    }
});
