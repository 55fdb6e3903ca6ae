//! Browser sign-in at `/adfs/ls/`: WS-Federation (`wa=wsignin1.0` / `wsignout1.0`), SAML 2.0
//! (AuthnRequest and LogoutRequest over HTTP-Redirect and HTTP-POST), IdP-initiated sign-on,
//! the sign-in form and the SSO session.
//!
//! Every message names a relying party whose registered reply URLs are the only places a token
//! is ever posted (no open redirect). The sign-in form carries the original request (`ctx`) and a
//! CSRF token that must match a `SameSite=Strict` cookie. A valid SSO cookie (bound to the
//! account's DN; the account's state is read fresh from the directory at every use) signs the
//! browser in without the form unless `ForceAuthn` asks otherwise. Credentials and SAML
//! messages are never logged.
//!
//! This module is the entry point ([`handle`]) and its types; the roles live in submodules:
//! `params` decodes the parameters once, `request` reads and checks the protocol message they
//! carry, `hints` reads what Entra ID adds (login hint, fresh-password requests, `wauth`,
//! `whr`), `form` runs the sign-in page, `sso` reuses the SSO session, `delivery` posts the token
//! to the relying party, `signout` ends the session; [`page`] renders HTML (built-in strings in
//! `texts`) and [`saml`] decodes and checks SAML requests.

mod delivery;
mod form;
#[doc(hidden)]
pub(crate) mod fuzz;
mod hints;
mod negotiate;
pub mod page;
mod params;
mod password_change;
mod request;
pub mod saml;
mod signout;
mod sso;
mod texts;

use crate::config::state::OnUnavailable;
use crate::config::{Federation, RelyingParty};
use crate::directory::Directory;
use crate::events::{clip, Events, PassiveRequestRefused};
use crate::label::{kinds, label_set};
use crate::metrics::{PassiveMetrics, TokenMetrics};
use crate::request::RequestContext;
use crate::resolve::Resolver;
use crate::session::SessionKeys;
use crate::signin::{Protocol, SignIn};
use crate::state::memory::LocalReplay;
use crate::state::{StateError, StateStore};
use crate::tokens::issue::Tokens;
pub(crate) use hints::login_hint;
use hyper::StatusCode;
use page::{ErrorKind, Lang, Pages, Trace};
use params::Params;
pub use password_change::update_password;
use request::{classify, encode_ctx, Arrival, Message};
pub use request::{MAX_QUERY, MAX_STATE};
pub(crate) use signout::signed_out;

label_set! {
    /// How a browser request at `/adfs/ls/` (or at the password-change page) ended: the
    /// `outcome` of `altgate_passive_requests_total`.
    pub enum Outcome: kinds::PassiveOutcome {
        /// A password sign-in (the form, or a password change in flight) ended with a token
        /// posted to the relying party.
        Token = "token",
        /// The SSO session signed the browser in: a token posted without the form.
        SsoToken = "sso_token",
        /// A Kerberos ticket (Windows integrated authentication) signed the browser in: a
        /// token posted without the form.
        WindowsToken = "windows_token",
        /// The sign-in form was shown: first, or again after a failed sign-in.
        SignInPage = "sign_in_page",
        /// Windows integrated sign-in was offered: `401 Negotiate` with the sign-in form as its
        /// body. A browser with a ticket comes back with it (`windows_token`); one without shows
        /// the form, so the difference between the two counts is the users who had no ticket.
        NegotiateChallenge = "negotiate_challenge",
        /// The password-change page of a sign-in in flight (AD answered that the password
        /// expired or must be changed) was shown, or posted with its state checked.
        PasswordChangePage = "password_change_page",
        /// The voluntary password-change page (`update_password`) was shown, or posted with a
        /// valid CSRF token.
        Page = "page",
        /// A SAML `IsPassive` request without a usable session: the NoPassive response.
        NoPassive = "no_passive",
        /// The request was refused (why: a `passive_refusal`; on the `update_password`
        /// page, a failed CSRF check).
        Refused = "refused",
        /// A WS-Federation or SAML sign-out was answered.
        SignedOut = "signed_out",
    }
}

