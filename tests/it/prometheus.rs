//! The operations artefacts proven on a real Prometheus (Debian's package): promtool checks and
//! unit-tests the alert rules; a Prometheus scrapes a live altgate (its admin listener, with the bearer token) that has
//! served real sign-ins against the AD forests; every dashboard expression and every alert
//! expression is evaluated there; stopping a forest's DC makes the forest-unreachable alert's
//! expression return that forest.

use crate::harness::{self, ForestSpec, TestServer};
use serde_json::Value;
use std::time::Duration;

fn promtool(args: &[&str]) {
    let out = std::process::Command::new("promtool")
        .args(args)
        .current_dir(harness::repo().join("dashboards"))
        .output()
        .expect("promtool must be installed (scripts/test.sh installs Debian's prometheus)");
    assert!(
        out.status.success(),
        "promtool {args:?}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    use http_body_util::{BodyExt, Empty};
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
            .await
            .ok()?;
    tokio::spawn(conn);
    let req = hyper::Request::get(path)
        .header("host", "localhost")
        .body(Empty::<bytes::Bytes>::new())
        .ok()?;
    let res = sender.send_request(req).await.ok()?;
    let status = res.status().as_u16();
    let body = res.into_body().collect().await.ok()?.to_bytes();
    Some((status, String::from_utf8_lossy(&body).into_owned()))
}

/// Runs an instant query; returns (status field, result array).
async fn query(port: u16, promql: &str) -> (String, Vec<Value>) {
    let (_, body) = http_get(port, &format!("/api/v1/query?query={}", urlencode(promql)))
        .await
        .expect("prometheus answers");
    let v: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    let status = v["status"].as_str().unwrap_or("").to_string();
    let result = v["data"]["result"].as_array().cloned().unwrap_or_default();
    if status != "success" {
        eprintln!("query failed: {promql}\n{body}");
    }
    (status, result)
}

struct Prometheus {
    child: tokio::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    async fn start(target: std::net::SocketAddr, token_file: &std::path::Path) -> Prometheus {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("port")
            .local_addr()
            .expect("addr")
            .port();
        let rules = harness::repo().join("dashboards/alerts.yml");
        let config = format!(
            "global: {{ scrape_interval: 1s, evaluation_interval: 1s }}\n\
             rule_files: ['{}']\n\
             scrape_configs:\n\
             \x20 - job_name: altgate\n\
             \x20   scheme: http\n\
             \x20   authorization: {{ type: Bearer, credentials_file: '{}' }}\n\
             \x20   static_configs: [{{ targets: ['{target}'] }}]\n",
            rules.display(),
            token_file.display()
        );
        let cfg = dir.path().join("prometheus.yml");
        std::fs::write(&cfg, config).expect("config");
        let child = tokio::process::Command::new("prometheus")
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("prometheus must be installed (scripts/test.sh installs Debian's prometheus)");
        let p = Prometheus {
            child,
            port,
            _dir: dir,
        };
        for _ in 0..200 {
            if let Some((200, _)) = http_get(port, "/-/ready").await {
                return p;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("prometheus did not become ready");
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

const SOAP: &str = "application/soap+xml; charset=utf-8";

/// A WS-Trust 1.3 request, as the WS-Trust tests build it.
fn rst(username: &str, password: &str, applies_to: &str) -> Vec<u8> {
    crate::wstrust::rst("13", username, password, applies_to, "", 0).into_bytes()
}

fn dashboard_expressions() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(harness::repo().join("dashboards/altgate.json"))
        .expect("dashboard");
    let d: Value = serde_json::from_str(&text).expect("dashboard JSON");
    assert_eq!(d["__inputs"][0]["name"], "DS_PROMETHEUS");
    let vars: Vec<&str> = d["templating"]["list"]
        .as_array()
        .expect("templating")
        .iter()
        .filter_map(|v| v["name"].as_str())
        .collect();
    assert_eq!(vars, vec!["instance", "forest"]);
    let mut out = Vec::new();
    for p in d["panels"].as_array().expect("panels") {
        for t in p["targets"].as_array().into_iter().flatten() {
            let expr = t["expr"].as_str().expect("expr");
            let title = p["title"].as_str().unwrap_or("").to_string();
            out.push((
                title,
                expr.replace("$instance", ".*")
                    .replace("$forest", ".*")
                    .replace("$__rate_interval", "1m"),
            ));
        }
    }
    out
}

fn alert_expressions() -> Vec<(String, String)> {
    let text =
        std::fs::read_to_string(harness::repo().join("dashboards/alerts.yml")).expect("alerts");
    let v: serde_yaml::Value = serde_yaml::from_str(&text).expect("alerts YAML");
    let mut out = Vec::new();
    for g in v["groups"].as_sequence().expect("groups") {
        for r in g["rules"].as_sequence().expect("rules") {
            out.push((
                r["alert"].as_str().expect("alert").to_string(),
                r["expr"].as_str().expect("expr").to_string(),
            ));
            for key in ["summary", "description", "runbook_url"] {
                assert!(
                    r["annotations"][key]
                        .as_str()
                        .is_some_and(|s| !s.is_empty()),
                    "{key}"
                );
            }
            let anchor = r["annotations"]["runbook_url"].as_str().unwrap_or("");
            let runbooks =
                std::fs::read_to_string(harness::repo().join("docs/alerts.md")).expect("runbooks");
            let heading = format!("## {}", r["alert"].as_str().unwrap_or(""));
            assert!(
                runbooks.contains(&heading),
                "{heading} missing from docs/alerts.md"
            );
            assert!(
                anchor.ends_with(&r["alert"].as_str().unwrap_or("").to_lowercase()),
                "{anchor}"
            );
        }
    }
    out
}

#[tokio::test]
async fn dashboards_and_alerts_work_on_a_real_prometheus() {
    let _g = harness::exclusive().await;
    promtool(&["check", "rules", "alerts.yml"]);
    promtool(&["test", "rules", "alerts.test.yml"]);

    // A contoso whose first GC is dead (failovers), small cache (evictions), one bind
    // connection per DC (pool waits).
    let mut contoso = ForestSpec::real("contoso.com");
    contoso
        .global_catalogs
        .insert(0, "ldaps://127.0.0.2:1".into());
    let server = TestServer::start_with(
        &[contoso, ForestSpec::real("fabrikam.com")],
        "cache: { max_entries: 3 }\ndirectory: { pool_size: 1, connect_timeout: 1s, retry_backoff: 300ms, bind_queue_timeout: 10s }\n\
         extranet_lockout: { mode: enforce, threshold: 3, ip_failures_per_minute: 0 }\n",
    )
    .await;
    let pw = harness::forests().user_password.clone();
    let post = |u: &str, p: &str, rp: &str| {
        server.request(
            "POST",
            "/adfs/services/trust/13/usernamemixed",
            Some(SOAP),
            rst(u, p, rp),
        )
    };
    let traffic = async {
        for (u, p, rp, status) in [
            (
                "jdoe@contoso.com",
                pw.as_str(),
                "urn:federation:MicrosoftOnline",
                200,
            ),
            (
                "fuser@fabrikam.com",
                pw.as_str(),
                "urn:federation:MicrosoftOnline",
                200,
            ),
            (
                "CONTOSO\\jdoe",
                pw.as_str(),
                "urn:federation:MicrosoftOnline",
                200,
            ),
            (
                "nomail@corp.contoso.local",
                pw.as_str(),
                "urn:federation:MicrosoftOnline",
                200,
            ),
            (
                "jdoe@contoso.com",
                "Wrong-Password-2",
                "urn:federation:MicrosoftOnline",
                500,
            ),
            (
                "cross@example.com",
                pw.as_str(),
                "urn:federation:MicrosoftOnline",
                500,
            ),
            (
                "nobody@contoso.com",
                pw.as_str(),
                "urn:federation:MicrosoftOnline",
                500,
            ),
            ("jdoe@contoso.com", pw.as_str(), "urn:unknown", 500),
        ] {
            let (got, body) = post(u, p, rp).await;
            assert_eq!(got, status, "{u}: {body}");
        }
        // A small spray: extranet lockout locks lock-prom out at 3 (event 516) and refuses the
        // fourth attempt without a bind (event 1210).
        for _ in 0..4 {
            let (got, body) = post(
                "lock-prom@contoso.com",
                "Wrong-Password-3",
                "urn:federation:MicrosoftOnline",
            )
            .await;
            assert_eq!(got, 500, "{body}");
        }
        // Concurrent sign-ins queue for the single bind connection.
        let burst: Vec<_> = (0..6)
            .map(|_| {
                post(
                    "fuser@fabrikam.com",
                    pw.as_str(),
                    "urn:federation:MicrosoftOnline",
                )
            })
            .collect();
        for (status, _) in futures::future::join_all(burst).await {
            assert_eq!(status, 200);
        }
        for login in [
            "mixed.case@contoso.com",
            "alice@contoso.com",
            "consist@contoso.com",
            "john.doe@fabrikam.com",
            "upnonly@fabrikam.com",
        ] {
            server.app.resolver.resolve(login).await;
        }
    };
    traffic.await;

    // The exposition passes promtool's linter.
    let exposition = server.scrape().await;
    let mut lint = tokio::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool");
    {
        use tokio::io::AsyncWriteExt;
        let mut stdin = lint.stdin.take().expect("stdin");
        stdin
            .write_all(exposition.as_bytes())
            .await
            .expect("write metrics");
    }
    let out = lint
        .wait_with_output()
        .await
        .expect("promtool check metrics");
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let prom = Prometheus::start(server.admin, &server.admin_token_file).await;
    Prometheus::wait_for_port(prom.port, "up{job=\"altgate\"} == 1").await;
    // Two scrapes after the traffic, so rate() has samples to work with.
    Prometheus::wait_for_port(prom.port, "count_over_time(altgate_build_info[1m]) >= 3").await;
    // Some traffic while Prometheus watches.
    traffic_again(&server, &pw).await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    let mut empty = Vec::new();
    for (title, expr) in dashboard_expressions() {
        let (status, result) = query(prom.port, &expr).await;
        assert_eq!(status, "success", "panel {title:?}: {expr}");
        if result.is_empty() {
            empty.push(format!("{title}: {expr}"));
        }
    }
    assert!(
        empty.is_empty(),
        "dashboard expressions without data:\n{}",
        empty.join("\n")
    );
    for (alert, expr) in alert_expressions() {
        let (status, _) = query(prom.port, &expr).await;
        assert_eq!(status, "success", "{alert}: {expr}");
    }

    // Stop contoso's DC: the forest-unreachable expression names it on the live Prometheus.
    harness::stop_forest("contoso");
    let app = server.app.clone();
    let port = prom.port;
    let during = tokio::spawn(async move {
        app.resolver.clear_cache();
        let r = app.resolver.resolve("jdoe@contoso.com").await;
        assert!(
            r.unreachable_forests.contains(&"contoso.com".to_string()),
            "{r:?}"
        );
        let p = Prometheus::wait_for_port(port, "altgate_forest_up == 0").await;
        let forests: Vec<&str> = p
            .iter()
            .filter_map(|s| s["metric"]["forest"].as_str())
            .collect();
        assert_eq!(forests, vec!["contoso.com"]);
        // The rule is evaluated too: the alert is pending (it fires after its 2m `for`).
        Prometheus::wait_for_port(
            port,
            "ALERTS{alertname=\"AltgateForestUnreachable\",forest=\"contoso.com\"}",
        )
        .await;
    })
    .await;
    harness::start_forest("contoso");
    if let Err(e) = during {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn traffic_again(server: &TestServer, pw: &str) {
    for u in ["jdoe@contoso.com", "fuser@fabrikam.com"] {
        let (status, _) = server
            .request(
                "POST",
                "/adfs/services/trust/13/usernamemixed",
                Some(SOAP),
                rst(u, pw, "urn:federation:MicrosoftOnline"),
            )
            .await;
        assert_eq!(status, 200);
    }
}

impl Prometheus {
    /// Polls `promql` until it returns data (bounded: 30 s).
    async fn wait_for_port(port: u16, promql: &str) -> Vec<Value> {
        for _ in 0..150 {
            let (status, result) = query(port, promql).await;
            if status == "success" && !result.is_empty() {
                return result;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("{promql} never returned data");
    }
}

/// Every `altgate_*` metric name in a PromQL expression.
fn metric_names(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = expr;
    while let Some(i) = rest.find("altgate_") {
        let name: String = rest[i..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        rest = &rest[i + name.len()..];
        if !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

#[tokio::test]
async fn a_fresh_server_exposes_every_metric_the_dashboard_and_alerts_use() {
    let _g = harness::shared().await;
    // Both real forests, the state in Redis, extranet lockout on: nothing has happened yet.
    let state = format!(
        "state: {{ url: '{}', key_prefix: '{}' }}\nextranet_lockout: {{ mode: enforce }}\n",
        crate::procs::redis().url(),
        crate::procs::key_prefix("fresh-metrics")
    );
    let server = TestServer::start(&state).await;
    // The servers' and forests' `up` are measurements: the first health check sets them.
    let mut ready = 0;
    for _ in 0..100 {
        ready = server
            .admin_get("/ready", Some(harness::ADMIN_TOKEN))
            .await
            .0;
        if ready == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(ready, 200);
    let exposition = server.scrape().await;
    assert!(
        !exposition
            .lines()
            .any(|l| (l.starts_with("altgate_tokens_issued_total")
                || l.starts_with("altgate_token_failures_total")
                || l.starts_with("altgate_binds_total"))
                && !l.ends_with(" 0")),
        "nothing was issued or bound yet"
    );
    let present: Vec<&str> = exposition
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next())
        .collect();
    let mut missing = Vec::new();
    for (title, expr) in dashboard_expressions()
        .into_iter()
        .chain(alert_expressions())
    {
        for name in metric_names(&expr) {
            if !present.contains(&name.as_str()) {
                missing.push(format!("{name} ({title})"));
            }
        }
    }
    missing.sort();
    missing.dedup();
    assert!(
        missing.is_empty(),
        "series the dashboard or the alerts use that a fresh server does not expose:\n{}",
        missing.join("\n")
    );
}
