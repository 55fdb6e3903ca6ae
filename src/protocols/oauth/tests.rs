//! The OAuth / OpenID Connect endpoints over the demo directory and the in-process store:
//! code + PKCE through the sign-in form, refresh rotation and reuse, code replay, ROPC,
//! client credentials, userinfo, revocation, introspection and end-session, and the attacks
//! on each (the integration suite repeats the flows with MSAL, authlib, joserfc and Chromium
//! against real AD).

use super::*;
use crate::app::App;
use crate::config::Config;
use crate::protocols::passive::tests::{cookie_pair, form, get_request, hidden, ip, post, DEMO_PW};
use crate::protocols::passive::LsResponse;
use crate::session::CSRF_COOKIE;
use base64::Engine;
use serde_json::Value;
use std::sync::Arc;

const SECRET: &str = "web-app-secret-0123456789";
const WEB: &str = "web-app";
const NATIVE: &str = "native-app";
const CB: &str = "https://app.example.test/cb";
const NATIVE_CB: &str = "http://localhost:8400/cb";
const API: &str = "https://api.example.test";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn app() -> (tempfile::TempDir, Arc<App>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = dir.path().join("web.secret");
    std::fs::write(&secret, format!("{SECRET}\n")).expect("secret");
    let yaml = format!(
        "server: {{ listen: 127.0.0.1:0, public_url: https://sts.example.test }}\n\
         alternate_login_id: {{ attribute: mail, lookup_forests: [contoso.com, fabrikam.com] }}\n\
         demo_directory: config/demo-directory.yaml\n\
         forests: [{{ name: contoso.com }}, {{ name: fabrikam.com }}]\n\
         token_signing: {{ cert_file: tests/fixtures/test-token-signing.crt, key_file: tests/fixtures/test-token-signing.key }}\n\
         oauth:\n\
         \x20 clients:\n\
         \x20   - {{ client_id: {WEB}, type: confidential, secret_file: '{}', redirect_uris: ['{CB}'], post_logout_redirect_uris: ['https://app.example.test/'], grants: [authorization_code, refresh_token, client_credentials, password], scopes: [openid, profile, email, offline_access, allatclaims], claims: [immutable_id] }}\n\
         \x20   - {{ client_id: {NATIVE}, type: public, redirect_uris: ['{NATIVE_CB}'], grants: [authorization_code, refresh_token, password] }}\n\
         \x20   - {{ client_id: jwt-app, type: confidential, certificate_file: tests/fixtures/test-token-signing.crt, grants: [client_credentials] }}\n\
         \x20 resources:\n\
         \x20   - {{ identifier: '{API}', scopes: [user_impersonation] }}\n",
        secret.display()
    );
    let config = Config::parse(&yaml, "test").expect("config");
    (dir, App::new(config).expect("app"))
}

fn ctx() -> crate::request::RequestContext {
    crate::request::RequestContext::local(ip(), "test-activity")
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn authorize(app: &App, query: &str, cookies: &str) -> LsResponse {
    let request = ctx();
    crate::protocols::passive::authorize(&app.passive(), &get_request(query, cookies, &request))
        .await
}

fn web_query(extra: &str) -> String {
    format!(
        "client_id={WEB}&response_type=code&redirect_uri={}&scope=openid%20profile%20email%20offline_access&state=st-1&nonce=n-1&code_challenge={CHALLENGE}&code_challenge_method=S256{extra}",
        enc(CB)
    )
}

/// Posts `user`'s demo password to the form the authorization endpoint shows: the answer,
/// and the CSRF cookie.
async fn code_for_user(app: &App, query: &str, user: &str) -> (LsResponse, String) {
    let page = authorize(app, query, "").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(
        page.form_target.as_deref(),
        Some(CB),
        "the form may lead to the client"
    );
    let csrf = cookie_pair(&page, CSRF_COOKIE);
    let body = form(&[
        ("UserName", user),
        ("Password", DEMO_PW),
        ("AuthMethod", "FormsAuthentication"),
        ("csrf", &hidden(&page.body, "csrf")),
        ("ctx", &hidden(&page.body, "ctx")),
    ]);
    (post(app, &body, &csrf).await, csrf)
}

/// Signs in through the form at the authorization endpoint: the code's redirect, and the SSO
/// cookie.
async fn code_for(app: &App, query: &str, user: &str) -> (LsResponse, String) {
    let (r, _) = code_for_user(app, query, user).await;
    let sso = r
        .set_cookies
        .iter()
        .find(|c| c.starts_with(crate::session::COOKIE))
        .and_then(|c| c.split(';').next())
        .unwrap_or_default()
        .to_string();
    (r, sso)
}

fn query_param(location: &str, name: &str) -> Option<String> {
    let q = location.split_once(['?', '#'])?.1;
    form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn basic() -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{WEB}:{SECRET}"))
    )
}

