//! Reading a browser request at `/adfs/ls/`: the protocol message its parameters carry
//! (WS-Federation sign-in or sign-out, SAML AuthnRequest or LogoutRequest, IdP-initiated
//! sign-on), checked (fresh, signed when the relying party requires it, not yet answered), the
//! relying party's registered reply URL, bounded echoed state, and the context codec that carries
//! the original request through the sign-in form.
//!
//! A relying party with `require_signed_requests` is reached only by signed AuthnRequests:
//! WS-Federation and IdP-initiated sign-on carry no signature, so they are refused for it
//! (`signed_requests_required`). A LogoutRequest must be signed unless its relying party says
//! `logout_requests: accept_unsigned`; one that carries a signature must verify either way.

use super::hints;
use super::params::Params;
use super::saml::{self, RedirectQuery, Request, Window};
use super::Passive;
use super::{refuse, Refusal, RefusalReason};
use crate::config::{LogoutRequests, RelyingParty, TokenType};
use crate::signin::Protocol;
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
    /// An OAuth authorization code to the client's redirect URI.
    OAuth(Box<crate::protocols::oauth::authorize::Authorization>),
}

/// A sign-in request: for whom, where the token goes, and how the user may be asked.
pub(super) struct Target {
    pub(super) protocol: Protocol,
    pub(super) rp: RelyingParty,
    pub(super) deliver: Deliver,
    pub(super) force_authn: bool,
    /// A `wauth` naming a password method: the form, never Windows integrated sign-in.
    pub(super) password_only: bool,
    pub(super) is_passive: bool,
    /// The login hint (WS-Fed `username`, SAML `Subject/NameID`): pre-fills the form, and an
    /// SSO session of another account is not reused (see [`hints`]).
    pub(super) hint: Option<String>,
    /// OpenID Connect `max_age` (seconds): an SSO session whose sign-in is older is not
    /// reused.
    pub(super) max_age: Option<u64>,
}

impl Target {
    /// A page of this sign-in (the form, the password change) whose post may end in a redirect
    /// to the client's redirect URI: `form-action` must allow that origin too, or the browser
    /// stops the redirect.
    pub(super) fn allow_redirect(&self, mut r: super::LsResponse) -> super::LsResponse {
        if let (Deliver::OAuth(a), None) = (&self.deliver, &r.form_target) {
            r.form_target = Some(a.redirect_uri.clone());
        }
        r
    }
}

/// The sign-in request of a checked OpenID Connect authorization request.
pub(super) fn oauth_target(c: crate::protocols::oauth::authorize::Checked) -> Target {
    Target {
        protocol: Protocol::Oidc,
        rp: c.relying_party,
        deliver: Deliver::OAuth(Box::new(c.authorization)),
        force_authn: c.force_authn,
        password_only: false,
        is_passive: c.is_passive,
        hint: c.hint,
        max_age: c.max_age,
    }
}

/// The protocol message a request carries.
pub(super) enum Message {
    SignIn(Target),
    WsFedSignOut {
        wreply: Option<String>,
    },
    SamlLogout {
        /// The SP that sent it (checked: known, and signed when its `logout_requests` asks).
        rp: RelyingParty,
        request: saml::LogoutRequest,
        relay: Option<String>,
        /// Its HTTP-Redirect signature verified with the SP's certificate: only the SP could
        /// have made it (answered once, with a signed LogoutResponse). False: an unsigned
        /// request the relying party accepts (`logout_requests: accept_unsigned`).
        signed: bool,
    },
}

/// Refuses WS-Federation and IdP-initiated sign-on (`protocol`) to `rp` when it requires
/// signed requests: neither carries a signature.
fn unsigned_protocol_allowed(rp: &RelyingParty, protocol: Protocol) -> Result<(), Refusal> {
    if rp.require_signed_requests {
        return Err(refuse(
            protocol,
            &rp.identifier,
            RefusalReason::SignedRequestsRequired,
        ));
    }
    Ok(())
}

fn bounded(v: Option<&str>, protocol: Protocol, rp: &str) -> Result<Option<String>, Refusal> {
    match v {
        Some(s) if s.len() > MAX_STATE => Err(refuse(protocol, rp, RefusalReason::StateTooLong)),
        other => Ok(other.map(str::to_string)),
    }
}

fn reply_url(
    rp: &RelyingParty,
    asked: Option<&str>,
    protocol: Protocol,
) -> Result<String, Refusal> {
    match asked {
        Some(u) if rp.reply_urls.iter().any(|r| r == u) => Ok(u.to_string()),
        Some(u) => Err(refuse(
            protocol,
            &rp.identifier,
            RefusalReason::UnregisteredReplyUrl,
        )
        .asked(u)),
        None => rp
            .reply_urls
            .first()
            .cloned()
            .ok_or_else(|| refuse(protocol, &rp.identifier, RefusalReason::NoReplyUrl)),
    }
}

/// The IssueInstant window for SAML requests: no wider than the replay cache remembers answered
/// IDs (see [`Window::for_replay_cache`]).
fn saml_window(app: &Passive<'_>) -> Window {
    let skew = time::Duration::try_from(app.federation.max_clock_skew)
        .unwrap_or(time::Duration::minutes(5));
    let ttl = time::Duration::try_from(app.answered_requests.ttl()).ok();
    Window::for_replay_cache(skew, ttl)
}

