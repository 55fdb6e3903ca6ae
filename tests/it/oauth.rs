//! OAuth 2.0 / OpenID Connect against the real forests, judged by independent clients:
//! Microsoft's MSAL Python (ROPC with the alternate login ID, and the auth-code flow with
//! headless Chromium at the sign-in form), authlib with joserfc verifying every JWT against the
//! published JWKS (discovery, code + PKCE, refresh rotation and reuse, code replay,
//! introspection, revocation, userinfo, end-session, client credentials), ROPC spraying as an
//! attacker would try it, and a farm of two `altgate serve` processes on Redis (a code from one
//! node redeemed at the other; a sign-out at one revoking at the other).

use crate::harness::{self, ForestSpec, TestServer};
use crate::lockout::{lockout_yaml, redis_state, request, session_key_yaml, Endpoint, Node};
use crate::procs;
use serde_json::Value;

const SECRET: &str = "grafana-secret-0123456789abcdef";
const API: &str = "https://api.contoso.com";

/// `oauth:` with a confidential web client, a public native client (both redirecting to
/// loopback ports the client script listens on) and one resource.
pub(crate) fn oauth_yaml(web_port: u16, native_port: u16) -> String {
    let secret = harness::secret_file("oauth-web.secret", SECRET);
    format!(
        "oauth:\n\
         \x20 clients:\n\
         \x20   - {{ client_id: web-app, name: Grafana, type: confidential, secret_file: '{}', redirect_uris: ['http://localhost:{web_port}/callback'], post_logout_redirect_uris: ['http://localhost:{web_port}/signed-out'], grants: [authorization_code, refresh_token, client_credentials, password], scopes: [openid, profile, email, offline_access] }}\n\
         \x20   - {{ client_id: native-app, type: public, redirect_uris: ['http://localhost:{native_port}/callback'], grants: [authorization_code, refresh_token, password] }}\n\
         \x20 resources:\n\
         \x20   - {{ identifier: '{API}', scopes: [user_impersonation] }}\n",
        secret.display()
    )
}

