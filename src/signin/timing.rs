//! No account enumeration by timing. A failed sign-in that never reached a domain controller
//! (unknown or ambiguous login, bad input, an account refused by extranet lockout or by the
//! address failure budget) would answer faster than a wrong password, which costs a bind, and
//! AD answers some refusals of the *right* password (disabled, expired) faster than a wrong one,
//! which also writes `badPwdCount`: the difference tells an attacker that the account exists, or
//! that a guessed password was right. So every failure other than a wrong password is held until
//! a duration drawn from what a wrong password for an existing account takes *now*.
//!
//! # The model: wrong-password times by domain and by load
//!
//! A wrong password's time is the resolution, the lockout check, the wait for one of the domain
//! controller's bind slots (`directory.max_concurrent_binds_per_dc`) and the bind itself. The
//! wait depends on how many binds are queued when the request arrives, so a plain history of
//! recent times follows whoever filled it: an attacker who queues many slow wrong passwords fills
//! it with queue waits, and once the queue is gone an unknown login (held to those) takes far
//! longer than an existing one (which no longer waits). So every sample is filed under the
//! number of binds in flight to its domain when its bind was sent (its *load level*: 0, 1, 2, 3,
//! 4-7, 8-15, ... 256 and more), and a failure is held to a sample of the level its own domain is
//! at when it is decided. While a queue stands, unknown logins wait as long as queued wrong
//! passwords do; once it drains they take what an unqueued wrong password takes, whatever was
//! queued before. A flood can only ever fill the levels it creates.
//!
//! Each level keeps its last [`PER_LEVEL`] samples. A draw takes the level's samples of the last
//! [`FRESH`] (older ones only when fewer than [`MIN_SAMPLES`] are that recent), then the nearest
//! levels', then a prior (6-14 ms, [`PRIOR_MS`]), until it has at least [`MIN_SAMPLES`]: no
//! state rests on one sample (the first bind after a start carries the DC's TLS set-up). A draw
//! is at most [`CAP_FACTOR`] times the median of the samples it came from, and never more than
//! [`MAX_HOLD`]. Drawing a sample (not a fixed floor or the mean) keeps the whole distribution,
//! median and tails alike.
//!
//! A failure that has a domain (the account resolved) uses that domain's model. One that does
//! not (an unknown login) uses the domain that logins with the same suffix (`@contoso.com`,
//! `CONTOSO\`) resolved to most recently, else the domain with the most samples: an attacker
//! comparing `nobody@contoso.com` with `jdoe@contoso.com` compares like with like.
//!
//! A bind AD refused for another reason than the password is held to a draw for the load level
//! its bind was sent at; it already took its own time, so it ends at the later of the two.
//!
//! Tokio's timer has millisecond granularity and a sleeping task wakes late when the machine is
//! busy, while the samples already include that lateness once (the wrong-password sign-in waited
//! for the DC's answer). So the sleep aims early by the lateness recently observed, and the last
//! moments are waited by yielding.

use ring::rand::{SecureRandom, SystemRandom};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Samples kept per load level of a domain.
pub const PER_LEVEL: usize = 64;
/// A draw comes from at least this many samples (the level's, the nearest levels', the prior).
pub const MIN_SAMPLES: usize = 16;
/// Samples younger than this are preferred to older ones of the same level.
pub const FRESH: Duration = Duration::from_secs(60);
/// A draw is at most this many times the median of the samples it came from.
pub const CAP_FACTOR: u32 = 4;
/// The prior, in milliseconds: what a draw falls back on before a domain has samples (a wrong
/// password on a LAN domain controller).
pub const PRIOR_MS: [u64; MIN_SAMPLES] = [6, 7, 7, 8, 8, 9, 9, 10, 10, 10, 11, 11, 12, 12, 13, 14];
/// No draw is longer than this, whatever the directory did.
pub const MAX_HOLD: Duration = Duration::from_secs(3);
/// Load levels: 0, 1, 2, 3, then one per power of two up to 256 and more.
const LEVELS: usize = 11;
/// The most domains modelled (only resolved accounts' domains are).
const MAX_DOMAINS: usize = 1024;
/// The most login suffixes remembered.
const MAX_SUFFIXES: usize = 4096;
/// The longest login suffix remembered, in characters.
const MAX_SUFFIX_CHARS: usize = 256;
/// The most the sleep aims early by (microseconds).
const MAX_LATENESS_US: i64 = 5_000;

