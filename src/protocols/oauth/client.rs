//! Client authentication at the token, revocation and introspection endpoints: HTTP Basic
//! (`client_secret_basic`, RFC 6749 §2.3.1: form-encoded id and secret), `client_secret_post`,
//! and `private_key_jwt` (RFC 7523: an RS256 assertion signed by the client's registered
//! certificate, `iss` = `sub` = client id, `aud` the token endpoint or the issuer, unexpired,
//! its `jti` used once on the whole farm). A public client sends only its `client_id`. More
//! than one method in a request is refused, as is a confidential client that sends none.

use super::params::Params;
use super::{OAuth, OAuthRefusal};
use crate::config::oauth::{ClientCredential, ClientKind, OAuthClient};
use crate::endpoint::Endpoint;
use base64::Engine;

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The credentials a request carries.
struct Presented {
    id: String,
    secret: Option<String>,
    assertion: Option<String>,
    /// Basic credentials: RFC 6749 §2.3.1 form-encodes id and secret, many clients do not;
    /// both readings are tried.
    basic: bool,
}

/// `s` form-decoded (`+` and `%XX`).
fn form_decoded(s: &str) -> String {
    form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn basic(authorization: Option<&str>) -> Result<Option<(String, String)>, OAuthRefusal> {
    let Some(value) = authorization else {
        return Ok(None);
    };
    let Some((scheme, rest)) = value.trim().split_once(' ') else {
        return Ok(None);
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .map_err(|_| OAuthRefusal::ClientAuthentication)?;
    let text = String::from_utf8(raw).map_err(|_| OAuthRefusal::ClientAuthentication)?;
    let (id, secret) = text
        .split_once(':')
        .ok_or(OAuthRefusal::ClientAuthentication)?;
    Ok(Some((id.to_string(), secret.to_string())))
}

fn presented(params: &Params, authorization: Option<&str>) -> Result<Presented, OAuthRefusal> {
    let basic = basic(authorization)?;
    let post_secret = params.get("client_secret");
    let assertion = match (
        params.get("client_assertion_type"),
        params.get("client_assertion"),
    ) {
        (Some(JWT_BEARER), Some(a)) => Some(a.to_string()),
        (None, None) => None,
        _ => return Err(OAuthRefusal::ClientAuthentication),
    };
    let methods = usize::from(basic.is_some())
        + usize::from(post_secret.is_some())
        + usize::from(assertion.is_some());
    if methods > 1 {
        return Err(OAuthRefusal::ClientAuthentication);
    }
    let form_id = params.get("client_id");
    if let Some((id, secret)) = basic {
        if form_id.is_some_and(|f| f != id && f != form_decoded(&id)) {
            return Err(OAuthRefusal::ClientAuthentication);
        }
        return Ok(Presented {
            id,
            secret: Some(secret),
            assertion: None,
            basic: true,
        });
    }
    let id = match (&assertion, form_id) {
        (_, Some(id)) => id.to_string(),
        // private_key_jwt may leave client_id out: the assertion's `sub` names the client.
        (Some(a), None) => assertion_subject(a).ok_or(OAuthRefusal::ClientAuthentication)?,
        (None, None) => return Err(OAuthRefusal::MalformedRequest),
    };
    Ok(Presented {
        id,
        secret: post_secret.map(str::to_string),
        assertion,
        basic: false,
    })
}

/// The unverified `sub` of an assertion: only to find which client's key verifies it.
fn assertion_subject(assertion: &str) -> Option<String> {
    let payload = assertion.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    v.get("sub")?.as_str().map(str::to_string)
}

/// Authenticates the client of a request; `Err` is `invalid_client` (or `invalid_request` when
/// no client is named at all). `client_id` becomes the name the request gave (the refusal's
/// label, when it is a configured client), and the client's own once it authenticated.
pub(super) async fn authenticate<'c>(
    app: &OAuth<'c>,
    params: &Params,
    authorization: Option<&str>,
    client_id: &mut Option<String>,
) -> Result<&'c OAuthClient, OAuthRefusal> {
    match check(app, params, authorization).await {
        Ok(client) => {
            *client_id = Some(client.client_id.clone());
            Ok(client)
        }
        Err((reason, id)) => {
            if id.is_some() {
                *client_id = id;
            }
            Err(reason)
        }
    }
}

