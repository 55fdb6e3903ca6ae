//! Connection slots under pressure, in demo mode (the embedded directory, a real WS-Trust
//! sign-in of jdoe@contoso.com): at `max_connections`, HTTP/2 connections that made a request
//! and went idle, and TCP connections that never sent a ClientHello, each make room for a new
//! client (the one idle longest first), while connections with a request in flight never do;
//! only when all are busy is a new client refused. A new connection must begin its first
//! request within `first_request_timeout`, while one that made a request keeps `idle_timeout`
//! (a browser between the sign-in form and its POST). Two addresses of one IPv6 /64 sharing the
//! per-address cap needs source addresses this loopback does not have (only `::1`): that is
//! unit-tested in `src/http/conn/tests.rs`.

use crate::kit::attack;
use crate::kit::certs::wait_for_certificate;
use crate::kit::config::{metric, parse};
use crate::kit::demo::{self, Served};
use crate::kit::http::request_from;
use bytes::Bytes;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

const SOAP: &str = "application/soap+xml; charset=utf-8";
const WSTRUST_13: &str = "/adfs/services/trust/13/usernamemixed";
/// The cap the tests fill.
const MAX: usize = 16;
/// A stalled body's declared length: more than one HTTP/2 stream window (65535), so that the
/// client can only have sent it all once altgate's handler is reading it (the request is in
/// flight).
const STALLED: usize = 70_000;
/// How long the tests wait for something that should happen at once.
const PATIENCE: Duration = Duration::from_secs(20);

/// A demo-mode server with a token-signing key and Microsoft 365 as relying party, bodies up
/// to 256 KiB, and `limits` inside `server.limits`.
fn config(dir: &Path, limits: &str) -> altgate::config::Config {
    let (cert, key) = (dir.join("s.crt"), dir.join("s.key"));
    let mut yaml = demo::config_yaml(
        &cert,
        &key,
        &format!(", max_body_bytes: 262144, limits: {{ {limits} }}"),
    );
    yaml.push_str(&format!(
        "token_signing: {{ cert_file: {}, key_file: {}, generate_dev_certificate: true }}\n\
         relying_parties: [{{ identifier: 'urn:federation:MicrosoftOnline' }}]\n",
        dir.join("ts.crt").display(),
        dir.join("ts.key").display()
    ));
    parse(&yaml)
}

/// The WS-Trust 1.3 request MSAL sends for jdoe@contoso.com with the demo password.
fn rst() -> String {
    crate::kit::wstrust::rst13("jdoe@contoso.com", "Demo-Passw0rd!")
}

