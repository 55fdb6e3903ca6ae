//! `state:`: where farm-wide state (extranet lockout counts, the replay cache, revoked sessions)
//! lives, as written ([`RawState`]) and validated ([`StateConfig`]) the way every section is (see
//! [`super`]). Without `url` the state is kept in process, which is right for a single node
//! only.
//!
//! ```yaml
//! state:
//!   url: rediss://valkey.contoso.com:6380/0 # absent: in-process
//!   ca_file: /etc/altgate/valkey-ca.pem     # rediss only; system roots when absent
//!   username: altgate                       # Redis 6+ ACL user (optional)
//!   password_file: /run/secrets/valkey      # or password_env; optional
//!   key_prefix: "altgate:"
//!   timeout: 250ms                          # 10ms..=10s per operation
//!   on_unavailable: fail_open               # fail_open | fail_closed
//!   replay_cache_max_entries: 200000        # 100..=10000000 live SAML request ids
//!   replica_acks: 0                         # 0..=8 replicas confirming a revocation (WAIT)
//! ```
//!
//! Or, for a highly available store, Redis Sentinel (or Valkey's) instead of `url`; `username`,
//! `password_*`, `tls` and `ca_file` are then the data nodes' (the master and its replicas):
//!
//! ```yaml
//! state:
//!   sentinel:
//!     master_name: altgate
//!     addresses: ["10.0.0.11:26379", "10.0.0.12:26379", "10.0.0.13:26379"]
//!     username: sentinel-user       # the sentinels' own credentials (optional)
//!     password_file: /run/secrets/sentinel
//!     tls: false                    # TLS to the sentinels (ca_file: their CA)
//!     check_interval: 1s            # how often the master's address is asked (100ms..=1m)
//!   tls: true                       # TLS to the data nodes
//!   ca_file: /etc/altgate/redis-ca.pem
//!   password_file: /run/secrets/redis
//!   database: 0
//!   replica_acks: 1                 # default with sentinel
//! ```

use super::secret_source::SecretKeys;
use super::{Checked, Document, HumanDuration, Validator, SECOND};
use crate::secret::Secret;
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// Least and most `state.timeout`: 10 milliseconds to 10 seconds.
pub const TIMEOUT_BOUNDS: (Duration, Duration) = (
    Duration::from_millis(10),
    Duration::from_secs(10 * SECOND.as_secs()),
);

/// Least and most `state.replay_cache_max_entries`: 100 to 10 million live request IDs.
pub const REPLAY_CACHE_BOUNDS: (u64, u64) = (100, 10_000_000);

/// `state.replay_cache_max_entries` when absent: 200 000 live request IDs, room for 220 SAML
/// requests answered a second, every second, for the default 15-minute replay window. An ID
/// costs about 100 bytes in each of a node's two caches (its own memory, and the in-process
/// store), about 180 in Redis: some 40 MiB a node, or 35 MiB in Redis, when full.
pub const REPLAY_CACHE_DEFAULT: u64 = 200_000;

/// Least and most `state.replica_acks`: 0 to 8 replicas.
pub const REPLICA_ACKS_BOUNDS: (u64, u64) = (0, 8);

/// Least and most `state.sentinel.check_interval`: 100 milliseconds to 1 minute.
pub const CHECK_INTERVAL_BOUNDS: (Duration, Duration) =
    (Duration::from_millis(100), Duration::from_secs(60));

/// `state.sentinel.check_interval` when absent: the sentinels are asked for the master once a
/// second.
pub const CHECK_INTERVAL_DEFAULT: Duration = Duration::from_secs(1);

