//! The token endpoint (`/adfs/oauth2/token/`): `authorization_code` (single use, bound to the
//! client, the redirect URI and the PKCE verifier; a replayed code revokes what it issued),
//! `refresh_token` (rotated on every use; an already used token revokes its family; the
//! account's state is read fresh), `client_credentials`, and `password` (ROPC: the same
//! sign-in as WS-Trust — alternate login ID, extranet lockout, timing equalisation — with one
//! answer for every failure but an expired or must-change password).

use super::client::authenticate;
use super::grant::{self, secret_digest, Grant};
use super::params::Params;
use super::{random, ApiRequest, JsonAnswer, OAuth, OAuthRefusal};
use crate::config::oauth::{Grant as GrantType, OAuthClient};
use crate::directory::{AccountRef, BindRejection};
use crate::events::OAuthGrantRevoked;
use crate::signin::{Protocol, SignInContext, SignInFailure};
use crate::state::{Redeemed, Rotation};
use base64::Engine;

/// AD FS's answer to a failed ROPC sign-in, whatever the reason (no account enumeration).
pub const PASSWORD: &str = "MSIS9659: Invalid 'username' or 'password'.";

/// Answers one token request.
pub async fn token(app: &OAuth<'_>, req: &ApiRequest<'_>) -> JsonAnswer {
    let mut client_id = None;
    let result = grant_tokens(app, req, &mut client_id).await;
    match result {
        Ok(answer) => answer,
        Err(reason) => {
            app.refused(
                reason,
                client_id.as_deref(),
                Protocol::OAuthToken,
                req.request,
            );
            let mut a = JsonAnswer::error(reason);
            if reason == OAuthRefusal::ClientAuthentication && req.authorization.is_some() {
                a.www_authenticate = Some("Basic realm=\"altgate\"".into());
            }
            a
        }
    }
}

async fn grant_tokens(
    app: &OAuth<'_>,
    req: &ApiRequest<'_>,
    client_id: &mut Option<String>,
) -> Result<JsonAnswer, OAuthRefusal> {
    let params = Params::of_form(req)?;
    *client_id = params.get("client_id").map(str::to_string);
    let client = authenticate(app, &params, req.authorization, client_id).await?;
    let grant_type = params.require("grant_type")?;
    let grant = crate::config::oauth::Grant::WORDS
        .iter()
        .find(|(w, _)| *w == grant_type)
        .map(|(_, g)| *g)
        .ok_or(OAuthRefusal::UnsupportedGrantType)?;
    if !client.allows(grant) {
        return Err(OAuthRefusal::GrantNotAllowed);
    }
    let issued = match grant {
        GrantType::AuthorizationCode => code(app, client, &params).await?,
        GrantType::RefreshToken => refresh(app, client, &params, req).await?,
        GrantType::ClientCredentials => {
            let asked = grant::asked(
                app.config,
                client,
                params.get("scope"),
                params.get("resource"),
            )?;
            grant::client_token(app, client, &asked)?
        }
        GrantType::Password => password(app, client, &params, req).await?,
    };
    app.passive
        .token_metrics
        .count_issued(Protocol::OAuthToken, &client.client_id);
    Ok(JsonAnswer::ok(issued.body()))
}

/// Starts the refresh token family of `grant` when one is wanted and allowed: the token.
async fn start_family(
    app: &OAuth<'_>,
    client: &OAuthClient,
    grant: &Grant,
    wanted: bool,
) -> Result<(Option<String>, Option<u64>), OAuthRefusal> {
    if !wanted || !client.allows(GrantType::RefreshToken) {
        return Ok((None, None));
    }
    let secret = random(32).ok_or(OAuthRefusal::SigningFailed)?;
    let record = serde_json::to_string(grant).map_err(|_| OAuthRefusal::SigningFailed)?;
    let lifetime = app.config.refresh_token_lifetime;
    app.passive
        .state
        .put_family(&grant.family, &secret_digest(&secret), &record, lifetime)
        .await
        .map_err(|_| OAuthRefusal::StateUnavailable)?;
    Ok((
        Some(format!("{}.{secret}", grant.family)),
        Some(lifetime.as_secs()),
    ))
}

/// Revokes everything issued under `family` (refresh tokens, and access tokens as far as
/// introspection and userinfo can tell).
/// Revokes everything issued under `family` because of `why`, and says so.
async fn revoke_family(app: &OAuth<'_>, family: &str, client_id: &str, why: OAuthRefusal) {
    let stored = grant::revoke(app, family).await.is_ok();
    app.passive.events.emit(&OAuthGrantRevoked {
        client_id,
        reason: why.into(),
        stored,
    });
}

