//! The Redis / Valkey state store, shared by every node of a farm.
//!
//! Each operation is one round trip: the lockout operations and the replay cache are Lua
//! scripts (`lua/*.lua`, sent with `EVALSHA`, loaded on first use) that mirror the memory
//! store's Rust, the others single commands (`SET PX`, `EXISTS`, `HGETALL`, `HDEL`). Lockout time
//! comes from the caller (`now`), never from the server's clock; expiry (the keys' TTLs and the
//! replay cache's scores) is the server's clock, the one every node shares. Every key has a
//! TTL.
//!
//! Keys, under the configured prefix (`altgate:` by default); no user input shapes a key (each
//! names or holds a SHA-256):
//! - `{prefix}lockout:{sha256(account)}`: hash with `fc`, `fb`, `uc`, `ub` (familiar and
//!   unfamiliar bad-password count and last bad time in ms) and `ip:{address}` = last seen ms.
//! - `{prefix}replay`: the replay cache, one sorted set for the farm: members `sha256(id)`,
//!   scored by expiry (ms). It holds at most `state.replay_cache_max_entries` live members; at
//!   the cap a new id is refused, none evicted (`lua/first_use.lua`).
//! - `{prefix}revoked:{sha256(session id)}`: plain strings.
//! - `{prefix}attempt:{id}`: one counted sign-in attempt (its class and times), or
//!   `cancelled`, for [`ATTEMPT_RECORD_TTL`]: see below.
//!
//! The connection (`link`) is kept by a background task, to a fixed URL or to the master the
//! sentinels name, and replaced after connection errors, `READONLY` and repeated timeouts.
//! Every call is bounded by `state.timeout`. TLS verifies the server's certificate against
//! `ca_file` or the system roots; there is no way to switch that off.
//!
//! What a failed write must not do, and how (`deferred`):
//! - An attempt that timed out must never count later (a stalled server runs the script when it
//!   wakes up, long after the user was told anything): every attempt carries a random id; the
//!   node that gave up on it writes a cancellation for that id once the store answers again,
//!   which takes the count back if the script ran, and makes the script do nothing if it runs
//!   after.
//! - A success or take-back that failed is written again once the store answers.
//! - A revocation (sign-out) must survive a failover: with `state.replica_acks`, it is written
//!   on its own connection followed by `WAIT`, and counts as written only when enough replicas
//!   have it. One that is not written (or not confirmed) is kept on this node, which treats the
//!   session as revoked, and written again until it is.

use super::{
    attempt_ips, canonical_ips, digest, duration_ms, from_ms, to_ms, AccountActivity,
    AttemptDecision, Counted, LocationClass, LockoutPolicy, Record, Redeemed, ResetScope, Rotation,
    StateError, StateStore, Verdict,
};
use crate::config::state::RedisConfig;
use crate::events::Events;
use crate::metrics::StateMetrics;
use async_trait::async_trait;
use deferred::{Deferred, Pending};
use link::{Failure, Link};
use redis::aio::MultiplexedConnection;
use redis::Script;
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

mod deferred;
mod link;

const ATTEMPT: &str = include_str!("../lua/attempt.lua");
const SUCCEEDED: &str = include_str!("../lua/succeeded.lua");
const NOT_COUNTED: &str = concat!(
    include_str!("../lua/take_back.lua"),
    include_str!("../lua/not_counted.lua")
);
const FIRST_USE: &str = include_str!("../lua/first_use.lua");
const REDEEM_CODE: &str = include_str!("../lua/redeem_code.lua");
const ROTATE_REFRESH: &str = include_str!("../lua/rotate_refresh.lua");
const CANCEL: &str = concat!(
    include_str!("../lua/take_back.lua"),
    include_str!("../lua/cancel.lua")
);

/// How long a counted attempt's record (or its cancellation) is kept: the longest a node can
/// wait for a stalled store and still cancel an attempt it gave up on.
pub const ATTEMPT_RECORD_TTL: Duration = Duration::from_secs(120);

/// The Redis / Valkey state store.
pub struct RedisStore {
    core: Arc<Core>,
    deferred: Arc<Deferred>,
}