label_set! {
    /// What happened to an SSO session cookie at `/adfs/ls/`: the `result` of
    /// `altgate_sso_sessions_total`, and the reason of `sso_session_ended`.
    pub enum SsoResult: kinds::SsoResult {
        /// A form sign-in started a session (its cookie was set).
        Created = "created",
        /// The session signed the browser in without the form.
        Reused = "reused",
        /// The login hint names another account: the form was shown, the session kept.
        HintMismatch = "hint_mismatch",
        /// The cookie does not open (tampered, malformed, sealed with another key) or could not
        /// be sealed again: cleared.
        Invalid = "invalid",
        /// The session outlived `passive.session_lifetime` or was idle longer than
        /// `passive.session_idle_timeout`: cleared.
        Expired = "expired",
        /// The session was signed out (on any node of the farm): cleared.
        Revoked = "revoked",
        /// The farm state store did not answer the revocation check (revocation fails closed
        /// whatever `state.on_unavailable` says): the form was shown, the cookie kept.
        StateUnavailable = "state_unavailable",
        /// The session's login no longer resolves to the session's account: cleared.
        Mismatch = "mismatch",
        /// The account is disabled (read fresh from a DC): the session ended.
        AccountDisabled = "account_disabled",
        /// The account's password was set after the session's sign-in (a reset, a change, or
        /// "must change at next logon"): the session ended.
        PasswordChanged = "password_changed",
        /// No user is at the session's DN any more (deleted, moved, renamed): the session ended.
        AccountMissing = "account_missing",
        /// No domain controller could read the account's state: the form was shown, the cookie
        /// kept.
        DirectoryUnavailable = "directory_unavailable",
    }
}

label_set! {
    /// Why a browser request at `/adfs/ls/` was refused: the reason of
    /// `passive_request_refused`, and of `altgate_token_failures_total`.
    pub enum RefusalReason: kinds::PassiveRefusal, also kinds::TokenFailure {
        /// The query string is longer than 16 KiB.
        QueryTooLong = "query_too_long",
        /// No token-signing key is loaded: nothing can be signed.
        NoSigningKey = "no_signing_key",
        /// A protocol parameter's name arrived percent- or plus-encoded (`SAML%52equest`).
        EncodedParameterName = "encoded_parameter_name",
        /// A protocol parameter appears more than once.
        DuplicateParameter = "duplicate_parameter",
        /// IdP-initiated sign-on is off (`passive.idp_initiated_sign_on`).
        IdpInitiatedDisabled = "idp_initiated_disabled",
        /// IdP-initiated sign-on without `loginToRp`.
        MissingLoginToRp = "missing_login_to_rp",
        /// The relying party requires signed requests (`require_signed_requests`) and the
        /// request came through WS-Federation or IdP-initiated sign-on, which carry no
        /// signature.
        SignedRequestsRequired = "signed_requests_required",
        /// WS-Federation sign-in without `wtrealm`.
        MissingWtrealm = "missing_wtrealm",
        /// The realm, SAML issuer or `loginToRp` names no configured relying party.
        UnknownRelyingParty = "unknown_relying_party",
        /// `wa` is missing or not a WS-Federation action altgate answers.
        UnknownMessage = "unknown_message",
        /// `wauth` asks for an authentication method other than a password.
        UnsupportedAuthMethod = "unsupported_auth_method",
        /// The reply URL asked for (`wreply`, `AssertionConsumerServiceURL`) is not one the
        /// relying party registered.
        UnregisteredReplyUrl = "unregistered_reply_url",
        /// The relying party has no registered reply URL.
        NoReplyUrl = "no_reply_url",
        /// `RelayState` or `wctx` is longer than 1024 bytes.
        StateTooLong = "state_too_long",
        /// The SAML message is not base64, not DEFLATE, too large when inflated, or not XML.
        SamlDecode = "saml_decode",
        /// The SAML message is not the expected element or misses required parts.
        SamlMalformed = "saml_malformed",
        /// The SAML request's IssueInstant is too old or in the future.
        SamlStale = "saml_stale",
        /// The SAML request's signature is missing, unsupported or wrong where one is required
        /// (an AuthnRequest to a relying party with `require_signed_requests`, a LogoutRequest
        /// from one with `logout_requests: require_signed`, the default; or a request that came
        /// with the POST binding, whose signatures are not verified), or a LogoutRequest carried
        /// a signature that does not verify. A refused LogoutRequest ends no session.
        SamlSignature = "saml_signature",
        /// The SAML request ID was already answered (on any node of the farm).
        ReplayedRequest = "replayed_request",
        /// The farm state store did not answer the SAML replay check and
        /// `state.on_unavailable` is `fail_closed` (answered 503).
        StateUnavailable = "state_unavailable",
        /// The replay cache holds `state.replay_cache_max_entries` live request IDs: a request
        /// with a new ID is refused (answered 503) until IDs expire, rather than one forgotten
        /// early.
        ReplayCacheFull = "replay_cache_full",
        /// A posted form's context (`ctx`) does not decode to a sign-in request.
        BadFormContext = "bad_form_context",
        /// A posted form's CSRF token does not match its cookie, or the cookie is missing: the
        /// form expired.
        Csrf = "csrf",
        /// The password-change page's sealed state does not open, has expired or names no
        /// known trigger: the form expired.
        PasswordChangeState = "password_change_state",
        /// An OpenID Connect authorization request without a usable `client_id` or
        /// `redirect_uri`, or with a repeated or oversized parameter: an error page, never a
        /// redirect (the redirect URI is not known good).
        OAuthRequest = "oauth_request",
        /// The system's random generator failed: no CSRF token or sealed state could be made.
        NoRandomness = "no_randomness",
        /// Building or signing the token, or building the NoPassive response or the
        /// LogoutResponse, failed (answered 503 for a token).
        SigningFailed = "signing_failed",
    }
}

