//! What an unsigned request may cost and do: IsPassive AuthnRequests and LogoutRequests are
//! answered without an RSA signature (counted on the signing key), an unsigned LogoutRequest ends
//! no session unless its relying party accepts unsigned ones, WS-Federation and IdP-initiated
//! sign-on cannot reach a relying party that requires signed requests, and a full replay cache
//! refuses new request IDs instead of forgetting old ones.

use super::signed::{
    assert_refused, now, redirect_value, refused_for, saml_xml, signed_query, FIXTURE_CRT,
    FIXTURE_KEY, SIGNED_RP,
};
use super::*;
use crate::state::{StateError, StateStore};

/// An SP that accepts unsigned LogoutRequests, signs some with the fixture key, and wants its
/// responses signed (`sign: both`).
const OPEN_RP: &str = "https://open.example.test/metadata";

/// The demo app with: the SAML SP of `app()` (no certificate: its LogoutRequests must be signed,
/// the default, so none is accepted), [`OPEN_RP`], and [`SIGNED_RP`] (requires signed requests);
/// IdP-initiated sign-on on.
fn costs_app() -> Arc<App> {
    let yaml = format!(
        "server: {{ listen: 127.0.0.1:0, public_url: https://sts.example.test }}\n\
         alternate_login_id: {{ attribute: mail, lookup_forests: [contoso.com, fabrikam.com] }}\n\
         demo_directory: config/demo-directory.yaml\n\
         forests: [{{ name: contoso.com }}, {{ name: fabrikam.com }}]\n\
         token_signing: {{ cert_file: {FIXTURE_CRT}, key_file: {FIXTURE_KEY} }}\n\
         passive: {{ idp_initiated_sign_on: true }}\n\
         relying_parties:\n\
         \x20 - {{ identifier: '{WSFED_RP}', token_type: saml11, reply_urls: ['https://rp.example.test/wsfed'] }}\n\
         \x20 - {{ identifier: '{SAML_RP}', token_type: saml20, sign: both, reply_urls: ['https://sp.example.test/acs'], logout_url: 'https://sp.example.test/slo' }}\n\
         \x20 - {{ identifier: '{OPEN_RP}', token_type: saml20, sign: both, reply_urls: ['https://open.example.test/acs'], logout_url: 'https://open.example.test/slo', logout_requests: accept_unsigned, signing_cert_file: {FIXTURE_CRT} }}\n\
         \x20 - {{ identifier: '{SIGNED_RP}', token_type: saml20, reply_urls: ['https://signed.example.test/acs'], logout_url: 'https://signed.example.test/slo', require_signed_requests: true, signing_cert_file: {FIXTURE_CRT} }}\n"
    );
    App::new(Config::parse(&yaml, "test").expect("config")).expect("app")
}

/// RSA signatures the app's token-signing key has made so far.
fn signatures(app: &App) -> u64 {
    app.tokens.signing().expect("signing key").key.signatures()
}

/// An unsigned HTTP-Redirect AuthnRequest from `issuer` asking for `acs`, with `extra`
/// attributes.
fn authn(id: &str, issuer: &str, acs: &str, extra: &str) -> String {
    let t = now()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("t");
    let xml = format!(
        "<samlp:AuthnRequest xmlns:samlp=\"{SAMLP}\" xmlns:saml=\"{SAML2}\" ID=\"{id}\" Version=\"2.0\" IssueInstant=\"{t}\" AssertionConsumerServiceURL=\"{acs}\"{extra}><saml:Issuer>{issuer}</saml:Issuer></samlp:AuthnRequest>"
    );
    format!("SAMLRequest={}&RelayState=rs", redirect_value(&xml))
}

/// An unsigned HTTP-Redirect LogoutRequest from `issuer`.
fn logout(id: &str, issuer: &str) -> String {
    format!(
        "SAMLRequest={}&RelayState=lo",
        redirect_value(&saml_xml("LogoutRequest", id, issuer, now()))
    )
}

