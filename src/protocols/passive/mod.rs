//! Browser sign-in at `/adfs/ls/`: WS-Federation (`wa=wsignin1.0` / `wsignout1.0`), SAML 2.0
//! (AuthnRequest and LogoutRequest over HTTP-Redirect and HTTP-POST), IdP-initiated sign-on,
//! the sign-in form and the SSO session.
//!
//! Every message names a relying party whose registered reply URLs are the only places a token
//! is ever posted (no open redirect). The sign-in form carries the original request (`ctx`) and a
//! CSRF token that must match a `SameSite=Strict` cookie. A valid SSO cookie (bound to the
//! account's DN, re-checked against the directory) signs the browser in without the form unless
//! `ForceAuthn` asks otherwise. Credentials and SAML messages are never logged.

pub mod page;
pub mod saml;

use crate::app::App;
use crate::config::{RelyingParty, TokenType};
use crate::events::{PassiveRequestRefused, SignedOut, SsoSessionUsed};
use crate::secret::Secret;
use crate::session::{same, Session, COOKIE, CSRF_COOKIE};
use crate::signin::{sign_in, SignInContext, SignedIn};
use crate::tokens::issue::{issue, saml_response, Delivery};
use crate::tokens::rstr::{rstr_body, Version};
use crate::tokens::saml::{response, ResponseSpec, Status, SAML2, SAMLP};
use crate::tokens::{instant, new_id, sign_enveloped};
use crate::xml::Element;
use base64::Engine;
use page::{ErrorKind, Lang, SignInPage};
use std::net::IpAddr;
use std::sync::Arc;

/// Longest query string or form accepted at `/adfs/ls/` beyond the body limit (bytes).
pub const MAX_QUERY: usize = 16 * 1024;
/// Longest RelayState / wctx echoed back.
pub const MAX_STATE: usize = 1024;
const WSFED_TOKEN_TYPE: &str = "urn:oasis:names:tc:SAML:1.0:assertion";

/// A browser request.
#[derive(Debug)]
pub struct LsRequest<'a> {
    /// POST (form) rather than GET.
    pub post: bool,
    /// The raw query string.
    pub raw_query: &'a str,
    /// The form body (POST).
    pub body: &'a [u8],
    /// The `Cookie` header.
    pub cookie_header: Option<&'a str>,
    /// The `Accept-Language` header.
    pub accept_language: Option<&'a str>,
    /// Client address.
    pub client_ip: IpAddr,
    /// The request came to `IdpInitiatedSignOn.aspx`.
    pub idp_initiated: bool,
}

/// What to send back.
#[derive(Debug)]
pub struct LsResponse {
    /// HTTP status.
    pub status: u16,
    /// HTML.
    pub body: String,
    /// `Set-Cookie` values.
    pub set_cookies: Vec<String>,
    /// Origin the page's form posts to (for the CSP).
    pub form_target: Option<String>,
    /// Redirect target (302).
    pub location: Option<String>,
}

impl LsResponse {
    fn html(status: u16, body: String) -> Self {
        LsResponse {
            status,
            body,
            set_cookies: Vec::new(),
            form_target: None,
            location: None,
        }
    }
}

/// A refused request: what the user sees and what is counted.
struct Refusal {
    protocol: &'static str,
    relying_party: String,
    reason: &'static str,
    kind: ErrorKind,
}

fn refuse(protocol: &'static str, rp: &str, reason: &'static str) -> Refusal {
    Refusal {
        protocol,
        relying_party: rp.to_string(),
        reason,
        kind: ErrorKind::BadRequest,
    }
}

enum Deliver {
    WsFed {
        reply: String,
        wctx: Option<String>,
    },
    Saml {
        acs: String,
        request_id: Option<String>,
        relay: Option<String>,
    },
}

struct Target {
    protocol: &'static str,
    rp: RelyingParty,
    deliver: Deliver,
    force_authn: bool,
    is_passive: bool,
}

enum Message {
    SignIn(Target),
    WsFedSignOut {
        wreply: Option<String>,
    },
    SamlLogout {
        request: saml::LogoutRequest,
        relay: Option<String>,
    },
}

fn pairs(s: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(s)
        .take(64)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn get<'a>(p: &'a [(String, String)], k: &str) -> Option<&'a str> {
    p.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
}

fn cookie<'a>(header: Option<&'a str>, name: &str) -> Option<&'a str> {
    header?
        .split(';')
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
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

