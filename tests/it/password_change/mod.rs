//! Expired and must-change passwords changed in place, against the real forests, on throwaway
//! users (`pwchg-<pid>-<n>`, deleted afterwards): through headless Chromium (must change at next
//! logon → change page → signed in at a pysaml2 SP), over HTTP (an expired password, made with a
//! fine-grained password policy on just that user), the voluntary page, extranet lockout on a
//! wrong old password, and WS-Trust refusing an expired password with its audit reason. After
//! every change an LDAP bind proves the old password is gone and the new one works.

use crate::ad_users::{self, admin, connect, TestUser};
use crate::harness::{self, metric, TestServer};
use crate::kit::html::{enc, form, hidden};
use ldap3::Mod;
use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const WSFED_RP: &str = "urn:wsfed:altgate-pwchange-test";
const WSFED_REPLY: &str = "https://rp.altgate.test/wsfed";
const OLD: &str = "Pwchg-Old-Pw-1!";
const NEW: &str = "Pwchg-New-Pw-2!";
const POLICY_TEXT: &str = "The new password doesn't meet your organization's password requirements";

/// A unique throwaway account name for this run.
fn unique() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "pwchg-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn rp_yaml() -> String {
    format!(
        "  - {{ identifier: '{WSFED_RP}', token_type: saml11, reply_urls: ['{WSFED_REPLY}'], claims: [upn, immutable_id, name] }}\n"
    )
}

/// AD's answer to a simple bind as `user` with `password`: `Ok` or the `data` code.
async fn bind(user: &TestUser, password: &str) -> Result<(), String> {
    let mut ldap = connect(&user.forest).await;
    let r = ldap
        .simple_bind(&user.dn, password)
        .await
        .expect("bind sent");
    let _ = ldap.unbind().await;
    if r.rc == 0 {
        Ok(())
    } else {
        let rejection = altgate::directory::BindRejection::from_diagnostic(&r.text);
        Err(rejection.code().to_string())
    }
}

/// "User must change password at next logon".
async fn must_change(user: &TestUser) {
    let mut ldap = admin(&user.forest).await;
    ldap.modify(
        &user.dn,
        vec![Mod::Replace(
            b"pwdLastSet".to_vec(),
            HashSet::from([b"0".to_vec()]),
        )],
    )
    .await
    .and_then(|r| r.success())
    .expect("pwdLastSet=0");
    let _ = ldap.unbind().await;
}

fn pso_dn(user: &TestUser) -> String {
    let f = harness::forests().get(&user.forest);
    let cn = user.mail.split('@').next().unwrap_or("pwchg");
    format!(
        "CN={cn},CN=Password Settings Container,CN=System,{}",
        f.base_dn
    )
}

