//! Connection discipline: what one client connection may cost altgate. Every connection holds
//! a permit of the global cap and of its address's cap (trusted proxies excepted); TLS must
//! finish within its deadline; hyper enforces the HTTP/1 header-read deadline and the HTTP/2
//! stream and window limits; and a watchdog closes a connection with no request in flight once
//! it has moved no bytes for the idle timeout, or has begun no request for the header-read
//! deadline (before its first request) or the longer of the two (between requests), whatever
//! bytes it moves meanwhile: a dribbled HTTP/2 preface or partial frame, or keep-alive pings,
//! hold nothing. A connection asked to close gets a grace period.
//!
//! Request bodies are read through [`Body`], under a per-connection budget of
//! `server.max_body_bytes`: a body is not polled until its declared length (or the maximum)
//! fits in the budget, and hyper returns HTTP/2 flow-control credit only for polled data. So an
//! HTTP/2 connection makes altgate hold at most one budget of bodies being read plus one
//! connection window of unread data, however many streams it opens; without the budget every
//! stream could push `max_body_bytes`. With the body-read and request deadlines in the router,
//! nothing a slow or stalled client does keeps memory or a file descriptor beyond these bounds.

use crate::config::edge::Limits;
use crate::label::{kinds, label_set};
use bytes::Bytes;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{AcquireError, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// How long a connection asked to close (idle, or shutting down) may take to finish.
pub const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// The hyper connection builder with altgate's limits.
pub fn builder(limits: &Limits) -> Builder<TokioExecutor> {
    let mut b = Builder::new(TokioExecutor::new());
    b.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192))
        .keep_alive(true);
    b.http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.http2_max_concurrent_streams)
        .initial_stream_window_size(limits.http2_stream_window_bytes)
        .initial_connection_window_size(limits.http2_connection_window_bytes)
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
        .max_pending_accept_reset_streams(Some(32))
        .max_local_error_reset_streams(Some(64))
        .max_send_buf_size(256 * 1024)
        .keep_alive_interval(Some(limits.idle_timeout))
        .keep_alive_timeout(limits.header_read_timeout);
    b
}

label_set! {
    /// Why a connection was not admitted.
    pub enum Refused: kinds::ConnectionRefusal {
        /// `server.limits.max_connections` are open.
        MaxConnections = "max_connections",
        /// `server.limits.max_connections_per_ip` are open from this address.
        PerAddress = "max_connections_per_ip",
    }
}

impl Refused {
    /// Stable code (metric label).
    pub fn code(self) -> &'static str {
        self.id()
    }
}

/// The open-connection caps: a global semaphore and a count per peer address.
pub struct Admission {
    open: Option<prometheus::IntGauge>,
    global: Arc<Semaphore>,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    per_ip_max: usize,
}

/// A connection's place under the caps; released on drop.
pub struct Admitted {
    _global: OwnedSemaphorePermit,
    open: Option<prometheus::IntGauge>,
    per_ip: Option<(Arc<Admission>, IpAddr)>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        if let Some(g) = &self.open {
            g.dec();
        }
        if let Some((admission, ip)) = self.per_ip.take() {
            if let Ok(mut map) = admission.per_ip.lock() {
                if let Some(n) = map.get_mut(&ip) {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        map.remove(&ip);
                    }
                }
            }
        }
    }
}

impl Admission {
    /// Caps of `max` connections in all and `per_ip_max` per address; `open` (when given)
    /// follows the number of open connections.
    pub fn new(max: usize, per_ip_max: usize, open: Option<prometheus::IntGauge>) -> Arc<Self> {
        Arc::new(Admission {
            open,
            global: Arc::new(Semaphore::new(max)),
            per_ip: Mutex::new(HashMap::new()),
            per_ip_max,
        })
    }

