//! HTTP/1.1 clients for the server under test: over TLS verified against the server's own
//! certificate (as `localhost`, from 127.0.0.1 or a chosen source address), and plain HTTP for
//! the admin listener and local test services. Each returns the status, the response headers
//! (names lower-cased) and the body as text.

use super::attack;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

/// One HTTPS/1.1 request to `addr`, verifying the server against `ca` as `localhost`.
pub async fn https(
    addr: std::net::SocketAddr,
    ca: &Path,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (u16, String) {
    let headers: Vec<(&str, &str)> = content_type
        .map(|ct| ("content-type", ct))
        .into_iter()
        .collect();
    let (status, _, body) = send(
        tls_sender(addr, ca).await,
        method,
        path,
        "localhost",
        &headers,
        body,
    )
    .await;
    (status, body)
}

/// The `name=value` of a `Set-Cookie` header named `name`.
pub fn set_cookie(headers: &[(String, String)], name: &str) -> Option<String> {
    headers
        .iter()
        .filter(|(k, _)| k == "set-cookie")
        .filter_map(|(_, v)| v.split(';').next())
        .find(|c| c.starts_with(&format!("{name}=")) && !c.ends_with('='))
        .map(str::to_string)
}

/// A browser-like HTTPS request (form bodies, cookies, no redirect following).
pub async fn browse(
    addr: std::net::SocketAddr,
    ca: &Path,
    method: &str,
    path: &str,
    cookie: &str,
    body: Option<Vec<u8>>,
) -> (u16, Vec<(String, String)>, String) {
    let mut headers = vec![("accept-language", "en-US")];
    if !cookie.is_empty() {
        headers.push(("cookie", cookie));
    }
    if body.is_some() {
        headers.push(("content-type", "application/x-www-form-urlencoded"));
    }
    let sender = tls_sender(addr, ca).await;
    send(
        sender,
        method,
        path,
        "localhost",
        &headers,
        body.unwrap_or_default(),
    )
    .await
}

/// `GET path` on an admin listener (plain HTTP), with `Authorization: Bearer token` if given.
pub async fn admin_get(
    addr: std::net::SocketAddr,
    path: &str,
    token: Option<&str>,
) -> (u16, Vec<(String, String)>, String) {
    admin_request(addr, "GET", path, token).await
}

/// `method path` on an admin listener (plain HTTP), with `Authorization: Bearer token` if
/// given.
pub async fn admin_request(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
) -> (u16, Vec<(String, String)>, String) {
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
        .await
        .expect("http handshake");
    tokio::spawn(conn);
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth
        .as_deref()
        .map(|a| ("authorization", a))
        .into_iter()
        .collect();
    send(sender, method, path, "localhost", &headers, Vec::new()).await
}

/// A plain-HTTP request to a local test service (the SAML SP): status, lower-cased headers, body.
pub async fn http_plain(
    port: u16,
    method: &str,
    path: &str,
    form_body: Option<Vec<u8>>,
) -> (u16, Vec<(String, String)>, String) {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let (sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
        .await
        .expect("http handshake");
    tokio::spawn(conn);
    let headers: Vec<(&str, &str)> = form_body
        .as_ref()
        .map(|_| ("content-type", "application/x-www-form-urlencoded"))
        .into_iter()
        .collect();
    let host = format!("localhost:{port}");
    send(
        sender,
        method,
        path,
        &host,
        &headers,
        form_body.unwrap_or_default(),
    )
    .await
}

/// Sends one request on `sender`: status, lower-cased response headers, body.
pub async fn send(
    mut sender: hyper::client::conn::http1::SendRequest<http_body_util::Full<bytes::Bytes>>,
    method: &str,
    path: &str,
    host: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (u16, Vec<(String, String)>, String) {
    use http_body_util::{BodyExt, Full};
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", host);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req
        .body(Full::new(bytes::Bytes::from(body)))
        .expect("request");
    let res = sender.send_request(req).await.expect("response");
    let status = res.status().as_u16();
    let headers = res
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                v.to_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let body = res.into_body().collect().await.expect("body").to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// An HTTP/1.1 connection to `addr` over TLS verified against `ca` for the name `localhost`.
pub async fn tls_sender(
    addr: std::net::SocketAddr,
    ca: &Path,
) -> hyper::client::conn::http1::SendRequest<http_body_util::Full<bytes::Bytes>> {
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let tls = tokio_rustls::TlsConnector::from(attack::client_tls(ca, &[]))
        .connect(
            rustls::pki_types::ServerName::try_from("localhost").expect("name"),
            tcp,
        )
        .await
        .expect("verified TLS handshake");
    let (sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
        .await
        .expect("http handshake");
    tokio::spawn(conn);
    sender
}

/// One HTTPS/1.1 request from source address `src` (a verified TLS connection of its own):
/// status, lower-cased headers, body.
pub async fn request_from(
    src: IpAddr,
    addr: SocketAddr,
    ca: &Path,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (u16, Vec<(String, String)>, String) {
    let tls = attack::tls_from(src, addr, attack::client_tls(ca, &[b"http/1.1"]))
        .await
        .expect("verified TLS handshake");
    let (sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
        .await
        .expect("http handshake");
    tokio::spawn(conn);
    send(sender, method, path, "localhost", headers, body).await
}

/// The value of the (lower-case) header `name`, if the response has one.
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}