async fn code(
    app: &OAuth<'_>,
    client: &OAuthClient,
    params: &Params,
) -> Result<grant::Issued, OAuthRefusal> {
    let code = params.require("code")?;
    if code.len() > 128 {
        return Err(OAuthRefusal::InvalidCode);
    }
    let redeemed = app
        .passive
        .state
        .redeem_code(code)
        .await
        .map_err(|_| OAuthRefusal::StateUnavailable)?;
    let record = match redeemed {
        Redeemed::Unknown => return Err(OAuthRefusal::InvalidCode),
        Redeemed::Replayed(record) => {
            if let Ok(g) = serde_json::from_str::<Grant>(&record) {
                revoke_family(app, &g.family, &g.client_id, OAuthRefusal::CodeReplayed).await;
            }
            return Err(OAuthRefusal::CodeReplayed);
        }
        Redeemed::Fresh(record) => record,
    };
    let g: Grant = serde_json::from_str(&record).map_err(|_| OAuthRefusal::InvalidCode)?;
    if g.client_id != client.client_id {
        return Err(OAuthRefusal::InvalidCode);
    }
    if params.get("redirect_uri") != g.redirect_uri.as_deref() {
        return Err(OAuthRefusal::InvalidCode);
    }
    check_verifier(g.challenge.as_ref(), params.get("code_verifier"))?;
    let wanted = g.scopes.iter().any(|s| s == "offline_access") || g.scopes.is_empty();
    let (refresh, refresh_in) = start_family(app, client, &g, wanted).await?;
    grant::tokens(app, client, &g, refresh, refresh_in)
}

/// RFC 7636 §4.6: the verifier (43–128 unreserved characters) against the challenge.
fn check_verifier(
    challenge: Option<&(String, String)>,
    verifier: Option<&str>,
) -> Result<(), OAuthRefusal> {
    let Some((challenge, method)) = challenge else {
        return match verifier {
            Some(_) => Err(OAuthRefusal::PkceMismatch),
            None => Ok(()),
        };
    };
    let verifier = verifier.ok_or(OAuthRefusal::PkceMismatch)?;
    let unreserved = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~');
    if !(43..=128).contains(&verifier.len()) || !verifier.chars().all(unreserved) {
        return Err(OAuthRefusal::PkceMismatch);
    }
    let computed = match method.as_str() {
        "S256" => base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()).as_ref()),
        _ => verifier.to_string(),
    };
    if crate::secret::constant_time_eq(&computed, challenge) {
        Ok(())
    } else {
        Err(OAuthRefusal::PkceMismatch)
    }
}

async fn refresh(
    app: &OAuth<'_>,
    client: &OAuthClient,
    params: &Params,
    req: &ApiRequest<'_>,
) -> Result<grant::Issued, OAuthRefusal> {
    let token = params.require("refresh_token")?;
    let (family, secret) = token
        .split_once('.')
        .filter(|(f, s)| f.len() <= 64 && s.len() <= 64)
        .ok_or(OAuthRefusal::InvalidRefreshToken)?;
    let next = random(32).ok_or(OAuthRefusal::SigningFailed)?;
    let state = app.passive.state;
    let rotation = state
        .rotate_refresh(family, &secret_digest(secret), &secret_digest(&next))
        .await
        .map_err(|_| OAuthRefusal::StateUnavailable)?;
    let record = match rotation {
        Rotation::Unknown => return Err(OAuthRefusal::InvalidRefreshToken),
        Rotation::Reused => {
            // The family is gone already; its access tokens go too.
            revoke_family(
                app,
                family,
                &client.client_id,
                OAuthRefusal::RefreshTokenReused,
            )
            .await;
            return Err(OAuthRefusal::RefreshTokenReused);
        }
        Rotation::Rotated(record) => record,
    };
    let g: Grant = serde_json::from_str(&record).map_err(|_| OAuthRefusal::InvalidRefreshToken)?;
    if g.client_id != client.client_id {
        revoke_family(app, family, &g.client_id, OAuthRefusal::InvalidRefreshToken).await;
        return Err(OAuthRefusal::InvalidRefreshToken);
    }
    if super::endpoints::revoked(app, &g.sid, &g.family).await? {
        return Err(OAuthRefusal::InvalidRefreshToken);
    }
    if let Some(scope) = params.get("scope") {
        let narrower = scope
            .split(' ')
            .filter(|s| !s.is_empty())
            .all(|s| g.scopes.iter().any(|x| x == s) || scoped(&g, s));
        if !narrower {
            return Err(OAuthRefusal::InvalidScope);
        }
    }
    account_unchanged(app, &g, req).await?;
    let refresh = format!("{family}.{next}");
    let left = app.config.refresh_token_lifetime.as_secs();
    grant::tokens(app, client, &g, Some(refresh), Some(left))
}

