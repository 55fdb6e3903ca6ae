//! The attacks an internet client can make through a load balancer in front of altgate
//! (`tests/kit/balancer.rs`: it appends `X-Forwarded-For` and passes every other header
//! through, the usual setup), against the real forests: a client cannot choose its address
//! with `Forwarded`, `X-MS-Forwarded-Client-IP`, its own `X-Forwarded-For` or a malformed hop,
//! so it never gets an internal claim, never spends a victim's familiar location or failure
//! budget, never slips past `banned_ips`, and never chooses its activity ID; a hop the load
//! balancer itself cannot name makes the client unknown, never the load balancer.

use super::*;
use crate::kit::balancer::{Appends, LoadBalancer};

/// The load balancer's own address (the only trusted proxy).
const LB: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 10));
/// An internal workstation (inside `federation.internal_networks: [127.0.0.64/26]`).
const OFFICE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 70));
/// The victim's home (outside), where the victim usually signs in.
const HOME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 80));
/// The attacker (outside).
const ATTACKER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 50));
/// A banned address.
const BANNED: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 99));

/// Every way the attacker tries to claim `who`'s address.
fn forgeries(who: &'static str) -> Vec<Vec<(&'static str, String)>> {
    vec![
        vec![("forwarded", format!("for={who}"))],
        vec![("forwarded", format!("for=\"{who}:4711\";proto=https"))],
        vec![("x-ms-forwarded-client-ip", who.to_string())],
        vec![("x-forwarded-for", who.to_string())],
        vec![("x-forwarded-for", format!("{who}, garbage"))],
        vec![
            ("forwarded", format!("for={who}")),
            ("x-ms-forwarded-client-ip", who.to_string()),
            ("x-forwarded-for", format!("{who}, _hidden")),
        ],
    ]
}

fn as_refs<'a>(h: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    h.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

async fn server(extra: &str) -> TestServer {
    let tokens = harness::token_yaml().replace(
        "internal_networks: [127.0.0.0/8]",
        "internal_networks: [127.0.0.64/26]",
    );
    assert!(tokens.contains("127.0.0.64/26"));
    start(
        ", trusted_proxies: [127.0.0.10/32], banned_ips: [127.0.0.99/32]",
        &format!("{tokens}{extra}"),
    )
    .await
}

/// A WS-Trust 1.3 sign-in through `lb` from `src`: status and the RSTR (or fault).
async fn wstrust_via(
    lb: &LoadBalancer,
    src: IpAddr,
    login: &str,
    password: &str,
    headers: &[(&str, &str)],
) -> (u16, Vec<(String, String)>, String) {
    let body = rst(
        "13",
        login,
        password,
        "urn:federation:MicrosoftOnline",
        "",
        0,
    );
    let mut h = vec![("content-type", SOAP)];
    h.extend_from_slice(headers);
    lb.request_from(src, "POST", WSTRUST_13, &h, body.into_bytes())
        .await
}

#[tokio::test]
async fn an_internet_client_behind_the_load_balancer_never_gets_an_internal_claim() {
    let _g = harness::shared().await;
    let s = server("").await;
    let pw = harness::forests().user_password.clone();
    let lb = LoadBalancer::start(LB, LB, s.addr, &s.ca, Appends::ClientAddress).await;
    let inside = |body: &str| claim(body, "insidecorporatenetwork");

    let (status, _, body) = wstrust_via(&lb, OFFICE, "jdoe@contoso.com", &pw, &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        inside(&body).as_deref(),
        Some("true"),
        "an office client is internal"
    );

    for forged in forgeries("127.0.0.70") {
        let (status, _, body) =
            wstrust_via(&lb, ATTACKER, "jdoe@contoso.com", &pw, &as_refs(&forged)).await;
        assert_eq!(status, 200, "{forged:?}: {body}");
        assert_eq!(
            inside(&body).as_deref(),
            Some("false"),
            "{forged:?} made an internet client internal"
        );
    }

    // A client-chosen X-Request-Id is not the activity ID: this load balancer does not set one.
    let (_, headers, _) = wstrust_via(
        &lb,
        ATTACKER,
        "jdoe@contoso.com",
        &pw,
        &[("x-request-id", "chosen-by-the-client")],
    )
    .await;
    let id = crate::kit::http::header(&headers, "x-request-id").expect("activity id");
    assert_ne!(id, "chosen-by-the-client");
    assert_eq!(id.len(), 36, "a generated GUID: {id}");

    // A load balancer that cannot say who the client is (it writes `unknown`): the client is
    // unknown and external, even from the office; never the load balancer itself.
    for literal in ["unknown", "_hidden", "127.0.0.066", "1.2.3.4:abc"] {
        let blind = LoadBalancer::start(LB, LB, s.addr, &s.ca, Appends::Literal(literal)).await;
        let (status, _, body) = wstrust_via(&blind, OFFICE, "jdoe@contoso.com", &pw, &[]).await;
        assert_eq!(status, 200, "{literal}: {body}");
        assert_eq!(inside(&body).as_deref(), Some("false"), "{literal}");
    }
}

