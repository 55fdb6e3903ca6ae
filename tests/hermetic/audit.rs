//! `altgate audit` over the shipped demo configuration: the embedded directory holds an account
//! for every rule, so the report shows every rule. (The audit of the real forests is
//! `tests/it/audit.rs`.)

use crate::kit::cli::altgate;
use serde_json::Value;
use std::collections::BTreeSet;

#[test]
fn the_shipped_demo_configuration_shows_every_rule() {
    let out = altgate(&["audit", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    let rules: BTreeSet<&str> = v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["rule"].as_str())
        .collect();
    for r in altgate::preflight::rules::Rule::ALL {
        assert!(
            rules.contains(r.id()),
            "{} missing from the demo report",
            r.id()
        );
    }
}
