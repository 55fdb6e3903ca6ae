//! Discovery (`/adfs/.well-known/openid-configuration`), keys (`/adfs/discovery/keys`),
//! userinfo, RFC 7009 revocation, RFC 7662 introspection and end-session
//! (`/adfs/oauth2/logout`).

use super::client::authenticate;
use super::grant::{family_revocation, secret_digest, USERINFO_AUDIENCE};
use super::params::Params;
use super::{ApiRequest, JsonAnswer, OAuth, OAuthRefusal};
use crate::config::oauth::{ClientKind, OPENID_SCOPES};
use crate::endpoint::Endpoint;
use crate::protocols::passive::{LsRequest, LsResponse};
use crate::signin::Protocol;
use serde_json::{json, Value};

/// The OpenID Provider configuration.
pub fn discovery(app: &OAuth<'_>) -> JsonAnswer {
    let url = |e: Endpoint| e.url(app.public_url);
    let mut a = JsonAnswer::ok(json!({
        "issuer": app.issuer(),
        "authorization_endpoint": url(Endpoint::OAuthAuthorize),
        "token_endpoint": url(Endpoint::OAuthToken),
        "userinfo_endpoint": url(Endpoint::OAuthUserinfo),
        "end_session_endpoint": url(Endpoint::OAuthLogout),
        "jwks_uri": url(Endpoint::OAuthKeys),
        "revocation_endpoint": url(Endpoint::OAuthRevoke),
        "introspection_endpoint": url(Endpoint::OAuthIntrospect),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials", "password"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "code_challenge_methods_supported": ["S256", "plain"],
        "scopes_supported": OPENID_SCOPES,
        "claims_supported": [
            "iss", "aud", "sub", "iat", "nbf", "exp", "auth_time", "nonce", "sid", "upn",
            "unique_name", "appid", "apptype", "authmethod", "ver", "preferred_username",
            "email", "name", "given_name", "family_name", "scp"
        ],
        "prompt_values_supported": ["none", "login"],
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "claims_parameter_supported": false,
        "frontchannel_logout_supported": false,
    }));
    a.cache_seconds = Some(300);
    a
}

/// The JWKS: the token-signing certificate's key, and the next one during a rollover.
pub fn jwks(app: &OAuth<'_>) -> JsonAnswer {
    let mut keys = Vec::new();
    if let Some(s) = app.passive.tokens.signing() {
        keys.extend(crate::tokens::jwt::jwk(s.key.cert_der()));
        if let Some(next) = &s.next_cert_der {
            keys.extend(crate::tokens::jwt::jwk(next));
        }
    }
    let mut a = JsonAnswer::ok(json!({ "keys": keys }));
    a.cache_seconds = Some(300);
    a
}

/// Verifies one of altgate's own JWTs (signed with the current or next key, `iss` altgate's),
/// checking expiry when `expiry` is set.
fn own_token(app: &OAuth<'_>, token: &str, expiry: bool) -> Option<Value> {
    let signing = app.passive.tokens.signing()?;
    let mut certs: Vec<&[u8]> = vec![signing.key.cert_der()];
    if let Some(next) = &signing.next_cert_der {
        certs.push(next);
    }
    let issuer = app.issuer();
    let skew = app.passive.federation.max_clock_skew.as_secs();
    crate::tokens::jwt::verify(
        token,
        &certs,
        &crate::tokens::jwt::Expect {
            issuers: &[issuer.as_str()],
            audiences: &[],
            expiry: expiry.then_some(skew),
            required: &["iss", "aud"],
        },
    )
    .ok()
}

/// True when the session `sid` or the grant family `family` was revoked (on any node); the
/// store not answering refuses (revocation fails closed).
pub(super) async fn revoked(
    app: &OAuth<'_>,
    sid: &str,
    family: &str,
) -> Result<bool, OAuthRefusal> {
    let state = app.passive.state;
    for key in [sid.to_string(), family_revocation(family)] {
        if key.is_empty() {
            continue;
        }
        match state.is_revoked(&key).await {
            Ok(false) => {}
            Ok(true) => return Ok(true),
            Err(_) => return Err(OAuthRefusal::StateUnavailable),
        }
    }
    Ok(false)
}

fn str_claim<'v>(v: &'v Value, name: &str) -> &'v str {
    v.get(name).and_then(|x| x.as_str()).unwrap_or("")
}

