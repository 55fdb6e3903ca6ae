//! The resolution cache. moka bounds it and coalesces concurrent misses for the same login into
//! one directory round trip; expiry is decided here, against `tokio::time::Instant`, so tests
//! drive TTLs with `tokio::time::pause`/`advance` (moka's own clock is not injectable; its TTL
//! is only a backstop that frees memory).

use crate::config::CacheConfig;
use crate::label::{kinds, label_set};
use crate::metrics::CacheMetrics;
use moka::notification::RemovalCause;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// How long a value may be cached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    /// `positive_ttl`.
    Positive,
    /// `negative_ttl`.
    Negative,
    /// Never cached (for example: a forest was unreachable).
    Uncacheable,
}

/// A value and when it stops being served. The value is kept inline (a value that is costly
/// to clone keeps its heavy parts behind `Arc`s itself), so an entry costs one allocation less.
#[derive(Clone)]
struct Entry<V> {
    value: V,
    expires_at: Instant,
}

label_set! {
    /// Whether the resolution cache answered.
    pub enum CacheResult: kinds::CacheResult {
        /// The cache held a live answer.
        Hit = "hit",
        /// The directory was asked (or another caller's lookup was joined).
        Miss = "miss",
    }
}

impl CacheResult {
    /// `Hit` when `hit`.
    pub fn of(hit: bool) -> Self {
        if hit {
            CacheResult::Hit
        } else {
            CacheResult::Miss
        }
    }
}

label_set! {
    /// Why the cache removed an entry.
    pub enum EvictionCause: kinds::EvictionCause {
        /// Capacity pressure (`cache.max_entries`).
        Size = "size",
        /// Its lifetime ended.
        Expired = "expired",
    }
}

/// A bounded, coalescing cache with positive and negative lifetimes.
pub struct ResolutionCache<V: Clone + Send + Sync + 'static> {
    /// Keyed by `Box<str>`: 8 bytes less per entry than `String`, which moka keeps in its own
    /// allocation.
    inner: Option<moka::future::Cache<Box<str>, Entry<V>>>,
    config: CacheConfig,
    metrics: CacheMetrics,
}

