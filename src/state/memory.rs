//! The in-process state store: the default, right for a single node. The lockout algorithm here
//! is the reference the Redis Lua scripts mirror (`super::redis`); both pass the same
//! conformance suite.
//!
//! Memory is bounded. The account and revocation maps hold at most `capacity` entries each:
//! when one is full, expired entries are swept, and if that is not enough the tenth closest to
//! expiry is dropped. The replay cache is bounded differently, since forgetting an id early
//! would let its request be answered twice: it keeps each id's SHA-256 (32 bytes whatever the
//! id's length) with its expiry, drops ids only as they expire (in expiry order, a few at a
//! time as operations come), and at `state.replay_cache_max_entries` live ids refuses a new
//! one ([`StateError::ReplayCacheFull`]) rather than evict.

use super::{
    attempt_ips, canonical_ips, duration_ms, from_ms, to_ms, AccountActivity, AttemptDecision,
    Counted, LocationClass, LockoutPolicy, Record, Redeemed, ResetScope, Rotation, StateError,
    StateStore, Verdict,
};
use async_trait::async_trait;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

/// Entries per map unless told otherwise.
pub const DEFAULT_CAPACITY: usize = 1_000_000;

/// The replay cache: the SHA-256 of every live id with its expiry (milliseconds on the store's
/// clock), indexed by expiry so expired ids leave in order without a sweep of the whole map.
/// At most `max` live ids; a new one beyond is refused, none is evicted.
struct Replay {
    /// Live ids and their expiry.
    live: HashMap<[u8; 32], u64>,
    /// The same ids, soonest expiry on top.
    by_expiry: BinaryHeap<Reverse<(u64, [u8; 32])>>,
    /// The most live ids held.
    max: usize,
}

impl Replay {
    fn new(max: usize) -> Self {
        Replay {
            live: HashMap::new(),
            by_expiry: BinaryHeap::new(),
            max: max.max(1),
        }
    }

    /// Drops every id expired at `now`.
    fn expire(&mut self, now: u64) {
        while let Some(Reverse((expires, _))) = self.by_expiry.peek() {
            if *expires > now {
                break;
            }
            if let Some(Reverse((expires, key))) = self.by_expiry.pop() {
                if self.live.get(&key) == Some(&expires) {
                    self.live.remove(&key);
                }
            }
        }
    }

    /// True and remembered until `expires` when `key` is not live at `now`; false when it is;
    /// `None` when it is not and `max` ids are (nothing stored).
    fn first_use(&mut self, key: [u8; 32], expires: u64, now: u64) -> Option<bool> {
        self.expire(now);
        if self.live.contains_key(&key) {
            return Some(false);
        }
        if self.live.len() >= self.max {
            return None;
        }
        self.live.insert(key, expires);
        self.by_expiry.push(Reverse((expires, key)));
        Some(true)
    }
}

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

/// A node's own memory of answered SAML request IDs, beside the farm's state store: a fast
/// first check (a request already answered here is refused before its sign-in form is shown),
/// what this node knows even when the store forgot (a flushed Redis), and what decides alone
/// when the store cannot answer under `state.on_unavailable: fail_open`. Bounded like the
/// store's replay cache (`state.replay_cache_max_entries` live ids, each kept as its SHA-256 for
/// `ttl`, dropped only as it expires, a new one refused when full), so it never evicts an id an
/// attacker would like forgotten.
pub struct LocalReplay {
    replay: Mutex<Replay>,
    ttl: Duration,
    /// Origin of its clock (`tokio::time`, so tests can pause it).
    origin: tokio::time::Instant,
}

impl LocalReplay {
    /// At most `max` live ids, each remembered for `ttl`.
    pub fn new(max: u64, ttl: Duration) -> Self {
        LocalReplay {
            replay: Mutex::new(Replay::new(usize::try_from(max).unwrap_or(usize::MAX))),
            ttl,
            origin: tokio::time::Instant::now(),
        }
    }

    /// How long an id is remembered.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    fn tick(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether `id` was answered here within the TTL.
    pub fn contains(&self, id: &str) -> bool {
        let now = self.tick();
        let mut replay = lock(&self.replay);
        replay.expire(now);
        replay.live.contains_key(&super::digest_bytes(id))
    }

    /// Check-and-insert: `Some(true)` the first time `id` is seen within the TTL (it is then
    /// remembered), `Some(false)` after, `None` when it is new and the cache is full (nothing
    /// stored).
    pub fn first_use(&self, id: &str) -> Option<bool> {
        let now = self.tick();
        let expires = now.saturating_add(duration_ms(self.ttl));
        lock(&self.replay).first_use(super::digest_bytes(id), expires, now)
    }