    /// Admits a connection from `peer`; `capped` is false for trusted proxies.
    pub fn admit(self: &Arc<Self>, peer: IpAddr, capped: bool) -> Result<Admitted, Refused> {
        let global = self
            .global
            .clone()
            .try_acquire_owned()
            .map_err(|_| Refused::MaxConnections)?;
        let per_ip = if capped {
            let mut map = self.per_ip.lock().map_err(|_| Refused::PerAddress)?;
            let n = map.entry(peer).or_insert(0);
            if *n >= self.per_ip_max {
                return Err(Refused::PerAddress);
            }
            *n += 1;
            Some((self.clone(), peer))
        } else {
            None
        };
        if let Some(g) = &self.open {
            g.inc();
        }
        Ok(Admitted {
            _global: global,
            open: self.open.clone(),
            per_ip,
        })
    }

    /// Resolves once every one of `max` permits is back (all connections closed).
    pub async fn drained(&self, max: u32) {
        let _ = self.global.acquire_many(max).await;
    }

    /// Connections open now.
    pub fn open(&self, max: usize) -> usize {
        max.saturating_sub(self.global.available_permits())
    }
}

/// When a connection last moved bytes, when a request last began or ended on it, and how many
/// requests it has in flight.
#[derive(Debug)]
pub struct Liveness {
    origin: Instant,
    last_ms: AtomicU64,
    request_ms: AtomicU64,
    requests: AtomicU64,
    in_flight: AtomicUsize,
}

