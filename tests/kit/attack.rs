//! Attack clients shared by the edge integration tests (`tests/it/edge.rs`, the limits tests in
//! `tests/hermetic/limits.rs`) and the edge load bench (`benches/edge.rs`, which includes this
//! file alone): verified TLS clients bound to a chosen source address, slowloris connections of
//! four kinds, HTTP/2 connections that hold every stream they may open with a POST body that
//! never finishes, and a reader of a process's resident memory. Every attacker binds its socket
//! to a chosen 127/8 source address so that altgate's per-address cap sees distinct clients.

#![allow(dead_code)]

use bytes::Bytes;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::client::TlsStream;

/// The HTTP/2 connection preface.
pub const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Raises this process's soft file-descriptor limit to its hard limit; returns the new limit.
pub fn raise_fd_limit() -> u64 {
    rlimit::increase_nofile_limit(u64::MAX).expect("raise RLIMIT_NOFILE")
}

/// A verifying client configuration trusting `ca`, offering `alpn`.
pub fn client_tls(ca: &Path, alpn: &[&[u8]]) -> Arc<rustls::ClientConfig> {
    let roots = altgate::tls::load_ca_bundle(ca).expect("ca");
    let mut c = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    c.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(c)
}

/// A TCP connection to `addr` from source address `src`.
pub async fn tcp_from(src: IpAddr, addr: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = match src {
        IpAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        IpAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.bind(SocketAddr::new(src, 0))?;
    socket.connect(addr).await
}

/// A verified TLS connection to `addr` (as `localhost`) from `src`, handshake included
/// (bounded by 20 s, so a refused connection shows up as an error, never a hang).
pub async fn tls_from(
    src: IpAddr,
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = tcp_from(src, addr).await?;
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    match tokio::time::timeout(
        Duration::from_secs(20),
        tokio_rustls::TlsConnector::from(config).connect(name, tcp),
    )
    .await
    {
        Ok(r) => r,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "TLS handshake timed out",
        )),
    }
}

/// What a slowloris connection does once TLS is up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Dribble {
    /// Sends nothing at all.
    Nothing,
    /// An HTTP/1.1 request head, one byte per interval, never finished.
    Http1Header,
    /// The HTTP/2 connection preface, one byte per interval: the server cannot even tell which
    /// protocol it is yet.
    Http2Preface,
    /// A real HTTP/2 client (it answers the server's pings) that opens no stream.
    Http2Idle,
}

impl Dribble {
    /// Every kind, for a mixed attack.
    pub const ALL: [Dribble; 4] = [
        Dribble::Nothing,
        Dribble::Http1Header,
        Dribble::Http2Preface,
        Dribble::Http2Idle,
    ];

    /// The `i`th byte this kind sends.
    fn byte(self, i: usize) -> u8 {
        const HEAD: &[u8] = b"GET /adfs/probe HTTP/1.1\r\nhost: localhost\r\nx-slow: ";
        let script: &[u8] = match self {
            Dribble::Http1Header => HEAD,
            _ => H2_PREFACE,
        };
        script.get(i).copied().unwrap_or(b'a')
    }
}

/// How one slowloris connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Refused: the TCP connect or the TLS handshake failed.
    Refused,
    /// Open for this long, then closed by the server.
    Closed(Duration),
    /// Still open when the attacker gave up on it.
    Held(Duration),
    /// Still open, but younger than the give-up time, when the attack ended.
    Ended,
}

/// One slowloris connection of `kind` from `src`, a byte every `interval`; gives up (and
/// reports it held) after `give_up`.
pub async fn slowloris_once(
    addr: SocketAddr,
    src: IpAddr,
    config: Arc<rustls::ClientConfig>,
    kind: Dribble,
    interval: Duration,
    give_up: Duration,
) -> Fate {
    let Ok(tls) = tls_from(src, addr, config).await else {
        return Fate::Refused;
    };
    let opened = Instant::now();
    let deadline = opened + give_up;
    if kind == Dribble::Http2Idle {
        let Ok(Ok((client, conn))) =
            tokio::time::timeout_at(deadline, h2::client::handshake(tls)).await
        else {
            return Fate::Closed(opened.elapsed());
        };
        let fate = tokio::select! {
            _ = conn => Fate::Closed(opened.elapsed()),
            _ = tokio::time::sleep_until(deadline) => Fate::Held(opened.elapsed()),
        };
        drop(client);
        return fate;
    }
    let (mut rd, mut wr) = tokio::io::split(tls);
    let mut buf = [0u8; 4096];
    let mut next = opened;
    let mut i = 0;
    loop {
        tokio::select! {
            r = rd.read(&mut buf) => match r {
                Ok(0) | Err(_) => return Fate::Closed(opened.elapsed()),
                Ok(_) => {}
            },
            _ = tokio::time::sleep_until(next), if kind != Dribble::Nothing => {
                let b = [kind.byte(i)];
                i += 1;
                next += interval;
                if wr.write_all(&b).await.is_err() || wr.flush().await.is_err() {
                    return Fate::Closed(opened.elapsed());
                }
            }
            _ = tokio::time::sleep_until(deadline) => return Fate::Held(opened.elapsed()),
        }
    }
}