/// The SAML message an auto-post page carries.
/// A browser GET of `/adfs/ls/?{query}` with the SSO cookie `sso`, through `view`.
async fn sso_get_via(view: &Passive<'_>, query: &str, sso: &str) -> LsResponse {
    handle(
        view,
        &LsRequest {
            post: false,
            raw_query: query,
            body: b"",
            cookie_header: Some(sso),
            accept_language: None,
            request: &crate::request::RequestContext::local(ip(), "test-activity"),
            idp_initiated: false,
            authorization: None,
            user_agent: None,
        },
    )
    .await
}

fn posted_xml(r: &LsResponse) -> String {
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(hidden(&r.body, "SAMLResponse"))
            .expect("b64"),
    )
    .expect("utf-8")
}

/// Signs `jdoe` in through WS-Federation: the SSO cookie.
async fn session(app: &App) -> String {
    let q = format!("wa=wsignin1.0&wtrealm={}", enc(WSFED_RP));
    let (r, _) = sign_in_with(app, &q, "jdoe@contoso.com", DEMO_PW).await;
    assert_eq!(r.status, 200, "{}", r.body);
    cookie_pair(&r, COOKIE)
}

/// Whether `sso` still signs the browser in to the WS-Fed relying party without the form.
async fn still_signed_in(app: &App, sso: &str) -> bool {
    let q = format!("wa=wsignin1.0&wtrealm={}", enc(WSFED_RP));
    let r = get(app, &q, sso).await;
    assert_eq!(r.status, 200, "{}", r.body);
    !r.body.contains("userNameInput")
}

fn clears_the_session(r: &LsResponse) -> bool {
    r.set_cookies
        .iter()
        .any(|c| c.starts_with(&format!("{COOKIE}=;")))
}

#[tokio::test]
async fn is_passive_and_logout_request_floods_cost_no_rsa_signature() {
    let app = costs_app();
    let before = signatures(&app);
    for i in 0..100 {
        // IsPassive without a session, to an SP that wants signed responses: NoPassive, unsigned.
        let q = authn(
            &format!("_passive{i}"),
            SAML_RP,
            "https://sp.example.test/acs",
            " IsPassive=\"true\"",
        );
        let r = get(&app, &q, "").await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            r.form_target.as_deref(),
            Some("https://sp.example.test/acs")
        );
        let xml = posted_xml(&r);
        assert!(xml.contains("status:NoPassive"), "{xml}");
        assert!(
            xml.contains(&format!("InResponseTo=\"_passive{i}\"")),
            "{xml}"
        );
        assert!(!xml.contains("Signature"), "{xml}");

        // An unsigned LogoutRequest the SP may send: an unsigned LogoutResponse.
        let r = get(&app, &logout(&format!("_open{i}"), OPEN_RP), "").await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            r.form_target.as_deref(),
            Some("https://open.example.test/slo")
        );
        let xml = posted_xml(&r);
        assert!(xml.starts_with("<samlp:LogoutResponse"), "{xml}");
        assert!(!xml.contains("Signature"), "{xml}");

        // Unsigned where signatures are required: refused, nothing signed either.
        for issuer in [SAML_RP, SIGNED_RP] {
            assert_refused(
                &get(&app, &logout(&format!("_lo{i}"), issuer), "").await,
                issuer,
            );
        }
    }
    assert_eq!(
        signatures(&app) - before,
        0,
        "400 unauthenticated requests made RSA signatures"
    );
    assert!(app
        .metrics
        .render()
        .contains("altgate_passive_requests_total{outcome=\"no_passive\",protocol=\"saml\"} 100"));
    assert!(refused_for(&app, "saml_signature"));
}