/// What browser sign-in needs from the application, and nothing more.
#[derive(Clone, Copy)]
pub struct Passive<'a> {
    /// `passive:` settings (session lifetimes, page texts, IdP-initiated sign-on).
    pub settings: &'a crate::config::PassiveConfig,
    /// The pages, rendered with the configured branding.
    pub pages: &'a Pages,
    /// Issuer, federated domains, clock skew.
    pub federation: &'a Federation,
    /// Configured relying parties.
    pub relying_parties: &'a [RelyingParty],
    /// `server.max_body_bytes` (a query string may carry as much).
    pub max_body_bytes: usize,
    /// Password sign-in.
    pub sign_in: &'a SignIn,
    /// Login resolution (the SSO session's account check).
    pub resolver: &'a Resolver,
    /// The directory (the SSO session's fresh account-state read).
    pub directory: &'a dyn Directory,
    /// Token issuance.
    pub tokens: &'a Tokens,
    /// SSO session cookie keys.
    pub sessions: &'a SessionKeys,
    /// SAML request IDs already answered on this node (a fast first check, and what decides
    /// under `fail_open` when the store cannot answer).
    pub answered_requests: &'a LocalReplay,
    /// State shared by the farm: answered request IDs, revoked sessions.
    pub state: &'a dyn StateStore,
    /// What to do when `state` cannot answer.
    pub on_unavailable: OnUnavailable,
    /// Event sink.
    pub events: &'a Events,
    /// Browser sign-in counters.
    pub metrics: &'a PassiveMetrics,
    /// Token counters.
    pub token_metrics: &'a TokenMetrics,
    /// Windows integrated sign-in, when `kerberos` is configured.
    pub windows: Option<&'a WindowsBrowser>,
    /// OAuth / OpenID Connect clients, when `oauth` is configured (the authorization
    /// endpoint's sign-ins come through here).
    pub oauth: Option<&'a crate::config::oauth::OAuthConfig>,
    /// Recent account-state reads (`passive.account_state_max_age`), through `directory`.
    pub account_states: &'a crate::account_check::AccountStates,
}