/// The load level of `in_flight` binds.
pub fn level(in_flight: usize) -> usize {
    if in_flight < 4 {
        in_flight
    } else {
        let log2 = usize::try_from(in_flight.ilog2()).unwrap_or(usize::MAX);
        log2.saturating_add(2).min(LEVELS - 1)
    }
}

/// What logins that resolve are remembered by: `@` and the lower-cased suffix of an address,
/// or the lower-cased NetBIOS name and `\` of `DOMAIN\sam` (empty otherwise).
fn suffix(login: &str) -> String {
    let login = login.trim();
    let key = match (login.rsplit_once('@'), login.split_once('\\')) {
        (Some((_, s)), _) => format!("@{}", s.to_lowercase()),
        (None, Some((n, _))) => format!("{}\\", n.to_lowercase()),
        (None, None) => String::new(),
    };
    match key.char_indices().nth(MAX_SUFFIX_CHARS) {
        Some((i, _)) => key.get(..i).unwrap_or_default().to_string(),
        None => key,
    }
}

/// `at - reference` in microseconds: positive when `at` is later.
fn signed_us(at: Instant, reference: Instant) -> i64 {
    if at >= reference {
        i64::try_from((at - reference).as_micros()).unwrap_or(i64::MAX)
    } else {
        -i64::try_from((reference - at).as_micros()).unwrap_or(i64::MAX)
    }
}

/// Moves a correction by an eighth of the latest error (clamped to `0..=MAX_LATENESS_US`).
fn update(correction: &AtomicU64, error_us: i64) {
    let old = i64::try_from(correction.load(Ordering::Relaxed)).unwrap_or(0);
    let new = old.saturating_add(error_us / 8).clamp(0, MAX_LATENESS_US);
    correction.store(u64::try_from(new).unwrap_or(0), Ordering::Relaxed);
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Instant,
    took: Duration,
}

/// One domain's wrong-password times by load level.
#[derive(Default)]
struct Model {
    levels: [VecDeque<Sample>; LEVELS],
    recorded: u64,
}

impl Model {
    /// Up to `want` samples of `level`, newest first, the fresh ones before the others, added to
    /// `out` (all fresh ones when `all_fresh`).
    fn take(
        &self,
        level: usize,
        now: Instant,
        want: usize,
        all_fresh: bool,
        out: &mut Vec<Duration>,
    ) {
        let Some(samples) = self.levels.get(level) else {
            return;
        };
        let fresh = |s: &&Sample| now.saturating_duration_since(s.at) <= FRESH;
        let before = out.len();
        let fresh_wanted = if all_fresh { usize::MAX } else { want };
        out.extend(
            samples
                .iter()
                .rev()
                .filter(fresh)
                .take(fresh_wanted)
                .map(|s| s.took),
        );
        let missing = want.saturating_sub(out.len() - before);
        out.extend(
            samples
                .iter()
                .rev()
                .filter(|s| !fresh(s))
                .take(missing)
                .map(|s| s.took),
        );
    }

    /// The samples a draw at `level` picks from: the level's (fresh ones, else the newest), then
    /// the nearest levels', until there are [`MIN_SAMPLES`] or none are left.
    fn candidates(&self, level: usize, now: Instant) -> Vec<Duration> {
        let mut out = Vec::with_capacity(PER_LEVEL);
        self.take(level, now, MIN_SAMPLES, true, &mut out);
        for distance in 1..LEVELS {
            if out.len() >= MIN_SAMPLES {
                break;
            }
            for l in [level.checked_sub(distance), level.checked_add(distance)]
                .into_iter()
                .flatten()
            {
                let want = MIN_SAMPLES.saturating_sub(out.len());
                self.take(l, now, want, false, &mut out);
            }
        }
        out
    }
}

/// Binds in flight to one domain; the count drops when this is dropped.
#[must_use = "the bind counts as in flight until this is dropped"]
pub struct InFlight {
    count: Arc<AtomicUsize>,
    before: usize,
}

