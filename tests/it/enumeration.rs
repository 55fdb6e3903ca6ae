//! What an attacker learns from failing: nothing. Failures of every cause take the same time
//! (measured interleaved on one connection against the real forests), also right after the
//! attacker has flooded the DC's bind slots with slow wrong passwords; a disabled account's
//! right password takes what a wrong one takes and counts like one for extranet lockout; a NUL
//! cannot cut a password short, an oversize login cannot inflate the log, and a stranger's
//! spelling of a login never reaches another person's token.

use crate::ad_users;
use crate::harness::{self, metric, TestServer};
use crate::kit::logs::logged;
use crate::wstrust::rst;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};

const SOAP: &str = "application/soap+xml; charset=utf-8";
const M365: &str = "urn:federation:MicrosoftOnline";

/// One WS-Trust request on a kept-alive connection: status, body, client-visible latency.
async fn timed_post(
    sender: &mut hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    body: String,
) -> (u16, String, std::time::Duration) {
    let req = hyper::Request::post("/adfs/services/trust/13/usernamemixed")
        .header("host", "localhost")
        .header("content-type", SOAP)
        .body(Full::new(Bytes::from(body)))
        .expect("request");
    let start = std::time::Instant::now();
    let res = sender.send_request(req).await.expect("response");
    let status = res.status().as_u16();
    let body = res.into_body().collect().await.expect("body").to_bytes();
    let took = start.elapsed();
    (status, String::from_utf8_lossy(&body).into_owned(), took)
}

fn median(mut v: Vec<std::time::Duration>) -> std::time::Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

#[tokio::test]
async fn every_credential_failure_takes_the_time_of_a_wrong_password() {
    // Alone: other tests' load would only add noise to both sides.
    let _g = harness::exclusive().await;
    let server = TestServer::start("").await;
    let pw = harness::forests().user_password.clone();
    let mut sender = harness::tls_sender(server.addr, &server.ca).await;
    let cases = [
        ("jdoe@contoso.com", "Wrong-Password-1"),
        ("nobody@contoso.com", pw.as_str()),
        ("cross@example.com", pw.as_str()),
        ("disabled@contoso.com", pw.as_str()),
    ];
    // Warm the caches and the wrong-password samples the others are held to.
    for _ in 0..60 {
        for (login, password) in cases {
            let (status, _, _) =
                timed_post(&mut sender, rst("13", login, password, M365, "", 0)).await;
            assert_eq!(status, 500);
        }
    }
    // A real difference (an unknown login answered before any bind: 0.2 ms against 1.3 ms
    // before the equaliser) shows in every measurement; a busy machine's noise rarely shows in
    // three in a row, so up to three measurements are made and one within 10% passes.
    let rounds = 300;
    let mut reports = Vec::new();
    for _attempt in 0..3 {
        let mut times: Vec<Vec<std::time::Duration>> = vec![Vec::new(); cases.len()];
        for round in 0..rounds {
            // Rotate the order each round so no case always follows another.
            for k in 0..cases.len() {
                let i = (round + k) % cases.len();
                let (login, password) = cases[i];
                let (status, body, took) =
                    timed_post(&mut sender, rst("13", login, password, M365, "", 0)).await;
                assert_eq!(status, 500, "{login}");
                assert!(body.contains("a:FailedAuthentication"), "{login}");
                times[i].push(took);
            }
        }
        let medians: Vec<std::time::Duration> = times.into_iter().map(median).collect();
        let reference = medians[0].as_secs_f64();
        let report: Vec<String> = cases
            .iter()
            .zip(&medians)
            .map(|((login, _), m)| format!("{login}: {:.3} ms", m.as_secs_f64() * 1e3))
            .collect();
        let within = medians.iter().all(|m| {
            let ratio = m.as_secs_f64() / reference;
            (0.9..=1.1).contains(&ratio)
        });
        eprintln!("client-visible medians over {rounds} interleaved rounds: {report:?}");
        if within {
            return;
        }
        reports.push(report);
    }
    panic!("medians differ by more than 10% in each of three measurements: {reports:?}");
}

