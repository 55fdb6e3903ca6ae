//! The authorization endpoint (`/adfs/oauth2/authorize/`): the request is read and checked
//! here, then signed in by the browser sign-in ([`crate::protocols::passive`]: form, SSO
//! session, Windows integrated sign-in), whose delivery comes back here for the code.
//!
//! Order of checks (RFC 6749 §4.1.2.1): until the client and its redirect URI are known good,
//! a problem gets an error page and no redirect (no open redirect); after, it is sent to the
//! redirect URI as `error=` in the response mode asked for.

use super::grant::{self, Grant};
use super::params::Params;
use super::{random, OAuthRefusal};
use crate::config::oauth::{Grant as GrantType, OAuthClient};
use crate::config::{RelyingParty, TokenType};
use crate::protocols::passive::{self, Passive, Refusal, RefusalReason};
use crate::signin::{Protocol, SignedIn};
use hyper::StatusCode;

/// Longest `state` / `nonce` accepted (bytes).
pub const MAX_STATE: usize = 1024;

/// How the code goes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseMode {
    /// In the redirect URI's query.
    Query,
    /// In its fragment.
    Fragment,
    /// A form the browser posts to it.
    FormPost,
}

/// A checked authorization request: where the code goes and what it will stand for.
#[derive(Debug, Clone)]
pub struct Authorization {
    /// The client.
    pub client_id: String,
    /// Where the code goes.
    pub redirect_uri: String,
    /// `redirect_uri` as sent (absent when the client's only URI was implied): the token
    /// request must send the same.
    pub redirect_sent: Option<String>,
    /// Response mode.
    pub mode: ResponseMode,
    /// `state`, echoed.
    pub state: Option<String>,
    /// `nonce`, put in the ID token.
    pub nonce: Option<String>,
    /// OpenID scopes, resource and its scopes.
    pub scopes: Vec<String>,
    /// The resource, if any.
    pub resource: Option<String>,
    /// The resource's scopes.
    pub resource_scopes: Vec<String>,
    /// PKCE challenge and method (`S256` or `plain`).
    pub challenge: Option<(String, String)>,
}

/// A checked request, ready for the browser sign-in.
pub struct Checked {
    /// Where the code goes.
    pub authorization: Authorization,
    /// The relying party the browser sign-in sees: the client (identifier = `client_id`,
    /// reply URL = the redirect URI, claims = the client's).
    pub relying_party: RelyingParty,
    /// `prompt=login` or `max_age=0`.
    pub force_authn: bool,
    /// `prompt=none`.
    pub is_passive: bool,
    /// `login_hint`.
    pub hint: Option<String>,
    /// `max_age` (seconds).
    pub max_age: Option<u64>,
}

/// What reading an authorization request gave.
pub enum Read {
    /// Sign the browser in.
    SignIn(Box<Checked>),
    /// An error sent back to the redirect URI, and why.
    Redirect(passive::LsResponse, OAuthRefusal),
}

fn refuse(reason: RefusalReason, client: &str) -> Refusal {
    passive::refusal(Protocol::Oidc, client, reason)
}

