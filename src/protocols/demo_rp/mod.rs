//! The demo relying party (demo mode only): a small application inside altgate, so a browser
//! demo ends at "Signed in" instead of at a third party's site. It asks altgate for a token the
//! way any application would (a WS-Federation `wsignin1.0` redirect, or a SAML 2.0
//! AuthnRequest over HTTP-Redirect), receives it at its own reply URL, verifies it as a service
//! provider must ([`verify`]: signature with the pinned token-signing certificate, issuer,
//! audience, validity, SAML destination, `InResponseTo` and recipient; each assertion accepted
//! once) and shows who signed in, the claims, the issuer, altgate's SSO session and a sign-out
//! button.
//!
//! Each sign-in it starts is bound to the browser by a random state in a `SameSite=Strict`
//! cookie, echoed through `wctx` / `RelayState`, so a token posted by anyone else is refused.
//! Routed only when `passive.demo_relying_party` is on, which check-config allows only with
//! `demo_directory`.

pub mod verify;

use crate::config::demo;
use crate::endpoint::Endpoint;
use crate::protocols::passive::page::{utc_time, Lang};
use crate::protocols::passive::{LsResponse, Passive};
use crate::secret::constant_time_eq;
use crate::session::{cookie, COOKIE};
use crate::xml::{escape_attr, Element};
use base64::Engine;
use hyper::StatusCode;
use std::io::Write;
use verify::{Expect, Refused, Verified};

/// The demo application's state cookie (`__Host-`: Secure, path `/`, no Domain).
pub const STATE_COOKIE: &str = "__Host-altgate-demo";

/// What the demo application needs: the browser sign-in view (pages, session keys, tokens,
/// state store) and altgate's public URL.
#[derive(Clone, Copy)]
pub struct DemoRp<'a> {
    /// Browser sign-in.
    pub passive: Passive<'a>,
    /// `server.public_url`.
    pub public_url: &'a str,
}

/// A request to one of the demo application's paths.
#[derive(Debug)]
pub struct DemoRequest<'a> {
    /// The lower-cased path ([`demo::HOME`], [`demo::WSFED`] or [`demo::SAML`]).
    pub path: &'a str,
    /// POST (a token arriving) rather than GET.
    pub post: bool,
    /// The form body (POST).
    pub body: &'a [u8],
    /// The `Cookie` header.
    pub cookie_header: Option<&'a str>,
}

fn page(app: &DemoRp<'_>, status: StatusCode, title: &str, body: &str) -> LsResponse {
    LsResponse {
        status,
        body: app.passive.pages.page(Lang::EN, title, body, true, false),
        set_cookies: Vec::new(),
        form_target: None,
        location: None,
        www_authenticate: None,
    }
}

fn redirect(location: String, cookie: String) -> LsResponse {
    LsResponse {
        status: StatusCode::FOUND,
        body: String::new(),
        set_cookies: vec![cookie],
        form_target: None,
        location: Some(location),
        www_authenticate: None,
    }
}

fn state_cookie(value: &str) -> String {
    format!("{STATE_COOKIE}={value}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=900")
}

