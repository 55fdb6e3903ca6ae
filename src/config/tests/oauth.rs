//! `oauth:`: clients and resources, every problem reported with its path at once (secrets that
//! public clients must not have, grants they cannot use, redirect URIs that could redirect
//! anywhere, scopes and resources nobody declared), and the defaults.

use super::*;

fn secret(dir: &tempfile::TempDir, text: &str) -> String {
    let p = dir.path().join("client.secret");
    std::fs::write(&p, text).expect("secret");
    p.display().to_string()
}

#[test]
fn a_valid_section_gets_its_defaults() {
    let dir = tempfile::tempdir().expect("dir");
    let s = secret(&dir, "0123456789abcdef-secret\n");
    let c = Config::parse(
        &format!(
            "{MINIMAL}oauth:\n  clients:\n    - {{ client_id: app, secret_file: '{s}', redirect_uris: ['https://app.example.test/cb'] }}\n  resources:\n    - {{ identifier: 'https://api.example.test', scopes: [read] }}\n"
        ),
        "t",
    )
    .expect("valid");
    let o = c.oauth.expect("oauth");
    let client = &o.clients[0];
    assert_eq!(client.kind, crate::config::oauth::ClientKind::Confidential);
    assert_eq!(
        client.grants,
        [
            crate::config::oauth::Grant::AuthorizationCode,
            crate::config::oauth::Grant::RefreshToken
        ]
    );
    assert!(client.require_pkce && !client.allow_pkce_plain);
    assert_eq!(client.resources, ["https://api.example.test"]);
    assert_eq!(o.access_token_lifetime.as_secs(), 3600);
    assert_eq!(o.refresh_token_lifetime.as_secs(), 8 * 3600);
    assert_eq!(o.code_lifetime.as_secs(), 60);
    assert!(
        !format!("{:?}", client.credentials).contains("0123456789"),
        "the secret never prints"
    );
}

#[test]
fn every_problem_is_reported_with_its_path() {
    let dir = tempfile::tempdir().expect("dir");
    let s = secret(&dir, "short");
    let text = format!(
        "{MINIMAL}oauth:\n\
         \x20 code_lifetime: 10m\n\
         \x20 clients:\n\
         \x20   - {{ client_id: pub, type: public, secret_file: '{s}', redirect_uris: ['javascript:alert(1)', 'https://x.example.test/cb#frag'], grants: [client_credentials, implicit], scopes: [openid, admin], require_pkce: false }}\n\
         \x20   - {{ client_id: conf, redirect_uris: ['http://app.example.test/cb'], resources: ['https://nowhere.example.test'] }}\n\
         \x20   - {{ client_id: conf, type: trusted, secret_env: ALTGATE_TEST_NO_SUCH_VAR, redirect_uris: ['https://ok.example.test/cb'] }}\n\
         \x20 resources:\n\
         \x20   - {{ identifier: 'https://api.example.test', scopes: ['a/b'] }}\n"
    );
    let found = issues(&text);
    for want in [
        "oauth.code_lifetime: must be between 1s and 1m",
        "oauth.clients[0].secret_file: a public client has no secret",
        "oauth.clients[0].redirect_uris[0]:",
        "oauth.clients[0].redirect_uris[1]:",
        "oauth.clients[0].grants[0]: client_credentials needs a confidential client",
        "oauth.clients[0].grants[1]: \"implicit\" is not one of",
        "oauth.clients[0].scopes[1]: \"admin\" is not one of",
        "oauth.clients[0].require_pkce: a public client always needs PKCE",
        "oauth.clients[1]: a confidential client needs secret_file, secret_env or certificate_file",
        "oauth.clients[1].redirect_uris[0]:",
        "oauth.clients[1].resources[0]: https://nowhere.example.test is not in oauth.resources",
        "oauth.clients[2].client_id: conf is listed twice",
        "oauth.clients[2].type: \"trusted\" is not one of: public, confidential",
        "oauth.clients[2].secret_env: environment variable ALTGATE_TEST_NO_SUCH_VAR",
        "oauth.resources[0].scopes[0]:",
    ] {
        assert!(
            found.iter().any(|f| f.starts_with(want)),
            "missing {want:?} in {found:#?}"
        );
    }
}