/// A WS-Trust sign-in from `src` on a connection of its own: it must get a token.
async fn sign_in(src: IpAddr, server: &Served, ca: &Path) {
    let (status, _, body) = request_from(
        src,
        server.addr,
        ca,
        "POST",
        WSTRUST_13,
        &[("content-type", SOAP)],
        rst().into_bytes(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("jdoe@contoso.com"), "{body}");
}

/// An HTTP/2 client connection: its handle (kept so the client stays) and the task driving it,
/// which ends when altgate closes the connection.
struct H2 {
    client: h2::client::SendRequest<Bytes>,
    conn: JoinHandle<()>,
    _streams: Vec<h2::SendStream<Bytes>>,
}

impl H2 {
    /// A verified HTTP/2 connection from `src` (the TLS handshake may fail: refused).
    async fn connect(src: IpAddr, addr: SocketAddr, ca: &Path) -> std::io::Result<H2> {
        let tls = attack::tls_from(src, addr, attack::client_tls(ca, &[b"h2"])).await?;
        let (client, conn) = h2::client::handshake(tls)
            .await
            .map_err(std::io::Error::other)?;
        let conn = tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(H2 {
            client,
            conn,
            _streams: Vec::new(),
        })
    }

    /// `GET /adfs/probe` on this connection: 200.
    async fn probe(&mut self) {
        let mut client = self.client.clone().ready().await.expect("ready");
        let req = hyper::Request::get("https://localhost/adfs/probe")
            .body(())
            .expect("request");
        let (response, _) = client.send_request(req, true).expect("stream");
        let res = response.await.expect("response");
        assert_eq!(res.status(), 200);
        let mut body = res.into_body();
        while let Some(chunk) = body.data().await {
            chunk.expect("body");
        }
    }

    /// A WS-Trust POST declaring [`STALLED`] bytes and sending all but one: returns once they
    /// are all sent, which flow control allows only once altgate's handler reads the body, so
    /// the connection then has a request in flight until the body deadline.
    async fn stall(&mut self) {
        let mut client = self.client.clone().ready().await.expect("ready");
        let req = hyper::Request::post(format!("https://localhost{WSTRUST_13}"))
            .header("content-type", SOAP)
            .header("content-length", STALLED.to_string())
            .body(())
            .expect("request");
        let (_response, mut send) = client.send_request(req, false).expect("stream");
        let mut sent = 0;
        while sent < STALLED - 1 {
            send.reserve_capacity(STALLED - 1 - sent);
            match std::future::poll_fn(|cx| send.poll_capacity(cx)).await {
                Some(Ok(n)) if n > 0 => {
                    let n = n.min(STALLED - 1 - sent);
                    send.send_data(Bytes::from(vec![b'a'; n]), false)
                        .expect("data");
                    sent += n;
                }
                Some(Ok(_)) => {}
                other => panic!("the stalled stream failed after {sent} bytes: {other:?}"),
            }
        }
        self._streams.push(send);
    }

    /// Whether altgate has closed the connection.
    fn closed(&self) -> bool {
        self.conn.is_finished()
    }

    /// Waits (bounded) until altgate closes the connection.
    async fn wait_closed(&mut self, what: &str) {
        if self.closed() {
            return;
        }
        tokio::time::timeout(PATIENCE, &mut self.conn)
            .await
            .unwrap_or_else(|_| panic!("{what} was not closed within {PATIENCE:?}"))
            .expect("join");
    }
}

/// Whether the peer has closed `tcp` (EOF or an error), without waiting.
fn tcp_closed(tcp: &TcpStream) -> bool {
    let mut buf = [0u8; 16];
    match tcp.try_read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    }
}

/// Waits (bounded) until `open` connections are open at altgate, counting those still closing.
async fn wait_open(server: &Served, open: usize) {
    for _ in 0..200 {
        if metric(&server.app.metrics, "altgate_http_open_connections") <= open as f64 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "{} connections open, expected {open}",
        metric(&server.app.metrics, "altgate_http_open_connections")
    );
}

fn evicted(server: &Served, reason: &str) -> f64 {
    metric(
        &server.app.metrics,
        &format!("altgate_http_connections_evicted_total{{reason=\"{reason}\"}}"),
    )
}