/// Reads the protocol message out of the parameters. `raw` is the original urlencoded message
/// (for Redirect-binding signatures) and `arrival` says how it came.
fn classify(
    app: &App,
    params: &[(String, String)],
    raw: &str,
    arrival: Arrival,
) -> Result<Message, Refusal> {
    let post_binding = arrival == Arrival::Post;
    let now = (app.clock)();
    let window = time::Duration::try_from(app.config.federation.max_clock_skew)
        .unwrap_or(time::Duration::minutes(5))
        + time::Duration::minutes(5);
    let max = app.config.server.max_body_bytes;
    if arrival == Arrival::IdpInitiated {
        if !app.config.passive.idp_initiated_sign_on {
            return Err(refuse("idp_initiated", "unknown", "idp_initiated_disabled"));
        }
        let id = get(params, "loginToRp")
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
    if let Some(encoded) = get(params, "SAMLRequest") {
        let xml = saml::decode(encoded, !post_binding, max)
            .map_err(|e| refuse("saml", "unknown", e.reason()))?;
        let relay = get(params, "RelayState");
        // A LogoutRequest or an AuthnRequest: try the cheaper check by root element name.
        if let Ok(request) = saml::logout_request(&xml, now, window) {
            return Ok(Message::SamlLogout {
                request,
                relay: bounded(relay, "saml", "unknown")?,
            });
        }
        let req = saml::authn_request(&xml, now, window)
            .map_err(|e| refuse("saml", "unknown", e.reason()))?;
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
            saml::verify_redirect_signature(raw, cert)
                .map_err(|e| refuse("saml", &rp.identifier, e.reason()))?;
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
    match get(params, "wa") {
        Some("wsignin1.0") => {
            let realm = get(params, "wtrealm")
                .ok_or_else(|| refuse("wsfed", "unknown", "missing_wtrealm"))?;
            let rp = app
                .relying_party(realm)
                .ok_or_else(|| refuse("wsfed", "unknown", "unknown_relying_party"))?
                .clone();
            let reply = reply_url(&rp, get(params, "wreply"), "wsfed")?;
            let wctx = bounded(get(params, "wctx"), "wsfed", &rp.identifier)?;
            Ok(Message::SignIn(Target {
                protocol: "wsfed",
                deliver: Deliver::WsFed { reply, wctx },
                force_authn: get(params, "wfresh") == Some("0"),
                is_passive: false,
                rp,
            }))
        }
        Some("wsignout1.0") | Some("wsignoutcleanup1.0") => Ok(Message::WsFedSignOut {
            wreply: get(params, "wreply").map(str::to_string),
        }),
        _ => Err(refuse("wsfed", "unknown", "unknown_message")),
    }
}

fn b64url() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
}

/// How the original request arrived: the form carries it on so the sign-in can finish it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arrival {
    /// Query string (WS-Fed, SAML HTTP-Redirect).
    Get,
    /// Form body (SAML HTTP-POST).
    Post,
    /// IdP-initiated sign-on.
    IdpInitiated,
}

fn encode_ctx(arrival: Arrival, raw: &str) -> String {
    let tag = match arrival {
        Arrival::Get => "get",
        Arrival::Post => "post",
        Arrival::IdpInitiated => "idp",
    };
    b64url().encode(format!("{tag}\n{raw}"))
}

