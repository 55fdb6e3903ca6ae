//! The client address over arbitrary forwarding headers, behind three kinds of trusted proxy
//! (one appending `X-Forwarded-For`, one writing `Forwarded`, one Microsoft relay): the
//! addresses never repeat; an unknown client has none; a known client is never a trusted proxy
//! (only a relay's own address is carried beside the user it names); from an untrusted peer
//! they are the peer alone; what a client prepends to the headers never changes a known answer;
//! and with `X-Forwarded-For` alone the answer is the right-most hop the proxies appended, or
//! unknown when that hop is malformed or the chain runs out.

use crate::gen::{property, Rng};
use altgate::config::edge::{ForwardedHeader, TrustedProxy};
use altgate::http::client_ip::{client_addresses, MAX_HOPS};
use hyper::header::{HeaderMap, HeaderValue};
use ipnet::IpNet;
use std::net::IpAddr;

const NAMES: [&str; 3] = ["forwarded", "x-forwarded-for", "x-ms-forwarded-client-ip"];

const ADDRESSES: &[&str] = &[
    "10.0.0.2",
    "10.9.9.9",
    "203.0.113.5",
    "198.51.100.1",
    "40.97.1.1",
    "2001:db8::7",
    "2001:db8:1::9",
    "::ffff:192.0.2.1",
    "::ffff:10.1.1.1",
];

const JUNK: &[&str] = &[
    "unknown",
    "_hidden",
    "",
    "1.2.3",
    "[::1",
    "::1]",
    "300.1.1.1",
    "1.2.3.4:99999",
    "\"",
    "for=",
];

fn proxies() -> Vec<TrustedProxy> {
    let net = |n: &str| n.parse::<IpNet>().expect("net");
    vec![
        TrustedProxy::x_forwarded_for(net("10.0.0.0/8")),
        TrustedProxy {
            header: ForwardedHeader::Forwarded,
            ..TrustedProxy::x_forwarded_for(net("2001:db8:1::/48"))
        },
        TrustedProxy {
            header: ForwardedHeader::XMsForwardedClientIp,
            ..TrustedProxy::x_forwarded_for(net("40.96.0.0/13"))
        },
    ]
}

/// One address as a proxy may write it (`1.2.3.4`, `1.2.3.4:5`, `[::1]:5`, `"[::1]"`), and the
/// address it names; or junk, naming none.
fn written(rng: &mut Rng, junk: usize) -> (String, Option<IpAddr>) {
    if rng.chance(junk) {
        return ((*rng.pick(JUNK)).to_string(), None);
    }
    let a = *rng.pick(ADDRESSES);
    let ip: IpAddr = a.parse().expect("ip");
    let v6 = a.contains(':');
    let text = match rng.below(5) {
        0 if v6 => format!("[{a}]"),
        1 if v6 => format!("\"[{a}]:4711\""),
        1 => format!("{a}:4711"),
        2 => format!(" {a} "),
        _ => a.to_string(),
    };
    (text, Some(ip.to_canonical()))
}

/// A header value listing addresses, and the addresses it names (`None`: a malformed entry).
fn list(rng: &mut Rng, junk: usize, forwarded: bool) -> (String, Vec<Option<IpAddr>>) {
    let n = if rng.chance(5) { 40 } else { 1 + rng.below(4) };
    let mut named = Vec::new();
    let mut texts = Vec::new();
    for _ in 0..n {
        let (a, ip) = written(rng, junk);
        named.push(ip);
        texts.push(if forwarded {
            let by = *rng.pick(&["", "by=x;"]);
            let proto = *rng.pick(&["", ";proto=https"]);
            format!("{by}for={a}{proto}")
        } else {
            a
        });
    }
    (texts.join(","), named)
}