/// Reads an authorization request (`raw`: its query string or form body).
pub fn read(app: &Passive<'_>, raw: &str) -> Result<Read, Refusal> {
    let oauth = app
        .oauth
        .ok_or_else(|| refuse(RefusalReason::OAuthRequest, "unknown"))?;
    let params = Params::parse(raw)
        .map_err(|r| refuse(RefusalReason::OAuthRequest, "unknown").asked(r.id()))?;
    let client_id = params
        .get("client_id")
        .ok_or_else(|| refuse(RefusalReason::OAuthRequest, "unknown").asked("client_id"))?;
    let client = oauth
        .client(client_id)
        .ok_or_else(|| refuse(RefusalReason::UnknownRelyingParty, "unknown").asked(client_id))?;
    let id = client.client_id.as_str();
    let (redirect_uri, redirect_sent) = match params.get("redirect_uri") {
        Some(u) if client.redirect_uris.iter().any(|r| r == u) => (u.to_string(), Some(u)),
        Some(u) => return Err(refuse(RefusalReason::UnregisteredReplyUrl, id).asked(u)),
        None => match client.redirect_uris.as_slice() {
            [only] => (only.clone(), None),
            _ => return Err(refuse(RefusalReason::OAuthRequest, id).asked("redirect_uri")),
        },
    };
    let mode = match params.get("response_mode") {
        None | Some("query") => Ok(ResponseMode::Query),
        Some("fragment") => Ok(ResponseMode::Fragment),
        Some("form_post") => Ok(ResponseMode::FormPost),
        Some(_) => Err(OAuthRefusal::MalformedRequest),
    };
    let state = params.bounded("state", MAX_STATE);
    let early = match (&mode, &state) {
        (Err(r), _) | (_, Err(r)) => Some(*r),
        _ => None,
    };
    let mode = mode.unwrap_or(ResponseMode::Query);
    let state = state.ok().flatten().map(str::to_string);
    let back = |reason: OAuthRefusal| {
        Read::Redirect(
            error_redirect(app, &redirect_uri, mode, reason, state.as_deref()),
            reason,
        )
    };
    if let Some(r) = early {
        return Ok(back(r));
    }
    match check(oauth, client, &params) {
        Ok((asked, challenge, prompt, max_age, nonce, hint)) => {
            let authorization = Authorization {
                client_id: id.to_string(),
                redirect_uri: redirect_uri.clone(),
                redirect_sent: redirect_sent.map(str::to_string),
                mode,
                state: state.clone(),
                nonce,
                scopes: asked.scopes,
                resource: asked.resource,
                resource_scopes: asked.resource_scopes,
                challenge,
            };
            Ok(Read::SignIn(Box::new(Checked {
                relying_party: relying_party(client, &redirect_uri, oauth.access_token_lifetime),
                authorization,
                force_authn: prompt.login || max_age == Some(0),
                is_passive: prompt.none,
                hint,
                max_age,
            })))
        }
        Err(reason) => Ok(back(reason)),
    }
}

#[derive(Default)]
struct Prompt {
    login: bool,
    none: bool,
}

type CheckedParts = (
    grant::Asked,
    Option<(String, String)>,
    Prompt,
    Option<u64>,
    Option<String>,
    Option<String>,
);

fn check(
    oauth: &crate::config::oauth::OAuthConfig,
    client: &OAuthClient,
    params: &Params,
) -> Result<CheckedParts, OAuthRefusal> {
    if params.require("response_type")? != "code" {
        return Err(OAuthRefusal::UnsupportedResponseType);
    }
    if !client.allows(GrantType::AuthorizationCode) {
        return Err(OAuthRefusal::GrantNotAllowed);
    }
    if params.get("request").is_some() || params.get("request_uri").is_some() {
        return Err(OAuthRefusal::MalformedRequest);
    }
    let asked = grant::asked(oauth, client, params.get("scope"), params.get("resource"))?;
    let nonce = params.bounded("nonce", MAX_STATE)?.map(str::to_string);
    let challenge = match params.get("code_challenge") {
        Some(c) => {
            let ok = (43..=128).contains(&c.len())
                && c.chars()
                    .all(|x| x.is_ascii_alphanumeric() || matches!(x, '-' | '.' | '_' | '~'));
            if !ok {
                return Err(OAuthRefusal::MalformedRequest);
            }
            // RFC 7636 §4.3: no method means plain.
            let method = params.get("code_challenge_method").unwrap_or("plain");
            match method {
                "S256" => Some((c.to_string(), "S256".to_string())),
                "plain" if client.allow_pkce_plain => Some((c.to_string(), "plain".to_string())),
                _ => return Err(OAuthRefusal::PkceRequired),
            }
        }
        None if client.require_pkce => return Err(OAuthRefusal::PkceRequired),
        None => None,
    };
    let mut prompt = Prompt::default();
    if let Some(p) = params.get("prompt") {
        let values: Vec<&str> = p.split(' ').filter(|v| !v.is_empty()).collect();
        prompt.none = values.contains(&"none");
        prompt.login = values.contains(&"login");
        if prompt.none && values.len() > 1 {
            return Err(OAuthRefusal::MalformedRequest);
        }
    }
    let max_age = match params.get("max_age") {
        Some(m) => Some(
            m.parse::<u64>()
                .map_err(|_| OAuthRefusal::MalformedRequest)?,
        ),
        None => None,
    };
    let hint = passive::login_hint(params.bounded("login_hint", 512)?);
    Ok((asked, challenge, prompt, max_age, nonce, hint))
}