/// Expires `user`'s password without touching domain policy: a fine-grained password policy
/// for this user only (maximum age 2 days: Samba ignores less than a day), and `pwdLastSet`
/// moved 3 days back. AD only lets LDAP write 0 or -1 there, so the move goes through the
/// forest's own database with Samba's "bypass last set" control, together with the same
/// password (the control only applies to a password write), as root on this machine.
async fn expire(user: &TestUser, password: &str) {
    let pso = pso_dn(user);
    let mut ldap = admin(&user.forest).await;
    let _ = ldap.delete(&pso).await;
    let one = |k: &str, v: &str| {
        (
            k.as_bytes().to_vec(),
            HashSet::from([v.as_bytes().to_vec()]),
        )
    };
    ldap.add(
        &pso,
        vec![
            one("objectClass", "msDS-PasswordSettings"),
            one("msDS-MaximumPasswordAge", "-1728000000000"),
            one("msDS-MinimumPasswordAge", "0"),
            one("msDS-MinimumPasswordLength", "7"),
            one("msDS-PasswordHistoryLength", "0"),
            one("msDS-PasswordComplexityEnabled", "FALSE"),
            one("msDS-PasswordReversibleEncryptionEnabled", "FALSE"),
            one("msDS-LockoutObservationWindow", "-18000000000"),
            one("msDS-LockoutDuration", "-18000000000"),
            one("msDS-LockoutThreshold", "0"),
            one("msDS-PasswordSettingsPrecedence", "5"),
            one("msDS-PSOAppliesTo", &user.dn),
        ],
    )
    .await
    .and_then(|r| r.success())
    .expect("add the user's password settings");
    let _ = ldap.unbind().await;
    let f = harness::forests().get(&user.forest);
    let sam_ldb = Path::new(&f.ca_file)
        .parent()
        .expect("forest dir")
        .join("private/sam.ldb");
    let three_days_ago =
        (time::OffsetDateTime::now_utc() - time::Duration::days(3)).unix_timestamp();
    let filetime = (i128::from(three_days_ago) + 11_644_473_600) * 10_000_000;
    let quoted: Vec<u8> = format!("\"{password}\"")
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    let ldif = format!(
        "dn: {}\nchangetype: modify\nreplace: unicodePwd\nunicodePwd:: {}\n-\nreplace: pwdLastSet\npwdLastSet: {filetime}\n-\n",
        user.dn,
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, quoted)
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("expire.ldif");
    std::fs::write(&file, ldif).expect("write ldif");
    let out = std::process::Command::new("ldbmodify")
        .arg("-H")
        .arg(&sam_ldb)
        .arg("--controls=local_oid:1.3.6.1.4.1.7165.4.3.20:0")
        .arg(&file)
        .output()
        .expect("ldbmodify (ldb-tools) must be installed");
    assert!(
        out.status.success(),
        "ldbmodify: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Deletes the user's password settings object, if any (best effort).
async fn drop_pso(user: &TestUser) {
    let mut ldap = admin(&user.forest).await;
    let _ = ldap.delete(&pso_dn(user)).await;
    let _ = ldap.unbind().await;
}

/// Runs `test` with a fresh user (password [`OLD`]), deleting it and its policy afterwards.
async fn with_user<F, Fut>(test: F)
where
    F: FnOnce(TestUser) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let user = ad_users::create("contoso.com", &unique(), OLD).await;
    let result = tokio::spawn(test(user.clone())).await;
    drop_pso(&user).await;
    ad_users::delete(&user).await;
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
}

fn events(s: &TestServer, event: &str) -> f64 {
    metric(
        &s.app.metrics,
        &format!("altgate_events_total{{category=\"audit\",event=\"{event}\"}}"),
    )
}

/// The sign-in form for the WS-Fed test RP, posted with `login` + `password`: (csrf cookie,
/// the answer page).
async fn post_sign_in(s: &TestServer, login: &str, password: &str) -> (String, u16, String) {
    let start = format!("/adfs/ls/?wa=wsignin1.0&wtrealm={}", enc(WSFED_RP));
    let (status, headers, page) = s.browse("GET", &start, "", None).await;
    assert_eq!(status, 200, "{page}");
    let csrf = harness::set_cookie(&headers, "__Host-altgate-csrf").expect("csrf cookie");
    let body = form(&[
        ("UserName", login),
        ("Password", password),
        ("AuthMethod", "FormsAuthentication"),
        ("csrf", &hidden(&page, "csrf").expect("csrf")),
        ("ctx", &hidden(&page, "ctx").expect("ctx")),
    ]);
    let (status, _, answer) = s.browse("POST", "/adfs/ls/", &csrf, Some(body)).await;
    (csrf, status, answer)
}

/// Posts the change page: new password `new` and its confirmation `confirm`.
async fn post_change(
    s: &TestServer,
    cookie: &str,
    page: &str,
    new: &str,
    confirm: &str,
) -> (u16, Vec<(String, String)>, String) {
    let body = form(&[
        ("NewPassword", new),
        ("ConfirmNewPassword", confirm),
        (
            "csrf",
            &hidden(page, "csrf").expect("csrf on the change page"),
        ),
        (
            "PasswordChangeState",
            &hidden(page, "PasswordChangeState").expect("state on the change page"),
        ),
    ]);
    s.browse("POST", "/adfs/ls/", cookie, Some(body)).await
}

/// A WS-Trust 1.3 request for Microsoft 365 with `login` + `password`: (status, body).
async fn wstrust(s: &TestServer, login: &str, password: &str) -> (u16, String) {
    s.request(
        "POST",
        "/adfs/services/trust/13/usernamemixed",
        Some("application/soap+xml; charset=utf-8"),
        crate::wstrust::rst(
            "13",
            login,
            password,
            "urn:federation:MicrosoftOnline",
            "",
            0,
        )
        .into_bytes(),
    )
    .await
}

fn refused_without_token(status: u16, body: &str) {
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("FailedAuthentication"), "{body}");
    assert!(!body.contains("RequestedSecurityToken"), "{body}");
}

