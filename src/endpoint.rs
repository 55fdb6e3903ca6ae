//! The route table: every public path altgate serves, once. An [`Endpoint`] knows its path (and
//! the aliases clients use), the methods it answers, its metric label and its absolute URL under
//! `server.public_url`. The router matches a request against it once ([`Endpoint::route`]) and
//! so answers 404 and 405 (with `Allow`) from the same table; federation metadata, the
//! WS-MetadataExchange document, `altgate m365 federation-settings`, the pages and the demo
//! relying party take their paths and URLs from here, so what Entra is told, what metadata
//! publishes and what the router serves cannot drift apart.

use crate::label::{kinds, label_set};

label_set! {
    /// One public endpoint (its id is the `endpoint` label of the HTTP metrics).
    pub enum Endpoint: kinds::Endpoint {
        /// WS-Trust 1.3 username/password endpoint.
        Wstrust13 = "wstrust_13",
        /// WS-Trust 2005 username/password endpoint (Entra's active sign-in URI).
        Wstrust2005 = "wstrust_2005",
        /// WS-Trust 1.3 Windows integrated endpoint (Kerberos; internal clients only).
        Wstrust13Windows = "wstrust_13_windowstransport",
        /// WS-Trust 2005 Windows integrated endpoint (Kerberos; internal clients only).
        Wstrust2005Windows = "wstrust_2005_windowstransport",
        /// Browser sign-in and sign-out, WS-Federation and SAML 2.0 (`/adfs/ls/`).
        Passive = "ls",
        /// IdP-initiated sign-on (`/adfs/ls/IdpInitiatedSignOn.aspx`).
        IdpInitiated = "idp_initiated",
        /// The voluntary password-change page (`passive.update_password_page`).
        UpdatePassword = "update_password",
        /// The organisation's logo (`passive.branding.logo_file`).
        Logo = "logo",
        /// WS-MetadataExchange document.
        Mex = "mex",
        /// Federation metadata document.
        FederationMetadata = "federation_metadata",
        /// The load balancer's health probe.
        Probe = "probe",
        /// OpenID Connect discovery (`oauth`).
        OAuthDiscovery = "oauth_discovery",
        /// The token-signing keys as a JWKS (`oauth`).
        OAuthKeys = "oauth_keys",
        /// The OAuth 2.0 authorization endpoint (`oauth`).
        OAuthAuthorize = "oauth_authorize",
        /// The OAuth 2.0 token endpoint (`oauth`).
        OAuthToken = "oauth_token",
        /// OpenID Connect userinfo (`oauth`).
        OAuthUserinfo = "oauth_userinfo",
        /// OpenID Connect end-session (`oauth`).
        OAuthLogout = "oauth_logout",
        /// RFC 7009 token revocation (`oauth`).
        OAuthRevoke = "oauth_revoke",
        /// RFC 7662 token introspection (`oauth`).
        OAuthIntrospect = "oauth_introspect",
        /// The demo relying party's start page (demo mode with `passive.demo_relying_party`).
        DemoHome = "demo",
        /// The demo relying party's WS-Federation reply URL.
        DemoWsfed = "demo",
        /// The demo relying party's SAML assertion consumer service.
        DemoSaml = "demo",
    }
}

/// Methods an endpoint answers (HEAD is answered wherever GET is).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Methods {
    /// GET (and HEAD).
    Get,
    /// POST only.
    Post,
    /// GET (and HEAD) and POST.
    GetPost,
    /// GET (and HEAD) and DELETE.
    GetDelete,
    /// POST and DELETE.
    PostDelete,
}

