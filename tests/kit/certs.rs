//! Waiting for the certificate a server generates as it starts
//! (`tls: { generate_dev_certificate: true }`).
//!
//! altgate writes the generated pair whole, the key first (a temporary file beside each, then a
//! rename; `altgate::tls::write_public_file`): once the certificate exists it is complete and its
//! key is there. So a test waits for it to exist, then reads it at once, and a file that exists
//! but does not load is a failure, never a reason to wait longer.

use std::path::Path;
use std::time::{Duration, Instant};

/// How long a server may take to write its certificate; generous, a loaded machine is slow.
pub const CERTIFICATE_WAIT: Duration = Duration::from_secs(30);

/// Waits (bounded by [`CERTIFICATE_WAIT`]) until `cert` exists, then checks that it holds a
/// certificate a client can trust; fails the test otherwise.
pub async fn wait_for_certificate(cert: &Path) {
    let deadline = Instant::now() + CERTIFICATE_WAIT;
    while !cert.exists() {
        assert!(
            Instant::now() < deadline,
            "{} did not appear within {CERTIFICATE_WAIT:?}",
            cert.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if let Err(e) = altgate::tls::load_ca_bundle(cert) {
        panic!(
            "{} exists but holds no whole certificate: {e}",
            cert.display()
        );
    }
}
