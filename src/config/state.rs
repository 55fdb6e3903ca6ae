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

/// A Redis or Valkey server.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    /// `redis://` or `rediss://` URL, without credentials.
    pub url: String,
    /// True for `rediss://`.
    pub tls: bool,
    /// CA bundle for `rediss://`; the system roots when `None`.
    pub ca_file: Option<PathBuf>,
    /// ACL user name.
    pub username: Option<String>,
    /// Password (`AUTH`).
    pub password: Option<Secret>,
}

/// Where state lives.
#[derive(Debug, Clone)]
pub enum StateBackend {
    /// In process: right for one node only.
    Memory,
    /// A shared Redis or Valkey server.
    Redis(RedisConfig),
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
        let backend = match self.checked::<String>("state.url", raw.url) {
            None => {
                for (key, set) in [
                    ("ca_file", raw.ca_file.is_some()),
                    ("username", raw.username.is_some()),
                    ("password_file", raw.password_file.is_some()),
                    ("password_env", raw.password_env.is_some()),
                ] {
                    if set {
                        self.err(format!("state.{key}"), "only meaningful with state.url");
                    }
                }
                StateBackend::Memory
            }
            Some(url) => {
                let url = url.trim();
                let tls = match check_url(url) {
                    Ok(tls) => tls,
                    Err(e) => {
                        self.err("state.url", e);
                        false
                    }
                };
                let ca_file = self
                    .checked::<String>("state.ca_file", raw.ca_file)
                    .map(PathBuf::from);
                if let Some(ca) = &ca_file {
                    if !tls {
                        self.err("state.ca_file", "only meaningful with a rediss:// url");
                    } else if let Err(e) = crate::tls::load_ca_bundle(ca) {
                        self.err("state.ca_file", e.to_string());
                    }
                }
                let username = self
                    .checked::<String>("state.username", raw.username)
                    .map(|u| u.trim().to_string());
                if username.as_deref().is_some_and(str::is_empty) {
                    self.err("state.username", "must not be empty");
                }
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
                StateBackend::Redis(RedisConfig {
                    url: url.to_string(),
                    tls,
                    ca_file,
                    username,
                    password,
                })
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
        assert_eq!(r.url, "redis://cache.contoso.com:6380/2");
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
}