/// True when `s` (`<resource>/<scope>`) was granted.
fn scoped(g: &Grant, s: &str) -> bool {
    match (&g.resource, s.rsplit_once('/')) {
        (Some(r), Some((id, name))) => {
            id.trim_end_matches('/')
                .eq_ignore_ascii_case(r.trim_end_matches('/'))
                && (name == ".default" || g.resource_scopes.iter().any(|x| x == name))
        }
        _ => false,
    }
}

/// The account behind a refresh is still enabled, still at its DN, with no password set since
/// the sign-in (read on a DC within `passive.account_state_max_age`, as for the SSO session).
/// A directory that cannot answer refuses this refresh and keeps the family.
async fn account_unchanged(
    app: &OAuth<'_>,
    g: &Grant,
    _req: &ApiRequest<'_>,
) -> Result<(), OAuthRefusal> {
    let Some(a) = &g.user.account else {
        return Ok(());
    };
    let state = app
        .passive
        .account_states
        .get(
            app.passive.directory,
            AccountRef::new(&a.forest, &a.domain, &a.dn),
        )
        .await
        .map_err(|_| OAuthRefusal::StateUnavailable)?;
    match state {
        Some(s) if s.enabled && !s.password_set_after(g.user.auth_time) => Ok(()),
        _ => {
            revoke_family(app, &g.family, &g.client_id, OAuthRefusal::AccountChanged).await;
            Err(OAuthRefusal::AccountChanged)
        }
    }
}

async fn password(
    app: &OAuth<'_>,
    client: &OAuthClient,
    params: &Params,
    req: &ApiRequest<'_>,
) -> Result<grant::Issued, OAuthRefusal> {
    let username = params.require("username")?;
    let password = params.require("password")?;
    let asked = grant::asked(
        app.config,
        client,
        params.get("scope"),
        params.get("resource"),
    )?;
    let ctx = SignInContext {
        protocol: Protocol::OAuthToken,
        relying_party: &client.client_id,
        request: req.request,
        password_expiry: false,
    };
    let secret = crate::secret::Secret::new(password.to_string());
    let signed_in = match app.passive.sign_in.sign_in(username, &secret, &ctx).await {
        Ok(s) => s,
        Err(SignInFailure::Rejected(
            BindRejection::PasswordExpired | BindRejection::MustChangePassword,
        )) => return Err(OAuthRefusal::PasswordMustChange),
        // Counted under its own reason by the sign-in service; the client gets one answer.
        Err(_) => return Err(OAuthRefusal::InvalidCredentials),
    };
    let inside = req
        .request
        .client
        .is_internal(&app.passive.federation.internal_networks);
    let g = Grant {
        client_id: client.client_id.clone(),
        scopes: asked.scopes.clone(),
        resource: asked.resource.clone(),
        resource_scopes: asked.resource_scopes.clone(),
        sid: random(16).ok_or(OAuthRefusal::SigningFailed)?,
        family: random(16).ok_or(OAuthRefusal::SigningFailed)?,
        user: grant::user_of(&signed_in, client, inside),
        redirect_uri: None,
        challenge: None,
        nonce: None,
    };
    let (refresh, refresh_in) = start_family(app, client, &g, asked.offline()).await?;
    grant::tokens(app, client, &g, refresh, refresh_in)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_and_plain() {
        // RFC 7636 appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        let s256 = (challenge.to_string(), "S256".to_string());
        check_verifier(Some(&s256), Some(verifier)).expect("S256");
        assert_eq!(
            check_verifier(Some(&s256), Some(&verifier.replace('d', "e"))),
            Err(OAuthRefusal::PkceMismatch)
        );
        assert_eq!(
            check_verifier(Some(&s256), None),
            Err(OAuthRefusal::PkceMismatch)
        );
        let plain = (verifier.to_string(), "plain".to_string());
        check_verifier(Some(&plain), Some(verifier)).expect("plain");
        assert_eq!(
            check_verifier(None, Some(verifier)),
            Err(OAuthRefusal::PkceMismatch)
        );
        check_verifier(None, None).expect("no PKCE");
        assert_eq!(
            check_verifier(Some(&s256), Some("short")),
            Err(OAuthRefusal::PkceMismatch)
        );
    }
}