async fn call(
    app: &App,
    f: for<'x> fn(&'x OAuth<'x>, &'x ApiRequest<'x>) -> futures::future::BoxFuture<'x, JsonAnswer>,
    body: &str,
    authorization: Option<&str>,
) -> (u16, Value) {
    let view = app.oauth().expect("oauth");
    let c = ctx();
    let req = ApiRequest {
        post: true,
        raw_query: "",
        body: body.as_bytes(),
        form: true,
        authorization,
        request: &c,
    };
    let a = f(&view, &req).await;
    (
        a.status.as_u16(),
        serde_json::from_str(&a.body).expect("json"),
    )
}

fn token_fn<'x>(
    o: &'x OAuth<'x>,
    r: &'x ApiRequest<'x>,
) -> futures::future::BoxFuture<'x, JsonAnswer> {
    Box::pin(token(o, r))
}
fn revoke_fn<'x>(
    o: &'x OAuth<'x>,
    r: &'x ApiRequest<'x>,
) -> futures::future::BoxFuture<'x, JsonAnswer> {
    Box::pin(revoke(o, r))
}
fn introspect_fn<'x>(
    o: &'x OAuth<'x>,
    r: &'x ApiRequest<'x>,
) -> futures::future::BoxFuture<'x, JsonAnswer> {
    Box::pin(introspect(o, r))
}

fn claims(app: &App, jwt: &str) -> Value {
    let key = app.tokens.signing().expect("key");
    crate::tokens::jwt::verify(
        jwt,
        &[key.key.cert_der()],
        &crate::tokens::jwt::Expect {
            issuers: &["https://sts.example.test/adfs"],
            audiences: &[],
            expiry: Some(0),
            required: &["exp"],
        },
    )
    .expect("verifies")
}

async fn redeem(app: &App, code: &str) -> (u16, Value) {
    let body = format!(
        "grant_type=authorization_code&code={}&redirect_uri={}&code_verifier={VERIFIER}",
        enc(code),
        enc(CB)
    );
    call(app, token_fn, &body, Some(&basic())).await
}

#[tokio::test]
async fn discovery_and_keys_describe_the_endpoints_and_the_signing_key() {
    let (_d, app) = app();
    let view = app.oauth().expect("oauth");
    let d: Value = serde_json::from_str(&discovery(&view).body).expect("json");
    assert_eq!(d["issuer"], "https://sts.example.test/adfs");
    assert_eq!(
        d["token_endpoint"],
        "https://sts.example.test/adfs/oauth2/token/"
    );
    assert_eq!(
        d["jwks_uri"],
        "https://sts.example.test/adfs/discovery/keys"
    );
    let k: Value = serde_json::from_str(&jwks(&view).body).expect("json");
    let kid = crate::tokens::jwt::thumbprint(app.tokens.signing().expect("k").key.cert_der());
    assert_eq!(k["keys"][0]["kid"], kid.as_str());
    assert_eq!(k["keys"][0]["x5t"], kid.as_str());
}