/// `state.sentinel:` as written.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawSentinel {
    /// The monitored master's name (`sentinel monitor <name> ...`).
    pub master_name: Option<Checked<String>>,
    /// The sentinels, `host:port` each (at least one; three or more in production).
    pub addresses: Option<Checked<Vec<Checked<String>>>>,
    /// ACL user name on the sentinels.
    pub username: Option<Checked<String>>,
    /// File holding the sentinels' password (`requirepass` / ACL). Or `password_env`.
    pub password_file: Option<Checked<String>>,
    /// Environment variable holding the sentinels' password.
    pub password_env: Option<Checked<String>>,
    /// TLS to the sentinels (certificate verified against `ca_file` or the system roots).
    pub tls: Option<Checked<bool>>,
    /// PEM CA bundle for the sentinels' certificates.
    pub ca_file: Option<Checked<String>>,
    /// How often the sentinels are asked for the master's address (`1s`, 100ms..=1m), so a
    /// failover is followed even while no operation fails.
    pub check_interval: Option<Checked<HumanDuration>>,
}

/// `state:` as written. Every key is optional.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawState {
    /// `redis://host[:port][/db]` or `rediss://host[:port][/db]` (TLS, certificate verified) of a
    /// Redis or Valkey server every node shares. Absent: state is kept in process (one node
    /// only). Credentials never go in the URL: use `username`, `password_file`, `password_env`.
    pub url: Option<Checked<String>>,
    /// PEM CA bundle that issued the server's certificate (`rediss://` only); the system roots
    /// when absent.
    pub ca_file: Option<Checked<String>>,
    /// ACL user name (Redis 6+); the `default` user when absent.
    pub username: Option<Checked<String>>,
    /// File holding the password (one line). Set this or `password_env`, or neither.
    pub password_file: Option<Checked<String>>,
    /// Environment variable holding the password.
    pub password_env: Option<Checked<String>>,
    /// Prefix of every key altgate writes (`altgate:`; 1..=64 printable ASCII characters, no
    /// spaces), so several deployments can share one server.
    pub key_prefix: Option<Checked<String>>,
    /// Bound on every state operation, connection included (`250ms`, 10ms..=10s).
    pub timeout: Option<Checked<HumanDuration>>,
    /// What a sign-in does when the state store cannot answer in time: `fail_open` (default:
    /// proceed without lockout protection, counted and logged) or `fail_closed` (refuse).
    pub on_unavailable: Option<Checked<String>>,
    /// Most SAML request IDs the replay cache holds while they can still be replayed (in process:
    /// per node; Redis: for the farm), 100..=10000000, default 200000. At the cap a request with a
    /// new ID is refused (`replay_cache_full`, 503) until IDs expire; none is forgotten early.
    pub replay_cache_max_entries: Option<Checked<u64>>,
    /// Redis Sentinel instead of `url`: the master is found (and followed through failovers)
    /// through the sentinels.
    pub sentinel: Option<Checked<RawSentinel>>,
    /// With `sentinel`: TLS to the data nodes (with `url`, the scheme decides).
    pub tls: Option<Checked<bool>>,
    /// With `sentinel`: the database number (0..=15, default 0; with `url`, its path).
    pub database: Option<Checked<u64>>,
    /// Replicas that must confirm a session revocation (`WAIT`) before it counts as written
    /// (0..=8; 1 with `sentinel`, else 0). An unconfirmed revocation is kept on this node and
    /// written again until a replica has it, so a failover cannot bring a signed-out session
    /// back.
    pub replica_acks: Option<Checked<u64>>,
}

/// What to do when the state store cannot answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnUnavailable {
    /// Proceed as if the store had allowed the operation.
    FailOpen,
    /// Refuse the operation.
    FailClosed,
}

impl OnUnavailable {
    /// The configuration spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            OnUnavailable::FailOpen => "fail_open",
            OnUnavailable::FailClosed => "fail_closed",
        }
    }
}

/// The sentinels that name the master (`state.sentinel`).
#[derive(Debug, Clone)]
pub struct SentinelConfig {
    /// The monitored master's name.
    pub master_name: String,
    /// The sentinels, `(host, port)`, in the order asked.
    pub addresses: Vec<(String, u16)>,
    /// ACL user name on the sentinels.
    pub username: Option<String>,
    /// The sentinels' password.
    pub password: Option<Secret>,
    /// TLS to the sentinels.
    pub tls: bool,
    /// CA bundle for the sentinels; the system roots when `None`.
    pub ca_file: Option<PathBuf>,
    /// How often the sentinels are asked for the master's address.
    pub check_interval: Duration,
}

