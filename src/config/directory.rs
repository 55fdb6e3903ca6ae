//! How lookups against the forests are tuned: `directory:` (LDAP connection deadlines, pool
//! sizes, backoff, bind slots per domain controller) and `cache:` (the resolution cache).

use super::{usize_of, Checked, Document, HumanDuration, Validator, DAY, MINUTE};
use serde::Deserialize;
use std::time::Duration;

/// `cache:` as written.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawCache {
    /// How long a resolved account is remembered (`5m`).
    pub positive_ttl: Option<Checked<HumanDuration>>,
    /// How long "no such account" and ambiguity are remembered (`30s`).
    pub negative_ttl: Option<Checked<HumanDuration>>,
    /// Upper bound on cached logins; `0` disables the cache.
    pub max_entries: Option<Checked<u64>>,
}

/// `directory:` as written: LDAP connection tuning shared by every forest.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawDirectory {
    /// TCP + TLS + service bind must finish within this (`3s`).
    pub connect_timeout: Option<Checked<HumanDuration>>,
    /// One LDAP operation must answer within this (`5s`).
    pub operation_timeout: Option<Checked<HumanDuration>>,
    /// Long-lived connections per global catalog (`4`).
    pub pool_size: Option<Checked<u64>>,
    /// After a server fails, skip it for this long before trying again (`2s`).
    pub retry_backoff: Option<Checked<HumanDuration>>,
    /// Password binds in flight per domain controller, and its pooled bind connections
    /// (`pool_size`).
    pub max_concurrent_binds_per_dc: Option<Checked<u64>>,
    /// Longest a password bind waits for a free slot on its domain controller (`2s`).
    pub bind_queue_timeout: Option<Checked<HumanDuration>>,
    /// How often every global catalog and domain controller, and the state store, are checked
    /// in the background (`10s`, 1s..=1h), so a dead server is skipped and a recovered one used
    /// again before a user pays for it.
    pub health_check_interval: Option<Checked<HumanDuration>>,
}

/// `cache:`. The bounds keep the cache following the directory within a day and its memory
/// within reason.
#[derive(Debug, Clone, Copy)]
pub struct CacheConfig {
    /// `positive_ttl` (default 5m, at most [`MAX_TTL`], 1 day): lifetime of resolved accounts.
    pub positive_ttl: Duration,
    /// `negative_ttl` (default 30s, at most [`MAX_TTL`], 1 day): lifetime of not-found and
    /// ambiguous outcomes.
    pub negative_ttl: Duration,
    /// `max_entries` (default 100000, at most [`MAX_CACHE_ENTRIES`], 10,000,000): capacity;
    /// 0 disables caching.
    pub max_entries: u64,
}

/// Longest `cache.positive_ttl` and `cache.negative_ttl`: 1 day.
pub const MAX_TTL: Duration = DAY;
/// Largest `cache.max_entries`: 10,000,000 logins (a few GB at most).
pub const MAX_CACHE_ENTRIES: u64 = 10_000_000;
/// Longest `directory.connect_timeout` and `directory.bind_queue_timeout`: 1 minute.
pub const MAX_CONNECT_TIMEOUT: Duration = MINUTE;
/// Longest `directory.operation_timeout`: 5 minutes.
pub const MAX_OPERATION_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// Longest `directory.retry_backoff`: 10 minutes.
pub const MAX_RETRY_BACKOFF: Duration = Duration::from_secs(10 * 60);

/// Least and most `directory.health_check_interval`: 1 second to 1 hour.
pub const HEALTH_CHECK_INTERVAL_BOUNDS: (Duration, Duration) =
    (Duration::from_secs(1), Duration::from_secs(3600));