#[tokio::test]
async fn code_with_pkce_then_refresh_rotation_and_reuse_revokes_the_family() {
    let (_d, app) = app();
    let (r, _) = code_for(&app, &web_query(""), "jdoe@contoso.com").await;
    assert_eq!(r.status, 302, "{}", r.body);
    let loc = r.location.clone().expect("location");
    assert!(loc.starts_with(&format!("{CB}?")), "{loc}");
    assert_eq!(query_param(&loc, "state").as_deref(), Some("st-1"));
    let code = query_param(&loc, "code").expect("code");
    let (status, t) = redeem(&app, &code).await;
    assert_eq!(status, 200, "{t}");
    let id = claims(&app, t["id_token"].as_str().expect("id_token"));
    assert_eq!(id["aud"], WEB);
    assert_eq!(id["nonce"], "n-1");
    assert_eq!(id["upn"], "jdoe@contoso.com");
    assert_eq!(id["preferred_username"], "jdoe@contoso.com");
    assert_eq!(id["ver"], "1.0");
    let first = t["refresh_token"].as_str().expect("refresh").to_string();
    // Rotation: a new refresh token each time.
    let body = |rt: &str| format!("grant_type=refresh_token&refresh_token={}", enc(rt));
    let (s, t2) = call(&app, token_fn, &body(&first), Some(&basic())).await;
    assert_eq!(s, 200, "{t2}");
    let second = t2["refresh_token"].as_str().expect("refresh").to_string();
    assert_ne!(first, second);
    // Reuse of the first: refused, and the second dies with it.
    let (s, e) = call(&app, token_fn, &body(&first), Some(&basic())).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")));
    let (s, e) = call(&app, token_fn, &body(&second), Some(&basic())).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")));
}

#[tokio::test]
async fn a_replayed_code_is_refused_and_revokes_what_it_issued() {
    let (_d, app) = app();
    let (r, _) = code_for(&app, &web_query(""), "jdoe@contoso.com").await;
    let code = query_param(r.location.as_deref().expect("loc"), "code").expect("code");
    let (_, t) = redeem(&app, &code).await;
    let access = t["access_token"].as_str().expect("at").to_string();
    let rt = t["refresh_token"].as_str().expect("rt").to_string();
    let (s, e) = redeem(&app, &code).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")));
    let body = format!("grant_type=refresh_token&refresh_token={}", enc(&rt));
    let (_, e) = call(&app, token_fn, &body, Some(&basic())).await;
    assert_eq!(e["error"], "invalid_grant");
    let (_, i) = call(
        &app,
        introspect_fn,
        &format!("token={}", enc(&access)),
        Some(&basic()),
    )
    .await;
    assert_eq!(i["active"], false);
}

#[tokio::test]
async fn pkce_mismatch_other_clients_codes_and_wrong_redirects_are_refused() {
    let (_d, app) = app();
    let (r, _) = code_for(&app, &web_query(""), "jdoe@contoso.com").await;
    let code = query_param(r.location.as_deref().expect("loc"), "code").expect("code");
    let bad = format!(
        "grant_type=authorization_code&code={}&redirect_uri={}&code_verifier={}",
        enc(&code),
        enc(CB),
        VERIFIER.replace('d', "e")
    );
    let (_, e) = call(&app, token_fn, &bad, Some(&basic())).await;
    assert_eq!(e["error"], "invalid_grant");
    // The code was spent by that attempt: the right verifier is too late.
    let (_, e) = redeem(&app, &code).await;
    assert_eq!(e["error"], "invalid_grant");

    // A code issued to the web client, redeemed by the native one.
    let (r, _) = code_for(&app, &web_query(""), "jdoe@contoso.com").await;
    let code = query_param(r.location.as_deref().expect("loc"), "code").expect("code");
    let other = format!(
        "grant_type=authorization_code&client_id={NATIVE}&code={}&redirect_uri={}&code_verifier={VERIFIER}",
        enc(&code),
        enc(CB)
    );
    let (_, e) = call(&app, token_fn, &other, None).await;
    assert_eq!(e["error"], "invalid_grant");

    // Unregistered and prefix-matched redirect URIs: an error page, never a redirect.
    for uri in [
        "https://evil.example.test/cb",
        "https://app.example.test/cb/../evil",
        "https://app.example.test/cbx",
        "https://app.example.test/cb?x=1",
    ] {
        let q = web_query("").replace(&enc(CB), &enc(uri));
        let r = authorize(&app, &q, "").await;
        assert_eq!(r.status, 400, "{uri}");
        assert!(r.location.is_none(), "{uri}");
    }
    let r = authorize(&app, "client_id=nobody&response_type=code", "").await;
    assert_eq!((r.status.as_u16(), r.location.is_none()), (400, true));
    // A repeated parameter: refused before anything else.
    let r = authorize(&app, &web_query("&client_id=web-app"), "").await;
    assert_eq!((r.status.as_u16(), r.location.is_none()), (400, true));
}

