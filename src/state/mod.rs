//! Farm-wide state: extranet lockout counts and familiar locations per account, the replay cache
//! and revoked sessions, behind one trait, [`StateStore`], used as `Arc<dyn StateStore>`.
//!
//! Two implementations: [`memory::MemoryStore`] (in process, the default, right for one node)
//! and [`redis::RedisStore`] (Redis or Valkey shared by every node). Every operation is one
//! atomic step (one round trip for Redis: a Lua script or a single command), so nodes racing on
//! the same account cannot slip past a threshold, and every record expires on its own.
//!
//! The lockout algorithm (AD FS Extranet Smart Lockout) is written twice, in Rust for the memory
//! store and in Lua for Redis; one conformance suite runs against both. Time is a parameter
//! (`now`), never read inside the algorithm, so tests drive windows and expiry explicitly.
//!
//! Account keys, replay ids and session ids are hashed (SHA-256) before they become storage keys,
//! so no user input shapes a key.

#[cfg(test)]
#[macro_use]
mod conformance;

pub mod memory;
pub mod metered;
pub mod redis;

pub use crate::config::lockout::LockoutPolicy;
use crate::config::state::{StateBackend, StateConfig};
use crate::events::Events;
use crate::label::{kinds, label_set};
use crate::metrics::StateMetrics;
use async_trait::async_trait;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Where a sign-in attempt comes from, relative to the account's familiar locations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LocationClass {
    /// Every client IP of the request is one the account signed in from successfully (and
    /// recently enough).
    Familiar,
    /// Anything else, including a request with no client IP.
    Unfamiliar,
}

impl LocationClass {
    /// Label value: `familiar` or `unfamiliar`.
    pub fn as_str(self) -> &'static str {
        match self {
            LocationClass::Familiar => "familiar",
            LocationClass::Unfamiliar => "unfamiliar",
        }
    }

    /// The class's threshold under `policy`.
    pub fn threshold(self, policy: &LockoutPolicy) -> u32 {
        match self {
            LocationClass::Familiar => policy.familiar_threshold,
            LocationClass::Unfamiliar => policy.threshold,
        }
    }
}

/// What the store decided about one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Below the threshold: let through, and counted as a bad password in advance.
    Allowed,
    /// Locked out, but a whole observation window has passed since the last bad password: this
    /// one attempt is let through (and counted in advance, which extends the lockout unless it
    /// succeeds).
    Probe,
    /// Locked out: refused, not counted.
    Refused,
}

impl Verdict {
    /// True for [`Verdict::Allowed`] and [`Verdict::Probe`].
    pub fn lets_through(self) -> bool {
        !matches!(self, Verdict::Refused)
    }
}

/// Proof that an attempt was counted in advance; hand it back to
/// [`StateStore::not_counted`] when the attempt turned out not to be a bad password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    /// The class the attempt was counted against.
    pub class: LocationClass,
    /// The attempt's time as stored (milliseconds since the Unix epoch).
    pub(crate) at_ms: u64,
    /// The class's last bad-password time before this attempt.
    pub(crate) previous_last_bad_ms: Option<u64>,
}

/// The store's answer to [`StateStore::attempt`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptDecision {
    /// Familiar or unfamiliar.
    pub class: LocationClass,
    /// Allowed, probe or refused.
    pub verdict: Verdict,
    /// The class's bad-password count, this attempt included when it was counted.
    pub count: u32,
    /// The class's threshold.
    pub threshold: u32,
    /// The class's last bad-password time (this attempt's when counted).
    pub last_bad: Option<SystemTime>,
    /// Set when the class is at or over its threshold: until then, attempts from this class are
    /// refused (`last_bad + observation_window`).
    pub locked_until: Option<SystemTime>,
    /// Set when the attempt was counted in advance.
    pub counted: Option<Counted>,
}

/// One location class of [`AccountActivity`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClassActivity {
    /// Bad passwords since the last successful sign-in or reset.
    pub count: u32,
    /// The last bad password.
    pub last_bad: Option<SystemTime>,
    /// Set while the class is locked out: when the next attempt will be let through.
    pub locked_until: Option<SystemTime>,
}

