//! Connection discipline: what one client connection may cost altgate. Every connection holds
//! a slot under the global cap and under its address's cap ([`Admission`]; an IPv6 address
//! counts by its /64, trusted proxies are exempt). At a cap a new connection does not find the
//! door shut while others idle: of the connections with no request in flight, the one idle
//! longest (since its last request, or since it connected if it has made none) is asked to
//! close gracefully and the new one takes its slot; only when every connection has a request
//! in flight is the new one refused.
//!
//! Deadlines: a new connection must finish TLS within its deadline and begin its first request
//! within the first-request deadline of the TCP accept (and its head within the header-read
//! deadline of the end of TLS); hyper enforces the HTTP/1 header-read deadline and the HTTP/2
//! stream and window limits; and a watchdog closes a connection with no request in flight once
//! it has moved no bytes for the idle timeout, or has begun no request by its first-request
//! deadline, or none for the longer of the idle and header-read deadlines since its last one,
//! whatever bytes it moves meanwhile: a dribbled HTTP/2 preface or partial frame, or keep-alive
//! pings, hold nothing. Between requests the idle timeout holds, not the short first-request
//! deadline, so a browser keeping its connection while a user types a password is not cut off;
//! under pressure its slot is reclaimable all the same. A connection asked to close gets a
//! grace period.
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
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{watch, AcquireError, Notify, OwnedSemaphorePermit, Semaphore};
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
        /// `server.limits.max_connections` are open and none can make room: each has a request
        /// in flight, or a quarter as many again are still closing after making room.
        MaxConnections = "max_connections",
        /// `server.limits.max_connections_per_ip` are open from this address (IPv6: this /64)
        /// and none can make room: each has a request in flight.
        PerAddress = "max_connections_per_ip",
    }
}

impl Refused {
    /// Stable code (metric label).
    pub fn code(self) -> &'static str {
        self.id()
    }
}

label_set! {
    /// Which cap made an idle connection close to admit a new one.
    pub enum Evicted: kinds::ConnectionEviction {
        /// `server.limits.max_connections` were open: the connection idle longest, of those
        /// with no request in flight, was closed gracefully for a new one.
        MaxConnections = "max_connections",
        /// `server.limits.max_connections_per_ip` were open from the new connection's address
        /// (IPv6: its /64): that address's connection idle longest was closed gracefully.
        PerAddress = "max_connections_per_ip",
    }
}

/// The key a per-address cap counts a peer under: the address, IPv4-mapped IPv6 as IPv4, and
/// an IPv6 address by its /64 (one host is commonly given a whole /64 and may use any address
/// in it).
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        v4 => v4,
    }
}

/// The open-connection caps: every admitted connection in a table, counted in all and per
/// address key ([`address_key`]). At a cap the longest-idle connection with no request in
/// flight is asked to close and the new one takes its place; its slot is free at once, and it
/// counts among the *closing* connections until its task ends. At most a quarter of the
/// global cap may be closing at once (so open sockets stay within 1.25 x `max`); beyond that,
/// or with every connection busy, a new connection is refused.
pub struct Admission {
    open: Option<prometheus::IntGauge>,
    max: usize,
    per_ip_max: usize,
    closing_max: usize,
    slots: Mutex<Slots>,
    /// Connections whose task has not ended, live and closing: what shutdown waits for.
    total: watch::Sender<usize>,
}

/// The table behind [`Admission`].
#[derive(Default)]
struct Slots {
    next: u64,
    live: HashMap<u64, Slot>,
    per_key: HashMap<IpAddr, usize>,
    closing: usize,
}

/// One live connection: its address key (none for an uncapped peer) and its activity.
struct Slot {
    key: Option<IpAddr>,
    liveness: Arc<Liveness>,
}

impl Slots {
    /// The connection to close first among those `eligible`: of those with no request in
    /// flight, the one whose last request began or ended longest ago, a connection that has
    /// begun none counting from its acceptance. Pings and dribbled bytes do not make a
    /// connection younger, and the newest connections (a client still in its TLS handshake)
    /// are the last to go.
    fn idlest(&self, eligible: impl Fn(&Slot) -> bool) -> Option<u64> {
        self.live
            .iter()
            .filter(|(_, s)| eligible(s) && !s.liveness.busy())
            .min_by_key(|(id, s)| (s.liveness.last_request(), **id))
            .map(|(id, _)| *id)
    }

    /// Takes `id` out of the caps and asks it to close.
    fn evict(&mut self, id: u64) {
        if let Some(slot) = self.live.remove(&id) {
            self.uncount(slot.key);
            self.closing += 1;
            slot.liveness.evict();
        }
    }

    fn uncount(&mut self, key: Option<IpAddr>) {
        if let Some(k) = key {
            if let Some(n) = self.per_key.get_mut(&k) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    self.per_key.remove(&k);
                }
            }
        }
    }
}

/// A connection's place under the caps; released when dropped (when its task ends).
pub struct Admitted {
    admission: Arc<Admission>,
    id: u64,
    liveness: Arc<Liveness>,
}

impl Admitted {
    /// The connection's activity, which the caps read to choose whom to close.
    pub fn liveness(&self) -> &Arc<Liveness> {
        &self.liveness
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let a = &self.admission;
        {
            let mut slots = a.lock();
            match slots.live.remove(&self.id) {
                Some(slot) => slots.uncount(slot.key),
                None => slots.closing = slots.closing.saturating_sub(1),
            }
        }
        a.total.send_modify(|n| *n = n.saturating_sub(1));
        if let Some(g) = &a.open {
            g.dec();
        }
    }
}