#[tokio::test]
async fn a_public_client_must_send_pkce_s256() {
    let (_d, app) = app();
    let base = format!(
        "client_id={NATIVE}&response_type=code&redirect_uri={}&scope=openid&state=s",
        enc(NATIVE_CB)
    );
    let r = authorize(&app, &base, "").await;
    assert_eq!(r.status, 302);
    let loc = r.location.expect("loc");
    assert_eq!(
        query_param(&loc, "error").as_deref(),
        Some("invalid_request")
    );
    assert_eq!(query_param(&loc, "state").as_deref(), Some("s"));
    let plain = format!("{base}&code_challenge={VERIFIER}&code_challenge_method=plain");
    let r = authorize(&app, &plain, "").await;
    assert_eq!(
        query_param(&r.location.expect("loc"), "error").as_deref(),
        Some("invalid_request")
    );
    let s256 = format!("{base}&code_challenge={CHALLENGE}&code_challenge_method=S256");
    let r = authorize(&app, &s256, "").await;
    assert_eq!(r.status, 200, "the sign-in form");
}

#[tokio::test]
async fn sso_prompt_none_and_prompt_login() {
    let (_d, app) = app();
    let r = authorize(&app, &web_query("&prompt=none"), "").await;
    assert_eq!(
        query_param(&r.location.expect("loc"), "error").as_deref(),
        Some("login_required")
    );
    let (_, sso) = code_for(&app, &web_query(""), "jdoe@contoso.com").await;
    assert!(!sso.is_empty());
    let r = authorize(&app, &web_query("&prompt=none"), &sso).await;
    assert!(query_param(r.location.as_deref().expect("loc"), "code").is_some());
    let r = authorize(&app, &web_query("&prompt=login"), &sso).await;
    assert!(r.body.contains("userNameInput"));
    let r = authorize(&app, &web_query("&response_mode=form_post"), &sso).await;
    assert_eq!(r.form_target.as_deref(), Some(CB));
    assert!(!hidden(&r.body, "code").is_empty());
}

#[tokio::test]
async fn ropc_signs_in_by_alternate_id_and_every_failure_reads_the_same() {
    let (_d, app) = app();
    let ok = format!(
        "grant_type=password&username=jdoe%40contoso.com&password={}&scope=openid%20{}",
        enc(DEMO_PW),
        enc(&format!("{API}/user_impersonation"))
    );
    let (s, t) = call(&app, token_fn, &ok, Some(&basic())).await;
    assert_eq!(s, 200, "{t}");
    let at = claims(&app, t["access_token"].as_str().expect("at"));
    assert_eq!(at["aud"], API);
    assert_eq!(at["scp"], "user_impersonation");
    assert_eq!(at["appid"], WEB);
    let wrong = ok.replace(&enc(DEMO_PW), "nope");
    let unknown = wrong.replace("jdoe", "nobody-at-all");
    let (s1, e1) = call(&app, token_fn, &wrong, Some(&basic())).await;
    let (s2, e2) = call(&app, token_fn, &unknown, Some(&basic())).await;
    assert_eq!((s1, s2), (400, 400));
    assert_eq!(e1, e2);
    assert_eq!(e1["error_description"], token::PASSWORD);
}