impl<V: Clone + Send + Sync + 'static> ResolutionCache<V> {
    /// A cache per `config`; `max_entries: 0` disables caching (every lookup goes through).
    pub fn new(config: CacheConfig, metrics: CacheMetrics) -> Self {
        let inner = (config.max_entries > 0).then(|| {
            let evictions = metrics.evictions.clone();
            moka::future::Cache::builder()
                .max_capacity(config.max_entries)
                .time_to_live(
                    config
                        .positive_ttl
                        .max(config.negative_ttl)
                        .saturating_add(Duration::from_secs(1)),
                )
                .eviction_listener(move |_k, _v, cause| {
                    let cause = match cause {
                        RemovalCause::Size => EvictionCause::Size,
                        RemovalCause::Expired => EvictionCause::Expired,
                        RemovalCause::Explicit | RemovalCause::Replaced => return,
                    };
                    evictions.with_label_values(&[cause.id()]).inc();
                })
                .build()
        });
        ResolutionCache {
            inner,
            config,
            metrics,
        }
    }

    fn ttl(&self, lifetime: Lifetime) -> Option<Duration> {
        match lifetime {
            Lifetime::Positive => Some(self.config.positive_ttl),
            Lifetime::Negative => Some(self.config.negative_ttl),
            Lifetime::Uncacheable => None,
        }
    }

    /// The cached value for `key`, or the result of `load`, which runs at most once at a time per
    /// key: concurrent callers wait for and share its result. `lifetime` says how long a loaded
    /// value may be kept. Returns the value and whether the cache answered it.
    pub async fn get_or_load<F, Fut>(&self, key: String, lifetime: F, load: Fut) -> (V, bool)
    where
        F: Fn(&V) -> Lifetime,
        Fut: Future<Output = V>,
    {
        let Some(cache) = &self.inner else {
            self.metrics.count_request(CacheResult::Miss);
            return (load.await, false);
        };
        if let Some(e) = cache.get(key.as_str()).await {
            if Instant::now() < e.expires_at {
                self.metrics.count_request(CacheResult::Hit);
                return (e.value, true);
            }
            cache.invalidate(key.as_str()).await;
        }
        self.metrics.count_request(CacheResult::Miss);
        let ran = AtomicBool::new(false);
        let loaded = cache
            .try_get_with(key.into_boxed_str(), async {
                ran.store(true, Ordering::Relaxed);
                let value = load.await;
                match self.ttl(lifetime(&value)) {
                    Some(ttl) => Ok(Entry {
                        value,
                        expires_at: Instant::now() + ttl,
                    }),
                    // Not cached: handed to the waiting callers through the error path.
                    None => Err(value),
                }
            })
            .await;
        if !ran.load(Ordering::Relaxed) {
            self.metrics.coalesced.inc();
        }
        self.metrics.entries.set(cache.entry_count() as i64);
        match loaded {
            Ok(e) => (e.value, false),
            Err(shared) => (V::clone(&shared), false),
        }
    }

    /// Drops every entry.
    pub fn clear(&self) {
        if let Some(c) = &self.inner {
            c.invalidate_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Metrics;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    fn cache(max: u64) -> (ResolutionCache<String>, Metrics) {
        let m = Metrics::standalone().expect("metrics");
        let c = ResolutionCache::new(
            CacheConfig {
                positive_ttl: Duration::from_secs(300),
                negative_ttl: Duration::from_secs(30),
                max_entries: max,
            },
            m.cache.clone(),
        );
        (c, m)
    }

    #[allow(clippy::ptr_arg)] // the cache hands the loader's value type, `String`, by reference
    fn lifetime(v: &String) -> Lifetime {
        match v.as_str() {
            "found" => Lifetime::Positive,
            "none" => Lifetime::Negative,
            _ => Lifetime::Uncacheable,
        }
    }

    async fn load(
        c: &ResolutionCache<String>,
        key: &str,
        v: &str,
        calls: &AtomicUsize,
    ) -> (String, bool) {
        c.get_or_load(key.into(), lifetime, async {
            calls.fetch_add(1, Ordering::SeqCst);
            v.to_string()
        })
        .await
    }

    #[tokio::test(start_paused = true)]
    async fn positive_and_negative_ttls_follow_the_injected_clock() {
        let (c, _m) = cache(100);
        let calls = AtomicUsize::new(0);
        assert!(!load(&c, "a", "found", &calls).await.1);
        assert!(!load(&c, "b", "none", &calls).await.1);
        tokio::time::advance(Duration::from_secs(29)).await;
        assert!(load(&c, "a", "found", &calls).await.1);
        assert!(load(&c, "b", "none", &calls).await.1);
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(
            load(&c, "a", "found", &calls).await.1,
            "positive entry outlives 31s"
        );
        assert!(
            !load(&c, "b", "none", &calls).await.1,
            "negative entry expired at 30s"
        );
        tokio::time::advance(Duration::from_secs(270)).await;
        assert!(
            !load(&c, "a", "found", &calls).await.1,
            "positive entry expired at 300s"
        );
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn uncacheable_results_are_never_stored() {
        let (c, _m) = cache(100);
        let calls = AtomicUsize::new(0);
        for _ in 0..3 {
            let (v, hit) = load(&c, "k", "partial", &calls).await;
            assert_eq!(v.as_str(), "partial");
            assert!(!hit);
        }
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn concurrent_misses_share_one_load() {
        let (c, m) = cache(100);
        let c = Arc::new(c);
        let calls = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(tokio::sync::Notify::new());
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let (c, calls, gate) = (c.clone(), calls.clone(), gate.clone());
            tasks.push(tokio::spawn(async move {
                c.get_or_load("same".into(), lifetime, async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    gate.notified().await;
                    "found".to_string()
                })
                .await
            }));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        gate.notify_one();
        for t in tasks {
            assert_eq!(t.await.expect("join").0.as_str(), "found");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(m.render().contains("altgate_cache_coalesced_total 15"));
    }

    #[tokio::test]
    async fn uncacheable_results_still_coalesce_concurrent_callers() {
        let (c, _m) = cache(100);
        let c = Arc::new(c);
        let calls = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(tokio::sync::Notify::new());
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (c, calls, gate) = (c.clone(), calls.clone(), gate.clone());
            tasks.push(tokio::spawn(async move {
                c.get_or_load("same".into(), lifetime, async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    gate.notified().await;
                    "partial".to_string()
                })
                .await
            }));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        gate.notify_one();
        for t in tasks {
            assert_eq!(t.await.expect("join").0.as_str(), "partial");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn capacity_is_bounded() {
        let (c, m) = cache(10);
        let calls = AtomicUsize::new(0);
        for i in 0..200 {
            load(&c, &format!("k{i}"), "found", &calls).await;
        }
        if let Some(inner) = &c.inner {
            inner.run_pending_tasks().await;
            assert!(inner.entry_count() <= 10, "{}", inner.entry_count());
        }
        assert!(m
            .render()
            .contains("altgate_cache_evictions_total{cause=\"size\"}"));
    }

    #[tokio::test]
    async fn zero_capacity_disables_caching() {
        let (c, _m) = cache(0);
        let calls = AtomicUsize::new(0);
        load(&c, "a", "found", &calls).await;
        assert!(!load(&c, "a", "found", &calls).await.1);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}
