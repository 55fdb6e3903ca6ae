//! altgate's real-component integration tests: the server and the binary against two Samba AD
//! forests over verified LDAPS, a real `redis-server`, Chromium, Prometheus, Microsoft's MSAL and
//! pysaml2 (Python), xmlsec1 and OpenSSL. The harness brings the forests up once per run
//! (`scripts/ad-forests.sh up`); the servers under test listen on port 0. The tests that need
//! nothing installed are the other integration binary, `tests/hermetic/`; both use the test kit
//! in `tests/kit/`.
//!
//! Without the components this binary is skipped as a whole, and says so: the first test that
//! finds one missing (no `samba-tool`, forests that do not come up, no `redis-server`, ...)
//! prints `SKIPPED, NOT PASSED: tests/it ...` and why on stderr and ends the binary with exit
//! status 0, so a plain `cargo test` on a machine without them passes on the hermetic tests
//! alone and no test here is reported as passed that did not run. `scripts/test.sh`, which
//! installs and starts everything, sets `ALTGATE_REAL_COMPONENTS=1`: then a missing component
//! fails every test that needs it instead (`harness::unprepared`). Every test here starts by
//! taking `harness::shared()` / `harness::exclusive()` or calling `harness::prepared()`, so the
//! decision comes before any test's own work.

// The tests are altgate's clients (browsers, Entra, operators) and the forests' clocks: they
// read the wall clock themselves, as those do; altgate takes it from its injected clock.
#![allow(clippy::disallowed_methods)]

#[path = "../kit/mod.rs"]
mod kit;

/// The attack clients, shared with the edge bench, are the kit's.
use kit::attack;

mod harness;
mod procs;

mod ad_users;
mod audit;
mod cli;
mod dc_attributes;
mod demo;
mod directory_faults;
mod edge;
mod entra;
mod enumeration;
mod lockout;
mod m365;
mod oauth;
mod package;
mod passive;
mod password_change;
mod prometheus;
mod reload;
mod resolve_ad;
mod server;
// Needs the binary built with the `kerberos` feature (scripts/test.sh always builds it so).
#[cfg(feature = "kerberos")]
mod windows;
mod wstrust;