/// How the data node is found.
#[derive(Debug, Clone)]
pub enum RedisTarget {
    /// One server at a fixed `redis://` or `rediss://` URL (without credentials).
    Url(String),
    /// The master the sentinels name, followed through failovers.
    Sentinel(SentinelConfig),
}

/// A Redis or Valkey store.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    /// Where the data node is.
    pub target: RedisTarget,
    /// TLS to the data nodes (`rediss://`, or `state.tls` with sentinel).
    pub tls: bool,
    /// CA bundle for the data nodes; the system roots when `None`.
    pub ca_file: Option<PathBuf>,
    /// ACL user name on the data nodes.
    pub username: Option<String>,
    /// The data nodes' password (`AUTH`).
    pub password: Option<Secret>,
    /// Database number (sentinel; a URL carries its own).
    pub database: u16,
    /// Replicas that must confirm a revocation (`WAIT`).
    pub replica_acks: u32,
}

impl RedisConfig {
    /// The host of a fixed URL (`None` with sentinel).
    pub fn url_host(&self) -> Option<&str> {
        let RedisTarget::Url(url) = &self.target else {
            return None;
        };
        let rest = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
        let authority = rest.split('/').next().unwrap_or(rest);
        Some(match authority.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(v6),
            None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
        })
    }

    /// True when a check-config reader should be warned: plain TCP, no password, and a data
    /// node (or sentinel) that is not on this host. Anyone who can reach such a server can
    /// unlock accounts and bring signed-out sessions back.
    pub fn unauthenticated_off_host(&self) -> bool {
        let loopback = |h: &str| {
            h.eq_ignore_ascii_case("localhost")
                || h.parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.to_canonical().is_loopback())
        };
        match &self.target {
            RedisTarget::Url(_) => {
                !self.tls && self.password.is_none() && !self.url_host().is_some_and(loopback)
            }
            RedisTarget::Sentinel(s) => {
                let off_host = s.addresses.iter().any(|(h, _)| !loopback(h));
                off_host
                    && ((!self.tls && self.password.is_none()) || (!s.tls && s.password.is_none()))
            }
        }
    }
}

/// Where state lives.
#[derive(Debug, Clone)]
pub enum StateBackend {
    /// In process: right for one node only.
    Memory,
    /// A shared Redis or Valkey server.
    Redis(Box<RedisConfig>),
}

/// The validated `state:` section.
#[derive(Debug, Clone)]
pub struct StateConfig {
    /// In process or Redis.
    pub backend: StateBackend,
    /// Prefix of every key.
    pub key_prefix: String,
    /// Bound on every operation.
    pub timeout: Duration,
    /// Fail open or closed when the store cannot answer.
    pub on_unavailable: OnUnavailable,
    /// `replay_cache_max_entries` (default [`REPLAY_CACHE_DEFAULT`], within
    /// [`REPLAY_CACHE_BOUNDS`]): the most live request IDs the replay cache holds.
    pub replay_cache_max_entries: u64,
}

impl Default for StateConfig {
    fn default() -> Self {
        StateConfig {
            backend: StateBackend::Memory,
            key_prefix: "altgate:".into(),
            timeout: Duration::from_millis(250),
            on_unavailable: OnUnavailable::FailOpen,
            replay_cache_max_entries: REPLAY_CACHE_DEFAULT,
        }
    }
}

/// Checks `redis[s]://host[:port][/db]`; returns whether it is TLS.
/// `host:port` or `[v6]:port`.
fn parse_host_port(a: &str) -> Option<(String, u16)> {
    let (host, port) = match a.strip_prefix('[') {
        Some(v6) => {
            let (h, rest) = v6.split_once(']')?;
            h.parse::<std::net::Ipv6Addr>().ok()?;
            (h, rest.strip_prefix(':')?)
        }
        None => a.rsplit_once(':')?,
    };
    let valid_host = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '_'));
    let port = port.parse::<u16>().ok().filter(|p| *p > 0)?;
    valid_host.then(|| (host.to_string(), port))
}

