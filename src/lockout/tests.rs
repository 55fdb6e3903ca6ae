//! [`ExtranetLockout`] over the memory store (and a failing store): modes, the AD FS events,
//! probes, undo, familiar locations, fail open / closed, the IP budget.

use super::*;

fn acct() -> AccountKey {
    AccountKey::new("f", "acct")
}
use crate::config::lockout::LockoutPolicy;
use crate::metrics::Metrics;
use crate::state::memory::MemoryStore;
use crate::state::{Counted, ResetScope};
use async_trait::async_trait;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, UNIX_EPOCH};

fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn ip(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(203, 0, 113, n))
}

fn config(mode: LockoutMode) -> ExtranetLockoutConfig {
    ExtranetLockoutConfig {
        mode,
        policy: LockoutPolicy {
            threshold: 3,
            familiar_threshold: 5,
            observation_window: secs(1800),
            familiar_location_lifetime: secs(86_400),
            max_familiar_locations: 20,
        },
        ip_failures_per_minute: 3,
        ip_budget_delay: secs(1),
    }
}

fn lockout_over(
    mode: LockoutMode,
    on_unavailable: OnUnavailable,
    store: Arc<dyn StateStore>,
) -> (ExtranetLockout, Metrics) {
    let m = Metrics::standalone().expect("metrics");
    (
        ExtranetLockout::new(
            config(mode),
            on_unavailable,
            store,
            m.lockout.clone(),
            crate::clock::system_clock(),
        ),
        m,
    )
}

fn lockout(mode: LockoutMode) -> (ExtranetLockout, Metrics) {
    lockout_over(mode, OnUnavailable::FailOpen, Arc::new(MemoryStore::new()))
}

fn proceed(g: Gate) -> Ticket {
    match g {
        Gate::Proceed(t) => t,
        Gate::Refuse(r) => panic!("refused: {r:?}"),
    }
}

fn refuse(g: Gate) -> LockoutRefusal {
    match g {
        Gate::Refuse(r) => r,
        Gate::Proceed(t) => panic!("proceeded: {t:?}"),
    }
}

/// One sign-in: before, bind with `outcome`, after. None when refused.
async fn sign_in(
    l: &ExtranetLockout,
    ips: &[IpAddr],
    now: SystemTime,
    outcome: Outcome,
) -> Result<Vec<LockoutReport>, LockoutRefusal> {
    match l.before_bind_at(&acct(), ips, now).await {
        Gate::Refuse(r) => Err(r),
        Gate::Proceed(t) => Ok(l.after_bind_at(t, outcome, now).await),
    }
}

fn ids(reports: &[LockoutReport]) -> Vec<Option<u32>> {
    reports.iter().map(LockoutReport::event_id).collect()
}

/// A store that fails every call (or only `succeeded`) and counts calls.
#[derive(Default)]
struct Failing {
    calls: AtomicUsize,
    only_succeeded: bool,
    inner: MemoryStore,
}

fn down() -> StateError {
    StateError::Timeout(Duration::from_millis(250))
}

