//! altgate's integration tests: one binary, real components. The harness brings up the two
//! Samba AD forests once (`scripts/ad-forests.sh up`) and every test talks to them over
//! verified LDAPS. The server under test listens on port 0.

// The tests are altgate's clients (browsers, Entra, operators) and the forests' clocks: they
// read the wall clock themselves, as those do; altgate takes it from its injected clock.
#![allow(clippy::disallowed_methods)]

mod harness;
mod procs;

mod ad_users;
mod attack;
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
mod passive;
mod password_change;
mod prometheus;
mod resolve_ad;
mod server;
mod wstrust;
