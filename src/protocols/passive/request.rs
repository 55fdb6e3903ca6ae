//! Reading a browser request at `/adfs/ls/`: its parameters (bounded in number and length), the
//! protocol message they carry (WS-Federation sign-in or sign-out, SAML AuthnRequest or
//! LogoutRequest, IdP-initiated sign-on), the relying party's registered reply URL, and the
//! context codec that carries the original request through the sign-in form.

use super::params::Params;
use super::saml::{self, RedirectQuery};
use super::{refuse, Refusal};
use crate::app::App;
use crate::config::{RelyingParty, TokenType};
use base64::Engine;

/// Longest query string or form accepted at `/adfs/ls/` beyond the body limit (bytes).
pub const MAX_QUERY: usize = 16 * 1024;
/// Longest RelayState / wctx echoed back.
pub const MAX_STATE: usize = 1024;

/// Where and how the token goes once the user is signed in.
pub(super) enum Deliver {
    /// A WS-Federation form post of `wresult` to the reply URL.
    WsFed { reply: String, wctx: Option<String> },
    /// A SAML 2.0 HTTP-POST of the Response to the ACS URL.
    Saml {
        acs: String,
        request_id: Option<String>,
        relay: Option<String>,
    },
}

/// A sign-in request: for whom, where the token goes, and how the user may be asked.
pub(super) struct Target {
    pub(super) protocol: &'static str,
    pub(super) rp: RelyingParty,
    pub(super) deliver: Deliver,
    pub(super) force_authn: bool,
    pub(super) is_passive: bool,
}

/// The protocol message a request carries.
pub(super) enum Message {
    SignIn(Target),
    WsFedSignOut {
        wreply: Option<String>,
    },
    SamlLogout {
        request: saml::LogoutRequest,
        relay: Option<String>,
    },
}

fn bounded(v: Option<&str>, protocol: &'static str, rp: &str) -> Result<Option<String>, Refusal> {
    match v {
        Some(s) if s.len() > MAX_STATE => Err(refuse(protocol, rp, "state_too_long")),
        other => Ok(other.map(str::to_string)),
    }
}

fn reply_url(
    rp: &RelyingParty,
    asked: Option<&str>,
    protocol: &'static str,
) -> Result<String, Refusal> {
    match asked {
        Some(u) if rp.reply_urls.iter().any(|r| r == u) => Ok(u.to_string()),
        Some(_) => Err(refuse(protocol, &rp.identifier, "unregistered_reply_url")),
        None => rp
            .reply_urls
            .first()
            .cloned()
            .ok_or_else(|| refuse(protocol, &rp.identifier, "no_reply_url")),
    }
}

