//! Extranet lockout against each domain's own account lockout policy. altgate must lock an
//! account out (from unfamiliar and from familiar locations) before Active Directory does, or a
//! password spray through altgate locks the user out of everything, inside the network too
//! (AD FS: "ExtranetLockoutThreshold must be less than the AD account lockout threshold").
//!
//! [`compare`] is the rule (pure); [`check`] reads the policy of every domain with a configured
//! domain controller ([`crate::directory::Directory::lockout_policy`]); [`report`] turns the
//! findings into operational events (`ad_lockout_policy_warning`) and log lines. The server
//! runs this once at start-up, `altgate check-config` when it can reach the forests.

use crate::config::lockout::{ExtranetLockoutConfig, LockoutMode};
use crate::config::Config;
use crate::directory::{Directory, DirectoryError, DomainLockoutPolicy};
use crate::events::{AdLockoutPolicyWarning, Events};
use std::time::Duration;

/// One way extranet lockout does not fit a domain's lockout policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finding {
    /// AD's `lockoutThreshold` is 0: AD never locks, altgate's lockout is the only one.
    AdNeverLocks,
    /// An altgate threshold is not below AD's: a spray locks the AD account first.
    ThresholdNotBelow {
        /// `threshold` or `familiar_threshold`.
        setting: &'static str,
        /// altgate's value.
        value: u32,
        /// AD's `lockoutThreshold`.
        ad_threshold: u32,
    },
    /// altgate's observation window is shorter than AD's: each attempt altgate lets through
    /// once per window adds to AD's `badPwdCount` before AD resets it.
    WindowShorter {
        /// `extranet_lockout.observation_window`.
        window: Duration,
        /// AD's `lockOutObservationWindow`.
        ad_window: Duration,
    },
}

impl Finding {
    /// Stable code (the event's `finding` field): `ad_never_locks`, `threshold_not_below_ad`,
    /// `familiar_threshold_not_below_ad`, `window_shorter_than_ad`.
    pub fn code(&self) -> &'static str {
        match self {
            Finding::AdNeverLocks => "ad_never_locks",
            Finding::ThresholdNotBelow {
                setting: "familiar_threshold",
                ..
            } => "familiar_threshold_not_below_ad",
            Finding::ThresholdNotBelow { .. } => "threshold_not_below_ad",
            Finding::WindowShorter { .. } => "window_shorter_than_ad",
        }
    }

    /// What it means and what to do, naming the domain.
    pub fn message(&self, domain: &str) -> String {
        match *self {
            Finding::AdNeverLocks => format!(
                "domain {domain} has no account lockout (lockoutThreshold 0): altgate's extranet \
                 lockout is the only lockout protecting its accounts"
            ),
            Finding::ThresholdNotBelow {
                setting,
                value,
                ad_threshold,
            } => format!(
                "extranet_lockout.{setting} {value} is not below the lockoutThreshold \
                 {ad_threshold} of domain {domain}: a password spray locks the AD account before \
                 altgate does; set it below {ad_threshold} (about half: {})",
                (ad_threshold / 2).max(1)
            ),
            Finding::WindowShorter { window, ad_window } => format!(
                "extranet_lockout.observation_window {} is shorter than the lockout observation \
                 window {} of domain {domain}: the one attempt per window altgate lets through \
                 adds to AD's bad-password count before AD resets it; make it at least {}",
                humantime::format_duration(window),
                humantime::format_duration(ad_window),
                humantime::format_duration(ad_window)
            ),
        }
    }
}

/// How `config` fits a domain whose policy is `ad` (empty: it fits).
pub fn compare(config: &ExtranetLockoutConfig, ad: &DomainLockoutPolicy) -> Vec<Finding> {
    if ad.threshold == 0 {
        return vec![Finding::AdNeverLocks];
    }
    let p = &config.policy;
    let mut out = Vec::new();
    for (setting, value) in [
        ("threshold", p.threshold),
        ("familiar_threshold", p.familiar_threshold),
    ] {
        if value >= ad.threshold {
            out.push(Finding::ThresholdNotBelow {
                setting,
                value,
                ad_threshold: ad.threshold,
            });
        }
    }
    if p.observation_window < ad.observation_window {
        out.push(Finding::WindowShorter {
            window: p.observation_window,
            ad_window: ad.observation_window,
        });
    }
    out
}