/// The store's connection and scripts, shared with its deferred writer.
struct Core {
    link: Arc<Link>,
    prefix: String,
    timeout: Duration,
    attempt: Script,
    succeeded: Script,
    not_counted: Script,
    first_use: Script,
    cancel: Script,
    redeem_code: Script,
    rotate_refresh: Script,
    /// The most live ids the replay cache holds.
    replay_max: std::sync::atomic::AtomicU64,
    /// Replicas that must confirm a revocation.
    replica_acks: u32,
}

/// What a failed call says about the connection, if anything.
fn failure_of(e: &redis::RedisError) -> Option<Failure> {
    if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::ReadOnly)
        || e.to_string().contains("READONLY")
    {
        Some(Failure::ReadOnly)
    } else if e.is_timeout() {
        Some(Failure::Timeout)
    } else if e.is_io_error()
        || e.is_connection_refusal()
        || e.is_connection_dropped()
        || e.is_unrecoverable_error()
    {
        Some(Failure::Connection)
    } else {
        None
    }
}

fn map_error(e: &redis::RedisError) -> StateError {
    match failure_of(e) {
        Some(Failure::Timeout) | Some(Failure::Connection) | Some(Failure::ReadOnly) => {
            StateError::Unavailable(e.to_string())
        }
        None => StateError::Protocol(e.to_string()),
    }
}

fn class_arg(class: LocationClass) -> &'static str {
    match class {
        LocationClass::Familiar => "1",
        LocationClass::Unfamiliar => "0",
    }
}

fn millis(v: i64) -> Option<u64> {
    u64::try_from(v).ok()
}

fn count(v: i64) -> u32 {
    u32::try_from(v.max(0)).unwrap_or(u32::MAX)
}

impl RedisStore {
    /// A store for `config`, keys under `key_prefix`, every call bounded by `timeout`. Its
    /// connection keeper starts at once and connects in the background, so altgate starts
    /// while the server is down; must be called within a Tokio runtime.
    pub fn new(
        config: &RedisConfig,
        key_prefix: &str,
        timeout: Duration,
        events: Events,
        metrics: StateMetrics,
    ) -> Result<Self, StateError> {
        // Wakes the deferred writer when the store answers again (a new connection).
        let wake = Arc::new(tokio::sync::Notify::new());
        let link = Link::start(
            config,
            timeout,
            wake.clone(),
            events.clone(),
            metrics.clone(),
        )?;
        let core = Arc::new(Core {
            link,
            prefix: key_prefix.to_string(),
            timeout,
            attempt: Script::new(ATTEMPT),
            succeeded: Script::new(SUCCEEDED),
            not_counted: Script::new(NOT_COUNTED),
            first_use: Script::new(FIRST_USE),
            cancel: Script::new(CANCEL),
            redeem_code: Script::new(REDEEM_CODE),
            rotate_refresh: Script::new(ROTATE_REFRESH),
            replay_max: crate::config::state::REPLAY_CACHE_DEFAULT.into(),
            replica_acks: config.replica_acks,
        });
        let deferred = Deferred::start(&core, wake, events, metrics);
        Ok(RedisStore { core, deferred })
    }

    /// The same store whose replay cache holds at most `max` live ids
    /// (`state.replay_cache_max_entries`, for the whole farm). Call before first use.
    pub fn with_replay_max(self, max: u64) -> Self {
        self.core
            .replay_max
            .store(max.max(1), std::sync::atomic::Ordering::Relaxed);
        self
    }

    /// `host:port` of the data node in use (the master, with sentinel), if connected.
    pub fn node(&self) -> Option<String> {
        self.core.link.address()
    }

    /// Writes waiting to be written again.
    pub fn deferred_writes(&self) -> usize {
        self.deferred.len()
    }
}

impl Core {
    fn key(&self, kind: &str, value: &str) -> String {
        format!("{}{kind}:{}", self.prefix, digest(value))
    }

