//! The SSO session at `/adfs/ls/`: a good session cookie signs the browser in without the form,
//! a successful form sign-in starts one, and sign-out reads whose it was. A login hint naming
//! another account (see `hints`) shows the form instead and keeps the session (`hint_mismatch`).
//!
//! A session ends with its account. On every reuse, after the cookie's own checks (seal,
//! lifetime, idle timeout) and the login's re-resolution to the session's DN (through the
//! resolution cache), the account's state is read fresh from a domain controller of its domain
//! ([`crate::directory::Directory::account_state`], never cached), so every node of a farm sees
//! the change at the session's next use:
//! - disabled (`userAccountControl` ACCOUNTDISABLE): `account_disabled`;
//! - password set after the session's sign-in (`pwdLastSet` newer than `auth_instant`, a reset
//!   or a change, or `pwdLastSet = 0`, "must change at next logon"): `password_changed`. The
//!   session keeps whole seconds, so a password set during the sign-in's own second counts as
//!   newer (see [`crate::directory::AccountState::password_set_after`]);
//! - no user at the DN any more (deleted, moved, renamed): `account_missing`.
//!
//! Those end the session: the cookie is cleared, `sso_session_ended` is audited and the browser
//! gets the sign-in form. When the state cannot be read (no DC answered), SSO fails closed: the
//! form is shown and the password sign-in decides, but the cookie is kept, since nothing says
//! the session is over (`directory_unavailable`).

use super::delivery::deliver;
use super::hints;
use super::page::Lang;
use super::request::Target;
use super::Passive;
use super::{LsRequest, LsResponse, Outcome, Refusal, SsoResult};
use crate::directory::AccountRef;
use crate::events::{SsoSessionEnded, SsoSessionUsed};
use crate::resolve::ResolvedAccount;
use crate::session::{clear_session_cookie, cookie, session_cookie, Session, COOKIE};
use crate::signin::SignedIn;
use std::net::IpAddr;
use std::sync::Arc;

/// Why a session cookie signed nobody in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct NotReused {
    /// The `altgate_sso_sessions_total` result.
    result: SsoResult,
    /// The session is over: clear the cookie. False when the check could not be made.
    clear: bool,
}

/// The session is over, for `result`.
const fn ended(result: SsoResult) -> NotReused {
    NotReused {
        result,
        clear: true,
    }
}

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
    match open(app, value, req.request.client_ip()).await {
        Ok((signed_in, refreshed, sid)) => {
            if let Some(max_age) = target.max_age {
                let age = app.tokens.now() - signed_in.auth_instant;
                if age.whole_seconds() > i64::try_from(max_age).unwrap_or(i64::MAX) {
                    // OpenID Connect max_age: the user signs in again; the session stays.
                    return Ok(None);
                }
            }
            let account = signed_in.resolution.account.as_ref();
            if let Some(hint) = target.hint.as_deref() {
                let dn = account.map_or("", |a| a.distinguished_name.as_str());
                if !hints::names_session_account(app, hint, &signed_in.login, dn).await {
                    // Another user is expected: the form, pre-filled; the session stays.
                    app.metrics.count_session(SsoResult::HintMismatch);
                    return Ok(None);
                }
            }
            app.metrics.count_session(SsoResult::Reused);
            app.events.emit(&SsoSessionUsed {
                login: &signed_in.resolution.login,
                account: account.map_or("", |a| a.distinguished_name.as_str()),
                relying_party: &target.rp.identifier,
                protocol: target.protocol.into(),
                client_ip: req.request.client_ip(),
            });
            let mut r =
                deliver(app, req, lang, target, &signed_in, Outcome::SsoToken, &sid).await?;
            r.set_cookies.push(refreshed);
            Ok(Some(r))
        }
        Err(not) => {
            app.metrics.count_session(not.result);
            if not.clear {
                cookies.push(clear_session_cookie());
            }
            Ok(None)
        }
    }
}

