//! `relying_parties:`: who tokens may be issued to, in which flavour, with which claims, and
//! the only URLs they are ever posted to (from the list or from SAML SP metadata).

use super::sp_metadata::sp_metadata;
use super::url::is_reply_url;
use super::{Checked, CheckedList, ClaimKind, Document, HumanDuration, Validator, DAY};
use serde::Deserialize;
use std::path::Path;
use std::time::Duration;

/// One entry of `relying_parties:` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRelyingParty {
    /// Identifier matched against WS-Trust AppliesTo (case-insensitively, trailing `/` ignored).
    /// Required.
    pub identifier: Option<Checked<String>>,
    /// `saml11` (default; what Microsoft 365 expects) or `saml20`: what WS-Federation and
    /// WS-Trust carry (SAML-P always carries SAML 2.0).
    pub token_type: Option<Checked<TokenType>>,
    /// Assertion lifetime (`1h`).
    pub token_lifetime: Option<Checked<HumanDuration>>,
    /// Claims to issue: upn, immutable_id, alternate_login_id, name, given_name, surname,
    /// inside_corporate_network, issuer_id. Default: upn, immutable_id, alternate_login_id,
    /// inside_corporate_network.
    pub claims: Option<CheckedList<ClaimKind>>,
    /// The only URLs tokens are ever posted to (SAML ACS / WS-Fed wreply); the first is the default.
    pub reply_urls: Option<CheckedList<String>>,
    /// SAML SP metadata file: entityID, ACS and logout URLs and signing certificate come from it.
    pub metadata_file: Option<Checked<String>>,
    /// SAML NameID format: `persistent` (ImmutableID, default), `email` (the cloud UPN) or
    /// `unspecified` (ImmutableID).
    pub name_id_format: Option<Checked<NameIdFormat>>,
    /// What to sign in SAML responses: `assertion` (default), `response` or `both`.
    pub sign: Option<Checked<SamlSigning>>,
    /// Where SAML LogoutResponses go (from metadata when there is one).
    pub logout_url: Option<Checked<String>>,
    /// Refuse AuthnRequests that are not signed by the SP (HTTP-Redirect binding signatures;
    /// default false), and WS-Federation and IdP-initiated sign-on to this relying party (they
    /// carry no signature). Implies `logout_requests: require_signed`.
    pub require_signed_requests: Option<Checked<bool>>,
    /// What a SAML LogoutRequest from this SP must be: `require_signed` (default: one without a
    /// valid HTTP-Redirect signature is refused and ends no session) or `accept_unsigned`.
    pub logout_requests: Option<Checked<String>>,
    /// PEM certificate that signs the SP's requests (from metadata when there is one).
    pub signing_cert_file: Option<Checked<String>>,
    /// Issue tokens with the per-domain issuer of `federation.federated_domains` (what Entra ID
    /// needs for several federated domains). Default: true for `urn:federation:MicrosoftOnline`,
    /// false otherwise (other relying parties know altgate by its metadata entityID).
    pub per_domain_issuer: Option<Checked<bool>>,
}

/// Longest `relying_parties[].token_lifetime`: 7 days (a stolen token is good for as long as
/// it lives).
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(7 * DAY.as_secs());

/// One relying party.
#[derive(Debug, Clone)]
pub struct RelyingParty {
    /// Identifier (AppliesTo / realm / entityID).
    pub identifier: String,
    /// Token flavour.
    pub token_type: TokenType,
    /// `token_lifetime` (default 1h, at most [`MAX_TOKEN_LIFETIME`], 7 days): assertion
    /// lifetime (NotOnOrAfter = issue instant + this).
    pub token_lifetime: Duration,
    /// Claims issued.
    pub claims: Vec<ClaimKind>,
    /// The only URLs tokens are posted to; the first is the default.
    pub reply_urls: Vec<String>,
    /// SAML NameID format.
    pub name_id_format: NameIdFormat,
    /// What SAML responses sign.
    pub sign: SamlSigning,
    /// Where SAML LogoutResponses go.
    pub logout_url: Option<String>,
    /// Refuse unsigned AuthnRequests, and WS-Federation and IdP-initiated sign-on (which carry no
    /// signature).
    pub require_signed_requests: bool,
    /// Whether a LogoutRequest must be signed to end a session.
    pub logout_requests: LogoutRequests,
    /// DER certificate that signs the SP's requests.
    pub signing_cert_der: Option<Vec<u8>>,
    /// Use the per-domain issuer (Entra ID).
    pub per_domain_issuer: bool,
}

