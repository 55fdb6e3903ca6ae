//! Changing a password in the browser. When the sign-in form's bind answers that the (right)
//! password expired or must be changed, the user gets the change page instead of a token; on
//! success the original sign-in is completed exactly as a normal one (token to the relying
//! party, SSO session). The voluntary page at `/adfs/portal/updatepassword/`
//! (`passive.update_password_page`) does the same without a sign-in in flight.
//!
//! The old password never reaches the page: it travels inside the form's state, sealed with the
//! session key (AES-256-GCM, [`crate::session::SessionKeys::seal_bytes`]) for this purpose and
//! this browser's CSRF cookie, with the original request and a 10-minute expiry. A tampered,
//! expired or replayed-from-another-browser state is refused like an expired form. Both pages
//! carry the sign-in form's CSRF protection.

use super::delivery::deliver;
use super::page::{
    ErrorKind, Lang, PasswordMessage, PasswordPage, PasswordPurpose, SignInPage, Trace,
};
use super::params::Params;
use super::request::{target_of_ctx, Target};
use super::{refuse, sso, LsRequest, LsResponse, Outcome, Passive, Refusal, RefusalReason};
use crate::label::kinds;
use crate::secret::constant_time_eq;
use crate::secret::Secret;
use crate::session::{cookie, csrf_cookie, SessionKeys, CSRF_COOKIE};
use crate::signin::password_change::{ChangeTrigger, PasswordChangeFailure};
use crate::signin::Protocol;
use crate::signin::{SignInContext, SignInFailure};
use hyper::StatusCode;
use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

/// The change page's form field holding the sealed state.
pub(super) const STATE_FIELD: &str = "PasswordChangeState";
/// How long the change page stays usable after the sign-in that led to it (seconds).
const STATE_LIFETIME_SECS: i64 = 600;
/// Associated data of the sealed state (the CSRF token is appended).
const PURPOSE: &[u8] = b"altgate-password-change-v1\n";

/// What the change page's form carries, sealed.
#[derive(Serialize, Deserialize)]
struct ChangeState {
    /// The login as typed at sign-in.
    login: String,
    /// The old password (wiped on drop).
    old: String,
    /// `password_expired` or `must_change_password`.
    trigger: String,
    /// The original request (the sign-in form's `ctx`).
    ctx: String,
    /// Unix seconds after which the state is refused.
    expires: i64,
}

impl Drop for ChangeState {
    fn drop(&mut self) {
        self.old.zeroize();
    }
}

fn purpose(csrf: &str) -> Vec<u8> {
    let mut p = PURPOSE.to_vec();
    p.extend_from_slice(csrf.as_bytes());
    p
}

fn seal(keys: &SessionKeys, csrf: &str, state: &ChangeState) -> Option<String> {
    let plain = zeroize::Zeroizing::new(serde_json::to_vec(state).ok()?);
    keys.seal_bytes(&purpose(csrf), &plain)
}

fn open(
    keys: &SessionKeys,
    csrf: &str,
    sealed: &str,
    now: i64,
    max_len: usize,
) -> Option<ChangeState> {
    let plain = keys.open_bytes(&purpose(csrf), sealed, max_len)?;
    let state: ChangeState = serde_json::from_slice(&plain).ok()?;
    (now <= state.expires).then_some(state)
}

fn trigger_of(s: &ChangeState) -> Option<(ChangeTrigger, PasswordPurpose)> {
    match s.trigger.as_str() {
        "password_expired" => Some((ChangeTrigger::PasswordExpired, PasswordPurpose::Expired)),
        "must_change_password" => Some((
            ChangeTrigger::MustChangePassword,
            PasswordPurpose::MustChange,
        )),
        _ => None,
    }
}

/// The sign-in form's bind answered that `password` (right) must be changed: the change page.
#[allow(clippy::too_many_arguments)]
pub(super) fn offer(
    app: &Passive<'_>,
    lang: Lang,
    target: &Target,
    ctx: &str,
    csrf: &str,
    username: &str,
    password: &Secret,
    trigger: ChangeTrigger,
) -> Result<LsResponse, Refusal> {
    let purpose = match trigger {
        ChangeTrigger::PasswordExpired => PasswordPurpose::Expired,
        _ => PasswordPurpose::MustChange,
    };
    let state = ChangeState {
        login: username.trim().to_string(),
        old: password.expose().to_string(),
        trigger: trigger.as_str().to_string(),
        ctx: ctx.to_string(),
        expires: app.tokens.now().unix_timestamp() + STATE_LIFETIME_SECS,
    };
    let sealed = seal(app.sessions, csrf, &state).ok_or_else(|| {
        refuse(
            target.protocol,
            &target.rp.identifier,
            RefusalReason::NoRandomness,
        )
    })?;
    app.metrics
        .count_request(target.protocol, Outcome::PasswordChangePage);
    Ok(change_page(
        app,
        lang,
        purpose,
        csrf,
        &sealed,
        &state.login,
        None,
    ))
}

