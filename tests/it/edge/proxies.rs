//! Who the client is: only `server.trusted_proxies` may name it (the `insidecorporatenetwork`
//! claim in a real token shows which address was believed), and `server.banned_ips` refuses
//! before any directory work.

use super::*;

#[tokio::test]
async fn only_trusted_proxies_may_name_the_client_and_banned_addresses_cost_no_directory_work() {
    let _g = harness::shared().await;
    // 127.0.0.0/8 (where the tests connect from) is outside the corporate network here.
    let tokens = harness::token_yaml().replace(
        "internal_networks: [127.0.0.0/8]",
        "internal_networks: [10.0.0.0/8]",
    );
    assert!(tokens.contains("[10.0.0.0/8]"));
    let forged: &[(&str, &str)] = &[
        ("x-forwarded-for", "10.1.2.3"),
        ("forwarded", "for=10.1.2.3"),
        ("x-ms-forwarded-client-ip", "10.1.2.3"),
    ];

    // Nobody is trusted: forwarded headers change nothing.
    let direct = start(", banned_ips: [127.0.0.66/32, 203.0.113.0/24]", &tokens).await;
    let (status, body) = sign_in(LOCALHOST, direct.addr, &direct.ca, forged).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        claim(&body, "insidecorporatenetwork").as_deref(),
        Some("false"),
        "an untrusted peer's X-Forwarded-For must not make it internal"
    );
    // Nor can a forged header get someone else's address banned on its behalf, or hide a
    // banned peer.
    let (status, _) = sign_in(
        LOCALHOST,
        direct.addr,
        &direct.ca,
        &[("x-forwarded-for", "203.0.113.9")],
    )
    .await;
    assert_eq!(status, 200);
    let searches = family_sum(&direct.scrape().await, "altgate_directory_searches_total");
    let (status, _) = sign_in(
        IpAddr::from([127, 0, 0, 66]),
        direct.addr,
        &direct.ca,
        &[("x-forwarded-for", "10.1.2.3")],
    )
    .await;
    assert_eq!(status, 403, "a banned peer is refused whatever it forwards");
    assert_eq!(
        family_sum(&direct.scrape().await, "altgate_directory_searches_total"),
        searches,
        "a banned address cost a directory search"
    );

    // 127.0.0.1 is a trusted proxy: what it forwards is the client.
    let proxied = start(
        ", trusted_proxies: [127.0.0.1/32], banned_ips: [203.0.113.0/24]",
        &tokens,
    )
    .await;
    let (status, body) = sign_in(
        LOCALHOST,
        proxied.addr,
        &proxied.ca,
        &[("x-forwarded-for", "10.1.2.3")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        claim(&body, "insidecorporatenetwork").as_deref(),
        Some("true"),
        "the trusted proxy's forwarded address must be honoured"
    );
    let (status, body) = sign_in(LOCALHOST, proxied.addr, &proxied.ca, &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        claim(&body, "insidecorporatenetwork").as_deref(),
        Some("false"),
        "without a forwarded address the client is unknown (never the proxy), so external"
    );
    let searches = family_sum(&proxied.scrape().await, "altgate_directory_searches_total");
    let failures = family_sum(&proxied.scrape().await, "altgate_sign_in_failures_total");
    for headers in [
        &[("x-forwarded-for", "203.0.113.9")][..],
        // What the proxy appended is the client, whatever the client wrote before it.
        &[("x-forwarded-for", "10.1.2.3, 203.0.113.9")][..],
        &[
            ("forwarded", "for=10.1.2.3"),
            ("x-forwarded-for", "203.0.113.9"),
        ][..],
    ] {
        let (status, body) = sign_in(LOCALHOST, proxied.addr, &proxied.ca, headers).await;
        assert_eq!(status, 403, "{headers:?}: {body}");
        assert!(!body.contains("jdoe"));
    }
    let text = proxied.scrape().await;
    assert_eq!(
        family_sum(&text, "altgate_directory_searches_total"),
        searches,
        "a banned address cost a directory search"
    );
    assert_eq!(
        family_sum(&text, "altgate_sign_in_failures_total"),
        failures
    );
    assert_eq!(
        metric(
            &proxied.app.metrics,
            "altgate_http_requests_total{endpoint=\"banned\",status=\"403\"}"
        ),
        3.0
    );
}