    /// Runs `call` on the current connection within the timeout (the wait for a connection
    /// included), and tells the link what a failure says about the connection. An
    /// `idempotent` call that met a dead connection (a server restarted since its last use) is
    /// sent once more on the next connection, within the same budget; any other is not (it may
    /// have run).
    async fn with_conn<T, F, Fut>(&self, idempotent: bool, call: F) -> Result<T, StateError>
    where
        F: Fn(MultiplexedConnection) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let started = tokio::time::Instant::now();
        let mut retry = idempotent;
        loop {
            let left = self.timeout.saturating_sub(started.elapsed());
            let current = self.link.connection(left).await?;
            let left = self.timeout.saturating_sub(started.elapsed());
            match tokio::time::timeout(left, call(current.conn.clone())).await {
                Err(_) => {
                    self.link.failed(&current, Failure::Timeout);
                    return Err(StateError::Timeout(self.timeout));
                }
                Ok(Ok(v)) => {
                    self.link.succeeded();
                    return Ok(v);
                }
                Ok(Err(e)) => {
                    let failure = failure_of(&e);
                    if let Some(f) = failure {
                        self.link.failed(&current, f);
                    }
                    if retry && matches!(failure, Some(Failure::Connection | Failure::ReadOnly)) {
                        retry = false;
                        continue;
                    }
                    return Err(map_error(&e));
                }
            }
        }
    }

    /// A command that may be sent twice (reads, `SET`, `HDEL`, `PING`).
    async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, StateError> {
        self.with_conn(
            true,
            |mut conn| async move { cmd.query_async(&mut conn).await },
        )
        .await
    }

    /// A script, sent once (counting scripts must not run twice).
    async fn invoke<T: redis::FromRedisValue>(
        &self,
        call: &redis::ScriptInvocation<'_>,
    ) -> Result<T, StateError> {
        self.with_conn(false, |mut conn| async move {
            call.invoke_async(&mut conn).await
        })
        .await
    }

    /// Cancels attempt `id` of `account`: takes its count back if it was counted, and makes it
    /// do nothing if it has not run yet.
    async fn cancel_attempt(&self, account: &str, id: &str) -> Result<(), StateError> {
        let mut call = self.cancel.prepare_invoke();
        call.key(self.key("lockout", account))
            .key(self.attempt_key(id))
            .arg(duration_ms(ATTEMPT_RECORD_TTL));
        let _: i64 = self.invoke(&call).await?;
        Ok(())
    }

    fn attempt_key(&self, id: &str) -> String {
        format!("{}attempt:{id}", self.prefix)
    }

    async fn succeeded(
        &self,
        account: &str,
        class: LocationClass,
        client_ips: &[IpAddr],
        now: SystemTime,
        policy: &LockoutPolicy,
    ) -> Result<(), StateError> {
        self.success_script(account, class_arg(class), &[], client_ips, now, policy)
            .await
    }

    /// See [`StateStore::set_familiar`]: the success script touching no count.
    async fn set_familiar(
        &self,
        account: &str,
        add: &[IpAddr],
        remove: &[IpAddr],
        now: SystemTime,
        policy: &LockoutPolicy,
    ) -> Result<(), StateError> {
        self.success_script(account, "-1", remove, add, now, policy)
            .await
    }

    /// `lua/succeeded.lua`: resets `class`'s count (`1`, `0`; `-1` none), forgets `remove`
    /// and makes `add` familiar as of `now`.
    async fn success_script(
        &self,
        account: &str,
        class: &str,
        remove: &[IpAddr],
        add: &[IpAddr],
        now: SystemTime,
        policy: &LockoutPolicy,
    ) -> Result<(), StateError> {
        let remove = canonical_ips(remove, usize::MAX);
        let mut call = self.succeeded.prepare_invoke();
        call.key(self.key("lockout", account))
            .arg(to_ms(now))
            .arg(class)
            .arg(duration_ms(policy.familiar_location_lifetime))
            .arg(policy.max_familiar_locations)
            .arg(duration_ms(policy.record_lifetime()))
            .arg(remove.len());
        for ip in remove {
            call.arg(ip.to_string());
        }
        for ip in canonical_ips(add, policy.max_familiar_locations as usize) {
            call.arg(ip.to_string());
        }
        let _: i64 = self.invoke(&call).await?;
        Ok(())
    }

    async fn not_counted(&self, account: &str, counted: &Counted) -> Result<(), StateError> {
        let mut call = self.not_counted.prepare_invoke();
        call.key(self.key("lockout", account))
            .arg(class_arg(counted.class))
            .arg(counted.at_ms)
            .arg(
                counted
                    .previous_last_bad_ms
                    .map_or(-1, |m| i64::try_from(m).unwrap_or(i64::MAX)),
            );
        let _: i64 = self.invoke(&call).await?;
        Ok(())
    }

    /// Writes the revocation of the session whose digest is `digest`, confirmed by
    /// `replica_acks` replicas (`WAIT`, on the link's own connection for confirmed writes, so
    /// the wait holds up no other operation).
    async fn revoke(&self, digest: &str, ttl: Duration) -> Result<(), StateError> {
        let key = format!("{}revoked:{digest}", self.prefix);
        let acks = self.replica_acks;
        if acks == 0 {
            let _: Option<String> = self
                .query(
                    redis::cmd("SET")
                        .arg(&key)
                        .arg(1)
                        .arg("PX")
                        .arg(duration_ms(ttl)),
                )
                .await?;
            return Ok(());
        }
        let current = self.link.connection(self.timeout).await?;
        // WAIT's own bound is the store timeout (never 0, which would wait forever); the write
        // before it has another.
        let wait_ms = duration_ms(self.timeout);
        let mut pipe = redis::pipe();
        pipe.cmd("SET")
            .arg(&key)
            .arg(1)
            .arg("PX")
            .arg(duration_ms(ttl))
            .ignore()
            .cmd("WAIT")
            .arg(acks)
            .arg(wait_ms);
        let mut conn = current.confirm.clone();
        let budget = self.timeout + Duration::from_millis(wait_ms);
        let result: redis::RedisResult<(i64,)> =
            match tokio::time::timeout(budget, pipe.query_async(&mut conn)).await {
                Ok(r) => r,
                Err(_) => {
                    self.link.failed(&current, Failure::Timeout);
                    return Err(StateError::Timeout(self.timeout));
                }
            };
        match result {
            Ok((confirmed,)) if confirmed >= i64::from(acks) => Ok(()),
            Ok((confirmed,)) => Err(StateError::NotReplicated {
                wanted: acks,
                confirmed: u32::try_from(confirmed.max(0)).unwrap_or(0),
            }),
            Err(e) => {
                if let Some(f) = failure_of(&e) {
                    self.link.failed(&current, f);
                }
                Err(map_error(&e))
            }
        }
    }
}

