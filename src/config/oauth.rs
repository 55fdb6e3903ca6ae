//! `oauth:`: the OAuth 2.0 / OpenID Connect clients (AD FS application groups: native and
//! server applications) and the resources (AD FS Web API applications) tokens are issued for
//! at `/adfs/oauth2/`, and the lifetimes of what is issued.

use super::secret_source::SecretKeys;
use super::{Checked, CheckedList, ClaimKind, Document, HumanDuration, Validator};
use super::{DAY, HOUR, MINUTE, SECOND};
use crate::secret::Secret;
use serde::Deserialize;
use std::path::Path;
use std::time::Duration;

/// Longest access token and ID token lifetime (`oauth.access_token_lifetime`).
pub const MAX_ACCESS_TOKEN_LIFETIME: Duration = DAY;
/// Longest refresh token lifetime (`oauth.refresh_token_lifetime`).
pub const MAX_REFRESH_TOKEN_LIFETIME: Duration = Duration::from_secs(90 * 86_400);
/// Longest authorization code lifetime (`oauth.code_lifetime`): RFC 6749 §4.1.2 recommends ten
/// minutes at most; a code is redeemed within seconds by a working client.
pub const MAX_CODE_LIFETIME: Duration = Duration::from_secs(60);

/// `oauth:` as written.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawOAuth {
    /// The clients (application groups' native and server applications).
    pub clients: Option<Checked<Vec<serde_yaml::Value>>>,
    /// The resources (Web APIs) access tokens are issued for.
    pub resources: Option<Checked<Vec<serde_yaml::Value>>>,
    /// Access token and ID token lifetime (default 1h, 5m–1 day).
    pub access_token_lifetime: Option<Checked<HumanDuration>>,
    /// Refresh token lifetime from the sign-in (default 8h, AD FS's; 1m–90 days). Refreshing
    /// rotates the token but does not extend its family's lifetime.
    pub refresh_token_lifetime: Option<Checked<HumanDuration>>,
    /// Authorization code lifetime (default 60s, 1s–60s).
    pub code_lifetime: Option<Checked<HumanDuration>>,
}

/// `oauth.clients[]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClient {
    /// The client identifier (AD FS: a GUID; any string without spaces is accepted).
    pub client_id: Option<Checked<String>>,
    /// A display name (logs, the consent-free sign-in page title).
    pub name: Option<Checked<String>>,
    /// `public` (native apps, SPAs: no secret, PKCE S256 required) or `confidential`.
    #[serde(rename = "type")]
    pub kind: Option<Checked<String>>,
    /// The client secret, from a file (confidential clients).
    pub secret_file: Option<Checked<String>>,
    /// The client secret, from an environment variable (confidential clients).
    pub secret_env: Option<Checked<String>>,
    /// A PEM certificate whose key signs the client's `private_key_jwt` assertions
    /// (confidential clients; AD FS "Register a key used to sign JSON Web Tokens").
    pub certificate_file: Option<Checked<String>>,
    /// Where codes and tokens may be sent: compared exactly.
    pub redirect_uris: Option<CheckedList<String>>,
    /// Where sign-out may return to: compared exactly.
    pub post_logout_redirect_uris: Option<CheckedList<String>>,
    /// Allowed grants (default `[authorization_code, refresh_token]`).
    pub grants: Option<CheckedList<String>>,
    /// Allowed scopes (default `[openid, profile, email, offline_access]`).
    pub scopes: Option<CheckedList<String>>,
    /// Resources it may ask access tokens for (default: every configured resource).
    pub resources: Option<CheckedList<String>>,
    /// Accept PKCE `plain` as well as `S256` (default false).
    pub allow_pkce_plain: Option<Checked<bool>>,
    /// Require PKCE of a confidential client too (default true; public clients always must).
    pub require_pkce: Option<Checked<bool>>,
    /// Claims added to its access tokens, and to ID tokens with the `allatclaims` scope (the
    /// relying parties' vocabulary).
    pub claims: Option<CheckedList<ClaimKind>>,
}

