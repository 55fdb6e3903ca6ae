//! The `altgate` binary against the real forests: `resolve --json` for every outcome, exit codes
//! and AD FS messages, the service account's password never in the output. (Demo mode and
//! `check-config` are `tests/hermetic/cli.rs`.)

use crate::harness;
use crate::kit::cli::{altgate, json};

#[tokio::test]
async fn resolve_json_against_real_forests() {
    let _g = harness::shared().await;
    let cfg = harness::write_config("cli-real.yaml", &harness::both_forests_yaml(""));
    let cfg = cfg.to_str().expect("utf-8 path");

    let out = altgate(&["resolve", "--config", cfg, "--json", "jdoe@contoso.com"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    assert_eq!(v["login"], "jdoe@contoso.com");
    assert_eq!(v["outcome"], "resolved");
    assert_eq!(v["via"], "alternate_login_id");
    assert_eq!(v["forest"], "contoso.com");
    assert_eq!(v["domain"], "contoso.com");
    assert_eq!(v["netbios_domain"], "CONTOSO");
    assert_eq!(v["user_principal_name"], "jdoe@corp.contoso.local");
    assert_eq!(v["sam_account_name"], "jdoe");
    assert_eq!(
        v["distinguished_name"],
        "CN=John Doe,CN=Users,DC=contoso,DC=com"
    );
    assert!(v["immutable_id"].as_str().is_some_and(|s| s.len() == 24));
    assert_eq!(v["unreachable_forests"], serde_json::json!([]));

    let out = altgate(&["resolve", "--config", cfg, "--json", "cross@example.com"]);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(v["outcome"], "ambiguous");
    assert_eq!(v["msis"], "MSIS8014");
    assert_eq!(v["event_id"], 364);
    assert_eq!(
        v["message"],
        "MSIS8014: Found multiple user accounts with identity 'cross@example.com' in forests: contoso.com, fabrikam.com"
    );

    let out = altgate(&[
        "resolve",
        "--config",
        cfg,
        "--json",
        "nomail@corp.contoso.local",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json(&out)["via"], "upn");

    let out = altgate(&["resolve", "--config", cfg, "--json", "CONTOSO\\jdoe"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json(&out)["via"], "sam_account_name");

    let out = altgate(&["resolve", "--config", cfg, "--json", "nobody@contoso.com"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out)["outcome"], "not_found");

    // Refused input: an error outcome, exit 1, and the reason.
    let out = altgate(&["resolve", "--config", cfg, "--json", "  "]);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(v["outcome"], "error");
    assert_eq!(v["code"], "login_empty");
    assert_eq!(v["event_id"], 364);

    let out = altgate(&["resolve", "--config", cfg, "--json", "shared@contoso.com"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out)["msis"], "MSIS8015");
    // The service account's password never reaches the output.
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains(&harness::forests().get("contoso.com").service_password));
}