impl Methods {
    /// The `Allow` header's value.
    pub fn allow(self) -> &'static str {
        match self {
            Methods::Get => "GET, HEAD",
            Methods::Post => "POST",
            Methods::GetPost => "GET, HEAD, POST",
            Methods::GetDelete => "GET, HEAD, DELETE",
            Methods::PostDelete => "POST, DELETE",
        }
    }

    /// Whether `method` (an HTTP method name, upper case) is answered.
    pub fn allows(self, method: &str) -> bool {
        match method {
            "GET" | "HEAD" => matches!(self, Methods::Get | Methods::GetPost | Methods::GetDelete),
            "POST" => matches!(self, Methods::Post | Methods::GetPost | Methods::PostDelete),
            "DELETE" => matches!(self, Methods::GetDelete | Methods::PostDelete),
            _ => false,
        }
    }
}

/// Which optional endpoints the configuration turns on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Enabled {
    /// `passive.update_password_page`.
    pub update_password: bool,
    /// Demo mode with `passive.demo_relying_party`.
    pub demo: bool,
    /// `windows_integrated.windows_transport` (with `kerberos`).
    pub windows_transport: bool,
    /// `oauth`.
    pub oauth: bool,
}

/// Why a request matched no endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unrouted {
    /// No endpoint at this path (or one the configuration turns off).
    NotFound,
    /// The path is served, not with this method; `allow` lists the methods that are.
    MethodNotAllowed {
        /// The `Allow` header's value.
        allow: &'static str,
    },
}

