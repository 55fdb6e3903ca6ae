//! altgate's hermetic integration tests: everything that needs nothing installed beyond the Rust
//! toolchain. The `altgate` binary and the server run on the shipped demo configuration and the
//! embedded demo directory (`config/demo-directory.yaml`) with in-process state, on loopback
//! ports of their own: no Active Directory, no Redis, no browser, no xmlsec1, no Python. A plain
//! `cargo test` runs them on any machine, and `scripts/test.sh` runs them with everything else.
//!
//! The tests against real components (the Samba AD forests, Redis, Chromium, Prometheus, MSAL,
//! xmlsec1) are the other integration binary, `tests/it/`; both use the test kit in
//! `tests/kit/`. A test belongs here if it passes on a machine where none of those is installed;
//! the same behaviour against the real components is tested there.

// The tests are altgate's clients (browsers, Entra, operators) and the forests' clocks: they
// read the wall clock themselves, as those do; altgate takes it from its injected clock.
#![allow(clippy::disallowed_methods)]

#[path = "../kit/mod.rs"]
mod kit;

mod admin;
mod audit;
mod cli;
mod demo;
mod limits;
mod passive;
mod routes;
mod server;
mod slots;