#[async_trait]
impl StateStore for Failing {
    fn backend(&self) -> &'static str {
        "failing"
    }
    async fn attempt(
        &self,
        a: &str,
        ips: &[IpAddr],
        now: SystemTime,
        p: &LockoutPolicy,
    ) -> Result<AttemptDecision, StateError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.only_succeeded {
            return self.inner.attempt(a, ips, now, p).await;
        }
        Err(down())
    }
    async fn succeeded(
        &self,
        _: &str,
        _: LocationClass,
        _: &[IpAddr],
        _: SystemTime,
        _: &LockoutPolicy,
    ) -> Result<(), StateError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Err(down())
    }
    async fn not_counted(&self, _: &str, _: &Counted) -> Result<(), StateError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Err(down())
    }
    async fn status(
        &self,
        _: &str,
        _: SystemTime,
        _: &LockoutPolicy,
    ) -> Result<AccountActivity, StateError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Err(down())
    }
    async fn reset(&self, _: &str, _: ResetScope) -> Result<(), StateError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Err(down())
    }
    async fn set_familiar(
        &self,
        _: &str,
        _: &[std::net::IpAddr],
        _: &[std::net::IpAddr],
        _: std::time::SystemTime,
        _: &crate::state::LockoutPolicy,
    ) -> Result<(), StateError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Err(down())
    }
    async fn first_use(&self, _: &str, _: Duration) -> Result<bool, StateError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Err(down())
    }
    async fn revoke(&self, _: &str, _: Duration) -> Result<(), StateError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Err(down())
    }
    async fn is_revoked(&self, _: &str) -> Result<bool, StateError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Err(down())
    }
    async fn put_code(&self, _: &str, _: &str, _: std::time::Duration) -> Result<(), StateError> {
        Err(down())
    }
    async fn redeem_code(&self, _: &str) -> Result<crate::state::Redeemed, StateError> {
        Err(down())
    }
    async fn put_family(
        &self,
        _: &str,
        _: &str,
        _: &str,
        _: std::time::Duration,
    ) -> Result<(), StateError> {
        Err(down())
    }
    async fn rotate_refresh(
        &self,
        _: &str,
        _: &str,
        _: &str,
    ) -> Result<crate::state::Rotation, StateError> {
        Err(down())
    }
    async fn read_family(&self, _: &str) -> Result<Option<(String, String)>, StateError> {
        Err(down())
    }
    async fn revoke_family(&self, _: &str) -> Result<bool, StateError> {
        Err(down())
    }
    async fn ping(&self) -> Result<(), StateError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Err(down())
    }
}

#[tokio::test]
async fn off_mode_touches_no_state() {
    let store = Arc::new(Failing::default());
    let (l, m) = lockout_over(LockoutMode::Off, OnUnavailable::FailClosed, store.clone());
    for outcome in [Outcome::BadPassword, Outcome::Success, Outcome::NotCounted] {
        for _ in 0..10 {
            let reports = sign_in(&l, &[ip(1)], t0(), outcome)
                .await
                .expect("proceeds");
            assert!(reports.is_empty());
        }
    }
    for _ in 0..10 {
        l.charge_failure(ip(1));
        assert!(
            !l.ip_budget_exhausted(ip(1)),
            "the IP budget follows the mode"
        );
    }
    assert!(!l.familiar(&acct(), &ClientAddresses::single(ip(1))).await);
    assert_eq!(store.calls.load(Ordering::SeqCst), 0);
    assert!(!m.render().contains("altgate_lockout_decisions_total{"));
}

#[tokio::test]
async fn enforce_locks_out_at_the_threshold_and_refuses_without_binding() {
    let (l, m) = lockout(LockoutMode::Enforce);
    for n in 1..=3u64 {
        let reports = sign_in(&l, &[ip(9)], t0() + secs(n), Outcome::BadPassword)
            .await
            .expect("below the threshold");
        let expected = if n == 3 { vec![Some(516)] } else { vec![] };
        assert_eq!(ids(&reports), expected, "attempt {n}");
    }
    let r = refuse(l.before_bind_at(&acct(), &[ip(9)], t0() + secs(10)).await);
    assert_eq!(r.code(), "extranet_lockout");
    assert_eq!(r.report.event_id(), Some(1210));
    let LockoutReport::Refused { decision, enforced } = r.report else {
        panic!("{r:?}");
    };
    assert!(enforced);
    assert_eq!(decision.class, LocationClass::Unfamiliar);
    assert_eq!(decision.count, 3);
    assert_eq!(decision.locked_until, Some(t0() + secs(3) + secs(1800)));
    let text = m.render();
    assert!(text.contains(
        "altgate_lockout_decisions_total{class=\"unfamiliar\",decision=\"allow\",mode=\"enforce\"} 3"
    ));
    assert!(text.contains(
        "altgate_lockout_decisions_total{class=\"unfamiliar\",decision=\"refuse\",mode=\"enforce\"} 1"
    ));
}

