//! The in-process state store: the default, right for a single node. The lockout algorithm here
//! is the reference the Redis Lua scripts mirror (`super::redis`); both pass the same
//! conformance suite.
//!
//! Memory is bounded: each map holds at most `capacity` entries. When one is full, expired
//! entries are swept, and if that is not enough the tenth closest to expiry is dropped (for the
//! replay cache that means a very old id could be accepted twice under a flood; size
//! `capacity` well above the expected number of live entries).

use super::{
    attempt_ips, canonical_ips, duration_ms, from_ms, to_ms, AccountActivity, AttemptDecision,
    Counted, LocationClass, LockoutPolicy, Record, ResetScope, StateError, StateStore, Verdict,
};
use async_trait::async_trait;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

/// Entries per map unless told otherwise.
pub const DEFAULT_CAPACITY: usize = 1_000_000;

/// A map whose entries carry an expiry (milliseconds on some clock) and whose size is bounded.
struct Bounded<V> {
    map: HashMap<String, (V, u64)>,
    capacity: usize,
}

impl<V> Bounded<V> {
    fn new(capacity: usize) -> Self {
        Bounded {
            map: HashMap::new(),
            capacity: capacity.max(1),
        }
    }

    /// The live value for `key` at `now`.
    fn get_mut(&mut self, key: &str, now: u64) -> Option<&mut V> {
        match self.map.get_mut(key) {
            Some((v, expires)) if *expires > now => Some(v),
            _ => None,
        }
    }

    /// The value for `key` whether expired or not (for operations that take no `now`).
    fn get_any_mut(&mut self, key: &str) -> Option<&mut V> {
        self.map.get_mut(key).map(|(v, _)| v)
    }

    /// Inserts or replaces `key`, making room first.
    fn put(&mut self, key: &str, value: V, expires: u64, now: u64) {
        if !self.map.contains_key(key) {
            self.make_room(now);
        }
        self.map.insert(key.to_string(), (value, expires));
    }

    fn make_room(&mut self, now: u64) {
        if self.map.len() < self.capacity {
            return;
        }
        self.map.retain(|_, (_, expires)| *expires > now);
        if self.map.len() < self.capacity {
            return;
        }
        let mut expiries: Vec<u64> = self.map.values().map(|(_, e)| *e).collect();
        let nth = (self.capacity / 10).min(expiries.len().saturating_sub(1));
        let (_, cutoff, _) = expiries.select_nth_unstable(nth);
        let cutoff = *cutoff;
        self.map.retain(|_, (_, expires)| *expires > cutoff);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves the data consistent, so a panic elsewhere cannot have left
    // it half-written.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The in-process state store.
pub struct MemoryStore {
    accounts: Mutex<Bounded<Record>>,
    replay: Mutex<Bounded<()>>,
    revoked: Mutex<Bounded<()>>,
    /// Origin of the replay and revocation clock (`tokio::time`, so tests can pause it).
    origin: tokio::time::Instant,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::new()
    }
}

impl MemoryStore {
    /// A store holding up to [`DEFAULT_CAPACITY`] accounts, replay ids and revoked sessions.
    pub fn new() -> Self {
        MemoryStore::with_capacity(DEFAULT_CAPACITY)
    }

    /// A store holding up to `capacity` entries per map.
    pub fn with_capacity(capacity: usize) -> Self {
        MemoryStore {
            accounts: Mutex::new(Bounded::new(capacity)),
            replay: Mutex::new(Bounded::new(capacity)),
            revoked: Mutex::new(Bounded::new(capacity)),
            origin: tokio::time::Instant::now(),
        }
    }