fn decode_ctx(ctx: &str) -> Option<(Arrival, String)> {
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

fn session_cookie(value: &str, max_age: u64) -> String {
    format!("{COOKIE}={value}; Path=/; Secure; HttpOnly; SameSite=None; Max-Age={max_age}")
}

fn clear_session_cookie() -> String {
    format!("{COOKIE}=; Path=/; Secure; HttpOnly; SameSite=None; Max-Age=0")
}

/// Handles one browser request at `/adfs/ls/` (or IdP-initiated sign-on).
pub async fn handle(app: &App, req: &LsRequest<'_>) -> LsResponse {
    let lang = Lang::from_accept_language(req.accept_language);
    let outcome = route(app, req, lang).await;
    match outcome {
        Ok(r) => r,
        Err(refusal) => {
            app.events.emit(&PassiveRequestRefused {
                protocol: refusal.protocol,
                relying_party: &refusal.relying_party,
                reason: refusal.reason,
                client_ip: req.client_ip,
            });
            app.metrics
                .passive
                .requests
                .with_label_values(&[refusal.protocol, "refused"])
                .inc();
            let rp_label = if app.relying_party(&refusal.relying_party).is_some() {
                refusal.relying_party.as_str()
            } else {
                "unknown"
            };
            app.metrics
                .tokens
                .failed
                .with_label_values(&[refusal.protocol, rp_label, refusal.reason])
                .inc();
            let status = match refusal.kind {
                ErrorKind::Unavailable => 503,
                _ => 400,
            };
            LsResponse::html(status, page::error(lang, refusal.kind))
        }
    }
}

async fn route(app: &App, req: &LsRequest<'_>, lang: Lang) -> Result<LsResponse, Refusal> {
    if req.raw_query.len() > MAX_QUERY {
        return Err(refuse("wsfed", "unknown", "query_too_long"));
    }
    if app.signing.is_none() {
        return Err(Refusal {
            kind: ErrorKind::Unavailable,
            ..refuse("wsfed", "unknown", "no_signing_key")
        });
    }
    let query = pairs(req.raw_query.as_bytes());
    let (params, raw, arrival) = if req.post {
        let form = pairs(req.body);
        if get(&form, "UserName").is_some() || get(&form, "Password").is_some() {
            return submit(app, req, lang, &form).await;
        }
        let raw = String::from_utf8_lossy(req.body).into_owned();
        let mut all = form;
        all.extend(query);
        (all, raw, Arrival::Post)
    } else if req.idp_initiated {
        (query, req.raw_query.to_string(), Arrival::IdpInitiated)
    } else {
        (query, req.raw_query.to_string(), Arrival::Get)
    };
    match classify(app, &params, &raw, arrival)? {
        Message::SignIn(target) => begin(app, req, lang, target, &encode_ctx(arrival, &raw)).await,
        Message::WsFedSignOut { wreply } => Ok(sign_out_wsfed(app, req, lang, wreply)),
        Message::SamlLogout { request, relay } => sign_out_saml(app, req, lang, request, relay),
    }
}

/// A sign-in request: the SSO session if there is a good one, else the form.
async fn begin(
    app: &App,
    req: &LsRequest<'_>,
    lang: Lang,
    target: Target,
    ctx: &str,
) -> Result<LsResponse, Refusal> {
    let mut cookies = Vec::new();
    if !target.force_authn {
        if let Some(value) = cookie(req.cookie_header, COOKIE) {
            match sso(app, value).await {
                Ok((signed_in, refreshed)) => {
                    app.metrics
                        .passive
                        .sessions
                        .with_label_values(&["reused"])
                        .inc();
                    let account = signed_in.resolution.account.as_ref();
                    app.events.emit(&SsoSessionUsed {
                        login: &signed_in.resolution.login,
                        account: account.map_or("", |a| a.distinguished_name.as_str()),
                        relying_party: &target.rp.identifier,
                        protocol: target.protocol,
                        client_ip: req.client_ip,
                    });
                    let mut r = deliver(app, req, lang, &target, &signed_in, "sso_token").await?;
                    r.set_cookies.push(refreshed);
                    return Ok(r);
                }
                Err(result) => {
                    app.metrics
                        .passive
                        .sessions
                        .with_label_values(&[result])
                        .inc();
                    cookies.push(clear_session_cookie());
                }
            }
        }
    }
    if target.is_passive {
        if let Deliver::Saml {
            acs,
            request_id,
            relay,
        } = &target.deliver
        {
            let signing = app
                .signing
                .as_ref()
                .ok_or_else(|| refuse(target.protocol, &target.rp.identifier, "no_signing_key"))?;
            let xml = response(
                &ResponseSpec {
                    issuer: &app.config.federation.issuer,
                    destination: acs,
                    in_response_to: request_id.as_deref(),
                    status: Status::NoPassive,
                    now: (app.clock)(),
                },
                None,
                &signing.key,
                true,
            )
            .map_err(|_| refuse(target.protocol, &target.rp.identifier, "signing_failed"))?;
            app.metrics
                .passive
                .requests
                .with_label_values(&[target.protocol, "no_passive"])
                .inc();
            return Ok(post_saml(lang, acs, &xml, relay.as_deref(), cookies));
        }
    }
    let csrf = app
        .sessions
        .random_token()
        .ok_or_else(|| refuse(target.protocol, &target.rp.identifier, "no_randomness"))?;
    cookies.push(format!(
        "{CSRF_COOKIE}={csrf}; Path=/; Secure; HttpOnly; SameSite=Strict"
    ));
    app.metrics
        .passive
        .requests
        .with_label_values(&[target.protocol, "sign_in_page"])
        .inc();
    let mut r = LsResponse::html(200, sign_in_page(app, lang, ctx, &csrf, false, ""));
    r.set_cookies = cookies;
    Ok(r)
}

fn sign_in_page(
    app: &App,
    lang: Lang,
    ctx: &str,
    csrf: &str,
    error: bool,
    username: &str,
) -> String {
    page::sign_in(&SignInPage {
        lang,
        organization: &app.config.passive.organization_name,
        hint: &app.config.passive.sign_in_hint,
        ctx,
        csrf,
        error,
        username,
    })
}

/// Opens and checks the SSO cookie: alive, its login still resolves to the same enabled account.
/// Returns the sign-in and the refreshed cookie, or the metric label for why not.
async fn sso(app: &App, value: &str) -> Result<(SignedIn, String), &'static str> {
    let session = app.sessions.open(value).ok_or("invalid")?;
    let now = (app.clock)().unix_timestamp();
    let p = &app.config.passive;
    if !session.is_live(now, p.session_lifetime, p.session_idle_timeout) {
        return Err("expired");
    }
    let resolution = app.resolver.resolve(&session.login).await;
    let account = resolution.account.as_ref().ok_or("mismatch")?;
    if !account.distinguished_name.eq_ignore_ascii_case(&session.dn) || !account.enabled {
        return Err("mismatch");
    }
    let auth_instant =
        time::OffsetDateTime::from_unix_timestamp(session.auth_instant).map_err(|_| "invalid")?;
    let refreshed = Session {
        last_used: now,
        ..session
    };
    let cookie = app.sessions.seal(&refreshed).ok_or("invalid")?;
    let max_age = p.session_lifetime.as_secs();
    Ok((
        SignedIn {
            resolution: Arc::clone(&resolution),
            auth_instant,
        },
        session_cookie(&cookie, max_age),
    ))
}

