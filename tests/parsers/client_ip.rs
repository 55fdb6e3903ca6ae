//! The client address over arbitrary forwarding headers: the client is always among the
//! addresses, which never repeat, never name a trusted proxy (unless the peer is all there is)
//! and, from an untrusted peer, are the peer alone; with a well-formed `X-Forwarded-For` only,
//! the client is the right-most untrusted hop within reach.

use crate::gen::{property, Rng};
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

fn proxies() -> Vec<IpNet> {
    ["10.0.0.0/8", "2001:db8:1::/48", "40.96.0.0/13"]
        .iter()
        .map(|n| n.parse().expect("net"))
        .collect()
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
    let trusted = |ip: &IpAddr| proxies.iter().any(|n| n.contains(ip));
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
            assert!(
                !a.all().is_empty() && a.all().contains(&a.client()),
                "{a:?}"
            );
            for (i, ip) in a.all().iter().enumerate() {
                assert!(!a.all()[..i].contains(ip), "repeated: {a:?}");
            }
            if a.all() != [peer] {
                assert!(!a.all().iter().any(trusted), "a proxy named: {a:?}");
            }
            if !trusted(&peer) {
                assert_eq!(a.all(), &[peer]);
                return;
            }
            // X-Forwarded-For alone, every entry well-formed: the right-most untrusted hop among
            // the last MAX_HOPS, else the peer.
            if case.headers.iter().all(|(n, _)| *n == "x-forwarded-for") {
                let chain: Option<Vec<IpAddr>> = case.named.iter().flatten().copied().collect();
                if let Some(chain) = chain {
                    let want = chain
                        .iter()
                        .rev()
                        .take(MAX_HOPS)
                        .find(|ip| !trusted(ip))
                        .copied()
                        .unwrap_or(peer);
                    assert_eq!(a.client(), want, "{chain:?}");
                }
            }
        },
    );
}