/// Windows integrated sign-in as browser sign-in uses it.
pub struct WindowsBrowser {
    /// The Kerberos sign-in service.
    pub service: crate::signin::windows::WindowsSignIn,
    /// Where and to whom it is offered.
    pub settings: crate::config::WindowsIntegrated,
}

impl Passive<'_> {
    /// The relying party `applies_to` names, if configured.
    fn relying_party(&self, applies_to: &str) -> Option<&RelyingParty> {
        super::relying_party(self.relying_parties, applies_to)
    }

    /// Whether SAML request `id` may be answered: the first time any node of the farm answers
    /// it (an atomic check-and-insert in the farm's state store, and in this node's own memory,
    /// kept as long as the request could still be accepted). If the store cannot answer,
    /// `state.on_unavailable` decides: `fail_open` lets this node's own memory decide,
    /// `fail_closed` refuses (no node can then vouch that another has not answered it). A full
    /// replay cache refuses whatever `on_unavailable` says: it cannot remember one more ID, and
    /// forgetting one early would let its request be answered twice.
    async fn first_answer(&self, id: &str) -> Answer {
        let here = || match self.answered_requests.first_use(id) {
            Some(true) => Answer::First,
            Some(false) => Answer::Replayed,
            None => Answer::Full,
        };
        match self
            .state
            .first_use(&format!("saml-request:{id}"), self.answered_requests.ttl())
            .await
        {
            // The farm never saw it; this node may have (a store that forgot). This node's
            // memory being full is no reason to refuse: the farm vouches.
            Ok(true) => match here() {
                Answer::Replayed => Answer::Replayed,
                _ => Answer::First,
            },
            Ok(false) => Answer::Replayed,
            Err(StateError::ReplayCacheFull(_)) => Answer::Full,
            Err(e) if self.on_unavailable == OnUnavailable::FailOpen => {
                tracing::warn!(target: "altgate::ops", code = e.code(), "state store unavailable for the SAML replay check; this node's memory decided (fail_open)");
                here()
            }
            Err(e) => {
                tracing::warn!(target: "altgate::ops", code = e.code(), "state store unavailable for the SAML replay check; refused (fail_closed)");
                Answer::Unavailable
            }
        }
    }
}

/// What the farm-wide replay check says about a SAML request ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// Never answered before: answer it.
    First,
    /// Already answered (here or on another node).
    Replayed,
    /// The state store did not answer and `state.on_unavailable` is `fail_closed`.
    Unavailable,
    /// The replay cache is full (`state.replay_cache_max_entries`).
    Full,
}

impl Answer {
    /// `Err(refusal)` unless this is the first answer.
    fn check(self, protocol: Protocol, rp: &str) -> Result<(), Refusal> {
        match self {
            Answer::First => Ok(()),
            Answer::Replayed => Err(refuse(protocol, rp, RefusalReason::ReplayedRequest)),
            Answer::Unavailable => Err(Refusal {
                kind: ErrorKind::Unavailable,
                ..refuse(protocol, rp, RefusalReason::StateUnavailable)
            }),
            Answer::Full => Err(Refusal {
                kind: ErrorKind::Unavailable,
                ..refuse(protocol, rp, RefusalReason::ReplayCacheFull)
            }),
        }
    }
}

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
    /// Who sent it (addresses beyond the trusted proxies) and its activity ID (shown on error
    /// pages; every event of the request carries it).
    pub request: &'a RequestContext,
    /// The request came to `IdpInitiatedSignOn.aspx`.
    pub idp_initiated: bool,
    /// The `Authorization` header (a Negotiate token).
    pub authorization: Option<&'a str>,
    /// The `User-Agent` header.
    pub user_agent: Option<&'a str>,
}

/// What to send back.
#[derive(Debug)]
pub struct LsResponse {
    /// HTTP status.
    pub status: StatusCode,
    /// HTML.
    pub body: String,
    /// `Set-Cookie` values.
    pub set_cookies: Vec<String>,
    /// Origin the page's form posts to (for the CSP).
    pub form_target: Option<String>,
    /// Redirect target (302).
    pub location: Option<String>,
    /// `WWW-Authenticate` (a Negotiate challenge, or the acceptor's reply token).
    pub www_authenticate: Option<String>,
}

