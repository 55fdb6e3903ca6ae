//! What a code or refresh token stands for (a [`Grant`], kept in the state store as JSON), the
//! scopes and resource a request may have, and the tokens made from a grant: the ID token
//! (AD FS's claims plus the standard ones per scope), the access token (for a resource, or for
//! userinfo), and the refresh token (`<family>.<secret>`; the store keeps the secret's digest).

use super::{OAuth, OAuthRefusal};
use crate::config::oauth::{ClientKind, OAuthClient, OAuthConfig, OPENID_SCOPES};
use crate::signin::{Method, SignedIn};
use crate::tokens::claims::{attribute_claims, Subject};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// The audience of an access token that only reads userinfo (AD FS's).
pub(super) const USERINFO_AUDIENCE: &str = "urn:microsoft:userinfo";

/// Where the signed-in account lives (its state is read fresh at every refresh).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct AccountPointer {
    pub forest: String,
    pub domain: String,
    pub dn: String,
}

/// Who a grant is for: the user (claims fixed at sign-in), or nobody (client credentials).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct User {
    /// The stable identifier `sub` is derived from (ImmutableID, else the DN).
    pub anchor: String,
    /// The cloud UPN (the alternate login ID when the user signed in with one).
    pub upn: String,
    /// `DOMAIN\sam` (AD FS's `unique_name`).
    pub unique_name: String,
    pub name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    /// The client's extra claims (type URI, value).
    pub extra: Vec<(String, String)>,
    /// When the user authenticated (Unix seconds).
    pub auth_time: i64,
    /// `password` or `windows`.
    pub method: String,
    pub account: Option<AccountPointer>,
}

/// What a code or refresh token family stands for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Grant {
    pub client_id: String,
    /// OpenID scopes granted.
    pub scopes: Vec<String>,
    /// The resource (access token `aud`), if one was asked for.
    pub resource: Option<String>,
    /// The resource's scopes granted (`scp`).
    pub resource_scopes: Vec<String>,
    /// The SSO session (browser) or a session of its own (ROPC): signing it out revokes
    /// everything issued under it.
    pub sid: String,
    /// The refresh token family this grant's tokens belong to.
    pub family: String,
    pub user: User,
    /// Code only: where the code went, and its PKCE challenge and method.
    #[serde(default)]
    pub redirect_uri: Option<String>,
    #[serde(default)]
    pub challenge: Option<(String, String)>,
    #[serde(default)]
    pub nonce: Option<String>,
}

/// The revocation-list key of a grant family (beside SSO session ids).
pub(super) fn family_revocation(family: &str) -> String {
    format!("oauth-family:{family}")
}

/// Revokes everything issued under `family`, on every node: its refresh tokens (the family is
/// deleted), and its access tokens as far as userinfo and introspection can tell (the family
/// goes on the revocation list). Both writes are attempted; `Err` when either failed.
pub(super) async fn revoke(app: &OAuth<'_>, family: &str) -> Result<(), crate::state::StateError> {
    let state = app.passive.state;
    let deleted = state.revoke_family(family).await;
    let listed = state
        .revoke(
            &family_revocation(family),
            app.config.refresh_token_lifetime,
        )
        .await;
    deleted.and(listed).map(|_| ())
}