#[tokio::test]
async fn familiar_locations_keep_working_while_unfamiliar_ones_are_locked() {
    let (l, _m) = lockout(LockoutMode::Enforce);
    let home = [ip(1)];
    sign_in(&l, &home, t0(), Outcome::Success)
        .await
        .expect("ok");
    for n in 1..=3 {
        sign_in(&l, &[ip(66)], t0() + secs(n), Outcome::BadPassword)
            .await
            .expect("spray");
    }
    refuse(l.before_bind_at(&acct(), &[ip(66)], t0() + secs(5)).await);
    refuse(
        l.before_bind_at(&acct(), &[ip(1), ip(66)], t0() + secs(5))
            .await,
    );
    let t = proceed(l.before_bind_at(&acct(), &home, t0() + secs(6)).await);
    assert_eq!(t.class(), Some(LocationClass::Familiar));
    assert!(t.report().is_none());
    assert!(l
        .after_bind_at(t, Outcome::Success, t0() + secs(6))
        .await
        .is_empty());
    let a = l
        .activity_at(&acct(), t0() + secs(6))
        .await
        .expect("activity");
    assert_eq!(a.familiar_locations.len(), 1);
    assert_eq!(a.unfamiliar.count, 3);
    // The operator reset clears the unfamiliar lockout.
    l.reset(&acct(), ResetScope::Unfamiliar)
        .await
        .expect("reset");
    let _ = proceed(l.before_bind_at(&acct(), &[ip(66)], t0() + secs(7)).await);
}

#[tokio::test]
async fn one_probe_per_window_and_its_events() {
    let (l, m) = lockout(LockoutMode::Enforce);
    for n in 1..=3 {
        sign_in(&l, &[], t0() + secs(n), Outcome::BadPassword)
            .await
            .expect("counted");
    }
    let next = t0() + secs(3) + secs(1800);
    // The probe fails: the lockout is extended (516 again).
    let reports = sign_in(&l, &[], next, Outcome::BadPassword)
        .await
        .expect("probe");
    assert_eq!(ids(&reports), [Some(516)]);
    refuse(l.before_bind_at(&acct(), &[], next + secs(1)).await);
    // The next probe presents the correct password: 515, and the account is unlocked.
    let later = next + secs(1800);
    let reports = sign_in(&l, &[], later, Outcome::Success)
        .await
        .expect("probe");
    assert_eq!(ids(&reports), [Some(515)]);
    let t = proceed(l.before_bind_at(&acct(), &[], later + secs(1)).await);
    assert!(t.report().is_none());
    assert!(m
        .render()
        .contains("decision=\"probe\",mode=\"enforce\"} 2"));
}

#[tokio::test]
async fn log_only_reports_but_never_refuses() {
    let (l, m) = lockout(LockoutMode::LogOnly);
    for n in 1..=3u64 {
        let reports = sign_in(&l, &[], t0() + secs(n), Outcome::BadPassword)
            .await
            .expect("proceeds");
        if n == 3 {
            let [LockoutReport::LockedOut { enforced, .. }] = reports.as_slice() else {
                panic!("{reports:?}");
            };
            assert!(!enforced);
        }
    }
    // Would be refused: proceeds with a 1210 "would refuse", and is not counted.
    for n in 0..5 {
        let t = proceed(l.before_bind_at(&acct(), &[], t0() + secs(10 + n)).await);
        let Some(LockoutReport::Refused { enforced, .. }) = t.report() else {
            panic!("{t:?}");
        };
        assert!(!enforced);
        assert!(l
            .after_bind_at(t, Outcome::BadPassword, t0())
            .await
            .is_empty());
    }
    let a = l
        .activity_at(&acct(), t0() + secs(15))
        .await
        .expect("activity");
    assert_eq!(a.unfamiliar.count, 3);
    // The user turns up with the right password: 515, count reset, location learned.
    let t = proceed(l.before_bind_at(&acct(), &[ip(1)], t0() + secs(20)).await);
    let reports = l.after_bind_at(t, Outcome::Success, t0() + secs(20)).await;
    assert_eq!(ids(&reports), [Some(515)]);
    let a = l
        .activity_at(&acct(), t0() + secs(20))
        .await
        .expect("activity");
    assert_eq!(a.unfamiliar.count, 0);
    assert_eq!(a.familiar_locations.len(), 1);
    assert!(m
        .render()
        .contains("decision=\"would_refuse\",mode=\"log_only\"} 6"));
}

