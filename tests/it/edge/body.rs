//! The body-read deadline: half a body gets the endpoint's 408 after
//! `server.limits.body_read_timeout`, over HTTP/1.1 and HTTP/2, and waiting for it costs no CPU.

use super::*;

/// Sends a request head declaring `declared` body bytes and then only `part`, over raw TLS;
/// returns the status line's code, the head, the body and how long the answer took.
async fn half_body_h1(
    addr: SocketAddr,
    ca: &Path,
    path: &str,
    content_type: &str,
    declared: usize,
    part: &[u8],
) -> (u16, String, String, Duration) {
    let mut tls = attack::tls_from(LOCALHOST, addr, attack::client_tls(ca, &[b"http/1.1"]))
        .await
        .expect("tls");
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: localhost\r\naccept-language: en-US\r\ncontent-type: {content_type}\r\ncontent-length: {declared}\r\n\r\n"
    );
    // Timed from before the first byte leaves: the server's deadline cannot start earlier.
    let sent = Instant::now();
    tls.write_all(head.as_bytes()).await.expect("head");
    tls.write_all(part).await.expect("part");
    tls.flush().await.expect("flush");
    let mut buf = Vec::new();
    let read = async {
        let mut chunk = [0u8; 8192];
        loop {
            let n = tls.read(&mut chunk).await.unwrap_or(0);
            if n == 0 {
                return;
            }
            buf.extend_from_slice(chunk.get(..n).expect("n"));
            let text = String::from_utf8_lossy(&buf);
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let len = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().expect("length"))
                    })
                    .expect("content-length");
                if body.len() >= len {
                    return;
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), read)
        .await
        .expect("an answer within 20 s");
    let took = sent.elapsed();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("a whole response");
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status");
    (code, head.to_ascii_lowercase(), body.to_string(), took)
}

