//! The first hour with altgate, without a directory: the README's `resolve --json` example is
//! real output of the shipped demo configuration and its quick start gives the demo's URL;
//! one-off commands write no warnings or colour; check-config refuses the demo relying party
//! outside demo mode; `serve` without a configuration file says how to name one. (The shipped
//! demo in a real browser is `tests/it/demo.rs`.)

use crate::kit::cli::{altgate, altgate_in};
use crate::kit::files::{repo, secret_file, write_config};
use serde_json::Value;

/// The README's first ```json block holding a resolution.
fn readme_json_example(readme: &str) -> Value {
    let block = readme
        .split("```json\n")
        .skip(1)
        .filter_map(|b| b.split("\n```").next())
        .find(|b| b.contains("\"outcome\""))
        .expect("a ```json resolve example in the README");
    serde_json::from_str(block).unwrap_or_else(|e| panic!("{e}:\n{block}"))
}

#[test]
fn the_readme_shows_real_output_and_the_url_to_open() {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README");
    let example = readme_json_example(&readme);
    let login = example["login"].as_str().expect("login").to_string();
    let out = altgate(&["resolve", "--json", &login]);
    assert_eq!(out.status.code(), Some(0));
    let real: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let keys =
        |v: &Value| -> Vec<String> { v.as_object().expect("object").keys().cloned().collect() };
    assert_eq!(
        keys(&example),
        keys(&real),
        "the README's keys are not the real ones"
    );
    assert_eq!(
        example, real,
        "the README's example is not what the demo prints"
    );

    // The one URL the quick start gives is the demo application of the shipped configuration.
    let config =
        altgate::config::Config::load(&repo().join("config/altgate.yaml")).expect("shipped config");
    assert!(config.passive.demo_relying_party);
    let url = format!(
        "{}{}",
        config.server.public_url,
        altgate::config::demo::HOME
    );
    let quick_start = readme
        .split("## Quick start")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("a quick start section");
    assert!(
        quick_start.contains(&url),
        "the quick start must give {url}"
    );
    for shot in [
        "docs/screenshots/sign-in.png",
        "docs/screenshots/signed-in.png",
        "docs/screenshots/error.png",
    ] {
        assert!(readme.contains(shot), "the README shows {shot}");
    }
}

#[test]
fn one_off_commands_print_their_answer_without_warnings_or_colour() {
    for args in [
        &["resolve", "jdoe@contoso.com"][..],
        &["resolve", "--json", "nobody@contoso.com"],
    ] {
        let out = altgate(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.is_empty(), "{args:?} wrote to stderr:\n{stderr}");
        assert!(!String::from_utf8_lossy(&out.stdout).contains('\u{1b}'));
    }
}

#[test]
fn the_demo_relying_party_is_refused_outside_demo_mode() {
    let pw = secret_file("demo-rp.pw", "not-used");
    let yaml = format!(
        "server: {{ listen: 127.0.0.1:0, public_url: https://sts.contoso.test }}\n\
         forests:\n  - name: contoso.com\n    global_catalogs: [ldaps://dc1.contoso.test:3269]\n    service_account: {{ user: svc@contoso.test, password_file: {} }}\n\
         passive: {{ demo_relying_party: true }}\n",
        pw.display()
    );
    let config = write_config("demo-rp-outside-demo.yaml", &yaml);
    let out = altgate(&["check-config", "--config", config.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("passive.demo_relying_party: only allowed in demo mode (demo_directory)"),
        "{err}"
    );
    // Without the flag the same file is fine, and the paths stay unserved.
    let ok = write_config(
        "no-demo-rp.yaml",
        &yaml.replace("passive: { demo_relying_party: true }\n", ""),
    );
    let out = altgate(&["check-config", "--config", ok.to_str().expect("utf-8")]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn serving_without_a_configuration_file_says_how_to_name_one() {
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let out = altgate_in(elsewhere.path(), &["serve"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("config/altgate.yaml"), "{err}");
    assert!(
        err.contains("hint:") && err.contains("--config FILE"),
        "{err}"
    );
}
