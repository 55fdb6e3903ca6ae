//! `extranet_lockout:`: AD FS Extranet Smart Lockout settings, as written ([`RawExtranetLockout`])
//! and validated ([`ExtranetLockoutConfig`]) the way every section is (see [`super`]): every
//! problem is reported with its key path.
//!
//! ```yaml
//! extranet_lockout:
//!   mode: enforce                   # off (default) | log_only | enforce
//!   threshold: 5                    # bad passwords from unfamiliar locations, 1..=1000
//!   familiar_threshold: 10          # from familiar locations, threshold..=1000
//!   observation_window: 30m         # 1m..=30d
//!   familiar_location_lifetime: 30d # 1h..=365d
//!   max_familiar_locations: 20      # 1..=100
//!   ip_failures_per_minute: 60      # per client IP and node, 0 = off, ..=100000
//!   ip_budget_delay: 1s             # wait of every sign-in from an address over it, 1ms..=10s
//! ```

use super::{u32_of, Checked, Document, HumanDuration, Validator, DAY, HOUR, MINUTE};
use serde::Deserialize;
use std::time::Duration;

/// Least and most `extranet_lockout.threshold` (and `familiar_threshold`).
pub const THRESHOLD_BOUNDS: (u64, u64) = (1, 1000);
/// Least and most `extranet_lockout.observation_window`: 1 minute to 30 days.
pub const OBSERVATION_WINDOW_BOUNDS: (Duration, Duration) =
    (MINUTE, Duration::from_secs(30 * DAY.as_secs()));
/// Least and most `extranet_lockout.familiar_location_lifetime`: 1 hour to 365 days.
pub const FAMILIAR_LOCATION_LIFETIME_BOUNDS: (Duration, Duration) =
    (HOUR, Duration::from_secs(365 * DAY.as_secs()));
/// Least and most `extranet_lockout.max_familiar_locations`.
pub const MAX_FAMILIAR_LOCATIONS_BOUNDS: (u64, u64) = (1, 100);
/// Least and most `extranet_lockout.ip_failures_per_minute` (`0` turns the budget off).
pub const IP_FAILURES_PER_MINUTE_BOUNDS: (u64, u64) = (0, 100_000);
/// Least and most `extranet_lockout.ip_budget_delay`: 1 millisecond to 10 seconds.
pub const IP_BUDGET_DELAY_BOUNDS: (Duration, Duration) =
    (Duration::from_millis(1), Duration::from_secs(10));

/// `extranet_lockout:` as written. Every key is optional.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawExtranetLockout {
    /// `off` (default: no lockout state is kept or consulted), `log_only` (decide and report
    /// "would refuse", but let every bind happen; AD FS `ADFSSmartLockoutLogOnly`) or `enforce`
    /// (refuse without contacting AD; `ADFSSmartLockoutEnforce`).
    pub mode: Option<Checked<String>>,
    /// Bad passwords from unfamiliar locations that lock the account out for unfamiliar
    /// locations (`5`, 1..=1000; AD FS `ExtranetLockoutThreshold`). Microsoft advises about half
    /// of AD's own lockout threshold.
    pub threshold: Option<Checked<u64>>,
    /// Bad passwords from familiar locations that lock the account out for familiar locations
    /// (the larger of `10` and `threshold`; threshold..=1000; AD FS 2019
    /// `ExtranetLockoutThresholdFamiliarLocation`).
    pub familiar_threshold: Option<Checked<u64>>,
    /// How long a locked-out location class stays refused after its last bad password, and how
    /// often one attempt is let through once locked (`30m`, 1m..=30d; AD FS
    /// `ExtranetObservationWindow`). Make it longer than AD's lockout reset time.
    pub observation_window: Option<Checked<HumanDuration>>,
    /// How long a client IP stays familiar after the account last signed in from it (`30d`,
    /// 1h..=365d).
    pub familiar_location_lifetime: Option<Checked<HumanDuration>>,
    /// Familiar client IPs kept per account; the least recently seen is dropped (`20`, 1..=100;
    /// AD FS keeps 20).
    pub max_familiar_locations: Option<Checked<u64>>,
    /// Failed sign-ins one client IP may cause per minute on one node, across all accounts,
    /// before its attempts are refused (`60`, 0..=100000; `0` turns the budget off). Slows a
    /// single source spraying many accounts, which the per-account counts do not see.
    pub ip_failures_per_minute: Option<Checked<u64>>,
    /// How long every sign-in from an address over `ip_failures_per_minute` waits (`1s`,
    /// 1ms..=10s) before it is verified (the account signed in from that address recently: it
    /// is familiar there) or refused (anyone else, and logins that do not exist): the address is
    /// slowed, but its known users are never locked out by someone else's failures.
    pub ip_budget_delay: Option<Checked<HumanDuration>>,
}