/// Opens and checks the SSO cookie: alive, its login still resolves to the session's account,
/// and that account is enabled with no password set since the sign-in (read fresh). Returns the
/// sign-in and the refreshed cookie, or why not.
async fn open(
    app: &Passive<'_>,
    value: &str,
    client_ip: IpAddr,
) -> Result<(SignedIn, String, String), NotReused> {
    let session = app.sessions.open(value).ok_or(ended(SsoResult::Invalid))?;
    let now = app.tokens.now().unix_timestamp();
    let p = &app.settings;
    if !session.is_live(now, p.session_lifetime, p.session_idle_timeout) {
        return Err(ended(SsoResult::Expired));
    }
    if !session.id.is_empty() {
        // Revocation fails closed whatever `state.on_unavailable` says: a session signed out
        // before an outage must not come back during it. Nothing says the session is over
        // either: keep the cookie, show the form (a password sign-in still works under
        // fail_open).
        match app.state.is_revoked(&session.id).await {
            Ok(false) => {}
            Ok(true) => return Err(ended(SsoResult::Revoked)),
            Err(_) => {
                return Err(NotReused {
                    result: SsoResult::StateUnavailable,
                    clear: false,
                })
            }
        }
    }
    let auth_instant = time::OffsetDateTime::from_unix_timestamp(session.auth_instant)
        .map_err(|_| ended(SsoResult::Invalid))?;
    let resolution = app.resolver.resolve(&session.login).await;
    let account = resolution
        .account
        .as_ref()
        .ok_or(ended(SsoResult::Mismatch))?;
    if !account.distinguished_name.eq_ignore_ascii_case(&session.dn) {
        return Err(ended(SsoResult::Mismatch));
    }
    check_account(app, account, &session, client_ip).await?;
    let login = session.login.clone();
    let method = if session.windows {
        crate::signin::Method::Windows
    } else {
        crate::signin::Method::Password
    };
    let sid = session.id.clone();
    let refreshed = Session {
        last_used: now,
        ..session
    };
    let cookie = app
        .sessions
        .seal(&refreshed)
        .ok_or(ended(SsoResult::Invalid))?;
    let max_age = p.session_lifetime.as_secs();
    Ok((
        SignedIn {
            resolution: Arc::clone(&resolution),
            login,
            auth_instant,
            password_expires_at: None,
            method,
            device: None,
        },
        session_cookie(&cookie, max_age),
        sid,
    ))
}

/// The account's state now (never cached): the session ends when the account is disabled, its
/// password was set after the session's sign-in, or no user is at the DN any more. A directory
/// that cannot answer refuses SSO without ending the session.
async fn check_account(
    app: &Passive<'_>,
    account: &ResolvedAccount,
    session: &Session,
    client_ip: IpAddr,
) -> Result<(), NotReused> {
    let state = match app
        .account_states
        .get(
            app.directory,
            AccountRef::new(&account.forest, &account.domain, &session.dn),
        )
        .await
    {
        Ok(state) => state,
        Err(e) => {
            // The directory's own events announce the outage once; this is per request.
            tracing::debug!(target: "altgate::ops", code = e.code(), error = %e, "SSO refused: account state unreadable");
            return Err(NotReused {
                result: SsoResult::DirectoryUnavailable,
                clear: false,
            });
        }
    };
    let reason = match state {
        None => SsoResult::AccountMissing,
        Some(s) if !s.enabled => SsoResult::AccountDisabled,
        Some(s) if s.password_set_after(session.auth_instant) => SsoResult::PasswordChanged,
        Some(_) => return Ok(()),
    };
    let set_at = state
        .filter(|_| reason == SsoResult::PasswordChanged)
        .and_then(|s| s.password_set_at())
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default();
    app.events.emit(&SsoSessionEnded {
        login: &session.login,
        account: &session.dn,
        reason: reason.into(),
        password_last_set: &set_at,
        client_ip,
    });
    Err(ended(reason))
}

/// Starts session `sid` for a form sign-in: its cookie goes out with the token page `r`.
pub(super) fn start(app: &Passive<'_>, signed_in: &SignedIn, sid: &str, r: &mut LsResponse) {
    let account = signed_in.resolution.account.as_ref();
    let now = app.tokens.now().unix_timestamp();
    let session = Session {
        id: sid.to_string(),
        login: signed_in.login.clone(),
        dn: account.map_or_else(String::new, |a| a.distinguished_name.clone()),
        auth_instant: signed_in.auth_instant.unix_timestamp(),
        last_used: now,
        windows: signed_in.method == crate::signin::Method::Windows,
    };
    if let Some(v) = app.sessions.seal(&session) {
        app.metrics.count_session(SsoResult::Created);
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
            tracing::warn!(target: "altgate::ops", code = e.code(), "the sign-out is not in the state store yet: this node refuses the session, and the store gets it as soon as it answers");
        }
    }
    session.login
}
