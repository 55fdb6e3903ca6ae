//! The HTTP(S) front door: rustls termination, HTTP/1.1 and HTTP/2 via hyper, graceful
//! shutdown, and routing. This endpoints are operational only: `/metrics` (Prometheus
//! text format) and `/adfs/probe` (load-balancer health check, as AD FS has). There is
//! deliberately no endpoint that resolves a login without a password: it would enumerate
//! accounts.

use crate::app::{App, StartError};
use crate::config::Config;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::convert::Infallible;
use std::future::Future;
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
                let (stream, _peer) = match accepted {
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
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    let service = hyper::service::service_fn(move |req| {
                        let app = app.clone();
                        async move { Ok::<_, Infallible>(handle(&app, req).await) }
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

fn respond(
    status: StatusCode,
    content_type: &str,
    body: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(body.into()));
    *res.status_mut() = status;
    let h = res.headers_mut();
    if let Ok(v) = content_type.parse() {
        h.insert(hyper::header::CONTENT_TYPE, v);
    }
    h.insert(
        hyper::header::CACHE_CONTROL,
        hyper::header::HeaderValue::from_static("no-store"),
    );
    h.insert(
        "x-content-type-options",
        hyper::header::HeaderValue::from_static("nosniff"),
    );
    res
}

/// Routes one request. Endpoint labels are fixed strings, never the request path.
async fn handle(app: &App, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let start = Instant::now();
    let (endpoint, res) = match (req.method(), req.uri().path()) {
        (&Method::GET, "/metrics") => (
            "metrics",
            respond(
                StatusCode::OK,
                "text/plain; version=0.0.4; charset=utf-8",
                app.metrics.render(),
            ),
        ),
        (&Method::GET, "/adfs/probe") => ("probe", respond(StatusCode::OK, "text/plain", "OK")),
        (_, "/metrics") | (_, "/adfs/probe") => (
            "method_not_allowed",
            respond(
                StatusCode::METHOD_NOT_ALLOWED,
                "text/plain",
                "method not allowed\n",
            ),
        ),
        _ => (
            "not_found",
            respond(StatusCode::NOT_FOUND, "text/plain", "not found\n"),
        ),
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
