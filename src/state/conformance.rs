//! The conformance suite every [`StateStore`] passes: AD FS Extranet Smart Lockout semantics
//! (thresholds per location class, one probe per observation window, familiar locations capped
//! and expiring, resets), the undo operations, atomicity under concurrency, the replay cache and
//! session revocation. [`conformance_tests!`] instantiates one `#[tokio::test]` per case for a
//! store fixture.

use super::*;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

/// The replay cache's cap in every fixture (`with_replay_max`).
pub(crate) const REPLAY_MAX: u64 = 40;

/// A fixed, recent instant; every case drives time explicitly from it.
fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(203, 0, 113, last))
}

fn policy(threshold: u32, familiar_threshold: u32) -> LockoutPolicy {
    LockoutPolicy {
        threshold,
        familiar_threshold,
        observation_window: secs(1800),
        familiar_location_lifetime: secs(3600),
        max_familiar_locations: 20,
    }
}

async fn attempt(
    s: &dyn StateStore,
    account: &str,
    ips: &[IpAddr],
    now: SystemTime,
    p: &LockoutPolicy,
) -> AttemptDecision {
    s.attempt(account, ips, now, p).await.expect("attempt")
}

async fn status(
    s: &dyn StateStore,
    account: &str,
    now: SystemTime,
    p: &LockoutPolicy,
) -> AccountActivity {
    s.status(account, now, p).await.expect("status")
}