#[tokio::test]
async fn not_counted_outcomes_take_back_the_advance_count() {
    let (l, _m) = lockout(LockoutMode::Enforce);
    for n in 0..10 {
        let reports = sign_in(&l, &[], t0() + secs(n), Outcome::NotCounted)
            .await
            .expect("never locks");
        assert!(reports.is_empty());
    }
    let a = l
        .activity_at(&acct(), t0() + secs(10))
        .await
        .expect("activity");
    assert_eq!(a.unfamiliar.count, 0);
    assert_eq!(a.unfamiliar.last_bad, None);
}

#[tokio::test]
async fn store_failures_fail_open_or_closed() {
    let store = Arc::new(Failing::default());
    let (l, m) = lockout_over(LockoutMode::Enforce, OnUnavailable::FailOpen, store.clone());
    let t = proceed(l.before_bind_at(&acct(), &[], t0()).await);
    assert_eq!(
        t.report(),
        Some(&LockoutReport::StateUnavailable {
            op: "attempt",
            code: "state_timeout",
            refused: false
        })
    );
    assert_eq!(t.class(), None);
    assert!(l
        .after_bind_at(t, Outcome::BadPassword, t0())
        .await
        .is_empty());
    assert_eq!(store.calls.load(Ordering::SeqCst), 1, "nothing to settle");
    assert!(m
        .render()
        .contains("{class=\"unknown\",decision=\"fail_open\",mode=\"enforce\"} 1"));

    let (l, m) = lockout_over(
        LockoutMode::Enforce,
        OnUnavailable::FailClosed,
        store.clone(),
    );
    let r = refuse(l.before_bind_at(&acct(), &[], t0()).await);
    assert_eq!(r.code(), "state_unavailable");
    assert_eq!(r.report.event_id(), None);
    assert!(m
        .render()
        .contains("{class=\"unknown\",decision=\"fail_closed\",mode=\"enforce\"} 1"));

    // Log-only never refuses, even when told to fail closed.
    let (l, _m) = lockout_over(LockoutMode::LogOnly, OnUnavailable::FailClosed, store);
    let _ = proceed(l.before_bind_at(&acct(), &[], t0()).await);
}

#[tokio::test]
async fn failures_after_the_bind_are_reported() {
    let store = Arc::new(Failing {
        only_succeeded: true,
        ..Failing::default()
    });
    let (l, _m) = lockout_over(LockoutMode::Enforce, OnUnavailable::FailOpen, store);
    let reports = sign_in(&l, &[], t0(), Outcome::Success).await.expect("ok");
    assert_eq!(
        reports,
        [LockoutReport::StateUnavailable {
            op: "succeeded",
            code: "state_timeout",
            refused: false
        }]
    );
    let reports = sign_in(&l, &[], t0(), Outcome::NotCounted)
        .await
        .expect("ok");
    assert!(matches!(
        reports.as_slice(),
        [LockoutReport::StateUnavailable {
            op: "not_counted",
            ..
        }]
    ));
}