impl LsResponse {
    fn html(status: StatusCode, body: String) -> Self {
        LsResponse {
            status,
            body,
            set_cookies: Vec::new(),
            form_target: None,
            location: None,
            www_authenticate: None,
        }
    }
}

/// The error page for a form body the HTTP layer could not read (`status` says why: 413 too
/// large, 408 too slow), in the browser's language.
pub fn unreadable(
    pages: &Pages,
    accept_language: Option<&str>,
    status: StatusCode,
    trace: &Trace<'_>,
) -> LsResponse {
    let lang = pages.lang(accept_language);
    LsResponse::html(status, pages.error(lang, ErrorKind::BadRequest, trace))
}

/// Longest value a refusal event quotes from the request (bytes).
const MAX_ASKED: usize = 256;

/// A refused request: what the user sees and what is counted.
pub(crate) struct Refusal {
    protocol: Protocol,
    relying_party: String,
    reason: RefusalReason,
    kind: ErrorKind,
    /// What the request asked for (the unknown realm, the unregistered reply URL, ...),
    /// bounded; empty when nothing in particular.
    asked: String,
}

impl Refusal {
    /// Records what the request asked for (at most [`MAX_ASKED`] bytes of it).
    pub(crate) fn asked(mut self, what: &str) -> Refusal {
        self.asked = clip(what, MAX_ASKED).to_string();
        self
    }
}

/// A refusal of a request over `protocol` to `rp` (for the OpenID Connect authorization
/// endpoint, whose browser part this is).
pub(crate) fn refusal(protocol: Protocol, rp: &str, reason: RefusalReason) -> Refusal {
    refuse(protocol, rp, reason)
}

fn refuse(protocol: Protocol, rp: &str, reason: RefusalReason) -> Refusal {
    Refusal {
        protocol,
        relying_party: rp.to_string(),
        reason,
        kind: ErrorKind::BadRequest,
        asked: String::new(),
    }
}

/// Handles one browser request at `/adfs/ls/` (or IdP-initiated sign-on).
pub async fn handle(app: &Passive<'_>, req: &LsRequest<'_>) -> LsResponse {
    let lang = app.pages.lang(req.accept_language);
    match route(app, req, lang).await {
        Ok(r) => r,
        Err(refusal) => refused(app, req, refusal),
    }
}

/// Counts and logs `refusal`, and renders its error page.
fn refused(app: &Passive<'_>, req: &LsRequest<'_>, refusal: Refusal) -> LsResponse {
    app.events.emit(&PassiveRequestRefused {
        protocol: refusal.protocol.into(),
        relying_party: &refusal.relying_party,
        reason: refusal.reason.into(),
        requested: Some(refusal.asked.as_str()).filter(|a| !a.is_empty()),
        client_ip: req.request.client_ip(),
    });
    app.metrics
        .count_request(refusal.protocol, Outcome::Refused);
    let known = app.relying_party(&refusal.relying_party).is_some()
        || app
            .oauth
            .is_some_and(|o| o.client(&refusal.relying_party).is_some());
    let rp_label = if known {
        refusal.relying_party.as_str()
    } else {
        "unknown"
    };
    app.token_metrics
        .count_failed(refusal.protocol, rp_label, refusal.reason);
    let status = match refusal.kind {
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    };
    error_page(app, req, status == StatusCode::SERVICE_UNAVAILABLE)
}

/// The error page (bad request, or unavailable), with the request's activity ID.
pub(crate) fn error_page(app: &Passive<'_>, req: &LsRequest<'_>, unavailable: bool) -> LsResponse {
    let lang = app.pages.lang(req.accept_language);
    let trace = Trace {
        activity_id: req.request.activity_id.as_str(),
        time: app.tokens.now(),
    };
    let (status, kind) = if unavailable {
        (StatusCode::SERVICE_UNAVAILABLE, ErrorKind::Unavailable)
    } else {
        (StatusCode::BAD_REQUEST, ErrorKind::BadRequest)
    };
    LsResponse::html(status, app.pages.error(lang, kind, &trace))
}

