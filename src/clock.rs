//! Wall-clock time, injectable: token lifetimes, authentication instants and timestamp checks
//! take "now" from a [`Clock`] so tests can fix or advance it. (TTLs run on
//! `tokio::time::Instant` instead, which `tokio::time::pause` controls.)

use std::sync::Arc;
use time::OffsetDateTime;

/// Where "now" comes from: the system clock in production, a fixed or advancing one in tests.
pub type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(OffsetDateTime::now_utc)
}