#[tokio::test(start_paused = true)]
async fn the_ip_budget_follows_the_mode() {
    let (l, m) = lockout(LockoutMode::Enforce);
    for _ in 0..3 {
        assert!(!l.ip_budget_exhausted(ip(5)));
        l.charge_failure(ip(5));
    }
    assert!(l.ip_budget_exhausted(ip(5)));
    assert!(!l.ip_budget_exhausted(ip(6)));
    assert_eq!(l.over_budget(false), BudgetVerdict::Refuse(secs(1)));
    assert_eq!(l.over_budget(true), BudgetVerdict::Delay(secs(1)));
    tokio::time::advance(secs(20)).await;
    assert!(!l.ip_budget_exhausted(ip(5)), "refills at 3 per minute");
    let text = m.render();
    assert!(text.contains("{class=\"source_ip\",decision=\"refuse\",mode=\"enforce\"} 1"));
    assert!(text.contains("{class=\"source_ip\",decision=\"delay\",mode=\"enforce\"} 1"));

    let (l, m) = lockout(LockoutMode::LogOnly);
    for _ in 0..5 {
        l.charge_failure(ip(5));
    }
    assert!(l.ip_budget_exhausted(ip(5)));
    assert_eq!(
        l.over_budget(false),
        BudgetVerdict::Proceed,
        "log-only never refuses"
    );
    assert_eq!(l.over_budget(true), BudgetVerdict::Proceed, "nor waits");
    let text = m.render();
    assert!(text.contains("{class=\"source_ip\",decision=\"would_refuse\",mode=\"log_only\"} 1"));
    assert!(!text.contains("decision=\"delay\""));
}

#[tokio::test]
async fn familiar_means_every_address_signed_in_successfully_before() {
    let (l, _m) = lockout(LockoutMode::Enforce);
    let key = acct();
    let later = t0() + secs(60);
    assert!(
        !l.familiar_at(&key, &[ip(1)], later).await,
        "nothing known yet"
    );
    sign_in(&l, &[ip(1)], t0(), Outcome::BadPassword)
        .await
        .expect("allowed");
    assert!(
        !l.familiar_at(&key, &[ip(1)], later).await,
        "a bad password makes nothing familiar"
    );
    sign_in(&l, &[ip(1)], t0(), Outcome::Success)
        .await
        .expect("allowed");
    assert!(l.familiar_at(&key, &[ip(1)], later).await);
    let mapped = IpAddr::V6(Ipv4Addr::new(203, 0, 113, 1).to_ipv6_mapped());
    assert!(l.familiar_at(&key, &[mapped], later).await, "canonical");
    assert!(
        !l.familiar_at(&key, &[ip(1), ip(2)], later).await,
        "every address must be familiar"
    );
    assert!(!l.familiar_at(&key, &[ip(2)], later).await);
    assert!(!l.familiar_at(&key, &[], later).await);
    assert!(
        !l.familiar_at(&AccountKey::new("f", "other"), &[ip(1)], t0())
            .await
    );
    assert!(
        !l.familiar_at(&acct(), &[ip(1)], t0() + secs(86_400 + 1))
            .await,
        "familiar locations expire"
    );
    let (down, _m) = lockout_over(
        LockoutMode::Enforce,
        OnUnavailable::FailOpen,
        Arc::new(Failing::default()),
    );
    assert!(
        !down.familiar_at(&acct(), &[ip(1)], t0()).await,
        "no answer: not familiar"
    );
}

#[tokio::test]
async fn a_real_clock_sign_in_round_trip() {
    let (l, _m) = lockout(LockoutMode::Enforce);
    let t = proceed(
        l.before_bind(&acct(), &ClientAddresses::single(ip(1)))
            .await,
    );
    assert!(l.after_bind(t, Outcome::Success).await.is_empty());
    let a = l.activity(&acct()).await.expect("activity");
    assert_eq!(a.familiar_locations.first().map(|f| f.ip), Some(ip(1)));
    assert_eq!(l.mode(), LockoutMode::Enforce);
}

#[tokio::test]
async fn the_injected_clock_dates_what_is_recorded() {
    let m = Metrics::standalone().expect("metrics");
    let l = ExtranetLockout::new(
        config(LockoutMode::Enforce),
        OnUnavailable::FailOpen,
        Arc::new(MemoryStore::new()),
        m.lockout.clone(),
        crate::clock::fixed_clock(time::OffsetDateTime::from(t0())),
    );
    let t = proceed(
        l.before_bind(&acct(), &ClientAddresses::single(ip(1)))
            .await,
    );
    assert!(l.after_bind(t, Outcome::Success).await.is_empty());
    let a = l.activity(&acct()).await.expect("activity");
    assert_eq!(
        a.familiar_locations.first().map(|f| f.last_seen),
        Some(t0())
    );
}
