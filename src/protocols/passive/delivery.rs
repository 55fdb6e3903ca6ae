//! Delivering a token to the relying party through the browser: a WS-Federation form post of
//! `wresult` (a SAML 1.1 assertion in a WS-Trust 2005 RSTR) to the reply URL, or a SAML 2.0
//! HTTP-POST of the signed Response (answered once per AuthnRequest) to the ACS URL.

use super::page::{self, ErrorKind, Lang};
use super::request::{Deliver, Target};
use super::Passive;
use super::{refuse, LsRequest, LsResponse, Outcome, Refusal, RefusalReason};
use crate::config::TokenType;
use crate::signin::SignedIn;
use crate::tokens::issue::Delivery;
use crate::tokens::rstr::{rstr_body, Version};
use crate::tokens::saml::{response, ResponseSpec, Status};
use base64::Engine;
use hyper::StatusCode;

const WSFED_TOKEN_TYPE: &str = "urn:oasis:names:tc:SAML:1.0:assertion";

/// The page that posts a SAML message (`xml`) to `acs` with the HTTP-POST binding.
pub(super) fn post_saml(
    pages: &page::Pages,
    lang: Lang,
    acs: &str,
    xml: &str,
    relay: Option<&str>,
    cookies: Vec<String>,
) -> LsResponse {
    let encoded = base64::engine::general_purpose::STANDARD.encode(xml);
    let mut fields = vec![("SAMLResponse", encoded.as_str())];
    if let Some(r) = relay {
        fields.push(("RelayState", r));
    }
    LsResponse {
        status: StatusCode::OK,
        body: pages.auto_post(lang, acs, &fields),
        set_cookies: cookies,
        form_target: Some(acs.to_string()),
        location: None,
        www_authenticate: None,
    }
}

/// For a SAML `IsPassive` request without a session: the NoPassive response (with `cookies`),
/// unsigned. `None` for other protocols.
///
/// Unsigned whatever the relying party's `sign` says, because anyone can send IsPassive
/// requests for free and an RSA signature for each would make them a denial-of-service lever.
/// Nothing is lost: the response carries no assertion (SAML profiles 4.1.3.5 require a signature
/// only of assertions, or of the Response that carries them), grants nothing, and a forged one
/// could only tell the SP what dropping the request would (no session); AD FS, signing
/// assertions only by default, sends it unsigned too. An SP that insists on signed responses
/// (pysaml2 `want_response_signed`) refuses it as unsigned rather than as NoPassive: either way
/// the user is not signed in passively.
pub(super) fn no_passive(
    app: &Passive<'_>,
    lang: Lang,
    target: &Target,
    cookies: &mut Vec<String>,
) -> Result<Option<LsResponse>, Refusal> {
    let (acs, request_id, relay) = match &target.deliver {
        Deliver::Saml {
            acs,
            request_id,
            relay,
        } => (acs, request_id, relay),
        Deliver::OAuth(a) => {
            app.metrics
                .count_request(target.protocol, Outcome::NoPassive);
            let mut r = crate::protocols::oauth::authorize::login_required(app, a);
            r.set_cookies = std::mem::take(cookies);
            return Ok(Some(r));
        }
        Deliver::WsFed { .. } => return Ok(None),
    };
    let signing = app.tokens.signing().ok_or_else(|| {
        refuse(
            target.protocol,
            &target.rp.identifier,
            RefusalReason::NoSigningKey,
        )
    })?;
    let xml = response(
        &ResponseSpec {
            issuer: &app.federation.issuer,
            destination: acs,
            in_response_to: request_id.as_deref(),
            status: Status::NoPassive,
            now: app.tokens.now(),
        },
        None,
        &signing.key,
        false,
    )
    .map_err(|_| {
        refuse(
            target.protocol,
            &target.rp.identifier,
            RefusalReason::SigningFailed,
        )
    })?;
    app.metrics
        .count_request(target.protocol, Outcome::NoPassive);
    Ok(Some(post_saml(
        app.pages,
        lang,
        acs,
        &xml,
        relay.as_deref(),
        std::mem::take(cookies),
    )))
}

/// Issues the token and builds the page that posts it to the relying party (an OAuth client
/// gets a code, bound to SSO session `sid`).
pub(super) async fn deliver(
    app: &Passive<'_>,
    req: &LsRequest<'_>,
    lang: Lang,
    target: &Target,
    signed_in: &SignedIn,
    outcome: Outcome,
    sid: &str,
) -> Result<LsResponse, Refusal> {
    let rp = &target.rp;
    let failed = |reason: RefusalReason| Refusal {
        kind: ErrorKind::Unavailable,
        ..refuse(target.protocol, &rp.identifier, reason)
    };
    let page = match &target.deliver {
        Deliver::WsFed { reply, wctx } => {
            let assertion = app
                .tokens
                .issue(
                    rp,
                    TokenType::Saml11,
                    signed_in,
                    &req.request.client,
                    &Delivery::default(),
                )
                .map_err(|_| failed(RefusalReason::SigningFailed))?;
            let wresult = rstr_body(
                Version::Trust2005,
                &assertion,
                WSFED_TOKEN_TYPE,
                &rp.identifier,
            );
            let mut fields = vec![("wa", "wsignin1.0"), ("wresult", wresult.as_str())];
            if let Some(c) = wctx {
                fields.push(("wctx", c.as_str()));
            }
            LsResponse {
                status: StatusCode::OK,
                body: app.pages.auto_post(lang, reply, &fields),
                set_cookies: Vec::new(),
                form_target: Some(reply.clone()),
                location: None,
                www_authenticate: None,
            }
        }
        Deliver::Saml {
            acs,
            request_id,
            relay,
        } => {
            if let Some(id) = request_id {
                // Answered once: an atomic check-and-insert, so even two concurrent copies of
                // one AuthnRequest never both get a response.
                app.first_answer(id)
                    .await
                    .check(target.protocol, &rp.identifier)
                    .map_err(|r| r.asked(id))?;
            }
            let xml = app
                .tokens
                .saml_response(
                    rp,
                    signed_in,
                    &req.request.client,
                    acs,
                    request_id.as_deref(),
                )
                .map_err(|_| failed(RefusalReason::SigningFailed))?;
            post_saml(app.pages, lang, acs, &xml, relay.as_deref(), Vec::new())
        }
        Deliver::OAuth(a) => {
            let inside = req
                .request
                .client
                .is_internal(&app.federation.internal_networks);
            crate::protocols::oauth::authorize::deliver(app, a, signed_in, sid, inside)
                .await
                .map_err(|(reason, status)| {
                    let r = refuse(target.protocol, &rp.identifier, reason);
                    if status == StatusCode::SERVICE_UNAVAILABLE {
                        Refusal {
                            kind: ErrorKind::Unavailable,
                            ..r
                        }
                    } else {
                        r
                    }
                })?
        }
    };
    app.token_metrics
        .count_issued(target.protocol, &rp.identifier);
    app.metrics.count_request(target.protocol, outcome);
    Ok(page)
}