fn refused(server: &Served, reason: &str) -> f64 {
    metric(
        &server.app.metrics,
        &format!("altgate_http_connections_refused_total{{reason=\"{reason}\"}}"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_http2_connections_at_the_cap_make_room_for_sign_ins_and_busy_ones_never_do() {
    attack::raise_fd_limit();
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = dir.path().join("s.crt");
    let server = Served::start(config(
        dir.path(),
        &format!("max_connections: {MAX}, body_read_timeout: 5m, request_timeout: 5m"),
    ))
    .await;
    wait_for_certificate(&ca).await;
    let addr = server.addr;
    // Half the cap: HTTP/2 connections from two addresses, each with a request in flight.
    let mut busy = Vec::new();
    for i in 0..MAX / 2 {
        let src = IpAddr::from([127, 0, 0, 102 + (i % 2) as u8]);
        let mut c = H2::connect(src, addr, &ca).await.expect("connect");
        c.stall().await;
        busy.push(c);
    }
    // The other half: HTTP/2 connections from two more addresses that each made one request
    // and went quiet (answering pings), one after the other.
    let mut idle = Vec::new();
    for i in 0..MAX / 2 {
        let src = IpAddr::from([127, 0, 0, 104 + (i % 2) as u8]);
        let mut c = H2::connect(src, addr, &ca).await.expect("connect");
        c.probe().await;
        idle.push(c);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    wait_open(&server, MAX).await;

    // The server is full; a sign-in from a new address gets through, and the connection idle
    // longest made room for it: the first idle one, no other.
    sign_in(IpAddr::from([127, 0, 0, 109]), &server, &ca).await;
    idle[0].wait_closed("the connection idle longest").await;
    assert!(idle[1..].iter().all(|c| !c.closed()));
    assert_eq!(evicted(&server, "max_connections"), 1.0);
    assert_eq!(refused(&server, "max_connections"), 0.0);

    // New clients that keep a request in flight take the idle connections' slots one by one,
    // oldest first; once every connection is busy, the next one is refused.
    wait_open(&server, MAX - 1).await;
    let mut newcomers = Vec::new();
    let refused_at = loop {
        assert!(newcomers.len() <= MAX, "never refused");
        match H2::connect(IpAddr::from([127, 0, 0, 110]), addr, &ca).await {
            Ok(mut c) => {
                c.stall().await;
                newcomers.push(c);
                wait_open(&server, MAX).await;
            }
            Err(_) => break newcomers.len(),
        }
    };
    // One newcomer took the sign-in's slot, seven made room.
    assert_eq!(refused_at, MAX / 2);
    for (i, c) in idle.iter_mut().enumerate() {
        c.wait_closed(&format!("idle connection {i}")).await;
    }
    assert!(busy.iter().chain(&newcomers).all(|c| !c.closed()));
    assert_eq!(evicted(&server, "max_connections"), (MAX / 2) as f64);
    assert_eq!(refused(&server, "max_connections"), 1.0);
    drop((busy, newcomers));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_that_never_send_a_client_hello_do_not_keep_a_sign_in_out() {
    attack::raise_fd_limit();
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = dir.path().join("s.crt");
    // Deadlines far away: only making room can let the sign-ins in.
    let server = Served::start(config(
        dir.path(),
        &format!(
            "max_connections: {MAX}, tls_handshake_timeout: 60s, header_read_timeout: 60s, first_request_timeout: 60s"
        ),
    ))
    .await;
    wait_for_certificate(&ca).await;
    let probe = request_from(
        IpAddr::from([127, 0, 0, 109]),
        server.addr,
        &ca,
        "GET",
        "/adfs/probe",
        &[],
        Vec::new(),
    )
    .await;
    assert_eq!(probe.0, 200);
    wait_open(&server, 0).await;
    // The cap filled with bare TCP connections from one address (accepted in this order).
    let mut silent = Vec::new();
    for _ in 0..MAX {
        silent.push(
            attack::tcp_from(IpAddr::from([127, 0, 0, 120]), server.addr)
                .await
                .expect("connect"),
        );
    }
    // Three sign-ins from a new address, as in the attack run; each closes the oldest bare
    // connection, and another one fills the cap again.
    for n in 1..=3 {
        sign_in(IpAddr::from([127, 0, 0, 109]), &server, &ca).await;
        wait_open(&server, MAX - 1).await;
        assert_eq!(evicted(&server, "max_connections"), n as f64);
        silent.push(
            attack::tcp_from(IpAddr::from([127, 0, 0, 120]), server.addr)
                .await
                .expect("connect"),
        );
    }
    wait_open(&server, MAX).await;
    for (i, tcp) in silent.iter().enumerate() {
        assert_eq!(tcp_closed(tcp), i < 3, "bare connection {i}");
    }
    assert_eq!(refused(&server, "max_connections"), 0.0);
    drop(silent);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_connection_must_begin_a_request_within_first_request_timeout_and_then_keeps_idle_timeout(
) {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = dir.path().join("s.crt");
    let server = Served::start(config(
        dir.path(),
        "first_request_timeout: 1s, tls_handshake_timeout: 60s, header_read_timeout: 60s, idle_timeout: 60s",
    ))
    .await;
    wait_for_certificate(&ca).await;
    let addr = server.addr;
    let src = IpAddr::from([127, 0, 0, 130]);
    // TCP without a ClientHello, and an HTTP/2 client that sends no request (it answers
    // pings): both closed by the first-request deadline, not the 60 s ones.
    let tcp = attack::tcp_from(src, addr).await.expect("connect");
    let mut quiet = H2::connect(src, addr, &ca).await.expect("connect");
    let mut tcp = tcp;
    let mut buf = [0u8; 16];
    let read =
        tokio::time::timeout(PATIENCE, tokio::io::AsyncReadExt::read(&mut tcp, &mut buf)).await;
    assert!(
        matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "a connection without TLS was not closed within {PATIENCE:?}: {read:?}"
    );
    quiet
        .wait_closed("an HTTP/2 connection without a request")
        .await;
    // A browser's connection after the sign-in form: kept past the first-request deadline
    // (the user types), and its POST goes out on it.
    let mut browser = H2::connect(src, addr, &ca).await.expect("connect");
    browser.probe().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(!browser.closed(), "closed between two requests");
    browser.probe().await;
    server.stop().await;
}