/// The sign-in form was posted.
async fn submit(
    app: &App,
    req: &LsRequest<'_>,
    lang: Lang,
    form: &[(String, String)],
) -> Result<LsResponse, Refusal> {
    let ctx = get(form, "ctx").unwrap_or("");
    let (arrival, raw) =
        decode_ctx(ctx).ok_or_else(|| refuse("wsfed", "unknown", "bad_form_context"))?;
    let params = pairs(raw.as_bytes());
    let target = match classify(app, &params, &raw, arrival)? {
        Message::SignIn(t) => t,
        _ => return Err(refuse("wsfed", "unknown", "bad_form_context")),
    };
    let expected = cookie(req.cookie_header, CSRF_COOKIE).unwrap_or("");
    let given = get(form, "csrf").unwrap_or("");
    if expected.is_empty() || !same(expected, given) {
        return Err(Refusal {
            kind: ErrorKind::FormExpired,
            ..refuse(target.protocol, &target.rp.identifier, "csrf")
        });
    }
    let username = get(form, "UserName").unwrap_or("");
    let password = Secret::new(get(form, "Password").unwrap_or("").to_string());
    let sctx = SignInContext {
        protocol: target.protocol,
        relying_party: &target.rp.identifier,
        client_ip: req.client_ip,
    };
    match sign_in(app, username, &password, &sctx).await {
        Err(f) => {
            app.metrics
                .tokens
                .failed
                .with_label_values(&[target.protocol, &target.rp.identifier, f.reason()])
                .inc();
            app.metrics
                .passive
                .requests
                .with_label_values(&[target.protocol, "sign_in_page"])
                .inc();
            // Same generic message for every reason; the user name is echoed back (escaped).
            let shown: String = username.chars().take(320).collect();
            Ok(LsResponse::html(
                200,
                sign_in_page(app, lang, ctx, expected, true, &shown),
            ))
        }
        Ok(signed_in) => {
            let account = signed_in.resolution.account.as_ref();
            let now = (app.clock)().unix_timestamp();
            let session = Session {
                login: signed_in.resolution.login.clone(),
                dn: account.map_or_else(String::new, |a| a.distinguished_name.clone()),
                auth_instant: signed_in.auth_instant.unix_timestamp(),
                last_used: now,
            };
            let mut r = deliver(app, req, lang, &target, &signed_in, "token").await?;
            if let Some(v) = app.sessions.seal(&session) {
                app.metrics
                    .passive
                    .sessions
                    .with_label_values(&["created"])
                    .inc();
                r.set_cookies.push(session_cookie(
                    &v,
                    app.config.passive.session_lifetime.as_secs(),
                ));
            }
            Ok(r)
        }
    }
}

fn post_saml(
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
        status: 200,
        body: page::auto_post(lang, acs, &fields),
        set_cookies: cookies,
        form_target: Some(acs.to_string()),
        location: None,
    }
}