/// The user part of a grant, from a sign-in.
pub(super) fn user_of(signed_in: &SignedIn, client: &OAuthClient, inside: bool) -> User {
    let account = signed_in.resolution.account.as_ref();
    let via = signed_in.resolution.via.unwrap_or(crate::resolve::Via::Upn);
    let (upn, extra, anchor, unique_name, names) = match account {
        Some(a) => {
            let subject = Subject {
                account: a,
                via,
                login: &signed_in.login,
                inside_corporate_network: inside,
            };
            let extra = attribute_claims(
                &client.claims,
                &subject,
                crate::config::NameOrder::GivenFamily,
                None,
            )
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
            (
                subject.cloud_upn(),
                extra,
                a.immutable_id
                    .clone()
                    .unwrap_or_else(|| a.distinguished_name.to_lowercase()),
                format!(
                    "{}\\{}",
                    a.netbios_domain.as_deref().unwrap_or(&a.domain),
                    a.sam_account_name
                ),
                (
                    subject.name(crate::config::NameOrder::GivenFamily),
                    a.given_name.clone(),
                    a.surname.clone(),
                ),
            )
        }
        None => (
            signed_in.login.clone(),
            Vec::new(),
            signed_in.login.to_lowercase(),
            signed_in.login.clone(),
            (None, None, None),
        ),
    };
    User {
        anchor,
        upn,
        unique_name,
        name: names.0,
        given_name: names.1,
        family_name: names.2,
        extra,
        auth_time: signed_in.auth_instant.unix_timestamp(),
        method: signed_in.method.as_str().to_string(),
        account: account.map(|a| AccountPointer {
            forest: a.forest.clone(),
            domain: a.domain.clone(),
            dn: a.distinguished_name.clone(),
        }),
    }
}

/// What a request may have: OpenID scopes, a resource and its scopes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Asked {
    pub scopes: Vec<String>,
    pub resource: Option<String>,
    pub resource_scopes: Vec<String>,
    /// A `scope` parameter was sent at all (AD FS's resource-only requests send none).
    pub scope_written: bool,
}

impl Asked {
    /// True when a refresh token is wanted: `offline_access`, or AD FS's resource-only style
    /// (no `scope` at all).
    pub fn offline(&self) -> bool {
        self.scopes.iter().any(|s| s == "offline_access") || !self.scope_written
    }
}

/// Reads `scope` and `resource` for `client`: OpenID scopes it may ask for, and at most one
/// resource (by `resource`, or by `<resource>/<scope>` scopes) it may ask for, with scopes of
/// that resource (`.default`: all of them).
pub(super) fn asked(
    config: &OAuthConfig,
    client: &OAuthClient,
    scope: Option<&str>,
    resource: Option<&str>,
) -> Result<Asked, OAuthRefusal> {
    let mut out = Asked {
        scope_written: scope.is_some(),
        ..Asked::default()
    };
    let pick = |id: &str, out: &mut Asked| -> Result<(), OAuthRefusal> {
        let r = config.resource(id).ok_or(OAuthRefusal::InvalidScope)?;
        if !client.resources.iter().any(|x| x == &r.identifier) {
            return Err(OAuthRefusal::InvalidScope);
        }
        match &out.resource {
            Some(existing) if existing != &r.identifier => Err(OAuthRefusal::InvalidScope),
            _ => {
                out.resource = Some(r.identifier.clone());
                Ok(())
            }
        }
    };
    if let Some(id) = resource {
        pick(id, &mut out)?;
    }
    for s in scope.unwrap_or("").split(' ').filter(|s| !s.is_empty()) {
        if !crate::config::oauth::is_scope_token(s) {
            return Err(OAuthRefusal::InvalidScope);
        }
        if OPENID_SCOPES.contains(&s) {
            if !client.scopes.iter().any(|c| c == s) {
                return Err(OAuthRefusal::InvalidScope);
            }
            if !out.scopes.iter().any(|x| x == s) {
                out.scopes.push(s.to_string());
            }
            continue;
        }
        let (id, name) = s.rsplit_once('/').ok_or(OAuthRefusal::InvalidScope)?;
        pick(id, &mut out)?;
        let r = config.resource(id).ok_or(OAuthRefusal::InvalidScope)?;
        if name == ".default" {
            for x in &r.scopes {
                if !out.resource_scopes.contains(x) {
                    out.resource_scopes.push(x.clone());
                }
            }
        } else if r.scopes.iter().any(|x| x == name) {
            if !out.resource_scopes.iter().any(|x| x == name) {
                out.resource_scopes.push(name.to_string());
            }
        } else {
            return Err(OAuthRefusal::InvalidScope);
        }
    }
    Ok(out)
}