/// The identifier Microsoft 365 / Entra ID uses as a relying party (WS-Fed realm, WS-Trust
/// AppliesTo, SAML SP entityID).
const MICROSOFT_ONLINE: &str = "urn:federation:MicrosoftOnline";

impl RelyingParty {
    /// True for Microsoft 365 / Entra ID (`urn:federation:MicrosoftOnline`): its SAML 2.0
    /// responses carry what Entra requires of a SAML 2.0 identity provider (`IDPEmail`).
    pub fn is_microsoft_online(&self) -> bool {
        self.matches(MICROSOFT_ONLINE)
    }

    /// True when `applies_to` names this relying party (case-insensitive, trailing `/` ignored).
    pub fn matches(&self, applies_to: &str) -> bool {
        self.identifier
            .trim_end_matches('/')
            .eq_ignore_ascii_case(applies_to.trim().trim_end_matches('/'))
    }
}

/// What a SAML LogoutRequest from a relying party must be to end the browser's session:
/// `relying_parties[].logout_requests`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogoutRequests {
    /// `require_signed` (the default, and AD FS's behaviour): only a LogoutRequest whose
    /// HTTP-Redirect signature verifies with the SP's certificate ends the session; any other is
    /// refused (`saml_signature`) and ends nothing. A page that embeds a forged LogoutRequest
    /// cannot sign a user out.
    #[default]
    RequireSigned,
    /// `accept_unsigned`: an unsigned LogoutRequest ends the session too (answered with an
    /// unsigned LogoutResponse); one that carries a signature must still verify.
    AcceptUnsigned,
}

impl LogoutRequests {
    /// The configuration spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            LogoutRequests::RequireSigned => "require_signed",
            LogoutRequests::AcceptUnsigned => "accept_unsigned",
        }
    }
}

/// Token flavour: `saml11` or `saml20`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenType {
    /// SAML 1.1 assertion (what Microsoft 365 expects).
    #[default]
    Saml11,
    /// SAML 2.0 assertion.
    Saml20,
}

/// SAML NameID format a relying party gets: `persistent`, `email` or `unspecified`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NameIdFormat {
    /// `persistent`: the ImmutableID.
    #[default]
    Persistent,
    /// `emailAddress`: the cloud UPN.
    Email,
    /// `unspecified`: the ImmutableID.
    Unspecified,
}

/// What a SAML response signs: `assertion`, `response` or `both`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SamlSigning {
    /// The assertion only (AD FS's default).
    #[default]
    Assertion,
    /// The Response only.
    Response,
    /// Both.
    Both,
}