    /// Live ids held now.
    pub fn len(&self) -> usize {
        let now = self.tick();
        let mut replay = lock(&self.replay);
        replay.expire(now);
        replay.live.len()
    }

    /// True when no live id is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
    replay: Mutex<Replay>,
    revoked: Mutex<Bounded<()>>,
    /// Authorization codes by digest: (record, redeemed).
    codes: Mutex<Bounded<(String, bool)>>,
    /// Refresh token families: (current secret digest, record).
    families: Mutex<Bounded<(String, String)>>,
    /// Origin of the replay and revocation clock (`tokio::time`, so tests can pause it).
    origin: tokio::time::Instant,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::new()
    }
}

impl MemoryStore {
    /// A store holding up to [`DEFAULT_CAPACITY`] accounts and revoked sessions, and
    /// [`crate::config::state::REPLAY_CACHE_DEFAULT`] live replay ids.
    pub fn new() -> Self {
        MemoryStore::with_capacity(DEFAULT_CAPACITY)
    }

    /// A store holding up to `capacity` accounts and revoked sessions, and
    /// [`crate::config::state::REPLAY_CACHE_DEFAULT`] live replay ids.
    pub fn with_capacity(capacity: usize) -> Self {
        let replay = crate::config::state::REPLAY_CACHE_DEFAULT;
        MemoryStore {
            accounts: Mutex::new(Bounded::new(capacity)),
            replay: Mutex::new(Replay::new(usize::try_from(replay).unwrap_or(usize::MAX))),
            revoked: Mutex::new(Bounded::new(capacity)),
            codes: Mutex::new(Bounded::new(capacity)),
            families: Mutex::new(Bounded::new(capacity)),
            origin: tokio::time::Instant::now(),
        }
    }

