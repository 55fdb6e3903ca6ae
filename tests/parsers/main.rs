//! Property tests for every parser of untrusted input; they need no directory and run with the
//! rest of `cargo test`. Each property throws a few thousand structured random inputs at one
//! parser (random bytes, valid samples mutated, and generated inputs whose right answer is known)
//! and checks that it never panics and that what it accepts is right, not garbage.
//!
//! The inputs come from a fixed seed, so every run sees the same cases and a failure prints the
//! case that broke. `ALTGATE_PARSER_SEED=<n>` picks another seed and `ALTGATE_PARSER_CASES=<n>`
//! another number of cases per property, for longer runs; the libFuzzer targets in `fuzz/`
//! (`scripts/fuzz.sh`) search further still.

mod gen;
mod samples;

mod client_ip;
mod login;
mod negotiate;
mod query;
mod saml;
mod session;
mod wstrust;
mod xml;
