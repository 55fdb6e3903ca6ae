//! `extranet_lockout:`: AD FS Extranet Smart Lockout settings, as written ([`RawExtranetLockout`])
//! and validated ([`ExtranetLockoutConfig`]). [`validate`] reports every problem with its key path.
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
//! ```

use super::{parse_duration, ConfigIssue};
use serde::Deserialize;
use std::time::Duration;

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);

/// `extranet_lockout:` as written. Every key is optional.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawExtranetLockout {
    /// `off` (default: no lockout state is kept or consulted), `log_only` (decide and report
    /// "would refuse", but let every bind happen; AD FS `ADFSSmartLockoutLogOnly`) or `enforce`
    /// (refuse without contacting AD; `ADFSSmartLockoutEnforce`).
    pub mode: Option<String>,
    /// Bad passwords from unfamiliar locations that lock the account out for unfamiliar
    /// locations (`5`, 1..=1000; AD FS `ExtranetLockoutThreshold`). Microsoft advises about half
    /// of AD's own lockout threshold.
    pub threshold: Option<u32>,
    /// Bad passwords from familiar locations that lock the account out for familiar locations
    /// (the larger of `10` and `threshold`; threshold..=1000; AD FS 2019
    /// `ExtranetLockoutThresholdFamiliarLocation`).
    pub familiar_threshold: Option<u32>,
    /// How long a locked-out location class stays refused after its last bad password, and how
    /// often one attempt is let through once locked (`30m`, 1m..=30d; AD FS
    /// `ExtranetObservationWindow`). Make it longer than AD's lockout reset time.
    pub observation_window: Option<String>,
    /// How long a client IP stays familiar after the account last signed in from it (`30d`,
    /// 1h..=365d).
    pub familiar_location_lifetime: Option<String>,
    /// Familiar client IPs kept per account; the least recently seen is dropped (`20`, 1..=100;
    /// AD FS keeps 20).
    pub max_familiar_locations: Option<u32>,
    /// Failed sign-ins one client IP may cause per minute on one node, across all accounts,
    /// before its attempts are refused (`60`, 0..=100000; `0` turns the budget off). Slows a
    /// single source spraying many accounts, which the per-account counts do not see.
    pub ip_failures_per_minute: Option<u32>,
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
}

impl Default for ExtranetLockoutConfig {
    fn default() -> Self {
        ExtranetLockoutConfig {
            mode: LockoutMode::Off,
            policy: LockoutPolicy::default(),
            ip_failures_per_minute: 60,
        }
    }
}

fn issue(issues: &mut Vec<ConfigIssue>, path: &str, message: impl Into<String>) {
    issues.push(ConfigIssue {
        path: path.to_string(),
        message: message.into(),
    });
}

fn bounded_u32(
    issues: &mut Vec<ConfigIssue>,
    key: &str,
    raw: Option<u32>,
    default: u32,
    min: u32,
    max: u32,
) -> u32 {
    match raw {
        None => default,
        Some(v) if (min..=max).contains(&v) => v,
        Some(_) => {
            issue(
                issues,
                &format!("extranet_lockout.{key}"),
                format!("must be between {min} and {max}"),
            );
            default.clamp(min, max)
        }
    }
}

fn bounded_duration(
    issues: &mut Vec<ConfigIssue>,
    key: &str,
    raw: Option<&str>,
    default: Duration,
    (min, min_text): (Duration, &str),
    (max, max_text): (Duration, &str),
) -> Duration {
    let path = format!("extranet_lockout.{key}");
    match raw.map(parse_duration) {
        None => default,
        Some(Ok(d)) if d >= min && d <= max => d,
        Some(Ok(_)) => {
            issue(
                issues,
                &path,
                format!("must be between {min_text} and {max_text}"),
            );
            default
        }
        Some(Err(e)) => {
            issue(issues, &path, e);
            default
        }
    }
}

/// Validates `extranet_lockout:`, pushing each problem onto `issues` with its key path. The
/// returned value is usable (defaults stand in for bad values) but meaningful only when no
/// issue was pushed.
pub fn validate(raw: RawExtranetLockout, issues: &mut Vec<ConfigIssue>) -> ExtranetLockoutConfig {
    let d = ExtranetLockoutConfig::default();
    let mode = match raw.mode.as_deref().map(str::trim) {
        None | Some("off") => LockoutMode::Off,
        Some("log_only") => LockoutMode::LogOnly,
        Some("enforce") => LockoutMode::Enforce,
        Some(other) => {
            issue(
                issues,
                "extranet_lockout.mode",
                format!("{other:?} is not one of: off, log_only, enforce"),
            );
            LockoutMode::Off
        }
    };
    let threshold = bounded_u32(
        issues,
        "threshold",
        raw.threshold,
        d.policy.threshold,
        1,
        1000,
    );
    let familiar_threshold = match raw.familiar_threshold {
        None => d.policy.familiar_threshold.max(threshold),
        Some(v) if v < threshold => {
            issue(
                issues,
                "extranet_lockout.familiar_threshold",
                format!("must not be lower than threshold ({threshold})"),
            );
            threshold
        }
        Some(v) => bounded_u32(issues, "familiar_threshold", Some(v), threshold, 1, 1000),
    };
    let observation_window = bounded_duration(
        issues,
        "observation_window",
        raw.observation_window.as_deref(),
        d.policy.observation_window,
        (MINUTE, "1m"),
        (30 * DAY, "30d"),
    );
    let familiar_location_lifetime = bounded_duration(
        issues,
        "familiar_location_lifetime",
        raw.familiar_location_lifetime.as_deref(),
        d.policy.familiar_location_lifetime,
        (HOUR, "1h"),
        (365 * DAY, "365d"),
    );
    let max_familiar_locations = bounded_u32(
        issues,
        "max_familiar_locations",
        raw.max_familiar_locations,
        d.policy.max_familiar_locations,
        1,
        100,
    );
    let ip_failures_per_minute = bounded_u32(
        issues,
        "ip_failures_per_minute",
        raw.ip_failures_per_minute,
        d.ip_failures_per_minute,
        0,
        100_000,
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> (ExtranetLockoutConfig, Vec<ConfigIssue>) {
        let raw: RawExtranetLockout = serde_yaml::from_str(yaml).expect("yaml");
        let mut issues = Vec::new();
        let c = validate(raw, &mut issues);
        (c, issues)
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
        assert_eq!(c.policy.record_lifetime(), 30 * DAY);
    }

    #[test]
    fn every_key_is_read() {
        let (c, issues) = parse(
            "mode: enforce\nthreshold: 3\nfamiliar_threshold: 7\nobservation_window: 1h\n\
             familiar_location_lifetime: 14d\nmax_familiar_locations: 5\nip_failures_per_minute: 0\n",
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
             ip_failures_per_minute: 100001\n",
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
             familiar_location_lifetime: 1h\nmax_familiar_locations: 100",
        );
        assert!(issues.is_empty(), "{issues:?}");
        let (_, issues) = parse("threshold: 1\nobservation_window: 1m\nmax_familiar_locations: 1");
        assert!(issues.is_empty(), "{issues:?}");
    }
}