#[tokio::test]
async fn an_unsigned_logout_request_ends_no_session_unless_its_sp_accepts_unsigned_ones() {
    let app = costs_app();
    let sso = session(&app).await;

    // From an SP whose LogoutRequests must be signed (the default; this one has no certificate,
    // so it can never sign), and from one that requires signed requests: refused, the cookie
    // kept, the session alive on the next request.
    for issuer in [SAML_RP, SIGNED_RP] {
        let r = get(&app, &logout("_forged", issuer), &sso).await;
        assert_refused(&r, issuer);
        assert!(!clears_the_session(&r));
        assert!(
            still_signed_in(&app, &sso).await,
            "{issuer} ended the session"
        );
    }
    // Carrying a signature that does not verify is no better, even where unsigned is accepted.
    let genuine = signed_query(&saml_xml("LogoutRequest", "_sig", OPEN_RP, now()), "lo");
    let (_, signature) = genuine.rsplit_once("&SigAlg=").expect("signed");
    let forged = format!(
        "SAMLRequest={}&RelayState=lo&SigAlg={signature}",
        redirect_value(&saml_xml("LogoutRequest", "_bad", OPEN_RP, now()))
    );
    let r = get(&app, &forged, &sso).await;
    assert_refused(&r, "the signature of another request");
    assert!(still_signed_in(&app, &sso).await);
    assert!(refused_for(&app, "saml_signature"));

    // The SP that accepts unsigned LogoutRequests: the session ends (here and farm-wide), with
    // an unsigned LogoutResponse.
    let before = signatures(&app);
    let r = get(&app, &logout("_open", OPEN_RP), &sso).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(clears_the_session(&r));
    assert!(!posted_xml(&r).contains("Signature"));
    assert!(!still_signed_in(&app, &sso).await, "the session ended");
    assert_eq!(signatures(&app), before);

    // The same SP's signed LogoutRequest gets a signed LogoutResponse (one signature), once.
    let sso = session(&app).await;
    let before = signatures(&app);
    let r = get(&app, &genuine, &sso).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(clears_the_session(&r));
    assert!(posted_xml(&r).contains("<ds:SignatureValue>"));
    assert_eq!(signatures(&app), before + 1);
    assert_refused(
        &get(&app, &genuine, "").await,
        "a replayed signed LogoutRequest",
    );
    assert_eq!(signatures(&app), before + 1);
}

#[tokio::test]
async fn wsfed_and_idp_initiated_sign_on_cannot_reach_a_relying_party_that_requires_signed_requests(
) {
    let app = costs_app();
    let sso = session(&app).await;
    let wsfed = format!("wa=wsignin1.0&wtrealm={}", enc(SIGNED_RP));
    // Without a session, with one (no token from SSO either), through the form's context.
    for cookies in ["", sso.as_str()] {
        let r = get(&app, &wsfed, cookies).await;
        assert_refused(&r, &format!("WS-Fed with cookies {cookies:?}"));
    }
    let ctx = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("get\n{wsfed}"));
    let body = form(&[
        ("UserName", "jdoe@contoso.com"),
        ("Password", DEMO_PW),
        ("csrf", "t"),
        ("ctx", &ctx),
    ]);
    let r = post(&app, &body, &format!("{CSRF_COOKIE}=t")).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(!r.body.contains("wresult") && !r.body.contains("SAMLResponse"));

    let idp = |cookies: &'static str| {
        let app = Arc::clone(&app);
        async move {
            handle(
                &app.passive(),
                &LsRequest {
                    post: false,
                    raw_query: &format!("loginToRp={}", enc(SIGNED_RP)),
                    body: b"",
                    cookie_header: Some(cookies),
                    accept_language: None,
                    request: &crate::request::RequestContext::local(ip(), "test-activity"),
                    idp_initiated: true,
                    authorization: None,
                    user_agent: None,
                },
            )
            .await
        }
    };
    assert_refused(&idp("").await, "IdP-initiated");
    let m = app.metrics.render();
    for protocol in ["wsfed", "idp_initiated"] {
        assert!(
            m.contains(&format!(
                "altgate_token_failures_total{{protocol=\"{protocol}\",reason=\"signed_requests_required\",relying_party=\"{SIGNED_RP}\"}}"
            )),
            "{protocol}: {m}"
        );
    }
    assert!(m.contains(&format!(
        "altgate_tokens_issued_total{{protocol=\"wsfed\",relying_party=\"{SIGNED_RP}\"}} 0"
    )));

    // Its signed AuthnRequests still work, and other relying parties keep WS-Fed and IdP-initiated.
    let signed = signed_query(&saml_xml("AuthnRequest", "_ok", SIGNED_RP, now()), "rs");
    let r = get(&app, &signed, &sso).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(posted_xml(&r).contains("InResponseTo=\"_ok\""));
    assert!(still_signed_in(&app, &sso).await);
}