fn check_url(url: &str) -> Result<bool, String> {
    let (tls, rest) = if let Some(r) = url.strip_prefix("rediss://") {
        (true, r)
    } else if let Some(r) = url.strip_prefix("redis://") {
        (false, r)
    } else {
        return Err(format!(
            "{url:?} is not redis://host[:port][/db] or rediss://…"
        ));
    };
    let (authority, db) = match rest.split_once('/') {
        Some((a, db)) => (a, Some(db)),
        None => (rest, None),
    };
    if authority.contains('@') {
        return Err(
            "credentials do not belong in the URL: use username and password_file or password_env"
                .into(),
        );
    }
    if rest.contains(['?', '#']) || rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{url:?}: no query, fragment or spaces allowed"));
    }
    let host_ok = if let Some(v6) = authority.strip_prefix('[') {
        match v6.split_once(']') {
            Some((h, port)) => {
                h.parse::<std::net::Ipv6Addr>().is_ok()
                    && (port.is_empty()
                        || port
                            .strip_prefix(':')
                            .is_some_and(|p| p.parse::<u16>().is_ok()))
            }
            None => false,
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => !h.is_empty() && p.parse::<u16>().is_ok(),
            None => !authority.is_empty(),
        }
    };
    if !host_ok {
        return Err(format!("{url:?}: expected host[:port]"));
    }
    if let Some(db) = db.filter(|d| !d.is_empty()) {
        if db.parse::<u16>().is_err() {
            return Err(format!("{url:?}: the path must be a database number"));
        }
    }
    Ok(tls)
}

impl Validator {
    /// An optional ACL user name at `path`, trimmed; empty is refused.
    fn user_name(&mut self, path: &str, raw: Option<Checked<String>>) -> Option<String> {
        let user = self
            .checked::<String>(path, raw)
            .map(|u| u.trim().to_string());
        if user.as_deref().is_some_and(str::is_empty) {
            self.err(path, "must not be empty");
        }
        user
    }

    /// `state.sentinel`.
    fn sentinel(&mut self, raw: RawSentinel) -> SentinelConfig {
        let master_name = self
            .required::<String>(
                "state.sentinel.master_name",
                raw.master_name,
                " (the name the sentinels monitor, e.g. altgate)",
            )
            .map(|n| n.trim().to_string());
        if master_name
            .as_deref()
            .is_some_and(|n| n.is_empty() || n.chars().any(|c| c.is_whitespace() || c.is_control()))
        {
            self.err(
                "state.sentinel.master_name",
                "must be a name without spaces",
            );
        }
        let mut addresses = Vec::new();
        let listed = self.checked("state.sentinel.addresses", raw.addresses);
        for (at, a) in self.items::<String>("state.sentinel.addresses", listed.unwrap_or_default())
        {
            match parse_host_port(a.trim()) {
                Some(hp) => addresses.push(hp),
                None => self.err(at, format!("{a:?} is not host:port")),
            }
        }
        if addresses.is_empty() {
            self.err(
                "state.sentinel.addresses",
                "required: at least one sentinel as host:port (three or more in production)",
            );
        }
        let tls = self
            .checked::<bool>("state.sentinel.tls", raw.tls)
            .unwrap_or(false);
        let ca_file = self
            .checked::<String>("state.sentinel.ca_file", raw.ca_file)
            .map(PathBuf::from);
        if let Some(ca) = &ca_file {
            if !tls {
                self.err(
                    "state.sentinel.ca_file",
                    "only meaningful with state.sentinel.tls",
                );
            } else if let Err(e) = crate::tls::load_ca_bundle(ca) {
                self.err("state.sentinel.ca_file", e.to_string());
            }
        }
        let username = self.user_name("state.sentinel.username", raw.username);
        let password = self
            .secret(
                "state.sentinel",
                "password",
                SecretKeys {
                    env: raw.password_env,
                    file: raw.password_file,
                },
                false,
            )
            .map(|(_, p)| p);
        let (least, most) = CHECK_INTERVAL_BOUNDS;
        let check_interval = self.bounded_duration(
            "state.sentinel.check_interval",
            raw.check_interval,
            CHECK_INTERVAL_DEFAULT,
            least,
            most,
        );
        SentinelConfig {
            master_name: master_name.unwrap_or_default(),
            addresses,
            username,
            password,
            tls,
            ca_file,
            check_interval,
        }
    }
}

