//! The HTTP(S) front door: rustls termination, HTTP/1.1 and HTTP/2 via hyper, graceful
//! shutdown, body limits and routing:
//!
//! - `POST /adfs/services/trust/{13,2005}/usernamemixed`: WS-Trust (bodies over
//!   `server.max_body_bytes` get 413 before parsing);
//! - `GET /adfs/services/trust/mex`: WS-MetadataExchange;
//! - `GET /FederationMetadata/2007-06/FederationMetadata.xml`: signed federation metadata;
//! - `GET /metrics` (Prometheus) and `GET /adfs/probe` (load-balancer health, as AD FS has).
//!
//! There is deliberately no endpoint that resolves a login without a password: it would
//! enumerate accounts. Paths match case-insensitively, as on AD FS (IIS).

use crate::app::{App, StartError};
use crate::config::Config;
pub mod response;

use crate::protocols::wstrust::{self, request::Version, Refusal};
use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use response::Reply;
use std::convert::Infallible;
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

/// Deadline for a client to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long shutdown waits for in-flight requests.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Builds the application from `config` and serves it on `listener` until `shutdown` resolves.
/// The binary, the tests and the benches all start altgate through this function.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), StartError> {
    let app = App::new(config)?;
    serve(app, listener, shutdown).await
}

/// Builds the TLS acceptor for `config`, generating the demo certificate if asked to.
fn acceptor(config: &Config) -> Result<Option<TlsAcceptor>, StartError> {
    let Some(tls) = &config.server.tls else {
        return Ok(None);
    };
    if tls.generate_dev_certificate {
        let host = config
            .server
            .public_url
            .trim_start_matches("https://")
            .split(['/', ':'])
            .next()
            .unwrap_or("localhost")
            .to_string();
        if crate::tls::ensure_dev_certificate(&tls.cert_file, &tls.key_file, &host)? {
            tracing::warn!(
                target: "altgate::ops",
                cert = %tls.cert_file.display(),
                "generated a self-signed development certificate; use a real one in production"
            );
        }
    }
    let server = crate::tls::server_config(&tls.cert_file, &tls.key_file)?;
    Ok(Some(TlsAcceptor::from(server)))
}

/// Serves an already-built application.
pub async fn serve(
    app: Arc<App>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), StartError> {
    let tls = acceptor(&app.config)?;
    let local = listener.local_addr()?;
    tracing::info!(
        target: "altgate::ops",
        listen = %local,
        tls = tls.is_some(),
        demo = app.config.demo_directory.is_some(),
        "altgate listening"
    );
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(s) => s,
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(target: "altgate::ops", error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let app = app.clone();
                let tls = tls.clone();
                let is_tls = tls.is_some();
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    let service = hyper::service::service_fn(move |req| {
                        let app = app.clone();
                        async move { Ok::<_, Infallible>(handle(&app, req, peer.ip(), is_tls).await) }
                    });
                    match tls {
                        Some(acceptor) => {
                            let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                                Ok(Ok(s)) => s,
                                Ok(Err(e)) => {
                                    tracing::debug!(target: "altgate::ops", error = %e, "TLS handshake failed");
                                    return;
                                }
                                Err(_) => return,
                            };
                            let conn = builder.serve_connection(TokioIo::new(stream), service);
                            let _ = watcher.watch(conn).await;
                        }
                        None => {
                            let conn = builder.serve_connection(TokioIo::new(stream), service);
                            let _ = watcher.watch(conn).await;
                        }
                    }
                });
            }
            _ = &mut shutdown => break,
        }
    }
    tracing::info!(target: "altgate::ops", "shutting down; draining connections");
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown()).await;
    Ok(())
}

/// Reads a body of at most `limit` bytes; `None` when it is larger (or the read fails).
async fn read_body(req: Request<Incoming>, limit: usize) -> Option<Bytes> {
    let declared = req
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return None;
    }
    Limited::new(req.into_body(), limit)
        .collect()
        .await
        .ok()
        .map(|c| c.to_bytes())
}

async fn wstrust_endpoint(
    app: &App,
    req: Request<Incoming>,
    version: Version,
    ip: IpAddr,
) -> Reply {
    let is_soap = req
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim()
                .to_ascii_lowercase()
                .starts_with("application/soap+xml")
        });
    let wstrust = app.wstrust();
    let Some(body) = read_body(req, app.config.server.max_body_bytes).await else {
        return response::soap(wstrust.refuse(version, Refusal::BodyTooLarge));
    };
    if !is_soap {
        return response::soap(wstrust.refuse(version, Refusal::ContentType));
    }
    response::soap(wstrust.handle(version, &body, ip).await)
}