/// A 302 to `url`.
pub(crate) fn redirect(url: String) -> LsResponse {
    LsResponse {
        location: Some(url),
        ..LsResponse::html(StatusCode::FOUND, String::new())
    }
}

/// A page whose form the browser posts to `action` at once, carrying `fields`.
pub(crate) fn auto_post(app: &Passive<'_>, action: &str, fields: &[(&str, &str)]) -> LsResponse {
    let lang = app.pages.lang(None);
    LsResponse {
        form_target: Some(action.to_string()),
        ..LsResponse::html(StatusCode::OK, app.pages.auto_post(lang, action, fields))
    }
}

/// The OpenID Connect authorization endpoint (`/adfs/oauth2/authorize/`): the request is read
/// by the OAuth module's `authorize`, then the browser signs in here as for any relying
/// party, and the delivery sends the code.
pub async fn authorize(app: &Passive<'_>, req: &LsRequest<'_>) -> LsResponse {
    use crate::protocols::oauth::authorize::{read, Read};
    let lang = app.pages.lang(req.accept_language);
    let body = String::from_utf8_lossy(req.body);
    let raw: &str = if req.post { &body } else { req.raw_query };
    let outcome = async {
        if raw.len() > MAX_QUERY {
            return Err(refuse(
                Protocol::Oidc,
                "unknown",
                RefusalReason::QueryTooLong,
            ));
        }
        if app.tokens.signing().is_none() {
            return Err(Refusal {
                kind: ErrorKind::Unavailable,
                ..refuse(Protocol::Oidc, "unknown", RefusalReason::NoSigningKey)
            });
        }
        match read(app, raw)? {
            Read::SignIn(checked) => {
                let target = request::oauth_target(*checked);
                form::begin(app, req, lang, target, &encode_ctx(Arrival::OAuth, raw)).await
            }
            Read::Redirect(r, reason) => {
                let client = crate::protocols::oauth::authorize::client_of(app, raw);
                crate::protocols::oauth::refused(
                    app,
                    reason,
                    Some(&client),
                    Protocol::Oidc,
                    req.request,
                );
                app.metrics.count_request(Protocol::Oidc, Outcome::Refused);
                Ok(r)
            }
        }
    }
    .await;
    match outcome {
        Ok(r) => r,
        Err(refusal) => refused(app, req, refusal),
    }
}

async fn route(app: &Passive<'_>, req: &LsRequest<'_>, lang: Lang) -> Result<LsResponse, Refusal> {
    if req.raw_query.len() > MAX_QUERY {
        return Err(refuse(
            Protocol::Wsfed,
            "unknown",
            RefusalReason::QueryTooLong,
        ));
    }
    if app.tokens.signing().is_none() {
        return Err(Refusal {
            kind: ErrorKind::Unavailable,
            ..refuse(Protocol::Wsfed, "unknown", RefusalReason::NoSigningKey)
        });
    }
    let body = String::from_utf8_lossy(req.body);
    let query = Params::parse(req.raw_query);
    let (params, raw, arrival) = if req.post {
        let mut form = Params::parse(&body);
        if form.get(password_change::STATE_FIELD).is_some() {
            return password_change::submit(app, req, lang, &form).await;
        }
        if form.get("UserName").is_some() || form.get("Password").is_some() {
            return form::submit(app, req, lang, &form).await;
        }
        form.extend(query);
        (form, &*body, Arrival::Post)
    } else if req.idp_initiated {
        (query, req.raw_query, Arrival::IdpInitiated)
    } else {
        (query, req.raw_query, Arrival::Get)
    };
    match classify(app, &params, arrival)? {
        Message::SignIn(target) => {
            form::begin(app, req, lang, target, &encode_ctx(arrival, raw)).await
        }
        Message::WsFedSignOut { wreply } => Ok(signout::wsfed(app, req, lang, wreply).await),
        Message::SamlLogout {
            rp,
            request,
            relay,
            signed,
        } => signout::saml(app, req, lang, &rp, &request, relay, signed).await,
    }
}

#[cfg(test)]
pub(crate) mod tests;