fn change_page(
    app: &Passive<'_>,
    lang: Lang,
    purpose: PasswordPurpose,
    csrf: &str,
    state: &str,
    username: &str,
    message: Option<PasswordMessage>,
) -> LsResponse {
    let shown: String = username.chars().take(320).collect();
    LsResponse::html(
        StatusCode::OK,
        app.pages.password_change(&PasswordPage {
            lang,
            purpose,
            csrf,
            state,
            username: &shown,
            message,
        }),
    )
}

/// What a failed change shows (`None`: the old password no longer signs in).
fn message_for(f: &PasswordChangeFailure) -> Option<PasswordMessage> {
    match f {
        PasswordChangeFailure::SignIn(_) => None,
        PasswordChangeFailure::NewPasswordRefused(_) => Some(PasswordMessage::Policy),
        PasswordChangeFailure::Directory(_) => Some(PasswordMessage::Unavailable),
    }
}

/// The change page was posted (a sign-in in flight).
pub(super) async fn submit(
    app: &Passive<'_>,
    req: &LsRequest<'_>,
    lang: Lang,
    form: &Params<'_>,
) -> Result<LsResponse, Refusal> {
    let expected = cookie(req.cookie_header, CSRF_COOKIE).unwrap_or("");
    let given = form.get("csrf").unwrap_or("");
    let sealed = form.get(STATE_FIELD).unwrap_or("");
    let expired = |reason| Refusal {
        kind: ErrorKind::FormExpired,
        ..refuse(Protocol::Wsfed, "unknown", reason)
    };
    if expected.is_empty() || !constant_time_eq(expected, given) {
        return Err(expired(RefusalReason::Csrf));
    }
    let now = app.tokens.now().unix_timestamp();
    let state = open(app.sessions, expected, sealed, now, app.max_body_bytes)
        .ok_or_else(|| expired(RefusalReason::PasswordChangeState))?;
    let (trigger, purpose) =
        trigger_of(&state).ok_or_else(|| expired(RefusalReason::PasswordChangeState))?;
    let target = target_of_ctx(app, &state.ctx)?;
    let new = Secret::new(form.get("NewPassword").unwrap_or("").to_string());
    let confirm = Secret::new(form.get("ConfirmNewPassword").unwrap_or("").to_string());
    app.metrics
        .count_request(target.protocol, Outcome::PasswordChangePage);
    if !constant_time_eq(new.expose(), confirm.expose()) {
        let m = Some(PasswordMessage::Mismatch);
        return Ok(target.allow_redirect(change_page(
            app,
            lang,
            purpose,
            expected,
            sealed,
            &state.login,
            m,
        )));
    }
    let sctx = SignInContext::new(target.protocol, Some(&target.rp), req.request);
    let old = Secret::new(state.old.clone());
    match app
        .sign_in
        .change_password(&state.login, &old, &new, trigger, &sctx)
        .await
    {
        Ok(signed_in) => {
            forget(app, &signed_in).await;
            let sid = app.sessions.session_id();
            let mut r = deliver(app, req, lang, &target, &signed_in, Outcome::Token, &sid).await?;
            sso::start(app, &signed_in, &sid, &mut r);
            Ok(r)
        }
        Err(f) => {
            app.token_metrics.count_failed(
                target.protocol,
                &target.rp.identifier,
                f.reason::<kinds::TokenFailure>(),
            );
            Ok(target.allow_redirect(match message_for(&f) {
                Some(m) => change_page(app, lang, purpose, expected, sealed, &state.login, Some(m)),
                // The old password stopped working (changed elsewhere, locked out): back to the
                // sign-in form with the generic error.
                None => {
                    let shown: String = state.login.chars().take(320).collect();
                    LsResponse::html(
                        StatusCode::OK,
                        app.pages.sign_in(&SignInPage {
                            lang,
                            ctx: &state.ctx,
                            csrf: expected,
                            error: true,
                            username: &shown,
                        }),
                    )
                }
            }))
        }
    }
}

