//! Who is the client? One function decides, [`client_addresses`]:
//!
//! - A peer that is not in `server.trusted_proxies` is the client, whatever headers it sends.
//! - A trusted proxy names its client in the **one header it is configured for**
//!   (`X-Forwarded-For` by default, `Forwarded` or `X-MS-Forwarded-Client-IP` when said so);
//!   every other forwarding header it passes through was written by someone else (the client)
//!   and is ignored.
//! - Only hops trusted proxies appended are read, right to left: each trusted proxy appended one
//!   hop (its own peer); the first hop that is not itself a trusted proxy is the client, and
//!   nothing left of it is read (a client can prepend anything it likes there).
//! - A hop that does not parse or is obfuscated (`unknown`, `_hidden`, `127.0.0.066`,
//!   `1.2.3.4:abc`, an element without `for=`), a missing header, a chain made only of proxies,
//!   or more than [`MAX_HOPS`] hops make the client **unknown**: never the proxy, never
//!   internal, never familiar ([`ClientAddresses::unknown`]).
//! - A proxy marked `extranet_edge`, and a Microsoft relay (`X-MS-Forwarded-Client-IP`), make
//!   the request external whatever address it names.
//!
//! The result feeds extranet lockout (every address must be familiar), `banned_ips`, the
//! per-address failure budget, `insidecorporatenetwork` and the audit log.

use crate::config::edge::{ForwardedHeader, TrustedProxy};
pub use crate::request::ClientAddresses;
use hyper::header::HeaderMap;
use std::net::{IpAddr, SocketAddr};

/// The most forwarded hops read from one request: a longer chain makes the client unknown.
pub const MAX_HOPS: usize = 16;

/// The configured proxy `ip` belongs to (the most specific network when several match).
pub fn proxy_of(ip: IpAddr, proxies: &[TrustedProxy]) -> Option<&TrustedProxy> {
    proxies
        .iter()
        .filter(|p| p.network.contains(&ip))
        .max_by_key(|p| p.network.prefix_len())
}

/// One address as proxies write it: `1.2.3.4`, `1.2.3.4:567`, `[::1]`, `[::1]:567`, `"[::1]"`.
/// Anything else (obfuscated identifiers, `unknown`, leading zeros, bad ports) is `None`.
fn parse_addr(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    let s = s
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .unwrap_or(s);
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Some(sa.ip().to_canonical());
    }
    s.strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .and_then(|r| r.parse::<IpAddr>().ok())
        .map(|ip| ip.to_canonical())
}

/// The hops of one forwarding header, consumed from the right (nearest altgate first).
struct Hops {
    hops: Vec<Option<IpAddr>>,
}

impl Hops {
    /// `X-Forwarded-For`: every field value, comma-separated addresses.
    fn x_forwarded_for(headers: &HeaderMap) -> Hops {
        let hops = headers
            .get_all("x-forwarded-for")
            .iter()
            .flat_map(|v| match v.to_str() {
                Ok(v) => v.split(',').map(parse_addr).collect::<Vec<_>>(),
                Err(_) => vec![None],
            })
            .collect();
        Hops { hops }
    }

    /// `Forwarded` (RFC 7239): every element's `for=` value; an element without one (or with
    /// an obfuscated one) is an unparsable hop.
    fn forwarded(headers: &HeaderMap) -> Hops {
        let hops = headers
            .get_all("forwarded")
            .iter()
            .flat_map(|v| match v.to_str() {
                Ok(v) => v
                    .split(',')
                    .map(|element| {
                        element.split(';').find_map(|pair| {
                            let (k, v) = pair.split_once('=')?;
                            k.trim().eq_ignore_ascii_case("for").then(|| parse_addr(v))
                        })?
                    })
                    .collect::<Vec<_>>(),
                Err(_) => vec![None],
            })
            .collect();
        Hops { hops }
    }

    /// The next hop from the right: `None` when there is none left, `Some(None)` when it does
    /// not parse.
    fn pop(&mut self) -> Option<Option<IpAddr>> {
        self.hops.pop()
    }
}