/// A familiar client IP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FamiliarLocation {
    /// The address.
    pub ip: IpAddr,
    /// The last successful sign-in from it.
    pub last_seen: SystemTime,
}

/// What the store holds about one account (AD FS `Get-AdfsAccountActivity`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AccountActivity {
    /// Counts from familiar locations.
    pub familiar: ClassActivity,
    /// Counts from unfamiliar locations.
    pub unfamiliar: ClassActivity,
    /// Familiar client IPs that have not expired, most recently seen first.
    pub familiar_locations: Vec<FamiliarLocation>,
}

/// Which counts an operator reset clears (AD FS `Reset-AdfsAccountLockout -Location`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetScope {
    /// The familiar-location count.
    Familiar,
    /// The unfamiliar-location count.
    Unfamiliar,
    /// Both counts.
    Both,
}

label_set! {
    /// A state store operation (the `op` label).
    pub enum Op: kinds::StateOp {
        /// A sign-in attempt's decision and advance count (before the bind).
        Attempt = "attempt",
        /// A successful bind resetting its class's count.
        Succeeded = "succeeded",
        /// Taking back an advance count that was not a bad password.
        NotCounted = "not_counted",
        /// An account's counts and familiar locations (`altgate lockout status`).
        Status = "status",
        /// An operator reset.
        Reset = "reset",
        /// An operator change of familiar locations.
        SetFamiliar = "set_familiar",
        /// The replay cache.
        FirstUse = "first_use",
        /// Revoking an SSO session (sign-out).
        Revoke = "revoke",
        /// Checking an SSO session's revocation.
        IsRevoked = "is_revoked",
        /// A health check.
        Ping = "ping",
        /// Storing an OAuth authorization code or a refresh token family.
        PutGrant = "put_grant",
        /// Redeeming an authorization code (once).
        RedeemCode = "redeem_code",
        /// Rotating a refresh token.
        RotateRefresh = "rotate_refresh",
        /// Reading a refresh token family (introspection).
        ReadFamily = "read_family",
        /// Revoking a refresh token family.
        RevokeFamily = "revoke_family",
    }
}

/// What redeeming an authorization code found ([`StateStore::redeem_code`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redeemed {
    /// The first redemption: the code's record.
    Fresh(String),
    /// The code was redeemed before (on any node): its record, so what it issued can be
    /// revoked.
    Replayed(String),
    /// No such code (never issued, or expired).
    Unknown,
}

/// What presenting a refresh token to its family found ([`StateStore::rotate_refresh`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The token was the family's current one: it is now `next`; the family's record.
    Rotated(String),
    /// The token was an earlier one (already used): the family is revoked.
    Reused,
    /// No such family (never issued, expired or revoked).
    Unknown,
}

/// A state operation failed. The caller decides whether to fail open or closed.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The store did not answer within `state.timeout`.
    #[error("the state store did not answer within {0:?}")]
    Timeout(Duration),
    /// The store could not be reached (connection refused, reset, TLS failure, authentication).
    #[error("the state store is unavailable: {0}")]
    Unavailable(String),
    /// The store answered something unexpected (script error, malformed reply).
    #[error("the state store answered unexpectedly: {0}")]
    Protocol(String),
    /// The store's settings are unusable (bad URL, unreadable CA file).
    #[error("the state store cannot be set up: {0}")]
    Setup(String),
    /// A write that must survive a failover reached the master, but fewer replicas than
    /// `state.replica_acks` confirmed it in time (`WAIT`).
    #[error("only {confirmed} of {wanted} replicas confirmed the write in time")]
    NotReplicated {
        /// `state.replica_acks`.
        wanted: u32,
        /// Replicas that confirmed.
        confirmed: u32,
    },
    /// The replay cache holds its maximum of live ids (`state.replay_cache_max_entries`, the
    /// number given): a new id was not stored, and none was forgotten to make room.
    #[error("the replay cache holds its maximum of {0} live ids")]
    ReplayCacheFull(u64),
}