/// The relying party browser sign-in sees for `client`.
fn relying_party(
    client: &OAuthClient,
    redirect_uri: &str,
    lifetime: std::time::Duration,
) -> RelyingParty {
    RelyingParty {
        identifier: client.client_id.clone(),
        token_type: TokenType::Saml20,
        token_lifetime: lifetime,
        claims: client.claims.clone(),
        reply_urls: vec![redirect_uri.to_string()],
        name_id_format: Default::default(),
        sign: Default::default(),
        logout_url: None,
        require_signed_requests: false,
        logout_requests: Default::default(),
        signing_cert_der: None,
        per_domain_issuer: false,
    }
}

/// The response carrying `fields` to `uri` in `mode`.
fn respond(
    app: &Passive<'_>,
    uri: &str,
    mode: ResponseMode,
    fields: &[(&str, &str)],
) -> passive::LsResponse {
    let encoded = || {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in fields {
            s.append_pair(k, v);
        }
        s.finish()
    };
    match mode {
        ResponseMode::Query => {
            let sep = if uri.contains('?') { '&' } else { '?' };
            passive::redirect(format!("{uri}{sep}{}", encoded()))
        }
        ResponseMode::Fragment => passive::redirect(format!("{uri}#{}", encoded())),
        ResponseMode::FormPost => passive::auto_post(app, uri, fields),
    }
}

fn error_redirect(
    app: &Passive<'_>,
    uri: &str,
    mode: ResponseMode,
    reason: OAuthRefusal,
    state: Option<&str>,
) -> passive::LsResponse {
    let mut fields = vec![
        ("error", reason.error()),
        ("error_description", reason.description()),
    ];
    if let Some(s) = state {
        fields.push(("state", s));
    }
    respond(app, uri, mode, &fields)
}

/// `prompt=none` without a usable session: `login_required` to the redirect URI.
pub fn login_required(app: &Passive<'_>, a: &Authorization) -> passive::LsResponse {
    app.token_metrics
        .count_failed(Protocol::Oidc, &a.client_id, OAuthRefusal::LoginRequired);
    error_redirect(
        app,
        &a.redirect_uri,
        a.mode,
        OAuthRefusal::LoginRequired,
        a.state.as_deref(),
    )
}

/// The browser signed in: stores a code for `a` (single use, `oauth.code_lifetime`) standing
/// for `signed_in` under SSO session `sid`, and sends it to the redirect URI.
pub async fn deliver(
    app: &Passive<'_>,
    a: &Authorization,
    signed_in: &SignedIn,
    sid: &str,
    inside: bool,
) -> Result<passive::LsResponse, (RefusalReason, StatusCode)> {
    let unavailable = (
        RefusalReason::StateUnavailable,
        StatusCode::SERVICE_UNAVAILABLE,
    );
    let oauth = app
        .oauth
        .ok_or((RefusalReason::OAuthRequest, StatusCode::BAD_REQUEST))?;
    let client = oauth
        .client(&a.client_id)
        .ok_or((RefusalReason::UnknownRelyingParty, StatusCode::BAD_REQUEST))?;
    let no_random = (RefusalReason::NoRandomness, StatusCode::SERVICE_UNAVAILABLE);
    let code = random(32).ok_or(no_random)?;
    let grant = Grant {
        client_id: client.client_id.clone(),
        scopes: a.scopes.clone(),
        resource: a.resource.clone(),
        resource_scopes: a.resource_scopes.clone(),
        sid: sid.to_string(),
        family: random(16).ok_or(no_random)?,
        user: grant::user_of(signed_in, client, inside),
        redirect_uri: a.redirect_sent.clone(),
        challenge: a.challenge.clone(),
        nonce: a.nonce.clone(),
    };
    let record = serde_json::to_string(&grant).map_err(|_| unavailable)?;
    app.state
        .put_code(&code, &record, oauth.code_lifetime)
        .await
        .map_err(|_| unavailable)?;
    let mut fields = vec![("code", code.as_str())];
    if let Some(s) = &a.state {
        fields.push(("state", s.as_str()));
    }
    Ok(respond(app, &a.redirect_uri, a.mode, &fields))
}

/// The configured client a raw request names, or `unknown` (a bounded metric label).
pub fn client_of(app: &Passive<'_>, raw: &str) -> String {
    form_urlencoded::parse(raw.as_bytes())
        .find(|(k, _)| k == "client_id")
        .map(|(_, v)| v.into_owned())
        .filter(|id| app.oauth.is_some_and(|o| o.client(id).is_some()))
        .unwrap_or_else(|| "unknown".to_string())
}