/// `sub`: pairwise per client (AD FS's is too), stable across sign-ins.
fn sub(issuer: &str, client_id: &str, anchor: &str) -> String {
    let d = ring::digest::digest(
        &ring::digest::SHA256,
        format!("{issuer}\n{client_id}\n{anchor}").as_bytes(),
    );
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(d.as_ref())
}

/// AD FS's `authmethod` for a method.
fn authmethod(method: &str) -> &'static str {
    if method == Method::Windows.as_str() {
        crate::signin::WINDOWS_AUTHN_CONTEXT
    } else {
        "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
    }
}

fn apptype(client: &OAuthClient) -> &'static str {
    match client.kind {
        ClientKind::Public => "Public",
        ClientKind::Confidential => "Confidential",
    }
}

/// What was issued for one grant.
pub(super) struct Issued {
    pub access_token: String,
    pub id_token: Option<String>,
    pub refresh_token: Option<String>,
    pub expires_in: u64,
    pub scope: String,
    pub resource: Option<String>,
    pub refresh_expires_in: Option<u64>,
}

impl Issued {
    /// The token response body.
    pub fn body(&self) -> Value {
        let mut m = Map::new();
        m.insert("access_token".into(), json!(self.access_token));
        m.insert("token_type".into(), json!("bearer"));
        m.insert("expires_in".into(), json!(self.expires_in));
        if !self.scope.is_empty() {
            m.insert("scope".into(), json!(self.scope));
        }
        if let Some(r) = &self.resource {
            m.insert("resource".into(), json!(r));
        }
        if let Some(t) = &self.id_token {
            m.insert("id_token".into(), json!(t));
        }
        if let Some(t) = &self.refresh_token {
            m.insert("refresh_token".into(), json!(t));
        }
        if let Some(s) = self.refresh_expires_in {
            m.insert("refresh_token_expires_in".into(), json!(s));
        }
        Value::Object(m)
    }
}

/// Sets claim `k` of the object `m`.
fn set(m: &mut Value, k: &str, v: Value) {
    if let Value::Object(o) = m {
        o.insert(k.to_string(), v);
    }
}

fn sign(app: &OAuth<'_>, claims: &Value) -> Result<String, OAuthRefusal> {
    let signing = app
        .passive
        .tokens
        .signing()
        .ok_or(OAuthRefusal::SigningFailed)?;
    crate::tokens::jwt::sign(&signing.key, claims).map_err(|_| OAuthRefusal::SigningFailed)
}