impl Validator {
    /// `state:`; in process with the defaults when absent.
    pub(super) fn state(&mut self, doc: &mut Document) -> StateConfig {
        let raw: RawState = self.take(doc, "state").unwrap_or_default();
        let d = StateConfig::default();
        let key_prefix = match self.checked::<String>("state.key_prefix", raw.key_prefix) {
            None => d.key_prefix,
            Some(p) if (1..=64).contains(&p.len()) && p.chars().all(|c| c.is_ascii_graphic()) => p,
            Some(_) => {
                self.err(
                    "state.key_prefix",
                    "must be 1 to 64 printable ASCII characters without spaces",
                );
                d.key_prefix
            }
        };
        let (least, most) = TIMEOUT_BOUNDS;
        let timeout = self.bounded_duration("state.timeout", raw.timeout, d.timeout, least, most);
        let on_unavailable = self.word(
            "state.on_unavailable",
            raw.on_unavailable,
            d.on_unavailable,
            &[
                ("fail_open", OnUnavailable::FailOpen),
                ("fail_closed", OnUnavailable::FailClosed),
            ],
        );
        let (least, most) = REPLAY_CACHE_BOUNDS;
        let replay_cache_max_entries = self.bounded_count(
            "state.replay_cache_max_entries",
            raw.replay_cache_max_entries,
            d.replay_cache_max_entries,
            least,
            most,
        );
        let sentinel = self.checked::<RawSentinel>("state.sentinel", raw.sentinel);
        let url = self.checked::<String>("state.url", raw.url);
        let backend = match (url, sentinel) {
            (None, None) => {
                for (key, set) in [
                    ("ca_file", raw.ca_file.is_some()),
                    ("username", raw.username.is_some()),
                    ("password_file", raw.password_file.is_some()),
                    ("password_env", raw.password_env.is_some()),
                    ("tls", raw.tls.is_some()),
                    ("database", raw.database.is_some()),
                    ("replica_acks", raw.replica_acks.is_some()),
                ] {
                    if set {
                        self.err(
                            format!("state.{key}"),
                            "only meaningful with state.url or state.sentinel",
                        );
                    }
                }
                StateBackend::Memory
            }
            (Some(_), Some(_)) => {
                self.err("state", "set state.url or state.sentinel, not both");
                StateBackend::Memory
            }
            (url, sentinel) => {
                let (target, tls) = match (url, sentinel) {
                    (Some(url), _) => {
                        let url = url.trim();
                        let tls = match check_url(url) {
                            Ok(tls) => tls,
                            Err(e) => {
                                self.err("state.url", e);
                                false
                            }
                        };
                        for (key, set) in [
                            ("tls", raw.tls.is_some()),
                            ("database", raw.database.is_some()),
                        ] {
                            if set {
                                self.err(
                                    format!("state.{key}"),
                                    "only meaningful with state.sentinel (the url says it)",
                                );
                            }
                        }
                        (RedisTarget::Url(url.to_string()), tls)
                    }
                    (None, Some(s)) => {
                        let tls = self.checked::<bool>("state.tls", raw.tls).unwrap_or(false);
                        (RedisTarget::Sentinel(self.sentinel(s)), tls)
                    }
                    (None, None) => (RedisTarget::Url(String::new()), false),
                };
                let sentinel = matches!(target, RedisTarget::Sentinel(_));
                let database = self.bounded_count("state.database", raw.database, 0, 0, 15);
                let ca_file = self
                    .checked::<String>("state.ca_file", raw.ca_file)
                    .map(PathBuf::from);
                if let Some(ca) = &ca_file {
                    if !tls {
                        self.err(
                            "state.ca_file",
                            "only meaningful with TLS (a rediss:// url, or state.tls with sentinel)",
                        );
                    } else if let Err(e) = crate::tls::load_ca_bundle(ca) {
                        self.err("state.ca_file", e.to_string());
                    }
                }
                let username = self.user_name("state.username", raw.username);
                let password = self
                    .secret(
                        "state",
                        "password",
                        SecretKeys {
                            env: raw.password_env,
                            file: raw.password_file,
                        },
                        false,
                    )
                    .map(|(_, password)| password);
                let (least, most) = REPLICA_ACKS_BOUNDS;
                let replica_acks = self.bounded_count(
                    "state.replica_acks",
                    raw.replica_acks,
                    u64::from(sentinel),
                    least,
                    most,
                );
                StateBackend::Redis(Box::new(RedisConfig {
                    target,
                    tls,
                    ca_file,
                    username,
                    password,
                    database: u16::try_from(database).unwrap_or(0),
                    replica_acks: u32::try_from(replica_acks).unwrap_or(0),
                }))
            }
        };
        StateConfig {
            backend,
            key_prefix,
            timeout,
            on_unavailable,
            replay_cache_max_entries,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::config::ConfigIssue;

    fn parse(yaml: &str) -> (StateConfig, Vec<ConfigIssue>) {
        Validator::section("state", yaml, Validator::state)
    }

    fn paths(issues: &[ConfigIssue]) -> Vec<&str> {
        issues.iter().map(|i| i.path.as_str()).collect()
    }

    #[test]
    fn empty_section_is_in_process_with_defaults() {
        let (c, issues) = parse("{}");
        assert!(issues.is_empty(), "{issues:?}");
        assert!(matches!(c.backend, StateBackend::Memory));
        assert_eq!(c.key_prefix, "altgate:");
        assert_eq!(c.timeout, Duration::from_millis(250));
        assert_eq!(c.on_unavailable, OnUnavailable::FailOpen);
        assert_eq!(c.replay_cache_max_entries, 200_000);
    }

    #[test]
    fn a_redis_url_with_every_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pw = dir.path().join("pw");
        std::fs::write(&pw, "s3cret\n").expect("write");
        let (c, issues) = parse(&format!(
            "url: redis://cache.contoso.com:6380/2\nusername: altgate\npassword_file: {}\n\
             key_prefix: \"farm1:\"\ntimeout: 1s\non_unavailable: fail_closed\n\
             replay_cache_max_entries: 5000\n",
            pw.display()
        ));
        assert!(issues.is_empty(), "{issues:?}");
        let StateBackend::Redis(r) = &c.backend else {
            panic!("not redis: {c:?}");
        };
        assert!(
            matches!(&r.target, RedisTarget::Url(u) if u == "redis://cache.contoso.com:6380/2")
        );
        assert_eq!(r.replica_acks, 0);
        assert!(!r.unauthenticated_off_host(), "it has a password");
        assert!(!r.tls);
        assert_eq!(r.username.as_deref(), Some("altgate"));
        assert_eq!(r.password.as_ref().map(Secret::expose), Some("s3cret"));
        assert_eq!(c.key_prefix, "farm1:");
        assert_eq!(c.timeout, Duration::from_secs(1));
        assert_eq!(c.on_unavailable, OnUnavailable::FailClosed);
        assert_eq!(c.replay_cache_max_entries, 5000);
        assert!(!format!("{c:?}").contains("s3cret"));
    }

    #[test]
    fn urls_are_checked() {
        for ok in [
            "redis://127.0.0.1",
            "redis://127.0.0.1:6379/0",
            "rediss://valkey.example.com:6380",
            "redis://[::1]:6379/3",
            "redis://localhost/",
        ] {
            let (_, issues) = parse(&format!("url: \"{ok}\""));
            assert!(issues.is_empty(), "{ok}: {issues:?}");
        }
        for bad in [
            "http://127.0.0.1",
            "redis://",
            "redis://:pw@127.0.0.1:6379",
            "redis://user:pw@host",
            "redis://host:port",
            "redis://host:6379/zero",
            "redis://host:6379?db=1",
            "unix:///tmp/redis.sock",
            "redis://[::1:6379",
        ] {
            let (_, issues) = parse(&format!("url: \"{bad}\""));
            assert_eq!(paths(&issues), ["state.url"], "{bad}");
        }
        let (_, issues) = parse("url: \"redis://:pw@h\"");
        assert!(issues[0].message.contains("password_file"), "{issues:?}");
        assert!(!issues[0].message.contains("pw@"), "no secret echoed");
    }

    #[test]
    fn tls_and_ca_file() {
        let (c, issues) = parse("url: rediss://valkey.example.com");
        assert!(issues.is_empty(), "{issues:?}");
        assert!(matches!(&c.backend, StateBackend::Redis(r) if r.tls && r.ca_file.is_none()));
        let (_, issues) = parse("url: redis://h\nca_file: /nonexistent.pem");
        assert_eq!(paths(&issues), ["state.ca_file"]);
        assert!(issues[0].message.contains("rediss"));
        let (_, issues) = parse("url: rediss://h\nca_file: /nonexistent/ca.pem");
        assert_eq!(paths(&issues), ["state.ca_file"]);
    }

    #[test]
    fn redis_keys_without_url_are_reported() {
        let (_, issues) = parse("ca_file: x\npassword_env: Y\nusername: u");
        assert_eq!(
            paths(&issues),
            ["state.ca_file", "state.username", "state.password_env"]
        );
    }

    #[test]
    fn passwords() {
        let (_, issues) = parse("url: redis://h\npassword_file: a\npassword_env: B");
        assert_eq!(paths(&issues), ["state"]);
        let (_, issues) = parse("url: redis://h\npassword_env: ALTGATE_TEST_SURELY_UNSET_STATE_PW");
        assert_eq!(paths(&issues), ["state.password_env"]);
        let (_, issues) = parse("url: redis://h\npassword_file: /nonexistent/pw");
        assert_eq!(paths(&issues), ["state.password_file"]);
        let (c, issues) = parse("url: redis://h");
        assert!(issues.is_empty());
        assert!(matches!(&c.backend, StateBackend::Redis(r) if r.password.is_none()));
    }

    #[test]
    fn bounds_and_enumerations() {
        let (_, issues) =
            parse("key_prefix: \"has space\"\ntimeout: 5ms\non_unavailable: fail_sometimes");
        assert_eq!(
            paths(&issues),
            ["state.key_prefix", "state.timeout", "state.on_unavailable"]
        );
        let (_, issues) = parse(&format!("key_prefix: \"{}\"", "x".repeat(65)));
        assert_eq!(paths(&issues), ["state.key_prefix"]);
        let (_, issues) = parse("key_prefix: \"\"");
        assert_eq!(paths(&issues), ["state.key_prefix"]);
        let (_, issues) = parse("timeout: 11s");
        assert_eq!(paths(&issues), ["state.timeout"]);
        let (_, issues) = parse("timeout: soon");
        assert_eq!(paths(&issues), ["state.timeout"]);
        let (c, issues) = parse("timeout: 10ms");
        assert!(issues.is_empty());
        assert_eq!(c.timeout, Duration::from_millis(10));
        assert!(serde_yaml::from_str::<RawState>("uri: redis://h").is_err());
    }

    #[test]
    fn sentinel_with_every_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (data, sent) = (dir.path().join("data"), dir.path().join("sentinel"));
        std::fs::write(&data, "data-pw\n").expect("write");
        std::fs::write(&sent, "sentinel-pw\n").expect("write");
        let (c, issues) = parse(&format!(
            "sentinel:\n  master_name: altgate\n  addresses: [\"10.0.0.1:26379\", \"[::1]:26380\", s3.contoso.com:26379]\n  \
             username: watcher\n  password_file: {}\n  check_interval: 500ms\n\
             username: altgate\npassword_file: {}\ndatabase: 3\nreplica_acks: 2\n",
            sent.display(),
            data.display()
        ));
        assert!(issues.is_empty(), "{issues:?}");
        let StateBackend::Redis(r) = &c.backend else {
            panic!("not redis: {c:?}");
        };
        let RedisTarget::Sentinel(s) = &r.target else {
            panic!("not sentinel: {r:?}");
        };
        assert_eq!(s.master_name, "altgate");
        assert_eq!(
            s.addresses,
            [
                ("10.0.0.1".to_string(), 26379),
                ("::1".to_string(), 26380),
                ("s3.contoso.com".to_string(), 26379)
            ]
        );
        assert_eq!(s.username.as_deref(), Some("watcher"));
        assert_eq!(s.password.as_ref().map(Secret::expose), Some("sentinel-pw"));
        assert_eq!(s.check_interval, Duration::from_millis(500));
        assert_eq!(r.password.as_ref().map(Secret::expose), Some("data-pw"));
        assert_eq!((r.database, r.replica_acks, r.tls), (3, 2, false));
        let debug = format!("{c:?}");
        assert!(!debug.contains("data-pw") && !debug.contains("sentinel-pw"));
    }