/// `oauth.resources[]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawResource {
    /// The identifier: the access token's `aud` (AD FS: the Web API's identifier).
    pub identifier: Option<Checked<String>>,
    /// Its scopes (`user_impersonation`, ...), asked for as `<identifier>/<scope>`.
    pub scopes: Option<CheckedList<String>>,
}

/// A client's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    /// No credentials (native apps, SPAs).
    Public,
    /// Authenticates at the token endpoint.
    Confidential,
}

/// A grant type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// `authorization_code`.
    AuthorizationCode,
    /// `refresh_token`.
    RefreshToken,
    /// `client_credentials` (confidential clients).
    ClientCredentials,
    /// `password` (ROPC).
    Password,
}

impl Grant {
    /// Every grant with its `grant_type` spelling.
    pub const WORDS: &'static [(&'static str, Grant)] = &[
        ("authorization_code", Grant::AuthorizationCode),
        ("refresh_token", Grant::RefreshToken),
        ("client_credentials", Grant::ClientCredentials),
        ("password", Grant::Password),
    ];

    /// The `grant_type` spelling.
    pub fn as_str(self) -> &'static str {
        Grant::WORDS
            .iter()
            .find(|(_, g)| *g == self)
            .map_or("", |(w, _)| w)
    }
}

/// The OpenID scopes altgate knows (besides `<resource>/<scope>`).
pub const OPENID_SCOPES: &[&str] = &[
    "openid",
    "profile",
    "email",
    "offline_access",
    "allatclaims",
];

/// How a confidential client proves itself.
#[derive(Clone)]
pub enum ClientCredential {
    /// A shared secret (`client_secret_basic`, `client_secret_post`).
    Secret(Secret),
    /// A certificate (`private_key_jwt`): its DER.
    Certificate(Vec<u8>),
}

impl std::fmt::Debug for ClientCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientCredential::Secret(_) => f.write_str("Secret(..)"),
            ClientCredential::Certificate(_) => f.write_str("Certificate(..)"),
        }
    }
}

/// One client.
#[derive(Debug, Clone)]
pub struct OAuthClient {
    /// `client_id`.
    pub client_id: String,
    /// Display name.
    pub name: String,
    /// Public or confidential.
    pub kind: ClientKind,
    /// Credentials (confidential clients: at least one).
    pub credentials: Vec<ClientCredential>,
    /// Registered redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Registered post-logout redirect URIs.
    pub post_logout_redirect_uris: Vec<String>,
    /// Allowed grants.
    pub grants: Vec<Grant>,
    /// Allowed OpenID scopes.
    pub scopes: Vec<String>,
    /// Resources it may ask for (identifiers).
    pub resources: Vec<String>,
    /// PKCE `plain` accepted.
    pub allow_pkce_plain: bool,
    /// PKCE required.
    pub require_pkce: bool,
    /// Extra claims.
    pub claims: Vec<ClaimKind>,
}

impl OAuthClient {
    /// True when `grant` is allowed.
    pub fn allows(&self, grant: Grant) -> bool {
        self.grants.contains(&grant)
    }
}

/// One resource.
#[derive(Debug, Clone)]
pub struct OAuthResource {
    /// Identifier (`aud`).
    pub identifier: String,
    /// Its scopes.
    pub scopes: Vec<String>,
}

/// `oauth:`.
#[derive(Debug, Clone)]
pub struct OAuthConfig {
    /// Clients.
    pub clients: Vec<OAuthClient>,
    /// Resources.
    pub resources: Vec<OAuthResource>,
    /// Access and ID token lifetime.
    pub access_token_lifetime: Duration,
    /// Refresh token family lifetime.
    pub refresh_token_lifetime: Duration,
    /// Authorization code lifetime.
    pub code_lifetime: Duration,
}

impl OAuthConfig {
    /// The client `client_id` names (exact match).
    pub fn client(&self, client_id: &str) -> Option<&OAuthClient> {
        self.clients.iter().find(|c| c.client_id == client_id)
    }