/// One domain's outcome.
#[derive(Debug)]
pub struct DomainCheck {
    /// The forest.
    pub forest: String,
    /// The domain (DNS name).
    pub domain: String,
    /// Its policy as read (`Ok(None)`: the directory has none, as in demo mode).
    pub policy: Result<Option<DomainLockoutPolicy>, DirectoryError>,
    /// What does not fit.
    pub findings: Vec<Finding>,
}

/// The (forest, domain) pairs with a configured domain controller: the domains altgate binds to.
pub fn domains_of(config: &Config) -> Vec<(String, String)> {
    config
        .forests
        .iter()
        .flat_map(|f| {
            f.domain_controllers
                .iter()
                .filter(|(_, dcs)| !dcs.is_empty())
                .map(|(d, _)| (f.name.clone(), d.clone()))
        })
        .collect()
}

/// Reads each domain's policy and compares. Nothing when extranet lockout is off.
pub async fn check(
    directory: &dyn Directory,
    lockout: &ExtranetLockoutConfig,
    domains: &[(String, String)],
) -> Vec<DomainCheck> {
    if lockout.mode == LockoutMode::Off {
        return Vec::new();
    }
    let mut out = Vec::with_capacity(domains.len());
    for (forest, domain) in domains {
        let policy = directory.lockout_policy(forest, domain).await;
        let findings = match &policy {
            Ok(Some(p)) => compare(lockout, p),
            _ => Vec::new(),
        };
        out.push(DomainCheck {
            forest: forest.clone(),
            domain: domain.clone(),
            policy,
            findings,
        });
    }
    out
}

