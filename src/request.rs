//! The request context, built once at the edge (`http`) and passed whole to every layer that
//! judges or records a request: who the client is ([`ClientAddresses`]: canonical,
//! de-duplicated, never empty) and which activity it is ([`ActivityId`]). Lockout, the state
//! store, sign-in, claims and the audit log all read the same value, so none of them re-derives,
//! re-guards or re-deduplicates it.

use std::fmt;
use std::net::IpAddr;

/// The client's addresses as far as altgate can trust them: the client first (the TCP peer, or
/// the address a trusted proxy named), then any other address the request carries beyond the
/// trusted proxies (the end user a trusted Microsoft proxy named). Canonical (IPv4-mapped IPv6
/// is IPv4), without duplicates, never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAddresses {
    all: Vec<IpAddr>,
}

impl ClientAddresses {
    /// Just `client`.
    pub fn single(client: IpAddr) -> Self {
        ClientAddresses {
            all: vec![client.to_canonical()],
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

    /// The client address (claims, audit, the per-address failure budget).
    pub fn client(&self) -> IpAddr {
        self.all
            .first()
            .copied()
            .unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    /// Every address, the client first (extranet lockout's familiar-location check needs all of
    /// them to be familiar; `banned_ips` refuses a request if any is banned).
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
}