#[tokio::test]
async fn client_credentials_introspection_and_revocation() {
    let (_d, app) = app();
    let body = format!("grant_type=client_credentials&resource={}", enc(API));
    let (s, t) = call(&app, token_fn, &body, Some(&basic())).await;
    assert_eq!(s, 200, "{t}");
    assert!(t.get("refresh_token").is_none());
    assert_eq!(
        claims(&app, t["access_token"].as_str().expect("at"))["aud"],
        API
    );
    let wrong = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{WEB}:wrong"))
    );
    let (s, e) = call(&app, token_fn, &body, Some(&wrong)).await;
    assert_eq!((s, e["error"].as_str()), (401, Some("invalid_client")));
    // A public client cannot introspect.
    let (s, _) = call(
        &app,
        introspect_fn,
        &format!("client_id={NATIVE}&token=x"),
        None,
    )
    .await;
    assert_eq!(s, 401);

    let (r, _) = code_for(&app, &web_query(""), "jdoe@contoso.com").await;
    let code = query_param(r.location.as_deref().expect("loc"), "code").expect("code");
    let (_, t) = redeem(&app, &code).await;
    let rt = t["refresh_token"].as_str().expect("rt").to_string();
    let (_, i) = call(
        &app,
        introspect_fn,
        &format!("token={}", enc(&rt)),
        Some(&basic()),
    )
    .await;
    assert_eq!(i["active"], true);
    let (s, _) = call(
        &app,
        revoke_fn,
        &format!("token={}", enc(&rt)),
        Some(&basic()),
    )
    .await;
    assert_eq!(s, 200);
    let (_, i) = call(
        &app,
        introspect_fn,
        &format!("token={}", enc(&rt)),
        Some(&basic()),
    )
    .await;
    assert_eq!(i["active"], false);
}

async fn logout(app: &App, query: &str, cookies: &str) -> LsResponse {
    let view = app.oauth().expect("oauth");
    let request = ctx();
    super::logout(&view, &get_request(query, cookies, &request)).await
}