#[tokio::test]
async fn a_full_replay_cache_refuses_new_saml_request_ids_and_forgets_none() {
    let app = costs_app();
    let sso = session(&app).await;
    let store = crate::state::memory::MemoryStore::new().with_replay_max(3);
    let view = Passive {
        state: &store,
        ..app.passive()
    };
    let sso_get = |q: String| {
        let view = &view;
        let sso = sso.clone();
        async move { sso_get_via(view, &q, &sso).await }
    };
    let acs = "https://sp.example.test/acs";
    for i in 0..3 {
        let r = sso_get(authn(&format!("_fill{i}"), SAML_RP, acs, "")).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(posted_xml(&r).contains("status:Success"));
    }
    let before = signatures(&app);
    let r = sso_get(authn("_new", SAML_RP, acs, "")).await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(r.form_target.is_none());
    assert_eq!(
        signatures(&app),
        before,
        "nothing signed for a refused request"
    );
    assert!(refused_for(&app, "replay_cache_full"));
    // Nothing was forgotten to make room: the answered requests are still replays, here and in
    // the store.
    let replayed = sso_get(authn("_fill0", SAML_RP, acs, "")).await;
    assert_eq!(replayed.status, 400, "{}", replayed.body);
    assert!(!store
        .first_use("saml-request:_fill1", std::time::Duration::from_secs(60))
        .await
        .expect("held"));
    // WS-Federation keeps working (it has no request ID to remember).
    let q = format!("wa=wsignin1.0&wtrealm={}", enc(WSFED_RP));
    let r = sso_get(q).await;
    assert!(hidden(&r.body, "wresult").contains("Assertion"));
    // The refused request was not noted as answered: it is refused as full, not as a replay.
    let again = sso_get(authn("_new", SAML_RP, acs, "")).await;
    assert_eq!(again.status, 503);
}

/// A state store that never answers, except (with `revocations: true`) the revocation check.
struct Down {
    revocations: bool,
}

