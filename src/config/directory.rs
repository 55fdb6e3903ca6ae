//! How lookups against the forests are tuned: `directory:` (LDAP connection deadlines, pool
//! sizes, backoff, bind slots per domain controller) and `cache:` (the resolution cache).

use super::{Checked, Document, HumanDuration, Validator};
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
    pub max_entries: Option<u64>,
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
    pub pool_size: Option<usize>,
    /// After a server fails, skip it for this long before trying again (`2s`).
    pub retry_backoff: Option<Checked<HumanDuration>>,
    /// Password binds in flight per domain controller, and its pooled bind connections
    /// (`pool_size`).
    pub max_concurrent_binds_per_dc: Option<usize>,
    /// Longest a password bind waits for a free slot on its domain controller (`2s`).
    pub bind_queue_timeout: Option<Checked<HumanDuration>>,
}

/// `cache:`.
#[derive(Debug, Clone, Copy)]
pub struct CacheConfig {
    /// Lifetime of resolved accounts.
    pub positive_ttl: Duration,
    /// Lifetime of not-found and ambiguous outcomes.
    pub negative_ttl: Duration,
    /// Capacity; 0 disables caching.
    pub max_entries: u64,
}

/// `directory:`.
#[derive(Debug, Clone, Copy)]
pub struct DirectoryConfig {
    /// Connect + TLS + service bind deadline.
    pub connect_timeout: Duration,
    /// Per-operation deadline.
    pub operation_timeout: Duration,
    /// Connections per global catalog.
    pub pool_size: usize,
    /// How long a failed server is skipped.
    pub retry_backoff: Duration,
    /// Password binds in flight per domain controller (and its pooled bind connections).
    pub max_concurrent_binds_per_dc: usize,
    /// Longest a password bind waits for one of those slots before failing.
    pub bind_queue_timeout: Duration,
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
        }
    }
}

impl Validator {
    /// `cache:`; defaults when absent.
    pub(super) fn cache(&mut self, doc: &mut Document) -> CacheConfig {
        let raw: RawCache = self.take(doc, "cache").unwrap_or_default();
        let d = CacheConfig::default();
        CacheConfig {
            positive_ttl: self.duration("cache.positive_ttl", raw.positive_ttl, d.positive_ttl),
            negative_ttl: self.duration("cache.negative_ttl", raw.negative_ttl, d.negative_ttl),
            max_entries: raw.max_entries.unwrap_or(d.max_entries),
        }
    }

    /// `directory:`; defaults when absent.
    pub(super) fn directory(&mut self, doc: &mut Document) -> DirectoryConfig {
        let raw: RawDirectory = self.take(doc, "directory").unwrap_or_default();
        let d = DirectoryConfig::default();
        let pool_size = raw.pool_size.unwrap_or(d.pool_size);
        if !(1..=64).contains(&pool_size) {
            self.err("directory.pool_size", "must be between 1 and 64");
        }
        let max_binds = raw
            .max_concurrent_binds_per_dc
            .unwrap_or(pool_size.clamp(1, 64));
        if !(1..=256).contains(&max_binds) {
            self.err(
                "directory.max_concurrent_binds_per_dc",
                "must be between 1 and 256",
            );
        }
        DirectoryConfig {
            connect_timeout: self.duration(
                "directory.connect_timeout",
                raw.connect_timeout,
                d.connect_timeout,
            ),
            operation_timeout: self.duration(
                "directory.operation_timeout",
                raw.operation_timeout,
                d.operation_timeout,
            ),
            pool_size: pool_size.clamp(1, 64),
            retry_backoff: self.duration(
                "directory.retry_backoff",
                raw.retry_backoff,
                d.retry_backoff,
            ),
            max_concurrent_binds_per_dc: max_binds.clamp(1, 256),
            bind_queue_timeout: self.duration(
                "directory.bind_queue_timeout",
                raw.bind_queue_timeout,
                d.bind_queue_timeout,
            ),
        }
    }
}
