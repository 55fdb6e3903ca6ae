//! What the load-harness benches share: the AD test forests' description, latency statistics,
//! and the test token-signing pair.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

/// `forests.json`, read as the integration tests read it.
#[path = "../../tests/kit/forests.rs"]
mod forests_json;
#[allow(unused_imports)] // not every bench names a single forest
pub use forests_json::{Forest, Forests};

/// The provisioned test forests; exits with a hint when they are not there.
pub fn forests(bench: &str) -> Forests {
    forests_json::read().unwrap_or_else(|why| {
        eprintln!("{bench}: the AD test forests are not provisioned ({why}); run scripts/ad-forests.sh up");
        std::process::exit(2);
    })
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

impl Stats {
    /// The latencies `tasks` (one per connection) measured, over the time since `start`.
    pub async fn join(
        tasks: Vec<tokio::task::JoinHandle<Vec<Duration>>>,
        start: std::time::Instant,
    ) -> Stats {
        let mut latencies = Vec::new();
        for t in tasks {
            latencies.extend(t.await.expect("join"));
        }
        Stats {
            latencies,
            elapsed: start.elapsed(),
        }
    }
}

/// One RSA-2048 PKCS#1 SHA-256 signature with the test key (altgate's signer, one core), in seconds: the
/// unit CPU per sign-in is reported in. Prints it.
pub fn rsa_signature_seconds() -> f64 {
    let (crt, key) = signing_pair();
    let key = altgate::keys::SigningKey::load(&crt, &key).expect("key");
    let n = 2000;
    let s = std::time::Instant::now();
    for i in 0..n {
        std::hint::black_box(key.sign(format!("message {i}").as_bytes()).expect("sign"));
    }
    let rsa = s.elapsed().as_secs_f64() / n as f64;
    println!(
        "RSA-2048 PKCS#1 SHA-256 signature with the token-signing key (AWS-LC, one core): {:.3} ms",
        rsa * 1e3
    );
    rsa
}

/// (user, system) CPU seconds a process has used, from `/proc/<pid>/stat`.
pub fn cpu_seconds(pid: u32) -> (f64, f64) {
    // Linux reports utime/stime in clock ticks; 100 per second on every mainstream kernel config.
    const TICKS: f64 = 100.0;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc stat");
    let after_comm = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    // After the command name, utime and stime (fields 14 and 15 of stat) are at 11 and 12.
    let utime: f64 = fields[11].parse().expect("utime");
    let stime: f64 = fields[12].parse().expect("stime");
    (utime / TICKS, stime / TICKS)
}

/// A verifying TLS client configuration trusting `ca`.
pub fn client_config(ca: &std::path::Path) -> std::sync::Arc<rustls::ClientConfig> {
    let roots = altgate::tls::load_ca_bundle(ca).expect("ca");
    std::sync::Arc::new(
        rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth(),
    )
}
