//! The caps and deadlines of [`super`]: which connection makes room at a cap and when none
//! may, IPv6 counted per /64, the bound on connections still closing, and the deadlines a
//! connection is held to before and after its first request.

use super::*;
use std::net::{Ipv4Addr, Ipv6Addr};

fn v4(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, n))
}

/// An address in 2001:db8:0:`net`::/64.
fn v6(net: u16, host: u16) -> IpAddr {
    IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, net, 0, 0, 0, host))
}

fn admit(a: &Arc<Admission>, ip: IpAddr) -> Admitted {
    let (admitted, evicted) = a.admit(ip, true).expect("admitted");
    assert_eq!(evicted, None, "admitted without making room");
    admitted
}

/// Advances the paused clock past millisecond resolution, so that requests order.
async fn later() {
    tokio::time::advance(Duration::from_millis(10)).await;
}

#[test]
fn ipv6_counts_per_64_and_ipv4_mapped_addresses_as_ipv4() {
    assert_eq!(address_key(v4(1)), v4(1));
    assert_ne!(address_key(v4(1)), address_key(v4(2)));
    assert_eq!(address_key(v6(1, 0xa)), address_key(v6(1, 0xb)));
    assert_eq!(
        address_key(IpAddr::V6(Ipv6Addr::new(
            0x2001, 0xdb8, 0, 1, 0xffff, 0xffff, 0xffff, 0xffff
        ))),
        v6(1, 0)
    );
    assert_ne!(address_key(v6(1, 0xa)), address_key(v6(2, 0xa)));
    let mapped = IpAddr::V6(Ipv4Addr::new(192, 0, 2, 1).to_ipv6_mapped());
    assert_eq!(address_key(mapped), v4(1));
    // ::ffff:192.0.2.2 must not share ::/64 with every other mapped address.
    let other = IpAddr::V6(Ipv4Addr::new(192, 0, 2, 2).to_ipv6_mapped());
    assert_ne!(address_key(mapped), address_key(other));
}

#[tokio::test(start_paused = true)]
async fn two_addresses_in_one_ipv6_64_share_the_per_address_cap() {
    let a = Admission::new(16, 2, None);
    let first = admit(&a, v6(1, 1));
    let _first_req = first.liveness().request();
    let second = admit(&a, v6(1, 2));
    let _second_req = second.liveness().request();
    // Both busy: a third address of the /64 is refused, one of another /64 is not.
    assert_eq!(a.admit(v6(1, 3), true).err(), Some(Refused::PerAddress));
    let _elsewhere = admit(&a, v6(2, 3));
    // Once one is idle, a new address in the /64 makes it close.
    drop(_second_req);
    let (_third, evicted) = a.admit(v6(1, 3), true).expect("made room");
    assert_eq!(evicted, Some(Evicted::PerAddress));
    assert!(second.liveness().is_evicted() && !first.liveness().is_evicted());
    assert_eq!(
        a.open(),
        4,
        "the closing connection is open until its task ends"
    );
    drop(second);
    assert_eq!((a.open(), a.closing()), (3, 0));
}

#[tokio::test(start_paused = true)]
async fn at_the_global_cap_the_connection_idle_longest_makes_room_and_busy_ones_never_do() {
    let a = Admission::new(16, 16, None);
    // Twelve busy connections, and four more to watch.
    let busy: Vec<(Admitted, InFlight)> = (100..112)
        .map(|n| {
            let c = admit(&a, v4(n));
            let r = c.liveness().request();
            (c, r)
        })
        .collect();
    let c0 = admit(&a, v4(1));
    later().await;
    let c1 = admit(&a, v4(2));
    later().await;
    let c2 = admit(&a, v4(3));
    later().await;
    let c3 = admit(&a, v4(4));
    // c0 connected first but made a request last; c1 made one before; c2 never did; c3 is
    // busy.
    later().await;
    drop(c1.liveness().request());
    later().await;
    drop(c0.liveness().request());
    later().await;
    let _busy = c3.liveness().request();
    // Keep-alive pings and dribbled bytes do not make a connection younger.
    c2.liveness().touch();
    // Idle longest: c2 (connected before c1's request), then c1, then c0.
    let candidates = [&c0, &c1, &c2];
    let mut order = Vec::new();
    let mut newcomers = Vec::new();
    for n in 10..13 {
        let (newcomer, evicted) = a.admit(v4(n), true).expect("made room");
        assert_eq!(evicted, Some(Evicted::MaxConnections));
        // The newcomers are busy at once, so they are not chosen next.
        let req = newcomer.liveness().request();
        newcomers.push((newcomer, req));
        let newly: Vec<usize> = (0..3)
            .filter(|i| candidates[*i].liveness().is_evicted() && !order.contains(i))
            .collect();
        assert_eq!(newly.len(), 1, "one connection makes room per newcomer");
        order.push(newly[0]);
    }
    assert_eq!(order, [2, 1, 0]);
    assert!(!c3.liveness().is_evicted());
    // Every live connection busy: refused, and nothing is asked to close.
    assert_eq!(a.admit(v4(20), true).err(), Some(Refused::MaxConnections));
    assert!(!c3.liveness().is_evicted());
    // Trusted proxies skip the per-address cap, never the global one.
    assert_eq!(a.admit(v4(20), false).err(), Some(Refused::MaxConnections));
    assert_eq!((a.open(), a.closing()), (19, 3));
    assert!(busy.iter().all(|(c, _)| !c.liveness().is_evicted()));
}

