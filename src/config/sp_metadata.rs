//! SAML 2.0 SP metadata files (`relying_parties[].metadata_file`): the entityID, the
//! HTTP-POST assertion consumer URLs, the logout URL and the request-signing certificate,
//! read with altgate's bounded XML parser.

use super::url::is_reply_url;
use std::path::Path;

/// What altgate reads from a SAML SP metadata file.
pub(super) struct SpMetadata {
    /// The SP's entityID (must equal the relying party's identifier).
    pub(super) entity_id: String,
    /// HTTP-POST AssertionConsumerService URLs that are acceptable reply URLs.
    pub(super) acs: Vec<String>,
    /// The first HTTP-POST or HTTP-Redirect SingleLogoutService URL.
    pub(super) logout: Option<String>,
    /// The first signing certificate (DER).
    pub(super) signing_cert: Option<Vec<u8>>,
}

/// Reads the SP metadata file at `path`.
pub(super) fn sp_metadata(path: &Path) -> Result<SpMetadata, String> {
    use crate::xml::parse::{parse, Limits};
    use base64::Engine;
    const MD: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
    const POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
    const REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let limits = Limits {
        max_depth: 32,
        max_elements: 4096,
        max_attributes: 32,
    };
    let root = parse(&bytes, limits).map_err(|e| e.to_string())?;
    if !root.is(MD, "EntityDescriptor") {
        return Err("not a SAML 2.0 EntityDescriptor".into());
    }
    let entity_id = root.attr("", "entityID").ok_or("no entityID")?.to_string();
    let sp = root
        .child(MD, "SPSSODescriptor")
        .ok_or("no SPSSODescriptor")?;
    let acs = sp
        .children
        .iter()
        .filter(|c| c.is(MD, "AssertionConsumerService") && c.attr("", "Binding") == Some(POST))
        .filter_map(|c| c.attr("", "Location").map(str::to_string))
        .filter(|u| is_reply_url(u))
        .collect::<Vec<_>>();
    if acs.is_empty() {
        return Err("no HTTP-POST AssertionConsumerService with an https URL".into());
    }
    let logout = sp
        .children
        .iter()
        .filter(|c| c.is(MD, "SingleLogoutService"))
        .find(|c| matches!(c.attr("", "Binding"), Some(POST) | Some(REDIRECT)))
        .and_then(|c| c.attr("", "Location").map(str::to_string));
    let signing_cert = sp
        .children
        .iter()
        .filter(|c| c.is(MD, "KeyDescriptor") && c.attr("", "use") != Some("encryption"))
        .find_map(|k| {
            let text = k
                .child_local("KeyInfo")?
                .child_local("X509Data")?
                .child_local("X509Certificate")?
                .text();
            let clean: String = text.chars().filter(|c| !c.is_whitespace()).collect();
            base64::engine::general_purpose::STANDARD.decode(clean).ok()
        });
    Ok(SpMetadata {
        entity_id,
        acs,
        logout,
        signing_cert,
    })
}