    fn tick(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

fn class_fields(record: &mut Record, class: LocationClass) -> (&mut u32, &mut Option<u64>) {
    match class {
        LocationClass::Familiar => (&mut record.familiar_count, &mut record.familiar_last_bad),
        LocationClass::Unfamiliar => (
            &mut record.unfamiliar_count,
            &mut record.unfamiliar_last_bad,
        ),
    }
}

/// The lockout decision for one attempt (see [`StateStore::attempt`]); `ips` are canonical.
pub(crate) fn decide(
    record: &mut Record,
    ips: &[IpAddr],
    now: u64,
    policy: &LockoutPolicy,
) -> AttemptDecision {
    let lifetime = duration_ms(policy.familiar_location_lifetime);
    let window = duration_ms(policy.observation_window);
    let familiar = !ips.is_empty()
        && ips.iter().all(|ip| {
            record
                .ips
                .iter()
                .any(|(f, seen)| f == ip && seen.saturating_add(lifetime) > now)
        });
    let class = if familiar {
        LocationClass::Familiar
    } else {
        LocationClass::Unfamiliar
    };
    let threshold = class.threshold(policy);
    let (count, last) = class_fields(record, class);
    let verdict = if *count < threshold {
        Verdict::Allowed
    } else if last.is_some_and(|l| now < l.saturating_add(window)) {
        Verdict::Refused
    } else {
        Verdict::Probe
    };
    let mut counted = None;
    if verdict.lets_through() {
        let previous = *last;
        let at = previous.map_or(now, |l| l.max(now));
        *count = count.saturating_add(1);
        *last = Some(at);
        counted = Some(Counted {
            class,
            at_ms: at,
            previous_last_bad_ms: previous,
        });
    }
    AttemptDecision {
        class,
        verdict,
        count: *count,
        threshold,
        last_bad: last.map(from_ms),
        locked_until: last
            .filter(|_| *count >= threshold)
            .map(|l| from_ms(l.saturating_add(window))),
        counted,
    }
}

/// A successful sign-in (see [`StateStore::succeeded`]); `ips` are canonical and at most
/// `max_familiar_locations`.
pub(crate) fn record_success(
    record: &mut Record,
    class: LocationClass,
    ips: &[IpAddr],
    now: u64,
    policy: &LockoutPolicy,
) {
    *class_fields(record, class).0 = 0;
    for ip in ips {
        match record.ips.iter_mut().find(|(f, _)| f == ip) {
            Some((_, seen)) => *seen = (*seen).max(now),
            None => record.ips.push((*ip, now)),
        }
    }
    let lifetime = duration_ms(policy.familiar_location_lifetime);
    record
        .ips
        .retain(|(_, seen)| seen.saturating_add(lifetime) > now);
    let max = policy.max_familiar_locations as usize;
    if record.ips.len() > max {
        record.ips.sort_by_key(|(_, seen)| *seen);
        let excess = record.ips.len() - max;
        record.ips.drain(..excess);
    }
}

/// Takes back an advance count (see [`StateStore::not_counted`]).
pub(crate) fn take_back(record: &mut Record, counted: &Counted) {
    let (count, last) = class_fields(record, counted.class);
    *count = count.saturating_sub(1);
    if *last == Some(counted.at_ms) {
        *last = counted.previous_last_bad_ms;
    }
}

/// An operator reset (see [`StateStore::reset`]).
pub(crate) fn reset_counts(record: &mut Record, scope: ResetScope) {
    if matches!(scope, ResetScope::Familiar | ResetScope::Both) {
        record.familiar_count = 0;
        record.familiar_last_bad = None;
    }
    if matches!(scope, ResetScope::Unfamiliar | ResetScope::Both) {
        record.unfamiliar_count = 0;
        record.unfamiliar_last_bad = None;
    }
}

#[async_trait]
impl StateStore for MemoryStore {
    fn backend(&self) -> &'static str {
        "memory"
    }

    async fn attempt(
        &self,
        account: &str,
        client_ips: &[IpAddr],
        now: SystemTime,
        policy: &LockoutPolicy,
    ) -> Result<AttemptDecision, StateError> {
        let now = to_ms(now);
        let ips = attempt_ips(client_ips, policy);
        let mut accounts = lock(&self.accounts);
        let mut record = accounts.get_mut(account, now).cloned().unwrap_or_default();
        let decision = decide(&mut record, &ips, now, policy);
        if decision.counted.is_some() {
            let expires = now.saturating_add(duration_ms(policy.record_lifetime()));
            accounts.put(account, record, expires, now);
        }
        Ok(decision)
    }

    async fn succeeded(
        &self,
        account: &str,
        class: LocationClass,
        client_ips: &[IpAddr],
        now: SystemTime,
        policy: &LockoutPolicy,
    ) -> Result<(), StateError> {
        let now = to_ms(now);
        let ips = canonical_ips(client_ips, policy.max_familiar_locations as usize);
        let mut accounts = lock(&self.accounts);
        let mut record = accounts.get_mut(account, now).cloned().unwrap_or_default();
        record_success(&mut record, class, &ips, now, policy);
        let expires = now.saturating_add(duration_ms(policy.record_lifetime()));
        accounts.put(account, record, expires, now);
        Ok(())
    }

    async fn not_counted(&self, account: &str, counted: &Counted) -> Result<(), StateError> {
        if let Some(record) = lock(&self.accounts).get_any_mut(account) {
            take_back(record, counted);
        }
        Ok(())
    }

    async fn status(
        &self,
        account: &str,
        now: SystemTime,
        policy: &LockoutPolicy,
    ) -> Result<AccountActivity, StateError> {
        let now = to_ms(now);
        Ok(lock(&self.accounts)
            .get_mut(account, now)
            .map(|r| r.activity(now, policy))
            .unwrap_or_default())
    }

    async fn reset(&self, account: &str, scope: ResetScope) -> Result<(), StateError> {
        if let Some(record) = lock(&self.accounts).get_any_mut(account) {
            reset_counts(record, scope);
        }
        Ok(())
    }

    async fn first_use(&self, id: &str, ttl: Duration) -> Result<bool, StateError> {
        let now = self.tick();
        let mut replay = lock(&self.replay);
        if replay.get_mut(id, now).is_some() {
            return Ok(false);
        }
        replay.put(id, (), now.saturating_add(duration_ms(ttl)), now);
        Ok(true)
    }

    async fn revoke(&self, session_id: &str, ttl: Duration) -> Result<(), StateError> {
        let now = self.tick();
        lock(&self.revoked).put(session_id, (), now.saturating_add(duration_ms(ttl)), now);
        Ok(())
    }

    async fn is_revoked(&self, session_id: &str) -> Result<bool, StateError> {
        let now = self.tick();
        Ok(lock(&self.revoked).get_mut(session_id, now).is_some())
    }

    async fn ping(&self) -> Result<(), StateError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::StateStore;
    use std::sync::Arc;

    conformance_tests!(async { (Arc::new(MemoryStore::new()) as Arc<dyn StateStore>, ()) });

    #[tokio::test]
    async fn capacity_is_bounded() {
        let store = MemoryStore::with_capacity(50);
        for i in 0..500 {
            assert!(store
                .first_use(&format!("id{i}"), Duration::from_secs(60))
                .await
                .expect("memory"));
        }
        assert!(lock(&store.replay).map.len() <= 50);
        let policy = LockoutPolicy::default();
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        for i in 0..500 {
            store
                .attempt(&format!("acct{i}"), &[], now, &policy)
                .await
                .expect("memory");
        }
        assert!(lock(&store.accounts).map.len() <= 50);
        // The newest entries survive eviction.
        let a = store.status("acct499", now, &policy).await.expect("memory");
        assert_eq!(a.unfamiliar.count, 1);
    }

    #[tokio::test]
    async fn account_records_expire_with_their_lifetime() {
        let store = MemoryStore::new();
        let policy = LockoutPolicy::default();
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        store.attempt("a", &[], t0, &policy).await.expect("memory");
        let later = t0 + policy.record_lifetime();
        let a = store.status("a", later, &policy).await.expect("memory");
        assert_eq!(a, AccountActivity::default());
    }

    #[tokio::test(start_paused = true)]
    async fn replay_ids_expire_on_the_tokio_clock() {
        let store = MemoryStore::new();
        assert!(store
            .first_use("x", Duration::from_secs(5))
            .await
            .expect("memory"));
        tokio::time::advance(Duration::from_secs(4)).await;
        assert!(!store
            .first_use("x", Duration::from_secs(5))
            .await
            .expect("memory"));
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(store
            .first_use("x", Duration::from_secs(5))
            .await
            .expect("memory"));
        store
            .revoke("s", Duration::from_secs(1))
            .await
            .expect("memory");
        assert!(store.is_revoked("s").await.expect("memory"));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(!store.is_revoked("s").await.expect("memory"));
    }
}