impl Admission {
    /// Caps of `max` connections in all and `per_ip_max` per address key; `open` (when given)
    /// follows the number of open connections.
    pub fn new(max: usize, per_ip_max: usize, open: Option<prometheus::IntGauge>) -> Arc<Self> {
        Arc::new(Admission {
            open,
            max,
            per_ip_max,
            closing_max: Self::closing_max(max),
            slots: Mutex::new(Slots::default()),
            total: watch::Sender::new(0),
        })
    }

    /// How many connections may still be closing, after making room, with `max` open: a
    /// quarter of it (at least one).
    pub fn closing_max(max: usize) -> usize {
        (max / 4).max(1)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Admits a connection from `peer` (`capped` is false for trusted proxies, which skip the
    /// per-address cap), making room at a cap by asking an idle connection to close: which cap
    /// did, if one had to.
    pub fn admit(
        self: &Arc<Self>,
        peer: IpAddr,
        capped: bool,
    ) -> Result<(Admitted, Option<Evicted>), Refused> {
        let key = capped.then(|| address_key(peer));
        let liveness = Liveness::new();
        let mut evicted = None;
        let id = {
            let mut slots = self.lock();
            if let Some(k) = key {
                if slots.per_key.get(&k).copied().unwrap_or(0) >= self.per_ip_max {
                    let victim = (slots.closing < self.closing_max)
                        .then(|| slots.idlest(|s| s.key == Some(k)))
                        .flatten()
                        .ok_or(Refused::PerAddress)?;
                    slots.evict(victim);
                    evicted = Some(Evicted::PerAddress);
                }
            }
            if slots.live.len() >= self.max {
                let victim = (slots.closing < self.closing_max)
                    .then(|| slots.idlest(|_| true))
                    .flatten()
                    .ok_or(Refused::MaxConnections)?;
                slots.evict(victim);
                evicted = Some(Evicted::MaxConnections);
            }
            let id = slots.next;
            slots.next += 1;
            slots.live.insert(
                id,
                Slot {
                    key,
                    liveness: liveness.clone(),
                },
            );
            if let Some(k) = key {
                *slots.per_key.entry(k).or_insert(0) += 1;
            }
            id
        };
        self.total.send_modify(|n| *n += 1);
        if let Some(g) = &self.open {
            g.inc();
        }
        Ok((
            Admitted {
                admission: self.clone(),
                id,
                liveness,
            },
            evicted,
        ))
    }

    /// Resolves once every admitted connection's task has ended.
    pub async fn drained(&self) {
        let _ = self.total.subscribe().wait_for(|n| *n == 0).await;
    }

    /// Connections open now (closing ones included).
    pub fn open(&self) -> usize {
        *self.total.borrow()
    }

    /// Connections asked to close to make room whose task has not ended yet.
    pub fn closing(&self) -> usize {
        self.lock().closing
    }
}

/// When a connection was accepted, finished TLS, last moved bytes, and last began or ended a
/// request; how many requests it has in flight; and whether a cap has asked it to close.
#[derive(Debug)]
pub struct Liveness {
    origin: Instant,
    ready_ms: AtomicU64,
    last_ms: AtomicU64,
    request_ms: AtomicU64,
    requests: AtomicU64,
    in_flight: AtomicUsize,
    evicted: AtomicBool,
    evict: Notify,
}

impl Liveness {
    /// A connection accepted now.
    pub fn new() -> Arc<Self> {
        Arc::new(Liveness {
            origin: Instant::now(),
            ready_ms: AtomicU64::new(0),
            last_ms: AtomicU64::new(0),
            request_ms: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            evicted: AtomicBool::new(false),
            evict: Notify::new(),
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

    /// When the connection was accepted.
    pub fn accepted(&self) -> Instant {
        self.origin
    }

    /// Records that the connection finished its TLS handshake (a plain connection is ready
    /// when accepted).
    pub fn ready(&self) {
        self.ready_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    /// When the connection last moved bytes or began or finished a request.
    pub fn last(&self) -> Instant {
        self.origin + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }

    /// When a request last began or finished (the connection's acceptance before any).
    pub fn last_request(&self) -> Instant {
        self.origin + Duration::from_millis(self.request_ms.load(Ordering::Relaxed))
    }

    /// True once a request has begun on the connection.
    pub fn has_requested(&self) -> bool {
        self.requests.load(Ordering::Relaxed) > 0
    }

    /// When the first request is due: `first_request` after the connection was accepted (TLS
    /// included), and at the latest `header_read` after TLS finished.
    pub fn first_request_deadline(
        &self,
        first_request: Duration,
        header_read: Duration,
    ) -> Instant {
        let ready = self.origin + Duration::from_millis(self.ready_ms.load(Ordering::Relaxed));
        (self.origin + first_request).min(ready + header_read)
    }

    /// When the connection is due to close unless a request is then in flight: `idle` after
    /// its last byte, and in any case at [`Self::first_request_deadline`] when it has begun no
    /// request yet, or the longer of `idle` and `header_read` after its last request began or
    /// ended.
    pub fn idle_deadline(&self, limits: &Limits) -> Instant {
        let (idle, header_read) = (limits.idle_timeout, limits.header_read_timeout);
        let by_request = if self.has_requested() {
            self.last_request() + idle.max(header_read)
        } else {
            self.first_request_deadline(limits.first_request_timeout, header_read)
        };
        (self.last() + idle).min(by_request)
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

    /// Asks the connection to close (a cap needs its slot).
    fn evict(&self) {
        self.evicted.store(true, Ordering::Relaxed);
        self.evict.notify_one();
    }

    /// True once a cap has asked the connection to close.
    pub fn is_evicted(&self) -> bool {
        self.evicted.load(Ordering::Relaxed)
    }

    /// Resolves once a cap asks the connection to close (at once if it already has).
    pub async fn evicted(&self) {
        if !self.is_evicted() {
            self.evict.notified().await;
        }
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
mod tests;