#[tokio::test]
async fn a_nul_in_a_password_is_refused_before_any_bind() {
    let _g = harness::shared().await;
    let server = TestServer::start_with_relying_parties(
        "  - { identifier: 'urn:wsfed:nul-test', token_type: saml11, reply_urls: ['https://rp.altgate.test/wsfed'] }\n",
    )
    .await;
    let pw = harness::forests().user_password.clone();
    let m = &server.app.metrics;
    let binds = |m: &altgate::metrics::Metrics| {
        metric(
            m,
            "altgate_binds_total{domain=\"contoso.com\",result=\"ok\"}",
        )
    };
    // XML cannot carry a NUL, but a DEL or a newline-terminated password can be sent, and the
    // browser form can send %00. WS-Trust first:
    let before = binds(m);
    let (status, body) = server
        .request(
            "POST",
            "/adfs/services/trust/13/usernamemixed",
            Some(SOAP),
            rst(
                "13",
                "jdoe@contoso.com",
                &format!("{pw}\u{7f}junk"),
                M365,
                "",
                0,
            )
            .into_bytes(),
        )
        .await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(binds(m), before, "no bind for a control character");
    // The browser form with a NUL after the right password: a DC would cut it there and
    // accept the prefix.
    let start = format!(
        "/adfs/ls/?wa=wsignin1.0&wtrealm={}",
        form_urlencoded::byte_serialize(b"urn:wsfed:nul-test").collect::<String>()
    );
    let (status, headers, page) = server.browse("GET", &start, "", None).await;
    assert_eq!(status, 200, "{page}");
    let csrf_cookie = harness::set_cookie(&headers, "__Host-altgate-csrf").expect("csrf");
    let field = |name: &str| crate::kit::html::hidden(&page, name).expect(name);
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("UserName", "jdoe@contoso.com"),
            ("Password", &format!("{pw}\0junk")),
            ("AuthMethod", "FormsAuthentication"),
            ("csrf", &field("csrf")),
            ("ctx", &field("ctx")),
        ])
        .finish()
        .into_bytes();
    let (status, _, done) = server
        .browse("POST", "/adfs/ls/", &csrf_cookie, Some(body))
        .await;
    assert_eq!(status, 200);
    assert!(!done.contains("wresult"), "no token for a NUL-cut password");
    assert_eq!(binds(m), before);
    assert_eq!(
        metric(
            m,
            "altgate_sign_in_failures_total{reason=\"password_control_character\"}"
        ),
        2.0
    );
}

#[tokio::test]
async fn an_oversize_login_writes_a_bounded_audit_record() {
    let _g = harness::shared().await;
    let server = TestServer::start("").await;
    let huge = format!("{}@contoso.com", "a".repeat(62_000));
    let ((status, _), bytes) = logged(server.request(
        "POST",
        "/adfs/services/trust/13/usernamemixed",
        Some(SOAP),
        rst("13", &huge, "Wrong-Password-1", M365, "", 0).into_bytes(),
    ))
    .await;
    assert_eq!(status, 500);
    assert!(bytes > 0, "the failure is audited");
    assert!(
        bytes < 8 * 1024,
        "one failed sign-in wrote {bytes} bytes of log for a 62,000-character login"
    );
}

#[tokio::test]
async fn a_strangers_spelling_never_reaches_another_persons_token() {
    let _g = harness::shared().await;
    let server = TestServer::start("").await;
    let pw = harness::forests().user_password.clone();
    // The attacker's odd spelling reaches the resolution cache first (a failed attempt).
    let (status, _) = server
        .request(
            "POST",
            "/adfs/services/trust/13/usernamemixed",
            Some(SOAP),
            rst("13", "JdOe@CoNtOsO.cOm", "Wrong-Password-1", M365, "", 0).into_bytes(),
        )
        .await;
    assert_eq!(status, 500);
    let (status, body) = server
        .request(
            "POST",
            "/adfs/services/trust/13/usernamemixed",
            Some(SOAP),
            rst("13", "jdoe@contoso.com", &pw, M365, "", 0).into_bytes(),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("<saml:AttributeValue>jdoe@contoso.com</saml:AttributeValue>"),
        "the token carries this request's spelling: {body}"
    );
    assert!(!body.contains("JdOe@CoNtOsO.cOm"), "{body}");
}