impl StateError {
    /// Stable code: `state_timeout`, `state_unavailable`, `state_protocol`, `state_setup`,
    /// `state_not_replicated`, `replay_cache_full`.
    pub fn code(&self) -> &'static str {
        match self {
            StateError::Timeout(_) => "state_timeout",
            StateError::Unavailable(_) => "state_unavailable",
            StateError::Protocol(_) => "state_protocol",
            StateError::Setup(_) => "state_setup",
            StateError::NotReplicated { .. } => "state_not_replicated",
            StateError::ReplayCacheFull(_) => "replay_cache_full",
        }
    }
}

/// The store's connection as this node sees it (`/health`, `/ready`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreHealth {
    /// `memory` or `redis`.
    pub backend: &'static str,
    /// True while this node has a connection to the data node (always, in process).
    pub connected: bool,
    /// `host:port` of the data node in use (the master, with sentinel).
    pub node: Option<String>,
    /// Failed writes waiting to be written again.
    pub deferred_writes: usize,
}

/// The farm-wide state store.
#[async_trait]
pub trait StateStore: Send + Sync {
    /// `memory` or `redis` (for logs).
    fn backend(&self) -> &'static str;

    /// The connection as this node sees it; the in-process default is always connected.
    fn health(&self) -> StoreHealth {
        StoreHealth {
            backend: self.backend(),
            connected: true,
            node: None,
            deferred_writes: 0,
        }
    }

    /// One sign-in attempt for `account` from `client_ips` at `now`: classifies it familiar or
    /// unfamiliar, decides allowed / probe / refused, and when it lets the attempt through counts
    /// it as a bad password in advance (count + 1, last bad = now), all atomically. Undo with
    /// [`StateStore::succeeded`] or [`StateStore::not_counted`].
    async fn attempt(
        &self,
        account: &str,
        client_ips: &[IpAddr],
        now: SystemTime,
        policy: &LockoutPolicy,
    ) -> Result<AttemptDecision, StateError>;

    /// The attempt counted against `class` succeeded: resets that class's count to zero and
    /// makes `client_ips` familiar (last seen `now`), keeping at most
    /// `policy.max_familiar_locations` (the least recently seen go) and dropping expired ones.
    async fn succeeded(
        &self,
        account: &str,
        class: LocationClass,
        client_ips: &[IpAddr],
        now: SystemTime,
        policy: &LockoutPolicy,
    ) -> Result<(), StateError>;

    /// The attempt behind `counted` was not a bad password after all (the directory was
    /// unavailable, the account does not exist, ...): takes back its advance count.
    async fn not_counted(&self, account: &str, counted: &Counted) -> Result<(), StateError>;

    /// The account's counts and familiar locations as of `now`.
    async fn status(
        &self,
        account: &str,
        now: SystemTime,
        policy: &LockoutPolicy,
    ) -> Result<AccountActivity, StateError>;

    /// Operator reset of one or both counts (familiar locations are kept).
    async fn reset(&self, account: &str, scope: ResetScope) -> Result<(), StateError>;

    /// Operator change of familiar locations (AD FS `Set-AdfsAccountActivity
    /// -AdditionalFamiliarIps`, and the removal AD FS has no verb for): `add` become familiar
    /// (last seen `now`), `remove` stop being familiar. Counts are untouched; at most
    /// `policy.max_familiar_locations` are kept (the least recently seen go).
    async fn set_familiar(
        &self,
        account: &str,
        add: &[IpAddr],
        remove: &[IpAddr],
        now: SystemTime,
        policy: &LockoutPolicy,
    ) -> Result<(), StateError>;

    /// Replay cache: true the first time `id` is seen within `ttl` (it is then remembered for
    /// `ttl`), false after. The cache is bounded (`state.replay_cache_max_entries` live ids):
    /// when it is full a new id is not stored and the answer is
    /// [`StateError::ReplayCacheFull`] (an id it holds is still answered false). Nothing is
    /// evicted to make room, since an id forgotten early could be answered twice: room comes
    /// only from ids expiring.
    async fn first_use(&self, id: &str, ttl: Duration) -> Result<bool, StateError>;

