//! The HTTPS server over the real forests: `serve` on port 0 with a generated certificate,
//! verified by a rustls client; `/metrics` after real resolutions on the admin listener only
//! (with its bearer token), `/adfs/probe`, unknown paths and methods. (`run` from a demo-mode
//! configuration is `tests/hermetic/server.rs`.)

use crate::harness::{self, metric};
use hyper::{Method, StatusCode};
use std::net::SocketAddr;
use std::path::Path;

async fn get(addr: SocketAddr, ca: &Path, method: Method, path: &str) -> (StatusCode, String) {
    let (status, body) = harness::https(addr, ca, method.as_str(), path, None, Vec::new()).await;
    (StatusCode::from_u16(status).expect("status"), body)
}

#[tokio::test]
async fn serves_probe_publicly_and_metrics_only_on_the_admin_listener_and_shuts_down() {
    let _g = harness::shared().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cert = dir.path().join("server.crt");
    let key = dir.path().join("server.key");
    let token = harness::secret_file("admin-token", "s3cret-scrape-token");
    let admin_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind admin");
    let admin = admin_listener.local_addr().expect("admin addr");
    let yaml = harness::both_forests_yaml(&format!(
        "cache: {{ max_entries: 100 }}\nadmin: {{ listen: '{admin}', bearer_token_file: '{}' }}\n",
        token.display()
    ))
    .replace(
        "server: { listen: 127.0.0.1:0, public_url: https://sts.altgate.test }",
        &format!(
            "server: {{ listen: 127.0.0.1:0, public_url: https://sts.altgate.test, tls: {{ cert_file: {}, key_file: {}, generate_dev_certificate: true }} }}",
            cert.display(),
            key.display()
        ),
    );
    let app = harness::app(&yaml);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(altgate::http::serve_with_admin(
        app.clone(),
        listener,
        Some(admin_listener),
        async {
            let _ = stopped.await;
        },
    ));

    // Real resolutions, then the scrape shows them.
    app.resolver.resolve("jdoe@contoso.com").await;
    app.resolver.resolve("cross@example.com").await;
    app.resolver.resolve("nomail@corp.contoso.local").await;

    // The certificate was generated on start; wait for the listener task to have done so.
    harness::wait_for_certificate(&cert).await;
    // The public port has no /metrics: counters there would tell an attacker whether a guessed
    // account exists.
    let (status, body) = get(addr, &cert, Method::GET, "/metrics").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!body.contains("altgate_"));
    // The admin listener wants its token.
    let (status, _, _) = harness::admin_get(admin, "/metrics", None).await;
    assert_eq!(status, 401);
    let (status, _, _) = harness::admin_get(admin, "/metrics", Some("wrong-token")).await;
    assert_eq!(status, 401);
    let (status, _, body) =
        harness::admin_get(admin, "/metrics", Some("s3cret-scrape-token")).await;
    assert_eq!(status, 200);
    for needle in [
        "altgate_build_info{",
        "altgate_login_resolutions_total{outcome=\"resolved\",via=\"alternate_login_id\"} 1",
        "altgate_login_resolutions_total{outcome=\"resolved\",via=\"upn\"} 1",
        "altgate_login_resolutions_total{outcome=\"ambiguous\",via=\"none\"} 1",
        "altgate_msis_events_total{code=\"MSIS8014\"} 1",
        "altgate_directory_search_duration_seconds_bucket{forest=\"contoso.com\",query=\"alternate_login_id\"",
        "altgate_directory_search_duration_seconds_bucket{forest=\"fabrikam.com\",query=\"alternate_login_id\"",
        "altgate_forest_up{forest=\"contoso.com\"} 1",
        "altgate_forest_up{forest=\"fabrikam.com\"} 1",
        "altgate_cache_requests_total{result=\"miss\"} 3",
        "altgate_ldap_pool_connections{forest=\"contoso.com\"",
    ] {
        assert!(body.contains(needle), "{needle} missing from /metrics:\n{body}");
    }
    let (status, body) = get(addr, &cert, Method::GET, "/adfs/probe").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "OK"));
    let (status, _) = get(addr, &cert, Method::GET, "/adfs/oauth2/token").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Without a token-signing key the sign-in endpoint refuses, and nothing about the login
    // leaks back.
    let (status, body) = get(addr, &cert, Method::GET, "/adfs/ls/?login=jdoe@contoso.com").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(!body.contains("jdoe"));
    let (status, _) = get(addr, &cert, Method::POST, "/adfs/probe").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        metric(
            &app.metrics,
            "altgate_http_requests_total{endpoint=\"not_found\",status=\"404\"}"
        ),
        2.0
    );

    stop.send(()).expect("stop");
    server.await.expect("join").expect("clean shutdown");
}
