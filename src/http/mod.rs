//! The HTTP(S) front door: rustls termination, HTTP/1.1 and HTTP/2 via hyper, connection
//! discipline ([`conn`]), graceful shutdown, and two listeners:
//!
//! - the public one ([`router`]): `POST /adfs/services/trust/{13,2005}/usernamemixed`
//!   (WS-Trust), `GET /adfs/services/trust/mex`, `GET|POST /adfs/ls/` and
//!   `/adfs/ls/IdpInitiatedSignOn.aspx` (WS-Federation and SAML 2.0 in a browser),
//!   `GET /FederationMetadata/2007-06/FederationMetadata.xml` and `GET /adfs/probe`
//!   (load-balancer health, as AD FS has);
//! - the admin one ([`admin`], `admin.listen`): `/metrics`, `/ready`, `/health`, the
//!   account-activity API and the reload call.
//!
//! What they serve is [`live::Live`]: the application and TLS configurations a reload swaps.
//!
//! Every reply is rendered by [`response`]. There is deliberately no endpoint that resolves a
//! login without a password: it would enumerate accounts. Paths match case-insensitively, as on
//! AD FS (IIS).

pub mod activity;
pub mod admin;
pub mod client_ip;
pub mod conn;
pub mod live;
pub mod response;
pub mod rollover;
pub mod router;

use crate::app::{App, StartError};
use crate::config::edge::Limits;
use crate::config::Config;
use conn::{Admission, Admitted, Tracked};
use hyper::body::Incoming;
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use response::Reply;
use std::convert::Infallible;
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

/// How long shutdown waits for in-flight requests.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// File descriptors kept free for LDAP, Redis, logs and the listeners themselves.
const FD_RESERVE: u64 = 256;
/// Connections the admin listener accepts at once.
const ADMIN_MAX_CONNECTIONS: usize = 64;
/// How often the idle watchdog looks again at a connection whose deadline passed while a
/// request was in flight.
const BUSY_RECHECK: Duration = Duration::from_secs(1);
/// How long a connection asked to close to make room may take to finish: enough for a live
/// client's HTTP/2 GOAWAY and PING round trip, while one that never answers holds its socket
/// briefly. A request that began meanwhile gets [`conn::CLOSE_GRACE`] in all.
const EVICT_GRACE: Duration = Duration::from_secs(1);

/// Builds the application from `config` and serves it on `listener` (and on `admin.listen`
/// when configured) until `shutdown` resolves. The binary, the tests and the benches all start
/// altgate through this function.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), StartError> {
    let app = App::new(config)?;
    serve(app, listener, shutdown).await
}

/// Serves an already-built application, binding the admin listener from its configuration.
pub async fn serve(
    app: Arc<App>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), StartError> {
    let admin = match &app.config.admin {
        Some(a) => Some(TcpListener::bind(a.listen).await?),
        None => None,
    };
    serve_with_admin(app, listener, admin, shutdown).await
}

/// Which router a listener feeds.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Public,
    Admin,
}

/// Serves an already-built application on `public`, and `/metrics` on `admin` when given.
pub async fn serve_with_admin(
    app: Arc<App>,
    public: TcpListener,
    admin: Option<TcpListener>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), StartError> {
    let live = live::Live::new(app, None)?;
    serve_live(live, public, admin, shutdown).await
}

