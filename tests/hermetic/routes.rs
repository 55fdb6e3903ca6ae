//! The route table as clients see it, over HTTP/1.1 and HTTP/2: HEAD is answered on every GET
//! route as GET without a body (`curl -I`, load-balancer probes), a served path with a method it
//! does not answer gets 405 with `Allow`, a path nobody serves (or one the configuration turns
//! off) gets 404.

use crate::kit::attack::client_tls;
use crate::kit::certs::wait_for_certificate;
use crate::kit::config::parse;
use crate::kit::demo::{self, Served};
use crate::kit::http::{header, send, tls_sender};
use altgate::endpoint::Endpoint;
use std::net::SocketAddr;
use std::path::Path;

async fn h1(
    addr: SocketAddr,
    ca: &Path,
    method: &str,
    path: &str,
) -> (u16, Vec<(String, String)>, String) {
    send(
        tls_sender(addr, ca).await,
        method,
        path,
        "localhost",
        &[],
        Vec::new(),
    )
    .await
}

/// One HTTP/2 request (ALPN h2, verified TLS): status, `allow`, `content-length`, body bytes.
async fn h2(
    addr: SocketAddr,
    ca: &Path,
    method: &str,
    path: &str,
) -> (u16, Option<String>, Option<String>, usize) {
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let tls = tokio_rustls::TlsConnector::from(client_tls(ca, &[b"h2"]))
        .connect(
            rustls::pki_types::ServerName::try_from("localhost").expect("name"),
            tcp,
        )
        .await
        .expect("verified TLS handshake");
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (client, conn) = h2::client::handshake(tls).await.expect("h2 handshake");
    tokio::spawn(conn);
    let mut client = client.ready().await.expect("ready");
    let req = hyper::Request::builder()
        .method(method)
        .uri(format!("https://localhost{path}"))
        .body(())
        .expect("request");
    let (response, _) = client.send_request(req, true).expect("send");
    let res = response.await.expect("a response, not a stream error");
    let get = |name: &str| {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (status, allow, length) = (res.status().as_u16(), get("allow"), get("content-length"));
    let mut body = res.into_body();
    let mut n = 0;
    while let Some(chunk) = body.data().await {
        n += chunk.expect("no stream error (PROTOCOL_ERROR)").len();
    }
    (status, allow, length, n)
}

fn config(cert: &Path, key: &Path) -> altgate::config::Config {
    let mut yaml = demo::config_yaml(cert, key, "");
    yaml.push_str("passive: { update_password_page: true }\n");
    parse(&yaml)
}

#[tokio::test]
async fn head_is_get_without_a_body_on_every_get_route_over_http1_and_http2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = (dir.path().join("s.crt"), dir.path().join("s.key"));
    let config = config(&cert, &key);
    let server = Served::start(config).await;
    wait_for_certificate(&cert).await;
    let mut checked = 0;
    for e in Endpoint::ALL.iter().copied() {
        // The demo relying party is off here, and the logo is not configured (404 either way).
        if matches!(
            e,
            Endpoint::DemoHome | Endpoint::DemoWsfed | Endpoint::DemoSaml | Endpoint::Logo
        ) || !e.methods().allows("GET")
        {
            continue;
        }
        let (status, headers, body) = h1(server.addr, &cert, "GET", e.path()).await;
        let (head_status, head_headers, head_body) = h1(server.addr, &cert, "HEAD", e.path()).await;
        assert_eq!(head_status, status, "{}", e.path());
        assert!(head_body.is_empty(), "{}: HEAD sent a body", e.path());
        assert_eq!(
            header(&head_headers, "content-length"),
            Some(body.len().to_string().as_str()),
            "{}: HEAD's Content-Length is the GET body's",
            e.path()
        );
        assert_eq!(
            header(&head_headers, "content-type"),
            header(&headers, "content-type"),
            "{}",
            e.path()
        );
        let (h2_status, _, h2_length, h2_body) = h2(server.addr, &cert, "HEAD", e.path()).await;
        assert_eq!(
            (h2_status, h2_length.as_deref(), h2_body),
            (status, Some(body.len().to_string().as_str()), 0),
            "{} over HTTP/2",
            e.path()
        );
        checked += 1;
    }
    assert!(
        checked >= 6,
        "probe, /adfs/ls/, IdP-initiated, the change page, mex, metadata"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_wrong_method_gets_405_with_allow_and_an_unknown_path_404() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = (dir.path().join("s.crt"), dir.path().join("s.key"));
    let config = config(&cert, &key);
    let server = Served::start(config).await;
    wait_for_certificate(&cert).await;
    for (method, path, allow) in [
        ("DELETE", "/adfs/probe", "GET, HEAD"),
        ("GET", "/adfs/services/trust/13/usernamemixed", "POST"),
        ("HEAD", "/adfs/services/trust/2005/usernamemixed", "POST"),
        ("PUT", "/adfs/portal/updatepassword/", "GET, HEAD, POST"),
        ("PATCH", "/adfs/ls/", "GET, HEAD, POST"),
        (
            "POST",
            "/FederationMetadata/2007-06/FederationMetadata.xml",
            "GET, HEAD",
        ),
    ] {
        let (status, headers, _) = h1(server.addr, &cert, method, path).await;
        assert_eq!(
            (status, header(&headers, "allow")),
            (405, Some(allow)),
            "{method} {path}"
        );
        let (status, h2_allow, _, _) = h2(server.addr, &cert, method, path).await;
        assert_eq!(
            (status, h2_allow.as_deref()),
            (405, Some(allow)),
            "{method} {path} over HTTP/2"
        );
    }
    for path in ["/adfs/nothing", "/demo/", "/adfs/portal/logo/x", "/metrics"] {
        let (status, headers, _) = h1(server.addr, &cert, "GET", path).await;
        assert_eq!((status, header(&headers, "allow")), (404, None), "{path}");
    }
    server.stop().await;
}