/// The client addresses of a request from `peer`, read from the forwarding headers the
/// trusted proxies in `proxies` wrote (see the module documentation).
pub fn client_addresses(
    peer: IpAddr,
    headers: &HeaderMap,
    proxies: &[TrustedProxy],
) -> ClientAddresses {
    let peer = peer.to_canonical();
    let Some(mut proxy) = proxy_of(peer, proxies) else {
        return ClientAddresses::single(peer);
    };
    let mut current = peer;
    let mut xff = Hops::x_forwarded_for(headers);
    let mut forwarded = Hops::forwarded(headers);
    let mut edge = false;
    for _ in 0..MAX_HOPS {
        edge |= proxy.extranet_edge;
        let named = match proxy.header {
            ForwardedHeader::XForwardedFor => xff.pop(),
            ForwardedHeader::Forwarded => forwarded.pop(),
            ForwardedHeader::XMsForwardedClientIp => {
                // The relay names the end user it acts for; the relay itself (a cloud service)
                // is carried beside it, and the request is external.
                let user = headers
                    .get_all("x-ms-forwarded-client-ip")
                    .iter()
                    .next_back()
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.rsplit(',').next())
                    .and_then(parse_addr)
                    .filter(|ip| proxy_of(*ip, proxies).is_none());
                return match user {
                    Some(user) => ClientAddresses::new(user, [current]).through_extranet_edge(),
                    None => ClientAddresses::unknown().through_extranet_edge(),
                };
            }
        };
        let Some(Some(hop)) = named else {
            return unknown(edge);
        };
        match proxy_of(hop, proxies) {
            Some(next) => {
                proxy = next;
                current = hop;
            }
            None => {
                let client = ClientAddresses::single(hop);
                return if edge {
                    client.through_extranet_edge()
                } else {
                    client
                };
            }
        }
    }
    unknown(edge)
}

fn unknown(edge: bool) -> ClientAddresses {
    let u = ClientAddresses::unknown();
    if edge {
        u.through_extranet_edge()
    } else {
        u
    }
}

/// Whether `peer` is a trusted proxy configured to send its own request ID.
pub fn sends_request_id(peer: IpAddr, proxies: &[TrustedProxy]) -> bool {
    proxy_of(peer.to_canonical(), proxies).is_some_and(|p| p.request_id)
}

/// Whether `peer` is a trusted proxy (connection caps per address do not apply to it: it
/// carries everyone).
pub fn is_trusted_proxy(peer: IpAddr, proxies: &[TrustedProxy]) -> bool {
    proxy_of(peer.to_canonical(), proxies).is_some()
}