/// Instantiates the suite: `$fixture` is an async expression giving
/// `(Arc<dyn StateStore>, guard)`; the guard lives as long as the case. Attributes after it
/// (`conformance_tests!(fixture, #[ignore = "..."])`) go on every case.
macro_rules! conformance_tests {
    (@case [$($attr:tt)*] $fixture:expr; $case:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        $($attr)*
        async fn $case() {
            let (store, _guard) = $fixture.await;
            $crate::state::conformance::$case(store).await;
        }
    };
    (@cases $attrs:tt $fixture:expr; $($case:ident),*) => {
        $(conformance_tests!(@case $attrs $fixture; $case);)*
    };
    ($fixture:expr $(, #[$attr:meta])*) => {
        conformance_tests!(@cases [$(#[$attr])*] $fixture;
            below_threshold_is_allowed_and_counted,
            lockout_lasts_one_window_then_one_probe,
            success_resets_the_class_and_makes_the_ips_familiar,
            familiar_needs_every_ip,
            classes_have_their_own_thresholds,
            familiar_locations_are_capped_oldest_first,
            familiar_locations_expire_unless_refreshed,
            not_counted_takes_back_the_advance_count,
            not_counted_after_a_probe_lets_the_next_probe_through,
            reset_clears_the_chosen_counts_only,
            operators_add_and_remove_familiar_locations,
            unknown_accounts_and_odd_keys,
            concurrent_attempts_cannot_pass_the_threshold,
            one_probe_per_window_under_concurrency,
            replay_ids_are_accepted_once,
            the_replay_cache_stops_growing_at_its_cap,
            concurrent_new_ids_never_pass_the_cap,
            revocation_lasts_its_ttl,
            codes_are_redeemed_once,
            concurrent_redemptions_give_one_fresh,
            refresh_tokens_rotate_and_reuse_revokes_the_family,
            families_are_read_and_revoked,
            ping_answers
        );
    };
}

pub(crate) async fn below_threshold_is_allowed_and_counted(s: Arc<dyn StateStore>) {
    let p = policy(3, 10);
    for n in 1..=3u32 {
        let now = t0() + secs(u64::from(n));
        let d = attempt(&*s, "a", &[ip(1)], now, &p).await;
        assert_eq!(d.class, LocationClass::Unfamiliar);
        assert_eq!(d.verdict, Verdict::Allowed, "attempt {n}");
        assert_eq!(d.count, n);
        assert_eq!(d.threshold, 3);
        assert_eq!(d.last_bad, Some(now));
        assert_eq!(d.counted.map(|c| c.class), Some(LocationClass::Unfamiliar));
        let locked = (n == 3).then(|| now + secs(1800));
        assert_eq!(d.locked_until, locked, "attempt {n}");
    }
    let d = attempt(&*s, "a", &[ip(1)], t0() + secs(10), &p).await;
    assert_eq!(d.verdict, Verdict::Refused);
    assert_eq!(d.count, 3, "a refused attempt is not counted");
    assert_eq!(d.counted, None);
    assert_eq!(d.last_bad, Some(t0() + secs(3)));
    assert_eq!(d.locked_until, Some(t0() + secs(3) + secs(1800)));
    let a = status(&*s, "a", t0() + secs(10), &p).await;
    assert_eq!(a.unfamiliar.count, 3);
    assert_eq!(a.unfamiliar.locked_until, Some(t0() + secs(1803)));
    assert_eq!(a.familiar, ClassActivity::default());
    assert!(a.familiar_locations.is_empty());
}

pub(crate) async fn lockout_lasts_one_window_then_one_probe(s: Arc<dyn StateStore>) {
    let p = policy(2, 10);
    attempt(&*s, "a", &[], t0(), &p).await;
    attempt(&*s, "a", &[], t0() + secs(1), &p).await;
    let end = t0() + secs(1) + secs(1800);
    let d = attempt(&*s, "a", &[], end - Duration::from_millis(1), &p).await;
    assert_eq!(d.verdict, Verdict::Refused);
    let d = attempt(&*s, "a", &[], end, &p).await;
    assert_eq!(
        d.verdict,
        Verdict::Probe,
        "one attempt once the window has passed"
    );
    assert_eq!(d.count, 3);
    assert_eq!(
        d.locked_until,
        Some(end + secs(1800)),
        "a probe extends the lock"
    );
    let d = attempt(&*s, "a", &[], end, &p).await;
    assert_eq!(d.verdict, Verdict::Refused, "only one per window");
    let d = attempt(&*s, "a", &[], end + secs(1799), &p).await;
    assert_eq!(d.verdict, Verdict::Refused);
    let d = attempt(&*s, "a", &[], end + secs(1800), &p).await;
    assert_eq!(d.verdict, Verdict::Probe);
    assert_eq!(d.count, 4);
    // A successful probe unlocks.
    s.succeeded("a", d.class, &[], end + secs(1800), &p)
        .await
        .expect("succeeded");
    let d = attempt(&*s, "a", &[], end + secs(1801), &p).await;
    assert_eq!(d.verdict, Verdict::Allowed);
    assert_eq!(d.count, 1);
}

pub(crate) async fn success_resets_the_class_and_makes_the_ips_familiar(s: Arc<dyn StateStore>) {
    let p = policy(5, 10);
    for i in 0..3 {
        attempt(&*s, "a", &[ip(1)], t0() + secs(i), &p).await;
    }
    let d = attempt(&*s, "a", &[ip(1)], t0() + secs(10), &p).await;
    assert_eq!(d.count, 4);
    s.succeeded("a", d.class, &[ip(1)], t0() + secs(10), &p)
        .await
        .expect("succeeded");
    let a = status(&*s, "a", t0() + secs(11), &p).await;
    assert_eq!(a.unfamiliar.count, 0);
    assert_eq!(
        a.familiar_locations,
        vec![FamiliarLocation {
            ip: ip(1),
            last_seen: t0() + secs(10)
        }]
    );
    let d = attempt(&*s, "a", &[ip(1)], t0() + secs(12), &p).await;
    assert_eq!(d.class, LocationClass::Familiar);
    assert_eq!(d.count, 1);
    assert_eq!(d.threshold, 10);
    let d = attempt(&*s, "a", &[ip(2)], t0() + secs(13), &p).await;
    assert_eq!(d.class, LocationClass::Unfamiliar);
    assert_eq!(d.count, 1);
}

pub(crate) async fn familiar_needs_every_ip(s: Arc<dyn StateStore>) {
    let p = policy(5, 10);
    let v6 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 7));
    s.succeeded("a", LocationClass::Unfamiliar, &[ip(1), v6], t0(), &p)
        .await
        .expect("succeeded");
    let mapped = IpAddr::V6(Ipv4Addr::new(203, 0, 113, 1).to_ipv6_mapped());
    for (ips, class) in [
        (vec![ip(1)], LocationClass::Familiar),
        (vec![v6, ip(1)], LocationClass::Familiar),
        (vec![mapped], LocationClass::Familiar),
        (vec![ip(1), ip(2)], LocationClass::Unfamiliar),
        (vec![ip(2), ip(1)], LocationClass::Unfamiliar),
        (vec![], LocationClass::Unfamiliar),
    ] {
        let d = attempt(&*s, "a", &ips, t0() + secs(1), &p).await;
        assert_eq!(d.class, class, "{ips:?}");
        if let Some(c) = &d.counted {
            s.not_counted("a", c).await.expect("not_counted");
        }
    }
    let a = status(&*s, "a", t0() + secs(2), &p).await;
    assert_eq!(a.familiar.count, 0);
    assert_eq!(a.unfamiliar.count, 0);
    assert_eq!(a.familiar_locations.len(), 2);
}

pub(crate) async fn classes_have_their_own_thresholds(s: Arc<dyn StateStore>) {
    let p = policy(2, 4);
    s.succeeded("a", LocationClass::Unfamiliar, &[ip(1)], t0(), &p)
        .await
        .expect("succeeded");
    for i in 1..=3 {
        attempt(&*s, "a", &[ip(9)], t0() + secs(i), &p).await;
    }
    let d = attempt(&*s, "a", &[ip(9)], t0() + secs(4), &p).await;
    assert_eq!(d.verdict, Verdict::Refused, "unfamiliar locked at 2");
    for n in 1..=4u32 {
        let d = attempt(&*s, "a", &[ip(1)], t0() + secs(10 + u64::from(n)), &p).await;
        assert_eq!(d.class, LocationClass::Familiar);
        assert_eq!(d.verdict, Verdict::Allowed, "familiar attempt {n}");
    }
    let d = attempt(&*s, "a", &[ip(1)], t0() + secs(20), &p).await;
    assert_eq!(d.verdict, Verdict::Refused, "familiar locked at 4");
    let a = status(&*s, "a", t0() + secs(20), &p).await;
    assert_eq!(a.unfamiliar.count, 2);
    assert_eq!(a.familiar.count, 4);
    assert_eq!(a.familiar.locked_until, Some(t0() + secs(14) + secs(1800)));
    // A familiar success resets the familiar count only.
    s.succeeded("a", LocationClass::Familiar, &[ip(1)], t0() + secs(21), &p)
        .await
        .expect("succeeded");
    let a = status(&*s, "a", t0() + secs(21), &p).await;
    assert_eq!((a.familiar.count, a.unfamiliar.count), (0, 2));
    assert_eq!(a.familiar.locked_until, None);
    assert!(a.unfamiliar.locked_until.is_some());
}

pub(crate) async fn familiar_locations_are_capped_oldest_first(s: Arc<dyn StateStore>) {
    let p = policy(5, 10);
    for i in 0..25u8 {
        s.succeeded(
            "a",
            LocationClass::Unfamiliar,
            &[ip(i)],
            t0() + secs(u64::from(i)),
            &p,
        )
        .await
        .expect("succeeded");
    }
    let a = status(&*s, "a", t0() + secs(30), &p).await;
    assert_eq!(a.familiar_locations.len(), 20);
    let kept: Vec<IpAddr> = a.familiar_locations.iter().map(|l| l.ip).collect();
    let expected: Vec<IpAddr> = (5..25u8).rev().map(ip).collect();
    assert_eq!(kept, expected, "most recent first, the five oldest dropped");
    let d = attempt(&*s, "a", &[ip(0)], t0() + secs(31), &p).await;
    assert_eq!(d.class, LocationClass::Unfamiliar);
    let d = attempt(&*s, "a", &[ip(5)], t0() + secs(31), &p).await;
    assert_eq!(d.class, LocationClass::Familiar);
    // Refreshing the oldest keeps it when the next one arrives.
    s.succeeded("a", LocationClass::Familiar, &[ip(5)], t0() + secs(40), &p)
        .await
        .expect("succeeded");
    s.succeeded(
        "a",
        LocationClass::Unfamiliar,
        &[ip(100)],
        t0() + secs(41),
        &p,
    )
    .await
    .expect("succeeded");
    let a = status(&*s, "a", t0() + secs(42), &p).await;
    let kept: Vec<IpAddr> = a.familiar_locations.iter().map(|l| l.ip).collect();
    assert_eq!(kept.len(), 20);
    assert!(kept.contains(&ip(5)));
    assert!(!kept.contains(&ip(6)), "ip 6 was the least recently seen");
    // One request carrying more addresses than the cap keeps only the first ones.
    let many: Vec<IpAddr> = (150..180u8).map(ip).collect();
    s.succeeded("b", LocationClass::Unfamiliar, &many, t0(), &p)
        .await
        .expect("succeeded");
    let b = status(&*s, "b", t0(), &p).await;
    let mut kept: Vec<IpAddr> = b.familiar_locations.iter().map(|l| l.ip).collect();
    kept.sort();
    assert_eq!(kept, many[..20].to_vec());
}

pub(crate) async fn familiar_locations_expire_unless_refreshed(s: Arc<dyn StateStore>) {
    let p = policy(5, 10); // lifetime one hour
    s.succeeded("a", LocationClass::Unfamiliar, &[ip(1), ip(2)], t0(), &p)
        .await
        .expect("succeeded");
    s.succeeded(
        "a",
        LocationClass::Familiar,
        &[ip(2)],
        t0() + secs(1800),
        &p,
    )
    .await
    .expect("succeeded");
    let d = attempt(&*s, "a", &[ip(1)], t0() + secs(3599), &p).await;
    assert_eq!(d.class, LocationClass::Familiar);
    let d = attempt(&*s, "a", &[ip(1)], t0() + secs(3600), &p).await;
    assert_eq!(
        d.class,
        LocationClass::Unfamiliar,
        "expired after its lifetime"
    );
    let d = attempt(&*s, "a", &[ip(2)], t0() + secs(3600), &p).await;
    assert_eq!(d.class, LocationClass::Familiar, "refreshed at 30 minutes");
    let a = status(&*s, "a", t0() + secs(3600), &p).await;
    assert_eq!(
        a.familiar_locations,
        vec![FamiliarLocation {
            ip: ip(2),
            last_seen: t0() + secs(1800)
        }]
    );
    // The next success prunes the expired entry for good.
    s.succeeded(
        "a",
        LocationClass::Familiar,
        &[ip(2)],
        t0() + secs(3700),
        &p,
    )
    .await
    .expect("succeeded");
    let a = status(&*s, "a", t0() + secs(3000), &p).await;
    assert_eq!(a.familiar_locations.len(), 1);
}

pub(crate) async fn not_counted_takes_back_the_advance_count(s: Arc<dyn StateStore>) {
    let p = policy(3, 10);
    attempt(&*s, "a", &[], t0(), &p).await;
    attempt(&*s, "a", &[], t0() + secs(1), &p).await;
    let d = attempt(&*s, "a", &[], t0() + secs(2), &p).await;
    assert_eq!(d.count, 3);
    let counted = d.counted.expect("counted");
    s.not_counted("a", &counted).await.expect("not_counted");
    let a = status(&*s, "a", t0() + secs(3), &p).await;
    assert_eq!(a.unfamiliar.count, 2);
    assert_eq!(a.unfamiliar.last_bad, Some(t0() + secs(1)));
    assert_eq!(a.unfamiliar.locked_until, None);
    let d = attempt(&*s, "a", &[], t0() + secs(4), &p).await;
    assert_eq!(d.verdict, Verdict::Allowed);
    // Taking back the very first count leaves no last bad time.
    let d = attempt(&*s, "b", &[], t0(), &p).await;
    s.not_counted("b", &d.counted.expect("counted"))
        .await
        .expect("not_counted");
    let b = status(&*s, "b", t0(), &p).await;
    assert_eq!(b.unfamiliar, ClassActivity::default());
    // Unknown accounts are left alone.
    s.not_counted("nobody", &counted)
        .await
        .expect("not_counted");
    assert_eq!(
        status(&*s, "nobody", t0(), &p).await,
        AccountActivity::default()
    );
}

pub(crate) async fn not_counted_after_a_probe_lets_the_next_probe_through(s: Arc<dyn StateStore>) {
    let p = policy(1, 10);
    attempt(&*s, "a", &[], t0(), &p).await;
    let later = t0() + secs(1800);
    let d = attempt(&*s, "a", &[], later, &p).await;
    assert_eq!(d.verdict, Verdict::Probe);
    s.not_counted("a", &d.counted.expect("counted"))
        .await
        .expect("not_counted");
    let d = attempt(&*s, "a", &[], later + secs(1), &p).await;
    assert_eq!(
        d.verdict,
        Verdict::Probe,
        "the directory was down: try again"
    );
}

pub(crate) async fn reset_clears_the_chosen_counts_only(s: Arc<dyn StateStore>) {
    let p = policy(1, 1);
    s.succeeded("a", LocationClass::Unfamiliar, &[ip(1)], t0(), &p)
        .await
        .expect("succeeded");
    attempt(&*s, "a", &[ip(1)], t0() + secs(1), &p).await;
    attempt(&*s, "a", &[ip(2)], t0() + secs(1), &p).await;
    let a = status(&*s, "a", t0() + secs(2), &p).await;
    assert!(a.familiar.locked_until.is_some() && a.unfamiliar.locked_until.is_some());
    s.reset("a", ResetScope::Unfamiliar).await.expect("reset");
    let a = status(&*s, "a", t0() + secs(2), &p).await;
    assert_eq!(a.unfamiliar, ClassActivity::default());
    assert_eq!(a.familiar.count, 1);
    let d = attempt(&*s, "a", &[ip(2)], t0() + secs(3), &p).await;
    assert_eq!(d.verdict, Verdict::Allowed);
    s.reset("a", ResetScope::Familiar).await.expect("reset");
    let a = status(&*s, "a", t0() + secs(3), &p).await;
    assert_eq!(a.familiar, ClassActivity::default());
    assert_eq!(a.unfamiliar.count, 1);
    s.reset("a", ResetScope::Both).await.expect("reset");
    let a = status(&*s, "a", t0() + secs(3), &p).await;
    assert_eq!(a.familiar, ClassActivity::default());
    assert_eq!(a.unfamiliar, ClassActivity::default());
    assert_eq!(a.familiar_locations.len(), 1, "familiar locations are kept");
    s.reset("nobody", ResetScope::Both).await.expect("reset");
}

pub(crate) async fn operators_add_and_remove_familiar_locations(s: Arc<dyn StateStore>) {
    let p = policy(1, 1);
    attempt(&*s, "a", &[ip(1)], t0(), &p).await;
    s.set_familiar("a", &[ip(1), ip(2)], &[], t0() + secs(1), &p)
        .await
        .expect("add");
    let a = status(&*s, "a", t0() + secs(1), &p).await;
    assert_eq!(a.unfamiliar.count, 1, "counts are untouched");
    let mut ips: Vec<IpAddr> = a.familiar_locations.iter().map(|l| l.ip).collect();
    ips.sort();
    assert_eq!(ips, [ip(1), ip(2)]);
    // A familiar IP is now judged in the familiar class.
    let d = attempt(&*s, "a", &[ip(2)], t0() + secs(2), &p).await;
    assert_eq!(d.class, LocationClass::Familiar);
    s.set_familiar("a", &[], &[ip(2)], t0() + secs(3), &p)
        .await
        .expect("remove");
    let a = status(&*s, "a", t0() + secs(3), &p).await;
    let ips: Vec<IpAddr> = a.familiar_locations.iter().map(|l| l.ip).collect();
    assert_eq!(ips, [ip(1)]);
    assert_eq!(a.familiar.count, 1);
    // At most max_familiar_locations are kept, the least recently seen going first.
    let mut small = p;
    small.max_familiar_locations = 2;
    s.set_familiar("b", &[ip(1)], &[], t0(), &small)
        .await
        .expect("add");
    s.set_familiar("b", &[ip(2), ip(3)], &[], t0() + secs(1), &small)
        .await
        .expect("add");
    let b = status(&*s, "b", t0() + secs(1), &small).await;
    let mut ips: Vec<IpAddr> = b.familiar_locations.iter().map(|l| l.ip).collect();
    ips.sort();
    assert_eq!(ips, [ip(2), ip(3)]);
}

pub(crate) async fn unknown_accounts_and_odd_keys(s: Arc<dyn StateStore>) {
    let p = policy(2, 10);
    assert_eq!(
        status(&*s, "nobody", t0(), &p).await,
        AccountActivity::default()
    );
    let odd = "contoso.com\r\n*1\r\n$8\r\nFLUSHALL\r\n{x}:ÿ";
    attempt(&*s, odd, &[], t0(), &p).await;
    attempt(&*s, odd, &[], t0(), &p).await;
    assert_eq!(
        attempt(&*s, odd, &[], t0(), &p).await.verdict,
        Verdict::Refused
    );
    assert_eq!(
        attempt(&*s, "contoso.com", &[], t0(), &p).await.verdict,
        Verdict::Allowed,
        "accounts are independent"
    );
    assert_eq!(status(&*s, odd, t0(), &p).await.unfamiliar.count, 2);
}

pub(crate) async fn concurrent_attempts_cannot_pass_the_threshold(s: Arc<dyn StateStore>) {
    let p = policy(5, 10);
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let s = Arc::clone(&s);
            tokio::spawn(async move { attempt(&*s, "a", &[ip(1)], t0(), &p).await })
        })
        .collect();
    let mut through = 0;
    for t in tasks {
        if t.await.expect("join").verdict.lets_through() {
            through += 1;
        }
    }
    assert_eq!(through, 5);
    assert_eq!(status(&*s, "a", t0(), &p).await.unfamiliar.count, 5);
}

