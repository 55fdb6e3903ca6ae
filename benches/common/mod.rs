//! What the load-harness benches share: the AD test forests' description, latency statistics,
//! and the test token-signing pair.
#![allow(dead_code)]

use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// One forest as `scripts/ad-forests.sh` describes it.
#[derive(Deserialize)]
pub struct Forest {
    pub name: String,
    pub gc_url: String,
    pub dc_url: String,
    pub ca_file: String,
    pub service_user: String,
    pub service_password: String,
}

/// `forests.json`.
#[derive(Deserialize)]
pub struct Forests {
    pub forests: Vec<Forest>,
    pub user_password: String,
}

/// The provisioned test forests; exits with a hint when they are not there.
pub fn forests(bench: &str) -> Forests {
    let dir = std::env::var("ALTGATE_AD_DIR").unwrap_or_else(|_| "/var/tmp/altgate-ad".into());
    let Ok(text) = std::fs::read_to_string(format!("{dir}/forests.json")) else {
        eprintln!("{bench}: the AD test forests are not provisioned; run scripts/ad-forests.sh up");
        std::process::exit(2);
    };
    serde_json::from_str(&text).expect("forests.json")
}

/// The RSA pair in `tests/fixtures` (test-only; it signs nothing real).
pub fn signing_pair() -> (PathBuf, PathBuf) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    (
        dir.join("test-token-signing.crt"),
        dir.join("test-token-signing.key"),
    )
}

/// Latencies of one load row.
pub struct Stats {
    pub latencies: Vec<Duration>,
    pub elapsed: Duration,
}

impl Stats {
    /// Operations per second.
    pub fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    /// The `p` quantile, in milliseconds.
    pub fn pct_ms(&mut self, p: f64) -> f64 {
        self.latencies.sort_unstable();
        let i = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e3)
    }
}