#[tokio::test]
async fn logout_ends_the_session_revokes_its_refresh_tokens_and_never_redirects_openly() {
    let (_d, app) = app();
    let (r, sso) = code_for(&app, &web_query(""), "jdoe@contoso.com").await;
    let code = query_param(r.location.as_deref().expect("loc"), "code").expect("code");
    let (_, t) = redeem(&app, &code).await;
    let id_token = t["id_token"].as_str().expect("id").to_string();
    let rt = t["refresh_token"].as_str().expect("rt").to_string();

    // Open redirect: an unregistered URI is refused and ends nothing.
    let evil = format!(
        "id_token_hint={}&post_logout_redirect_uri={}",
        enc(&id_token),
        enc("https://evil.example.test/")
    );
    let r = logout(&app, &evil, &sso).await;
    assert_eq!((r.status.as_u16(), r.location.is_none()), (400, true));
    // alg=none and HS256 hints are refused.
    let body = id_token.split('.').nth(1).expect("payload");
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let none = format!("{}.{body}.", b64.encode(r#"{"alg":"none","typ":"JWT"}"#));
    let hs = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims(&app, &id_token),
        &jsonwebtoken::EncodingKey::from_secret(app.tokens.signing().expect("k").key.cert_der()),
    )
    .expect("hs256");
    for hint in [none, hs] {
        let r = logout(&app, &format!("id_token_hint={}", enc(&hint)), &sso).await;
        assert_eq!(r.status, 400);
    }
    let r = authorize(&app, &web_query("&prompt=none"), &sso).await;
    assert!(query_param(r.location.as_deref().expect("loc"), "code").is_some());

    let ok = format!(
        "id_token_hint={}&post_logout_redirect_uri={}&state=bye",
        enc(&id_token),
        enc("https://app.example.test/")
    );
    let r = logout(&app, &ok, &sso).await;
    assert_eq!(r.status, 302);
    assert_eq!(
        r.location.as_deref(),
        Some("https://app.example.test/?state=bye")
    );
    let r = authorize(&app, &web_query("&prompt=none"), &sso).await;
    assert_eq!(
        query_param(r.location.as_deref().expect("loc"), "error").as_deref(),
        Some("login_required")
    );
    let body = format!("grant_type=refresh_token&refresh_token={}", enc(&rt));
    let (_, e) = call(&app, token_fn, &body, Some(&basic())).await;
    assert_eq!(e["error"], "invalid_grant");
}

#[tokio::test]
async fn private_key_jwt_assertions_verify_once_and_only_with_rs256_and_the_right_audience() {
    let (_d, app) = app();
    let key = &app.tokens.signing().expect("key").key;
    let now = app.tokens.now().unix_timestamp();
    let assertion = |aud: &str, jti: &str, exp: i64| {
        crate::tokens::jwt::sign(
            key,
            &serde_json::json!({
                "iss": "jwt-app", "sub": "jwt-app", "aud": aud, "jti": jti, "exp": exp, "iat": now,
            }),
        )
        .expect("sign")
    };
    let token_url = "https://sts.example.test/adfs/oauth2/token/";
    let body = |a: &str| {
        format!(
            "grant_type=client_credentials&resource={}&client_assertion_type={}&client_assertion={}",
            enc(API),
            enc("urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
            enc(a)
        )
    };
    let good = assertion(token_url, "jti-1", now + 60);
    let (s, t) = call(&app, token_fn, &body(&good), None).await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(
        claims(&app, t["access_token"].as_str().expect("at"))["sub"],
        "jwt-app"
    );
    // The same assertion again (its jti is spent), another audience, an expired one.
    for a in [
        good,
        assertion("https://evil.example.test/token", "jti-2", now + 60),
        assertion(token_url, "jti-3", now - 3600),
    ] {
        let (s, e) = call(&app, token_fn, &body(&a), None).await;
        assert_eq!(
            (s, e["error"].as_str()),
            (401, Some("invalid_client")),
            "{e}"
        );
    }
    // HS256 keyed with the public certificate: the classic confusion.
    let hs = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &serde_json::json!({ "iss": "jwt-app", "sub": "jwt-app", "aud": token_url, "jti": "jti-4", "exp": now + 60 }),
        &jsonwebtoken::EncodingKey::from_secret(key.cert_der()),
    )
    .expect("hs256");
    let (s, _) = call(&app, token_fn, &body(&hs), None).await;
    assert_eq!(s, 401);
}

#[tokio::test]
async fn a_must_change_user_changes_the_password_inside_the_oauth_flow_and_gets_the_code() {
    let (_d, app) = app();
    let (page, csrf) = code_for_user(&app, &web_query(""), "newhire@contoso.com").await;
    assert!(page.body.contains("name=\"NewPassword\""), "{}", page.body);
    // Every page whose post may end in the redirect lets the browser follow it there.
    assert_eq!(page.form_target.as_deref(), Some(CB));
    let state = hidden(&page.body, "PasswordChangeState");
    let field = hidden(&page.body, "csrf");
    let new = "Changed-Passw0rd!2";
    let body = |confirm: &str| {
        form(&[
            ("PasswordChangeState", &state),
            ("NewPassword", new),
            ("ConfirmNewPassword", confirm),
            ("csrf", &field),
        ])
    };
    let again = post(&app, &body("Something-Else-1"), &csrf).await;
    assert!(again.body.contains("name=\"NewPassword\""));
    assert_eq!(again.form_target.as_deref(), Some(CB));
    let r = post(&app, &body(new), &csrf).await;
    assert_eq!(r.status, 302, "{}", r.body);
    let code = query_param(r.location.as_deref().expect("loc"), "code").expect("code");
    let (status, t) = redeem(&app, &code).await;
    assert_eq!(status, 200, "{t}");
}