/// Checks the signature of a SAML request from `rp`, which requires signed requests: over the
/// raw values of the very parameters the request was decoded from.
fn verify_signed(
    params: &Params<'_>,
    rp: &RelyingParty,
    post_binding: bool,
) -> Result<(), Refusal> {
    let refused = || refuse(Protocol::Saml, &rp.identifier, RefusalReason::SamlSignature);
    let cert = rp.signing_cert_der.as_deref().ok_or_else(refused)?;
    if post_binding {
        // Enveloped signatures on POST-binding requests are not verified yet: refuse rather than
        // accept an unverified request.
        return Err(refused());
    }
    let query = RedirectQuery {
        saml_request: params.raw("SAMLRequest").ok_or_else(refused)?,
        relay_state: params.raw("RelayState"),
        sig_alg: params.raw("SigAlg"),
        signature: params.raw("Signature"),
    };
    saml::verify_redirect_signature(&query, cert)
        .map_err(|e| refuse(Protocol::Saml, &rp.identifier, e.reason()))
}

/// Checks a LogoutRequest from `rp`: whether it is signed (its HTTP-Redirect signature
/// verified). Required unless `rp` says `logout_requests: accept_unsigned` (and does not
/// require signed requests); then an unsigned one is accepted (false), but one that carries a
/// signature altgate can check must verify. A POST-binding request's enveloped signature is not
/// verified: refused where a signature is required, unsigned otherwise.
fn logout_signature(
    params: &Params<'_>,
    rp: &RelyingParty,
    post_binding: bool,
) -> Result<bool, Refusal> {
    let required =
        rp.require_signed_requests || rp.logout_requests == LogoutRequests::RequireSigned;
    let carries_one = params.raw("Signature").is_some() || params.raw("SigAlg").is_some();
    let checkable = carries_one && !post_binding && rp.signing_cert_der.is_some();
    if required || checkable {
        verify_signed(params, rp, post_binding)?;
        return Ok(true);
    }
    Ok(false)
}

