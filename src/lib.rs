//! altgate: an AD FS-style authentication front end.
//!
//! The library holds everything; `main.rs` only calls [`cli::main`]. [`run`] (in [`http`]) is
//! the one entry point the binary, the tests and the benches share. The modules, bottom layer
//! first (a module uses only lower layers; `layering.rs` checks it):
//!
//! - [`label`], [`secret`], [`xml`], [`tls`], [`clock`]: the typed vocabulary of every bounded
//!   label (enums with ids and docs, checked against `docs/metrics.md`), secrets that never
//!   print, the safe XML parser and canonicalisation, certificates and CA bundles, the
//!   injectable wall clock.
//! - [`keys`], [`endpoint`], [`request`]: the token-signing key and certificates (below
//!   [`config`], which checks them, and [`tokens`], which signs with them); the route table
//!   (every public path, its methods, label and URL); the request context (client addresses and
//!   activity ID, built once at the edge and passed whole).
//! - [`config`]: raw serde structures validated into typed configuration by one recipe (every
//!   problem at once, with its key path), with its vocabulary.
//! - [`metrics`] and [`events`]: every notable occurrence logs and counts in one place; metric
//!   methods and event fields take [`label`] values, never strings.
//! - [`directory`], [`cache`], [`state`], [`session`]: the [`directory::Directory`] trait (pooled
//!   LDAPS clients for real forests under one failover policy, the embedded demo directory), the
//!   resolution cache, state shared by a farm (in-process or Redis), the SSO cookie.
//! - [`resolve`] and [`lockout`]: the AD FS alternate-login-ID rules and the
//!   [`resolve::Resolver`]; extranet smart lockout over the state store.
//! - [`signin`]: the password sign-in (and password change) service every protocol uses.
//! - [`tokens`]: claims, assertions, signatures, and the token service.
//! - [`preflight`]: the directory pre-flight (`altgate audit`): every identifier of every
//!   account through the resolution rules, and the sync preparation rules, before go-live.
//! - [`protocols`]: WS-Trust, federation metadata, browser sign-in (WS-Fed, SAML 2.0, the
//!   password-change pages), and the Entra ID federation settings (`altgate m365`).
//! - `app`: wiring ([`App`]); [`http`]: listeners, connection discipline, routing and the one
//!   response boundary; [`cli`]: the command line; [`catalogue`]: every label vocabulary, as
//!   `docs/metrics.md` documents it.
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

pub mod account_check;
pub mod cache;
pub mod catalogue;
pub mod cli;
pub mod clock;
pub mod config;
pub mod directory;
pub mod endpoint;
pub mod events;
#[doc(hidden)]
pub mod fuzzing;
pub mod health;
pub mod http;
pub mod kerberos;
pub mod keys;
pub mod keytab;
pub mod label;
pub mod lockout;
pub mod metrics;
pub mod preflight;
pub mod protocols;
pub mod request;
pub mod resolve;
pub mod secret;
pub mod session;
pub mod signin;
pub mod state;
pub mod tls;
pub mod tokens;
pub mod xml;

mod app;
#[cfg(test)]
mod layering;

pub use app::{App, StartError};
pub use http::run;