pub(crate) async fn one_probe_per_window_under_concurrency(s: Arc<dyn StateStore>) {
    let p = policy(1, 10);
    attempt(&*s, "a", &[], t0(), &p).await;
    let later = t0() + secs(1800);
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let s = Arc::clone(&s);
            tokio::spawn(async move { attempt(&*s, "a", &[], later, &p).await.verdict })
        })
        .collect();
    let mut probes = 0;
    for t in tasks {
        match t.await.expect("join") {
            Verdict::Probe => probes += 1,
            Verdict::Refused => {}
            Verdict::Allowed => panic!("locked account allowed"),
        }
    }
    assert_eq!(probes, 1);
}

pub(crate) async fn replay_ids_are_accepted_once(s: Arc<dyn StateStore>) {
    let ttl = secs(60);
    assert!(s.first_use("id-1", ttl).await.expect("first_use"));
    assert!(!s.first_use("id-1", ttl).await.expect("first_use"));
    assert!(s.first_use("id-2", ttl).await.expect("first_use"));
    let short = Duration::from_millis(100);
    assert!(s.first_use("id-3", short).await.expect("first_use"));
    assert!(!s.first_use("id-3", short).await.expect("first_use"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        s.first_use("id-3", short).await.expect("first_use"),
        "expired"
    );
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let s = Arc::clone(&s);
            tokio::spawn(async move { s.first_use("id-4", ttl).await.expect("first_use") })
        })
        .collect();
    let mut firsts = 0;
    for t in tasks {
        if t.await.expect("join") {
            firsts += 1;
        }
    }
    assert_eq!(firsts, 1);
}