/// The `q` quantile (nearest rank) of `v`.
fn quantile(v: &[std::time::Duration], q: f64) -> std::time::Duration {
    let mut v = v.to_vec();
    v.sort();
    let i = ((v.len().saturating_sub(1)) as f64 * q).round() as usize;
    v.get(i).copied().unwrap_or_default()
}

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Median and p90 of `case` within 10% of those of `reference`; a one-line report either way.
fn within_ten_percent(
    reference: (&str, &[std::time::Duration]),
    case: (&str, &[std::time::Duration]),
) -> (bool, String) {
    let mut ok = true;
    let mut report = Vec::new();
    for (name, q) in [("median", 0.5), ("p90", 0.9)] {
        let (r, c) = (quantile(reference.1, q), quantile(case.1, q));
        let ratio = c.as_secs_f64() / r.as_secs_f64().max(1e-9);
        ok &= (0.9..=1.1).contains(&ratio);
        report.push(format!(
            "{name} {} {:.2} ms, {} {:.2} ms",
            reference.0,
            ms(r),
            case.0,
            ms(c)
        ));
    }
    (ok, report.join("; "))
}

/// Kolmogorov-Smirnov distance between two samples (for the report).
fn ks_distance(a: &[std::time::Duration], b: &[std::time::Duration]) -> f64 {
    let (mut a, mut b) = (a.to_vec(), b.to_vec());
    a.sort();
    b.sort();
    let (mut i, mut j, mut d) = (0, 0, 0.0f64);
    while i < a.len() && j < b.len() {
        let x = a[i].min(b[j]);
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / a.len() as f64 - j as f64 / b.len() as f64).abs());
    }
    d
}

/// Existing contoso accounts an attacker floods with wrong passwords.
const FLOOD_LOGINS: [&str; 4] = [
    "jdoe@contoso.com",
    "alice@contoso.com",
    "mixed.case@contoso.com",
    "nomail@corp.contoso.local",
];

/// `n` wrong passwords for existing accounts at once, each on its own connection (set up first),
/// so that they queue behind the DC's bind slots. Returns their client-visible durations.
async fn slow_bind_flood(server: &TestServer, n: usize) -> Vec<std::time::Duration> {
    let mut senders = Vec::with_capacity(n);
    for _ in 0..n {
        senders.push(harness::tls_sender(server.addr, &server.ca).await);
    }
    let go = std::sync::Arc::new(tokio::sync::Barrier::new(n));
    let tasks: Vec<_> = senders
        .into_iter()
        .enumerate()
        .map(|(i, mut sender)| {
            let go = go.clone();
            let login = FLOOD_LOGINS[i % FLOOD_LOGINS.len()];
            tokio::spawn(async move {
                go.wait().await;
                let body = rst("13", login, &format!("Flood-Guess-{i}"), M365, "", 0);
                let (status, _, took) = timed_post(&mut sender, body).await;
                assert_eq!(status, 500, "{login}");
                took
            })
        })
        .collect();
    let mut took = Vec::with_capacity(n);
    for t in tasks {
        took.push(t.await.expect("flood request"));
    }
    took
}

