//! The change-password flow over the embedded demo directory: the shipped demo's
//! `newhire@contoso.com` (must change at next logon) signs in through the change page
//! (tests/it/password_change/ repeats it against real AD and a real browser).

use super::{app, cookie_pair, form, hidden, post, sign_in_with, DEMO_PW, WSFED_RP};
use crate::session::COOKIE;

const NEW_PW: &str = "Changed-Passw0rd!2";

#[tokio::test]
async fn a_must_change_demo_user_changes_the_password_and_is_signed_in() {
    let app = app();
    let query = format!("wa=wsignin1.0&wtrealm={WSFED_RP}");
    // The right password of a must-change account: the change page, never a token.
    let (page, csrf) = sign_in_with(&app, &query, "newhire@contoso.com", DEMO_PW).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("name=\"NewPassword\""), "{}", page.body);
    assert!(!page.body.contains("wresult"));
    assert!(
        !page.body.contains(DEMO_PW),
        "the old password is only inside the sealed state"
    );
    let state = hidden(&page.body, "PasswordChangeState");
    let csrf_field = hidden(&page.body, "csrf");

    // Two different new passwords: the page again, nothing changed.
    let body = form(&[
        ("PasswordChangeState", &state),
        ("NewPassword", NEW_PW),
        ("ConfirmNewPassword", "Something-Else-1"),
        ("csrf", &csrf_field),
    ]);
    let r = post(&app, &body, &csrf).await;
    assert!(r.body.contains("name=\"NewPassword\""), "{}", r.body);
    assert!(!r.body.contains("wresult"));

    // The sealed state is bound to this browser's CSRF cookie.
    let body = form(&[
        ("PasswordChangeState", &state),
        ("NewPassword", NEW_PW),
        ("ConfirmNewPassword", NEW_PW),
        ("csrf", &csrf_field),
    ]);
    let other = post(&app, &body, "__Host-altgate-csrf=forged").await;
    assert!(!other.body.contains("wresult"), "{}", other.body);

    // Matching new passwords: changed, and the original sign-in completes with a token.
    let r = post(&app, &body, &csrf).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("name=\"wresult\""), "{}", r.body);
    assert!(cookie_pair(&r, COOKIE).starts_with(COOKIE));

    // The old password no longer signs in; the new one does, without the change page.
    let (old, _) = sign_in_with(&app, &query, "newhire@contoso.com", DEMO_PW).await;
    assert!(!old.body.contains("wresult") && !old.body.contains("NewPassword"));
    let (new, _) = sign_in_with(&app, &query, "newhire@contoso.com", NEW_PW).await;
    assert!(new.body.contains("name=\"wresult\""), "{}", new.body);
}