/// Fills the replay cache to [`REPLAY_MAX`]: then a new id is refused and not stored, every
/// held id is still a replay (none was evicted for it), and room comes back only as ids expire.
pub(crate) async fn the_replay_cache_stops_growing_at_its_cap(s: Arc<dyn StateStore>) {
    let long = secs(600);
    let short = Duration::from_millis(300);
    assert!(s.first_use("cap-short", short).await.expect("first_use"));
    for i in 1..REPLAY_MAX {
        assert!(s.first_use(&format!("cap-{i}"), long).await.expect("room"));
    }
    for i in 0..3 {
        let refused = s.first_use(&format!("flood-{i}"), long).await;
        assert!(
            matches!(refused, Err(StateError::ReplayCacheFull(n)) if n == REPLAY_MAX),
            "a new id past the cap: {refused:?}"
        );
    }
    for i in 1..REPLAY_MAX {
        assert!(
            !s.first_use(&format!("cap-{i}"), long).await.expect("held"),
            "cap-{i} was forgotten to make room"
        );
    }
    assert!(
        s.first_use("flood-0", long).await.is_err(),
        "a refused id was not stored"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        s.first_use("flood-0", long).await.expect("room"),
        "an expired id made room"
    );
    assert!(s.first_use("flood-1", long).await.is_err(), "full again");
}