impl InFlight {
    /// The load level the bind was sent at (the binds already in flight).
    pub fn level(&self) -> usize {
        level(self.before)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Wrong-password times by domain and load level, and the holds drawn from them.
pub struct Equalizer {
    models: Mutex<HashMap<String, Model>>,
    in_flight: Mutex<HashMap<String, Arc<AtomicUsize>>>,
    suffixes: Mutex<HashMap<String, String>>,
    rng: SystemRandom,
    /// How late sleeps have woken recently (microseconds, moving average).
    lateness_us: AtomicU64,
    /// How late holds have ended recently (microseconds, moving average): a wake before the
    /// deadline is finished exactly by yielding, one after it is not, so holds end late on
    /// average by part of the wake-up noise; later holds end earlier by as much.
    overshoot_us: AtomicU64,
}

impl Default for Equalizer {
    fn default() -> Self {
        Equalizer {
            models: Mutex::new(HashMap::new()),
            in_flight: Mutex::new(HashMap::new()),
            suffixes: Mutex::new(HashMap::new()),
            rng: SystemRandom::new(),
            lateness_us: AtomicU64::new(500),
            overshoot_us: AtomicU64::new(0),
        }
    }
}

impl Equalizer {
    fn counter(&self, domain: &str) -> Option<Arc<AtomicUsize>> {
        let mut m = self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(c) = m.get(domain) {
            return Some(c.clone());
        }
        if m.len() >= MAX_DOMAINS {
            return None;
        }
        let c = Arc::new(AtomicUsize::new(0));
        m.insert(domain.to_string(), c.clone());
        Some(c)
    }

    /// A bind to `domain` is being sent: counted in flight until the guard is dropped; the
    /// guard knows the load level it was sent at.
    pub fn bind_started(&self, domain: &str) -> InFlight {
        let count = self
            .counter(domain)
            .unwrap_or_else(|| Arc::new(AtomicUsize::new(0)));
        let before = count.fetch_add(1, Ordering::Relaxed);
        InFlight { count, before }
    }

    /// The load level of `domain` now.
    pub fn level_now(&self, domain: &str) -> usize {
        let m = self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        level(m.get(domain).map_or(0, |c| c.load(Ordering::Relaxed)))
    }

    /// `login` resolved to an account of `domain`: logins with its suffix that do not resolve
    /// are held to that domain's times.
    pub fn learn(&self, login: &str, domain: &str) {
        let key = suffix(login);
        let mut s = self.suffixes.lock().unwrap_or_else(PoisonError::into_inner);
        let full = s.len() >= MAX_SUFFIXES;
        match s.get_mut(&key) {
            Some(d) if d == domain => {}
            Some(d) => *d = domain.to_string(),
            None if !full => {
                s.insert(key, domain.to_string());
            }
            None => {}
        }
    }

    /// The domain a failure for `login`, which did not resolve, is held to the times of: the
    /// domain its suffix last resolved to, else the one with the most samples (`None` before
    /// any).
    pub fn domain_for(&self, login: &str) -> Option<String> {
        let known = self
            .suffixes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&suffix(login))
            .cloned();
        known.or_else(|| {
            self.models
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .iter()
                .max_by(|a, b| a.1.recorded.cmp(&b.1.recorded).then(b.0.cmp(a.0)))
                .map(|(d, _)| d.clone())
        })
    }

    /// Remembers how long a wrong-password sign-in for an account of `domain` took, end to end,
    /// its bind sent at load `level`.
    pub fn record(&self, domain: &str, level: usize, took: Duration) {
        self.record_at(domain, level, took, Instant::now());
    }

    /// [`Equalizer::record`], as of `now`.
    pub fn record_at(&self, domain: &str, level: usize, took: Duration, now: Instant) {
        let mut models = self.models.lock().unwrap_or_else(PoisonError::into_inner);
        if !models.contains_key(domain) && models.len() >= MAX_DOMAINS {
            return;
        }
        let model = models.entry(domain.to_string()).or_default();
        model.recorded = model.recorded.saturating_add(1);
        let Some(samples) = model.levels.get_mut(level.min(LEVELS - 1)) else {
            return;
        };
        if samples.len() == PER_LEVEL {
            samples.pop_front();
        }
        samples.push_back(Sample {
            at: now,
            took: took.min(MAX_HOLD),
        });
    }

    fn random(&self) -> usize {
        let mut b = [0u8; 4];
        self.rng
            .fill(&mut b)
            .map(|_| u32::from_le_bytes(b) as usize)
            .unwrap_or(0)
    }

    /// A hold for a failure of `domain` (`None`: none known) at load `level`: a sample drawn at
    /// random (see the module documentation).
    pub fn draw(&self, domain: Option<&str>, level: usize) -> Duration {
        self.draw_at(domain, level, Instant::now())
    }

    /// [`Equalizer::draw`], as of `now`.
    pub fn draw_at(&self, domain: Option<&str>, level: usize, now: Instant) -> Duration {
        let mut candidates = {
            let models = self.models.lock().unwrap_or_else(PoisonError::into_inner);
            domain
                .and_then(|d| models.get(d))
                .map(|m| m.candidates(level.min(LEVELS - 1), now))
                .unwrap_or_default()
        };
        let missing = MIN_SAMPLES.saturating_sub(candidates.len());
        // Spread over the prior, so a few missing samples still take its whole range.
        candidates.extend((0..missing).filter_map(|i| {
            let at = i * MIN_SAMPLES / missing.max(1) + (MIN_SAMPLES / missing.max(1)) / 2;
            PRIOR_MS.get(at).map(|ms| Duration::from_millis(*ms))
        }));
        let pick = candidates
            .get(self.random() % candidates.len().max(1))
            .copied()
            .unwrap_or(Duration::ZERO);
        candidates.sort_unstable();
        let median = candidates
            .get(candidates.len() / 2)
            .copied()
            .unwrap_or(Duration::ZERO);
        pick.min(median.saturating_mul(CAP_FACTOR)).min(MAX_HOLD)
    }

    /// Waits until `start + hold` (returns at once if that has passed). Mostly sleeps, aiming
    /// early by the lateness recently observed (a small integrating controller corrects it
    /// after every wake), then yields until the deadline: the yielding is bounded by about that
    /// lateness, so a held failure never spins a core for long, and short holds are still exact.
    pub async fn hold_until(&self, start: Instant, hold: Duration) {
        let target = start + hold;
        let now = Instant::now();
        if target <= now {
            return;
        }
        let aim_early = Duration::from_micros(self.lateness_us.load(Ordering::Relaxed));
        if target - now <= aim_early + Duration::from_millis(1) {
            // Too short to sleep: yield until the target.
            while Instant::now() < target {
                tokio::task::yield_now().await;
            }
            return;
        }
        let overshoot = Duration::from_micros(self.overshoot_us.load(Ordering::Relaxed));
        let deadline = target
            .checked_sub(overshoot)
            .unwrap_or(target)
            .max(now + aim_early);
        let wake = deadline - aim_early;
        tokio::time::sleep(wake.saturating_duration_since(now)).await;
        let woke = Instant::now();
        update(&self.lateness_us, signed_us(woke, deadline));
        while Instant::now() < deadline {
            tokio::task::yield_now().await;
        }
        update(&self.overshoot_us, signed_us(Instant::now(), target));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn draws(e: &Equalizer, domain: Option<&str>, level: usize, now: Instant) -> Vec<Duration> {
        let mut v: Vec<Duration> = (0..3000).map(|_| e.draw_at(domain, level, now)).collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    fn prior() -> Vec<Duration> {
        let mut p: Vec<Duration> = PRIOR_MS.iter().map(|m| ms(*m)).collect();
        p.dedup();
        p
    }

    #[test]
    fn load_levels_are_exact_up_to_three_then_powers_of_two() {
        let levels: Vec<usize> = [0, 1, 2, 3, 4, 7, 8, 15, 16, 160, 255, 256, 100_000]
            .into_iter()
            .map(level)
            .collect();
        assert_eq!(levels, [0, 1, 2, 3, 4, 4, 5, 5, 6, 9, 9, 10, 10]);
    }

    #[test]
    fn before_any_sample_the_prior_is_drawn_and_one_sample_never_rules() {
        let e = Equalizer::default();
        let now = Instant::now();
        assert_eq!(draws(&e, None, 0, now), prior());
        assert_eq!(draws(&e, Some("contoso.com"), 0, now), prior());
        // The first bind after a start carries the DC's TLS set-up: one draw in sixteen at
        // most, and capped at four times the median.
        e.record_at("contoso.com", 0, ms(230), now);
        let d = draws(&e, Some("contoso.com"), 0, now);
        assert_eq!(d.last(), Some(&ms(40)), "{d:?}");
        assert!(
            d.iter()
                .filter(|x| **x != ms(40))
                .all(|x| prior().contains(x)),
            "the rest is the prior: {d:?}"
        );
        for _ in 0..MIN_SAMPLES {
            e.record_at("contoso.com", 0, ms(3), now);
        }
        assert_eq!(
            draws(&e, Some("contoso.com"), 0, now),
            [ms(3), ms(12)],
            "real samples replace the prior; the outlier stays capped until it ages out"
        );
    }

    #[test]
    fn a_flood_fills_only_the_levels_it_creates() {
        let e = Equalizer::default();
        let now = Instant::now();
        for _ in 0..40 {
            e.record_at("contoso.com", 0, ms(4), now);
        }
        // 160 queued wrong passwords, sent at 128 and more binds in flight.
        for _ in 0..160 {
            e.record_at("contoso.com", level(150), ms(320), now);
        }
        let later = now + Duration::from_secs(1);
        assert_eq!(draws(&e, Some("contoso.com"), level(0), later), [ms(4)]);
        assert_eq!(draws(&e, Some("contoso.com"), level(140), later), [ms(320)]);
        // A level never seen borrows from the nearest ones.
        assert_eq!(draws(&e, Some("contoso.com"), level(300), later), [ms(320)]);
        assert_eq!(draws(&e, Some("contoso.com"), level(2), later), [ms(4)]);
    }

    #[test]
    fn fresh_samples_replace_old_ones_and_old_ones_remain_the_fallback() {
        let e = Equalizer::default();
        let t0 = Instant::now();
        for _ in 0..PER_LEVEL {
            e.record_at("contoso.com", 0, ms(50), t0);
        }
        let t1 = t0 + FRESH + Duration::from_secs(1);
        assert_eq!(
            draws(&e, Some("contoso.com"), 0, t1),
            [ms(50)],
            "stale, but all there is"
        );
        for _ in 0..MIN_SAMPLES {
            e.record_at("contoso.com", 0, ms(5), t1);
        }
        assert_eq!(
            draws(&e, Some("contoso.com"), 0, t1),
            [ms(5)],
            "fresh ones win"
        );
        e.record_at("contoso.com", 0, Duration::from_secs(60), t1);
        let d = draws(&e, Some("contoso.com"), 0, t1);
        assert_eq!(d, [ms(5), ms(20)], "capped at four times the median");
    }

    #[test]
    fn unresolved_logins_take_the_domain_of_their_suffix_else_the_busiest() {
        let e = Equalizer::default();
        assert_eq!(e.domain_for("nobody@contoso.com"), None);
        let now = Instant::now();
        e.record_at("fabrikam.com", 0, ms(9), now);
        e.record_at("fabrikam.com", 0, ms(9), now);
        e.record_at("contoso.com", 0, ms(3), now);
        assert_eq!(
            e.domain_for("x@example.com").as_deref(),
            Some("fabrikam.com")
        );
        e.learn("JDoe@Contoso.COM", "contoso.com");
        e.learn("CONTOSO\\jdoe", "contoso.com");
        assert_eq!(
            e.domain_for(" nobody@contoso.com ").as_deref(),
            Some("contoso.com")
        );
        assert_eq!(
            e.domain_for("contoso\\nobody").as_deref(),
            Some("contoso.com")
        );
        assert_eq!(e.domain_for("nobody").as_deref(), Some("fabrikam.com"));
        e.learn("cross@example.com", "contoso.com");
        assert_eq!(
            e.domain_for("x@EXAMPLE.com").as_deref(),
            Some("contoso.com")
        );
        assert_eq!(
            suffix(&format!("a@{}", "é".repeat(300))).chars().count(),
            MAX_SUFFIX_CHARS
        );
    }

    #[test]
    fn binds_in_flight_set_the_level() {
        let e = Equalizer::default();
        assert_eq!(e.level_now("contoso.com"), 0);
        let a = e.bind_started("contoso.com");
        let b = e.bind_started("contoso.com");
        let other = e.bind_started("fabrikam.com");
        assert_eq!((a.level(), b.level(), other.level()), (0, 1, 0));
        assert_eq!(e.level_now("contoso.com"), 2);
        drop(a);
        assert_eq!(e.level_now("contoso.com"), 1);
        drop((b, other));
        assert_eq!(e.level_now("contoso.com"), 0);
        assert_eq!(e.level_now("fabrikam.com"), 0);
    }

    #[tokio::test]
    async fn holds_land_on_the_deadline_on_average_and_passed_deadlines_do_not_wait() {
        let e = Equalizer::default();
        let mut errors = Vec::new();
        for _ in 0..40 {
            let start = Instant::now();
            e.hold_until(start, Duration::from_micros(3500)).await;
            errors.push(start.elapsed().as_secs_f64() * 1e3 - 3.5);
        }
        errors.sort_by(|a, b| a.total_cmp(b));
        let median = errors[errors.len() / 2];
        assert!(median.abs() < 1.0, "median error {median} ms: {errors:?}");
        let start = Instant::now() - Duration::from_secs(1);
        let t = Instant::now();
        e.hold_until(start, Duration::from_millis(5)).await;
        assert!(
            t.elapsed() < Duration::from_millis(50),
            "a passed deadline does not wait"
        );
    }
}
