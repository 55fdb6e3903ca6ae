//! The service itself: configuration reloads and the expiry of the TLS server certificates.

use super::{counter_vec, gauge_vec, vocabulary, Reg};
use crate::label::{kinds, Id};
use prometheus::{IntCounterVec, IntGauge, IntGaugeVec};

/// Reloads and certificates.
#[derive(Clone)]
pub struct ServiceMetrics {
    /// `altgate_config_reloads_total{result}`: applied, invalid, failed.
    pub reloads: IntCounterVec,
    /// `altgate_config_last_reload_successful`: 0 after a refused reload until one applies.
    pub last_reload_successful: IntGauge,
    /// `altgate_config_loaded_timestamp_seconds`: when the running configuration was loaded.
    pub loaded: IntGauge,
    /// `altgate_tls_certificate_expiry_timestamp_seconds{listener}`: public, admin.
    pub tls_certificate_expiry: IntGaugeVec,
}

impl ServiceMetrics {
    /// Counts one reload and sets `altgate_config_last_reload_successful` from it.
    pub fn count_reload(&self, result: impl Into<Id<kinds::ReloadResult>>, applied: bool) {
        self.reloads
            .with_label_values(&[result.into().as_str()])
            .inc();
        self.last_reload_successful.set(i64::from(applied));
    }

    /// Records the expiry of the server certificate of `listener` (the first of its chain).
    pub fn set_tls_expiry(
        &self,
        listener: impl Into<Id<kinds::TlsListener>>,
        not_after: time::OffsetDateTime,
    ) {
        self.tls_certificate_expiry
            .with_label_values(&[listener.into().as_str()])
            .set(not_after.unix_timestamp());
    }

    /// Registers the service metrics.
    pub fn register(r: &Reg<'_>) -> prometheus::Result<Self> {
        let last_reload_successful = IntGauge::new(
            "altgate_config_last_reload_successful",
            "1 when the last configuration reload applied (or none was tried), 0 when it was refused.",
        )?;
        last_reload_successful.set(1);
        r.add(last_reload_successful.clone(), "gauge", &[])?;
        let loaded = IntGauge::new(
            "altgate_config_loaded_timestamp_seconds",
            "When (Unix time) the running configuration was loaded: at start or by the last applied reload.",
        )?;
        r.add(loaded.clone(), "gauge", &[])?;
        Ok(ServiceMetrics {
            reloads: counter_vec(
                r,
                "altgate_config_reloads_total",
                "Configuration reloads (SIGHUP, POST /reload) by result.",
                &[vocabulary::<kinds::ReloadResult>("result")],
            )?,
            last_reload_successful,
            loaded,
            tls_certificate_expiry: gauge_vec(
                r,
                "altgate_tls_certificate_expiry_timestamp_seconds",
                "Expiry (Unix time) of the TLS server certificate of each listener that has TLS.",
                &[vocabulary::<kinds::TlsListener>("listener")],
            )?,
        })
    }
}