/// Serves the live service (reloadable, [`live::Live`]) on `public`, and the admin endpoints
/// on `admin` when given, until `shutdown` resolves; then drains the connections.
pub async fn serve_live(
    live: Arc<live::Live>,
    public: TcpListener,
    admin: Option<TcpListener>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), StartError> {
    let app = live.app();
    let limits = effective_limits(&app.config.server.limits);
    tracing::info!(
        target: "altgate::ops",
        listen = %public.local_addr()?,
        admin = ?admin.as_ref().and_then(|a| a.local_addr().ok()),
        tls = live.public_tls().is_some(),
        demo = app.config.demo_directory.is_some(),
        max_connections = limits.max_connections,
        "altgate listening"
    );
    // Extranet lockout against AD's own lockout policy, without delaying start-up.
    let checked = app.clone();
    tokio::spawn(async move {
        checked.check_ad_lockout_policies().await;
    });
    // A service reading its configuration from a file rolls its signing keys over itself when
    // configured to.
    let rollover = live
        .file()
        .is_some()
        .then(|| tokio::spawn(rollover::run(live.clone())));
    let (stop_tx, stop_rx) = watch::channel(false);
    let public_admission = Admission::new(
        limits.max_connections,
        limits.max_connections_per_ip,
        Some(app.metrics.http.open_connections.clone()),
    );
    drop(app);
    let admin_admission = Admission::new(ADMIN_MAX_CONNECTIONS, ADMIN_MAX_CONNECTIONS, None);
    let public_loop = accept_loop(
        live.clone(),
        public,
        limits.clone(),
        public_admission.clone(),
        Side::Public,
        stop_rx.clone(),
    );
    let admin_loop = async {
        match admin {
            Some(l) => {
                accept_loop(
                    live.clone(),
                    l,
                    limits.clone(),
                    admin_admission.clone(),
                    Side::Admin,
                    stop_rx.clone(),
                )
                .await
            }
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = public_loop => {}
        _ = admin_loop => {}
        _ = shutdown => {}
    }
    tracing::info!(target: "altgate::ops", "shutting down; draining connections");
    live.stop();
    if let Some(task) = rollover {
        task.abort();
    }
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, public_admission.drained()).await;
    Ok(())
}

/// The configured limits, with `max_connections` lowered to what the file-descriptor limit
/// allows (after raising the soft limit as far as the hard one): the cap and the connections
/// still closing after making room ([`Admission::closing_max`]) must fit.
fn effective_limits(limits: &Limits) -> Limits {
    let mut l = limits.clone();
    if let Some(nofile) = conn::raise_fd_limit() {
        let fit = usize::try_from(nofile.saturating_sub(FD_RESERVE)).unwrap_or(usize::MAX);
        let needed = l
            .max_connections
            .saturating_add(Admission::closing_max(l.max_connections));
        if needed > fit {
            tracing::warn!(
                target: "altgate::ops",
                configured = l.max_connections,
                fd_limit = nofile,
                using = fit / 5 * 4,
                "server.limits.max_connections exceeds the file-descriptor limit; lowered"
            );
            l.max_connections = (fit / 5 * 4).max(16);
        }
    }
    l
}

/// An accepted stream, TLS or not.
trait Io: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Io for T {}

