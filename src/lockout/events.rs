//! What extranet lockout reports ([`LockoutReport`]), and the events the caller emits for it
//! ([`LockoutReport::emit`]), with the AD FS event ids: 1210 (an attempt refused because the account is locked
//! out), 516 (an account got locked out: a bad password brought its count to the threshold),
//! 515 (a locked-out account presented the correct password), plus an operational event when
//! the state store could not answer.

use super::Class;
use crate::events::{
    Events, ExtranetAccountLockedOut, ExtranetLockedAccountCorrectPassword, ExtranetLockoutRefused,
    StateStoreUnavailable,
};
use crate::state::{AttemptDecision, Op, StateError};
use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

/// One thing extranet lockout wants logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockoutReport {
    /// AD FS 1210: the attempt was refused without contacting AD (`enforced: false` in
    /// log-only mode: it would have been).
    Refused {
        /// The store's decision (class, count, threshold, lockout end).
        decision: AttemptDecision,
        /// False in log-only mode.
        enforced: bool,
    },
    /// AD FS 516: a bad password brought the class's count to its threshold (or a probe failed
    /// and extended the lockout).
    LockedOut {
        /// The store's decision for the attempt that locked the account.
        decision: AttemptDecision,
        /// False in log-only mode.
        enforced: bool,
    },
    /// AD FS 515: an account locked out for this class presented the correct password (a
    /// log-only "would refuse" attempt or the one probe per window); its count is reset.
    LockedAccountCorrectPassword {
        /// The store's decision for the attempt.
        decision: AttemptDecision,
        /// False in log-only mode.
        enforced: bool,
    },
    /// The state store did not answer.
    StateUnavailable {
        /// The operation: attempt, succeeded or not_counted.
        op: &'static str,
        /// [`StateError::code`].
        code: &'static str,
        /// True when the sign-in was refused for it (`on_unavailable: fail_closed`).
        refused: bool,
    },
}

impl LockoutReport {
    pub(crate) fn state_unavailable(op: Op, e: &StateError, refused: bool) -> Self {
        LockoutReport::StateUnavailable {
            op: op.id(),
            code: e.code(),
            refused,
        }
    }

    /// The AD FS event id, where AD FS has one.
    pub fn event_id(&self) -> Option<u32> {
        match self {
            LockoutReport::Refused { .. } => Some(1210),
            LockoutReport::LockedOut { .. } => Some(516),
            LockoutReport::LockedAccountCorrectPassword { .. } => Some(515),
            LockoutReport::StateUnavailable { .. } => None,
        }
    }
}

fn unix(t: Option<SystemTime>) -> Option<u64> {
    t.and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_secs())
}

impl LockoutReport {
    /// Emits the report's event, naming the user as the caller knows them (the login as typed)
    /// and the request's client addresses.
    pub fn emit(&self, events: &Events, user: &str, client_ips: &[IpAddr]) {
        match *self {
            LockoutReport::Refused {
                decision: d,
                enforced,
            } => events.emit(&ExtranetLockoutRefused {
                user,
                client_ips,
                location: Class::from(d.class).into(),
                bad_password_count: d.count,
                threshold: d.threshold,
                last_bad_password: unix(d.last_bad),
                locked_until: unix(d.locked_until),
                enforced,
                message: if enforced {
                    "sign-in refused: the account is locked out for this location class"
                } else {
                    "log only: this sign-in would have been refused (account locked out)"
                },
            }),
            LockoutReport::LockedOut {
                decision: d,
                enforced,
            } => events.emit(&ExtranetAccountLockedOut {
                user,
                client_ips,
                location: Class::from(d.class).into(),
                bad_password_count: d.count,
                threshold: d.threshold,
                last_bad_password: unix(d.last_bad),
                locked_until: unix(d.locked_until),
                enforced,
            }),
            LockoutReport::LockedAccountCorrectPassword {
                decision: d,
                enforced,
            } => events.emit(&ExtranetLockedAccountCorrectPassword {
                user,
                client_ips,
                location: Class::from(d.class).into(),
                bad_password_count: d.count,
                threshold: d.threshold,
                enforced,
            }),
            LockoutReport::StateUnavailable { op, code, refused } => {
                events.emit(&StateStoreUnavailable {
                    op,
                    code,
                    user,
                    refused,
                    message: if refused {
                        "the state store did not answer; sign-in refused (fail_closed)"
                    } else {
                        "the state store did not answer; sign-in let through without extranet lockout (fail_open)"
                    },
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Metrics;
    use crate::state::{LocationClass, Verdict};

    fn decision() -> AttemptDecision {
        AttemptDecision {
            class: LocationClass::Unfamiliar,
            verdict: Verdict::Refused,
            count: 5,
            threshold: 5,
            last_bad: Some(UNIX_EPOCH),
            locked_until: Some(UNIX_EPOCH),
            counted: None,
        }
    }

    #[test]
    fn ids_names_and_categories() {
        let d = decision();
        let cases = [
            (
                LockoutReport::Refused {
                    decision: d,
                    enforced: true,
                },
                Some(1210),
                "extranet_lockout_refused",
            ),
            (
                LockoutReport::LockedOut {
                    decision: d,
                    enforced: false,
                },
                Some(516),
                "extranet_account_locked_out",
            ),
            (
                LockoutReport::LockedAccountCorrectPassword {
                    decision: d,
                    enforced: true,
                },
                Some(515),
                "extranet_locked_account_correct_password",
            ),
            (
                LockoutReport::StateUnavailable {
                    op: "attempt",
                    code: "state_timeout",
                    refused: false,
                },
                None,
                "state_store_unavailable",
            ),
        ];
        let m = Metrics::standalone().expect("metrics");
        let events = crate::events::Events::new(m.events.clone());
        let text_before = m.render();
        for (report, id, name) in cases {
            assert_eq!(report.event_id(), id);
            report.emit(&events, "dana@contoso.com", &[]);
            assert!(m.render().contains(&format!("event=\"{name}\"")), "{name}");
        }
        assert!(!text_before.contains("extranet_lockout_refused"));
        let text = m.render();
        assert!(text.contains(
            "altgate_events_total{category=\"audit\",event=\"extranet_lockout_refused\"} 1"
        ));
        assert!(text.contains(
            "altgate_events_total{category=\"operational\",event=\"state_store_unavailable\"} 1"
        ));
    }
}
