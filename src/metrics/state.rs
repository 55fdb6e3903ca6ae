//! The farm-wide state store and extranet lockout decisions.

use super::{counter_vec, gauge_vec, histogram_vec, other, vocabulary, Reg};
use crate::label::{kinds, Id, Label};
use prometheus::{HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts};

/// The farm-wide state store (`state:`), every backend.
#[derive(Clone)]
pub struct StateMetrics {
    /// `altgate_state_operation_duration_seconds{op}`: op is attempt, succeeded, not_counted,
    /// status, reset, first_use, revoke, is_revoked or ping.
    pub duration: HistogramVec,
    /// `altgate_state_errors_total{op}`: operations that failed (timeout, unreachable, bad
    /// answer).
    pub errors: IntCounterVec,
    /// `altgate_state_connected`: 1 while altgate has a connection to the data node (always 1
    /// for the in-process store).
    pub connected: IntGauge,
    /// `altgate_state_master{address}`: 1 for the data node in use (`host:port`, the master the
    /// sentinels named); one series at a time.
    pub master: IntGaugeVec,
    /// `altgate_state_master_changes_total`: connections to another master than the last one
    /// (failovers followed).
    pub master_changes: IntCounter,
    /// `altgate_state_deferred_writes`: failed writes waiting to be written again (attempt
    /// cancellations, successes, take-backs, revocations).
    pub deferred: IntGauge,
}

impl StateMetrics {
    /// Creates every operation's series at zero, so dashboards and `increase()` see the first
    /// error or slow operation.
    pub fn initialise<L: Label<Kind = kinds::StateOp>>(&self, ops: &[L]) {
        for op in ops {
            let _ = self.duration.with_label_values(&[op.id()]);
            let _ = self.errors.with_label_values(&[op.id()]);
        }
    }

    /// The connection to the data node is up (or not).
    pub fn set_connected(&self, up: bool) {
        self.connected.set(i64::from(up));
    }

    /// `address` is the data node in use now.
    pub fn set_master(&self, address: &str) {
        self.master.reset();
        self.master.with_label_values(&[address]).set(1);
    }

    /// Counts one failover followed.
    pub fn count_master_change(&self) {
        self.master_changes.inc();
    }

    /// `n` writes wait to be written again.
    pub fn set_deferred(&self, n: usize) {
        self.deferred.set(i64::try_from(n).unwrap_or(i64::MAX));
    }

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
            connected: {
                let g = IntGauge::with_opts(Opts::new(
                    "altgate_state_connected",
                    "1 while altgate has a connection to the state store's data node (always 1 in process).",
                ))?;
                r.add(g.clone(), "gauge", &[])?;
                g
            },
            master: gauge_vec(
                r,
                "altgate_state_master",
                "1 for the state store node in use (the master the sentinels named); one series at a time.",
                &[other(
                    "address",
                    "host:port of the node in use, or `in-process` (one at a time)",
                )],
            )?,
            master_changes: {
                let c = IntCounter::with_opts(Opts::new(
                    "altgate_state_master_changes_total",
                    "Connections to another state store master than the last one (failovers followed).",
                ))?;
                r.add(c.clone(), "counter", &[])?;
                c
            },
            deferred: {
                let g = IntGauge::with_opts(Opts::new(
                    "altgate_state_deferred_writes",
                    "Failed state store writes waiting to be written again (attempt cancellations, successes, take-backs, revocations).",
                ))?;
                r.add(g.clone(), "gauge", &[])?;
                g
            },
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
    /// Creates every decision's series at zero for `mode`, so the first lockout is seen by
    /// `increase()` and panels show 0, not "No data".
    pub fn initialise<C, D>(
        &self,
        mode: impl Into<Id<kinds::LockoutMode>>,
        classes: &[C],
        decisions: &[D],
    ) where
        C: Label<Kind = kinds::LockoutClass>,
        D: Label<Kind = kinds::LockoutDecision>,
    {
        let mode = mode.into();
        for c in classes {
            for d in decisions {
                let _ = self
                    .decisions
                    .with_label_values(&[mode.as_str(), c.id(), d.id()]);
            }
        }
    }

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