    /// Marks `session_id` revoked for `ttl` (the session's remaining lifetime).
    async fn revoke(&self, session_id: &str, ttl: Duration) -> Result<(), StateError>;

    /// True while `session_id` is revoked.
    async fn is_revoked(&self, session_id: &str) -> Result<bool, StateError>;

    /// Checks that the store answers.
    async fn ping(&self) -> Result<(), StateError>;

    /// Stores authorization code `code` (its digest is the key) with `record` for `ttl`.
    async fn put_code(&self, code: &str, record: &str, ttl: Duration) -> Result<(), StateError>;

    /// Redeems `code`, atomically: [`Redeemed::Fresh`] the first time on any node, then
    /// [`Redeemed::Replayed`] for as long as the code lives.
    async fn redeem_code(&self, code: &str) -> Result<Redeemed, StateError>;

    /// Starts refresh token family `family` whose current token's secret digests to
    /// `current`, with `record`, for `ttl` (the family's whole lifetime).
    async fn put_family(
        &self,
        family: &str,
        current: &str,
        record: &str,
        ttl: Duration,
    ) -> Result<(), StateError>;

    /// Presents a token of `family` whose secret digests to `presented`, atomically: the
    /// current one becomes `next` ([`Rotation::Rotated`]); an earlier one revokes the family
    /// ([`Rotation::Reused`]).
    async fn rotate_refresh(
        &self,
        family: &str,
        presented: &str,
        next: &str,
    ) -> Result<Rotation, StateError>;

    /// The family's current secret digest and record, while it lives.
    async fn read_family(&self, family: &str) -> Result<Option<(String, String)>, StateError>;

    /// Revokes `family` (every refresh token of it); true when it existed.
    async fn revoke_family(&self, family: &str) -> Result<bool, StateError>;
}

/// The `address` of `altgate_state_master` for the in-process store.
pub const IN_PROCESS: &str = "in-process";

/// The store `config` describes, timed and counted into `metrics`, its connection events
/// emitted into `events`. For Redis the
/// connection is made in the background, so this succeeds while the server is down; it must
/// run within a Tokio runtime.
pub fn open(
    config: &StateConfig,
    metrics: StateMetrics,
    events: Events,
) -> Result<Arc<dyn StateStore>, StateError> {
    let max = config.replay_cache_max_entries;
    let inner: Arc<dyn StateStore> = match &config.backend {
        StateBackend::Memory => {
            metrics.set_connected(true);
            metrics.set_master(IN_PROCESS);
            Arc::new(memory::MemoryStore::new().with_replay_max(max))
        }
        StateBackend::Redis(r) => Arc::new(
            redis::RedisStore::new(
                r,
                &config.key_prefix,
                config.timeout,
                events,
                metrics.clone(),
            )?
            .with_replay_max(max),
        ),
    };
    Ok(Arc::new(metered::Metered::new(inner, metrics)))
}

/// Hex SHA-256 of `value`: the storage name of an account, replay id or session id.
pub(crate) fn digest(value: &str) -> String {
    digest_bytes(value)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// SHA-256 of `value`: how the replay caches keep an id (32 bytes whatever its length).
pub fn digest_bytes(value: &str) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, value.as_bytes());
    // A SHA-256 digest is always 32 bytes.
    <[u8; 32]>::try_from(d.as_ref()).unwrap_or([0; 32])
}