async fn accept_loop(
    live: Arc<live::Live>,
    listener: TcpListener,
    limits: Limits,
    admission: Arc<Admission>,
    side: Side,
    stop: watch::Receiver<bool>,
) {
    let builder = Arc::new(conn::builder(&limits));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(target: "altgate::ops", error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let peer_ip = peer.ip();
        let app = live.app();
        let capped = side == Side::Admin
            || !client_ip::is_trusted_proxy(peer_ip, &app.config.server.trusted_proxies);
        let admitted = match admission.admit(peer_ip, capped) {
            Ok((admitted, evicted)) => {
                if let (Some(reason), Side::Public) = (evicted, side) {
                    app.metrics.http.count_evicted_connection(reason);
                }
                admitted
            }
            Err(refused) => {
                if side == Side::Public {
                    app.metrics.http.count_refused_connection(refused);
                }
                drop(stream);
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let tls = match side {
            Side::Public => live.public_tls(),
            Side::Admin => live.admin_tls(),
        };
        let task = Connection {
            live: live.clone(),
            builder: builder.clone(),
            tls,
            limits: limits.clone(),
            side,
            stop: stop.clone(),
            admitted,
        };
        tokio::spawn(task.run(stream, peer_ip));
    }
}

/// One client connection and everything it holds: the TLS configuration current at its
/// accept, for its whole life.
struct Connection {
    live: Arc<live::Live>,
    builder: Arc<Builder<TokioExecutor>>,
    tls: Option<TlsAcceptor>,
    limits: Limits,
    side: Side,
    stop: watch::Receiver<bool>,
    admitted: Admitted,
}

/// Why the watchdog closes a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Close {
    /// Its deadline passed with no request in flight.
    Idle,
    /// A cap needs its slot.
    Evicted,
    /// altgate is shutting down.
    Shutdown,
}

impl Connection {
    async fn run(self, stream: TcpStream, peer: IpAddr) {
        let is_tls = self.tls.is_some();
        let liveness = self.admitted.liveness().clone();
        let io: Box<dyn Io> = match &self.tls {
            Some(acceptor) => {
                // TLS has its own deadline, and is part of the first request's.
                let due = (liveness.accepted() + self.limits.tls_handshake_timeout)
                    .min(liveness.accepted() + self.limits.first_request_timeout);
                tokio::select! {
                    handshake = tokio::time::timeout_at(due, acceptor.accept(stream)) => match handshake {
                        Ok(Ok(s)) => {
                            liveness.ready();
                            Box::new(s)
                        }
                        Ok(Err(e)) => {
                            tracing::debug!(target: "altgate::ops", error = %e, "TLS handshake failed");
                            return;
                        }
                        Err(_) => return,
                    },
                    // Asked to make room before TLS is up: there is no one to tell.
                    _ = liveness.evicted() => return,
                }
            }
            None => Box::new(stream),
        };
        let live = self.live.clone();
        let side = self.side;
        let request_timeout = self.limits.request_timeout;
        let act = liveness.clone();
        let max_body = live.app().config.server.max_body_bytes;
        let budget = conn::body_budget(max_body);
        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
            // Each request runs on the application current at its start.
            let app = live.app();
            let live = live.clone();
            let in_flight = act.request();
            let budget = budget.clone();
            async move {
                // Known before the deadline starts, so even the timeout reply carries its
                // activity ID.
                let ctx = (side == Side::Public)
                    .then(|| router::request_context(&app, peer, req.headers(), is_tls));
                let reply = tokio::time::timeout(request_timeout, async {
                    match &ctx {
                        Some(ctx) => {
                            let req = req.map(|b| conn::Body::new(b, budget, max_body));
                            router::handle(&app, req, ctx).await
                        }
                        None => admin::handle(&live, &app, req, peer).await,
                    }
                })
                .await
                .unwrap_or_else(|_| {
                    let id = ctx.as_ref().map_or("", |c| c.activity_id.as_str());
                    tracing::warn!(target: "altgate::ops", activity_id = id, timeout = ?request_timeout, "request timed out");
                    let mut res = response::text(
                        hyper::StatusCode::SERVICE_UNAVAILABLE,
                        "request timed out\n",
                    );
                    if ctx.is_some() {
                        response::set_activity_id(&mut res, id);
                    }
                    res
                });
                drop(in_flight);
                Ok::<Reply, Infallible>(reply)
            }
        });
        let conn = self
            .builder
            .serve_connection(TokioIo::new(Tracked::new(io, liveness.clone())), service);
        tokio::pin!(conn);
        let mut stop = self.stop.clone();
        let closing = loop {
            let due = liveness.idle_deadline(&self.limits);
            let now = tokio::time::Instant::now();
            if due <= now && !liveness.busy() {
                break Close::Idle;
            }
            // A request in flight past the deadline has its own (body, request) deadlines;
            // look again later rather than spin.
            let wake = if due > now { due } else { now + BUSY_RECHECK };
            tokio::select! {
                _ = conn.as_mut() => return,
                _ = tokio::time::sleep_until(wake) => {}
                _ = liveness.evicted() => break Close::Evicted,
                changed = stop.changed() => {
                    if changed.is_err() || *stop.borrow() {
                        break Close::Shutdown;
                    }
                }
            }
        };
        tracing::trace!(target: "altgate::ops", reason = ?closing, "closing connection");
        // HTTP/2 GOAWAY, or HTTP/1 closing after the response in progress (at once when idle).
        conn.as_mut().graceful_shutdown();
        let closing_at = tokio::time::Instant::now();
        let grace = match closing {
            Close::Evicted => EVICT_GRACE,
            Close::Idle | Close::Shutdown => conn::CLOSE_GRACE,
        };
        let done = tokio::time::timeout(grace, conn.as_mut()).await;
        // A request that began as the connection was asked to make room still gets the
        // ordinary grace.
        if done.is_err() && grace < conn::CLOSE_GRACE && liveness.busy() {
            let _ = tokio::time::timeout_at(closing_at + conn::CLOSE_GRACE, conn.as_mut()).await;
        }
    }
}