#[async_trait::async_trait]
impl StateStore for Down {
    fn backend(&self) -> &'static str {
        "memory"
    }
    async fn attempt(
        &self,
        _: &str,
        _: &[IpAddr],
        _: std::time::SystemTime,
        _: &crate::state::LockoutPolicy,
    ) -> Result<crate::state::AttemptDecision, StateError> {
        Err(down())
    }
    async fn succeeded(
        &self,
        _: &str,
        _: crate::state::LocationClass,
        _: &[IpAddr],
        _: std::time::SystemTime,
        _: &crate::state::LockoutPolicy,
    ) -> Result<(), StateError> {
        Err(down())
    }
    async fn not_counted(&self, _: &str, _: &crate::state::Counted) -> Result<(), StateError> {
        Err(down())
    }
    async fn status(
        &self,
        _: &str,
        _: std::time::SystemTime,
        _: &crate::state::LockoutPolicy,
    ) -> Result<crate::state::AccountActivity, StateError> {
        Err(down())
    }
    async fn reset(&self, _: &str, _: crate::state::ResetScope) -> Result<(), StateError> {
        Err(down())
    }
    async fn set_familiar(
        &self,
        _: &str,
        _: &[std::net::IpAddr],
        _: &[std::net::IpAddr],
        _: std::time::SystemTime,
        _: &crate::state::LockoutPolicy,
    ) -> Result<(), StateError> {
        Err(down())
    }
    async fn first_use(&self, _: &str, _: std::time::Duration) -> Result<bool, StateError> {
        Err(down())
    }
    async fn revoke(&self, _: &str, _: std::time::Duration) -> Result<(), StateError> {
        Err(down())
    }
    async fn is_revoked(&self, _: &str) -> Result<bool, StateError> {
        if self.revocations {
            Ok(false)
        } else {
            Err(down())
        }
    }
    async fn put_code(&self, _: &str, _: &str, _: std::time::Duration) -> Result<(), StateError> {
        Err(down())
    }
    async fn redeem_code(&self, _: &str) -> Result<crate::state::Redeemed, StateError> {
        Err(down())
    }
    async fn put_family(
        &self,
        _: &str,
        _: &str,
        _: &str,
        _: std::time::Duration,
    ) -> Result<(), StateError> {
        Err(down())
    }
    async fn rotate_refresh(
        &self,
        _: &str,
        _: &str,
        _: &str,
    ) -> Result<crate::state::Rotation, StateError> {
        Err(down())
    }
    async fn read_family(&self, _: &str) -> Result<Option<(String, String)>, StateError> {
        Err(down())
    }
    async fn revoke_family(&self, _: &str) -> Result<bool, StateError> {
        Err(down())
    }
    async fn ping(&self) -> Result<(), StateError> {
        Err(down())
    }
}

fn down() -> StateError {
    StateError::Unavailable("down".into())
}

#[tokio::test]
async fn with_the_store_down_and_fail_open_a_full_node_memory_refuses_rather_than_forgets() {
    let app = costs_app();
    let sso = session(&app).await;
    let local = crate::state::memory::LocalReplay::new(2, std::time::Duration::from_secs(900));
    // The revocation check answers (a session is reused); the replay cache does not.
    let state = Down { revocations: true };
    let view = Passive {
        state: &state,
        answered_requests: &local,
        on_unavailable: crate::config::state::OnUnavailable::FailOpen,
        ..app.passive()
    };
    let acs = "https://sp.example.test/acs";
    let mut statuses = Vec::new();
    for id in ["_a", "_b", "_c", "_a"] {
        let r = sso_get_via(&view, &authn(id, SAML_RP, acs, ""), &sso).await;
        statuses.push(r.status.as_u16());
    }
    // Two answered from this node's memory, the third refused as full, the first a replay.
    assert_eq!(statuses, [200, 200, 503, 400]);
    assert!(refused_for(&app, "replay_cache_full"));
}

#[tokio::test]
async fn with_the_store_down_and_fail_open_a_session_is_not_reused_but_kept() {
    let app = costs_app();
    let sso = session(&app).await;
    let state = Down { revocations: false };
    let view = Passive {
        state: &state,
        on_unavailable: crate::config::state::OnUnavailable::FailOpen,
        ..app.passive()
    };
    let q = format!("wa=wsignin1.0&wtrealm={}", enc(WSFED_RP));
    let r = sso_get_via(&view, &q, &sso).await;
    // Revocation fails closed: the form, no token, and the cookie is not cleared (nothing says
    // the session is over).
    assert_eq!(r.status.as_u16(), 200);
    assert!(
        !r.body.contains("wresult"),
        "no token without the revocation check"
    );
    assert!(r.body.contains("name=\"Password\"") || r.body.contains("password"));
    assert!(
        !r.set_cookies.iter().any(|c| c.contains("Max-Age=0")),
        "{:?}",
        r.set_cookies
    );
}