    /// The same store holding at most `max` live replay ids (`state.replay_cache_max_entries`).
    pub fn with_replay_max(self, max: u64) -> Self {
        let max = usize::try_from(max).unwrap_or(usize::MAX);
        MemoryStore {
            replay: Mutex::new(Replay::new(max)),
            ..self
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
    set_familiar(record, ips, now, policy);
}

/// Makes `ips` familiar (last seen `now`), drops expired ones and keeps at most
/// `policy.max_familiar_locations`, the least recently seen going first.
fn set_familiar(record: &mut Record, ips: &[IpAddr], now: u64, policy: &LockoutPolicy) {
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

    async fn set_familiar(
        &self,
        account: &str,
        add: &[IpAddr],
        remove: &[IpAddr],
        now: SystemTime,
        policy: &LockoutPolicy,
    ) -> Result<(), StateError> {
        let now = to_ms(now);
        let add = canonical_ips(add, policy.max_familiar_locations as usize);
        let remove = canonical_ips(remove, usize::MAX);
        let mut accounts = lock(&self.accounts);
        let mut record = accounts.get_mut(account, now).cloned().unwrap_or_default();
        record.ips.retain(|(ip, _)| !remove.contains(ip));
        set_familiar(&mut record, &add, now, policy);
        let expires = now.saturating_add(duration_ms(policy.record_lifetime()));
        accounts.put(account, record, expires, now);
        Ok(())
    }

    async fn first_use(&self, id: &str, ttl: Duration) -> Result<bool, StateError> {
        let now = self.tick();
        let key = super::digest_bytes(id);
        let mut replay = lock(&self.replay);
        let max = replay.max;
        replay
            .first_use(key, now.saturating_add(duration_ms(ttl)), now)
            .ok_or(StateError::ReplayCacheFull(
                u64::try_from(max).unwrap_or(u64::MAX),
            ))
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

    async fn put_code(&self, code: &str, record: &str, ttl: Duration) -> Result<(), StateError> {
        let now = self.tick();
        lock(&self.codes).put(
            &super::digest(code),
            (record.to_string(), false),
            now.saturating_add(duration_ms(ttl)),
            now,
        );
        Ok(())
    }

    async fn redeem_code(&self, code: &str) -> Result<Redeemed, StateError> {
        let now = self.tick();
        let mut codes = lock(&self.codes);
        Ok(match codes.get_mut(&super::digest(code), now) {
            None => Redeemed::Unknown,
            Some((record, true)) => Redeemed::Replayed(record.clone()),
            Some((record, redeemed)) => {
                *redeemed = true;
                Redeemed::Fresh(record.clone())
            }
        })
    }

    async fn put_family(
        &self,
        family: &str,
        current: &str,
        record: &str,
        ttl: Duration,
    ) -> Result<(), StateError> {
        let now = self.tick();
        lock(&self.families).put(
            family,
            (current.to_string(), record.to_string()),
            now.saturating_add(duration_ms(ttl)),
            now,
        );
        Ok(())
    }

    async fn rotate_refresh(
        &self,
        family: &str,
        presented: &str,
        next: &str,
    ) -> Result<Rotation, StateError> {
        let now = self.tick();
        let mut families = lock(&self.families);
        let rotation = match families.get_mut(family, now) {
            None => return Ok(Rotation::Unknown),
            Some((current, record)) if crate::secret::constant_time_eq(current, presented) => {
                *current = next.to_string();
                Rotation::Rotated(record.clone())
            }
            Some(_) => Rotation::Reused,
        };
        if rotation == Rotation::Reused {
            families.map.remove(family);
        }
        Ok(rotation)
    }

    async fn read_family(&self, family: &str) -> Result<Option<(String, String)>, StateError> {
        let now = self.tick();
        Ok(lock(&self.families).get_mut(family, now).map(|v| v.clone()))
    }

    async fn revoke_family(&self, family: &str) -> Result<bool, StateError> {
        let now = self.tick();
        let mut families = lock(&self.families);
        let live = families.get_mut(family, now).is_some();
        families.map.remove(family);
        Ok(live)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::StateStore;
    use std::sync::Arc;

    conformance_tests!(async {
        let store = MemoryStore::new().with_replay_max(crate::state::conformance::REPLAY_MAX);
        (Arc::new(store) as Arc<dyn StateStore>, ())
    });

    #[tokio::test]
    async fn capacity_is_bounded() {
        let store = MemoryStore::with_capacity(50).with_replay_max(50);
        for i in 0..500 {
            let first = store
                .first_use(&format!("id{i}"), Duration::from_secs(60))
                .await;
            if i < 50 {
                assert!(first.expect("room"));
            } else {
                assert!(matches!(first, Err(StateError::ReplayCacheFull(50))));
            }
        }
        {
            let replay = lock(&store.replay);
            assert_eq!((replay.live.len(), replay.by_expiry.len()), (50, 50));
        }
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

    #[tokio::test(start_paused = true)]
    async fn a_full_replay_cache_makes_room_only_as_ids_expire_in_expiry_order() {
        let store = MemoryStore::new().with_replay_max(3);
        let secs = Duration::from_secs;
        for (id, ttl) in [("long", 30), ("short", 5), ("middle", 10)] {
            assert!(store.first_use(id, secs(ttl)).await.expect("room"));
        }
        assert!(matches!(
            store.first_use("new", secs(60)).await,
            Err(StateError::ReplayCacheFull(3))
        ));
        // Held ids are still replays while full.
        assert!(!store.first_use("long", secs(30)).await.expect("held"));
        tokio::time::advance(secs(6)).await;
        // "short" expired: one place, taken by the first new id; the next is refused.
        assert!(store.first_use("new", secs(60)).await.expect("room"));
        assert!(store.first_use("new2", secs(60)).await.is_err());
        assert!(!store.first_use("middle", secs(10)).await.expect("held"));
        tokio::time::advance(secs(5)).await;
        assert!(store.first_use("new2", secs(60)).await.expect("room"));
        let replay = lock(&store.replay);
        assert_eq!(replay.live.len(), 3);
        assert_eq!(replay.by_expiry.len(), 3, "expired ids leave the index too");
    }

    #[tokio::test(start_paused = true)]
    async fn a_nodes_own_replay_memory_is_bounded_the_same_way() {
        let local = LocalReplay::new(2, Duration::from_secs(10));
        assert_eq!(local.ttl(), Duration::from_secs(10));
        assert_eq!(local.first_use("a"), Some(true));
        assert_eq!(local.first_use("a"), Some(false));
        assert_eq!(local.first_use("b"), Some(true));
        assert_eq!(local.first_use("c"), None, "full: refused, not stored");
        assert!(local.contains("a") && !local.contains("c"));
        assert_eq!(local.len(), 2);
        tokio::time::advance(Duration::from_secs(11)).await;
        assert!(local.is_empty());
        assert_eq!(local.first_use("c"), Some(true));
    }

    #[tokio::test]
    async fn replay_ids_are_kept_as_digests_whatever_their_length() {
        let store = MemoryStore::new();
        let long = "x".repeat(4096);
        assert!(store
            .first_use(&long, Duration::from_secs(60))
            .await
            .expect("memory"));
        assert!(!store
            .first_use(&long, Duration::from_secs(60))
            .await
            .expect("memory"));
        let replay = lock(&store.replay);
        assert!(replay.live.contains_key(&crate::state::digest_bytes(&long)));
    }
}