#[tokio::test(start_paused = true)]
async fn at_most_a_quarter_of_the_cap_may_be_closing_at_once() {
    let a = Admission::new(16, 1000, None);
    let idle: Vec<Admitted> = (0..16).map(|i| admit(&a, v4(i))).collect();
    later().await;
    let mut newcomers = Vec::new();
    for i in 0..4 {
        let (c, evicted) = a.admit(v4(100 + i), true).expect("made room");
        assert_eq!(evicted, Some(Evicted::MaxConnections));
        newcomers.push(c);
    }
    assert_eq!((a.open(), a.closing()), (20, 4));
    // Twelve idle connections left, but four are still closing: refused.
    assert_eq!(a.admit(v4(200), true).err(), Some(Refused::MaxConnections));
    // One closes for good: room again.
    let mut idle = idle;
    let gone = idle
        .iter()
        .position(|c| c.liveness().is_evicted())
        .expect("an evicted connection");
    drop(idle.swap_remove(gone));
    let (_c, evicted) = a.admit(v4(200), true).expect("made room");
    assert_eq!(evicted, Some(Evicted::MaxConnections));
}

#[tokio::test(start_paused = true)]
async fn slots_are_released_on_drop_and_drained_waits_for_closing_connections() {
    let a = Admission::new(16, 1, None);
    let c1 = admit(&a, v4(1));
    let _c2 = admit(&a, v4(2));
    assert_eq!(a.open(), 2);
    drop(c1);
    assert_eq!(a.open(), 1);
    // Its per-address count is back too.
    let c1 = admit(&a, v4(1));
    let (c1b, evicted) = a.admit(v4(1), true).expect("made room");
    assert_eq!(evicted, Some(Evicted::PerAddress));
    assert!(c1.liveness().is_evicted());
    c1.liveness().evicted().await;
    let drained = {
        let a = a.clone();
        tokio::spawn(async move { a.drained().await })
    };
    drop((c1, c1b, _c2));
    tokio::time::timeout(Duration::from_secs(1), drained)
        .await
        .expect("drained once all are dropped")
        .expect("join");
    assert_eq!((a.open(), a.closing()), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn an_eviction_wakes_the_connection_whether_or_not_it_is_waiting() {
    let act = Liveness::new();
    let waiting = {
        let act = act.clone();
        tokio::spawn(async move { act.evicted().await })
    };
    tokio::task::yield_now().await;
    act.evict();
    tokio::time::timeout(Duration::from_secs(1), waiting)
        .await
        .expect("woken")
        .expect("join");
    // A later wait returns at once.
    tokio::time::timeout(Duration::from_secs(1), act.evicted())
        .await
        .expect("already evicted");
}

fn limits(first_request: u64, header_read: u64, idle: u64) -> Limits {
    Limits {
        first_request_timeout: Duration::from_secs(first_request),
        header_read_timeout: Duration::from_secs(header_read),
        idle_timeout: Duration::from_secs(idle),
        ..Limits::default()
    }
}

#[tokio::test(start_paused = true)]
async fn the_first_request_is_due_by_its_deadline_from_accept_and_header_read_from_tls() {
    let act = Liveness::new();
    let t0 = act.accepted();
    // TLS takes 3 s; then bytes dribble in every second (a slow preface, pings): the first
    // request is still due at the same time.
    tokio::time::advance(Duration::from_secs(3)).await;
    act.ready();
    for _ in 0..3 {
        tokio::time::advance(Duration::from_secs(1)).await;
        act.touch();
    }
    let l = limits(5, 10, 60);
    assert_eq!(act.idle_deadline(&l), t0 + Duration::from_secs(5));
    assert_eq!(
        act.idle_deadline(&limits(30, 10, 60)),
        t0 + Duration::from_secs(13)
    );
    // A silent connection closes `idle` after its last byte if that comes first.
    let quiet = Liveness::new();
    assert_eq!(
        quiet.idle_deadline(&limits(5, 10, 3)),
        quiet.last() + Duration::from_secs(3)
    );
}

#[tokio::test(start_paused = true)]
async fn after_a_request_the_idle_timeout_holds_not_the_first_request_deadline() {
    let l = limits(5, 10, 60);
    let act = Liveness::new();
    // A browser's GET of the sign-in form ...
    drop(act.request());
    let end = act.last_request();
    // ... then 30 s of a user typing, with HTTP/2 pings: the connection is not due before
    // `idle_timeout` after the GET.
    for _ in 0..30 {
        tokio::time::advance(Duration::from_secs(1)).await;
        act.touch();
    }
    assert_eq!(act.idle_deadline(&l), end + Duration::from_secs(60));
    assert!(act.idle_deadline(&l) > tokio::time::Instant::now());
    // The gap allowed is the longer of idle and header-read.
    assert_eq!(
        act.idle_deadline(&limits(5, 10, 3)),
        (act.last() + Duration::from_secs(3)).min(end + Duration::from_secs(10))
    );
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
    assert!(!act.busy() && act.has_requested());
    assert!(act.last() >= t0 + Duration::from_secs(5));
}