/// Concurrent new ids on a cache with one place left: exactly one is stored.
pub(crate) async fn concurrent_new_ids_never_pass_the_cap(s: Arc<dyn StateStore>) {
    for i in 1..REPLAY_MAX {
        assert!(s
            .first_use(&format!("c-{i}"), secs(600))
            .await
            .expect("room"));
    }
    let tasks: Vec<_> = (0..20)
        .map(|n| {
            let s = Arc::clone(&s);
            tokio::spawn(async move { s.first_use(&format!("race-{n}"), secs(600)).await })
        })
        .collect();
    let (mut stored, mut full) = (0, 0);
    for t in tasks {
        match t.await.expect("join") {
            Ok(true) => stored += 1,
            Err(StateError::ReplayCacheFull(_)) => full += 1,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!((stored, full), (1, 19));
}

pub(crate) async fn revocation_lasts_its_ttl(s: Arc<dyn StateStore>) {
    assert!(!s.is_revoked("s-1").await.expect("is_revoked"));
    s.revoke("s-1", secs(60)).await.expect("revoke");
    assert!(s.is_revoked("s-1").await.expect("is_revoked"));
    assert!(!s.is_revoked("s-2").await.expect("is_revoked"));
    s.revoke("s-3", Duration::from_millis(100))
        .await
        .expect("revoke");
    assert!(s.is_revoked("s-3").await.expect("is_revoked"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!s.is_revoked("s-3").await.expect("is_revoked"));
}

pub(crate) async fn codes_are_redeemed_once(s: Arc<dyn StateStore>) {
    use crate::state::Redeemed;
    s.put_code("code-1", "{\"rec\":1}", secs(60))
        .await
        .expect("put_code");
    assert_eq!(
        s.redeem_code("code-1").await.expect("redeem"),
        Redeemed::Fresh("{\"rec\":1}".into())
    );
    assert_eq!(
        s.redeem_code("code-1").await.expect("redeem"),
        Redeemed::Replayed("{\"rec\":1}".into())
    );
    assert_eq!(
        s.redeem_code("code-2").await.expect("redeem"),
        Redeemed::Unknown
    );
    s.put_code("code-3", "r", Duration::from_millis(100))
        .await
        .expect("put_code");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        s.redeem_code("code-3").await.expect("redeem"),
        Redeemed::Unknown
    );
}

pub(crate) async fn concurrent_redemptions_give_one_fresh(s: Arc<dyn StateStore>) {
    use crate::state::Redeemed;
    s.put_code("race", "r", secs(60)).await.expect("put_code");
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.redeem_code("race").await.expect("redeem") })
        })
        .collect();
    let mut fresh = 0;
    for t in tasks {
        if matches!(t.await.expect("join"), Redeemed::Fresh(_)) {
            fresh += 1;
        }
    }
    assert_eq!(fresh, 1);
}

