//! Events by name and category, MSIS codes, sign-in failures by reason, Windows integrated
//! sign-ins by protocol and their failures by reason.

use super::{counter_vec, vocabulary, Reg};
use crate::label::{kinds, Id};
use prometheus::IntCounterVec;

/// Events (audit and operational) by kind.
#[derive(Clone)]
pub struct EventMetrics {
    /// `altgate_events_total{event,category}`.
    pub events: IntCounterVec,
    /// `altgate_msis_events_total{code}`: AD FS event 364 failures by MSIS code.
    pub msis: IntCounterVec,
    /// `altgate_sign_in_failures_total{reason}`: event 1203 by reason.
    pub sign_in_failures: IntCounterVec,
    /// `altgate_windows_sign_ins_total{protocol}`: Kerberos sign-ins by protocol.
    pub windows_sign_ins: IntCounterVec,
    /// `altgate_windows_sign_in_failures_total{reason}`: refused Negotiate tokens by reason.
    pub windows_failures: IntCounterVec,
}

impl EventMetrics {
    /// Counts one refused password sign-in (AD FS event 1203) by reason.
    pub fn count_sign_in_failure(&self, reason: impl Into<Id<kinds::SignInFailure>>) {
        self.sign_in_failures
            .with_label_values(&[reason.into().as_str()])
            .inc();
    }

    /// Registers the event metrics.
    pub fn register(r: &Reg<'_>) -> prometheus::Result<Self> {
        Ok(EventMetrics {
            events: counter_vec(
                r,
                "altgate_events_total",
                "Notable occurrences by event name and category (audit or operational).",
                &[
                    vocabulary::<kinds::EventName>("event"),
                    vocabulary::<kinds::EventCategory>("category"),
                ],
            )?,
            msis: counter_vec(
                r,
                "altgate_msis_events_total",
                "Sign-in failures logged as AD FS event 364, by MSIS code.",
                &[vocabulary::<kinds::MsisCode>("code")],
            )?,
            sign_in_failures: counter_vec(
                r,
                "altgate_sign_in_failures_total",
                "Password sign-ins refused (AD FS event 1203), by reason.",
                &[vocabulary::<kinds::SignInFailure>("reason")],
            )?,
            windows_sign_ins: counter_vec(
                r,
                "altgate_windows_sign_ins_total",
                "Windows integrated (Kerberos) sign-ins, users and devices, by protocol.",
                &[vocabulary::<kinds::Protocol>("protocol")],
            )?,
            windows_failures: counter_vec(
                r,
                "altgate_windows_sign_in_failures_total",
                "Negotiate tokens that signed nobody in, by reason.",
                &[vocabulary::<kinds::WindowsFailure>("reason")],
            )?,
        })
    }
}