async fn check<'c>(
    app: &OAuth<'c>,
    params: &Params,
    authorization: Option<&str>,
) -> Result<&'c OAuthClient, (OAuthRefusal, Option<String>)> {
    let p = presented(params, authorization).map_err(|r| (r, None))?;
    let fail = |id: &str| (OAuthRefusal::ClientAuthentication, Some(id.to_string()));
    let client = app.config.client(&p.id).or_else(|| {
        p.basic
            .then(|| app.config.client(&form_decoded(&p.id)))
            .flatten()
    });
    let Some(client) = client else {
        return Err(fail(&p.id));
    };
    match client.kind {
        ClientKind::Public => {
            if p.secret.is_some() || p.assertion.is_some() {
                return Err(fail(&p.id));
            }
            Ok(client)
        }
        ClientKind::Confidential => {
            if let Some(secret) = &p.secret {
                let ok = client.credentials.iter().any(|c| match c {
                    ClientCredential::Secret(s) => {
                        crate::secret::constant_time_eq(s.expose(), secret)
                            || (p.basic
                                && crate::secret::constant_time_eq(
                                    s.expose(),
                                    &form_decoded(secret),
                                ))
                    }
                    ClientCredential::Certificate(_) => false,
                });
                return if ok { Ok(client) } else { Err(fail(&p.id)) };
            }
            if let Some(assertion) = &p.assertion {
                return verify_assertion(app, client, assertion)
                    .await
                    .map(|()| client)
                    .map_err(|r| (r, Some(p.id.clone())));
            }
            Err(fail(&p.id))
        }
    }
}

async fn verify_assertion(
    app: &OAuth<'_>,
    client: &OAuthClient,
    assertion: &str,
) -> Result<(), OAuthRefusal> {
    let certs: Vec<&[u8]> = client
        .credentials
        .iter()
        .filter_map(|c| match c {
            ClientCredential::Certificate(der) => Some(der.as_slice()),
            ClientCredential::Secret(_) => None,
        })
        .collect();
    if certs.is_empty() {
        return Err(OAuthRefusal::ClientAuthentication);
    }
    let token_url = Endpoint::OAuthToken.url(app.public_url);
    let issuer = app.issuer();
    let audiences = [
        token_url.as_str(),
        token_url.trim_end_matches('/'),
        issuer.as_str(),
    ];
    let skew = app.passive.federation.max_clock_skew.as_secs();
    let claims = crate::tokens::jwt::verify(
        assertion,
        &certs,
        &crate::tokens::jwt::Expect {
            issuers: &[client.client_id.as_str()],
            audiences: &audiences,
            expiry: Some(skew),
            required: &["exp", "iss", "sub", "aud", "jti"],
        },
    )
    .map_err(|_| OAuthRefusal::ClientAuthentication)?;
    if claims.get("sub").and_then(|s| s.as_str()) != Some(client.client_id.as_str()) {
        return Err(OAuthRefusal::ClientAuthentication);
    }
    // Once only, farm-wide, for as long as it could still be accepted.
    let jti = claims
        .get("jti")
        .and_then(|s| s.as_str())
        .ok_or(OAuthRefusal::ClientAuthentication)?;
    let now = app.passive.tokens.now().unix_timestamp();
    let exp = claims.get("exp").and_then(|e| e.as_i64()).unwrap_or(now);
    let ttl = u64::try_from(exp.saturating_sub(now))
        .unwrap_or(0)
        .saturating_add(skew)
        .clamp(1, 86_400);
    match app
        .passive
        .state
        .first_use(
            &format!("client-assertion:{}:{jti}", client.client_id),
            std::time::Duration::from_secs(ttl),
        )
        .await
    {
        Ok(true) => Ok(()),
        Ok(false) => Err(OAuthRefusal::ClientAuthentication),
        Err(_) => Err(OAuthRefusal::StateUnavailable),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_decoded() {
        let h = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("my%20app:p%3Ass")
        );
        let (id, secret) = basic(Some(&h)).expect("basic").expect("some");
        assert_eq!(
            (form_decoded(&id), form_decoded(&secret)),
            ("my app".into(), "p:ss".into())
        );
        assert_eq!(basic(Some("Bearer x")).expect("other"), None);
        assert!(basic(Some("Basic !!!")).is_err());
    }

    #[test]
    fn two_methods_at_once_are_refused() {
        let h = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("a:b")
        );
        let p = Params::parse("client_id=a&client_secret=b").expect("params");
        assert!(matches!(
            presented(&p, Some(&h)),
            Err(OAuthRefusal::ClientAuthentication)
        ));
        let p = Params::parse("client_id=b").expect("params");
        assert!(matches!(
            presented(&p, Some(&h)),
            Err(OAuthRefusal::ClientAuthentication)
        ));
    }
}