    /// The resource `identifier` names (case-insensitive, trailing `/` ignored).
    pub fn resource(&self, identifier: &str) -> Option<&OAuthResource> {
        let want = identifier.trim_end_matches('/');
        self.resources.iter().find(|r| {
            r.identifier
                .trim_end_matches('/')
                .eq_ignore_ascii_case(want)
        })
    }
}

/// A redirect URI a client may register: absolute, no fragment, no user info; `https://`, or
/// `http://` on a loopback host; a private-use scheme (`com.contoso.app:/cb`, `ms-app://...`)
/// only for public clients (RFC 8252).
pub fn is_redirect_uri(u: &str, public: bool) -> bool {
    if u.contains('#') || u.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    if u.starts_with("https://") || u.starts_with("http://") {
        return super::url::is_reply_url(u);
    }
    let Some((scheme, rest)) = u.split_once(':') else {
        return false;
    };
    public
        && !rest.is_empty()
        && scheme.len() > 1
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+'))
        && scheme
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
        && !matches!(
            scheme.to_ascii_lowercase().as_str(),
            "javascript" | "data" | "file" | "vbscript"
        )
}

impl Validator {
    /// `oauth:`; `None` when absent (no OAuth endpoints).
    pub(super) fn oauth(&mut self, doc: &mut Document) -> Option<OAuthConfig> {
        let raw: RawOAuth = self.take(doc, "oauth")?;
        let access_token_lifetime = self.bounded_duration(
            "oauth.access_token_lifetime",
            raw.access_token_lifetime,
            HOUR,
            5 * MINUTE,
            MAX_ACCESS_TOKEN_LIFETIME,
        );
        let refresh_token_lifetime = self.bounded_duration(
            "oauth.refresh_token_lifetime",
            raw.refresh_token_lifetime,
            8 * HOUR,
            MINUTE,
            MAX_REFRESH_TOKEN_LIFETIME,
        );
        let code_lifetime = self.bounded_duration(
            "oauth.code_lifetime",
            raw.code_lifetime,
            MAX_CODE_LIFETIME,
            SECOND,
            MAX_CODE_LIFETIME,
        );
        let mut resources: Vec<OAuthResource> = Vec::new();
        let raw_resources = self.checked("oauth.resources", raw.resources);
        for (i, item) in raw_resources.unwrap_or_default().into_iter().enumerate() {
            let p = format!("oauth.resources[{i}]");
            let Some(r) = self.typed::<RawResource>(&p, item) else {
                continue;
            };
            let Some(identifier) = self.required::<String>(
                &format!("{p}.identifier"),
                r.identifier,
                " (e.g. https://api.contoso.com)",
            ) else {
                continue;
            };
            let identifier = identifier.trim().to_string();
            if identifier.is_empty() || identifier.contains(char::is_whitespace) {
                self.err(format!("{p}.identifier"), "must be a URI without spaces");
            } else if resources.iter().any(|x| {
                x.identifier
                    .trim_end_matches('/')
                    .eq_ignore_ascii_case(identifier.trim_end_matches('/'))
            }) {
                self.err(
                    format!("{p}.identifier"),
                    format!("{identifier} is listed twice"),
                );
            }
            let mut scopes = Vec::new();
            for (at, s) in self.list::<String>(&format!("{p}.scopes"), r.scopes) {
                if !is_scope_token(&s) || s.contains('/') {
                    self.err(at, format!("{s:?} must be one word without '/'"));
                } else {
                    scopes.push(s);
                }
            }
            resources.push(OAuthResource { identifier, scopes });
        }
        let mut clients: Vec<OAuthClient> = Vec::new();
        let raw_clients = self.checked("oauth.clients", raw.clients);
        for (i, item) in raw_clients.unwrap_or_default().into_iter().enumerate() {
            let p = format!("oauth.clients[{i}]");
            let Some(c) = self.typed::<RawClient>(&p, item) else {
                continue;
            };
            if let Some(client) = self.client(&p, c, &resources) {
                if clients.iter().any(|x| x.client_id == client.client_id) {
                    self.err(
                        format!("{p}.client_id"),
                        format!("{} is listed twice", client.client_id),
                    );
                }
                clients.push(client);
            }
        }
        Some(OAuthConfig {
            clients,
            resources,
            access_token_lifetime,
            refresh_token_lifetime,
            code_lifetime,
        })
    }