/// The ID token and access token of `grant` for `client`; `refresh_token` is passed through.
pub(super) fn tokens(
    app: &OAuth<'_>,
    client: &OAuthClient,
    grant: &Grant,
    refresh_token: Option<String>,
    refresh_expires_in: Option<u64>,
) -> Result<Issued, OAuthRefusal> {
    let issuer = app.issuer();
    let now = app.passive.tokens.now().unix_timestamp();
    let lifetime = app.config.access_token_lifetime.as_secs();
    let exp = now.saturating_add(i64::try_from(lifetime).unwrap_or(3600));
    let u = &grant.user;
    let sub = sub(&issuer, &client.client_id, &u.anchor);
    let has = |s: &str| grant.scopes.iter().any(|x| x == s);
    let id_token = if has("openid") {
        let mut c = json!({
            "iss": issuer, "aud": client.client_id, "sub": sub,
            "iat": now, "nbf": now, "exp": exp, "auth_time": u.auth_time,
            "upn": u.upn, "unique_name": u.unique_name, "sid": grant.sid,
            "appid": client.client_id, "apptype": apptype(client),
            "authmethod": authmethod(&u.method), "ver": "1.0",
        });
        if let Some(n) = &grant.nonce {
            set(&mut c, "nonce", json!(n));
        }
        if has("profile") {
            set(&mut c, "preferred_username", json!(u.upn));
            for (k, v) in [
                ("name", &u.name),
                ("given_name", &u.given_name),
                ("family_name", &u.family_name),
            ] {
                if let Some(v) = v {
                    set(&mut c, k, json!(v));
                }
            }
        }
        if has("email") {
            set(&mut c, "email", json!(u.upn));
        }
        if has("allatclaims") {
            for (k, v) in &u.extra {
                set(&mut c, k.as_str(), json!(v));
            }
        }
        Some(sign(app, &c)?)
    } else {
        None
    };
    let (aud, scp) = match &grant.resource {
        Some(r) => (r.clone(), grant.resource_scopes.join(" ")),
        None => (USERINFO_AUDIENCE.to_string(), grant.scopes.join(" ")),
    };
    let mut a = json!({
        "iss": issuer, "aud": aud, "sub": sub, "iat": now, "nbf": now, "exp": exp,
        "auth_time": u.auth_time, "upn": u.upn, "unique_name": u.unique_name,
        "appid": client.client_id, "apptype": apptype(client),
        "authmethod": authmethod(&u.method), "ver": "1.0", "scp": scp,
        "sid": grant.sid, "fid": grant.family,
        "jti": super::random(16).ok_or(OAuthRefusal::SigningFailed)?,
    });
    // What userinfo answers with, per the granted scopes.
    if has("profile") {
        set(&mut a, "preferred_username", json!(u.upn));
        for (k, v) in [
            ("name", &u.name),
            ("given_name", &u.given_name),
            ("family_name", &u.family_name),
        ] {
            if let Some(v) = v {
                set(&mut a, k, json!(v));
            }
        }
    }
    if has("email") {
        set(&mut a, "email", json!(u.upn));
    }
    for (k, v) in &u.extra {
        set(&mut a, k.as_str(), json!(v));
    }
    let mut scope: Vec<String> = grant.scopes.clone();
    if let Some(r) = &grant.resource {
        scope.extend(grant.resource_scopes.iter().map(|s| format!("{r}/{s}")));
    }
    Ok(Issued {
        access_token: sign(app, &a)?,
        id_token,
        refresh_token,
        expires_in: lifetime,
        scope: scope.join(" "),
        resource: grant.resource.clone(),
        refresh_expires_in,
    })
}

/// An access token for the client itself (client credentials): no user, no refresh token.
pub(super) fn client_token(
    app: &OAuth<'_>,
    client: &OAuthClient,
    asked: &Asked,
) -> Result<Issued, OAuthRefusal> {
    let issuer = app.issuer();
    let now = app.passive.tokens.now().unix_timestamp();
    let lifetime = app.config.access_token_lifetime.as_secs();
    let exp = now.saturating_add(i64::try_from(lifetime).unwrap_or(3600));
    let resource = asked.resource.clone().ok_or(OAuthRefusal::InvalidScope)?;
    let mut a = json!({
        "iss": issuer, "aud": resource, "sub": client.client_id, "iat": now, "nbf": now,
        "exp": exp, "appid": client.client_id, "apptype": apptype(client),
        "authmethod": "http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/password",
        "ver": "1.0", "jti": super::random(16).ok_or(OAuthRefusal::SigningFailed)?,
    });
    if !asked.resource_scopes.is_empty() {
        set(&mut a, "scp", json!(asked.resource_scopes.join(" ")));
    }
    Ok(Issued {
        access_token: sign(app, &a)?,
        id_token: None,
        refresh_token: None,
        expires_in: lifetime,
        scope: asked
            .resource_scopes
            .iter()
            .map(|s| format!("{resource}/{s}"))
            .collect::<Vec<_>>()
            .join(" "),
        resource: Some(resource),
        refresh_expires_in: None,
    })
}

/// The digest a secret (a refresh token's) is kept as.
pub(super) fn secret_digest(secret: &str) -> String {
    crate::state::digest(secret)
}
