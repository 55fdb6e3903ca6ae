//! Wall-clock time, injectable: token lifetimes, authentication instants, timestamp checks,
//! lockout times, certificate validity and report dates take "now" from a [`Clock`] so tests
//! can fix or advance it. This is the one place that reads the system's wall clock:
//! `clippy.toml` bans `SystemTime::now`, `OffsetDateTime::now_utc` and their kin everywhere
//! else. (Durations, deadlines and TTLs run on the monotonic `tokio::time::Instant`, which
//! `tokio::time::pause` controls.)

use std::sync::Arc;
use time::OffsetDateTime;

/// Where "now" comes from: the system clock in production, a fixed or advancing one in tests.
pub type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(system_now)
}

/// A clock that always answers `at` (tests, and one-off tools that date a single run).
pub fn fixed_clock(at: OffsetDateTime) -> Clock {
    Arc::new(move || at)
}

/// The system's wall clock, read directly: the only such read in altgate.
#[allow(clippy::disallowed_methods)]
fn system_now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_fixed_clock_stands_still_and_the_system_clock_moves_on() {
        let at = datetime!(2026-01-02 03:04:05 UTC);
        let fixed = fixed_clock(at);
        assert_eq!((fixed)(), at);
        assert_eq!((fixed)(), at);
        let system = system_clock();
        let (a, b) = ((system)(), (system)());
        assert!(a <= b && a.year() >= 2025, "{a} {b}");
    }
}