    #[test]
    fn sentinel_problems_are_reported_together() {
        let (c, issues) = parse(
            "sentinel:\n  addresses: [\"nohost\", \"h:0\", \"h:99999\"]\n  ca_file: x.pem\n  \
             check_interval: 1h\n  color: red\nreplica_acks: 9\ndatabase: 16\n",
        );
        assert!(matches!(&c.backend, StateBackend::Redis(_)), "{c:?}");
        assert_eq!(
            paths(&issues),
            [
                "state.sentinel.color",
                "state.sentinel.master_name",
                "state.sentinel.addresses[0]",
                "state.sentinel.addresses[1]",
                "state.sentinel.addresses[2]",
                "state.sentinel.addresses",
                "state.sentinel.ca_file",
                "state.sentinel.check_interval",
                "state.database",
                "state.replica_acks",
            ]
        );
        let (_, issues) =
            parse("url: redis://h\nsentinel:\n  master_name: m\n  addresses: [\"h:1\"]");
        assert_eq!(paths(&issues), ["state"]);
        let (_, issues) = parse("url: redis://h\ntls: true\ndatabase: 1");
        assert_eq!(paths(&issues), ["state.tls", "state.database"]);
        let (c, issues) = parse("sentinel:\n  master_name: m\n  addresses: [\"127.0.0.1:26379\"]");
        assert!(issues.is_empty(), "{issues:?}");
        assert!(matches!(&c.backend, StateBackend::Redis(r) if r.replica_acks == 1));
    }

    #[test]
    fn unauthenticated_off_host_stores_are_spotted() {
        let redis = |yaml: &str| match parse(yaml) {
            (
                StateConfig {
                    backend: StateBackend::Redis(r),
                    ..
                },
                issues,
            ) if issues.is_empty() => *r,
            other => panic!("{yaml}: {other:?}"),
        };
        assert!(redis("url: redis://cache.contoso.com").unauthenticated_off_host());
        assert!(redis("url: redis://10.1.2.3:6379/1").unauthenticated_off_host());
        assert!(!redis("url: redis://127.0.0.1:6379").unauthenticated_off_host());
        assert!(!redis("url: redis://localhost").unauthenticated_off_host());
        assert!(!redis("url: redis://[::1]:6379").unauthenticated_off_host());
        assert!(!redis("url: rediss://cache.contoso.com").unauthenticated_off_host());
        assert!(
            redis("sentinel:\n  master_name: m\n  addresses: [\"10.0.0.1:26379\"]")
                .unauthenticated_off_host()
        );
        assert!(
            !redis("sentinel:\n  master_name: m\n  addresses: [\"127.0.0.1:26379\"]")
                .unauthenticated_off_host()
        );
    }
}
