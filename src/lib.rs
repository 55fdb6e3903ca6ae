//! altgate: an AD FS-style authentication front end.
//!
//! The library holds everything; `main.rs` only parses the command line. The layers, from the
//! wire inwards:
//!
//! - [`http`]: the HTTPS listener (`/metrics`, `/adfs/probe`) and [`run`], the one entry point
//!   tests, benches and the binary share.
//! - [`resolve`]: pure alternate-login-ID decision logic (AD FS semantics) and the [`resolve::Resolver`]
//!   that drives it against a directory through the [`cache`].
//! - [`directory`]: the [`directory::Directory`] trait with two implementations: pooled LDAPS
//!   global-catalog clients for real Active Directory forests, and the embedded demo directory.
//! - [`config`]: raw serde structures validated into typed configuration.
//! - [`events`] and [`metrics`]: every notable occurrence logs and counts in one place.
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]
#![warn(missing_docs)]

pub mod cache;
pub mod cli;
pub mod clock;
pub mod config;
pub mod directory;
pub mod events;
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod metrics;
pub mod protocols;
pub mod resolve;
pub mod secret;
pub mod session;
pub mod signin;
pub mod tls;
pub mod tokens;
pub mod xml;

mod app;
#[cfg(test)]
mod layering;

pub use app::{App, StartError};
pub use http::run;
