//! The farm-wide state store and extranet lockout decisions.

use super::{counter_vec, histogram_vec, vocabulary, Reg};
use crate::label::{kinds, Id};
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
    /// One `op` took `secs`; `failed` counts it as an error too.
    pub fn observe(&self, op: impl Into<Id<kinds::StateOp>>, secs: f64, failed: bool) {
        let op = op.into().as_str();
        self.duration.with_label_values(&[op]).observe(secs);
        if failed {
            self.errors.with_label_values(&[op]).inc();
        }
    }

    /// Registers the state store metrics.
    pub fn register(r: &Reg<'_>) -> prometheus::Result<Self> {
        Ok(StateMetrics {
            duration: histogram_vec(
                r,
                "altgate_state_operation_duration_seconds",
                "State store operation time by operation, failures included.",
                &[vocabulary::<kinds::StateOp>("op")],
            )?,
            errors: counter_vec(
                r,
                "altgate_state_errors_total",
                "State store operations that failed, by operation.",
                &[vocabulary::<kinds::StateOp>("op")],
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
    /// Counts one decision made in `mode` for `class`.
    pub fn count_decision(
        &self,
        mode: impl Into<Id<kinds::LockoutMode>>,
        class: impl Into<Id<kinds::LockoutClass>>,
        decision: impl Into<Id<kinds::LockoutDecision>>,
    ) {
        self.decisions
            .with_label_values(&[
                mode.into().as_str(),
                class.into().as_str(),
                decision.into().as_str(),
            ])
            .inc();
    }

    /// Registers the lockout metrics.
    pub fn register(r: &Reg<'_>) -> prometheus::Result<Self> {
        Ok(LockoutMetrics {
            decisions: counter_vec(
                r,
                "altgate_lockout_decisions_total",
                "Extranet lockout decisions by mode, location class and decision.",
                &[
                    vocabulary::<kinds::LockoutMode>("mode"),
                    vocabulary::<kinds::LockoutClass>("class"),
                    vocabulary::<kinds::LockoutDecision>("decision"),
                ],
            )?,
        })
    }
}