pub(crate) async fn refresh_tokens_rotate_and_reuse_revokes_the_family(s: Arc<dyn StateStore>) {
    use crate::state::Rotation;
    s.put_family("fam-1", "g0", "rec", secs(60))
        .await
        .expect("put_family");
    assert_eq!(
        s.rotate_refresh("fam-1", "g0", "g1").await.expect("rotate"),
        Rotation::Rotated("rec".into())
    );
    assert_eq!(
        s.rotate_refresh("fam-1", "g1", "g2").await.expect("rotate"),
        Rotation::Rotated("rec".into())
    );
    // g1 again: reuse of a used token revokes the family, so g2 is dead too.
    assert_eq!(
        s.rotate_refresh("fam-1", "g1", "g3").await.expect("rotate"),
        Rotation::Reused
    );
    assert_eq!(
        s.rotate_refresh("fam-1", "g2", "g4").await.expect("rotate"),
        Rotation::Unknown
    );
    assert_eq!(
        s.rotate_refresh("fam-none", "g0", "g1")
            .await
            .expect("rotate"),
        Rotation::Unknown
    );
}

pub(crate) async fn families_are_read_and_revoked(s: Arc<dyn StateStore>) {
    s.put_family("fam-2", "g0", "rec2", secs(60))
        .await
        .expect("put_family");
    assert_eq!(
        s.read_family("fam-2").await.expect("read"),
        Some(("g0".into(), "rec2".into()))
    );
    assert!(s.revoke_family("fam-2").await.expect("revoke"));
    assert!(!s.revoke_family("fam-2").await.expect("revoke"));
    assert_eq!(s.read_family("fam-2").await.expect("read"), None);
    s.put_family("fam-3", "g0", "r", Duration::from_millis(100))
        .await
        .expect("put_family");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(s.read_family("fam-3").await.expect("read"), None);
}

pub(crate) async fn ping_answers(s: Arc<dyn StateStore>) {
    s.ping().await.expect("ping");
    assert!(["memory", "redis"].contains(&s.backend()));
}
