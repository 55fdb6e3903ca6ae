//! The sign-in page flow: a sign-in request is answered from the SSO session when it can be,
//! with a SAML NoPassive response when the SP forbids UI, with a Kerberos ticket when Windows
//! integrated sign-in applies (`negotiate`), and otherwise with the sign-in form (and its CSRF
//! cookie; under a Negotiate challenge when one is offered); the posted form is checked
//! (context, CSRF) and its credentials signed in.

use super::delivery::{deliver, no_passive};
use super::page::{ErrorKind, Lang, SignInPage};
use super::params::Params;
use super::request::{target_of_ctx, Target};
use super::{negotiate, Passive};
use super::{refuse, sso, LsRequest, LsResponse, Outcome, Refusal, RefusalReason};
use crate::kerberos::token::{from_header, NEGOTIATE};
use crate::secret::constant_time_eq;
use crate::secret::Secret;
use crate::session::{cookie, csrf_cookie, CSRF_COOKIE};
use crate::signin::SignInContext;
use hyper::StatusCode;

/// A sign-in request: the SSO session if there is a good one, else the form.
pub(super) async fn begin(
    app: &Passive<'_>,
    req: &LsRequest<'_>,
    lang: Lang,
    target: Target,
    ctx: &str,
) -> Result<LsResponse, Refusal> {
    let mut cookies = Vec::new();
    if !target.force_authn {
        if let Some(r) = sso::reuse(app, req, lang, &target, &mut cookies).await? {
            return Ok(r);
        }
    }
    if target.is_passive {
        if let Some(r) = no_passive(app, lang, &target, &mut cookies)? {
            return Ok(r);
        }
    }
    let mut challenge = false;
    if negotiate::offered(app, req, &target) {
        match from_header(req.authorization) {
            Some(token) => {
                if let Some(mut r) = negotiate::sign_in(app, req, lang, &target, token).await? {
                    cookies.append(&mut r.set_cookies);
                    r.set_cookies = cookies;
                    return Ok(r);
                }
            }
            None => challenge = true,
        }
    }
    let csrf = app.sessions.random_token().ok_or_else(|| {
        refuse(
            target.protocol,
            &target.rp.identifier,
            RefusalReason::NoRandomness,
        )
    })?;
    cookies.push(csrf_cookie(&csrf));
    let outcome = if challenge {
        Outcome::NegotiateChallenge
    } else {
        Outcome::SignInPage
    };
    app.metrics.count_request(target.protocol, outcome);
    // The login hint pre-fills the user name (escaped by the page); the password decides.
    let hint = target.hint.as_deref().unwrap_or("");
    let status = if challenge {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    let mut r = LsResponse::html(status, sign_in_page(app, lang, ctx, &csrf, false, hint));
    if challenge {
        r.www_authenticate = Some(NEGOTIATE.to_string());
    }
    r.set_cookies = cookies;
    Ok(target.allow_redirect(r))
}

fn sign_in_page(
    app: &Passive<'_>,
    lang: Lang,
    ctx: &str,
    csrf: &str,
    error: bool,
    username: &str,
) -> String {
    app.pages.sign_in(&SignInPage {
        lang,
        ctx,
        csrf,
        error,
        username,
    })
}

/// The sign-in form was posted.
pub(super) async fn submit(
    app: &Passive<'_>,
    req: &LsRequest<'_>,
    lang: Lang,
    form: &Params<'_>,
) -> Result<LsResponse, Refusal> {
    let ctx = form.get("ctx").unwrap_or("");
    let target = target_of_ctx(app, ctx)?;
    let expected = cookie(req.cookie_header, CSRF_COOKIE).unwrap_or("");
    let given = form.get("csrf").unwrap_or("");
    if expected.is_empty() || !constant_time_eq(expected, given) {
        return Err(Refusal {
            kind: ErrorKind::FormExpired,
            ..refuse(target.protocol, &target.rp.identifier, RefusalReason::Csrf)
        });
    }
    let username = form.get("UserName").unwrap_or("");
    let password = Secret::new(form.get("Password").unwrap_or("").to_string());
    let sctx = SignInContext::new(target.protocol, Some(&target.rp), req.request);
    match app.sign_in.sign_in(username, &password, &sctx).await {
        Err(f) => {
            app.token_metrics
                .count_failed(target.protocol, &target.rp.identifier, f.reason());
            if let Some(trigger) = super::password_change::trigger_for(&f) {
                return super::password_change::offer(
                    app, lang, &target, ctx, expected, username, &password, trigger,
                )
                .map(|r| target.allow_redirect(r));
            }
            app.metrics
                .count_request(target.protocol, Outcome::SignInPage);
            // Same generic message for every reason; the user name is echoed back (escaped).
            let shown: String = username.chars().take(320).collect();
            Ok(target.allow_redirect(LsResponse::html(
                StatusCode::OK,
                sign_in_page(app, lang, ctx, expected, true, &shown),
            )))
        }
        Ok(signed_in) => {
            let sid = app.sessions.session_id();
            let mut r = deliver(app, req, lang, &target, &signed_in, Outcome::Token, &sid).await?;
            sso::start(app, &signed_in, &sid, &mut r);
            Ok(r)
        }
    }
}