/// Reads the protocol message out of the parameters (one decoding, also the one signatures are
/// verified over); `arrival` says how it came.
pub(super) fn classify(
    app: &App,
    params: &Params<'_>,
    arrival: Arrival,
) -> Result<Message, Refusal> {
    let post_binding = arrival == Arrival::Post;
    let protocol = match arrival {
        Arrival::IdpInitiated => "idp_initiated",
        _ if params.get("SAMLRequest").is_some() => "saml",
        _ => "wsfed",
    };
    params
        .check()
        .map_err(|e| refuse(protocol, "unknown", e.code()))?;
    let now = (app.clock)();
    let window = time::Duration::try_from(app.config.federation.max_clock_skew)
        .unwrap_or(time::Duration::minutes(5))
        + time::Duration::minutes(5);
    let max = app.config.server.max_body_bytes;
    if arrival == Arrival::IdpInitiated {
        if !app.config.passive.idp_initiated_sign_on {
            return Err(refuse("idp_initiated", "unknown", "idp_initiated_disabled"));
        }
        let id = params
            .get("loginToRp")
            .ok_or_else(|| refuse("idp_initiated", "unknown", "missing_login_to_rp"))?;
        let rp = app
            .relying_party(id)
            .ok_or_else(|| refuse("idp_initiated", "unknown", "unknown_relying_party"))?
            .clone();
        let target = reply_url(&rp, None, "idp_initiated")?;
        let deliver = match rp.token_type {
            TokenType::Saml20 => Deliver::Saml {
                acs: target,
                request_id: None,
                relay: None,
            },
            TokenType::Saml11 => Deliver::WsFed {
                reply: target,
                wctx: None,
            },
        };
        return Ok(Message::SignIn(Target {
            protocol: "idp_initiated",
            rp,
            deliver,
            force_authn: false,
            is_passive: false,
        }));
    }
    if let Some(encoded) = params.get("SAMLRequest") {
        let xml = saml::decode(encoded, !post_binding, max)
            .map_err(|e| refuse("saml", "unknown", e.code()))?;
        let relay = params.get("RelayState");
        // A LogoutRequest or an AuthnRequest: try the cheaper check by root element name.
        if let Ok(request) = saml::logout_request(&xml, now, window) {
            return Ok(Message::SamlLogout {
                request,
                relay: bounded(relay, "saml", "unknown")?,
            });
        }
        let req = saml::authn_request(&xml, now, window)
            .map_err(|e| refuse("saml", "unknown", e.code()))?;
        let rp = app
            .relying_party(&req.issuer)
            .ok_or_else(|| refuse("saml", "unknown", "unknown_relying_party"))?
            .clone();
        if rp.require_signed_requests {
            let cert = rp
                .signing_cert_der
                .as_deref()
                .ok_or_else(|| refuse("saml", &rp.identifier, "saml_signature"))?;
            if post_binding {
                // Enveloped signatures on POST-binding requests are not verified yet: refuse
                // rather than accept an unverified request.
                return Err(refuse("saml", &rp.identifier, "saml_signature"));
            }
            // Over the raw values of the very parameters the request was decoded from.
            let refused = || refuse("saml", &rp.identifier, "saml_signature");
            let query = RedirectQuery {
                saml_request: params.raw("SAMLRequest").ok_or_else(refused)?,
                relay_state: params.raw("RelayState"),
                sig_alg: params.raw("SigAlg"),
                signature: params.raw("Signature"),
            };
            saml::verify_redirect_signature(&query, cert)
                .map_err(|e| refuse("saml", &rp.identifier, e.code()))?;
        }
        if app.answered_requests.contains_key(&req.id) {
            return Err(refuse("saml", &rp.identifier, "replayed_request"));
        }
        let acs = reply_url(&rp, req.acs_url.as_deref(), "saml")?;
        let relay = bounded(relay, "saml", &rp.identifier)?;
        return Ok(Message::SignIn(Target {
            protocol: "saml",
            deliver: Deliver::Saml {
                acs,
                request_id: Some(req.id),
                relay,
            },
            force_authn: req.force_authn,
            is_passive: req.is_passive,
            rp,
        }));
    }
    match params.get("wa") {
        Some("wsignin1.0") => {
            let realm = params
                .get("wtrealm")
                .ok_or_else(|| refuse("wsfed", "unknown", "missing_wtrealm"))?;
            let rp = app
                .relying_party(realm)
                .ok_or_else(|| refuse("wsfed", "unknown", "unknown_relying_party"))?
                .clone();
            let reply = reply_url(&rp, params.get("wreply"), "wsfed")?;
            let wctx = bounded(params.get("wctx"), "wsfed", &rp.identifier)?;
            Ok(Message::SignIn(Target {
                protocol: "wsfed",
                deliver: Deliver::WsFed { reply, wctx },
                force_authn: params.get("wfresh") == Some("0"),
                is_passive: false,
                rp,
            }))
        }
        Some("wsignout1.0") | Some("wsignoutcleanup1.0") => Ok(Message::WsFedSignOut {
            wreply: params.get("wreply").map(str::to_string),
        }),
        _ => Err(refuse("wsfed", "unknown", "unknown_message")),
    }
}

fn b64url() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
}

/// How the original request arrived: the form carries it on so the sign-in can finish it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Arrival {
    /// Query string (WS-Fed, SAML HTTP-Redirect).
    Get,
    /// Form body (SAML HTTP-POST).
    Post,
    /// IdP-initiated sign-on.
    IdpInitiated,
}

/// The sign-in form's `ctx`: how the original request arrived and its raw parameters.
pub(super) fn encode_ctx(arrival: Arrival, raw: &str) -> String {
    let tag = match arrival {
        Arrival::Get => "get",
        Arrival::Post => "post",
        Arrival::IdpInitiated => "idp",
    };
    b64url().encode(format!("{tag}\n{raw}"))
}

/// Reads back a `ctx` made by [`encode_ctx`].
pub(super) fn decode_ctx(ctx: &str) -> Option<(Arrival, String)> {
    let s = String::from_utf8(b64url().decode(ctx).ok()?).ok()?;
    let (tag, raw) = s.split_once('\n')?;
    let arrival = match tag {
        "get" => Arrival::Get,
        "post" => Arrival::Post,
        "idp" => Arrival::IdpInitiated,
        _ => return None,
    };
    Some((arrival, raw.to_string()))
}
