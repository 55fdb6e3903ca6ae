//! Directory faults against the real forests: failover between global catalogs, TLS
//! verification, a wrong service password, servers that never answer, and a domain controller
//! stopped mid-run and started again.

use crate::harness::{self, metric, ForestSpec};
use crate::kit::config::sample;
use altgate::directory::DirectoryError;
use altgate::resolve::{Outcome, Via};
use std::time::Duration;
use tokio::time::timeout;

/// Liveness bound for a resolution while a forest is down (not a speed assertion: the
/// configured timeouts are far below it, and a hang would otherwise stall the suite).
const BOUND: Duration = Duration::from_secs(20);

const FAST: &str = "directory: { connect_timeout: 1s, operation_timeout: 2s, retry_backoff: 500ms, pool_size: 2 }\n";

/// An app whose contoso forest is `contoso` (a broken variant) beside the real fabrikam.
fn app_with_contoso(contoso: ForestSpec) -> std::sync::Arc<altgate::App> {
    harness::app(&harness::config_yaml(
        &[contoso, ForestSpec::real("fabrikam.com")],
        &["contoso.com", "fabrikam.com"],
        FAST,
    ))
}

/// fabrikam's user resolves in bounded time and contoso is reported unreachable.
async fn fabrikam_resolves_without_contoso(app: &altgate::App) {
    let r = timeout(BOUND, app.resolver.resolve("fuser@fabrikam.com"))
        .await
        .expect("bounded");
    assert_eq!(r.outcome, Outcome::Resolved, "{r:?}");
    assert_eq!(r.unreachable_forests, vec!["contoso.com".to_string()]);
}

#[tokio::test]
async fn fails_over_to_the_next_global_catalog() {
    let _g = harness::shared().await;
    let mut contoso = ForestSpec::real("contoso.com");
    // Nothing listens on port 1: connection refused, then the real GC answers.
    contoso
        .global_catalogs
        .insert(0, "ldaps://127.0.0.2:1".into());
    let app = app_with_contoso(contoso);
    let r = app.resolver.resolve("jdoe@contoso.com").await;
    assert_eq!(r.outcome, Outcome::Resolved, "{r:?}");
    assert!(r.unreachable_forests.is_empty());
    assert_eq!(
        metric(
            &app.metrics,
            "altgate_directory_failovers_total{forest=\"contoso.com\"}"
        ),
        1.0
    );
    assert_eq!(
        metric(
            &app.metrics,
            "altgate_directory_server_up{forest=\"contoso.com\",server=\"ldaps://127.0.0.2:1\"}"
        ),
        0.0
    );
    assert_eq!(
        metric(
            &app.metrics,
            "altgate_directory_server_up{forest=\"contoso.com\",server=\"ldaps://127.0.0.2:3269\"}"
        ),
        1.0
    );
    // While the dead GC backs off, the next search goes straight to the healthy one.
    let r = app.resolver.resolve("mixed.case@contoso.com").await;
    assert_eq!(r.outcome, Outcome::Resolved);
}

#[tokio::test]
async fn password_binds_fail_over_to_the_next_domain_controller() {
    let _g = harness::shared().await;
    let mut contoso = ForestSpec::real("contoso.com");
    contoso
        .domain_controllers
        .insert(0, "ldaps://127.0.0.2:1".into());
    let app = app_with_contoso(contoso);
    let pw = harness::forests().user_password.clone();
    let signed = harness::sign_in(&app, "jdoe@contoso.com", &pw).await;
    assert!(signed.is_ok(), "{signed:?}");
    // A wrong password is AD's answer, never retried on another DC.
    let refused = harness::sign_in(&app, "mixed.case@contoso.com", "Not-The-Password-7").await;
    assert_eq!(
        refused.err(),
        Some(altgate::signin::SignInFailure::Rejected(
            altgate::directory::BindRejection::WrongPassword
        ))
    );
    assert_eq!(
        metric(
            &app.metrics,
            "altgate_binds_total{domain=\"contoso.com\",result=\"ok\"}"
        ),
        1.0
    );
    assert_eq!(
        metric(
            &app.metrics,
            "altgate_directory_server_up{forest=\"contoso.com\",server=\"ldaps://127.0.0.2:1\"}"
        ),
        0.0
    );
}