impl Endpoint {
    /// The canonical path (as published in metadata and URLs).
    pub const fn path(self) -> &'static str {
        match self {
            Endpoint::Wstrust13 => "/adfs/services/trust/13/usernamemixed",
            Endpoint::Wstrust2005 => "/adfs/services/trust/2005/usernamemixed",
            Endpoint::Wstrust13Windows => "/adfs/services/trust/13/windowstransport",
            Endpoint::Wstrust2005Windows => "/adfs/services/trust/2005/windowstransport",
            Endpoint::Passive => "/adfs/ls/",
            Endpoint::IdpInitiated => "/adfs/ls/idpinitiatedsignon.aspx",
            Endpoint::UpdatePassword => "/adfs/portal/updatepassword/",
            Endpoint::Logo => "/adfs/portal/logo",
            Endpoint::Mex => "/adfs/services/trust/mex",
            Endpoint::FederationMetadata => "/FederationMetadata/2007-06/FederationMetadata.xml",
            Endpoint::Probe => "/adfs/probe",
            Endpoint::DemoHome => "/demo/",
            Endpoint::DemoWsfed => "/demo/wsfed",
            Endpoint::DemoSaml => "/demo/saml",
            Endpoint::OAuthDiscovery => "/adfs/.well-known/openid-configuration",
            Endpoint::OAuthKeys => "/adfs/discovery/keys",
            Endpoint::OAuthAuthorize => "/adfs/oauth2/authorize/",
            Endpoint::OAuthToken => "/adfs/oauth2/token/",
            Endpoint::OAuthUserinfo => "/adfs/userinfo",
            Endpoint::OAuthLogout => "/adfs/oauth2/logout",
            Endpoint::OAuthRevoke => "/adfs/oauth2/revoke",
            Endpoint::OAuthIntrospect => "/adfs/oauth2/introspect",
        }
    }

    /// Other spellings clients use for the same endpoint (matched like the path).
    fn aliases(self) -> &'static [&'static str] {
        match self {
            Endpoint::Passive => &["/adfs/ls"],
            Endpoint::UpdatePassword => &["/adfs/portal/updatepassword"],
            Endpoint::DemoHome => &["/demo"],
            Endpoint::OAuthAuthorize => &["/adfs/oauth2/authorize"],
            Endpoint::OAuthToken => &["/adfs/oauth2/token"],
            Endpoint::OAuthLogout => &["/adfs/oauth2/logout/"],
            Endpoint::OAuthUserinfo => &["/adfs/userinfo/"],
            _ => &[],
        }
    }

    /// The methods it answers.
    pub fn methods(self) -> Methods {
        match self {
            Endpoint::Wstrust13
            | Endpoint::Wstrust2005
            | Endpoint::Wstrust13Windows
            | Endpoint::Wstrust2005Windows
            | Endpoint::OAuthToken
            | Endpoint::OAuthRevoke
            | Endpoint::OAuthIntrospect => Methods::Post,
            Endpoint::Passive
            | Endpoint::IdpInitiated
            | Endpoint::UpdatePassword
            | Endpoint::DemoWsfed
            | Endpoint::DemoSaml
            | Endpoint::OAuthAuthorize
            | Endpoint::OAuthUserinfo
            | Endpoint::OAuthLogout => Methods::GetPost,
            Endpoint::Logo
            | Endpoint::Mex
            | Endpoint::FederationMetadata
            | Endpoint::Probe
            | Endpoint::DemoHome
            | Endpoint::OAuthDiscovery
            | Endpoint::OAuthKeys => Methods::Get,
        }
    }

    /// Whether the configuration serves it.
    pub fn enabled(self, enabled: Enabled) -> bool {
        match self {
            Endpoint::UpdatePassword => enabled.update_password,
            Endpoint::Wstrust13Windows | Endpoint::Wstrust2005Windows => enabled.windows_transport,
            Endpoint::DemoHome | Endpoint::DemoWsfed | Endpoint::DemoSaml => enabled.demo,
            Endpoint::OAuthDiscovery
            | Endpoint::OAuthKeys
            | Endpoint::OAuthAuthorize
            | Endpoint::OAuthToken
            | Endpoint::OAuthUserinfo
            | Endpoint::OAuthLogout
            | Endpoint::OAuthRevoke
            | Endpoint::OAuthIntrospect => enabled.oauth,
            _ => true,
        }
    }

    /// The absolute URL under `public_url` (a trailing slash there is ignored).
    pub fn url(self, public_url: &str) -> String {
        format!("{}{}", public_url.trim_end_matches('/'), self.path())
    }

    /// The endpoint at `path` (compared without case, as IIS does), if any is enabled there.
    pub fn at(path: &str, enabled: Enabled) -> Option<Endpoint> {
        Endpoint::ALL.iter().copied().find(|e| {
            e.enabled(enabled)
                && (e.path().eq_ignore_ascii_case(path)
                    || e.aliases().iter().any(|a| a.eq_ignore_ascii_case(path)))
        })
    }

    /// Routes `method` + `path`: the endpoint, or why there is none.
    pub fn route(method: &str, path: &str, enabled: Enabled) -> Result<Endpoint, Unrouted> {
        let e = Endpoint::at(path, enabled).ok_or(Unrouted::NotFound)?;
        if e.methods().allows(method) {
            Ok(e)
        } else {
            Err(Unrouted::MethodNotAllowed {
                allow: e.methods().allow(),
            })
        }
    }
}

/// An endpoint of the admin listener (operators only, never the public port).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminEndpoint {
    /// Prometheus metrics.
    Metrics,
    /// Readiness: 200 `ready`, or 503 with the problems (for orchestrators).
    Ready,
    /// Per-forest server and state store health, JSON.
    Health,
    /// An account's extranet lockout activity (`GET ?login=`, AD FS
    /// `Get-AdfsAccountActivity`); `DELETE ?login=[&location=]` resets its counts.
    AccountActivity,
    /// `POST ?login=[&location=familiar|unfamiliar]`: resets counts (AD FS
    /// `Reset-AdfsAccountLockout`).
    AccountActivityReset,
    /// `POST ?login=&ip=` adds a familiar location (AD FS `Set-AdfsAccountActivity
    /// -AdditionalFamiliarIps`); `DELETE ?login=&ip=` removes one.
    FamiliarLocations,
    /// `POST`: re-reads the configuration file and every certificate and key, as SIGHUP does.
    Reload,
    /// The certificates the running service holds: role, SHA-1 thumbprint, expiry.
    Certificates,
}

