//! The SSO session at `/adfs/ls/`: a good session cookie signs the browser in without the form
//! (its login re-resolved to the same enabled account), a successful form sign-in starts one,
//! and sign-out reads whose it was.

use super::delivery::deliver;
use super::page::Lang;
use super::request::Target;
use super::Passive;
use super::{LsRequest, LsResponse, Refusal};
use crate::config::state::OnUnavailable;
use crate::events::SsoSessionUsed;
use crate::session::{clear_session_cookie, cookie, session_cookie, Session, COOKIE};
use crate::signin::SignedIn;
use std::sync::Arc;

/// Answers `target` from the browser's SSO cookie when it holds a good session. A bad one is
/// counted and its clearing cookie added to `cookies`; `None` then (the form follows).
pub(super) async fn reuse(
    app: &Passive<'_>,
    req: &LsRequest<'_>,
    lang: Lang,
    target: &Target,
    cookies: &mut Vec<String>,
) -> Result<Option<LsResponse>, Refusal> {
    let Some(value) = cookie(req.cookie_header, COOKIE) else {
        return Ok(None);
    };
    match open(app, value).await {
        Ok((signed_in, refreshed)) => {
            app.metrics.count_session("reused");
            let account = signed_in.resolution.account.as_ref();
            app.events.emit(&SsoSessionUsed {
                login: &signed_in.resolution.login,
                account: account.map_or("", |a| a.distinguished_name.as_str()),
                relying_party: &target.rp.identifier,
                protocol: target.protocol,
                client_ip: req.client_ip,
            });
            let mut r = deliver(app, req, lang, target, &signed_in, "sso_token").await?;
            r.set_cookies.push(refreshed);
            Ok(Some(r))
        }
        Err(result) => {
            app.metrics.count_session(result);
            cookies.push(clear_session_cookie());
            Ok(None)
        }
    }
}

/// Opens and checks the SSO cookie: alive, its login still resolves to the same enabled account.
/// Returns the sign-in and the refreshed cookie, or the metric label for why not.
async fn open(app: &Passive<'_>, value: &str) -> Result<(SignedIn, String), &'static str> {
    let session = app.sessions.open(value).ok_or("invalid")?;
    let now = app.tokens.now().unix_timestamp();
    let p = &app.settings;
    if !session.is_live(now, p.session_lifetime, p.session_idle_timeout) {
        return Err("expired");
    }
    if !session.id.is_empty() {
        match app.state.is_revoked(&session.id).await {
            Ok(false) => {}
            Ok(true) => return Err("revoked"),
            Err(_) if app.on_unavailable == OnUnavailable::FailOpen => {}
            Err(_) => return Err("state_unavailable"),
        }
    }
    let resolution = app.resolver.resolve(&session.login).await;
    let account = resolution.account.as_ref().ok_or("mismatch")?;
    if !account.distinguished_name.eq_ignore_ascii_case(&session.dn) || !account.enabled {
        return Err("mismatch");
    }
    let auth_instant =
        time::OffsetDateTime::from_unix_timestamp(session.auth_instant).map_err(|_| "invalid")?;
    let login = session.login.clone();
    let refreshed = Session {
        last_used: now,
        ..session
    };
    let cookie = app.sessions.seal(&refreshed).ok_or("invalid")?;
    let max_age = p.session_lifetime.as_secs();
    Ok((
        SignedIn {
            resolution: Arc::clone(&resolution),
            login,
            auth_instant,
        },
        session_cookie(&cookie, max_age),
    ))
}

/// Starts a session for a form sign-in: its cookie goes out with the token page `r`.
pub(super) fn start(app: &Passive<'_>, signed_in: &SignedIn, r: &mut LsResponse) {
    let account = signed_in.resolution.account.as_ref();
    let now = app.tokens.now().unix_timestamp();
    let session = Session {
        id: app.sessions.session_id(),
        login: signed_in.login.clone(),
        dn: account.map_or_else(String::new, |a| a.distinguished_name.clone()),
        auth_instant: signed_in.auth_instant.unix_timestamp(),
        last_used: now,
    };
    if let Some(v) = app.sessions.seal(&session) {
        app.metrics.count_session("created");
        r.set_cookies
            .push(session_cookie(&v, app.settings.session_lifetime.as_secs()));
    }
}

/// Ends the browser's session on every node (its id goes on the farm's revocation list for the
/// rest of its lifetime, so a copied cookie stops working too) and returns its login for the
/// sign-out event; empty when there was none.
pub(super) async fn end(app: &Passive<'_>, req: &LsRequest<'_>) -> String {
    let Some(session) = cookie(req.cookie_header, COOKIE).and_then(|v| app.sessions.open(v)) else {
        return String::new();
    };
    if !session.id.is_empty() {
        if let Err(e) = app
            .state
            .revoke(&session.id, app.settings.session_lifetime)
            .await
        {
            tracing::warn!(target: "altgate::ops", code = e.code(), "state store unavailable: the signed-out session could not be revoked farm-wide");
        }
    }
    session.login
}
