//! The farm-wide state store and extranet lockout decisions.

use super::{counter_vec, histogram_vec, Reg};
use prometheus::{HistogramVec, IntCounterVec};

/// The farm-wide state store (`state:`), every backend.
#[derive(Clone)]
pub struct StateMetrics {
    /// `altgate_state_operation_duration_seconds{op}`: op is attempt, succeeded, not_counted,
    /// status, reset, first_use, revoke, is_revoked or ping.
    pub duration: HistogramVec,
    /// `altgate_state_errors_total{op}`: operations that failed (timeout, unreachable, bad
    /// answer).
    pub errors: IntCounterVec,
}

impl StateMetrics {
    /// Registers the state store metrics.
    pub fn register(r: &Reg<'_>) -> prometheus::Result<Self> {
        Ok(StateMetrics {
            duration: histogram_vec(
                r,
                "altgate_state_operation_duration_seconds",
                "State store operation time by operation, failures included.",
                &["op"],
            )?,
            errors: counter_vec(
                r,
                "altgate_state_errors_total",
                "State store operations that failed, by operation.",
                &["op"],
            )?,
        })
    }
}

/// Extranet (smart) lockout decisions.
#[derive(Clone)]
pub struct LockoutMetrics {
    /// `altgate_lockout_decisions_total{mode,class,decision}`: mode log_only or enforce; class
    /// familiar, unfamiliar, unknown (the state store failed) or source_ip (the per-IP failure
    /// budget); decision allow, probe, refuse, would_refuse, fail_open or fail_closed.
    pub decisions: IntCounterVec,
}

impl LockoutMetrics {
    /// Registers the lockout metrics.
    pub fn register(r: &Reg<'_>) -> prometheus::Result<Self> {
        Ok(LockoutMetrics {
            decisions: counter_vec(
                r,
                "altgate_lockout_decisions_total",
                "Extranet lockout decisions by mode, location class and decision.",
                &["mode", "class", "decision"],
            )?,
        })
    }
}