/// A random attempt id (128 bits, hex).
fn attempt_id() -> String {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 16];
    // The system RNG does not fail on a running Linux; a zero id would still be one attempt's
    // own record, only less unlikely to meet another's.
    let _ = ring::rand::SystemRandom::new().fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn parse_record(fields: Vec<(String, String)>) -> Result<Record, StateError> {
    let mut r = Record::default();
    let num = |name: &str, v: &str| {
        v.parse::<i64>()
            .map_err(|_| StateError::Protocol(format!("field {name} holds {v:?}")))
    };
    for (name, value) in fields {
        match name.as_str() {
            "fc" => r.familiar_count = count(num(&name, &value)?),
            "fb" => r.familiar_last_bad = millis(num(&name, &value)?),
            "uc" => r.unfamiliar_count = count(num(&name, &value)?),
            "ub" => r.unfamiliar_last_bad = millis(num(&name, &value)?),
            other => {
                if let Some(ip) = other.strip_prefix("ip:").and_then(|a| a.parse().ok()) {
                    if let Some(seen) = millis(num(&name, &value)?) {
                        r.ips.push((ip, seen));
                    }
                }
            }
        }
    }
    Ok(r)
}

#[async_trait]
impl StateStore for RedisStore {
    fn backend(&self) -> &'static str {
        "redis"
    }

    fn health(&self) -> super::StoreHealth {
        let node = self.node();
        super::StoreHealth {
            backend: "redis",
            connected: node.is_some(),
            node,
            deferred_writes: self.deferred_writes(),
        }
    }

    async fn attempt(
        &self,
        account: &str,
        client_ips: &[IpAddr],
        now: SystemTime,
        policy: &LockoutPolicy,
    ) -> Result<AttemptDecision, StateError> {
        let core = &self.core;
        let id = attempt_id();
        let window = duration_ms(policy.observation_window);
        let mut call = core.attempt.prepare_invoke();
        call.key(core.key("lockout", account))
            .key(core.attempt_key(&id))
            .arg(to_ms(now))
            .arg(window)
            .arg(policy.threshold)
            .arg(policy.familiar_threshold)
            .arg(duration_ms(policy.familiar_location_lifetime))
            .arg(duration_ms(policy.record_lifetime()))
            .arg(duration_ms(ATTEMPT_RECORD_TTL));
        for ip in attempt_ips(client_ips, policy) {
            call.arg(ip.to_string());
        }
        let reply: Vec<i64> = match core.invoke(&call).await {
            Ok(r) => r,
            Err(e) => {
                // It may still run (a stalled server, a reply lost with its connection): it
                // must not count, now that nobody waits for it.
                if matches!(e, StateError::Timeout(_) | StateError::Unavailable(_)) {
                    self.deferred.push(Pending::CancelAttempt {
                        account: account.to_string(),
                        id,
                    });
                }
                return Err(e);
            }
        };
        let [class, verdict, n, last, previous] = reply.as_slice() else {
            return Err(StateError::Protocol(format!(
                "attempt script returned {reply:?}"
            )));
        };
        let class = if *class == 1 {
            LocationClass::Familiar
        } else {
            LocationClass::Unfamiliar
        };
        let verdict = match verdict {
            0 => Verdict::Allowed,
            1 => Verdict::Probe,
            2 => Verdict::Refused,
            other => {
                return Err(StateError::Protocol(format!(
                    "attempt script returned verdict {other}"
                )))
            }
        };
        let n = count(*n);
        let last = millis(*last);
        let threshold = class.threshold(policy);
        Ok(AttemptDecision {
            class,
            verdict,
            count: n,
            threshold,
            last_bad: last.map(from_ms),
            locked_until: last
                .filter(|_| n >= threshold)
                .map(|l| from_ms(l.saturating_add(window))),
            counted: match (verdict.lets_through(), last) {
                (true, Some(at_ms)) => Some(Counted {
                    class,
                    at_ms,
                    previous_last_bad_ms: millis(*previous),
                }),
                _ => None,
            },
        })
    }

    async fn succeeded(
        &self,
        account: &str,
        class: LocationClass,
        client_ips: &[IpAddr],
        now: SystemTime,
        policy: &LockoutPolicy,
    ) -> Result<(), StateError> {
        let result = self
            .core
            .succeeded(account, class, client_ips, now, policy)
            .await;
        if let Err(StateError::Timeout(_) | StateError::Unavailable(_)) = &result {
            self.deferred.push(Pending::Succeeded {
                account: account.to_string(),
                class,
                client_ips: client_ips.to_vec(),
                now,
                policy: *policy,
            });
        }
        result
    }

    async fn not_counted(&self, account: &str, counted: &Counted) -> Result<(), StateError> {
        let result = self.core.not_counted(account, counted).await;
        if let Err(StateError::Timeout(_) | StateError::Unavailable(_)) = &result {
            self.deferred.push(Pending::NotCounted {
                account: account.to_string(),
                counted: *counted,
            });
        }
        result
    }

    async fn status(
        &self,
        account: &str,
        now: SystemTime,
        policy: &LockoutPolicy,
    ) -> Result<AccountActivity, StateError> {
        let core = &self.core;
        let fields: Vec<(String, String)> = core
            .query(redis::cmd("HGETALL").arg(core.key("lockout", account)))
            .await?;
        Ok(parse_record(fields)?.activity(to_ms(now), policy))
    }

    async fn reset(&self, account: &str, scope: ResetScope) -> Result<(), StateError> {
        let core = &self.core;
        let fields: &[&str] = match scope {
            ResetScope::Familiar => &["fc", "fb"],
            ResetScope::Unfamiliar => &["uc", "ub"],
            ResetScope::Both => &["fc", "fb", "uc", "ub"],
        };
        let _: i64 = core
            .query(
                redis::cmd("HDEL")
                    .arg(core.key("lockout", account))
                    .arg(fields),
            )
            .await?;
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
        self.core
            .set_familiar(account, add, remove, now, policy)
            .await
    }

    async fn first_use(&self, id: &str, ttl: Duration) -> Result<bool, StateError> {
        let core = &self.core;
        let max = core.replay_max.load(std::sync::atomic::Ordering::Relaxed);
        let mut call = core.first_use.prepare_invoke();
        call.key(format!("{}replay", core.prefix))
            .arg(digest(id))
            .arg(duration_ms(ttl))
            .arg(max);
        let answer: i64 = core.invoke(&call).await?;
        match answer {
            1 => Ok(true),
            0 => Ok(false),
            2 => Err(StateError::ReplayCacheFull(max)),
            other => Err(StateError::Protocol(format!(
                "first_use script returned {other}"
            ))),
        }
    }

    async fn revoke(&self, session_id: &str, ttl: Duration) -> Result<(), StateError> {
        let digest = digest(session_id);
        let result = self.core.revoke(&digest, ttl).await;
        if result.is_err() {
            // Kept here (this node treats the session as revoked) and written again until the
            // store, and enough replicas, have it.
            self.deferred.push(Pending::Revoke {
                digest,
                until: tokio::time::Instant::now() + ttl,
                ttl,
            });
        }
        result
    }

    async fn is_revoked(&self, session_id: &str) -> Result<bool, StateError> {
        let digest = digest(session_id);
        if self.deferred.revoked_here(&digest) {
            return Ok(true);
        }
        let core = &self.core;
        let n: i64 = core
            .query(redis::cmd("EXISTS").arg(format!("{}revoked:{digest}", core.prefix)))
            .await?;
        Ok(n > 0)
    }

    async fn ping(&self) -> Result<(), StateError> {
        let _: String = self.core.query(&redis::cmd("PING")).await?;
        Ok(())
    }

    async fn put_code(&self, code: &str, record: &str, ttl: Duration) -> Result<(), StateError> {
        let core = &self.core;
        let _: () = core
            .query(
                redis::cmd("SET")
                    .arg(core.key("code", code))
                    .arg(record)
                    .arg("PX")
                    .arg(duration_ms(ttl).max(1)),
            )
            .await?;
        Ok(())
    }

    async fn redeem_code(&self, code: &str) -> Result<Redeemed, StateError> {
        let core = &self.core;
        let key = core.key("code", code);
        let mut call = core.redeem_code.prepare_invoke();
        call.key(&key).key(format!("{key}:redeemed"));
        let reply: Vec<String> = core.invoke(&call).await?;
        match reply.as_slice() {
            [w] if w == "unknown" => Ok(Redeemed::Unknown),
            [w, record] if w == "fresh" => Ok(Redeemed::Fresh(record.clone())),
            [w, record] if w == "replayed" => Ok(Redeemed::Replayed(record.clone())),
            _ => Err(StateError::Protocol(format!(
                "redeem_code script returned {} values",
                reply.len()
            ))),
        }
    }

    async fn put_family(
        &self,
        family: &str,
        current: &str,
        record: &str,
        ttl: Duration,
    ) -> Result<(), StateError> {
        let core = &self.core;
        let key = core.key("family", family);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("HSET")
            .arg(&key)
            .arg("c")
            .arg(current)
            .arg("r")
            .arg(record)
            .ignore()
            .cmd("PEXPIRE")
            .arg(&key)
            .arg(duration_ms(ttl).max(1))
            .ignore();
        core.with_conn(true, |mut conn| {
            let pipe = pipe.clone();
            async move { pipe.query_async::<()>(&mut conn).await }
        })
        .await
    }

    async fn rotate_refresh(
        &self,
        family: &str,
        presented: &str,
        next: &str,
    ) -> Result<Rotation, StateError> {
        let core = &self.core;
        let mut call = core.rotate_refresh.prepare_invoke();
        call.key(core.key("family", family))
            .arg(presented)
            .arg(next);
        let reply: Vec<String> = core.invoke(&call).await?;
        match reply.as_slice() {
            [w] if w == "unknown" => Ok(Rotation::Unknown),
            [w] if w == "reused" => Ok(Rotation::Reused),
            [w, record] if w == "rotated" => Ok(Rotation::Rotated(record.clone())),
            _ => Err(StateError::Protocol(format!(
                "rotate_refresh script returned {} values",
                reply.len()
            ))),
        }
    }

    async fn read_family(&self, family: &str) -> Result<Option<(String, String)>, StateError> {
        let core = &self.core;
        let fields: Vec<Option<String>> = core
            .query(
                redis::cmd("HMGET")
                    .arg(core.key("family", family))
                    .arg("c")
                    .arg("r"),
            )
            .await?;
        Ok(match fields.as_slice() {
            [Some(c), Some(r)] => Some((c.clone(), r.clone())),
            _ => None,
        })
    }

    async fn revoke_family(&self, family: &str) -> Result<bool, StateError> {
        let core = &self.core;
        let n: i64 = core
            .query(redis::cmd("DEL").arg(core.key("family", family)))
            .await?;
        Ok(n > 0)
    }
}

#[cfg(test)]
pub(crate) mod tests;