/// The attack: flood the DC's bind slots (two here) with slow wrong passwords, then tell unknown
/// logins from existing ones by how long their failures take. Unknown logins must stay held to
/// what a wrong password takes now, not to what the attacker's queued binds took.
#[tokio::test]
async fn an_attackers_queued_binds_do_not_set_the_time_of_unknown_logins() {
    let _g = harness::exclusive().await;
    let server = TestServer::start(
        "directory: { max_concurrent_binds_per_dc: 2, bind_queue_timeout: 30s }\n",
    )
    .await;
    let mut sender = harness::tls_sender(server.addr, &server.ca).await;
    let cases = [
        ("jdoe@contoso.com", "Wrong-Password-1"),
        ("nobody@contoso.com", "Wrong-Password-1"),
    ];
    // Ordinary traffic before the attack.
    for _ in 0..40 {
        for (login, password) in cases {
            let (status, _, _) =
                timed_post(&mut sender, rst("13", login, password, M365, "", 0)).await;
            assert_eq!(status, 500);
        }
    }
    // Each measurement: three times a flood, then probes right after it, as an attacker would.
    let (floods, rounds) = (3, 50);
    let mut reports = Vec::new();
    for _attempt in 0..3 {
        let mut times: Vec<Vec<std::time::Duration>> = vec![Vec::new(); cases.len()];
        let mut flooded = Vec::new();
        for _ in 0..floods {
            flooded.extend(slow_bind_flood(&server, 160).await);
            for round in 0..rounds {
                for k in 0..cases.len() {
                    let i = (round + k) % cases.len();
                    let (login, password) = cases[i];
                    let (status, body, took) =
                        timed_post(&mut sender, rst("13", login, password, M365, "", 0)).await;
                    assert_eq!(status, 500, "{login}");
                    assert!(body.contains("a:FailedAuthentication"), "{login}");
                    times[i].push(took);
                }
            }
        }
        let (ok, report) = within_ten_percent(
            ("existing", times[0].as_slice()),
            ("unknown", times[1].as_slice()),
        );
        let deciles = |v: &[std::time::Duration]| {
            (1..10)
                .map(|d| format!("{:.2}", ms(quantile(v, d as f64 / 10.0))))
                .collect::<Vec<_>>()
                .join(" ")
        };
        eprintln!(
            "deciles: existing {}; unknown {}",
            deciles(&times[0]),
            deciles(&times[1])
        );
        let report = format!(
            "flood median {:.1} ms p90 {:.1} ms; after it: {report}; KS {:.2}",
            ms(quantile(&flooded, 0.5)),
            ms(quantile(&flooded, 0.9)),
            ks_distance(&times[0], &times[1])
        );
        eprintln!("{report}");
        if ok {
            return;
        }
        reports.push(report);
    }
    panic!("unknown logins differ from existing ones by more than 10% after a slow-bind flood, in each of three measurements: {reports:#?}");
}

/// AD answers "disabled" (533) only after the right password: a candidate password for a
/// disabled account must take what a wrong one takes (median and spread), and be counted like
/// a wrong one by extranet lockout, so repeating it neither confirms it nor goes unseen. The
/// account is a throwaway one under a lockout policy (the `altgate-lockout-counted` PSO,
/// threshold 999), as real accounts are: AD then writes `badPwdCount` for every wrong password,
/// which makes a wrong password slower than a disabled account's right one.
#[tokio::test]
async fn a_disabled_accounts_right_password_takes_and_counts_like_a_wrong_one() {
    let _g = harness::exclusive().await;
    let pw = "Disabled-Altgate-Pw1!";
    ad_users::with_user("contoso.com", "tw-disabled", pw, |user| async move {
        ad_users::add_to_group(&user, "altgate-lockout-counted").await;
        ad_users::set_enabled(&user, false).await;
        disabled_right_password(&user.mail, pw).await;
    })
    .await;
}