/// An access token that is live: ours, unexpired, not revoked.
async fn live_access_token(app: &OAuth<'_>, token: &str) -> Result<Value, OAuthRefusal> {
    let claims = own_token(app, token, true).ok_or(OAuthRefusal::InvalidToken)?;
    // ID tokens carry no `scp`: never a bearer token.
    if claims.get("scp").is_none() && claims.get("appid").is_none() {
        return Err(OAuthRefusal::InvalidToken);
    }
    if revoked(app, str_claim(&claims, "sid"), str_claim(&claims, "fid")).await? {
        return Err(OAuthRefusal::InvalidToken);
    }
    Ok(claims)
}

fn bearer(authorization: Option<&str>) -> Option<&str> {
    let (scheme, token) = authorization?.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// userinfo: `sub` and the claims the token's scopes allow.
pub async fn userinfo(app: &OAuth<'_>, req: &ApiRequest<'_>) -> JsonAnswer {
    let answer = async {
        let token = bearer(req.authorization).ok_or(OAuthRefusal::InvalidToken)?;
        let claims = live_access_token(app, token).await?;
        if str_claim(&claims, "aud") != USERINFO_AUDIENCE {
            return Err(OAuthRefusal::InvalidToken);
        }
        let mut out = serde_json::Map::new();
        for name in [
            "sub",
            "preferred_username",
            "name",
            "given_name",
            "family_name",
            "email",
        ] {
            if let Some(v) = claims.get(name) {
                out.insert(name.to_string(), v.clone());
            }
        }
        Ok(JsonAnswer::ok(Value::Object(out)))
    }
    .await;
    answer.unwrap_or_else(|reason| {
        app.refused(reason, None, Protocol::OAuthToken, req.request);
        JsonAnswer::error(reason)
    })
}

/// RFC 7009: revokes a refresh token (its family) or an access token (its grant) of the
/// authenticated client; an unknown or another client's token is answered 200 all the same.
pub async fn revoke(app: &OAuth<'_>, req: &ApiRequest<'_>) -> JsonAnswer {
    let mut client_id = None;
    let answer = async {
        let params = Params::of_form(req)?;
        let client = authenticate(app, &params, req.authorization, &mut client_id).await?;
        let token = params.require("token")?;
        let state = app.passive.state;
        let family = if token.matches('.').count() == 2 {
            own_token(app, token, false)
                .filter(|c| str_claim(c, "appid") == client.client_id)
                .map(|c| str_claim(&c, "fid").to_string())
        } else {
            match token.split_once('.') {
                Some((family, _)) => state
                    .read_family(family)
                    .await
                    .map_err(|_| OAuthRefusal::StateUnavailable)?
                    .and_then(|(_, record)| {
                        serde_json::from_str::<super::grant::Grant>(&record).ok()
                    })
                    .filter(|g| g.client_id == client.client_id)
                    .map(|g| g.family),
                None => None,
            }
        };
        if let Some(f) = family.filter(|f| !f.is_empty()) {
            super::grant::revoke(app, &f)
                .await
                .map_err(|_| OAuthRefusal::StateUnavailable)?;
        }
        Ok(JsonAnswer::ok(json!({})))
    }
    .await;
    answer.unwrap_or_else(|reason| {
        app.refused(
            reason,
            client_id.as_deref(),
            Protocol::OAuthToken,
            req.request,
        );
        JsonAnswer::error(reason)
    })
}

/// RFC 7662, for confidential clients: whether a token is live, and what it says.
pub async fn introspect(app: &OAuth<'_>, req: &ApiRequest<'_>) -> JsonAnswer {
    let mut client_id = None;
    let answer = async {
        let params = Params::of_form(req)?;
        let client = authenticate(app, &params, req.authorization, &mut client_id).await?;
        if client.kind != ClientKind::Confidential {
            return Err(OAuthRefusal::ClientAuthentication);
        }
        let token = params.require("token")?;
        let inactive = || JsonAnswer::ok(json!({ "active": false }));
        if token.matches('.').count() == 2 {
            return Ok(match live_access_token(app, token).await {
                Ok(c) => JsonAnswer::ok(json!({
                    "active": true,
                    "token_type": "Bearer",
                    "scope": c.get("scp"),
                    "client_id": c.get("appid"),
                    "username": c.get("upn"),
                    "sub": c.get("sub"),
                    "aud": c.get("aud"),
                    "iss": c.get("iss"),
                    "exp": c.get("exp"),
                    "iat": c.get("iat"),
                    "nbf": c.get("nbf"),
                    "jti": c.get("jti"),
                })),
                Err(OAuthRefusal::StateUnavailable) => return Err(OAuthRefusal::StateUnavailable),
                Err(_) => inactive(),
            });
        }
        let Some((family, secret)) = token.split_once('.') else {
            return Ok(inactive());
        };
        let found = app
            .passive
            .state
            .read_family(family)
            .await
            .map_err(|_| OAuthRefusal::StateUnavailable)?;
        let Some((current, record)) = found else {
            return Ok(inactive());
        };
        let Ok(g) = serde_json::from_str::<super::grant::Grant>(&record) else {
            return Ok(inactive());
        };
        let current_token = crate::secret::constant_time_eq(&current, &secret_digest(secret));
        if !current_token
            || g.client_id != client.client_id
            || revoked(app, &g.sid, &g.family).await?
        {
            return Ok(inactive());
        }
        let mut scope = g.scopes.clone();
        if let Some(r) = &g.resource {
            scope.extend(g.resource_scopes.iter().map(|s| format!("{r}/{s}")));
        }
        Ok(JsonAnswer::ok(json!({
            "active": true,
            "token_type": "refresh_token",
            "client_id": g.client_id,
            "username": g.user.upn,
            "scope": scope.join(" "),
        })))
    }
    .await;
    answer.unwrap_or_else(|reason| {
        app.refused(
            reason,
            client_id.as_deref(),
            Protocol::OAuthToken,
            req.request,
        );
        JsonAnswer::error(reason)
    })
}

/// End-session: ends the browser's SSO session (and the one `id_token_hint` names) on every
/// node, which revokes the refresh tokens issued under it, then returns to a registered
/// `post_logout_redirect_uri` (with `state`) or shows the signed-out page. A hint that does not
/// verify, or a return URI the client did not register, gets an error page and ends nothing.
pub async fn logout(app: &OAuth<'_>, req: &LsRequest<'_>) -> LsResponse {
    let raw = if req.post {
        String::from_utf8_lossy(req.body).into_owned()
    } else {
        req.raw_query.to_string()
    };
    let checked = (|| {
        let params = Params::parse(&raw)?;
        let hint = match params.get("id_token_hint") {
            Some(t) => Some(own_token(app, t, false).ok_or(OAuthRefusal::InvalidIdTokenHint)?),
            None => None,
        };
        let hinted_client = hint.as_ref().map(|c| str_claim(c, "aud").to_string());
        let client_id = match (params.get("client_id"), &hinted_client) {
            (Some(a), Some(b)) if a != b => return Err(OAuthRefusal::InvalidIdTokenHint),
            (Some(a), _) => Some(a.to_string()),
            (None, b) => b.clone(),
        };
        let client = match &client_id {
            Some(id) => Some(app.config.client(id).ok_or(OAuthRefusal::UnknownClient)?),
            None => None,
        };
        let redirect = match params.get("post_logout_redirect_uri") {
            Some(uri) => {
                let client = client.ok_or(OAuthRefusal::UnregisteredPostLogoutUri)?;
                if !client.post_logout_redirect_uris.iter().any(|u| u == uri) {
                    return Err(OAuthRefusal::UnregisteredPostLogoutUri);
                }
                let state = params.bounded("state", super::authorize::MAX_STATE)?;
                let mut url = uri.to_string();
                if let Some(s) = state {
                    url.push(if url.contains('?') { '&' } else { '?' });
                    url.push_str("state=");
                    url.extend(form_urlencoded::byte_serialize(s.as_bytes()));
                }
                Some(url)
            }
            None => None,
        };
        let sid = hint.as_ref().map(|c| str_claim(c, "sid").to_string());
        Ok((redirect, sid, client_id))
    })();
    match checked {
        Ok((redirect, sid, _)) => {
            if let Some(sid) = sid.filter(|s| !s.is_empty()) {
                let lifetime = app.passive.settings.session_lifetime;
                if let Err(e) = app.passive.state.revoke(&sid, lifetime).await {
                    tracing::warn!(target: "altgate::ops", code = e.code(), "the signed-out session is not in the state store yet; this node refuses it");
                }
            }
            crate::protocols::passive::signed_out(&app.passive, req, Protocol::Oidc, redirect).await
        }
        Err(reason) => {
            let client = super::authorize::client_of(&app.passive, &raw);
            app.refused(reason, Some(&client), Protocol::Oidc, req.request);
            crate::protocols::passive::error_page(&app.passive, req, false)
        }
    }
}
