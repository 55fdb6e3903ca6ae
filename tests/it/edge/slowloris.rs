//! Slowloris: a thousand TLS connections from ten addresses that send nothing, dribble an
//! HTTP/1 head or the HTTP/2 preface, or idle as real HTTP/2 clients; the per-address cap, the
//! header-read and idle deadlines close them all while a real sign-in gets through.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_is_capped_per_address_closed_by_its_deadlines_and_never_starves_a_sign_in() {
    // A load test: nothing else runs meanwhile.
    let _g = harness::exclusive().await;
    // Each attacker connection costs this process two descriptors (both ends are here).
    let fd_limit = attack::raise_fd_limit();
    const PER_IP: usize = 100;
    let addresses =
        (usize::try_from(fd_limit.saturating_sub(1024) / 2).unwrap_or(0) / PER_IP).clamp(1, 10);
    let server = start(
        ", limits: { tls_handshake_timeout: 4s, header_read_timeout: 2s, idle_timeout: 3s, max_connections_per_ip: 100, max_connections: 4000 }",
        &harness::token_yaml(),
    )
    .await;
    let (addr, ca) = (server.addr, server.ca.clone());
    let m = &server.app.metrics;
    let quiet = timed_sign_in(addr, &ca).await;
    wait_until_no_connections(m).await;

    // One address opens its cap and 20 more at once, none sending a request: the cap holds
    // (exactly PER_IP open), and each of the 20 extra made the address's connection idle
    // longest close (mid-handshake: refused; after TLS: closed) instead of being refused.
    let h1 = attack::client_tls(&ca, &[b"http/1.1"]);
    let h2 = attack::client_tls(&ca, &[b"h2"]);
    let one = IpAddr::from([127, 0, 0, 50]);
    let burst: Vec<_> = (0..PER_IP + 20)
        .map(|_| {
            tokio::spawn(attack::slowloris_once(
                addr,
                one,
                h1.clone(),
                Dribble::Nothing,
                Duration::from_secs(1),
                Duration::from_millis(1500),
            ))
        })
        .collect();
    let mut fates = Vec::new();
    for t in burst {
        fates.push(t.await.expect("join"));
    }
    let refused = fates.iter().filter(|f| **f == Fate::Refused).count();
    let closed = fates
        .iter()
        .filter(|f| matches!(f, Fate::Closed(_)))
        .count();
    let held = fates.iter().filter(|f| matches!(f, Fate::Held(_))).count();
    assert_eq!((held, refused + closed), (PER_IP, 20), "{fates:?}");
    assert_eq!(
        metric(
            m,
            "altgate_http_connections_evicted_total{reason=\"max_connections_per_ip\"}"
        ),
        20.0
    );
    assert_eq!(
        metric(
            m,
            "altgate_http_connections_refused_total{reason=\"max_connections_per_ip\"}"
        ),
        0.0
    );
    wait_until_no_connections(m).await;

    // The attack: `addresses` x PER_IP slots, each reconnecting as soon as it is closed, in
    // four kinds; a connection still open after `give_up` counts as held by the attacker.
    let give_up = Duration::from_secs(12);
    let start_at = Instant::now();
    let until = start_at + Duration::from_secs(16);
    let mut slots = Vec::new();
    for src in attack::sources(50, u8::try_from(addresses).expect("few")) {
        for i in 0..PER_IP {
            let kind = Dribble::ALL[i % Dribble::ALL.len()];
            let tls = if kind == Dribble::Http2Idle { &h2 } else { &h1 };
            slots.push((
                kind,
                tokio::spawn(attack::slowloris_slot(
                    addr,
                    src,
                    tls.clone(),
                    kind,
                    Duration::from_secs(1),
                    give_up,
                    Duration::from_secs(1),
                    until,
                )),
            ));
        }
    }
    // Meanwhile, connections that never start TLS are closed by its deadline.
    let no_tls: Vec<_> = (0..20)
        .map(|_| {
            tokio::spawn(async move {
                let mut tcp = attack::tcp_from(IpAddr::from([127, 0, 0, 49]), addr)
                    .await
                    .expect("connect");
                let t = Instant::now();
                let mut buf = [0u8; 64];
                let closed = tokio::time::timeout(give_up, tcp.read(&mut buf)).await;
                assert!(
                    matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
                    "a connection without TLS was not closed within {give_up:?}: {closed:?}"
                );
                t.elapsed()
            })
        })
        .collect();
    let gauge = {
        let app = server.app.clone();
        tokio::spawn(async move {
            let mut peak = 0.0f64;
            while Instant::now() < until {
                peak = peak.max(metric(&app.metrics, "altgate_http_open_connections"));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            peak
        })
    };
    tokio::time::sleep(Duration::from_secs(4)).await;
    let mut under_attack = Vec::new();
    for _ in 0..3 {
        under_attack.push(timed_sign_in(addr, &ca).await);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let mut by_kind: BTreeMap<Dribble, Vec<Fate>> = BTreeMap::new();
    for (kind, slot) in slots {
        by_kind
            .entry(kind)
            .or_default()
            .extend(slot.await.expect("join"));
    }
    let open_peak = gauge.await.expect("join");
    let mut no_tls_closed = Vec::new();
    for t in no_tls {
        no_tls_closed.push(t.await.expect("join"));
    }
    eprintln!(
        "  without TLS: {} connections closed after {:?} to {:?}",
        no_tls_closed.len(),
        no_tls_closed.iter().min(),
        no_tls_closed.iter().max()
    );
    // The TLS deadline (4 s), not another one, closed them: the other deadlines are 3 s at most.
    // The client starts its clock a moment after altgate accepted, so allow a little under 4 s.
    assert!(no_tls_closed
        .iter()
        .all(|d| *d >= Duration::from_millis(3_700)));
    eprintln!(
        "slowloris: {} slots from {addresses} addresses; peak open {open_peak}; sign-in quiet {quiet:?}, under attack {under_attack:?}",
        addresses * PER_IP
    );
    for (kind, fates) in &by_kind {
        let closed: Vec<Duration> = fates
            .iter()
            .filter_map(|f| match f {
                Fate::Closed(d) => Some(*d),
                _ => None,
            })
            .collect();
        let held = fates.iter().filter(|f| matches!(f, Fate::Held(_))).count();
        let refused = fates.iter().filter(|f| **f == Fate::Refused).count();
        eprintln!(
            "  {kind:?}: {} connections closed by altgate (longest {:?}), {held} held past {give_up:?}, {refused} refused",
            closed.len(),
            closed.iter().max()
        );
    }
    for (kind, fates) in &by_kind {
        let held = fates.iter().filter(|f| matches!(f, Fate::Held(_))).count();
        assert_eq!(
            held, 0,
            "{kind:?}: {held} attacker connections were still open after {give_up:?}"
        );
        assert!(
            fates.iter().any(|f| matches!(f, Fate::Closed(_))),
            "{kind:?}: no connection was ever made"
        );
    }
    assert!(
        open_peak >= (addresses * PER_IP / 2) as f64,
        "the attack held only {open_peak} connections at once"
    );
    wait_until_no_connections(m).await;
    timed_sign_in(addr, &ca).await;
}
