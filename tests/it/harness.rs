//! Shared test harness: the AD test forests (started once per test binary), configurations
//! pointing at them, and a lock that lets the one test that stops a domain controller run alone.

#![allow(dead_code)]

use altgate::config::Config;
use altgate::metrics::Metrics;
use altgate::App;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};
use tokio::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// One forest as `scripts/ad-forests.sh` describes it in `forests.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct Forest {
    pub name: String,
    pub netbios: String,
    pub ip: String,
    pub base_dn: String,
    pub gc_url: String,
    pub dc_url: String,
    pub ca_file: String,
    pub service_user: String,
    pub service_password: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Forests {
    pub forests: Vec<Forest>,
    pub user_password: String,
}

impl Forests {
    pub fn get(&self, name: &str) -> &Forest {
        self.forests
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("forest {name} missing from forests.json"))
    }
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn state_dir() -> PathBuf {
    std::env::var_os("ALTGATE_AD_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/altgate-ad"))
}

fn script(args: &[&str]) {
    let out = Command::new("bash")
        .arg(repo().join("scripts/ad-forests.sh"))
        .args(args)
        .output()
        .expect("run scripts/ad-forests.sh");
    assert!(
        out.status.success(),
        "scripts/ad-forests.sh {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The forests, provisioned and running (idempotent; once per test binary).
pub fn forests() -> &'static Forests {
    static FORESTS: OnceLock<Forests> = OnceLock::new();
    FORESTS.get_or_init(|| {
        script(&["up"]);
        let path = state_dir().join("forests.json");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        serde_json::from_str(&text).expect("parse forests.json")
    })
}

fn lock() -> &'static RwLock<()> {
    static LOCK: OnceLock<RwLock<()>> = OnceLock::new();
    LOCK.get_or_init(|| RwLock::new(()))
}

/// Tests that need both forests up hold this while they run.
pub async fn shared() -> RwLockReadGuard<'static, ()> {
    forests();
    lock().read().await
}

/// The test that stops a domain controller holds this: nobody else runs meanwhile.
pub async fn exclusive() -> RwLockWriteGuard<'static, ()> {
    forests();
    lock().write().await
}

pub fn stop_forest(short: &str) {
    script(&["stop", short]);
}

pub fn start_forest(short: &str) {
    script(&["start", short]);
}

/// A file holding `secret`, for `password_file`.
pub fn secret_file(name: &str, secret: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("altgate-it-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let p = dir.join(name);
    std::fs::write(&p, secret).expect("write secret");
    p
}

/// How a test wants a forest configured.
#[derive(Debug, Clone)]
pub struct ForestSpec {
    pub name: String,
    pub global_catalogs: Vec<String>,
    pub ca_file: String,
    pub password: String,
}

impl ForestSpec {
    pub fn real(name: &str) -> Self {
        let f = forests().get(name);
        ForestSpec {
            name: f.name.clone(),
            global_catalogs: vec![f.gc_url.clone()],
            ca_file: f.ca_file.clone(),
            password: f.service_password.clone(),
        }
    }
}

/// YAML for a configuration over `specs`, alternate ID `mail` in `lookup` forests.
pub fn config_yaml(specs: &[ForestSpec], lookup: &[&str], extra: &str) -> String {
    let mut y =
        String::from("server: { listen: 127.0.0.1:0, public_url: https://sts.altgate.test }\n");
    if !lookup.is_empty() {
        y.push_str(&format!(
            "alternate_login_id: {{ attribute: mail, lookup_forests: [{}] }}\n",
            lookup.join(", ")
        ));
    }
    y.push_str("forests:\n");
    for s in specs {
        let f = forests().get(&s.name);
        let pw = secret_file(&format!("{}-{}.pw", s.name, s.password.len()), &s.password);
        y.push_str(&format!(
            "  - name: {}\n    global_catalogs: [{}]\n    service_account: {{ user: {}, password_file: {} }}\n    ca_file: {}\n",
            s.name,
            s.global_catalogs.join(", "),
            f.service_user,
            pw.display(),
            s.ca_file
        ));
    }
    y.push_str(extra);
    y
}

pub fn parse(yaml: &str) -> Config {
    Config::parse(yaml, "test").unwrap_or_else(|e| panic!("{e}\n{yaml}"))
}

/// The standard configuration: both real forests, alternate ID in both.
pub fn both_forests_yaml(extra: &str) -> String {
    config_yaml(
        &[
            ForestSpec::real("contoso.com"),
            ForestSpec::real("fabrikam.com"),
        ],
        &["contoso.com", "fabrikam.com"],
        extra,
    )
}

pub fn app(yaml: &str) -> Arc<App> {
    App::new(parse(yaml)).expect("build app")
}

/// Reads one sample of a metric from the text exposition, e.g.
/// `metric(&m, "altgate_forest_up{forest=\"contoso.com\"}")`.
/// Label names must be written in the exposition's (alphabetical) order, or the series would
/// silently never match; that is checked here.
pub fn metric(m: &Metrics, series: &str) -> f64 {
    if let Some((_, labels)) = series.split_once('{') {
        let names: Vec<&str> = labels
            .trim_end_matches('}')
            .split(',')
            .filter_map(|kv| kv.split_once('=').map(|(k, _)| k))
            .collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(
            names, sorted,
            "write the labels of {series} in alphabetical order"
        );
    }
    let text = m.render();
    text.lines()
        .find_map(|l| {
            l.strip_prefix(series)
                .and_then(|rest| rest.trim().parse::<f64>().ok())
        })
        .unwrap_or(0.0)
}

pub fn write_config(name: &str, yaml: &str) -> PathBuf {
    secret_file(name, yaml)
}

pub fn exists(p: &str) -> bool {
    Path::new(p).exists()
}