#[derive(Debug)]
struct Case {
    peer: IpAddr,
    headers: Vec<(&'static str, String)>,
    /// The addresses each header names, in order.
    named: Vec<Vec<Option<IpAddr>>>,
}

#[test]
fn client_addresses_are_consistent_over_any_forwarding_headers() {
    let proxies = proxies();
    let trusted = |ip: &IpAddr| proxies.iter().any(|n| n.network.contains(ip));
    property(
        "client_ip",
        3000,
        |rng| {
            let peer = *rng.pick(&[
                "10.0.0.1",
                "::ffff:10.0.0.1",
                "2001:db8:1::1",
                "198.51.100.7",
            ]);
            let (mut headers, mut named) = (Vec::new(), Vec::new());
            let junk = *rng.pick(&[0, 0, 5, 30]);
            for _ in 0..rng.below(4) {
                let name = *rng.pick(&NAMES);
                let (value, ips) = list(rng, junk, name == "forwarded");
                headers.push((name, value));
                named.push(ips);
            }
            Case {
                peer: peer.parse().expect("ip"),
                headers,
                named,
            }
        },
        |case| {
            let mut map = HeaderMap::new();
            for (name, value) in &case.headers {
                map.append(*name, HeaderValue::from_str(value).expect("value"));
            }
            let a = client_addresses(case.peer, &map, &proxies);
            let peer = case.peer.to_canonical();
            for (i, ip) in a.all().iter().enumerate() {
                assert!(!a.all()[..i].contains(ip), "repeated: {a:?}");
            }
            if a.is_known() {
                assert_eq!(a.all().first(), Some(&a.client()), "{a:?}");
                assert!(!trusted(&a.client()), "a proxy named as the client: {a:?}");
                if a.all().len() > 1 {
                    assert!(a.via_extranet_edge(), "only a relay adds an address: {a:?}");
                }
            } else {
                assert!(a.all().is_empty(), "{a:?}");
            }
            if !trusted(&peer) {
                assert_eq!(a.all(), &[peer]);
                return;
            }
            // What a client prepends (its own X-Forwarded-For, Forwarded or X-MS header before
            // the proxies' values) never changes a known answer.
            if a.is_known() {
                let mut spoofed = HeaderMap::new();
                spoofed.append(
                    "x-forwarded-for",
                    HeaderValue::from_static("10.9.9.9, junk"),
                );
                spoofed.append("forwarded", HeaderValue::from_static("for=10.9.9.9"));
                spoofed.append(
                    "x-ms-forwarded-client-ip",
                    HeaderValue::from_static("10.9.9.9"),
                );
                for (name, value) in &case.headers {
                    spoofed.append(*name, HeaderValue::from_str(value).expect("value"));
                }
                let relayed = case
                    .headers
                    .iter()
                    .any(|(n, _)| *n == "x-ms-forwarded-client-ip");
                if !relayed {
                    assert_eq!(client_addresses(case.peer, &spoofed, &proxies), a);
                }
            }
            // X-Forwarded-For alone: walk the hops right to left through the X-Forwarded-For
            // proxy; a malformed hop, another kind of proxy (whose header is absent), too many
            // hops or the end of the chain make the client unknown.
            let xff_proxy = |ip: &IpAddr| proxies.first().is_some_and(|p| p.network.contains(ip));
            if xff_proxy(&peer) && case.headers.iter().all(|(n, _)| *n == "x-forwarded-for") {
                let chain: Vec<Option<IpAddr>> = case.named.iter().flatten().copied().collect();
                let mut want = None;
                for hop in chain.iter().rev().take(MAX_HOPS) {
                    match hop {
                        Some(ip) if xff_proxy(ip) => continue,
                        Some(ip) if !trusted(ip) => want = Some(*ip),
                        _ => {}
                    }
                    break;
                }
                match want {
                    Some(ip) => assert_eq!((a.is_known(), a.client()), (true, ip), "{chain:?}"),
                    None => assert!(!a.is_known(), "{chain:?}: {a:?}"),
                }
            }
        },
    );
}
