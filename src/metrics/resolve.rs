//! Login resolution and the resolution cache.

use super::{counter_vec, histogram_vec, vocabulary, Reg};
use crate::label::{kinds, Id};
use prometheus::{HistogramVec, IntCounter, IntCounterVec, IntGauge};

/// Login resolution outcomes.
#[derive(Clone)]
pub struct ResolveMetrics {
    /// `altgate_login_resolutions_total{outcome,via}`: every resolution. `via="alternate_login_id"`
    /// with `outcome="resolved"` is AD FS's "Alternate Login Id Authentications" (its rate is
    /// "…/Sec").
    pub resolutions: IntCounterVec,
    /// `altgate_login_resolution_duration_seconds{cache}`: whole resolution, cache hit or miss.
    pub duration: HistogramVec,
    /// `altgate_upn_fallbacks_total{reason}`: reason is no_match or no_forest_answered.
    pub upn_fallbacks: IntCounterVec,
}

impl ResolveMetrics {
    /// One resolution took `secs`, answered by the cache or not.
    pub fn observe(&self, cache: impl Into<Id<kinds::CacheResult>>, secs: f64) {
        self.duration
            .with_label_values(&[cache.into().as_str()])
            .observe(secs);
    }

    /// Counts one resolution by outcome and the rule that found the account.
    pub fn count(
        &self,
        outcome: impl Into<Id<kinds::ResolutionOutcome>>,
        via: impl Into<Id<kinds::ResolutionVia>>,
    ) {
        self.resolutions
            .with_label_values(&[outcome.into().as_str(), via.into().as_str()])
            .inc();
    }

    /// Counts one fall back to the UPN, by reason.
    pub fn count_fallback(&self, reason: impl Into<Id<kinds::UpnFallback>>) {
        self.upn_fallbacks
            .with_label_values(&[reason.into().as_str()])
            .inc();
    }

    /// Registers the resolution metrics.
    pub fn register(r: &Reg<'_>) -> prometheus::Result<Self> {
        Ok(ResolveMetrics {
            resolutions: counter_vec(
                r,
                "altgate_login_resolutions_total",
                "Login resolutions by outcome and by the rule that found the account.",
                &[
                    vocabulary::<kinds::ResolutionOutcome>("outcome"),
                    vocabulary::<kinds::ResolutionVia>("via"),
                ],
            )?,
            duration: histogram_vec(
                r,
                "altgate_login_resolution_duration_seconds",
                "Time to resolve a login, by whether the cache answered.",
                &[vocabulary::<kinds::CacheResult>("cache")],
            )?,
            upn_fallbacks: counter_vec(
                r,
                "altgate_upn_fallbacks_total",
                "Resolutions that fell back from the alternate login ID to the UPN, by reason.",
                &[vocabulary::<kinds::UpnFallback>("reason")],
            )?,
        })
    }
}

/// The resolution cache.
#[derive(Clone)]
pub struct CacheMetrics {
    /// `altgate_cache_requests_total{result}`: hit or miss.
    pub requests: IntCounterVec,
    /// `altgate_cache_entries`: entries currently held.
    pub entries: IntGauge,
    /// `altgate_cache_evictions_total{cause}`: size (capacity pressure) or expired.
    pub evictions: IntCounterVec,
    /// `altgate_cache_coalesced_total`: lookups that waited for another caller's directory trip.
    pub coalesced: IntCounter,
}

impl CacheMetrics {
    /// Counts one lookup, hit or miss.
    pub fn count_request(&self, result: impl Into<Id<kinds::CacheResult>>) {
        self.requests
            .with_label_values(&[result.into().as_str()])
            .inc();
    }

    /// Registers the cache metrics.
    pub fn register(r: &Reg<'_>) -> prometheus::Result<Self> {
        let entries = IntGauge::new(
            "altgate_cache_entries",
            "Logins held in the resolution cache.",
        )?;
        r.add(entries.clone(), "gauge", &[])?;
        let coalesced = IntCounter::new(
            "altgate_cache_coalesced_total",
            "Cache misses served by another caller's concurrent directory lookup.",
        )?;
        r.add(coalesced.clone(), "counter", &[])?;
        Ok(CacheMetrics {
            requests: counter_vec(
                r,
                "altgate_cache_requests_total",
                "Resolution cache lookups by result.",
                &[vocabulary::<kinds::CacheResult>("result")],
            )?,
            entries,
            evictions: counter_vec(
                r,
                "altgate_cache_evictions_total",
                "Entries removed from the resolution cache by cause.",
                &[vocabulary::<kinds::EvictionCause>("cause")],
            )?,
            coalesced,
        })
    }
}
