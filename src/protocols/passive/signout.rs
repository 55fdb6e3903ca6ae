//! Signing out at `/adfs/ls/`: WS-Federation `wsignout1.0` (back to a registered reply URL or the
//! signed-out page) and SAML LogoutRequest (a signed LogoutResponse posted to the SP's logout
//! URL; answered once when the SP signs its requests). Both clear the SSO cookie and are
//! audited.

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

/// SAML single logout: answers the LogoutRequest of `rp` (known, and its signature verified when
/// it signs requests) at the SP's registered logout URL.
pub(super) async fn saml(
    app: &Passive<'_>,
    req: &LsRequest<'_>,
    lang: Lang,
    rp: &RelyingParty,
    request: &LogoutRequest,
    relay: Option<String>,
) -> Result<LsResponse, Refusal> {
    if rp.require_signed_requests {
        // A signed request is answered once: an atomic check-and-insert into the cache that
        // remembers answered AuthnRequests. (Anyone can mint a fresh ID for an SP that does not
        // sign, so its requests are not remembered.)
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
            let signing = app.tokens.signing().ok_or_else(|| {
                refuse(Protocol::Saml, &rp.identifier, RefusalReason::NoSigningKey)
            })?;
            let xml = logout_response(
                &LogoutResponseSpec {
                    issuer: &app.federation.issuer,
                    destination: url,
                    in_response_to: &request.id,
                    now: app.tokens.now(),
                },
                &signing.key,
            )
            .map_err(|_| refuse(Protocol::Saml, &rp.identifier, RefusalReason::SigningFailed))?;
            post_saml(app.pages, lang, url, &xml, relay.as_deref(), Vec::new())
        }
        None => LsResponse::html(StatusCode::OK, app.pages.signed_out(lang)),
    };
    r.set_cookies.push(clear_session_cookie());
    Ok(r)
}