/// Reads the protocol message out of the parameters (one decoding, also the one signatures are
/// verified over); `arrival` says how it came.
pub(super) fn classify(
    app: &Passive<'_>,
    params: &Params<'_>,
    arrival: Arrival,
) -> Result<Message, Refusal> {
    let post_binding = arrival == Arrival::Post;
    let protocol = match arrival {
        Arrival::IdpInitiated => Protocol::IdpInitiated,
        _ if params.get("SAMLRequest").is_some() => Protocol::Saml,
        _ => Protocol::Wsfed,
    };
    params
        .check()
        .map_err(|e| refuse(protocol, "unknown", e.reason()))?;
    let max = app.max_body_bytes;
    if arrival == Arrival::IdpInitiated {
        if !app.settings.idp_initiated_sign_on {
            return Err(refuse(
                Protocol::IdpInitiated,
                "unknown",
                RefusalReason::IdpInitiatedDisabled,
            ));
        }
        let id = params.get("loginToRp").ok_or_else(|| {
            refuse(
                Protocol::IdpInitiated,
                "unknown",
                RefusalReason::MissingLoginToRp,
            )
        })?;
        let rp = app
            .relying_party(id)
            .ok_or_else(|| {
                refuse(
                    Protocol::IdpInitiated,
                    "unknown",
                    RefusalReason::UnknownRelyingParty,
                )
                .asked(id)
            })?
            .clone();
        unsigned_protocol_allowed(&rp, Protocol::IdpInitiated)?;
        let target = reply_url(&rp, None, Protocol::IdpInitiated)?;
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
            protocol: Protocol::IdpInitiated,
            rp,
            deliver,
            force_authn: false,
            password_only: false,
            is_passive: false,
            hint: None,
            max_age: None,
        }));
    }
    if let Some(encoded) = params.get("SAMLRequest") {
        let xml = saml::decode(encoded, !post_binding, max)
            .map_err(|e| refuse(Protocol::Saml, "unknown", e.reason()))?;
        let request = saml::request(&xml, app.tokens.now(), saml_window(app))
            .map_err(|e| refuse(Protocol::Saml, "unknown", e.reason()))?;
        let issuer = match &request {
            Request::Authn(r) => &r.issuer,
            Request::Logout(r) => &r.issuer,
        };
        let rp = app
            .relying_party(issuer)
            .ok_or_else(|| {
                refuse(
                    Protocol::Saml,
                    "unknown",
                    RefusalReason::UnknownRelyingParty,
                )
                .asked(issuer)
            })?
            .clone();
        let req = match request {
            // Answered (and remembered, when signed) once at sign-out.
            Request::Logout(request) => {
                let signed = logout_signature(params, &rp, post_binding)?;
                let relay = bounded(params.get("RelayState"), Protocol::Saml, &rp.identifier)?;
                return Ok(Message::SamlLogout {
                    rp,
                    request,
                    relay,
                    signed,
                });
            }
            Request::Authn(req) => req,
        };
        if rp.require_signed_requests {
            verify_signed(params, &rp, post_binding)?;
        }
        let relay = bounded(params.get("RelayState"), Protocol::Saml, &rp.identifier)?;
        if app.answered_requests.contains(&req.id) {
            return Err(refuse(
                Protocol::Saml,
                &rp.identifier,
                RefusalReason::ReplayedRequest,
            )
            .asked(&req.id));
        }
        let acs = reply_url(&rp, req.acs_url.as_deref(), Protocol::Saml)?;
        return Ok(Message::SignIn(Target {
            protocol: Protocol::Saml,
            deliver: Deliver::Saml {
                acs,
                request_id: Some(req.id),
                relay,
            },
            force_authn: req.force_authn || hints::prompt_login(params),
            password_only: false,
            is_passive: req.is_passive,
            hint: hints::login_hint(req.subject_hint.as_deref()),
            max_age: None,
            rp,
        }));
    }
    match params.get("wa") {
        Some("wsignin1.0") => {
            let realm = params
                .get("wtrealm")
                .ok_or_else(|| refuse(Protocol::Wsfed, "unknown", RefusalReason::MissingWtrealm))?;
            let rp = app
                .relying_party(realm)
                .ok_or_else(|| {
                    refuse(
                        Protocol::Wsfed,
                        "unknown",
                        RefusalReason::UnknownRelyingParty,
                    )
                    .asked(realm)
                })?
                .clone();
            unsigned_protocol_allowed(&rp, Protocol::Wsfed)?;
            let reply = reply_url(&rp, params.get("wreply"), Protocol::Wsfed)?;
            let wctx = bounded(params.get("wctx"), Protocol::Wsfed, &rp.identifier)?;
            // `whr` (home realm) is accepted and ignored: one claims provider.
            let wauth = params.get("wauth");
            let windows = app.windows.is_some_and(|w| w.settings.browser);
            let accepted =
                hints::password_method(wauth) || (windows && hints::windows_method(wauth));
            if !accepted {
                return Err(refuse(
                    Protocol::Wsfed,
                    &rp.identifier,
                    RefusalReason::UnsupportedAuthMethod,
                )
                .asked(wauth.unwrap_or("")));
            }
            Ok(Message::SignIn(Target {
                protocol: Protocol::Wsfed,
                deliver: Deliver::WsFed { reply, wctx },
                force_authn: params.get("wfresh").map(str::trim) == Some("0")
                    || hints::prompt_login(params),
                password_only: wauth.is_some_and(|w| !w.trim().is_empty())
                    && hints::password_method(wauth),
                is_passive: false,
                hint: hints::login_hint(params.get("username")),
                max_age: None,
                rp,
            }))
        }
        Some("wsignout1.0") | Some("wsignoutcleanup1.0") => Ok(Message::WsFedSignOut {
            wreply: params.get("wreply").map(str::to_string),
        }),
        other => Err(
            refuse(Protocol::Wsfed, "unknown", RefusalReason::UnknownMessage)
                .asked(other.unwrap_or("")),
        ),
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
    /// An OpenID Connect authorization request (query or form).
    OAuth,
}

/// The sign-in form's `ctx`: how the original request arrived and its raw parameters.
pub(super) fn encode_ctx(arrival: Arrival, raw: &str) -> String {
    let tag = match arrival {
        Arrival::Get => "get",
        Arrival::Post => "post",
        Arrival::IdpInitiated => "idp",
        Arrival::OAuth => "oauth",
    };
    b64url().encode(format!("{tag}\n{raw}"))
}

/// The sign-in request a posted form's `ctx` carries on ([`encode_ctx`]), classified again;
/// `bad_form_context` when it is anything else.
pub(super) fn target_of_ctx(app: &Passive<'_>, ctx: &str) -> Result<Target, Refusal> {
    let bad = || refuse(Protocol::Wsfed, "unknown", RefusalReason::BadFormContext);
    let (arrival, raw) = decode_ctx(ctx).ok_or_else(bad)?;
    if arrival == Arrival::OAuth {
        // Checked again as it arrived; an error now (the configuration changed) is no
        // sign-in: the form expired.
        return match crate::protocols::oauth::authorize::read(app, &raw)? {
            crate::protocols::oauth::authorize::Read::SignIn(c) => Ok(oauth_target(*c)),
            crate::protocols::oauth::authorize::Read::Redirect(..) => Err(bad()),
        };
    }
    match classify(app, &Params::parse(&raw), arrival)? {
        Message::SignIn(target) => Ok(target),
        _ => Err(bad()),
    }
}

/// Reads back a `ctx` made by [`encode_ctx`].
pub(super) fn decode_ctx(ctx: &str) -> Option<(Arrival, String)> {
    let s = String::from_utf8(b64url().decode(ctx).ok()?).ok()?;
    let (tag, raw) = s.split_once('\n')?;
    let arrival = match tag {
        "get" => Arrival::Get,
        "post" => Arrival::Post,
        "idp" => Arrival::IdpInitiated,
        "oauth" => Arrival::OAuth,
        _ => return None,
    };
    Some((arrival, raw.to_string()))
}
