//! No account enumeration by timing. A failed sign-in that never reached a domain controller
//! (unknown or ambiguous login, bad input, an account refused by extranet lockout) would answer
//! faster than a wrong password, which costs a bind, and AD answers some refusals (disabled,
//! expired) faster than a password check: the difference tells an attacker that the account
//! exists, or that a guessed password was right. So every failure other than a wrong password
//! is held until a duration drawn from recent real wrong-password sign-ins: the client sees one
//! distribution whatever the cause. Drawing a sample (not a fixed floor or the mean) keeps the
//! whole distribution, median and tails alike, and follows the directory as it gets slower or
//! faster.
//!
//! AD answers some refusals (a disabled account) faster than a wrong password, which also
//! updates `badPwdCount`. Those did wait for a DC, so their own time varies like a wrong
//! password's; holding them to an independent draw would make them slower instead. They are
//! held by the difference between the two medians, which moves their median onto the
//! wrong-password one.
//!
//! Tokio's timer has millisecond granularity and a sleeping task wakes late when the machine is
//! busy, while the samples already include that lateness once (the wrong-password sign-in waited
//! for the DC's answer). So the sleep aims early by the lateness recently observed, and the last
//! moments are waited by yielding.

use ring::rand::{SecureRandom, SystemRandom};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed binds remembered.
const SAMPLES: usize = 128;
/// Used until the first failed bind has been seen.
const INITIAL: Duration = Duration::from_millis(5);
/// The most the sleep aims early by (microseconds).
const MAX_LATENESS_US: i64 = 5_000;
/// No failure is held longer than this, whatever the directory did.
const MAX_HOLD: Duration = Duration::from_secs(3);

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

fn push(ring: &Mutex<VecDeque<Duration>>, took: Duration) {
    if let Ok(mut s) = ring.lock() {
        if s.len() == SAMPLES {
            s.pop_front();
        }
        s.push_back(took.min(MAX_HOLD));
    }
}

fn median(ring: &Mutex<VecDeque<Duration>>) -> Option<Duration> {
    let mut v: Vec<Duration> = ring.lock().ok()?.iter().copied().collect();
    v.sort_unstable();
    v.get(v.len() / 2).copied()
}

/// Recent failed-bind sign-in durations, and the padding drawn from them.
pub struct Equalizer {
    samples: Mutex<VecDeque<Duration>>,
    /// Recent binds AD refused for another reason than the password.
    other_binds: Mutex<VecDeque<Duration>>,
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
            samples: Mutex::new(VecDeque::with_capacity(SAMPLES)),
            other_binds: Mutex::new(VecDeque::with_capacity(SAMPLES)),
            rng: SystemRandom::new(),
            lateness_us: AtomicU64::new(500),
            overshoot_us: AtomicU64::new(0),
        }
    }
}

impl Equalizer {
    /// Remembers how long a wrong-password sign-in took, end to end.
    pub fn record(&self, took: Duration) {
        push(&self.samples, took);
    }

    /// Remembers how long a sign-in took whose bind AD refused for another reason (disabled,
    /// expired...).
    pub fn record_other_bind(&self, took: Duration) {
        push(&self.other_binds, took);
    }

    /// How much longer a wrong password takes than another refused bind, by their medians
    /// (zero until both have been seen, or when the other refusals are the slower ones).
    pub fn other_bind_offset(&self) -> Duration {
        match (median(&self.samples), median(&self.other_binds)) {
            (Some(wrong), Some(other)) => wrong.saturating_sub(other),
            _ => Duration::ZERO,
        }
    }

    /// A duration drawn at random from the remembered ones.
    pub fn draw(&self) -> Duration {
        let mut b = [0u8; 4];
        let r = self
            .rng
            .fill(&mut b)
            .map(|_| u32::from_le_bytes(b) as usize)
            .unwrap_or(0);
        match self.samples.lock() {
            Ok(s) if !s.is_empty() => s.get(r % s.len()).copied().unwrap_or(INITIAL),
            _ => INITIAL,
        }
    }

    /// Waits until `start + hold` (returns at once if that has passed). Mostly sleeps, aiming
    /// early by the lateness recently observed (a small integrating controller corrects it
    /// after every wake), then yields until the deadline: the yielding is bounded by about that
    /// lateness, so a held failure never spins a core for long, and short holds are still exact.
    pub async fn hold_until(&self, start: Instant, hold: Duration) {
        let target = start + hold.min(MAX_HOLD);
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

    #[test]
    fn draws_come_from_what_was_recorded_and_old_samples_age_out() {
        let e = Equalizer::default();
        assert_eq!(e.draw(), INITIAL);
        e.record(Duration::from_micros(1300));
        assert_eq!(e.draw(), Duration::from_micros(1300));
        for _ in 0..SAMPLES {
            e.record(Duration::from_millis(2));
        }
        for _ in 0..100 {
            assert_eq!(e.draw(), Duration::from_millis(2));
        }
        e.record(Duration::from_secs(60));
        let drawn: Vec<Duration> = (0..2000).map(|_| e.draw()).collect();
        assert!(
            drawn.contains(&MAX_HOLD),
            "a slow bind is capped, not dropped"
        );
    }

    #[test]
    fn other_refusals_are_offset_by_the_difference_of_medians() {
        let e = Equalizer::default();
        assert_eq!(e.other_bind_offset(), Duration::ZERO);
        for ms in [3, 4, 5] {
            e.record(Duration::from_millis(ms));
            e.record_other_bind(Duration::from_millis(ms - 2));
        }
        assert_eq!(e.other_bind_offset(), Duration::from_millis(2));
        for _ in 0..10 {
            e.record_other_bind(Duration::from_millis(9));
        }
        assert_eq!(e.other_bind_offset(), Duration::ZERO, "never negative");
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