crate::label::label_set! {
    /// What extranet lockout does with its decisions (the configuration spelling is the id).
    pub enum LockoutMode: crate::label::kinds::LockoutMode {
        /// Nothing: no state is read or written (no decision is ever counted).
        Off = "off",
        /// Decide and report, but never refuse.
        LogOnly = "log_only",
        /// Refuse locked-out attempts without contacting AD.
        Enforce = "enforce",
    }
}

/// The counting rules the state store applies (the part of the settings every farm node must
/// agree on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Bad passwords from unfamiliar locations before those are refused.
    pub threshold: u32,
    /// Bad passwords from familiar locations before those are refused (`>= threshold`).
    pub familiar_threshold: u32,
    /// Lockout duration after the last bad password; also one attempt per window once locked.
    pub observation_window: Duration,
    /// How long a familiar client IP stays familiar after its last successful sign-in.
    pub familiar_location_lifetime: Duration,
    /// Familiar client IPs kept per account.
    pub max_familiar_locations: u32,
}

impl LockoutPolicy {
    /// How long an account's record is kept after its last write: long enough for both the
    /// familiar locations and a running lockout.
    pub fn record_lifetime(&self) -> Duration {
        self.observation_window.max(self.familiar_location_lifetime)
    }
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        LockoutPolicy {
            threshold: 5,
            familiar_threshold: 10,
            observation_window: 30 * MINUTE,
            familiar_location_lifetime: 30 * DAY,
            max_familiar_locations: 20,
        }
    }
}

/// The validated `extranet_lockout:` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtranetLockoutConfig {
    /// Off, log-only or enforce.
    pub mode: LockoutMode,
    /// The counting rules.
    pub policy: LockoutPolicy,
    /// Failed sign-ins per client IP per minute on one node; `0` = no budget.
    pub ip_failures_per_minute: u32,
    /// The wait of every sign-in from an address over its budget, before a familiar account is
    /// verified or anything else refused.
    pub ip_budget_delay: Duration,
}

impl Default for ExtranetLockoutConfig {
    fn default() -> Self {
        ExtranetLockoutConfig {
            mode: LockoutMode::Off,
            policy: LockoutPolicy::default(),
            ip_failures_per_minute: 60,
            ip_budget_delay: Duration::from_secs(1),
        }
    }
}