/// True when any of `addresses` is in `banned`.
pub fn is_banned(addresses: &ClientAddresses, banned: &[ipnet::IpNet]) -> bool {
    addresses
        .all()
        .iter()
        .any(|ip| banned.iter().any(|n| n.contains(ip)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipnet::IpNet;

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

    fn net(s: &str) -> IpNet {
        s.parse().expect("net")
    }

    /// The README's deployment: a load balancer at 10.0.0.0/24 appending `X-Forwarded-For`.
    fn lb() -> Vec<TrustedProxy> {
        vec![TrustedProxy::x_forwarded_for(net("10.0.0.0/24"))]
    }

    const INTERNAL: &str = "10.0.0.0/8";

    #[derive(Debug)]
    enum Want {
        Client(&'static str),
        Unknown,
    }

    fn check(proxies: &[TrustedProxy], peer: &str, h: &[(&str, &str)], want: Want) {
        let a = client_addresses(ip(peer), &headers(h), proxies);
        match want {
            Want::Client(c) => {
                assert!(a.is_known(), "{h:?}: {a:?}");
                assert_eq!(a.client(), ip(c), "{h:?}");
            }
            Want::Unknown => {
                assert!(!a.is_known(), "{h:?}: {a:?}");
                assert!(a.all().is_empty(), "{h:?}");
            }
        }
        let a_proxy = a
            .all()
            .iter()
            .any(|x| proxies.iter().any(|p| p.network.contains(x)));
        let relayed = proxies
            .iter()
            .any(|p| p.header == ForwardedHeader::XMsForwardedClientIp);
        assert!(!a_proxy || relayed, "a proxy named as the client: {h:?}");
    }

    #[test]
    fn an_untrusted_peer_cannot_name_the_client() {
        for h in [
            &[("x-forwarded-for", "10.1.2.3")][..],
            &[("forwarded", "for=10.1.2.3")],
            &[("x-ms-forwarded-client-ip", "10.1.2.3")],
        ] {
            check(&lb(), "198.51.100.7", h, Want::Client("198.51.100.7"));
        }
    }

    #[test]
    fn behind_an_x_forwarded_for_proxy_only_the_hop_it_appended_counts() {
        let lb = lb();
        // The load balancer appends the real address (203.0.113.5) to whatever the client sent.
        let real = "203.0.113.5";
        let attacks: &[&[(&str, &str)]] = &[
            &[("x-forwarded-for", real)],
            &[("x-forwarded-for", "10.9.9.9, 203.0.113.5")],
            &[("x-forwarded-for", "garbage, 203.0.113.5")],
            &[("x-forwarded-for", "10.9.9.9"), ("x-forwarded-for", real)],
            &[("forwarded", "for=10.9.9.9"), ("x-forwarded-for", real)],
            &[("forwarded", "for=10.0.0.7"), ("x-forwarded-for", real)],
            &[
                ("x-ms-forwarded-client-ip", "10.9.9.9"),
                ("x-forwarded-for", real),
            ],
            &[("x-forwarded-for", "_hidden, unknown, 203.0.113.5")],
        ];
        for h in attacks {
            check(&lb, "10.0.0.1", h, Want::Client(real));
            let a = client_addresses(ip("10.0.0.1"), &headers(h), &lb);
            assert!(!a.is_internal(&[net(INTERNAL)]), "{h:?}");
        }
        // An inner proxy (also trusted) appended the load balancer: read past it.
        check(
            &lb,
            "10.0.0.1",
            &[("x-forwarded-for", "10.9.9.9, 203.0.113.5, 10.0.0.2")],
            Want::Client(real),
        );
        // IPv6 with ports, split across fields.
        check(
            &lb,
            "10.0.0.1",
            &[
                ("x-forwarded-for", "1.1.1.1"),
                ("x-forwarded-for", "[2001:db8::7]:4711"),
            ],
            Want::Client("2001:db8::7"),
        );
        // An internal client through the internal load balancer is internal.
        let a = client_addresses(
            ip("10.0.0.1"),
            &headers(&[("x-forwarded-for", "10.20.30.40")]),
            &lb,
        );
        assert!(a.is_internal(&[net(INTERNAL)]));
    }

    #[test]
    fn an_unparsable_or_obfuscated_hop_from_the_proxy_makes_the_client_unknown_never_the_proxy() {
        let lb = lb();
        for bad in [
            "garbage",
            "unknown",
            "_hidden",
            "127.0.0.066",
            "1.2.3.4:abc",
            "",
            "[::1",
            "10.0.0.0/8",
        ] {
            check(&lb, "10.0.0.1", &[("x-forwarded-for", bad)], Want::Unknown);
            // What the client put left of it does not rescue it.
            check(
                &lb,
                "10.0.0.1",
                &[("x-forwarded-for", &format!("10.1.1.1, {bad}"))],
                Want::Unknown,
            );
        }
        // No header at all, or a chain made only of proxies: nobody was named.
        check(&lb, "10.0.0.1", &[], Want::Unknown);
        check(
            &lb,
            "10.0.0.1",
            &[("forwarded", "for=203.0.113.5")],
            Want::Unknown,
        );
        check(
            &lb,
            "10.0.0.1",
            &[("x-forwarded-for", "10.0.0.2, 10.0.0.3")],
            Want::Unknown,
        );
        // Too many hops.
        let long = vec!["10.0.0.9"; MAX_HOPS + 1].join(", ");
        check(
            &lb,
            "10.0.0.1",
            &[("x-forwarded-for", &format!("203.0.113.5, {long}"))],
            Want::Unknown,
        );
        let u = client_addresses(ip("10.0.0.1"), &headers(&[]), &lb);
        assert!(!u.is_internal(&[net("0.0.0.0/0"), net("::/0")]));
    }

    #[test]
    fn a_forwarded_proxy_is_read_in_forwarded_only() {
        let p = vec![TrustedProxy {
            header: ForwardedHeader::Forwarded,
            ..TrustedProxy::x_forwarded_for(net("10.0.0.0/24"))
        }];
        check(
            &p,
            "10.0.0.1",
            &[
                (
                    "forwarded",
                    "for=10.9.9.9, for=192.0.2.60;proto=https, for=\"[2001:db8:cafe::17]:4711\"",
                ),
                ("x-forwarded-for", "198.51.100.1"),
            ],
            Want::Client("2001:db8:cafe::17"),
        );
        for bad in ["for=_hidden", "for=unknown", "proto=https", "for=\"_x\""] {
            check(&p, "10.0.0.1", &[("forwarded", bad)], Want::Unknown);
        }
        check(
            &p,
            "10.0.0.1",
            &[("x-forwarded-for", "198.51.100.1")],
            Want::Unknown,
        );
    }

    #[test]
    fn a_microsoft_relay_names_the_end_user_and_is_never_internal() {
        // The load balancer appends Exchange Online's address; Exchange Online's range is
        // configured as a relay naming the user in X-MS-Forwarded-Client-IP.
        let proxies = vec![
            TrustedProxy::x_forwarded_for(net("10.0.0.0/24")),
            TrustedProxy {
                header: ForwardedHeader::XMsForwardedClientIp,
                ..TrustedProxy::x_forwarded_for(net("40.96.0.0/13"))
            },
        ];
        let h = headers(&[
            ("x-forwarded-for", "40.97.1.2"),
            ("x-ms-forwarded-client-ip", "10.20.30.40"),
        ]);
        let a = client_addresses(ip("10.0.0.1"), &h, &proxies);
        assert_eq!(a.client(), ip("10.20.30.40"));
        assert_eq!(a.all(), &[ip("10.20.30.40"), ip("40.97.1.2")]);
        assert!(a.via_extranet_edge() && !a.is_internal(&[net(INTERNAL)]));
        // Without the relay hop, the same header from a client is ignored.
        let a = client_addresses(
            ip("10.0.0.1"),
            &headers(&[
                ("x-forwarded-for", "203.0.113.5"),
                ("x-ms-forwarded-client-ip", "10.20.30.40"),
            ]),
            &proxies,
        );
        assert_eq!(a.client(), ip("203.0.113.5"));
        // A relay that names nobody usable: unknown.
        let a = client_addresses(
            ip("10.0.0.1"),
            &headers(&[("x-forwarded-for", "40.97.1.2")]),
            &proxies,
        );
        assert!(!a.is_known() && a.via_extranet_edge());
    }

    #[test]
    fn a_proxy_marked_as_the_extranet_edge_makes_every_request_external() {
        let p = vec![TrustedProxy {
            extranet_edge: true,
            ..TrustedProxy::x_forwarded_for(net("10.0.0.0/24"))
        }];
        let a = client_addresses(
            ip("10.0.0.1"),
            &headers(&[("x-forwarded-for", "10.20.30.40")]),
            &p,
        );
        assert_eq!(a.client(), ip("10.20.30.40"));
        assert!(!a.is_internal(&[net(INTERNAL)]));
    }

    #[test]
    fn the_most_specific_proxy_entry_decides_and_mapped_ipv4_matches() {
        let p = vec![
            TrustedProxy::x_forwarded_for(net("10.0.0.0/8")),
            TrustedProxy {
                header: ForwardedHeader::Forwarded,
                request_id: true,
                ..TrustedProxy::x_forwarded_for(net("10.0.0.5/32"))
            },
        ];
        assert_eq!(
            proxy_of(ip("10.0.0.5"), &p).map(|p| p.header),
            Some(ForwardedHeader::Forwarded)
        );
        assert!(sends_request_id(ip("::ffff:10.0.0.5"), &p));
        assert!(!sends_request_id(ip("10.0.0.6"), &p));
        assert!(is_trusted_proxy(ip("::ffff:10.1.0.1"), &p));
        let a = ClientAddresses::single(ip("::ffff:192.0.2.1"));
        assert!(is_banned(&a, &[net("192.0.2.0/24")]));
        assert!(!is_banned(&ClientAddresses::unknown(), &[net("::/0")]));
    }
}
