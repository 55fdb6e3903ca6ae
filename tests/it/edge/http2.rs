//! HTTP/2 streams stalled mid-body against a separate altgate process (its memory, read from
//! /proc), and the same connection discipline not getting in the way of a real client that
//! multiplexes sign-ins.

use super::*;

/// One round of the stalled-streams attack on a separate altgate process: `connections`
/// HTTP/2 connections from four addresses, each holding every stream the server allows with a
/// body that never finishes, for `hold`; three sign-ins once it is established.
struct StallRound {
    peak_rss: u64,
    reports: Vec<StallReport>,
    open: f64,
    sign_ins: Vec<Duration>,
}

async fn stall_round(
    pid: u32,
    addr: SocketAddr,
    admin: SocketAddr,
    ca: &Path,
    connections: usize,
    declared: usize,
    hold: Duration,
) -> StallRound {
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let sampler = tokio::spawn(attack::rss_peak(pid, stopped));
    let h2 = attack::client_tls(ca, &[b"h2"]);
    let until = Instant::now() + hold;
    let sources = attack::sources(60, 4);
    let attackers: Vec<_> = (0..connections)
        .map(|i| {
            tokio::spawn(attack::h2_stall(
                addr,
                sources[i % sources.len()],
                h2.clone(),
                WSTRUST_13,
                declared,
                declared - 1,
                until,
            ))
        })
        .collect();
    tokio::time::sleep(hold / 2).await;
    let open = scrape_metric(admin, "altgate_http_open_connections").await;
    let mut sign_ins = Vec::new();
    for _ in 0..3 {
        sign_ins.push(timed_sign_in(addr, ca).await);
    }
    let mut reports = Vec::new();
    for a in attackers {
        reports.push(a.await.expect("join").expect("attacker connected"));
    }
    let _ = stop.send(());
    let peak_rss = sampler.await.expect("join");
    // The attackers are gone: wait until altgate has closed every connection.
    for _ in 0..300 {
        if scrape_metric(admin, "altgate_http_open_connections").await <= 1.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    StallRound {
        peak_rss,
        reports,
        open,
        sign_ins,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_http2_streams_keep_memory_bounded_and_never_starve_a_sign_in() {
    // A load test: nothing else runs meanwhile.
    let _g = harness::exclusive().await;
    attack::raise_fd_limit();
    const CONNECTIONS: usize = 200;
    const STREAMS: usize = 32; // the default http2_max_concurrent_streams
    const MAX_BODY: usize = 64 * 1024; // the default server.max_body_bytes
    const CONNECTION_WINDOW: usize = 256 * 1024; // the default http2_connection_window_bytes
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = (dir.path().join("server.crt"), dir.path().join("server.key"));
    let (port, admin_port) = (harness::free_port(), harness::free_port());
    // Bodies stay stalled for the whole attack (the body-read deadline is tested elsewhere).
    let mut yaml = process_yaml(
        port,
        admin_port,
        &cert,
        &key,
        ", limits: { body_read_timeout: 60s, request_timeout: 90s }",
    );
    // The rounds are compared with each other: the background health check's LDAP connections
    // (allocated in whichever glibc arena is at hand mid-attack) move a round's peak by up to
    // 20 MiB, so it stays out of them. It holds no memory across rounds (RSS of an idle
    // server checking every second stays flat).
    yaml.push_str("directory: { health_check_interval: 1h }\n");
    let config = harness::write_config("edge-h2.yaml", &yaml);
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_altgate"));
    let altgate = attack::Process::start(&bin, &config, port, &cert).await;
    let pid = altgate.pid();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let admin = SocketAddr::from(([127, 0, 0, 1], admin_port));
    for _ in 0..5 {
        timed_sign_in(addr, &cert).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let baseline = attack::rss_bytes(pid);

    // Two identical rounds: the second shows that memory the first used is reused, not kept
    // per attack (glibc keeps freed heap mapped, so RSS after an attack is not a leak
    // measure; the peak of a repeat is).
    let hold = Duration::from_secs(14);
    let first = stall_round(pid, addr, admin, &cert, CONNECTIONS, MAX_BODY, hold).await;
    let between = attack::rss_bytes(pid);
    let second = stall_round(pid, addr, admin, &cert, CONNECTIONS, MAX_BODY, hold).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = attack::rss_bytes(pid);
    timed_sign_in(addr, &cert).await;

    for (i, round) in [&first, &second].iter().enumerate() {
        let streams: usize = round.reports.iter().map(|r| r.opened).sum();
        let body: usize = round.reports.iter().map(|r| r.body_bytes).sum();
        eprintln!(
            "h2 stall round {}: {CONNECTIONS} connections ({} open at altgate), {streams} streams held, {:.1} MiB of body let through; peak RSS {:.1} MiB; sign-ins {:?}",
            i + 1,
            round.open,
            mib(body as u64),
            mib(round.peak_rss),
            round.sign_ins
        );
        assert!(
            round.open >= CONNECTIONS as f64,
            "only {} attacker connections open",
            round.open
        );
        for r in &round.reports {
            assert!(r.alpn_h2, "ALPN must select h2");
            assert_eq!(r.max_streams, STREAMS, "SETTINGS_MAX_CONCURRENT_STREAMS");
            assert!(r.opened >= STREAMS, "{r:?}");
            assert!(r.statuses.is_empty() && r.errors == 0, "{r:?}");
            // Flow control: one connection window of unread data plus one budget of bodies
            // being read, however many streams (without the budget: STREAMS x MAX_BODY).
            assert!(
                r.body_bytes <= CONNECTION_WINDOW + MAX_BODY,
                "one connection pushed {} body bytes",
                r.body_bytes
            );
        }
    }
    eprintln!(
        "altgate RSS: baseline {:.1} MiB, peak {:.1} / {:.1} MiB, after round 1 {:.1} MiB, after round 2 {:.1} MiB",
        mib(baseline),
        mib(first.peak_rss),
        mib(second.peak_rss),
        mib(between),
        mib(after)
    );
    // The bound follows from the limits: per connection one window of unread body and one
    // budget being read; per stalled stream its request, stream state and handler (about
    // 11 KiB measured on a debug build: 16 KiB allowed); 32 MiB for TLS buffers and allocator
    // slack. Without the body budget the same attack reaches baseline + 500 MiB.
    let bound = baseline
        + (CONNECTIONS * (CONNECTION_WINDOW + MAX_BODY)) as u64
        + (CONNECTIONS * STREAMS * 16 * 1024) as u64
        + 32 * 1024 * 1024;
    for peak in [first.peak_rss, second.peak_rss] {
        assert!(
            peak < bound,
            "peak RSS {:.1} MiB over the bound {:.1} MiB",
            mib(peak),
            mib(bound)
        );
    }
    // Nothing accumulates across attacks: a repeat peaks no higher than the first plus 20%.
    // Measured on 2 vCPUs: +2 % to +6 % alone or beside two busy loops, +13 % once in the whole
    // suite (allocator fragmentation and timing); keeping the first attack's memory would add
    // its whole footprint (baseline to peak, about 160 MiB here: +80 %).
    assert!(
        second.peak_rss <= first.peak_rss + first.peak_rss / 5,
        "the second attack peaked at {:.1} MiB after {:.1} MiB",
        mib(second.peak_rss),
        mib(first.peak_rss)
    );
    assert!(after <= second.peak_rss.max(first.peak_rss));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sign_ins_on_one_http2_connection_share_its_body_budget_and_all_succeed() {
    let _g = harness::shared().await;
    // 32 envelopes of ~2.5 KiB exceed the 64 KiB budget, and the half sent without a declared
    // length each need all of it: streams wait their turn, none fails.
    let server = start("", &harness::token_yaml()).await;
    let pw = harness::forests().user_password.clone();
    let tls = attack::tls_from(
        LOCALHOST,
        server.addr,
        attack::client_tls(&server.ca, &[b"h2"]),
    )
    .await
    .expect("tls");
    let (client, conn) = h2::client::handshake(tls).await.expect("h2 handshake");
    tokio::spawn(conn);
    let mut client = client.ready().await.expect("ready");
    let mut streams = Vec::new();
    for i in 0..32 {
        let envelope = rst(
            "13",
            "jdoe@contoso.com",
            &pw,
            "urn:federation:MicrosoftOnline",
            "",
            0,
        );
        let mut req = hyper::Request::post(format!("https://localhost{WSTRUST_13}"))
            .header("content-type", SOAP);
        if i % 2 == 0 {
            req = req.header("content-length", envelope.len().to_string());
        }
        std::future::poll_fn(|cx| client.poll_ready(cx))
            .await
            .expect("ready");
        let (response, mut send) = client
            .send_request(req.body(()).expect("request"), false)
            .expect("stream");
        send.send_data(Bytes::from(envelope), true).expect("data");
        streams.push(response);
    }
    // Responses are read concurrently: reading them in turn would leave the others' data
    // holding this client's own flow-control window.
    let readers: Vec<_> = streams
        .into_iter()
        .map(|response| {
            tokio::spawn(async move {
                let res = response.await.expect("response");
                let status = res.status();
                let mut body = res.into_body();
                let mut rstr = Vec::new();
                while let Some(chunk) = body.data().await {
                    let chunk = chunk.expect("chunk");
                    let _ = body.flow_control().release_capacity(chunk.len());
                    rstr.extend_from_slice(&chunk);
                }
                (status, String::from_utf8_lossy(&rstr).into_owned())
            })
        })
        .collect();
    for reader in readers {
        let (status, rstr) = tokio::time::timeout(Duration::from_secs(20), reader)
            .await
            .expect("an answer within 20 s")
            .expect("join");
        assert_eq!(status, 200, "{rstr}");
        assert_eq!(
            claim(&rstr, "UPN").as_deref(),
            Some("jdoe@contoso.com"),
            "{rstr}"
        );
    }
}