/// A slowloris slot: reconnects `pause` after its connection is closed, until `until`, so the
/// attack keeps a connection open (or trying) most of the time. Returns every connection's
/// fate.
#[allow(clippy::too_many_arguments)]
pub async fn slowloris_slot(
    addr: SocketAddr,
    src: IpAddr,
    config: Arc<rustls::ClientConfig>,
    kind: Dribble,
    interval: Duration,
    give_up: Duration,
    pause: Duration,
    until: Instant,
) -> Vec<Fate> {
    let mut fates = Vec::new();
    while Instant::now() < until {
        let left = until.saturating_duration_since(Instant::now());
        let mut fate =
            slowloris_once(addr, src, config.clone(), kind, interval, give_up.min(left)).await;
        if matches!(fate, Fate::Held(d) if d < give_up) {
            fate = Fate::Ended;
        }
        fates.push(fate);
        tokio::time::sleep(pause).await;
    }
    fates
}

/// What one stalling HTTP/2 connection saw.
#[derive(Debug, Default, Clone)]
pub struct StallReport {
    /// `SETTINGS_MAX_CONCURRENT_STREAMS` as the server announced it.
    pub max_streams: usize,
    /// Streams opened (each with a POST body that never finishes).
    pub opened: usize,
    /// Body bytes the server's flow control let through, over all streams.
    pub body_bytes: usize,
    /// Responses by status (408s once `body_read_timeout` passes).
    pub statuses: BTreeMap<u16, usize>,
    /// Streams reset or failed without a response.
    pub errors: usize,
    /// Whether ALPN selected h2.
    pub alpn_h2: bool,
}

/// The most streams [`h2_stall`] keeps at once (the highest `http2_max_concurrent_streams`).
const MAX_LIVE_STREAMS: usize = 1000;

/// One HTTP/2 connection from `src` that keeps as many streams open as the server allows until
/// `until`: each a `POST path` declaring `declared` body bytes and sending `fill` of them (as
/// fast as flow control lets it), then nothing more. A stream the server answers is replaced.
pub async fn h2_stall(
    addr: SocketAddr,
    src: IpAddr,
    config: Arc<rustls::ClientConfig>,
    path: &str,
    declared: usize,
    fill: usize,
    until: Instant,
) -> std::io::Result<StallReport> {
    let tls = tls_from(src, addr, config).await?;
    let mut report = StallReport {
        alpn_h2: tls.get_ref().1.alpn_protocol() == Some(b"h2"),
        ..StallReport::default()
    };
    // One stream until the server's SETTINGS say how many it allows (h2 assumes no limit).
    let (client, conn) = h2::client::Builder::new()
        .initial_max_send_streams(1)
        .handshake(tls)
        .await
        .map_err(std::io::Error::other)?;
    let conn = tokio::spawn(conn);
    let sent = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut streams = tokio::task::JoinSet::new();
    let mut client = client;
    let uri = format!("https://localhost{path}");
    loop {
        // Collect the streams that ended.
        while let Some(r) = streams.try_join_next() {
            match r {
                Ok(Ok(status)) => *report.statuses.entry(status).or_insert(0) += 1,
                _ => report.errors += 1,
            }
        }
        // As many streams as the server's SETTINGS allow (h2 would queue more locally): at
        // the limit, wait for one to end or for the limit to change.
        if streams.len() >= client.current_max_send_streams().min(MAX_LIVE_STREAMS) {
            tokio::select! {
                Some(r) = streams.join_next() => match r {
                    Ok(Ok(status)) => *report.statuses.entry(status).or_insert(0) += 1,
                    _ => report.errors += 1,
                },
                _ = tokio::time::sleep(Duration::from_millis(50)) => {}
                _ = tokio::time::sleep_until(until) => break,
            }
            continue;
        }
        let ready =
            tokio::time::timeout_at(until, std::future::poll_fn(|cx| client.poll_ready(cx))).await;
        if !matches!(ready, Ok(Ok(()))) {
            break;
        }
        let req = hyper::Request::post(&uri)
            .header("content-type", "application/soap+xml; charset=utf-8")
            .header("content-length", declared.to_string())
            .body(())
            .expect("request");
        let Ok((response, send)) = client.send_request(req, false) else {
            break;
        };
        report.opened += 1;
        streams.spawn(stall_stream(response, send, fill, sent.clone()));
    }
    report.max_streams = client.current_max_send_streams();
    while let Some(r) = streams.try_join_next() {
        match r {
            Ok(Ok(status)) => *report.statuses.entry(status).or_insert(0) += 1,
            _ => report.errors += 1,
        }
    }
    report.body_bytes = sent.load(std::sync::atomic::Ordering::Relaxed);
    streams.abort_all();
    drop(client);
    conn.abort();
    Ok(report)
}