fn metadata(app: &App) -> Reply {
    if let Some(doc) = app.metadata.get() {
        return response::xml(doc.clone());
    }
    match crate::protocols::metadata::document(
        &app.config.server.public_url,
        &app.config.federation.issuer,
        app.tokens.signing(),
    ) {
        Ok(doc) => response::xml(app.metadata.get_or_init(|| doc).clone()),
        Err(e) => {
            tracing::error!(target: "altgate::ops", error = %e, "cannot build federation metadata");
            response::text(StatusCode::SERVICE_UNAVAILABLE, "metadata unavailable\n")
        }
    }
}

async fn ls_endpoint(
    app: &App,
    req: Request<Incoming>,
    ip: IpAddr,
    tls: bool,
    idp_initiated: bool,
) -> Reply {
    let header = |name: hyper::header::HeaderName| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    // HTTP/2 clients send each cookie as its own header field: join them all.
    let cookie_header = {
        let all: Vec<&str> = req
            .headers()
            .get_all(hyper::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        (!all.is_empty()).then(|| all.join("; "))
    };
    let accept_language = header(hyper::header::ACCEPT_LANGUAGE);
    let raw_query = req.uri().query().unwrap_or("").to_string();
    let post = req.method() == Method::POST;
    let body = if post {
        let is_form = header(hyper::header::CONTENT_TYPE).is_some_and(|v| {
            v.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
        match read_body(req, app.config.server.max_body_bytes).await {
            Some(b) if is_form => b,
            Some(_) => Bytes::new(),
            None => {
                let lang = crate::protocols::passive::page::Lang::from_accept_language(
                    accept_language.as_deref(),
                );
                let body = crate::protocols::passive::page::error(
                    lang,
                    crate::protocols::passive::page::ErrorKind::BadRequest,
                );
                let r = crate::protocols::passive::LsResponse {
                    status: 413,
                    body,
                    set_cookies: Vec::new(),
                    form_target: None,
                    location: None,
                };
                return response::page(r, tls);
            }
        }
    } else {
        Bytes::new()
    };
    let ls = crate::protocols::passive::LsRequest {
        post,
        raw_query: &raw_query,
        body: &body,
        cookie_header: cookie_header.as_deref(),
        accept_language: accept_language.as_deref(),
        client_ip: ip,
        idp_initiated,
    };
    response::page(crate::protocols::passive::handle(app, &ls).await, tls)
}

/// Routes one request. Endpoint labels are fixed strings, never the request path.
async fn handle(app: &App, req: Request<Incoming>, ip: IpAddr, tls: bool) -> Reply {
    let start = Instant::now();
    let path = req.uri().path().to_ascii_lowercase();
    let method = req.method().clone();
    let (endpoint, res) = match (method, path.as_str()) {
        (Method::POST, "/adfs/services/trust/13/usernamemixed") => (
            "wstrust_13",
            wstrust_endpoint(app, req, Version::Trust13, ip).await,
        ),
        (Method::POST, "/adfs/services/trust/2005/usernamemixed") => (
            "wstrust_2005",
            wstrust_endpoint(app, req, Version::Trust2005, ip).await,
        ),
        (Method::GET | Method::POST, "/adfs/ls/" | "/adfs/ls") => {
            ("ls", ls_endpoint(app, req, ip, tls, false).await)
        }
        (Method::GET | Method::POST, "/adfs/ls/idpinitiatedsignon.aspx") => {
            ("idp_initiated", ls_endpoint(app, req, ip, tls, true).await)
        }
        (Method::GET, "/adfs/services/trust/mex") => (
            "mex",
            response::xml(wstrust::mex::document(&app.config.server.public_url)),
        ),
        (Method::GET, "/federationmetadata/2007-06/federationmetadata.xml") => {
            ("federation_metadata", metadata(app))
        }
        (Method::GET, "/metrics") => (
            "metrics",
            response::respond(
                StatusCode::OK,
                "text/plain; version=0.0.4; charset=utf-8",
                app.metrics.render(),
            ),
        ),
        (Method::GET, "/adfs/probe") => ("probe", response::text(StatusCode::OK, "OK")),
        (
            _,
            "/metrics"
            | "/adfs/probe"
            | "/adfs/ls/"
            | "/adfs/ls"
            | "/adfs/ls/idpinitiatedsignon.aspx"
            | "/adfs/services/trust/mex"
            | "/adfs/services/trust/13/usernamemixed"
            | "/adfs/services/trust/2005/usernamemixed"
            | "/federationmetadata/2007-06/federationmetadata.xml",
        ) => ("method_not_allowed", response::method_not_allowed()),
        _ => ("not_found", response::not_found()),
    };
    app.metrics
        .http
        .requests
        .with_label_values(&[endpoint, res.status().as_str()])
        .inc();
    app.metrics
        .http
        .duration
        .with_label_values(&[endpoint])
        .observe(start.elapsed().as_secs_f64());
    res
}
