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
//!
//! The connection is a [`ConnectionManager`]: connected on first use, reconnected by itself
//! after a failure. Every call is bounded by `state.timeout`. `rediss://` verifies the server's
//! certificate against `ca_file` or the system roots; there is no way to switch that off.

use super::{
    attempt_ips, canonical_ips, digest, duration_ms, from_ms, to_ms, AccountActivity,
    AttemptDecision, Counted, LocationClass, LockoutPolicy, Record, ResetScope, StateError,
    StateStore, Verdict,
};
use crate::config::state::RedisConfig;
use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, IntoConnectionInfo, Script, TlsCertificates};
use std::future::Future;
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

const ATTEMPT: &str = include_str!("lua/attempt.lua");
const SUCCEEDED: &str = include_str!("lua/succeeded.lua");
const NOT_COUNTED: &str = include_str!("lua/not_counted.lua");
const FIRST_USE: &str = include_str!("lua/first_use.lua");

/// The Redis / Valkey state store.
pub struct RedisStore {
    conn: ConnectionManager,
    prefix: String,
    timeout: Duration,
    attempt: Script,
    succeeded: Script,
    not_counted: Script,
    first_use: Script,
    /// The most live ids the replay cache holds.
    replay_max: u64,
}

fn map_error(e: redis::RedisError) -> StateError {
    if e.is_io_error()
        || e.is_connection_refusal()
        || e.is_connection_dropped()
        || e.is_timeout()
        || e.is_unrecoverable_error()
    {
        StateError::Unavailable(e.to_string())
    } else {
        StateError::Protocol(e.to_string())
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
    /// A store for `config`, keys under `key_prefix`, every call bounded by `timeout`. Does not
    /// connect yet (the first operation does), so altgate starts while the server is down; must
    /// be called within a Tokio runtime.
    pub fn new(
        config: &RedisConfig,
        key_prefix: &str,
        timeout: Duration,
    ) -> Result<Self, StateError> {
        let setup = |e: redis::RedisError| StateError::Setup(e.to_string());
        let mut info = config.url.as_str().into_connection_info().map_err(setup)?;
        let mut settings = info.redis_settings().clone();
        if let Some(user) = &config.username {
            settings = settings.set_username(user);
        }
        if let Some(password) = &config.password {
            settings = settings.set_password(password.expose());
        }
        info = info.set_redis_settings(settings);
        let client = if config.tls {
            // rustls needs a process-wide provider; altgate uses ring everywhere. Fails
            // harmlessly when one is installed already.
            let _ = rustls::crypto::ring::default_provider().install_default();
            let root_cert = match &config.ca_file {
                Some(path) => Some(std::fs::read(path).map_err(|e| {
                    StateError::Setup(format!("cannot read {}: {e}", path.display()))
                })?),
                None => None,
            };
            Client::build_with_tls(
                info,
                TlsCertificates {
                    client_tls: None,
                    root_cert,
                },
            )
            .map_err(setup)?
        } else {
            Client::open(info).map_err(setup)?
        };
        let manager = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(2)
            .set_min_delay(Duration::from_millis(20))
            .set_max_delay(Duration::from_secs(1));
        let conn = client.get_connection_manager_lazy(manager).map_err(setup)?;
        Ok(RedisStore {
            conn,
            prefix: key_prefix.to_string(),
            timeout,
            attempt: Script::new(ATTEMPT),
            succeeded: Script::new(SUCCEEDED),
            not_counted: Script::new(NOT_COUNTED),
            first_use: Script::new(FIRST_USE),
            replay_max: crate::config::state::REPLAY_CACHE_DEFAULT,
        })
    }

    /// The same store whose replay cache holds at most `max` live ids
    /// (`state.replay_cache_max_entries`, for the whole farm).
    pub fn with_replay_max(self, max: u64) -> Self {
        RedisStore {
            replay_max: max.max(1),
            ..self
        }
    }

    fn key(&self, kind: &str, value: &str) -> String {
        format!("{}{kind}:{}", self.prefix, digest(value))
    }

    async fn bounded<T>(
        &self,
        call: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, StateError> {
        match tokio::time::timeout(self.timeout, call).await {
            Err(_) => Err(StateError::Timeout(self.timeout)),
            Ok(result) => result.map_err(map_error),
        }
    }

    async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, StateError> {
        let mut conn = self.conn.clone();
        self.bounded(cmd.query_async(&mut conn)).await
    }
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

    async fn attempt(
        &self,
        account: &str,
        client_ips: &[IpAddr],
        now: SystemTime,
        policy: &LockoutPolicy,
    ) -> Result<AttemptDecision, StateError> {
        let window = duration_ms(policy.observation_window);
        let mut call = self.attempt.prepare_invoke();
        call.key(self.key("lockout", account))
            .arg(to_ms(now))
            .arg(window)
            .arg(policy.threshold)
            .arg(policy.familiar_threshold)
            .arg(duration_ms(policy.familiar_location_lifetime))
            .arg(duration_ms(policy.record_lifetime()));
        for ip in attempt_ips(client_ips, policy) {
            call.arg(ip.to_string());
        }
        let mut conn = self.conn.clone();
        let reply: Vec<i64> = self.bounded(call.invoke_async(&mut conn)).await?;
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
            _ => Verdict::Refused,
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
        let mut call = self.succeeded.prepare_invoke();
        call.key(self.key("lockout", account))
            .arg(to_ms(now))
            .arg(class_arg(class))
            .arg(duration_ms(policy.familiar_location_lifetime))
            .arg(policy.max_familiar_locations)
            .arg(duration_ms(policy.record_lifetime()));
        for ip in canonical_ips(client_ips, policy.max_familiar_locations as usize) {
            call.arg(ip.to_string());
        }
        let mut conn = self.conn.clone();
        let _: i64 = self.bounded(call.invoke_async(&mut conn)).await?;
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
        let mut conn = self.conn.clone();
        let _: i64 = self.bounded(call.invoke_async(&mut conn)).await?;
        Ok(())
    }

    async fn status(
        &self,
        account: &str,
        now: SystemTime,
        policy: &LockoutPolicy,
    ) -> Result<AccountActivity, StateError> {
        let fields: Vec<(String, String)> = self
            .query(redis::cmd("HGETALL").arg(self.key("lockout", account)))
            .await?;
        Ok(parse_record(fields)?.activity(to_ms(now), policy))
    }

    async fn reset(&self, account: &str, scope: ResetScope) -> Result<(), StateError> {
        let fields: &[&str] = match scope {
            ResetScope::Familiar => &["fc", "fb"],
            ResetScope::Unfamiliar => &["uc", "ub"],
            ResetScope::Both => &["fc", "fb", "uc", "ub"],
        };
        let _: i64 = self
            .query(
                redis::cmd("HDEL")
                    .arg(self.key("lockout", account))
                    .arg(fields),
            )
            .await?;
        Ok(())
    }

    async fn first_use(&self, id: &str, ttl: Duration) -> Result<bool, StateError> {
        let mut call = self.first_use.prepare_invoke();
        call.key(format!("{}replay", self.prefix))
            .arg(digest(id))
            .arg(duration_ms(ttl))
            .arg(self.replay_max);
        let mut conn = self.conn.clone();
        let answer: i64 = self.bounded(call.invoke_async(&mut conn)).await?;
        match answer {
            1 => Ok(true),
            0 => Ok(false),
            2 => Err(StateError::ReplayCacheFull(self.replay_max)),
            other => Err(StateError::Protocol(format!(
                "first_use script returned {other}"
            ))),
        }
    }

    async fn revoke(&self, session_id: &str, ttl: Duration) -> Result<(), StateError> {
        let _: Option<String> = self
            .query(
                redis::cmd("SET")
                    .arg(self.key("revoked", session_id))
                    .arg(1)
                    .arg("PX")
                    .arg(duration_ms(ttl)),
            )
            .await?;
        Ok(())
    }

    async fn is_revoked(&self, session_id: &str) -> Result<bool, StateError> {
        let n: i64 = self
            .query(redis::cmd("EXISTS").arg(self.key("revoked", session_id)))
            .await?;
        Ok(n > 0)
    }

    async fn ping(&self) -> Result<(), StateError> {
        let _: String = self.query(&redis::cmd("PING")).await?;
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests;