/// Sends `fill` body bytes as flow control allows, never ends the body, and returns the
/// response status when the server answers.
async fn stall_stream(
    response: h2::client::ResponseFuture,
    mut send: h2::SendStream<Bytes>,
    fill: usize,
    sent: Arc<std::sync::atomic::AtomicUsize>,
) -> Result<u16, h2::Error> {
    let feeding = async {
        let mut done = 0;
        while done < fill {
            send.reserve_capacity(fill - done);
            match std::future::poll_fn(|cx| send.poll_capacity(cx)).await {
                Some(Ok(n)) if n > 0 => {
                    let n = n.min(fill - done);
                    if send.send_data(Bytes::from(vec![b'a'; n]), false).is_err() {
                        break;
                    }
                    done += n;
                    sent.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
                }
                Some(Ok(_)) => {}
                _ => break,
            }
        }
        std::future::pending::<()>().await
    };
    tokio::select! {
        r = response => r.map(|r| r.status().as_u16()),
        _ = feeding => unreachable!("the body never ends"),
    }
}

/// A process's resident set size in bytes (`VmRSS` in `/proc/<pid>/status`).
pub fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .expect("VmRSS")
}

/// CPU seconds (user + system) a process has used.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read stat");
    let after_comm = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    // utime and stime (fields 14 and 15 of stat) in clock ticks, 100 a second on Linux.
    let ticks: f64 = [11, 12]
        .iter()
        .map(|&i| {
            fields
                .get(i)
                .and_then(|v| v.parse::<f64>().ok())
                .expect("cpu")
        })
        .sum();
    ticks / 100.0
}

/// Samples `pid`'s RSS every 100 ms until `stop` resolves; returns the peak.
pub async fn rss_peak(pid: u32, stop: tokio::sync::oneshot::Receiver<()>) -> u64 {
    let mut peak = rss_bytes(pid);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => return peak.max(rss_bytes(pid)),
            _ = tokio::time::sleep(Duration::from_millis(100)) => peak = peak.max(rss_bytes(pid)),
        }
    }
}

/// `count` source addresses from `127.0.0.first` on.
pub fn sources(first: u8, count: u8) -> Vec<IpAddr> {
    (0..count)
        .map(|i| IpAddr::from([127, 0, 0, first + i]))
        .collect()
}

/// A running `altgate serve` process, killed when dropped.
pub struct Process {
    /// The child.
    pub child: std::process::Child,
}

impl Process {
    /// Starts `altgate serve --config config` and waits (bounded) until `port` accepts and the
    /// generated certificate `cert` exists.
    pub async fn start(bin: &Path, config: &Path, port: u16, cert: &Path) -> Process {
        let child = std::process::Command::new(bin)
            .args(["serve", "--config"])
            .arg(config)
            .env_remove("RUST_LOG")
            .spawn()
            .expect("start altgate");
        let p = Process { child };
        for _ in 0..300 {
            if cert.exists() && TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return p;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("altgate did not start listening on {port}");
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
