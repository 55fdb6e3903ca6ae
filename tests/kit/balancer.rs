//! A load balancer in front of the server under test, configured the usual way: it accepts
//! plain HTTP/1.1 from clients, appends what it knows of the client to `X-Forwarded-For` (after
//! whatever the client sent, as nginx's `$proxy_add_x_forwarded_for` does), passes every other
//! header through untouched (`Forwarded`, `X-MS-Forwarded-Client-IP`, `X-Request-Id`, ...), and
//! forwards each request to altgate over verified TLS from its own loopback address. Clients
//! reach it from a source address of their choice ([`LoadBalancer::request_from`]), so tests can
//! be an internet client, an internal one, or a banned one.

use super::attack;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

/// What the load balancer appends for a client.
#[derive(Debug, Clone, Copy)]
pub enum Appends {
    /// The client's address (the normal case).
    ClientAddress,
    /// A fixed token instead, as proxies write when they do not know or hide the address
    /// (`unknown`, an obfuscated `_hidden`, or garbage).
    Literal(&'static str),
}

/// A running load balancer.
pub struct LoadBalancer {
    /// Where clients reach it.
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for LoadBalancer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl LoadBalancer {
    /// A load balancer listening on `listen` (port chosen), forwarding to `upstream` (verified
    /// against `ca` as `localhost`) from its own address `own`.
    pub async fn start(
        listen: IpAddr,
        own: IpAddr,
        upstream: SocketAddr,
        ca: &Path,
        appends: Appends,
    ) -> LoadBalancer {
        let listener = tokio::net::TcpListener::bind(SocketAddr::new(listen, 0))
            .await
            .expect("bind the load balancer");
        let addr = listener.local_addr().expect("addr");
        let tls = attack::client_tls(ca, &[b"http/1.1"]);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, peer)) = listener.accept().await else {
                    continue;
                };
                let tls = tls.clone();
                tokio::spawn(async move {
                    let service =
                        hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                            let tls = tls.clone();
                            async move {
                                Ok::<_, Infallible>(
                                    forward(req, peer.ip(), own, upstream, tls, appends).await,
                                )
                            }
                        });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        LoadBalancer { addr, task }
    }

    /// One request through the load balancer from client address `src`: status, lower-cased
    /// response headers, body.
    pub async fn request_from(
        &self,
        src: IpAddr,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> (u16, Vec<(String, String)>, String) {
        let tcp = attack::tcp_from(src, self.addr)
            .await
            .expect("connect to the load balancer");
        let (sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
                .await
                .expect("http handshake");
        tokio::spawn(conn);
        super::http::send(sender, method, path, "localhost", headers, body).await
    }
}

async fn forward(
    req: hyper::Request<Incoming>,
    client: IpAddr,
    own: IpAddr,
    upstream: SocketAddr,
    tls: Arc<rustls::ClientConfig>,
    appends: Appends,
) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let appended = match appends {
        Appends::ClientAddress => client.to_string(),
        Appends::Literal(s) => s.to_string(),
    };
    let sent: Vec<&str> = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let xff = if sent.is_empty() {
        appended
    } else {
        format!("{}, {appended}", sent.join(", "))
    };
    let mut out = hyper::Request::builder()
        .method(parts.method.clone())
        .uri(parts.uri.clone());
    for (k, v) in &parts.headers {
        if k != "x-forwarded-for" && k != "connection" {
            out = out.header(k, v);
        }
    }
    let out = out
        .header("x-forwarded-for", xff)
        .body(Full::new(body))
        .expect("request");
    let failed = |why: String| {
        let mut r = hyper::Response::new(Full::new(Bytes::from(why)));
        *r.status_mut() = hyper::StatusCode::BAD_GATEWAY;
        r
    };
    let stream = match attack::tls_from(own, upstream, tls).await {
        Ok(s) => s,
        Err(e) => return failed(format!("upstream: {e}")),
    };
    let (mut sender, conn) =
        match hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await {
            Ok(x) => x,
            Err(e) => return failed(format!("upstream handshake: {e}")),
        };
    tokio::spawn(conn);
    match sender.send_request(out).await {
        Ok(res) => {
            let (parts, body) = res.into_parts();
            let body = body
                .collect()
                .await
                .map(|c| c.to_bytes())
                .unwrap_or_default();
            hyper::Response::from_parts(parts, Full::new(body))
        }
        Err(e) => failed(format!("upstream request: {e}")),
    }
}