/// Milliseconds since the Unix epoch (0 before it, saturating far after it).
pub(crate) fn to_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The inverse of [`to_ms`].
pub(crate) fn from_ms(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

/// A duration in whole milliseconds, at least 1 (Redis refuses `PX 0`).
pub(crate) fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// The client IPs as stored: canonical (IPv4-mapped IPv6 becomes IPv4), de-duplicated, in
/// request order, at most `limit` of them.
pub(crate) fn canonical_ips(ips: &[IpAddr], limit: usize) -> Vec<IpAddr> {
    let mut out: Vec<IpAddr> = Vec::with_capacity(ips.len().min(limit));
    for ip in ips.iter().map(IpAddr::to_canonical) {
        if out.len() >= limit {
            break;
        }
        if !out.contains(&ip) {
            out.push(ip);
        }
    }
    out
}

/// The IPs [`StateStore::attempt`] needs to look at: a request with more distinct IPs than an
/// account can have familiar ones is unfamiliar whatever they are, so one more than the limit
/// is enough.
pub(crate) fn attempt_ips(ips: &[IpAddr], policy: &LockoutPolicy) -> Vec<IpAddr> {
    canonical_ips(ips, policy.max_familiar_locations as usize + 1)
}

/// One account's raw record, as both stores keep it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Record {
    pub familiar_count: u32,
    pub familiar_last_bad: Option<u64>,
    pub unfamiliar_count: u32,
    pub unfamiliar_last_bad: Option<u64>,
    /// Familiar IPs with their last successful sign-in (ms).
    pub ips: Vec<(IpAddr, u64)>,
}

impl Record {
    /// The account's activity as of `now_ms`.
    pub fn activity(&self, now_ms: u64, policy: &LockoutPolicy) -> AccountActivity {
        let window = duration_ms(policy.observation_window);
        let lifetime = duration_ms(policy.familiar_location_lifetime);
        let class = |count: u32, last: Option<u64>, threshold: u32| ClassActivity {
            count,
            last_bad: last.map(from_ms),
            locked_until: last
                .map(|l| l.saturating_add(window))
                .filter(|until| count >= threshold && now_ms < *until)
                .map(from_ms),
        };
        let mut familiar_locations: Vec<FamiliarLocation> = self
            .ips
            .iter()
            .filter(|(_, seen)| seen.saturating_add(lifetime) > now_ms)
            .map(|(ip, seen)| FamiliarLocation {
                ip: *ip,
                last_seen: from_ms(*seen),
            })
            .collect();
        familiar_locations.sort_by(|a, b| b.last_seen.cmp(&a.last_seen).then(a.ip.cmp(&b.ip)));
        AccountActivity {
            familiar: class(
                self.familiar_count,
                self.familiar_last_bad,
                policy.familiar_threshold,
            ),
            unfamiliar: class(
                self.unfamiliar_count,
                self.unfamiliar_last_bad,
                policy.threshold,
            ),
            familiar_locations,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn digests_are_fixed_length_hex() {
        let d = digest("contoso.com:{guid}\r\n*");
        assert_eq!(d.len(), 64);
        assert!(d.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(d, digest("contoso.com:{guid}"));
    }

    #[test]
    fn ips_are_canonical_deduplicated_and_bounded() {
        let v4 = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
        let mapped = IpAddr::V6(Ipv4Addr::new(192, 0, 2, 1).to_ipv6_mapped());
        let v6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
        assert_eq!(canonical_ips(&[mapped, v4, v6], 10), vec![v4, v6]);
        assert_eq!(canonical_ips(&[v4, v6], 1), vec![v4]);
    }

    #[test]
    fn milliseconds_round_trip() {
        let t = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(from_ms(to_ms(t)), t);
        assert_eq!(to_ms(UNIX_EPOCH - Duration::from_secs(1)), 0);
        assert_eq!(duration_ms(Duration::ZERO), 1);
    }

    #[test]
    fn error_codes_are_stable() {
        assert_eq!(StateError::Timeout(Duration::ZERO).code(), "state_timeout");
        assert_eq!(
            StateError::Unavailable(String::new()).code(),
            "state_unavailable"
        );
        assert_eq!(StateError::Protocol(String::new()).code(), "state_protocol");
        assert_eq!(StateError::Setup(String::new()).code(), "state_setup");
        assert_eq!(StateError::ReplayCacheFull(1).code(), "replay_cache_full");
        assert_eq!(
            StateError::NotReplicated {
                wanted: 1,
                confirmed: 0
            }
            .code(),
            "state_not_replicated"
        );
    }
}