impl AdminEndpoint {
    /// Every admin endpoint.
    pub const ALL: &'static [AdminEndpoint] = &[
        AdminEndpoint::Metrics,
        AdminEndpoint::Ready,
        AdminEndpoint::Health,
        AdminEndpoint::AccountActivity,
        AdminEndpoint::AccountActivityReset,
        AdminEndpoint::FamiliarLocations,
        AdminEndpoint::Reload,
        AdminEndpoint::Certificates,
    ];

    /// Its path.
    pub const fn path(self) -> &'static str {
        match self {
            AdminEndpoint::Metrics => "/metrics",
            AdminEndpoint::Ready => "/ready",
            AdminEndpoint::Health => "/health",
            AdminEndpoint::AccountActivity => "/api/v1/account-activity",
            AdminEndpoint::AccountActivityReset => "/api/v1/account-activity/reset",
            AdminEndpoint::FamiliarLocations => "/api/v1/account-activity/familiar-locations",
            AdminEndpoint::Reload => "/api/v1/reload",
            AdminEndpoint::Certificates => "/api/v1/certificates",
        }
    }

    /// The methods it answers.
    pub fn methods(self) -> Methods {
        match self {
            AdminEndpoint::Metrics
            | AdminEndpoint::Ready
            | AdminEndpoint::Health
            | AdminEndpoint::Certificates => Methods::Get,
            AdminEndpoint::AccountActivity => Methods::GetDelete,
            AdminEndpoint::AccountActivityReset | AdminEndpoint::Reload => Methods::Post,
            AdminEndpoint::FamiliarLocations => Methods::PostDelete,
        }
    }

    /// True when it changes state: refused unless `admin.bearer_token_file` is set.
    pub fn changes_state(self, method: &str) -> bool {
        matches!(method, "POST" | "DELETE")
    }

    /// Routes `method` + `path` on the admin listener.
    pub fn route(method: &str, path: &str) -> Result<AdminEndpoint, Unrouted> {
        let e = AdminEndpoint::ALL
            .iter()
            .copied()
            .find(|e| e.path().eq_ignore_ascii_case(path))
            .ok_or(Unrouted::NotFound)?;
        if e.methods().allows(method) {
            Ok(e)
        } else {
            Err(Unrouted::MethodNotAllowed {
                allow: e.methods().allow(),
            })
        }
    }
}

/// The absolute public URLs of the endpoints Entra ID and metadata name, for one
/// `server.public_url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicEndpoints {
    /// `{public_url}/adfs/ls/`: passive (browser) sign-in.
    pub passive: String,
    /// `{public_url}/adfs/ls/`: sign-out (AD FS registers its `/adfs/ls/` as `LogOffUri`).
    pub sign_out: String,
    /// `{public_url}/adfs/services/trust/13/usernamemixed`.
    pub wstrust_13: String,
    /// `{public_url}/adfs/services/trust/2005/usernamemixed`: active sign-in.
    pub wstrust_2005: String,
    /// `{public_url}/adfs/services/trust/13/windowstransport`.
    pub wstrust_13_windows: String,
    /// `{public_url}/adfs/services/trust/2005/windowstransport`.
    pub wstrust_2005_windows: String,
    /// `{public_url}/adfs/services/trust/mex`.
    pub mex: String,
    /// `{public_url}/FederationMetadata/2007-06/FederationMetadata.xml`.
    pub metadata: String,
    /// `{public_url}/adfs/portal/updatepassword/`: the voluntary password-change page.
    pub update_password: String,
}