#[tokio::test]
async fn an_expired_password_is_changed_in_place_and_the_sign_in_completes() {
    let _g = harness::shared().await;
    with_user(|user| async move {
        expire(&user, OLD).await;
        // What Samba answers: 532 for the right password, 52e (never 532) for a wrong one.
        assert_eq!(bind(&user, OLD).await, Err("password_expired".into()));
        assert_eq!(
            bind(&user, "Not-The-Pw-9").await,
            Err("wrong_password".into())
        );

        let s = TestServer::start_with_server("", &rp_yaml(), "").await;
        // WS-Trust: the usual fault, never a token, the audit reason says why.
        let (status, body) = wstrust(&s, &user.mail, OLD).await;
        refused_without_token(status, &body);
        assert!(
            !body.contains("expired"),
            "the client never learns why: {body}"
        );
        assert_eq!(
            metric(
                &s.app.metrics,
                "altgate_sign_in_failures_total{reason=\"password_expired\"}"
            ),
            1.0
        );

        // A wrong password gets the generic error, not the change page.
        let (_, status, page) = post_sign_in(&s, &user.mail, "Not-The-Pw-9").await;
        assert_eq!(status, 200);
        assert!(
            page.contains("id=\"errorText\"") && !page.contains("newPasswordInput"),
            "{page}"
        );

        // The right one: the change page, the old password nowhere in it.
        let (csrf, status, page) = post_sign_in(&s, &user.mail, OLD).await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("id=\"newPasswordInput\""), "{page}");
        assert!(page.contains("Your password has expired."), "{page}");
        assert!(
            !page.contains(OLD) && !page.contains("OldPassword"),
            "{page}"
        );
        let state = hidden(&page, "PasswordChangeState").expect("state");
        assert!(!state.contains(OLD));

        // Two different new passwords: refused before AD is asked.
        let (status, _, again) = post_change(&s, &csrf, &page, NEW, "Something-Else-3!").await;
        assert_eq!(status, 200);
        assert!(again.contains("The new passwords don't match"), "{again}");
        assert_eq!(events(&s, "password_change_failed"), 0.0);

        // A tampered state, or the state with another browser's CSRF cookie: refused.
        let mut forged = state.clone().into_bytes();
        forged[10] = if forged[10] == b'A' { b'B' } else { b'A' };
        let forged = String::from_utf8(forged).expect("ascii");
        let body = form(&[
            ("NewPassword", NEW),
            ("ConfirmNewPassword", NEW),
            ("csrf", &hidden(&page, "csrf").expect("csrf")),
            ("PasswordChangeState", &forged),
        ]);
        let (status, _, refused) = s.browse("POST", "/adfs/ls/", &csrf, Some(body)).await;
        assert_eq!(status, 400, "{refused}");
        let start = format!("/adfs/ls/?wa=wsignin1.0&wtrealm={}", enc(WSFED_RP));
        let (_, other_headers, _) = s.browse("GET", &start, "", None).await;
        let other_csrf =
            harness::set_cookie(&other_headers, "__Host-altgate-csrf").expect("another cookie");
        let other_value = other_csrf.split_once('=').map(|(_, v)| v).unwrap_or("");
        let body = form(&[
            ("NewPassword", NEW),
            ("ConfirmNewPassword", NEW),
            ("csrf", other_value),
            ("PasswordChangeState", &state),
        ]);
        let (status, _, _) = s.browse("POST", "/adfs/ls/", &other_csrf, Some(body)).await;
        assert_eq!(status, 400, "a state is bound to its own CSRF cookie");

        // A weak new password: AD's policy message, nothing lost, the user retries.
        let (status, _, weak) = post_change(&s, &csrf, &page, "abc", "abc").await;
        assert_eq!(status, 200);
        assert!(weak.contains(POLICY_TEXT), "{weak}");
        assert_eq!(bind(&user, OLD).await, Err("password_expired".into()));
        assert_eq!(events(&s, "password_change_failed"), 1.0);

        // The right new password: the original sign-in completes with a token.
        let (status, headers, done) = post_change(&s, &csrf, &weak, NEW, NEW).await;
        assert_eq!(status, 200, "{done}");
        assert!(
            done.contains(&format!("action=\"{WSFED_REPLY}\"")),
            "{done}"
        );
        let wresult = hidden(&done, "wresult").expect("wresult");
        let (cert, _) = harness::signing_pair();
        assert!(harness::xmlsec_verify(
            &wresult,
            cert,
            "AssertionID",
            "urn:oasis:names:tc:SAML:1.0:assertion:Assertion"
        ));
        assert!(wresult.contains(&user.mail), "{wresult}");
        let sso = harness::set_cookie(&headers, "__Host-altgate-sso").expect("SSO session");
        assert_eq!(events(&s, "password_change_succeeded"), 1.0);
        assert_eq!(events(&s, "sign_in_succeeded"), 1.0);

        // The old password is gone, the new one binds, and the SSO session holds.
        assert_eq!(bind(&user, OLD).await, Err("wrong_password".into()));
        assert_eq!(bind(&user, NEW).await, Ok(()));
        let start = format!("/adfs/ls/?wa=wsignin1.0&wtrealm={}", enc(WSFED_RP));
        let (_, _, reused) = s.browse("GET", &start, &sso, None).await;
        assert!(
            hidden(&reused, "wresult").is_some(),
            "SSO after the change: {reused}"
        );
        // The same state cannot change the password a second time (the old one is gone).
        let (_, _, replay) =
            post_change(&s, &csrf, &page, "Pwchg-Third-Pw-3!", "Pwchg-Third-Pw-3!").await;
        assert!(
            replay.contains("id=\"errorText\"") && !replay.contains("wresult"),
            "{replay}"
        );
        assert_eq!(bind(&user, NEW).await, Ok(()));
    })
    .await;
}

mod browser;
mod voluntary;