impl Liveness {
    /// A connection that is active now.
    pub fn new() -> Arc<Self> {
        Arc::new(Liveness {
            origin: Instant::now(),
            last_ms: AtomicU64::new(0),
            request_ms: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn touch(&self) {
        self.last_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    fn touch_request(&self) {
        let ms = self.now_ms();
        self.last_ms.store(ms, Ordering::Relaxed);
        self.request_ms.store(ms, Ordering::Relaxed);
    }

    /// When the connection last moved bytes or began or finished a request.
    pub fn last(&self) -> Instant {
        self.origin + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }

    /// When a request last began or finished (the connection's start before any).
    pub fn last_request(&self) -> Instant {
        self.origin + Duration::from_millis(self.request_ms.load(Ordering::Relaxed))
    }

    /// When the connection is due to close unless a request is then in flight: `idle` after
    /// its last byte, and in any case `header_read` after it started when it has begun no
    /// request yet, or the longer of the two after its last request began or ended.
    pub fn idle_deadline(&self, idle: Duration, header_read: Duration) -> Instant {
        let gap = if self.requests.load(Ordering::Relaxed) == 0 {
            header_read
        } else {
            idle.max(header_read)
        };
        (self.last() + idle).min(self.last_request() + gap)
    }

    /// True while a request is being handled.
    pub fn busy(&self) -> bool {
        self.in_flight.load(Ordering::Relaxed) > 0
    }

    /// Marks a request in flight until the guard drops.
    pub fn request(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.touch_request();
        InFlight(self.clone())
    }
}

/// A request in flight on a connection.
pub struct InFlight(Arc<Liveness>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.0.touch_request();
    }
}

/// An IO stream that records when bytes move.
pub struct Tracked<T> {
    inner: T,
    liveness: Arc<Liveness>,
}

impl<T> Tracked<T> {
    /// Wraps `inner`, recording into `liveness`.
    pub fn new(inner: T, liveness: Arc<Liveness>) -> Self {
        Tracked { inner, liveness }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Tracked<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.liveness.touch();
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Tracked<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.liveness.touch();
        }
        r
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.liveness.touch();
        }
        r
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// A connection's budget of request-body bytes being read (`server.max_body_bytes`).
pub fn body_budget(max_body_bytes: usize) -> Arc<Semaphore> {
    Arc::new(Semaphore::new(max_body_bytes))
}

/// A pending share of the budget. In a `Mutex` only so that [`Body`] is `Sync` (handlers
/// hold `&Request` across awaits); it is only ever reached through `&mut`, never locked.
type Acquiring =
    Mutex<Pin<Box<dyn Future<Output = Result<OwnedSemaphorePermit, AcquireError>> + Send>>>;

/// A request body read under its connection's budget: it is not polled (so an HTTP/2 client
/// gets no flow-control credit for it) until its share of the budget is granted, and the
/// share is returned once the body is read or dropped.
pub struct Body {
    inner: Incoming,
    budget: Arc<Semaphore>,
    want: u32,
    acquiring: Option<Acquiring>,
    permit: Option<OwnedSemaphorePermit>,
}

impl Body {
    /// Wraps `inner`, which will need its declared length (at most `max_body_bytes`, the
    /// budget's size; the maximum when undeclared) from `budget`.
    pub fn new(inner: Incoming, budget: Arc<Semaphore>, max_body_bytes: usize) -> Self {
        let want = if hyper::body::Body::is_end_stream(&inner) {
            0
        } else {
            let hint = hyper::body::Body::size_hint(&inner);
            let declared = hint
                .exact()
                .and_then(|n| usize::try_from(n).ok())
                .unwrap_or(max_body_bytes);
            declared.min(max_body_bytes)
        };
        Body {
            inner,
            budget,
            want: u32::try_from(want).unwrap_or(u32::MAX),
            acquiring: None,
            permit: None,
        }
    }
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        if this.permit.is_none() && this.want > 0 {
            let (budget, want) = (this.budget.clone(), this.want);
            let acquiring = this
                .acquiring
                .get_or_insert_with(|| Mutex::new(Box::pin(budget.acquire_many_owned(want))))
                .get_mut()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match acquiring.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                // The budget is never closed; were it, reading on unbudgeted is still bounded
                // by the router's size limit.
                Poll::Ready(permit) => {
                    this.permit = permit.ok();
                    this.acquiring = None;
                    this.want = 0;
                }
            }
        }
        let frame = Pin::new(&mut this.inner).poll_frame(cx);
        if matches!(frame, Poll::Ready(None)) {
            this.permit = None;
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Raises the soft file-descriptor limit to the hard limit and returns what it is now, so the
/// connection cap can be checked against it.
pub fn raise_fd_limit() -> Option<u64> {
    rlimit::increase_nofile_limit(u64::MAX).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_are_global_and_per_address_and_released_on_drop() {
        let a = Admission::new(3, 2, None);
        let ip1: IpAddr = [192, 0, 2, 1].into();
        let ip2: IpAddr = [192, 0, 2, 2].into();
        let c1 = a.admit(ip1, true).expect("first");
        let _c2 = a.admit(ip1, true).expect("second");
        assert_eq!(a.admit(ip1, true).err(), Some(Refused::PerAddress));
        let _c3 = a.admit(ip2, true).expect("other address");
        assert_eq!(a.admit(ip2, true).err(), Some(Refused::MaxConnections));
        assert_eq!(a.open(3), 3);
        drop(c1);
        assert_eq!(a.open(3), 2);
        let _c4 = a.admit(ip1, true).expect("a released permit is reusable");
        // Trusted proxies skip the per-address cap, never the global one.
        assert_eq!(a.admit(ip1, false).err(), Some(Refused::MaxConnections));
    }

    #[tokio::test(start_paused = true)]
    async fn bytes_without_a_request_do_not_keep_a_connection_open() {
        let (idle, header) = (Duration::from_secs(60), Duration::from_secs(10));
        let act = Liveness::new();
        let t0 = act.last();
        // Bytes dribble in every second (a slow preface, pings): the first request is still
        // due `header` after the start.
        for _ in 0..30 {
            tokio::time::advance(Duration::from_secs(1)).await;
            act.touch();
        }
        assert_eq!(act.idle_deadline(idle, header), t0 + header);
        // A silent connection closes `idle` after its last byte if that comes first.
        let quiet = Liveness::new();
        assert_eq!(
            quiet.idle_deadline(Duration::from_secs(3), header),
            quiet.last() + Duration::from_secs(3)
        );
        // After a request, the gap allowed until the next one is the longer deadline.
        let r = act.request();
        drop(r);
        let end = act.last_request();
        for _ in 0..30 {
            tokio::time::advance(Duration::from_secs(1)).await;
            act.touch();
        }
        assert_eq!(act.idle_deadline(idle, header), end + idle);
    }

    #[tokio::test(start_paused = true)]
    async fn activity_tracks_the_last_request_end() {
        let act = Liveness::new();
        let t0 = act.last();
        tokio::time::advance(Duration::from_secs(5)).await;
        {
            let _r = act.request();
            assert!(act.busy());
        }
        assert!(!act.busy());
        assert!(act.last() >= t0 + Duration::from_secs(5));
    }
}