/// Runs `scripts/oidc_client.py <scenario> ...`: exit status and its one JSON object.
async fn oidc(server: &TestServer, scenario: &str, args: &[&str]) -> (i32, Value) {
    let python = tokio::task::spawn_blocking(harness::msal_python)
        .await
        .expect("setup");
    let issuer = format!("{}/adfs", server.base);
    let out = tokio::process::Command::new(python)
        .arg(harness::repo().join("scripts/oidc_client.py"))
        .arg(scenario)
        .args(["--issuer", &issuer])
        .arg("--ca")
        .arg(&server.ca)
        .args(args)
        .output()
        .await
        .expect("run oidc_client.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{e}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap_or(-1), v)
}

fn verified(v: &Value) {
    for k in [
        "verified",
        "tampered_rejected",
        "alg_none_rejected",
        "hs256_rejected",
    ] {
        assert_eq!(v[k], true, "{k}: {v}");
    }
}

async fn server(extra: &str) -> (TestServer, u16, u16) {
    let (web, native) = (harness::free_port(), harness::free_port());
    let specs = [
        ForestSpec::real("contoso.com"),
        ForestSpec::real("fabrikam.com"),
    ];
    let tokens = format!(
        "{}{}{extra}",
        harness::token_yaml(),
        oauth_yaml(web, native)
    );
    let server = TestServer::start_at_host("sts.contoso.com", &specs, &tokens).await;
    (server, web, native)
}

#[tokio::test]
async fn msal_authlib_and_chromium_sign_in_with_the_alternate_id_and_verify_every_token() {
    let _g = harness::shared().await;
    let pw = harness::forests().user_password.clone();
    let (server, web, native) = server("").await;

    let (code, d) = oidc(&server, "discovery", &[]).await;
    assert_eq!(code, 0, "{d}");
    assert_eq!(d["discovery"]["issuer"], format!("{}/adfs", server.base));

    // MSAL's ROPC, with the alternate login ID (the mail of a user whose UPN is elsewhere).
    let scope = format!("{API}/user_impersonation");
    let base = [
        "--client-id",
        "native-app",
        "--scope",
        scope.as_str(),
        "--access-token-aud",
        API,
    ];
    let mut ok = base.to_vec();
    ok.extend(["--username", "jdoe@contoso.com", "--password", &pw]);
    let (code, r) = oidc(&server, "msal-ropc", &ok).await;
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["id_token_claims"]["upn"], "jdoe@contoso.com", "{r}");
    assert_eq!(r["refresh_token_returned"], true, "{r}");
    verified(&r["id_token"]);
    verified(&r["access_token"]);
    assert_eq!(r["access_token"]["claims"]["aud"], API);
    assert_eq!(r["access_token"]["claims"]["scp"], "user_impersonation");

    // A wrong password and an unknown user: the same invalid_grant, word for word.
    let mut descriptions = Vec::new();
    for user in ["jdoe@contoso.com", "nobody-here@contoso.com"] {
        let mut bad = base.to_vec();
        bad.extend([
            "--username",
            user,
            "--password",
            "Wrong-Password-1",
            "--expect-error",
            "invalid_grant",
        ]);
        let (code, r) = oidc(&server, "msal-ropc", &bad).await;
        assert_eq!(code, 0, "{r}");
        descriptions.push(r["error_description"].clone());
    }
    assert_eq!(descriptions[0], descriptions[1]);

    // authlib: code + PKCE through the form in Chromium, refresh, reuse, SSO, introspection,
    // revocation, replay, logout.
    let redirect = format!("http://localhost:{web}/callback");
    let post_logout = format!("http://localhost:{web}/signed-out");
    let (code, r) = oidc(
        &server,
        "code-flow",
        &[
            "--client-id",
            "web-app",
            "--client-secret",
            SECRET,
            "--redirect-uri",
            &redirect,
            "--username",
            "jdoe@contoso.com",
            "--password",
            &pw,
            "--scope",
            "openid profile email offline_access",
            "--post-logout-redirect-uri",
            &post_logout,
        ],
    )
    .await;
    assert_eq!(code, 0, "{r}");
    verified(&r["id_token"]);
    assert_eq!(
        r["id_token"]["claims"]["preferred_username"], "jdoe@contoso.com",
        "{r}"
    );
    assert_eq!(r["userinfo"]["body"]["email"], "jdoe@contoso.com", "{r}");
    assert_eq!(r["sso_second_authorize"]["form_shown"], false, "{r}");
    assert_eq!(r["reuse"]["newest_token"]["error"], "invalid_grant", "{r}");
    assert_eq!(r["replay"]["error"], "invalid_grant", "{r}");
    assert_eq!(r["logout"]["landed_on_post_logout_uri"], true, "{r}");
    assert_eq!(r["logout"]["form_shown_after_logout"], true, "{r}");
    assert_eq!(r["failures"], serde_json::json!([]));
    assert_eq!(r["ok"], true);

    let (code, r) = oidc(
        &server,
        "client-credentials",
        &[
            "--client-id",
            "web-app",
            "--client-secret",
            SECRET,
            "--resource",
            API,
        ],
    )
    .await;
    assert_eq!(code, 0, "{r}");
    verified(&r["access_token"]);
    assert_eq!(r["introspect"]["active"], true, "{r}");

    // MSAL's auth-code flow (public client, PKCE) through Chromium, by the alternate ID of the
    // other forest.
    let native_redirect = format!("http://localhost:{native}/callback");
    let (code, r) = oidc(
        &server,
        "msal-code-flow",
        &[
            "--client-id",
            "native-app",
            "--redirect-uri",
            &native_redirect,
            "--username",
            "fuser@fabrikam.com",
            "--password",
            &pw,
            "--scope",
            &scope,
        ],
    )
    .await;
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["id_token_claims"]["upn"], "fuser@fabrikam.com", "{r}");
    verified(&r["id_token"]);
}

fn form(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in fields {
        s.append_pair(k, v);
    }
    s.finish().into_bytes()
}

async fn token(to: &Endpoint, body: Vec<u8>) -> (u16, String) {
    let (status, _, body) = request(
        to,
        "POST",
        "/adfs/oauth2/token/",
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("x-forwarded-for", "203.0.113.77"),
        ],
        body,
    )
    .await;
    (status, body)
}