#[tokio::test]
async fn a_certificate_from_the_wrong_ca_is_refused() {
    let _g = harness::shared().await;
    let mut contoso = ForestSpec::real("contoso.com");
    contoso.ca_file = harness::forests().get("fabrikam.com").ca_file.clone();
    let app = app_with_contoso(contoso);
    fabrikam_resolves_without_contoso(&app).await;
    let r = app.resolver.resolve("jdoe@contoso.com").await;
    assert_ne!(
        r.outcome,
        Outcome::Resolved,
        "an unverified DC must never answer: {r:?}"
    );
    assert_eq!(
        metric(&app.metrics, "altgate_ldap_connects_total{forest=\"contoso.com\",result=\"ok\",server=\"ldaps://127.0.0.2:3269\"}"),
        0.0
    );
    assert!(
        metric(&app.metrics, "altgate_ldap_connects_total{forest=\"contoso.com\",result=\"error\",server=\"ldaps://127.0.0.2:3269\"}") >= 1.0,
        "the refused handshake is counted"
    );
    assert_eq!(
        metric(&app.metrics, "altgate_forest_up{forest=\"contoso.com\"}"),
        0.0
    );
}

#[tokio::test]
async fn a_wrong_service_password_makes_the_forest_unreachable_not_a_crash() {
    let _g = harness::shared().await;
    let mut contoso = ForestSpec::real("contoso.com");
    contoso.password = "Definitely-Wrong-Pw9".into();
    let app = app_with_contoso(contoso);
    let r = app.resolver.resolve("fuser@fabrikam.com").await;
    assert_eq!(r.outcome, Outcome::Resolved);
    assert_eq!(r.unreachable_forests, vec!["contoso.com".to_string()]);
    let rendered = format!("{r:?}{}", app.metrics.render());
    assert!(!rendered.contains("Definitely-Wrong-Pw9"));
}

#[tokio::test]
async fn servers_that_never_answer_cost_one_connect_timeout() {
    let _g = harness::shared().await;
    // Accepts TCP and then says nothing: the TLS handshake can never finish.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = silent.local_addr().expect("addr");
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let mut contoso = ForestSpec::real("contoso.com");
    contoso.global_catalogs = vec![format!("ldaps://127.0.0.1:{}", addr.port())];
    contoso.ca_file = harness::forests().get("contoso.com").ca_file.clone();
    let app = app_with_contoso(contoso);
    fabrikam_resolves_without_contoso(&app).await;
    holder.abort();
}

#[tokio::test]
async fn no_reachable_directory_at_all_is_an_error_not_a_guess() {
    let _g = harness::shared().await;
    let mut contoso = ForestSpec::real("contoso.com");
    contoso.global_catalogs = vec!["ldaps://127.0.0.9:3269".into()];
    let mut fabrikam = ForestSpec::real("fabrikam.com");
    fabrikam.global_catalogs = vec!["ldaps://127.0.0.9:3270".into()];
    let yaml = harness::config_yaml(&[contoso, fabrikam], &["contoso.com", "fabrikam.com"], FAST);
    let app = harness::app(&yaml);
    let r = timeout(BOUND, app.resolver.resolve("jdoe@contoso.com"))
        .await
        .expect("bounded");
    assert_eq!(r.outcome, Outcome::Error);
    assert_eq!(
        r.failure.as_ref().map(|f| f.code.as_str()),
        Some("directory_unavailable")
    );
    assert_eq!(
        r.upn_fallback.map(|f| f.as_str()),
        Some("no_forest_answered")
    );
    assert_eq!(r.unreachable_forests.len(), 2);
    // Not cached: a second attempt asks the directory again.
    let before = metric(
        &app.metrics,
        "altgate_cache_requests_total{result=\"miss\"}",
    );
    app.resolver.resolve("jdoe@contoso.com").await;
    assert_eq!(
        metric(
            &app.metrics,
            "altgate_cache_requests_total{result=\"miss\"}"
        ),
        before + 1.0
    );
}