impl Validator {
    /// `extranet_lockout:`; defaults (off) when absent.
    pub(super) fn extranet_lockout(&mut self, doc: &mut Document) -> ExtranetLockoutConfig {
        let raw: RawExtranetLockout = self.take(doc, "extranet_lockout").unwrap_or_default();
        let d = ExtranetLockoutConfig::default();
        let p = |key: &str| format!("extranet_lockout.{key}");
        let mode = self.word(
            &p("mode"),
            raw.mode,
            LockoutMode::Off,
            &[
                ("off", LockoutMode::Off),
                ("log_only", LockoutMode::LogOnly),
                ("enforce", LockoutMode::Enforce),
            ],
        );
        let (least, most) = THRESHOLD_BOUNDS;
        let threshold = u32_of(self.bounded_count(
            &p("threshold"),
            raw.threshold,
            u64::from(d.policy.threshold),
            least,
            most,
        ));
        let familiar_threshold =
            match self.checked(&p("familiar_threshold"), raw.familiar_threshold) {
                None => d.policy.familiar_threshold.max(threshold),
                Some(n) if n < u64::from(threshold) => {
                    self.err(
                        p("familiar_threshold"),
                        format!("must not be lower than threshold ({threshold})"),
                    );
                    threshold
                }
                Some(n) => self
                    .count_within(&p("familiar_threshold"), n, least, most)
                    .map_or(threshold, u32_of),
            };
        let (least, most) = OBSERVATION_WINDOW_BOUNDS;
        let observation_window = self.bounded_duration(
            &p("observation_window"),
            raw.observation_window,
            d.policy.observation_window,
            least,
            most,
        );
        let (least, most) = FAMILIAR_LOCATION_LIFETIME_BOUNDS;
        let familiar_location_lifetime = self.bounded_duration(
            &p("familiar_location_lifetime"),
            raw.familiar_location_lifetime,
            d.policy.familiar_location_lifetime,
            least,
            most,
        );
        let (least, most) = MAX_FAMILIAR_LOCATIONS_BOUNDS;
        let max_familiar_locations = u32_of(self.bounded_count(
            &p("max_familiar_locations"),
            raw.max_familiar_locations,
            u64::from(d.policy.max_familiar_locations),
            least,
            most,
        ));
        let (least, most) = IP_FAILURES_PER_MINUTE_BOUNDS;
        let ip_failures_per_minute = u32_of(self.bounded_count(
            &p("ip_failures_per_minute"),
            raw.ip_failures_per_minute,
            u64::from(d.ip_failures_per_minute),
            least,
            most,
        ));
        let (least, most) = IP_BUDGET_DELAY_BOUNDS;
        let ip_budget_delay = self.bounded_duration(
            &p("ip_budget_delay"),
            raw.ip_budget_delay,
            d.ip_budget_delay,
            least,
            most,
        );
        ExtranetLockoutConfig {
            mode,
            policy: LockoutPolicy {
                threshold,
                familiar_threshold,
                observation_window,
                familiar_location_lifetime,
                max_familiar_locations,
            },
            ip_failures_per_minute,
            ip_budget_delay,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::config::ConfigIssue;

    fn parse(yaml: &str) -> (ExtranetLockoutConfig, Vec<ConfigIssue>) {
        Validator::section("extranet_lockout", yaml, Validator::extranet_lockout)
    }

    fn paths(issues: &[ConfigIssue]) -> Vec<&str> {
        issues.iter().map(|i| i.path.as_str()).collect()
    }

    #[test]
    fn empty_section_gives_the_defaults() {
        let (c, issues) = parse("{}");
        assert!(issues.is_empty(), "{issues:?}");
        assert_eq!(c, ExtranetLockoutConfig::default());
        assert_eq!(c.mode, LockoutMode::Off);
        assert_eq!(c.policy.threshold, 5);
        assert_eq!(c.policy.familiar_threshold, 10);
        assert_eq!(c.policy.observation_window, Duration::from_secs(1800));
        assert_eq!(c.policy.familiar_location_lifetime, 30 * DAY);
        assert_eq!(c.policy.max_familiar_locations, 20);
        assert_eq!(c.ip_failures_per_minute, 60);
        assert_eq!(c.ip_budget_delay, Duration::from_secs(1));
        assert_eq!(c.policy.record_lifetime(), 30 * DAY);
    }

    #[test]
    fn every_key_is_read() {
        let (c, issues) = parse(
            "mode: enforce\nthreshold: 3\nfamiliar_threshold: 7\nobservation_window: 1h\n\
             familiar_location_lifetime: 14d\nmax_familiar_locations: 5\nip_failures_per_minute: 0\n\
             ip_budget_delay: 250ms\n",
        );
        assert!(issues.is_empty(), "{issues:?}");
        assert_eq!(c.mode, LockoutMode::Enforce);
        assert_eq!(
            c.policy,
            LockoutPolicy {
                threshold: 3,
                familiar_threshold: 7,
                observation_window: HOUR,
                familiar_location_lifetime: 14 * DAY,
                max_familiar_locations: 5,
            }
        );
        assert_eq!(c.ip_failures_per_minute, 0);
        assert_eq!(c.ip_budget_delay, Duration::from_millis(250));
        let (c, _) = parse("mode: log_only");
        assert_eq!(c.mode, LockoutMode::LogOnly);
        assert_eq!(c.mode.as_str(), "log_only");
    }

    #[test]
    fn familiar_threshold_defaults_to_at_least_threshold() {
        let (c, issues) = parse("threshold: 15");
        assert!(issues.is_empty(), "{issues:?}");
        assert_eq!(c.policy.familiar_threshold, 15);
    }

    #[test]
    fn out_of_bounds_values_are_reported_with_their_paths() {
        let (_, issues) = parse(
            "mode: strict\nthreshold: 0\nfamiliar_threshold: 1001\nobservation_window: 30s\n\
             familiar_location_lifetime: 2y\nmax_familiar_locations: 101\n\
             ip_failures_per_minute: 100001\nip_budget_delay: 11s\n",
        );
        assert_eq!(
            paths(&issues),
            [
                "extranet_lockout.mode",
                "extranet_lockout.threshold",
                "extranet_lockout.familiar_threshold",
                "extranet_lockout.observation_window",
                "extranet_lockout.familiar_location_lifetime",
                "extranet_lockout.max_familiar_locations",
                "extranet_lockout.ip_failures_per_minute",
                "extranet_lockout.ip_budget_delay",
            ]
        );
        assert!(issues[0].message.contains("off, log_only, enforce"));
        assert!(issues[3].message.contains("between 1m and 30d"));
    }

    #[test]
    fn familiar_threshold_below_threshold_is_refused() {
        let (_, issues) = parse("threshold: 8\nfamiliar_threshold: 4");
        assert_eq!(paths(&issues), ["extranet_lockout.familiar_threshold"]);
        assert!(issues[0].message.contains("threshold (8)"));
    }

    #[test]
    fn bad_durations_and_unknown_keys_are_reported() {
        let (_, issues) = parse("observation_window: soon");
        assert_eq!(paths(&issues), ["extranet_lockout.observation_window"]);
        assert!(serde_yaml::from_str::<RawExtranetLockout>("treshold: 5").is_err());
    }

    #[test]
    fn the_bounds_themselves_are_accepted() {
        let (_, issues) = parse(
            "threshold: 1000\nfamiliar_threshold: 1000\nobservation_window: 30d\n\
             familiar_location_lifetime: 1h\nmax_familiar_locations: 100\nip_budget_delay: 10s",
        );
        assert!(issues.is_empty(), "{issues:?}");
        let (_, issues) = parse(
            "threshold: 1\nobservation_window: 1m\nmax_familiar_locations: 1\nip_budget_delay: 1ms",
        );
        assert!(issues.is_empty(), "{issues:?}");
    }
}