#[tokio::test]
async fn ropc_spraying_locks_out_like_wstrust_with_one_answer_for_every_failure() {
    let _g = harness::shared().await;
    let pw = harness::forests().user_password.clone();
    let (web, native) = (harness::free_port(), harness::free_port());
    // Behind a trusted load balancer, from an extranet address (lockout is for the extranet).
    let server = TestServer::start_with_server(
        "trusted_proxies: ['127.0.0.1/32']",
        "",
        &format!(
            "{}{}",
            oauth_yaml(web, native),
            lockout_yaml("enforce", 3, "")
        ),
    )
    .await;
    let to = Endpoint::from(&server);
    let ropc = |user: &str, password: &str| {
        form(&[
            ("grant_type", "password"),
            ("client_id", "native-app"),
            ("username", user),
            ("password", password),
            ("scope", "openid"),
        ])
    };
    let (_, unknown) = token(&to, ropc("nobody-here@contoso.com", "Wrong-1")).await;
    let mut bodies = vec![unknown];
    for _ in 0..4 {
        let (status, body) = token(&to, ropc("jdoe@contoso.com", "Wrong-Password-1")).await;
        assert_eq!(status, 400);
        bodies.push(body);
    }
    // Locked out (three bad passwords): the right password gets the same answer.
    let (status, locked) = token(&to, ropc("jdoe@contoso.com", &pw)).await;
    assert_eq!(status, 400);
    bodies.push(locked);
    assert!(
        bodies.iter().all(|b| b == &bodies[0]),
        "byte-identical answers: {bodies:?}"
    );
    assert!(bodies[0].contains("MSIS9659"), "{}", bodies[0]);
    let metrics = server.scrape().await;
    let locked_out = crate::kit::config::sample(
        &metrics,
        "altgate_sign_in_failures_total{reason=\"extranet_lockout\"}",
    );
    assert!(
        locked_out.unwrap_or(0.0) >= 1.0,
        "the lockout refusals are counted as such: {locked_out:?}"
    );
    // Oversized and repeated parameters: refused before any sign-in.
    let big = "x".repeat(9000);
    let (status, body) = token(&to, ropc("jdoe@contoso.com", &big)).await;
    assert_eq!(status, 400, "{body}");
    let mut twice = ropc("jdoe@contoso.com", &pw);
    twice.extend_from_slice(b"&password=again");
    let (status, body) = token(&to, twice).await;
    assert_eq!(status, 400);
    assert!(body.contains("invalid_request"), "{body}");
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

fn param(url: &str, name: &str) -> Option<String> {
    let q = url.split_once('?')?.1;
    form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn hidden(html: &str, name: &str) -> String {
    crate::kit::html::hidden(html, name).unwrap_or_default()
}

#[tokio::test]
async fn a_code_from_one_node_redeems_at_the_other_and_a_sign_out_revokes_on_both() {
    let _g = harness::shared().await;
    let pw = harness::forests().user_password.clone();
    let (web, native) = (harness::free_port(), harness::free_port());
    let shared = format!(
        "{}{}{}",
        redis_state(procs::redis(), &procs::key_prefix("oauth-farm"), ""),
        session_key_yaml("oauth-farm-session.key"),
        oauth_yaml(web, native)
    );
    let (a, b) = (
        Node::start("oauth-a", &shared).await,
        Node::start("oauth-b", &shared).await,
    );
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let redirect = format!("http://localhost:{web}/callback");
    let q = form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", "web-app")
        .append_pair("response_type", "code")
        .append_pair("redirect_uri", &redirect)
        .append_pair("scope", "openid offline_access")
        .append_pair("state", "farm")
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256")
        .finish();
    let (status, headers, page) = request(
        &a.https,
        "GET",
        &format!("/adfs/oauth2/authorize/?{q}"),
        &[],
        Vec::new(),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    let csrf = header(&headers, "set-cookie")
        .split(';')
        .next()
        .unwrap_or_default()
        .to_string();
    let body = form(&[
        ("UserName", "jdoe@contoso.com"),
        ("Password", &pw),
        ("AuthMethod", "FormsAuthentication"),
        ("csrf", &hidden(&page, "csrf")),
        ("ctx", &hidden(&page, "ctx")),
    ]);
    let (status, headers, body) = request(
        &a.https,
        "POST",
        "/adfs/ls/",
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("cookie", &csrf),
        ],
        body,
    )
    .await;
    assert_eq!(status, 302, "{body}");
    let location = header(&headers, "location").to_string();
    assert!(location.starts_with(&redirect), "{location}");
    let code = param(&location, "code").expect("code");
    let sso: Vec<String> = headers
        .iter()
        .filter(|(k, v)| k == "set-cookie" && v.starts_with("__Host-altgate-sso"))
        .filter_map(|(_, v)| v.split(';').next().map(str::to_string))
        .collect();
    assert!(!sso.is_empty(), "{headers:?}");

    let redeem_form = |code: &str| {
        form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &redirect),
            ("code_verifier", verifier),
            ("client_id", "web-app"),
            ("client_secret", SECRET),
        ])
    };
    let redeem = redeem_form(&code);
    // Node B redeems node A's code; node A then refuses it as a replay.
    let (status, body) = token(&b.https, redeem.clone()).await;
    assert_eq!(status, 200, "{body}");
    let tokens: Value = serde_json::from_str(&body).expect("json");
    let refresh = tokens["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_string();
    let (status, body) = token(&a.https, redeem).await;
    assert_eq!(status, 400);
    assert!(body.contains("invalid_grant"), "{body}");
    // The replay revoked what the code issued, on every node.
    let refresh_at = |refresh: &str| {
        form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", "web-app"),
            ("client_secret", SECRET),
        ])
    };
    let (status, _) = token(&b.https, refresh_at(&refresh)).await;
    assert_eq!(status, 400, "refresh after the replay");

    // A fresh code under the same SSO session (no form), redeemed at B; sign-out at A.
    let cookie = sso.join("; ");
    let (status, headers, _) = request(
        &a.https,
        "GET",
        &format!("/adfs/oauth2/authorize/?{q}"),
        &[("cookie", &cookie)],
        Vec::new(),
    )
    .await;
    assert_eq!(status, 302);
    let code = param(header(&headers, "location"), "code").expect("SSO code");
    let (status, body) = token(&b.https, redeem_form(&code)).await;
    assert_eq!(status, 200, "{body}");
    let tokens: Value = serde_json::from_str(&body).expect("json");
    let refresh = tokens["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_string();
    let (status, body) = token(&b.https, refresh_at(&refresh)).await;
    assert_eq!(status, 200, "a refresh before the sign-out: {body}");
    let rotated: Value = serde_json::from_str(&body).expect("json");
    let refresh = rotated["refresh_token"]
        .as_str()
        .expect("rotated")
        .to_string();

    let (status, _, _) = request(
        &a.https,
        "GET",
        "/adfs/oauth2/logout",
        &[("cookie", &cookie)],
        Vec::new(),
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = token(&b.https, refresh_at(&refresh)).await;
    assert_eq!(
        status, 400,
        "node B refuses after the sign-out at A: {body}"
    );
    assert!(body.contains("invalid_grant"), "{body}");
}

#[tokio::test]
async fn redirect_and_hint_attacks_through_the_load_balancer_are_refused_without_a_redirect() {
    let _g = harness::shared().await;
    let (web, native) = (harness::free_port(), harness::free_port());
    let server = TestServer::start_with_server(
        "trusted_proxies: ['127.0.0.1/32']",
        "",
        &oauth_yaml(web, native),
    )
    .await;
    let to = Endpoint::from(&server);
    let xff = [("x-forwarded-for", "203.0.113.9")];
    let registered = format!("http://localhost:{web}/callback");
    let authorize = |redirect: &str, extra: &str| {
        let q = form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", "web-app")
            .append_pair("response_type", "code")
            .append_pair("redirect_uri", redirect)
            .append_pair("scope", "openid")
            .append_pair(
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            )
            .append_pair("code_challenge_method", "S256")
            .finish();
        format!("/adfs/oauth2/authorize/?{q}{extra}")
    };
    // Prefix, suffix, path and host tricks on the registered URI: an error page, no Location.
    for evil in [
        format!("{registered}/../../evil"),
        format!("{registered}x"),
        format!("{registered}?next=https://evil.example"),
        format!("http://localhost:{web}.evil.example/callback"),
        format!("http://localhost:{web}@evil.example/callback"),
        "https://evil.example/callback".to_string(),
    ] {
        let (status, headers, _) =
            request(&to, "GET", &authorize(&evil, ""), &xff, Vec::new()).await;
        assert_eq!(status, 400, "{evil}");
        assert!(header(&headers, "location").is_empty(), "{evil}");
    }
    // The registered URI with a bad parameter: the error goes back to it, with state.
    let (status, headers, _) = request(
        &to,
        "GET",
        &authorize(&registered, "&response_type=token"),
        &xff,
        Vec::new(),
    )
    .await;
    assert_eq!(status, 400, "a repeated parameter is refused outright");
    assert!(header(&headers, "location").is_empty());
    let (status, headers, _) = request(
        &to,
        "GET",
        &authorize(&registered, "&state=s1&prompt=none"),
        &xff,
        Vec::new(),
    )
    .await;
    assert_eq!(status, 302);
    let location = header(&headers, "location");
    assert!(location.starts_with(&registered), "{location}");
    assert_eq!(param(location, "error").as_deref(), Some("login_required"));
    assert_eq!(param(location, "state").as_deref(), Some("s1"));

    // End-session: an unregistered return URI and forged hints end nothing and go nowhere.
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let payload = b64.encode(r#"{"iss":"x","aud":"web-app","sid":"s"}"#);
    let none = format!("{}.{payload}.", b64.encode(r#"{"alg":"none"}"#));
    let hs256 = format!(
        "{}.{payload}.AAAA",
        b64.encode(r#"{"alg":"HS256","typ":"JWT"}"#)
    );
    for (hint, uri) in [
        ("", "https://evil.example/"),
        (none.as_str(), ""),
        (hs256.as_str(), ""),
    ] {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("client_id", "web-app");
        if !hint.is_empty() {
            q.append_pair("id_token_hint", hint);
        }
        if !uri.is_empty() {
            q.append_pair("post_logout_redirect_uri", uri);
        }
        let path = format!("/adfs/oauth2/logout?{}", q.finish());
        let (status, headers, _) = request(&to, "GET", &path, &xff, Vec::new()).await;
        assert_eq!(status, 400, "{path}");
        assert!(header(&headers, "location").is_empty(), "{path}");
    }
    // A body larger than the server's limit is refused before it is read.
    let big = vec![b'a'; 2 * 1024 * 1024];
    let (status, _) = token(&to, big).await;
    assert_eq!(status, 413);
}