impl PublicEndpoints {
    /// The endpoints under `public_url` (a trailing slash is ignored).
    pub fn new(public_url: &str) -> Self {
        PublicEndpoints {
            passive: Endpoint::Passive.url(public_url),
            sign_out: Endpoint::Passive.url(public_url),
            wstrust_13: Endpoint::Wstrust13.url(public_url),
            wstrust_2005: Endpoint::Wstrust2005.url(public_url),
            wstrust_13_windows: Endpoint::Wstrust13Windows.url(public_url),
            wstrust_2005_windows: Endpoint::Wstrust2005Windows.url(public_url),
            mex: Endpoint::Mex.url(public_url),
            metadata: Endpoint::FederationMetadata.url(public_url),
            update_password: Endpoint::UpdatePassword.url(public_url),
        }
    }

    /// The endpoint rich clients sign in at (Entra's `activeSignInUri`): WS-Trust 2005
    /// usernamemixed, as AD FS registers it.
    pub fn active_sign_in(&self) -> &str {
        &self.wstrust_2005
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL_ON: Enabled = Enabled {
        update_password: true,
        demo: true,
        windows_transport: true,
        oauth: true,
    };

    #[test]
    fn urls_are_built_under_the_public_url_with_or_without_a_trailing_slash() {
        for base in ["https://sts.contoso.com", "https://sts.contoso.com/"] {
            let e = PublicEndpoints::new(base);
            assert_eq!(e.passive, "https://sts.contoso.com/adfs/ls/");
            assert_eq!(e.sign_out, "https://sts.contoso.com/adfs/ls/");
            assert_eq!(
                e.active_sign_in(),
                "https://sts.contoso.com/adfs/services/trust/2005/usernamemixed"
            );
            assert_eq!(
                e.wstrust_13,
                "https://sts.contoso.com/adfs/services/trust/13/usernamemixed"
            );
            assert_eq!(e.mex, "https://sts.contoso.com/adfs/services/trust/mex");
            assert_eq!(
                e.metadata,
                "https://sts.contoso.com/FederationMetadata/2007-06/FederationMetadata.xml"
            );
            assert_eq!(
                e.update_password,
                "https://sts.contoso.com/adfs/portal/updatepassword/"
            );
        }
    }

    #[test]
    fn every_path_and_alias_routes_to_its_endpoint_without_case() {
        for e in Endpoint::ALL.iter().copied() {
            for p in std::iter::once(e.path()).chain(e.aliases().iter().copied()) {
                assert_eq!(Endpoint::at(p, ALL_ON), Some(e), "{p}");
                assert_eq!(Endpoint::at(&p.to_ascii_uppercase(), ALL_ON), Some(e));
            }
        }
        assert_eq!(
            Endpoint::route("POST", "/adfs/ls/idpinitiatedsignon.aspx", ALL_ON),
            Ok(Endpoint::IdpInitiated)
        );
        assert_eq!(
            Endpoint::route("HEAD", "/adfs/probe", ALL_ON),
            Ok(Endpoint::Probe)
        );
    }

    #[test]
    fn wrong_methods_get_405_with_allow_and_unknown_or_disabled_paths_404() {
        assert_eq!(
            Endpoint::route("GET", "/adfs/services/trust/13/usernamemixed", ALL_ON),
            Err(Unrouted::MethodNotAllowed { allow: "POST" })
        );
        assert_eq!(
            Endpoint::route("PUT", "/adfs/portal/updatepassword/", ALL_ON),
            Err(Unrouted::MethodNotAllowed {
                allow: "GET, HEAD, POST"
            })
        );
        assert_eq!(
            Endpoint::route("DELETE", "/adfs/probe", ALL_ON),
            Err(Unrouted::MethodNotAllowed { allow: "GET, HEAD" })
        );
        assert_eq!(
            Endpoint::route("GET", "/adfs/nothing", ALL_ON),
            Err(Unrouted::NotFound)
        );
        let off = Enabled::default();
        for p in ["/adfs/portal/updatepassword/", "/demo/", "/demo/saml"] {
            assert_eq!(
                Endpoint::route("GET", p, off),
                Err(Unrouted::NotFound),
                "{p}"
            );
        }
    }
}