#[tokio::test]
async fn a_forest_stopped_mid_run_is_skipped_and_rejoins_when_it_returns() {
    let _g = harness::exclusive().await;
    let app = harness::app(&harness::both_forests_yaml(&format!(
        "cache: {{ max_entries: 0 }}\n{FAST}"
    )));
    // Warm both pools, the bind pool included.
    let pw = harness::forests().user_password.clone();
    assert!(harness::sign_in(&app, "jdoe@contoso.com", &pw)
        .await
        .is_ok());
    assert_eq!(
        app.resolver.resolve("fuser@fabrikam.com").await.outcome,
        Outcome::Resolved
    );

    let ok_connects = "altgate_ldap_connects_total{forest=\"contoso.com\",result=\"ok\",server=\"ldaps://127.0.0.2:3269\"}";
    let connected_before = metric(&app.metrics, ok_connects);
    assert!(connected_before >= 1.0);
    // The account a password bind goes to contoso's DC for, read while the forest is up.
    let jdoe = app
        .resolver
        .resolve("jdoe@contoso.com")
        .await
        .account
        .clone()
        .expect("jdoe resolves");
    let dc_up = format!(
        "altgate_directory_server_up{{forest=\"contoso.com\",server=\"{}\"}}",
        harness::forests().get("contoso.com").dc_url
    );
    const DOWN_EVENTS: &str =
        "altgate_events_total{category=\"operational\",event=\"directory_server_down\"}";
    const UP_EVENTS: &str =
        "altgate_events_total{category=\"operational\",event=\"directory_server_up\"}";
    harness::stop_forest("contoso");
    let during = app.clone();
    let (bind_pw, bind_account, dc_up_during) = (pw.clone(), jdoe, dc_up.clone());
    let outcome = async move {
        let app = during;
        let r = timeout(BOUND, app.resolver.resolve("fuser@fabrikam.com"))
            .await
            .expect("bounded");
        assert_eq!(r.outcome, Outcome::Resolved, "{r:?}");
        assert_eq!(r.via, Some(Via::AlternateLoginId));
        assert_eq!(r.unreachable_forests, vec!["contoso.com".to_string()]);
        // FABRIKAM\jdoe needs only fabrikam's domain list and GC.
        let r = timeout(BOUND, app.resolver.resolve("FABRIKAM\\jdoe"))
            .await
            .expect("bounded");
        assert_eq!(r.outcome, Outcome::Resolved, "{r:?}");
        // contoso's own user cannot be found while its forest is down, and that is said.
        let r = timeout(BOUND, app.resolver.resolve("jdoe@contoso.com"))
            .await
            .expect("bounded");
        assert_ne!(r.outcome, Outcome::Resolved);
        assert!(r.unreachable_forests.contains(&"contoso.com".to_string()));
        assert_eq!(
            metric(&app.metrics, "altgate_forest_up{forest=\"contoso.com\"}"),
            0.0
        );
        assert_eq!(
            metric(&app.metrics, "altgate_forest_up{forest=\"fabrikam.com\"}"),
            1.0
        );
        // The bind path sees contoso's DC go down too: one event, the gauge at 0, however many
        // binds fail (the second one is skipped during the backoff).
        let downs = metric(&app.metrics, DOWN_EVENTS);
        for _ in 0..2 {
            let r = timeout(
                BOUND,
                app.directory.bind(
                    altgate::directory::AccountRef::new(
                        "contoso.com",
                        &bind_account.domain,
                        &bind_account.distinguished_name,
                    ),
                    &bind_pw,
                ),
            )
            .await
            .expect("bounded");
            assert!(
                matches!(r, Err(DirectoryError::Unreachable { .. })),
                "{r:?}"
            );
        }
        assert_eq!(
            metric(&app.metrics, DOWN_EVENTS),
            downs + 1.0,
            "the DC going down on the bind path is announced once"
        );
        assert_eq!(metric(&app.metrics, &dc_up_during), 0.0);
    };
    // Whatever happens above, bring the DC back for the other tests.
    let result = tokio::spawn(outcome).await;
    harness::start_forest("contoso");
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }

    // Reconnection without restarting altgate: the pooled connections died with the DC.
    let ups = metric(&app.metrics, UP_EVENTS);
    let back = timeout(Duration::from_secs(60), async {
        loop {
            let r = app.resolver.resolve("jdoe@contoso.com").await;
            if r.outcome == Outcome::Resolved && r.unreachable_forests.is_empty() {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    })
    .await
    .expect("contoso rejoins after its DC restarts");
    assert_eq!(
        back.account.as_ref().map(|a| a.sam_account_name.as_str()),
        Some("jdoe")
    );
    // The pooled bind connection died with the DC; the next sign-in still succeeds. The global
    // catalog and the DC coming back are announced once each: the DC by whichever path reached
    // it first (the resolution's read of the account's non-GC attributes, or the bind).
    let signed = harness::sign_in(&app, "jdoe@contoso.com", &pw).await;
    assert!(signed.is_ok(), "{signed:?}");
    let signed = harness::sign_in(&app, "jdoe@contoso.com", &pw).await;
    assert!(signed.is_ok(), "{signed:?}");
    assert_eq!(
        metric(&app.metrics, UP_EVENTS),
        ups + 2.0,
        "the GC and the DC coming back are announced once each"
    );
    assert_eq!(metric(&app.metrics, &dc_up), 1.0);
    assert_eq!(
        metric(&app.metrics, "altgate_forest_up{forest=\"contoso.com\"}"),
        1.0
    );
    assert!(
        metric(&app.metrics, ok_connects) > connected_before,
        "a new connection was opened after the restart"
    );
}

#[tokio::test]
async fn readiness_and_server_health_follow_a_stopped_forest_without_traffic() {
    let _g = harness::exclusive().await;
    let server = harness::TestServer::start(
        "directory: { health_check_interval: 1s, connect_timeout: 1s, operation_timeout: 2s, retry_backoff: 500ms }\n",
    )
    .await;
    let ready = |want: u16| {
        let server = &server;
        async move {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
            loop {
                let (status, body) = server.admin_get("/ready", Some(harness::ADMIN_TOKEN)).await;
                if status == want {
                    return body;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "/ready stayed {status}: {body}"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    assert_eq!(ready(200).await, "ready\n");
    let dc = harness::forests().get("contoso.com").dc_url.clone();
    let dc_up = format!("altgate_directory_server_up{{forest=\"contoso.com\",server=\"{dc}\"}}");
    let before = server.scrape().await;
    // No sign-in, no search, from here on: only the background check.
    let traffic = |m: &str| {
        crate::kit::config::total(m, "altgate_directory_searches_total", "")
            + crate::kit::config::total(m, "altgate_binds_total", "")
    };

    harness::stop_forest("contoso");
    let checked = async {
        let body = ready(503).await;
        assert!(
            body.contains("forest contoso.com: no global catalog answers"),
            "{body}"
        );
        let (status, health) = server
            .admin_get("/health", Some(harness::ADMIN_TOKEN))
            .await;
        assert_eq!(status, 503);
        let h: serde_json::Value = serde_json::from_str(&health).expect("json");
        let forests = h["forests"].as_array().expect("forests");
        let contoso = forests
            .iter()
            .find(|f| f["name"] == "contoso.com")
            .expect("contoso");
        let fabrikam = forests
            .iter()
            .find(|f| f["name"] == "fabrikam.com")
            .expect("fabrikam");
        assert_eq!(contoso["up"], false, "{h}");
        assert!(contoso["servers"]
            .as_array()
            .expect("servers")
            .iter()
            .all(|s| s["up"] == false));
        assert_eq!(fabrikam["up"], true, "{h}");
        // The DC is marked down by the check, without a password bind.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let m = server.scrape().await;
            if sample(&m, &dc_up) == Some(0.0) {
                assert_eq!(traffic(&m), traffic(&before), "no user paid for it");
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "DC never marked down"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    // Whatever happens above, bring the forest back for the other tests.
    let result = futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(
        tokio::time::timeout(Duration::from_secs(90), checked),
    ))
    .await;
    harness::start_forest("contoso");
    match result {
        Ok(r) => r.expect("bounded"),
        Err(panic) => std::panic::resume_unwind(panic),
    }

    // Back without traffic.
    assert_eq!(ready(200).await, "ready\n");
    let m = server.scrape().await;
    assert_eq!(sample(&m, &dc_up), Some(1.0));
    assert_eq!(traffic(&m), traffic(&before), "recovered without a sign-in");
}
