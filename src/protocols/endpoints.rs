//! altgate's public endpoints, in one place: the paths AD FS clients and Entra ID know, and the
//! absolute URLs built from `server.public_url`. Federation metadata, the WS-MetadataExchange
//! document and `altgate m365 federation-settings` all take their URLs from here, so what Entra
//! is told and what metadata publishes cannot drift apart.

/// Browser sign-in and sign-out (WS-Federation and SAML 2.0), AD FS's `/adfs/ls/`.
pub const PASSIVE: &str = "/adfs/ls/";
/// WS-Trust 1.3 username/password endpoint.
pub const WSTRUST_13_USERNAMEMIXED: &str = "/adfs/services/trust/13/usernamemixed";
/// WS-Trust 2005 username/password endpoint: the one AD FS registers in Entra as the active
/// sign-in URI (`ActiveLogOnUri`).
pub const WSTRUST_2005_USERNAMEMIXED: &str = "/adfs/services/trust/2005/usernamemixed";
/// WS-MetadataExchange document.
pub const MEX: &str = "/adfs/services/trust/mex";
/// Federation metadata document.
pub const FEDERATION_METADATA: &str = "/FederationMetadata/2007-06/FederationMetadata.xml";
/// IdP-initiated sign-on page.
pub const IDP_INITIATED: &str = "/adfs/ls/idpinitiatedsignon.aspx";
/// The voluntary password-change page (`passive.update_password_page`), AD FS's URL; also the
/// `passwordchangeurl` claim.
pub const UPDATE_PASSWORD: &str = "/adfs/portal/updatepassword/";
/// The load balancer's health probe.
pub const PROBE: &str = "/adfs/probe";

/// The absolute public URLs of the endpoints for one `server.public_url`.
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
        let base = public_url.trim_end_matches('/');
        let at = |path: &str| format!("{base}{path}");
        PublicEndpoints {
            passive: at(PASSIVE),
            sign_out: at(PASSIVE),
            wstrust_13: at(WSTRUST_13_USERNAMEMIXED),
            wstrust_2005: at(WSTRUST_2005_USERNAMEMIXED),
            mex: at(MEX),
            metadata: at(FEDERATION_METADATA),
            update_password: at(UPDATE_PASSWORD),
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
}