    fn client(
        &mut self,
        p: &str,
        c: RawClient,
        resources: &[OAuthResource],
    ) -> Option<OAuthClient> {
        let client_id = self.required::<String>(
            &format!("{p}.client_id"),
            c.client_id,
            " (e.g. 2a6b3c1e-5d1f-4f7e-9a1b-1c2d3e4f5a6b)",
        );
        if let Some(id) = &client_id {
            if id.is_empty() || id.len() > 256 || !id.chars().all(|ch| ch.is_ascii_graphic()) {
                self.err(
                    format!("{p}.client_id"),
                    "must be 1–256 printable characters without spaces",
                );
            }
        }
        let name = self
            .checked::<String>(&format!("{p}.name"), c.name)
            .unwrap_or_default();
        let kind = self.word(
            &format!("{p}.type"),
            c.kind,
            ClientKind::Confidential,
            &[
                ("public", ClientKind::Public),
                ("confidential", ClientKind::Confidential),
            ],
        );
        let public = kind == ClientKind::Public;
        let mut credentials = Vec::new();
        let secret = self.secret(
            p,
            "secret",
            SecretKeys {
                env: c.secret_env,
                file: c.secret_file,
            },
            false,
        );
        if let Some((key, s)) = secret {
            let trimmed = s.expose().trim();
            if public {
                self.err(key, "a public client has no secret (type: confidential)");
            } else if trimmed.len() < 16 {
                self.err(key, "the secret must be at least 16 characters");
            } else {
                credentials.push(ClientCredential::Secret(Secret::new(trimmed.to_string())));
            }
        }
        if let Some(file) =
            self.checked::<String>(&format!("{p}.certificate_file"), c.certificate_file)
        {
            if public {
                self.err(
                    format!("{p}.certificate_file"),
                    "a public client has no credentials (type: confidential)",
                );
            } else {
                match crate::keys::read_cert_der(Path::new(&file)) {
                    Ok(der) => credentials.push(ClientCredential::Certificate(der)),
                    Err(e) => self.err(format!("{p}.certificate_file"), e.to_string()),
                }
            }
        }
        if !public && credentials.is_empty() {
            self.err(
                p,
                "a confidential client needs secret_file, secret_env or certificate_file",
            );
        }
        let mut redirect_uris = Vec::new();
        for (at, u) in self.list::<String>(&format!("{p}.redirect_uris"), c.redirect_uris) {
            if is_redirect_uri(&u, public) {
                redirect_uris.push(u);
            } else {
                self.err(
                    at,
                    format!(
                        "{u:?} must be an absolute https:// URI without a fragment (http:// only \
                         for localhost; a private-use scheme only for public clients)"
                    ),
                );
            }
        }
        let mut post_logout_redirect_uris = Vec::new();
        for (at, u) in self.list::<String>(
            &format!("{p}.post_logout_redirect_uris"),
            c.post_logout_redirect_uris,
        ) {
            if is_redirect_uri(&u, public) {
                post_logout_redirect_uris.push(u);
            } else {
                self.err(at, format!("{u:?} must be an absolute https:// URI"));
            }
        }
        let mut grants = Vec::new();
        let written_grants = c.grants.is_some();
        for (at, g) in self.list::<String>(&format!("{p}.grants"), c.grants) {
            match Grant::WORDS.iter().find(|(w, _)| *w == g.trim()) {
                Some((_, Grant::ClientCredentials)) if public => self.err(
                    at,
                    "client_credentials needs a confidential client (a public one has no credentials)",
                ),
                Some((_, grant)) if !grants.contains(grant) => grants.push(*grant),
                Some(_) => self.err(at, format!("{g} is listed twice")),
                None => {
                    let words: Vec<&str> = Grant::WORDS.iter().map(|(w, _)| *w).collect();
                    self.err(at, format!("{g:?} is not one of: {}", words.join(", ")));
                }
            }
        }
        if !written_grants {
            grants = vec![Grant::AuthorizationCode, Grant::RefreshToken];
        }
        if grants.contains(&Grant::AuthorizationCode) && redirect_uris.is_empty() {
            self.err(
                format!("{p}.redirect_uris"),
                "authorization_code needs at least one redirect URI",
            );
        }
        let mut scopes = Vec::new();
        let written_scopes = c.scopes.is_some();
        for (at, s) in self.list::<String>(&format!("{p}.scopes"), c.scopes) {
            if OPENID_SCOPES.contains(&s.as_str()) {
                scopes.push(s);
            } else {
                self.err(
                    at,
                    format!(
                        "{s:?} is not one of: {} (resource scopes go under oauth.resources)",
                        OPENID_SCOPES.join(", ")
                    ),
                );
            }
        }
        if !written_scopes {
            scopes = ["openid", "profile", "email", "offline_access"]
                .map(String::from)
                .to_vec();
        }
        let mut allowed_resources = Vec::new();
        let written_resources = c.resources.is_some();
        for (at, r) in self.list::<String>(&format!("{p}.resources"), c.resources) {
            match resources.iter().find(|x| {
                x.identifier
                    .trim_end_matches('/')
                    .eq_ignore_ascii_case(r.trim_end_matches('/'))
            }) {
                Some(x) => allowed_resources.push(x.identifier.clone()),
                None => self.err(at, format!("{r} is not in oauth.resources")),
            }
        }
        if !written_resources {
            allowed_resources = resources.iter().map(|r| r.identifier.clone()).collect();
        }
        let allow_pkce_plain = self
            .checked(&format!("{p}.allow_pkce_plain"), c.allow_pkce_plain)
            .unwrap_or(false);
        let require_pkce_at = format!("{p}.require_pkce");
        let require_pkce = self
            .checked(&require_pkce_at, c.require_pkce)
            .unwrap_or(true);
        if public && !require_pkce {
            self.err(require_pkce_at, "a public client always needs PKCE");
        }
        let claims = self
            .list(&format!("{p}.claims"), c.claims)
            .into_iter()
            .map(|(_, k)| k)
            .collect();
        Some(OAuthClient {
            client_id: client_id?,
            name,
            kind,
            credentials,
            redirect_uris,
            post_logout_redirect_uris,
            grants,
            scopes,
            resources: allowed_resources,
            allow_pkce_plain,
            require_pkce: require_pkce || public,
            claims,
        })
    }
}

/// A scope token (RFC 6749 §3.3: printable ASCII except space, `"` and `\`).
pub fn is_scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 256
        && s.chars()
            .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_are_absolute_without_fragments_and_custom_schemes_are_for_public_clients() {
        assert!(is_redirect_uri("https://app.contoso.com/cb", false));
        assert!(is_redirect_uri("http://localhost:8400/cb", true));
        assert!(!is_redirect_uri("http://app.contoso.com/cb", false));
        assert!(!is_redirect_uri("https://app.contoso.com/cb#x", false));
        assert!(!is_redirect_uri("https://user@evil.com/", false));
        assert!(is_redirect_uri("com.contoso.app:/oauth2redirect", true));
        assert!(!is_redirect_uri("com.contoso.app:/oauth2redirect", false));
        assert!(!is_redirect_uri("javascript:alert(1)", true));
        assert!(!is_redirect_uri("/relative", true));
    }

    #[test]
    fn scope_tokens() {
        assert!(is_scope_token("openid"));
        assert!(is_scope_token("https://api.contoso.com/user_impersonation"));
        assert!(!is_scope_token("a b"));
        assert!(!is_scope_token(""));
    }
}