#[tokio::test]
async fn a_half_sent_body_is_answered_408_once_body_read_timeout_passes() {
    let _g = harness::shared().await;
    let server = start(
        ", limits: { body_read_timeout: 2s }",
        &harness::token_yaml(),
    )
    .await;
    let (addr, ca) = (server.addr, server.ca.clone());
    let m = &server.app.metrics;
    let deadline = Duration::from_secs(2);
    let pw = harness::forests().user_password.clone();

    // WS-Trust over HTTP/1.1: a SOAP fault with status 408.
    let envelope = rst(
        "13",
        "jdoe@contoso.com",
        &pw,
        "urn:federation:MicrosoftOnline",
        "",
        0,
    )
    .into_bytes();
    let half = envelope.get(..envelope.len() / 2).expect("half");
    let (status, head, body, took) =
        half_body_h1(addr, &ca, WSTRUST_13, SOAP, envelope.len(), half).await;
    assert_eq!(status, 408, "{head}\n{body}");
    assert!(
        head.contains("content-type: application/soap+xml"),
        "{head}"
    );
    assert!(
        body.contains(":Fault>") && body.contains("Envelope"),
        "{body}"
    );
    assert!(took >= deadline, "{took:?}");

    // A browser form post at /adfs/ls: the error page with status 408.
    let form = format!(
        "UserName=jdoe%40contoso.com&Password={}&AuthMethod=FormsAuthentication",
        form_urlencoded::byte_serialize(pw.as_bytes()).collect::<String>()
    )
    .into_bytes();
    let half = form.get(..form.len() / 2).expect("half");
    let (status, head, body, took) = half_body_h1(
        addr,
        &ca,
        "/adfs/ls/",
        "application/x-www-form-urlencoded",
        form.len(),
        half,
    )
    .await;
    assert_eq!(status, 408, "{head}\n{body}");
    assert!(head.contains("content-type: text/html"), "{head}");
    assert!(body.contains("<html"), "{body}");
    assert!(took >= deadline, "{took:?}");

    // WS-Trust over HTTP/2: the same fault on the stream.
    let tls = attack::tls_from(LOCALHOST, addr, attack::client_tls(&ca, &[b"h2"]))
        .await
        .expect("tls");
    let (client, conn) = h2::client::handshake(tls).await.expect("h2 handshake");
    tokio::spawn(conn);
    let mut client = client.ready().await.expect("ready");
    let req = hyper::Request::post(format!("https://localhost{WSTRUST_13}"))
        .header("content-type", SOAP)
        .header("content-length", envelope.len().to_string())
        .body(())
        .expect("request");
    let t = Instant::now();
    let (response, mut send) = client.send_request(req, false).expect("stream");
    let half = envelope.get(..envelope.len() / 2).expect("half");
    send.send_data(Bytes::copy_from_slice(half), false)
        .expect("data");
    let res = tokio::time::timeout(Duration::from_secs(20), response)
        .await
        .expect("an answer within 20 s")
        .expect("response");
    assert_eq!(res.status(), 408);
    assert!(t.elapsed() >= deadline);
    let mut body = res.into_body();
    let mut fault = Vec::new();
    while let Some(chunk) = body.data().await {
        fault.extend_from_slice(&chunk.expect("chunk"));
    }
    assert!(String::from_utf8_lossy(&fault).contains(":Fault>"));
    drop(send);

    assert_eq!(
        metric(
            m,
            "altgate_http_requests_total{endpoint=\"wstrust_13\",status=\"408\"}"
        ),
        2.0
    );
    assert_eq!(
        metric(
            m,
            "altgate_http_requests_total{endpoint=\"ls\",status=\"408\"}"
        ),
        1.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_waiting_for_a_stalled_body_cost_no_cpu_and_get_408() {
    let _g = harness::shared().await;
    const STALLED: usize = 50;
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = (dir.path().join("server.crt"), dir.path().join("server.key"));
    let port = harness::free_port();
    // The idle timeout passes long before the body-read deadline: the watchdog must wait for
    // the request, not spin on it.
    let yaml = process_yaml(
        port,
        harness::free_port(),
        &cert,
        &key,
        ", limits: { idle_timeout: 1s, body_read_timeout: 6s }",
    );
    let config = harness::write_config("edge-stall.yaml", &yaml);
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_altgate"));
    let altgate = attack::Process::start(&bin, &config, port, &cert).await;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let pw = harness::forests().user_password.clone();
    let envelope = rst(
        "13",
        "jdoe@contoso.com",
        &pw,
        "urn:federation:MicrosoftOnline",
        "",
        0,
    )
    .into_bytes();
    let stalled: Vec<_> = (0..STALLED)
        .map(|_| {
            let (cert, envelope) = (cert.clone(), envelope.clone());
            tokio::spawn(async move {
                let half = envelope.get(..envelope.len() / 2).expect("half");
                half_body_h1(addr, &cert, WSTRUST_13, SOAP, envelope.len(), half).await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let cpu0 = attack::cpu_seconds(altgate.pid());
    tokio::time::sleep(Duration::from_secs(3)).await;
    let spent = attack::cpu_seconds(altgate.pid()) - cpu0;
    eprintln!(
        "{STALLED} connections waiting for their bodies: altgate used {spent:.2} s of CPU in 3 s"
    );
    // Spinning watchdogs would keep both cores busy (6 s); waiting ones cost next to nothing.
    assert!(spent < 1.0, "altgate used {spent:.2} s of CPU in 3 s");
    for s in stalled {
        let (status, _, body, _) = s.await.expect("join");
        assert_eq!(status, 408, "{body}");
    }
}

#[tokio::test]
async fn a_request_past_request_timeout_gets_503_with_its_activity_id() {
    let _g = harness::shared().await;
    // The body deadline is far away, so the whole-request deadline is what answers.
    let server = start(
        ", limits: { body_read_timeout: 60s, request_timeout: 1s }",
        &harness::token_yaml(),
    )
    .await;
    let (code, head, body, _) = half_body_h1(
        server.addr,
        &server.ca,
        "/adfs/services/trust/13/usernamemixed",
        "application/soap+xml; charset=utf-8",
        1000,
        b"<s:Envelope",
    )
    .await;
    assert_eq!(code, 503, "{head}\n{body}");
    assert_eq!(body, "request timed out\n");
    let id = head
        .lines()
        .find_map(|l| l.strip_prefix("x-request-id:"))
        .map(str::trim)
        .expect("the timeout reply carries X-Request-Id");
    assert_eq!(id.len(), 36, "a fresh activity id (GUID form): {id}");
}
