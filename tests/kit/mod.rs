//! The test kit: the fixtures both integration binaries share, written once. Each binary
//! includes it as its own module (`#[path = "../kit/mod.rs"] mod kit;` in
//! `tests/hermetic/main.rs` and `tests/it/main.rs`); the load benches include single files of
//! it (`attack.rs`, `forests.rs`).
//!
//! Nothing here needs an installed component: the real-component fixtures (bringing up the AD
//! forests, Redis, the browser, xmlsec1) stay in `tests/it/harness.rs` and `tests/it/procs.rs`.
//! A binary uses only part of the kit, hence `dead_code` is allowed.
//!
//! - [`files`]: the repository, the run's private directory, secret and configuration files;
//! - [`cli`]: the `altgate` binary as a process;
//! - [`config`]: configurations parsed and applications built from YAML, metric samples;
//! - [`demo`]: demo-mode (embedded directory) configurations and an in-process server;
//! - [`certs`]: waiting for a server's generated certificate;
//! - [`http`]: HTTP/1.1 clients over verified TLS and plain HTTP;
//! - [`html`]: form bodies and the hidden fields of altgate's pages;
//! - [`logs`]: what the code under test logs, captured;
//! - [`forests`]: `forests.json`, how `scripts/ad-forests.sh` describes the test forests;
//! - [`attack`]: TLS clients bound to a source address, slowloris and HTTP/2 attackers;
//! - [`balancer`]: a load balancer in front of the server, appending `X-Forwarded-For`;
//! - [`wstrust`]: WS-Trust requests as Microsoft's clients send them.

#![allow(dead_code)]

pub mod attack;
pub mod balancer;
pub mod certs;
pub mod cli;
pub mod config;
pub mod demo;
pub mod files;
pub mod forests;
pub mod html;
pub mod http;
pub mod logs;
pub mod wstrust;