/// `/adfs/portal/updatepassword/` (`passive.update_password_page`; the router answers 404
/// when it is off): GET shows the form, POST changes the password.
pub async fn update_password(app: &Passive<'_>, req: &LsRequest<'_>) -> LsResponse {
    let lang = app.pages.lang(req.accept_language);
    let voluntary = |csrf: &str, username: &str, message| {
        change_page(
            app,
            lang,
            PasswordPurpose::Voluntary,
            csrf,
            "",
            username,
            message,
        )
    };
    if !req.post {
        let Some(csrf) = app.sessions.random_token() else {
            return unavailable(app, req, lang);
        };
        app.metrics
            .count_request(Protocol::UpdatePassword, Outcome::Page);
        let mut r = voluntary(&csrf, "", None);
        r.set_cookies.push(csrf_cookie(&csrf));
        return r;
    }
    let body = String::from_utf8_lossy(req.body);
    let form = Params::parse(&body);
    let expected = cookie(req.cookie_header, CSRF_COOKIE).unwrap_or("");
    let given = form.get("csrf").unwrap_or("");
    if expected.is_empty() || !constant_time_eq(expected, given) {
        app.metrics
            .count_request(Protocol::UpdatePassword, Outcome::Refused);
        let trace = Trace {
            activity_id: req.request.activity_id.as_str(),
            time: app.tokens.now(),
        };
        return LsResponse::html(
            StatusCode::BAD_REQUEST,
            app.pages.error(lang, ErrorKind::FormExpired, &trace),
        );
    }
    let username = form.get("UserName").unwrap_or("");
    let old = Secret::new(form.get("OldPassword").unwrap_or("").to_string());
    let new = Secret::new(form.get("NewPassword").unwrap_or("").to_string());
    let confirm = Secret::new(form.get("ConfirmNewPassword").unwrap_or("").to_string());
    app.metrics
        .count_request(Protocol::UpdatePassword, Outcome::Page);
    if !constant_time_eq(new.expose(), confirm.expose()) {
        return voluntary(expected, username, Some(PasswordMessage::Mismatch));
    }
    let sctx = SignInContext::new(Protocol::UpdatePassword, None, req.request);
    let result = app
        .sign_in
        .change_password(username, &old, &new, ChangeTrigger::Voluntary, &sctx)
        .await;
    if let Ok(signed_in) = &result {
        forget(app, signed_in).await;
    }
    let message = match &result {
        Ok(_) => PasswordMessage::Changed,
        Err(f) => message_for(f).unwrap_or(PasswordMessage::BadCredentials),
    };
    voluntary(expected, username, Some(message))
}

/// The password was just changed here: this node's next SSO check of the account reads it.
async fn forget(app: &Passive<'_>, signed_in: &crate::signin::SignedIn) {
    if let Some(a) = signed_in.resolution.account.as_ref() {
        app.account_states
            .forget(&a.forest, &a.distinguished_name)
            .await;
    }
}

fn unavailable(app: &Passive<'_>, req: &LsRequest<'_>, lang: Lang) -> LsResponse {
    let trace = Trace {
        activity_id: req.request.activity_id.as_str(),
        time: app.tokens.now(),
    };
    LsResponse::html(
        StatusCode::SERVICE_UNAVAILABLE,
        app.pages.error(lang, ErrorKind::Unavailable, &trace),
    )
}

/// True when a failed sign-in should lead to the change page instead of the generic error.
pub(super) fn trigger_for(f: &SignInFailure) -> Option<ChangeTrigger> {
    match f {
        SignInFailure::Rejected(r) => ChangeTrigger::from_rejection(*r),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(expires: i64) -> ChangeState {
        ChangeState {
            login: "jdoe@contoso.com".into(),
            old: "Old-Pw-1!".into(),
            trigger: "password_expired".into(),
            ctx: "Z2V0CndhPXdzaWduaW4xLjA".into(),
            expires,
        }
    }

    #[test]
    fn the_sealed_state_opens_only_intact_unexpired_and_for_its_csrf_cookie() {
        let (keys, _) = SessionKeys::new(None).expect("keys");
        let sealed = seal(&keys, "csrf-a", &state(1_000)).expect("seal");
        assert!(!sealed.contains("Old-Pw") && !sealed.contains("jdoe"));
        let opened = open(&keys, "csrf-a", &sealed, 1_000, 8192).expect("opens");
        assert_eq!(
            (opened.login.as_str(), opened.old.as_str()),
            ("jdoe@contoso.com", "Old-Pw-1!")
        );
        assert_eq!(
            trigger_of(&opened).map(|t| t.0),
            Some(ChangeTrigger::PasswordExpired)
        );
        assert!(
            open(&keys, "csrf-a", &sealed, 1_001, 8192).is_none(),
            "expired"
        );
        assert!(
            open(&keys, "csrf-b", &sealed, 1_000, 8192).is_none(),
            "another browser's cookie"
        );
        assert!(
            open(&keys, "csrf-a", &sealed, 1_000, 10).is_none(),
            "too long"
        );
        let (other, _) = SessionKeys::new(None).expect("other");
        assert!(
            open(&other, "csrf-a", &sealed, 1_000, 8192).is_none(),
            "another key"
        );
        // Every single-bit flip anywhere is refused.
        let raw =
            base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &sealed)
                .expect("b64");
        for i in 0..raw.len() {
            let mut t = raw.clone();
            t[i] ^= 0x01;
            let forged =
                base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &t);
            assert!(
                open(&keys, "csrf-a", &forged, 1_000, 8192).is_none(),
                "bit flip at {i}"
            );
        }
        // The SSO cookie's sealing is another purpose: neither opens the other.
        assert!(keys.open(&sealed).is_none());
        assert!(open(&keys, "", "", 0, 8192).is_none());
    }
}