fn clear_state_cookie() -> String {
    format!("{STATE_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0")
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Answers one request to the demo application.
pub async fn handle(app: &DemoRp<'_>, req: &DemoRequest<'_>) -> LsResponse {
    match (req.path, req.post) {
        (demo::WSFED, false) => start_wsfed(app),
        (demo::SAML, false) => start_saml(app),
        (demo::WSFED, true) => {
            let form = form(req.body);
            let field = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
            let result = match (field("wa"), field("wresult"), field("wctx")) {
                (Some("wsignin1.0"), Some(wresult), Some(wctx)) => {
                    check_state(req, "ws", wctx).and_then(|_| verify::wsfed(wresult, &expect(app)))
                }
                _ => Err(Refused {
                    code: "malformed",
                    detail: "expected wa=wsignin1.0, wresult and wctx".into(),
                }),
            };
            finish(app, req, "WS-Federation", result).await
        }
        (demo::SAML, true) => {
            let form = form(req.body);
            let field = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
            let acs = format!("{}{}", app.public_url, demo::SAML);
            let result = match (field("SAMLResponse"), field("RelayState")) {
                (Some(response), Some(relay)) => check_state(req, "saml", relay).and_then(|id| {
                    let xml = base64::engine::general_purpose::STANDARD
                        .decode(response.trim())
                        .map_err(|_| Refused {
                            code: "malformed",
                            detail: "SAMLResponse is not base64".into(),
                        })?;
                    verify::saml(&xml, &acs, &id, &expect(app))
                }),
                _ => Err(Refused {
                    code: "malformed",
                    detail: "expected SAMLResponse and RelayState".into(),
                }),
            };
            finish(app, req, "SAML 2.0", result).await
        }
        _ => home(app, req),
    }
}

fn form(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body)
        .take(16)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn expect<'a>(app: &'a DemoRp<'_>) -> Expect<'a> {
    let signing = app.passive.tokens.signing();
    let mut certs: Vec<&[u8]> = Vec::new();
    if let Some(s) = signing {
        certs.push(s.key.cert_der());
        if let Some(next) = &s.next_cert_der {
            certs.push(next);
        }
    }
    Expect {
        issuer: &app.passive.federation.issuer,
        audience: demo::IDENTIFIER,
        certs,
        now: app.passive.tokens.now(),
        skew: time::Duration::try_from(app.passive.federation.max_clock_skew)
            .unwrap_or(time::Duration::minutes(5)),
    }
}

/// The state cookie must hold `kind.state[.request id]` with `state` equal to what came back
/// through the identity provider; returns the request ID (empty for WS-Fed).
fn check_state(req: &DemoRequest<'_>, kind: &str, echoed: &str) -> Result<String, Refused> {
    let unbound = || {
        Refused {
        code: "state",
        detail: "this browser did not start this sign-in here (state cookie missing or different): start again from the demo page".into(),
    }
    };
    let value = cookie(req.cookie_header, STATE_COOKIE).ok_or_else(unbound)?;
    let mut parts = value.splitn(3, '.');
    let (k, state, id) = (parts.next(), parts.next(), parts.next());
    match (k, state) {
        (Some(k), Some(state)) if k == kind && constant_time_eq(state, echoed) => {
            Ok(id.unwrap_or("").to_string())
        }
        _ => Err(unbound()),
    }
}

fn random_state(app: &DemoRp<'_>) -> String {
    app.passive
        .sessions
        .random_token()
        .unwrap_or_else(crate::tokens::new_id)
}

fn start_wsfed(app: &DemoRp<'_>) -> LsResponse {
    let state = random_state(app);
    let location = format!(
        "{}?wa=wsignin1.0&wtrealm={}&wreply={}&wctx={}",
        Endpoint::Passive.path(),
        enc(demo::IDENTIFIER),
        enc(&format!("{}{}", app.public_url, demo::WSFED)),
        enc(&state)
    );
    redirect(location, state_cookie(&format!("ws.{state}")))
}

fn start_saml(app: &DemoRp<'_>) -> LsResponse {
    let state = random_state(app);
    let id = crate::tokens::new_id();
    let request = Element::new("samlp:AuthnRequest")
        .xmlns("samlp", crate::tokens::saml::SAMLP)
        .xmlns("saml", crate::tokens::saml::SAML2)
        .attr("ID", id.clone())
        .attr("Version", "2.0")
        .attr(
            "IssueInstant",
            crate::tokens::instant(app.passive.tokens.now()),
        )
        .attr("Destination", Endpoint::Passive.url(app.public_url))
        .attr(
            "AssertionConsumerServiceURL",
            format!("{}{}", app.public_url, demo::SAML),
        )
        .attr(
            "ProtocolBinding",
            crate::protocols::passive::saml::BINDING_POST,
        )
        .leaf("saml:Issuer", demo::IDENTIFIER)
        .to_document();
    let mut deflater =
        flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    let deflated = deflater
        .write_all(request.as_bytes())
        .and_then(|_| deflater.finish())
        .unwrap_or_default();
    let encoded = base64::engine::general_purpose::STANDARD.encode(deflated);
    let location = format!(
        "{}?SAMLRequest={}&RelayState={}",
        Endpoint::Passive.path(),
        enc(&encoded),
        enc(&state)
    );
    redirect(location, state_cookie(&format!("saml.{state}.{id}")))
}

/// altgate's SSO session as this browser holds it, for display.
fn session_rows(app: &DemoRp<'_>, req: &DemoRequest<'_>) -> Option<String> {
    let s = cookie(req.cookie_header, COOKIE).and_then(|v| app.passive.sessions.open(v))?;
    let p = app.passive.settings;
    let at = |secs: i64| {
        time::OffsetDateTime::from_unix_timestamp(secs)
            .map(utc_time)
            .unwrap_or_default()
    };
    let life = i64::try_from(p.session_lifetime.as_secs()).unwrap_or(i64::MAX);
    let idle = i64::try_from(p.session_idle_timeout.as_secs()).unwrap_or(i64::MAX);
    let ends = s
        .auth_instant
        .saturating_add(life)
        .min(s.last_used.saturating_add(idle));
    Some(format!(
        "<table id=\"session\"><tr><th>Login</th><td>{}</td></tr><tr><th>Account</th><td>{}</td></tr>\
         <tr><th>Password typed</th><td>{}</td></tr><tr><th>Ends (unless used again)</th><td>{}</td></tr></table>",
        escape_attr(&s.login),
        escape_attr(&s.dn),
        at(s.auth_instant),
        at(ends)
    ))
}

fn home(app: &DemoRp<'_>, req: &DemoRequest<'_>) -> LsResponse {
    let session = match session_rows(app, req) {
        Some(rows) => format!("<p id=\"session-state\">This browser has an altgate SSO session: signing in again needs no password.</p>{rows}"),
        None => "<p id=\"session-state\">This browser has no altgate SSO session.</p>".to_string(),
    };
    let body = format!(
        "<h1 id=\"demo-home\">altgate demo application</h1>\
         <p>This application is built into altgate's demo mode. It asks altgate for a token as any application would, checks the token as a service provider must (signature, issuer, audience, validity) and shows what it received.</p>\
         <p>Sign in as <code>jdoe@contoso.com</code> (or <code>CONTOSO\\jdoe</code>) with the demo password from the demo directory file (<code>Demo-Passw0rd!</code> in the shipped one); its other logins show the other outcomes.</p>\
         <p><a class=\"button\" id=\"signInWsFed\" href=\"{wsfed}\">Sign in with WS-Federation</a><a class=\"button\" id=\"signInSaml\" href=\"{saml}\">Sign in with SAML 2.0</a></p>\
         <h2>altgate SSO session</h2>{session}",
        wsfed = demo::WSFED,
        saml = demo::SAML,
    );
    page(app, StatusCode::OK, "altgate demo application", &body)
}

/// The last path segment of a claim type (`.../claims/UPN` → `UPN`).
fn claim_name(uri: &str) -> &str {
    uri.rsplit('/').next().unwrap_or(uri)
}

async fn finish(
    app: &DemoRp<'_>,
    req: &DemoRequest<'_>,
    protocol: &str,
    result: Result<Verified, Refused>,
) -> LsResponse {
    let result = match result {
        Ok(v) => first_use(app, v).await,
        Err(e) => Err(e),
    };
    let mut r = match result {
        Ok(v) => signed_in(app, req, protocol, &v),
        Err(e) => {
            tracing::warn!(target: "altgate::ops", code = e.code, "the demo relying party refused a token");
            let body = format!(
                "<h1 id=\"demoError\">The demo application refused the token</h1>\
                 <p id=\"errorText\"><code>{}</code>: {}</p><p><a href=\"{}\">Back to the demo application</a></p>",
                e.code,
                escape_attr(&e.detail),
                demo::HOME
            );
            page(app, StatusCode::BAD_REQUEST, "Token refused", &body)
        }
    };
    r.set_cookies.push(clear_state_cookie());
    r
}

/// Each assertion is accepted once (a replayed POST is refused).
async fn first_use(app: &DemoRp<'_>, v: Verified) -> Result<Verified, Refused> {
    let ttl = std::time::Duration::from_secs(2 * 3600);
    match app
        .passive
        .state
        .first_use(&format!("demo-assertion:{}", v.assertion_id), ttl)
        .await
    {
        Ok(true) => Ok(v),
        Ok(false) => Err(Refused {
            code: "replayed",
            detail: "this assertion was already used".into(),
        }),
        Err(e) => Err(Refused {
            code: "state_unavailable",
            detail: format!("the replay check could not run ({})", e.code()),
        }),
    }
}

fn signed_in(app: &DemoRp<'_>, req: &DemoRequest<'_>, protocol: &str, v: &Verified) -> LsResponse {
    let find = |name: &str| {
        v.claims
            .iter()
            .find(|(uri, _)| claim_name(uri).eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    };
    let who = find("name").or(find("UPN")).unwrap_or(&v.subject);
    let claims: String = v
        .claims
        .iter()
        .map(|(uri, value)| {
            format!(
                "<tr><th>{}<br><code>{}</code></th><td>{}</td></tr>",
                escape_attr(claim_name(uri)),
                escape_attr(uri),
                escape_attr(value)
            )
        })
        .collect();
    let session = session_rows(app, req)
        .unwrap_or_else(|| "<p id=\"session\">No SSO session cookie.</p>".to_string());
    let body = format!(
        "<h1 id=\"signed-in\">Signed in</h1>\
         <p id=\"who\">You are signed in to the demo application as <strong>{who}</strong>.</p>\
         <p>altgate sent a {token_type} token over {protocol}. This application verified its signature with altgate's token-signing certificate (SHA-256 <code>{signer}</code>) and checked its issuer, audience and validity.</p>\
         <h2>Claims</h2><table id=\"claims\"><tr><th>Subject (NameID)<br><code>{format}</code></th><td id=\"subject\">{subject}</td></tr>{claims}</table>\
         <h2>Token</h2><table id=\"token\"><tr><th>Issuer</th><td id=\"issuer\">{issuer}</td></tr><tr><th>Audience</th><td>{audience}</td></tr>\
         <tr><th>Valid</th><td>{nb} to {noa}</td></tr><tr><th>Password typed</th><td>{authn}</td></tr><tr><th>Assertion ID</th><td>{id}</td></tr></table>\
         <h2>altgate SSO session</h2>{session}\
         <form method=\"get\" action=\"{passive}\"><input type=\"hidden\" name=\"wa\" value=\"wsignout1.0\"><input type=\"hidden\" name=\"wreply\" value=\"{home}\"><button type=\"submit\" id=\"signOut\">Sign out</button></form>",
        who = escape_attr(who),
        passive = Endpoint::Passive.path(),
        token_type = v.token_type,
        protocol = escape_attr(protocol),
        signer = escape_attr(&v.signer_sha256),
        format = escape_attr(&v.subject_format),
        subject = escape_attr(&v.subject),
        issuer = escape_attr(&v.issuer),
        audience = escape_attr(&v.audience),
        nb = escape_attr(&v.not_before),
        noa = escape_attr(&v.not_on_or_after),
        authn = escape_attr(&v.authn_instant),
        id = escape_attr(&v.assertion_id),
        home = escape_attr(&format!("{}{}", app.public_url, demo::HOME)),
    );
    page(
        app,
        StatusCode::OK,
        "Signed in - altgate demo application",
        &body,
    )
}

#[cfg(test)]
mod tests;
