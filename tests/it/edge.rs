//! altgate's connection discipline against real attacks, with real sign-ins against the AD
//! forests alongside: slowloris ([`slowloris`]: per-address cap, header-read and idle
//! deadlines), HTTP/2 streams stalled mid-body ([`http2`]: stream cap, flow-control windows and
//! the body budget, memory of a separate altgate process), the body-read deadline ([`body`]),
//! and trusted proxies and banned addresses ([`proxies`]). This module holds what they share.
//! (Every `server.limits` key at and beyond its bounds needs no directory:
//! `tests/hermetic/limits.rs`.)

mod balancer;
mod body;
mod http2;
mod proxies;
mod slowloris;

use crate::attack::{self, Dribble, Fate, StallReport};
use crate::harness::{self, metric, request_from, ForestSpec, TestServer};
use crate::wstrust::rst;
use altgate::xml::parse::{parse, Limits, XmlNode};
use bytes::Bytes;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

const SOAP: &str = "application/soap+xml; charset=utf-8";
const SAML1: &str = "urn:oasis:names:tc:SAML:1.0:assertion";
const WSTRUST_13: &str = "/adfs/services/trust/13/usernamemixed";
const LOCALHOST: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
/// What a sign-in may take while an attack runs: generous, the point is that it succeeds.
const SIGN_IN_BOUND: Duration = Duration::from_secs(5);

fn real_forests() -> Vec<ForestSpec> {
    vec![
        ForestSpec::real("contoso.com"),
        ForestSpec::real("fabrikam.com"),
    ]
}

/// A TLS test server whose inline `server:` mapping gets `server_extra`.
async fn start(server_extra: &str, tokens: &str) -> TestServer {
    TestServer::start_with_server_yaml(&real_forests(), server_extra, tokens, "").await
}

/// A real WS-Trust 1.3 sign-in of jdoe@contoso.com from `src` with extra `headers`: status
/// and the RSTR (or fault).
async fn sign_in(
    src: IpAddr,
    addr: SocketAddr,
    ca: &Path,
    headers: &[(&str, &str)],
) -> (u16, String) {
    let pw = &harness::forests().user_password;
    let body = rst(
        "13",
        "jdoe@contoso.com",
        pw,
        "urn:federation:MicrosoftOnline",
        "",
        0,
    );
    let mut h = vec![("content-type", SOAP)];
    h.extend_from_slice(headers);
    let (status, _, body) =
        request_from(src, addr, ca, "POST", WSTRUST_13, &h, body.into_bytes()).await;
    (status, body)
}

/// A sign-in that must succeed within [`SIGN_IN_BOUND`]; returns how long it took.
async fn timed_sign_in(addr: SocketAddr, ca: &Path) -> Duration {
    let t = Instant::now();
    let (status, body) = tokio::time::timeout(SIGN_IN_BOUND, sign_in(LOCALHOST, addr, ca, &[]))
        .await
        .unwrap_or_else(|_| panic!("a sign-in took longer than {SIGN_IN_BOUND:?} under attack"));
    let took = t.elapsed();
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        claim(&body, "UPN").as_deref(),
        Some("jdoe@contoso.com"),
        "{body}"
    );
    took
}

/// A SAML 1.1 attribute's value in an RSTR.
fn claim(rstr: &str, name: &str) -> Option<String> {
    fn find(n: &XmlNode, name: &str) -> Option<String> {
        if n.is(SAML1, "Attribute") && n.attr("", "AttributeName") == Some(name) {
            return n
                .child(SAML1, "AttributeValue")
                .map(|v| v.text().to_string());
        }
        n.children.iter().find_map(|c| find(c, name))
    }
    let limits = Limits {
        max_depth: 64,
        max_elements: 10_000,
        max_attributes: 64,
    };
    find(&parse(rstr.as_bytes(), limits).ok()?, name)
}

/// The sum of every sample of a metric family in an exposition.
fn family_sum(text: &str, family: &str) -> f64 {
    text.lines()
        .filter(|l| {
            l.strip_prefix(family)
                .is_some_and(|r| r.starts_with('{') || r.starts_with(' '))
        })
        .filter_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse::<f64>().ok()))
        .sum()
}

/// Waits (bounded) until the public listener has no connection open.
async fn wait_until_no_connections(m: &altgate::metrics::Metrics) {
    for _ in 0..200 {
        if metric(m, "altgate_http_open_connections") == 0.0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "{} connections still open",
        metric(m, "altgate_http_open_connections")
    );
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Configuration of an `altgate serve` process on `port` (admin listener on `admin_port`, no
/// token), both forests, token signing, `server_extra` inside `server:`.
fn process_yaml(port: u16, admin_port: u16, cert: &Path, key: &Path, server_extra: &str) -> String {
    harness::config_yaml(
        &real_forests(),
        &["contoso.com", "fabrikam.com"],
        &format!(
            "{}logging: {{ level: error }}\nadmin: {{ listen: '127.0.0.1:{admin_port}' }}\n",
            harness::token_yaml()
        ),
    )
    .replace(
        "server: { listen: 127.0.0.1:0, public_url: https://sts.altgate.test }",
        &format!(
            "server: {{ listen: '127.0.0.1:{port}', public_url: 'https://localhost:{port}', tls: {{ cert_file: {}, key_file: {}, generate_dev_certificate: true }}{server_extra} }}",
            cert.display(),
            key.display()
        ),
    )
}

/// One sample from the admin listener of a separate process.
async fn scrape_metric(admin: SocketAddr, series: &str) -> f64 {
    let (status, _, body) = harness::admin_get(admin, "/metrics", None).await;
    assert_eq!(status, 200);
    body.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|r| r.trim().parse().ok()))
        .unwrap_or(0.0)
}