async fn disabled_right_password(login: &str, pw: &str) {
    let server = TestServer::start(
        "extranet_lockout: { mode: enforce, threshold: 1000, familiar_threshold: 1000, observation_window: 30m, ip_failures_per_minute: 0 }\n\
         directory: { max_concurrent_binds_per_dc: 2, bind_queue_timeout: 30s }\n",
    )
    .await;
    let mut sender = harness::tls_sender(server.addr, &server.ca).await;
    let cases = [(login, "Wrong-Password-1"), (login, pw)];
    let mut attempts = [0u32; 2];
    for _ in 0..40 {
        for (i, (login, password)) in cases.iter().enumerate() {
            let (status, _, _) =
                timed_post(&mut sender, rst("13", login, password, M365, "", 0)).await;
            assert_eq!(status, 500);
            attempts[i] += 1;
        }
    }
    // Each measurement: quiet rounds, then rounds right after slow-bind floods (which must not
    // move the right password's time either).
    let (floods, rounds) = (2, 50);
    let mut flooded = 0u32;
    let mut reports = Vec::new();
    let mut passed = false;
    for _attempt in 0..3 {
        let mut times: Vec<Vec<std::time::Duration>> = vec![Vec::new(); cases.len()];
        for block in 0..=floods {
            if block > 0 {
                slow_bind_flood(&server, 160).await;
                flooded += 160;
            }
            let seen = times[0].len();
            for round in 0..rounds {
                for k in 0..cases.len() {
                    let i = (round + k) % cases.len();
                    let (login, password) = cases[i];
                    let (status, body, took) =
                        timed_post(&mut sender, rst("13", login, password, M365, "", 0)).await;
                    assert_eq!(status, 500);
                    assert!(body.contains("a:FailedAuthentication"));
                    times[i].push(took);
                    attempts[i] += 1;
                }
            }
            eprintln!(
                "block {block}: median wrong {:.2} ms",
                ms(quantile(&times[0][seen..], 0.5))
            );
        }
        let (ok, report) = within_ten_percent(
            ("wrong", times[0].as_slice()),
            ("right", times[1].as_slice()),
        );
        let p25 = quantile(&times[0], 0.25);
        let below = times[1].iter().filter(|t| **t < p25).count() as f64 / times[1].len() as f64;
        let report = format!(
            "{report}; KS {:.2}; right passwords below the wrong ones' p25: {:.0}%",
            ks_distance(&times[0], &times[1]),
            below * 100.0
        );
        eprintln!("{report}");
        reports.push(report);
        if ok {
            passed = true;
            break;
        }
    }
    // Every attempt reached AD and every one was counted, the right password's too.
    let binds = |result: &str| {
        metric(
            &server.app.metrics,
            &format!("altgate_binds_total{{domain=\"contoso.com\",result=\"{result}\"}}"),
        )
    };
    assert_eq!(binds("account_disabled"), f64::from(attempts[1]));
    assert_eq!(binds("wrong_password"), f64::from(attempts[0] + flooded));
    let r = server.app.resolver.resolve(login).await;
    let account = r.account.as_ref().expect("the account resolves");
    let key = altgate::signin::lockout_key(account);
    let activity = server
        .app
        .lockout
        .activity(&key)
        .await
        .expect("state store answers");
    assert_eq!(
        activity.unfamiliar.count,
        attempts[0] + attempts[1],
        "the right password of a disabled account counts like a wrong one"
    );
    // With a real threshold, repeating the right password locks the account like a spray does:
    // the fourth attempt never reaches AD.
    let strict = TestServer::start(
        "extranet_lockout: { mode: enforce, threshold: 3, observation_window: 30m, ip_failures_per_minute: 0 }\n",
    )
    .await;
    for _ in 0..5 {
        let (status, _) = strict
            .request(
                "POST",
                "/adfs/services/trust/13/usernamemixed",
                Some(SOAP),
                rst("13", login, pw, M365, "", 0).into_bytes(),
            )
            .await;
        assert_eq!(status, 500);
    }
    assert_eq!(
        metric(
            &strict.app.metrics,
            "altgate_binds_total{domain=\"contoso.com\",result=\"account_disabled\"}"
        ),
        3.0
    );
    let activity = strict
        .app
        .lockout
        .activity(&key)
        .await
        .expect("state store answers");
    assert_eq!(activity.unfamiliar.count, 3);
    assert!(activity.unfamiliar.locked_until.is_some(), "{activity:?}");
    assert!(
        passed,
        "a disabled account's right password differs from a wrong one by more than 10% in each of three measurements: {reports:#?}"
    );
}