/// Issues the token and builds the page that posts it to the relying party.
async fn deliver(
    app: &App,
    req: &LsRequest<'_>,
    lang: Lang,
    target: &Target,
    signed_in: &SignedIn,
    outcome: &'static str,
) -> Result<LsResponse, Refusal> {
    let rp = &target.rp;
    let failed = |reason: &'static str| Refusal {
        kind: ErrorKind::Unavailable,
        ..refuse(target.protocol, &rp.identifier, reason)
    };
    let page = match &target.deliver {
        Deliver::WsFed { reply, wctx } => {
            let rp11 = RelyingParty {
                token_type: TokenType::Saml11,
                ..rp.clone()
            };
            let assertion = issue(app, &rp11, signed_in, req.client_ip, &Delivery::default())
                .map_err(|_| failed("signing_failed"))?;
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
                status: 200,
                body: page::auto_post(lang, reply, &fields),
                set_cookies: Vec::new(),
                form_target: Some(reply.clone()),
                location: None,
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
                let entry = app.answered_requests.entry(id.clone()).or_insert(()).await;
                if !entry.is_fresh() {
                    return Err(refuse(target.protocol, &rp.identifier, "replayed_request"));
                }
            }
            let xml = saml_response(
                app,
                rp,
                signed_in,
                req.client_ip,
                acs,
                request_id.as_deref(),
            )
            .map_err(|_| failed("signing_failed"))?;
            post_saml(lang, acs, &xml, relay.as_deref(), Vec::new())
        }
    };
    app.metrics
        .tokens
        .issued
        .with_label_values(&[target.protocol, &rp.identifier])
        .inc();
    app.metrics
        .passive
        .requests
        .with_label_values(&[target.protocol, outcome])
        .inc();
    Ok(page)
}

fn session_login(app: &App, req: &LsRequest<'_>) -> String {
    cookie(req.cookie_header, COOKIE)
        .and_then(|v| app.sessions.open(v))
        .map(|s| s.login)
        .unwrap_or_default()
}

fn sign_out_wsfed(
    app: &App,
    req: &LsRequest<'_>,
    lang: Lang,
    wreply: Option<String>,
) -> LsResponse {
    let login = session_login(app, req);
    app.events.emit(&SignedOut {
        protocol: "wsfed",
        login: &login,
        client_ip: req.client_ip,
    });
    app.metrics
        .passive
        .requests
        .with_label_values(&["wsfed", "signed_out"])
        .inc();
    let registered = wreply.filter(|w| {
        app.config
            .relying_parties
            .iter()
            .any(|rp| rp.reply_urls.iter().any(|r| r == w))
    });
    let mut r = match registered {
        Some(url) => LsResponse {
            status: 302,
            location: Some(url),
            ..LsResponse::html(302, String::new())
        },
        None => LsResponse::html(200, page::signed_out(lang)),
    };
    r.set_cookies.push(clear_session_cookie());
    r
}

fn sign_out_saml(
    app: &App,
    req: &LsRequest<'_>,
    lang: Lang,
    request: saml::LogoutRequest,
    relay: Option<String>,
) -> Result<LsResponse, Refusal> {
    let rp = app
        .relying_party(&request.issuer)
        .ok_or_else(|| refuse("saml", "unknown", "unknown_relying_party"))?
        .clone();
    let login = session_login(app, req);
    app.events.emit(&SignedOut {
        protocol: "saml",
        login: &login,
        client_ip: req.client_ip,
    });
    app.metrics
        .passive
        .requests
        .with_label_values(&["saml", "signed_out"])
        .inc();
    let mut r = match &rp.logout_url {
        Some(url) => {
            let signing = app
                .signing
                .as_ref()
                .ok_or_else(|| refuse("saml", &rp.identifier, "no_signing_key"))?;
            let id = new_id();
            let mut lr = Element::new("samlp:LogoutResponse")
                .xmlns("samlp", SAMLP)
                .attr("Destination", url.clone())
                .attr("ID", id.clone())
                .attr("InResponseTo", request.id.clone())
                .attr("IssueInstant", instant((app.clock)()))
                .attr("Version", "2.0")
                .child(
                    Element::new("saml:Issuer")
                        .xmlns("saml", SAML2)
                        .text(app.config.federation.issuer.clone()),
                )
                .child(
                    Element::new("samlp:Status").child(
                        Element::new("samlp:StatusCode")
                            .attr("Value", "urn:oasis:names:tc:SAML:2.0:status:Success"),
                    ),
                );
            sign_enveloped(&mut lr, &id, 1, &signing.key)
                .map_err(|_| refuse("saml", &rp.identifier, "signing_failed"))?;
            post_saml(lang, url, &lr.to_document(), relay.as_deref(), Vec::new())
        }
        None => LsResponse::html(200, page::signed_out(lang)),
    };
    r.set_cookies.push(clear_session_cookie());
    Ok(r)
}

#[cfg(test)]
mod tests;
