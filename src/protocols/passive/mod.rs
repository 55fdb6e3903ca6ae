//! Browser sign-in at `/adfs/ls/`: WS-Federation (`wa=wsignin1.0` / `wsignout1.0`), SAML 2.0
//! (AuthnRequest and LogoutRequest over HTTP-Redirect and HTTP-POST), IdP-initiated sign-on,
//! the sign-in form and the SSO session.
//!
//! Every message names a relying party whose registered reply URLs are the only places a token
//! is ever posted (no open redirect). The sign-in form carries the original request (`ctx`) and a
//! CSRF token that must match a `SameSite=Strict` cookie. A valid SSO cookie (bound to the
//! account's DN, re-checked against the directory) signs the browser in without the form unless
//! `ForceAuthn` asks otherwise. Credentials and SAML messages are never logged.
//!
//! This module is the entry point ([`handle`]) and its types; the roles live in submodules:
//! `params` decodes the parameters once, `request` reads and checks the protocol message they
//! carry, `form` runs the sign-in page, `sso` reuses the SSO session, `delivery` posts the token
//! to the relying party, `signout` ends the session; [`page`] renders HTML and [`saml`] decodes
//! and checks SAML requests.

mod delivery;
mod form;
pub mod page;
mod params;
mod request;
pub mod saml;
mod signout;
mod sso;

use crate::app::App;
use crate::events::PassiveRequestRefused;
use page::{ErrorKind, Lang};
use params::Params;
use request::{classify, encode_ctx, Arrival, Message};
pub use request::{MAX_QUERY, MAX_STATE};
use std::net::IpAddr;

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
    let body = String::from_utf8_lossy(req.body);
    let query = Params::parse(req.raw_query);
    let (params, raw, arrival) = if req.post {
        let mut form = Params::parse(&body);
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
        Message::WsFedSignOut { wreply } => Ok(signout::wsfed(app, req, lang, wreply)),
        Message::SamlLogout { rp, request, relay } => {
            signout::saml(app, req, lang, &rp, &request, relay).await
        }
    }
}

#[cfg(test)]
mod tests;
