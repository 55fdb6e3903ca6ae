//! The request context, built once at the edge (`http`) and passed whole to every layer that
//! judges or records a request: who the client is ([`ClientAddresses`]: canonical,
//! de-duplicated, never empty) and which activity it is ([`ActivityId`]). Lockout, the state
//! store, sign-in, claims and the audit log all read the same value, so none of them re-derives,
//! re-guards or re-deduplicates it.

use std::fmt;
use std::net::IpAddr;

/// The client's addresses as far as altgate can trust them: the client first (the TCP peer, or
/// the address the trusted proxies in front named), then any other address the request carries
/// beyond them (the forwarding service a trusted Microsoft proxy relayed for). Canonical
/// (IPv4-mapped IPv6 is IPv4) and without duplicates.
///
/// The client may be **unknown**: a trusted proxy named no one, or named a hop that does not
/// parse or is obfuscated (`unknown`, `_hidden`, garbage). An unknown client is never internal,
/// never familiar to extranet lockout (it has no addresses), never a proxy; its failures share
/// one budget ([`ClientAddresses::client`] is then [`UNKNOWN_CLIENT`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAddresses {
    all: Vec<IpAddr>,
    known: bool,
    via_extranet_edge: bool,
}

/// What [`ClientAddresses::client`] answers for an unknown client (`::`, the unspecified
/// address): the audit log shows it, and unknown clients' failures are budgeted together under
/// it.
pub const UNKNOWN_CLIENT: IpAddr = IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED);

impl ClientAddresses {
    /// Just `client`.
    pub fn single(client: IpAddr) -> Self {
        ClientAddresses {
            all: vec![client.to_canonical()],
            known: true,
            via_extranet_edge: false,
        }
    }

    /// `client` and then `others`, canonical, duplicates dropped.
    pub fn new(client: IpAddr, others: impl IntoIterator<Item = IpAddr>) -> Self {
        let mut a = ClientAddresses::single(client);
        for ip in others.into_iter().map(|ip| ip.to_canonical()) {
            if !a.all.contains(&ip) {
                a.all.push(ip);
            }
        }
        a
    }

    /// A client the proxies in front did not (or could not) name.
    pub fn unknown() -> Self {
        ClientAddresses {
            all: Vec::new(),
            known: false,
            via_extranet_edge: false,
        }
    }

    /// The same client, marked as having come through a proxy that is the extranet edge (a
    /// load balancer or reverse proxy facing the internet, or a cloud service relaying for
    /// the user): such a request is never internal, whatever address it names.
    pub fn through_extranet_edge(mut self) -> Self {
        self.via_extranet_edge = true;
        self
    }

    /// The client address (audit, the per-address failure budget); [`UNKNOWN_CLIENT`] when
    /// unknown.
    pub fn client(&self) -> IpAddr {
        self.all.first().copied().unwrap_or(UNKNOWN_CLIENT)
    }

    /// Whether the proxies in front named the client.
    pub fn is_known(&self) -> bool {
        self.known
    }

    /// Whether the request came through a proxy marked as the extranet edge.
    pub fn via_extranet_edge(&self) -> bool {
        self.via_extranet_edge
    }

    /// Inside the corporate network: a known client, not relayed by an extranet edge, whose
    /// address is in `internal_networks` (`federation.internal_networks`).
    pub fn is_internal(&self, internal_networks: &[ipnet::IpNet]) -> bool {
        self.known
            && !self.via_extranet_edge
            && internal_networks.iter().any(|n| n.contains(&self.client()))
    }

    /// Every address, the client first (extranet lockout's familiar-location check needs all of
    /// them to be familiar; `banned_ips` refuses a request if any is banned). Empty when the
    /// client is unknown.
    pub fn all(&self) -> &[IpAddr] {
        &self.all
    }
}

/// A request's activity ID, like AD FS's: a GUID altgate generated, or the ID a trusted proxy
/// passed (validated at the edge). Every event of the request carries it; error pages show it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ActivityId(String);

impl ActivityId {
    /// Wraps an ID the edge generated or validated.
    pub fn new(id: String) -> Self {
        ActivityId(id)
    }

    /// The ID.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ActivityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who sent a request and which activity it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestContext {
    /// The TCP peer (a load balancer, or the client itself).
    pub peer: IpAddr,
    /// The client's addresses.
    pub client: ClientAddresses,
    /// The activity ID.
    pub activity_id: ActivityId,
    /// The request came over TLS (HSTS, `Secure` cookies).
    pub tls: bool,
}

impl RequestContext {
    /// The client address (shorthand for `self.client.client()`).
    pub fn client_ip(&self) -> IpAddr {
        self.client.client()
    }

    /// A context for a request from `client` (tests, benches, the CLI's local calls).
    pub fn local(client: IpAddr, activity_id: &str) -> Self {
        RequestContext {
            peer: client.to_canonical(),
            client: ClientAddresses::single(client),
            activity_id: ActivityId::new(activity_id.to_string()),
            tls: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_canonical_deduplicated_and_client_first() {
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().expect("ip");
        let v4: IpAddr = "192.0.2.7".parse().expect("ip");
        let other: IpAddr = "2001:db8::1".parse().expect("ip");
        let a = ClientAddresses::new(mapped, [v4, other, other, mapped]);
        assert_eq!(a.client(), v4);
        assert_eq!(a.all(), &[v4, other]);
        assert_eq!(ClientAddresses::single(mapped).all(), &[v4]);
    }

    #[test]
    fn an_unknown_client_or_one_through_the_extranet_edge_is_never_internal() {
        let nets: Vec<ipnet::IpNet> = vec!["10.0.0.0/8".parse().expect("net")];
        let inside: IpAddr = "10.1.2.3".parse().expect("ip");
        assert!(ClientAddresses::single(inside).is_internal(&nets));
        assert!(!ClientAddresses::single(inside)
            .through_extranet_edge()
            .is_internal(&nets));
        let unknown = ClientAddresses::unknown();
        assert!(!unknown.is_known() && !unknown.is_internal(&nets));
        assert!(unknown.all().is_empty());
        assert_eq!(unknown.client(), UNKNOWN_CLIENT);
        let any: Vec<ipnet::IpNet> = vec!["::/0".parse().expect("net")];
        assert!(!unknown.is_internal(&any), "not even when :: is listed");
    }
}