impl Validator {
    /// `relying_parties:`; none when absent.
    pub(super) fn relying_parties(&mut self, doc: &mut Document) -> Vec<RelyingParty> {
        let raws = self
            .take_list::<RawRelyingParty>(doc, "relying_parties", "relying parties")
            .unwrap_or_default();
        let mut out: Vec<RelyingParty> = Vec::new();
        for (i, raw) in raws.into_iter().enumerate() {
            let Some(raw) = raw else { continue };
            let p = format!("relying_parties[{i}]");
            let identifier = self
                .required(&format!("{p}.identifier"), raw.identifier, "")
                .map(|id| id.trim().to_string());
            match &identifier {
                Some(id) if id.is_empty() => {
                    self.err(format!("{p}.identifier"), "must not be empty");
                }
                Some(id) if out.iter().any(|r| r.matches(id)) => {
                    self.err(format!("{p}.identifier"), format!("{id} is listed twice"));
                }
                _ => {}
            }
            let identifier = identifier.unwrap_or_default();
            let token_type = self
                .checked(&format!("{p}.token_type"), raw.token_type)
                .unwrap_or_default();
            let token_lifetime = self.duration(
                &format!("{p}.token_lifetime"),
                raw.token_lifetime,
                Duration::from_secs(3600),
                MAX_TOKEN_LIFETIME,
            );
            let claims = match raw.claims {
                None => ClaimKind::microsoft_online_defaults(),
                Some(kinds) => self
                    .list(&format!("{p}.claims"), Some(kinds))
                    .into_iter()
                    .map(|(_, k)| k)
                    .collect(),
            };
            let mut reply_urls = Vec::new();
            let mut logout_url = self.checked(&format!("{p}.logout_url"), raw.logout_url);
            let mut signing_cert_der = None;
            if let Some(file) = self.checked(&format!("{p}.metadata_file"), raw.metadata_file) {
                match sp_metadata(Path::new(&file)) {
                    Ok(md) => {
                        if !md.entity_id.eq_ignore_ascii_case(&identifier) {
                            self.err(
                                format!("{p}.metadata_file"),
                                format!(
                                    "entityID {} does not match identifier {identifier}",
                                    md.entity_id
                                ),
                            );
                        }
                        reply_urls.extend(md.acs);
                        logout_url = logout_url.or(md.logout);
                        signing_cert_der = md.signing_cert;
                    }
                    Err(e) => self.err(format!("{p}.metadata_file"), format!("{file}: {e}")),
                }
            }
            for (at, u) in self.list::<String>(&format!("{p}.reply_urls"), raw.reply_urls) {
                if is_reply_url(&u) {
                    reply_urls.push(u);
                } else {
                    self.err(
                        at,
                        format!(
                            "{u:?} must be an absolute https:// URL (http:// only for localhost)"
                        ),
                    );
                }
            }
            if let Some(u) = &logout_url {
                if !is_reply_url(u) {
                    self.err(
                        format!("{p}.logout_url"),
                        format!("{u:?} must be an absolute https:// URL"),
                    );
                }
            }
            if let Some(file) =
                self.checked::<String>(&format!("{p}.signing_cert_file"), raw.signing_cert_file)
            {
                match crate::keys::read_cert_der(Path::new(&file)) {
                    Ok(der) => signing_cert_der = Some(der),
                    Err(e) => self.err(format!("{p}.signing_cert_file"), e.to_string()),
                }
            }
            let require_signed_requests = self
                .checked(
                    &format!("{p}.require_signed_requests"),
                    raw.require_signed_requests,
                )
                .unwrap_or(false);
            if require_signed_requests && signing_cert_der.is_none() {
                self.err(
                    format!("{p}.require_signed_requests"),
                    "needs signing_cert_file or a metadata_file with a signing certificate",
                );
            }
            let logout_path = format!("{p}.logout_requests");
            let issues_before = self.issues.len();
            let logout_written = raw.logout_requests.is_some();
            let logout_requests = self.word(
                &logout_path,
                raw.logout_requests,
                LogoutRequests::default(),
                &[
                    ("require_signed", LogoutRequests::RequireSigned),
                    ("accept_unsigned", LogoutRequests::AcceptUnsigned),
                ],
            );
            // Written, and one of the words (not the default standing in for a refused one).
            let logout_written = logout_written && self.issues.len() == issues_before;
            match logout_requests {
                LogoutRequests::AcceptUnsigned if require_signed_requests => self.err(
                    logout_path,
                    "accept_unsigned contradicts require_signed_requests: true (which requires \
                     signed LogoutRequests too)",
                ),
                LogoutRequests::RequireSigned
                    if logout_written && !require_signed_requests && signing_cert_der.is_none() =>
                {
                    self.err(
                        logout_path,
                        "require_signed needs signing_cert_file or a metadata_file with a \
                         signing certificate",
                    )
                }
                _ => {}
            }
            let name_id_format = self
                .checked(&format!("{p}.name_id_format"), raw.name_id_format)
                .unwrap_or_default();
            let sign = self
                .checked(&format!("{p}.sign"), raw.sign)
                .unwrap_or_default();
            let per_domain_issuer = self
                .checked(&format!("{p}.per_domain_issuer"), raw.per_domain_issuer)
                .unwrap_or(identifier.eq_ignore_ascii_case(MICROSOFT_ONLINE));
            out.push(RelyingParty {
                token_type,
                token_lifetime,
                claims,
                reply_urls,
                name_id_format,
                sign,
                logout_url,
                require_signed_requests,
                logout_requests,
                signing_cert_der,
                per_domain_issuer,
                identifier,
            });
        }
        out
    }
}