/// `directory:`.
#[derive(Debug, Clone, Copy)]
pub struct DirectoryConfig {
    /// `connect_timeout` (default 3s, at most [`MAX_CONNECT_TIMEOUT`], 1m): connect + TLS +
    /// service bind deadline.
    pub connect_timeout: Duration,
    /// `operation_timeout` (default 5s, at most [`MAX_OPERATION_TIMEOUT`], 5m): per-operation
    /// deadline.
    pub operation_timeout: Duration,
    /// `pool_size` (default 4, 1..=64): connections per global catalog.
    pub pool_size: usize,
    /// `retry_backoff` (default 2s, at most [`MAX_RETRY_BACKOFF`], 10m): how long a failed
    /// server is skipped.
    pub retry_backoff: Duration,
    /// `max_concurrent_binds_per_dc` (default `pool_size`, 1..=256): password binds in flight
    /// per domain controller (and its pooled bind connections).
    pub max_concurrent_binds_per_dc: usize,
    /// `bind_queue_timeout` (default 2s, at most [`MAX_CONNECT_TIMEOUT`], 1m): longest a
    /// password bind waits for one of those slots before failing.
    pub bind_queue_timeout: Duration,
    /// `health_check_interval` (default 10s, 1s..=1h): how often every server (and the state
    /// store) is checked in the background.
    pub health_check_interval: Duration,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            positive_ttl: Duration::from_secs(300),
            negative_ttl: Duration::from_secs(30),
            max_entries: 100_000,
        }
    }
}

impl Default for DirectoryConfig {
    fn default() -> Self {
        DirectoryConfig {
            connect_timeout: Duration::from_secs(3),
            operation_timeout: Duration::from_secs(5),
            pool_size: 4,
            retry_backoff: Duration::from_secs(2),
            max_concurrent_binds_per_dc: 4,
            bind_queue_timeout: Duration::from_secs(2),
            health_check_interval: Duration::from_secs(10),
        }
    }
}

impl Validator {
    /// `cache:`; defaults when absent.
    pub(super) fn cache(&mut self, doc: &mut Document) -> CacheConfig {
        let raw: RawCache = self.take(doc, "cache").unwrap_or_default();
        let d = CacheConfig::default();
        CacheConfig {
            positive_ttl: self.duration(
                "cache.positive_ttl",
                raw.positive_ttl,
                d.positive_ttl,
                MAX_TTL,
            ),
            negative_ttl: self.duration(
                "cache.negative_ttl",
                raw.negative_ttl,
                d.negative_ttl,
                MAX_TTL,
            ),
            max_entries: self.bounded_count(
                "cache.max_entries",
                raw.max_entries,
                d.max_entries,
                0,
                MAX_CACHE_ENTRIES,
            ),
        }
    }

    /// `directory:`; defaults when absent.
    pub(super) fn directory(&mut self, doc: &mut Document) -> DirectoryConfig {
        let raw: RawDirectory = self.take(doc, "directory").unwrap_or_default();
        let d = DirectoryConfig::default();
        let pool_size = self.bounded_count("directory.pool_size", raw.pool_size, 4, 1, 64);
        let max_binds = self.bounded_count(
            "directory.max_concurrent_binds_per_dc",
            raw.max_concurrent_binds_per_dc,
            pool_size,
            1,
            256,
        );
        DirectoryConfig {
            connect_timeout: self.duration(
                "directory.connect_timeout",
                raw.connect_timeout,
                d.connect_timeout,
                MAX_CONNECT_TIMEOUT,
            ),
            operation_timeout: self.duration(
                "directory.operation_timeout",
                raw.operation_timeout,
                d.operation_timeout,
                MAX_OPERATION_TIMEOUT,
            ),
            pool_size: usize_of(pool_size),
            retry_backoff: self.duration(
                "directory.retry_backoff",
                raw.retry_backoff,
                d.retry_backoff,
                MAX_RETRY_BACKOFF,
            ),
            max_concurrent_binds_per_dc: usize_of(max_binds),
            bind_queue_timeout: self.duration(
                "directory.bind_queue_timeout",
                raw.bind_queue_timeout,
                d.bind_queue_timeout,
                MAX_CONNECT_TIMEOUT,
            ),
            health_check_interval: {
                let (least, most) = HEALTH_CHECK_INTERVAL_BOUNDS;
                self.bounded_duration(
                    "directory.health_check_interval",
                    raw.health_check_interval,
                    d.health_check_interval,
                    least,
                    most,
                )
            },
        }
    }
}
