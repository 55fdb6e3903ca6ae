//! The per-source-IP failure budget: a token bucket per client IP (per /64 for IPv6, which one
//! host can rotate through freely), kept in process on each node. It slows a single source that
//! sprays many accounts, which per-account counts cannot see. Memory is bounded: buckets that
//! have refilled carry no information and are swept first when the table is full.
//!
//! Time is `tokio::time::Instant`, so tests drive refills with `tokio::time::pause`/`advance`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use tokio::time::Instant;

/// Client IPs (or IPv6 /64s) tracked at once unless told otherwise.
pub const DEFAULT_TRACKED: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Failed sign-ins allowed per client IP per minute, refilling continuously.
pub struct IpBudget {
    per_minute: u32,
    capacity: usize,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

/// The bucket key: the canonical address, IPv6 truncated to its /64.
fn source(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let masked = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(masked.into())
        }
        v4 => v4,
    }
}

impl IpBudget {
    /// `per_minute` failures per source per minute (`0` = no budget), tracking at most
    /// `tracked` sources.
    pub fn new(per_minute: u32, tracked: usize) -> Self {
        IpBudget {
            per_minute,
            capacity: tracked.max(1),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// True when the budget is switched off.
    pub fn is_off(&self) -> bool {
        self.per_minute == 0
    }

    fn full(&self) -> f64 {
        f64::from(self.per_minute)
    }

    /// The bucket's tokens at `now`.
    fn refilled(&self, b: &Bucket, now: Instant) -> f64 {
        let rate = self.full() / 60.0;
        (b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * rate).min(self.full())
    }

    /// True while `ip` may still fail (at least one failure left in its budget).
    pub fn allows(&self, ip: IpAddr) -> bool {
        if self.is_off() {
            return true;
        }
        let now = Instant::now();
        let buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        buckets
            .get(&source(ip))
            .is_none_or(|b| self.refilled(b, now) >= 1.0)
    }

    /// Records one failed sign-in from `ip`.
    pub fn charge(&self, ip: IpAddr) {
        if self.is_off() {
            return;
        }
        let now = Instant::now();
        let key = source(ip);
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if !buckets.contains_key(&key) && buckets.len() >= self.capacity {
            // Refilled buckets are the same as absent ones.
            buckets.retain(|_, b| self.refilled(b, now) < self.full());
            if buckets.len() >= self.capacity {
                let drop: Vec<IpAddr> = buckets
                    .keys()
                    .take((self.capacity / 10).max(1))
                    .copied()
                    .collect();
                for k in drop {
                    buckets.remove(&k);
                }
            }
        }
        let tokens = buckets
            .get(&key)
            .map_or(self.full(), |b| self.refilled(b, now));
        buckets.insert(
            key,
            Bucket {
                tokens: (tokens - 1.0).max(-1.0),
                at: now,
            },
        );
    }

    /// Sources currently tracked.
    pub fn tracked(&self) -> usize {
        self.buckets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};
    use std::time::Duration;

    fn v4(n: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(198, 51, 100, n))
    }

    #[tokio::test(start_paused = true)]
    async fn a_source_is_refused_after_its_budget_and_refills_over_time() {
        let b = IpBudget::new(6, 100);
        for _ in 0..6 {
            assert!(b.allows(v4(1)));
            b.charge(v4(1));
        }
        assert!(!b.allows(v4(1)), "six failures in a minute");
        assert!(b.allows(v4(2)), "other sources are unaffected");
        tokio::time::advance(Duration::from_secs(10)).await;
        assert!(b.allows(v4(1)), "one failure refills every ten seconds");
        b.charge(v4(1));
        assert!(!b.allows(v4(1)));
        tokio::time::advance(Duration::from_secs(60)).await;
        for _ in 0..6 {
            assert!(b.allows(v4(1)));
            b.charge(v4(1));
        }
        assert!(!b.allows(v4(1)), "never more than a full bucket");
    }

    #[tokio::test(start_paused = true)]
    async fn hammering_while_refused_keeps_the_source_refused() {
        let b = IpBudget::new(60, 100);
        for _ in 0..200 {
            b.charge(v4(1));
        }
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(!b.allows(v4(1)), "debt is bounded but not forgiven at once");
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(b.allows(v4(1)));
    }

    #[test]
    fn ipv6_sources_are_their_64_and_mapped_v4_is_v4() {
        let b = IpBudget::new(1, 100);
        let a = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 0xa, 0xb, 0xc, 0xd));
        let same64 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 9, 9, 9, 9));
        let other64 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 3, 0xa, 0xb, 0xc, 0xd));
        b.charge(a);
        assert!(!b.allows(same64));
        assert!(b.allows(other64));
        let mapped = IpAddr::V6(Ipv4Addr::new(198, 51, 100, 1).to_ipv6_mapped());
        b.charge(mapped);
        assert!(!b.allows(v4(1)));
    }

    #[test]
    fn zero_is_off_and_tracks_nothing() {
        let b = IpBudget::new(0, 100);
        for _ in 0..10 {
            b.charge(v4(1));
        }
        assert!(b.allows(v4(1)));
        assert_eq!(b.tracked(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn memory_is_bounded() {
        let b = IpBudget::new(10, 50);
        for i in 0..=255u8 {
            b.charge(v4(i));
        }
        assert!(b.tracked() <= 50, "{}", b.tracked());
        // Refilled buckets are swept before anything else.
        let b = IpBudget::new(10, 10);
        for i in 0..10u8 {
            b.charge(v4(i));
        }
        assert_eq!(b.tracked(), 10);
        tokio::time::advance(Duration::from_secs(60)).await;
        b.charge(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));
        assert_eq!(b.tracked(), 1);
    }
}
