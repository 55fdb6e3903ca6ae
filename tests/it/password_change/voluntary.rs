//! The voluntary change page (`/adfs/portal/updatepassword/`): a change, 404 when off, and a
//! wrong old password counted by extranet lockout like any failed sign-in.

use super::*;

/// The voluntary page's form: (csrf cookie, its csrf field).
async fn voluntary_form(s: &TestServer) -> (String, String) {
    let (status, headers, page) = s
        .browse("GET", "/adfs/portal/updatepassword/", "", None)
        .await;
    assert_eq!(status, 200, "{page}");
    for id in [
        "userNameInput",
        "oldPasswordInput",
        "newPasswordInput",
        "confirmNewPasswordInput",
    ] {
        assert!(page.contains(&format!("id=\"{id}\"")), "{id}: {page}");
    }
    let cookie = harness::set_cookie(&headers, "__Host-altgate-csrf").expect("csrf cookie");
    (cookie, hidden(&page, "csrf").expect("csrf"))
}

async fn post_voluntary(s: &TestServer, login: &str, old: &str, new: &str) -> (u16, String) {
    let (cookie, csrf) = voluntary_form(s).await;
    let body = form(&[
        ("UserName", login),
        ("OldPassword", old),
        ("NewPassword", new),
        ("ConfirmNewPassword", new),
        ("csrf", &csrf),
    ]);
    let (status, _, page) = s
        .browse("POST", "/adfs/portal/updatepassword/", &cookie, Some(body))
        .await;
    (status, page)
}

#[tokio::test]
async fn the_voluntary_page_changes_a_password_and_is_404_when_off() {
    let _g = harness::shared().await;
    with_user(|user| async move {
        let off = TestServer::start("").await;
        for method in ["GET", "POST"] {
            let body = (method == "POST").then(|| form(&[("UserName", "x")]));
            let (status, _, _) = off
                .browse(method, "/adfs/portal/updatepassword/", "", body)
                .await;
            assert_eq!(status, 404, "{method} while off");
        }
        drop(off);

        let s = TestServer::start("passive: { update_password_page: true }\n").await;
        // Without the CSRF cookie: refused like an expired form.
        let (_, csrf) = voluntary_form(&s).await;
        let body = form(&[
            ("UserName", user.mail.as_str()),
            ("OldPassword", OLD),
            ("NewPassword", NEW),
            ("ConfirmNewPassword", NEW),
            ("csrf", &csrf),
        ]);
        let (status, _, _) = s
            .browse("POST", "/adfs/portal/updatepassword/", "", Some(body))
            .await;
        assert_eq!(status, 400);
        assert_eq!(bind(&user, OLD).await, Ok(()));

        let (status, page) = post_voluntary(&s, &user.mail, OLD, "short").await;
        assert_eq!(status, 200);
        assert!(page.contains(POLICY_TEXT), "{page}");
        let (status, page) = post_voluntary(&s, &user.mail, OLD, NEW).await;
        assert_eq!(status, 200);
        assert!(page.contains("id=\"passwordChanged\""), "{page}");
        assert_eq!(bind(&user, OLD).await, Err("wrong_password".into()));
        assert_eq!(bind(&user, NEW).await, Ok(()));
        assert_eq!(events(&s, "password_change_succeeded"), 1.0);
        assert_eq!(events(&s, "password_change_failed"), 1.0);
        assert_eq!(events(&s, "sign_in_succeeded"), 0.0, "no sign-in in flight");
    })
    .await;
}

#[tokio::test]
async fn a_wrong_old_password_on_the_voluntary_page_counts_toward_extranet_lockout() {
    let _g = harness::shared().await;
    with_user(|user| async move {
        let s = TestServer::start(
            "passive: { update_password_page: true }\n\
             extranet_lockout: { mode: enforce, threshold: 2, observation_window: 30m, ip_failures_per_minute: 0 }\n",
        )
        .await;
        let unknown = format!("nobody-{}@contoso.com", unique());
        let same_shape = |page: &str, login: &str| page.replace(login, "LOGIN").replace(
            &hidden(page, "csrf").unwrap_or_default(),
            "CSRF",
        );
        let (_, nobody) = post_voluntary(&s, &unknown, "Wrong-Old-Pw-1", NEW).await;
        let (status, wrong) = post_voluntary(&s, &user.mail, "Wrong-Old-Pw-1", NEW).await;
        assert_eq!(status, 200);
        assert!(wrong.contains("Incorrect user ID or password"), "{wrong}");
        assert_eq!(
            same_shape(&wrong, &user.mail),
            same_shape(&nobody, &unknown),
            "a wrong old password reads exactly like an unknown login"
        );
        let (_, _) = post_voluntary(&s, &user.mail, "Wrong-Old-Pw-2", NEW).await;
        assert_eq!(
            metric(
                &s.app.metrics,
                "altgate_binds_total{domain=\"contoso.com\",result=\"wrong_password\"}"
            ),
            2.0
        );
        // Threshold reached: even the right old password is refused before AD is asked.
        let (_, locked) = post_voluntary(&s, &user.mail, OLD, NEW).await;
        assert_eq!(same_shape(&locked, &user.mail), same_shape(&nobody, &unknown));
        assert_eq!(events(&s, "extranet_lockout_refused"), 1.0);
        assert_eq!(events(&s, "password_change_succeeded"), 0.0);
        assert_eq!(events(&s, "password_change_failed"), 4.0);
        assert_eq!(bind(&user, OLD).await, Ok(()), "nothing changed");
    })
    .await;
}