/// One event (`ad_lockout_policy_warning`) per finding; a log line for a policy that fits or
/// could not be read.
pub fn report(checks: &[DomainCheck], events: &Events) {
    for c in checks {
        match &c.policy {
            Err(e) => tracing::warn!(
                target: "altgate::ops",
                forest = %c.forest,
                domain = %c.domain,
                error = %e,
                "could not read the domain's lockout policy; extranet lockout thresholds not compared with AD's"
            ),
            Ok(None) => {}
            Ok(Some(p)) if c.findings.is_empty() => tracing::info!(
                target: "altgate::ops",
                forest = %c.forest,
                domain = %c.domain,
                ad_threshold = p.threshold,
                "extranet lockout locks before the domain's own lockout does"
            ),
            Ok(Some(_)) => {}
        }
        for f in &c.findings {
            events.emit(&AdLockoutPolicyWarning {
                forest: &c.forest,
                domain: &c.domain,
                finding: f.code(),
                message: &f.message(&c.domain),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::lockout::LockoutPolicy;
    use crate::directory::{BindRejection, DirectoryEntry, DomainInfo, UserQuery};
    use crate::metrics::Metrics;
    use async_trait::async_trait;
    use std::sync::Arc;

    fn config(threshold: u32, familiar: u32, window_min: u64) -> ExtranetLockoutConfig {
        ExtranetLockoutConfig {
            mode: LockoutMode::Enforce,
            policy: LockoutPolicy {
                threshold,
                familiar_threshold: familiar,
                observation_window: Duration::from_secs(window_min * 60),
                ..LockoutPolicy::default()
            },
            ip_failures_per_minute: 60,
            ip_budget_delay: Duration::from_secs(1),
        }
    }

    fn ad(threshold: u32, window_min: u64) -> DomainLockoutPolicy {
        DomainLockoutPolicy {
            threshold,
            observation_window: Duration::from_secs(window_min * 60),
            lockout_duration: Some(Duration::from_secs(window_min * 60)),
        }
    }

    #[test]
    fn thresholds_must_be_below_ads_and_the_window_at_least_as_long() {
        // The recommended shape: about half AD's threshold, a longer window.
        assert!(compare(&config(5, 8, 60), &ad(10, 30)).is_empty());
        assert!(
            compare(&config(5, 9, 30), &ad(10, 30)).is_empty(),
            "an equal window is enough"
        );
        assert_eq!(
            compare(&config(10, 10, 30), &ad(10, 30)),
            [
                Finding::ThresholdNotBelow {
                    setting: "threshold",
                    value: 10,
                    ad_threshold: 10
                },
                Finding::ThresholdNotBelow {
                    setting: "familiar_threshold",
                    value: 10,
                    ad_threshold: 10
                }
            ]
        );
        let f = compare(&config(5, 10, 30), &ad(10, 30));
        assert_eq!(
            f.iter().map(Finding::code).collect::<Vec<_>>(),
            ["familiar_threshold_not_below_ad"]
        );
        let f = compare(&config(3, 4, 10), &ad(10, 30));
        assert_eq!(
            f,
            [Finding::WindowShorter {
                window: Duration::from_secs(600),
                ad_window: Duration::from_secs(1800)
            }]
        );
        assert_eq!(
            f.iter().map(Finding::code).collect::<Vec<_>>(),
            ["window_shorter_than_ad"]
        );
        assert!(f[0]
            .message("contoso.com")
            .contains("observation_window 10m is shorter than the lockout observation window 30m"));
        // AD never locks: the only finding, whatever altgate's settings.
        assert_eq!(
            compare(&config(50, 100, 1), &ad(0, 30)),
            [Finding::AdNeverLocks]
        );
    }

    #[test]
    fn messages_name_the_domain_and_the_fix() {
        let m = Finding::ThresholdNotBelow {
            setting: "threshold",
            value: 10,
            ad_threshold: 10,
        }
        .message("contoso.com");
        assert_eq!(
            m,
            "extranet_lockout.threshold 10 is not below the lockoutThreshold 10 of domain \
             contoso.com: a password spray locks the AD account before altgate does; set it \
             below 10 (about half: 5)"
        );
        assert!(Finding::AdNeverLocks
            .message("fabrikam.com")
            .contains("altgate's extranet lockout is the only lockout"));
    }

    /// A directory whose domains have fixed policies.
    struct Policies(
        Vec<(
            &'static str,
            Result<Option<DomainLockoutPolicy>, DirectoryError>,
        )>,
    );

    #[async_trait]
    impl Directory for Policies {
        async fn search_users(
            &self,
            _: &str,
            _: &UserQuery,
        ) -> Result<Vec<DirectoryEntry>, DirectoryError> {
            Ok(Vec::new())
        }
        async fn domains(&self, _: &str) -> Result<Arc<Vec<DomainInfo>>, DirectoryError> {
            Ok(Arc::new(Vec::new()))
        }
        async fn bind(
            &self,
            _: crate::directory::AccountRef<'_>,
            _: &str,
        ) -> Result<Result<(), BindRejection>, DirectoryError> {
            Ok(Ok(()))
        }
        async fn account_state(
            &self,
            _: crate::directory::AccountRef<'_>,
        ) -> Result<Option<crate::directory::AccountState>, DirectoryError> {
            Ok(None)
        }
        async fn lockout_policy(
            &self,
            _: &str,
            domain: &str,
        ) -> Result<Option<DomainLockoutPolicy>, DirectoryError> {
            self.0
                .iter()
                .find(|(d, _)| *d == domain)
                .map_or(Ok(None), |(_, p)| p.clone())
        }
    }

    #[tokio::test]
    async fn every_domain_is_checked_and_each_finding_is_one_event() {
        let dir = Policies(vec![
            ("contoso.com", Ok(Some(ad(10, 30)))),
            ("fabrikam.com", Ok(Some(ad(0, 30)))),
            (
                "child.contoso.com",
                Err(DirectoryError::Unreachable {
                    forest: "contoso.com".into(),
                    reason: "down".into(),
                }),
            ),
        ]);
        let domains = [
            ("contoso.com", "contoso.com"),
            ("contoso.com", "child.contoso.com"),
            ("fabrikam.com", "fabrikam.com"),
        ]
        .map(|(f, d)| (f.to_string(), d.to_string()));
        let m = Metrics::standalone().expect("metrics");
        let events = Events::new(m.events.clone());
        let checks = check(&dir, &config(10, 12, 30), &domains).await;
        assert_eq!(checks.len(), 3);
        assert_eq!(checks[0].findings.len(), 2);
        assert!(checks[1].policy.is_err() && checks[1].findings.is_empty());
        assert_eq!(checks[2].findings, [Finding::AdNeverLocks]);
        report(&checks, &events);
        assert!(m.render().contains(
            "altgate_events_total{category=\"operational\",event=\"ad_lockout_policy_warning\"} 3"
        ));
        // Off: nothing is read.
        let mut off = config(5, 10, 30);
        off.mode = LockoutMode::Off;
        assert!(check(&dir, &off, &domains).await.is_empty());
    }
}