#[tokio::test]
async fn a_banned_client_behind_the_load_balancer_cannot_hide_behind_a_forged_address() {
    let _g = harness::shared().await;
    let s = server("").await;
    let pw = harness::forests().user_password.clone();
    let lb = LoadBalancer::start(LB, LB, s.addr, &s.ca, Appends::ClientAddress).await;
    let searches = family_sum(&s.scrape().await, "altgate_directory_searches_total");
    for forged in forgeries("127.0.0.50") {
        let (status, _, body) =
            wstrust_via(&lb, BANNED, "jdoe@contoso.com", &pw, &as_refs(&forged)).await;
        assert_eq!(
            status, 403,
            "{forged:?} let a banned client through: {body}"
        );
    }
    assert_eq!(
        family_sum(&s.scrape().await, "altgate_directory_searches_total"),
        searches,
        "a banned client cost a directory search"
    );
    // And an honest client is not banned because it forged a banned address.
    let (status, _, body) = wstrust_via(
        &lb,
        ATTACKER,
        "jdoe@contoso.com",
        &pw,
        &[("forwarded", "for=127.0.0.99")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn forged_addresses_spend_neither_the_victims_familiar_location_nor_budget() {
    let _g = harness::shared().await;
    // Unfamiliar locations lock at 3 bad passwords, familiar ones at 6; each address may fail 5
    // sign-ins a minute.
    let s = server(
        "extranet_lockout: { mode: enforce, threshold: 3, familiar_threshold: 6, observation_window: 30m, ip_failures_per_minute: 5 }\n",
    )
    .await;
    let pw = harness::forests().user_password.clone();
    let login = "lock-lb@contoso.com";
    let lb = LoadBalancer::start(LB, LB, s.addr, &s.ca, Appends::ClientAddress).await;
    let wrong_binds = || {
        metric(
            &s.app.metrics,
            "altgate_binds_total{domain=\"contoso.com\",result=\"wrong_password\"}",
        )
    };

    // The victim signs in from home: home becomes a familiar location.
    let (status, _, body) = wstrust_via(&lb, HOME, login, &pw, &[]).await;
    assert_eq!(status, 200, "{body}");
    let binds_before = wrong_binds();

    // The attacker guesses twelve times, each claiming the victim's home address some way.
    let all = forgeries("127.0.0.80");
    for i in 0..12 {
        let forged = &all[i % all.len()];
        let (status, _, _) =
            wstrust_via(&lb, ATTACKER, login, "Spray-Guess-2024!", &as_refs(forged)).await;
        assert_eq!(status, 500, "a wrong password is a fault");
    }
    let r = s.app.resolver.resolve(login).await;
    let account = r.account.as_ref().expect("lock-lb resolves");
    let a = s
        .app
        .lockout
        .activity(&altgate::signin::lockout_key(account))
        .await
        .expect("activity");
    assert_eq!(
        a.familiar.count, 0,
        "the attacker's guesses were counted at the victim's familiar location: {a:?}"
    );
    assert!(a.unfamiliar.count >= 3, "{a:?}");
    assert!(
        wrong_binds() - binds_before <= 3.0,
        "{} wrong passwords reached AD; the unfamiliar threshold is 3",
        wrong_binds() - binds_before
    );

    // The victim, at home, still signs in: neither the familiar count nor home's failure budget
    // was spent by the attacker.
    for _ in 0..3 {
        let (status, _, body) = wstrust_via(&lb, HOME, login, &pw, &[]).await;
        assert_eq!(status, 200, "the victim was refused at home: {body}");
    }
}

#[tokio::test]
async fn rotating_forged_addresses_does_not_escape_the_per_address_failure_budget() {
    let _g = harness::shared().await;
    let s = server(
        "extranet_lockout: { mode: enforce, threshold: 5, observation_window: 30m, ip_failures_per_minute: 5 }\n",
    )
    .await;
    let lb = LoadBalancer::start(LB, LB, s.addr, &s.ca, Appends::ClientAddress).await;
    let refused = || {
        metric(
            &s.app.metrics,
            "altgate_sign_in_failures_total{reason=\"address_failure_budget\"}",
        )
    };
    let before = refused();
    // 100 guesses at names that do not exist (so no account's lockout is involved), each
    // claiming a different address three ways.
    for i in 0..100u32 {
        let fake = format!("198.51.100.{}", i % 250 + 1);
        let headers = [
            ("forwarded", format!("for={fake}")),
            ("x-ms-forwarded-client-ip", fake.clone()),
            ("x-forwarded-for", fake.clone()),
        ];
        let (status, _, _) = wstrust_via(
            &lb,
            ATTACKER,
            &format!("nobody-{i}@contoso.com"),
            "Spray-Guess-2024!",
            &as_refs(&headers),
        )
        .await;
        assert_eq!(status, 500);
    }
    let budget = refused() - before;
    assert!(
        budget >= 90.0,
        "the attacker's own address should have run out of budget after 5 failures: only {budget} of 100 refused"
    );
}
