//! Signing out at `/adfs/ls/`: WS-Federation `wsignout1.0` (back to a registered reply URL or the
//! signed-out page) and SAML LogoutRequest (a LogoutResponse posted to the SP's logout URL). Both
//! clear the SSO cookie and are audited.
//!
//! Whether the LogoutResponse is signed follows the request, never the attacker's whim: a
//! LogoutRequest whose signature verified (only the SP can make one) is answered once (the
//! replay cache) with a signed LogoutResponse, as the single logout profile asks of the
//! responder (SAML profiles 4.4.4.2); an unsigned one, which a relying party accepts only with
//! `logout_requests: accept_unsigned` and which anyone can mint, gets an unsigned
//! LogoutResponse, so a flood of them costs no RSA signature. (Unsigned requests are refused
//! before they get here unless the relying party accepts them, and end no session.)

use super::delivery::post_saml;
use super::page::Lang;
use super::saml::LogoutRequest;
use super::Passive;
use super::{refuse, sso, LsRequest, LsResponse, Outcome, Refusal, RefusalReason};
use crate::config::RelyingParty;
use crate::events::SignedOut;
use crate::session::clear_session_cookie;
use crate::signin::Protocol;
use crate::tokens::saml::{logout_response, LogoutResponseSpec};
use hyper::StatusCode;

/// WS-Federation sign-out; redirects only to a URL some relying party registered.
pub(super) async fn wsfed(
    app: &Passive<'_>,
    req: &LsRequest<'_>,
    lang: Lang,
    wreply: Option<String>,
) -> LsResponse {
    let login = sso::end(app, req).await;
    app.events.emit(&SignedOut {
        protocol: Protocol::Wsfed.into(),
        login: &login,
        client_ip: req.request.client_ip(),
    });
    app.metrics
        .count_request(Protocol::Wsfed, Outcome::SignedOut);
    let registered = wreply.filter(|w| {
        app.relying_parties
            .iter()
            .any(|rp| rp.reply_urls.iter().any(|r| r == w))
    });
    let mut r = match registered {
        Some(url) => LsResponse {
            status: StatusCode::FOUND,
            location: Some(url),
            ..LsResponse::html(StatusCode::FOUND, String::new())
        },
        None => LsResponse::html(StatusCode::OK, app.pages.signed_out(lang)),
    };
    r.set_cookies.push(clear_session_cookie());
    r
}

/// SAML single logout: answers the LogoutRequest of `rp` (known, and `signed` when its
/// signature verified) at the SP's registered logout URL, with a LogoutResponse signed when the
/// request was.
pub(super) async fn saml(
    app: &Passive<'_>,
    req: &LsRequest<'_>,
    lang: Lang,
    rp: &RelyingParty,
    request: &LogoutRequest,
    relay: Option<String>,
    signed: bool,
) -> Result<LsResponse, Refusal> {
    if signed {
        // A signed request is answered once: an atomic check-and-insert into the cache that
        // remembers answered AuthnRequests. (Anyone can mint a fresh ID for an unsigned
        // request, so those are not remembered.)
        app.first_answer(&request.id)
            .await
            .check(Protocol::Saml, &rp.identifier)?;
    }
    let login = sso::end(app, req).await;
    app.events.emit(&SignedOut {
        protocol: Protocol::Saml.into(),
        login: &login,
        client_ip: req.request.client_ip(),
    });
    app.metrics
        .count_request(Protocol::Saml, Outcome::SignedOut);
    let mut r = match &rp.logout_url {
        Some(url) => {
            let key = if signed {
                let signing = app.tokens.signing().ok_or_else(|| {
                    refuse(Protocol::Saml, &rp.identifier, RefusalReason::NoSigningKey)
                })?;
                Some(&signing.key)
            } else {
                None
            };
            let xml = logout_response(
                &LogoutResponseSpec {
                    issuer: &app.federation.issuer,
                    destination: url,
                    in_response_to: &request.id,
                    now: app.tokens.now(),
                },
                key,
            )
            .map_err(|_| refuse(Protocol::Saml, &rp.identifier, RefusalReason::SigningFailed))?;
            post_saml(app.pages, lang, url, &xml, relay.as_deref(), Vec::new())
        }
        None => LsResponse::html(StatusCode::OK, app.pages.signed_out(lang)),
    };
    r.set_cookies.push(clear_session_cookie());
    Ok(r)
}

/// OpenID Connect end-session, once its request is checked: ends the browser's session on every
/// node, then returns to `redirect` (a registered post-logout URI) or shows the signed-out page.
pub(crate) async fn signed_out(
    app: &Passive<'_>,
    req: &LsRequest<'_>,
    protocol: Protocol,
    redirect: Option<String>,
) -> LsResponse {
    let login = sso::end(app, req).await;
    app.events.emit(&SignedOut {
        protocol: protocol.into(),
        login: &login,
        client_ip: req.request.client_ip(),
    });
    app.metrics.count_request(protocol, Outcome::SignedOut);
    let lang = app.pages.lang(req.accept_language);
    let mut r = match redirect {
        Some(url) => super::redirect(url),
        None => LsResponse::html(StatusCode::OK, app.pages.signed_out(lang)),
    };
    r.set_cookies.push(clear_session_cookie());
    r
}
