//! `passive:`: browser sign-in at `/adfs/ls/` (WS-Federation and SAML 2.0), the SSO session
//! (lifetimes, the shared session key, IdP-initiated sign-on), the sign-in page's branding
//! ([`super::branding`]) and, in demo mode only, the built-in demo relying party ([`demo`]).

use super::branding::{Branding, RawBranding, RawPageTexts, RawPasswordPageTexts};
use super::secret_source::SecretKeys;
use super::{Checked, Document, HumanDuration, PublicUrl, Validator, DAY};
use crate::secret::Secret;
use base64::Engine;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// `passive:` as written.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawPassive {
    /// Organisation name shown on the sign-in page.
    pub organization_name: Option<Checked<String>>,
    /// Which identifier users should type, shown under the user name field
    /// (AD FS: "sign in with your e-mail address").
    pub sign_in_hint: Option<Checked<String>>,
    /// Longest an SSO session lives after the password was typed (`8h`).
    pub session_lifetime: Option<Checked<HumanDuration>>,
    /// A session unused this long ends (`1h`).
    pub session_idle_timeout: Option<Checked<HumanDuration>>,
    /// How old an account-state read (enabled, password last set) an SSO reuse or an OAuth
    /// refresh may rely on (`30s`; `0s`: read on a DC at every reuse; at most 10m).
    pub account_state_max_age: Option<Checked<HumanDuration>>,
    /// File holding the session key (32 bytes or more, base64); every node of a farm uses the
    /// same one. Without it a single node generates one at start (and warns).
    pub session_key_file: Option<Checked<String>>,
    /// Environment variable holding the session key instead.
    pub session_key_env: Option<Checked<String>>,
    /// Allow `/adfs/ls/IdpInitiatedSignOn.aspx?loginToRp=...` (off, as on AD FS 2016+).
    pub idp_initiated_sign_on: Option<Checked<bool>>,
    /// Logo file shown on the pages (PNG, JPEG, GIF, WebP or SVG).
    pub logo_file: Option<Checked<String>>,
    /// Accent colour, `#rrggbb`.
    pub accent_color: Option<Checked<String>>,
    /// Where the help-desk link goes.
    pub help_desk_url: Option<Checked<String>>,
    /// Per-language overrides of the pages' strings: language tag → key → text.
    pub texts: Option<Checked<BTreeMap<String, Checked<RawPageTexts>>>>,
    /// Per-language overrides of the password-change pages' strings: language tag → key → text.
    pub password_texts: Option<Checked<BTreeMap<String, Checked<RawPasswordPageTexts>>>>,
    /// Demo mode only: the built-in demo relying party at `/demo/` (default false).
    pub demo_relying_party: Option<Checked<bool>>,
    /// Serve the voluntary password-change page at `/adfs/portal/updatepassword/` (off, as on
    /// AD FS).
    pub update_password_page: Option<Checked<bool>>,
}

/// `passive:`.
#[derive(Debug, Clone)]
pub struct PassiveConfig {
    /// Shown on the sign-in page.
    pub organization_name: String,
    /// Which identifier to type.
    pub sign_in_hint: String,
    /// `session_lifetime` (default 8h, at most [`MAX_SESSION`], 30 days): absolute SSO session
    /// lifetime.
    pub session_lifetime: Duration,
    /// `session_idle_timeout` (default 1h, at most [`MAX_SESSION`], 30 days): idle timeout.
    pub session_idle_timeout: Duration,
    /// `account_state_max_age` (default 30s, 0 to 10 minutes): how long one node reuses an
    /// account-state read for SSO reuse and OAuth refresh.
    pub account_state_max_age: Duration,
    /// Shared session key (32+ bytes); `None`: generate per process.
    pub session_key: Option<Secret>,
    /// IdP-initiated sign-on enabled.
    pub idp_initiated_sign_on: bool,
    /// Logo, accent colour, help desk and texts of the pages.
    pub branding: Branding,
    /// `demo_relying_party`: the built-in demo relying party ([`demo`]) is served; only
    /// allowed in demo mode (`demo_directory`).
    pub demo_relying_party: bool,
    /// `update_password_page` (default false, as AD FS's "Update Password Page" endpoint): the
    /// voluntary password-change page at `/adfs/portal/updatepassword/` is served; when off
    /// that URL answers 404. Expired and must-change passwords are changed at sign-in either
    /// way.
    pub update_password_page: bool,
}

/// The built-in demo relying party: an application inside altgate that receives tokens at
/// [`demo::WSFED`] and [`demo::SAML`], verifies them as a service provider would and shows
/// who signed in. It exists only in demo mode (`demo_directory` set and
/// `passive.demo_relying_party: true`); check-config refuses it otherwise.
pub mod demo {
    use crate::config::{ClaimKind, NameIdFormat, PublicUrl, RelyingParty, SamlSigning, TokenType};
    use crate::endpoint::Endpoint;

    /// Its identifier (WS-Fed realm, SAML entityID).
    pub const IDENTIFIER: &str = "urn:altgate:demo";
    /// Its start page.
    pub const HOME: &str = Endpoint::DemoHome.path();
    /// Where WS-Federation tokens are posted (and where its WS-Fed sign-in starts).
    pub const WSFED: &str = Endpoint::DemoWsfed.path();
    /// Its SAML assertion consumer service (and where its SAML sign-in starts).
    pub const SAML: &str = Endpoint::DemoSaml.path();

    /// The relying party registration, with reply URLs under `public_url`.
    pub fn relying_party(public_url: &PublicUrl) -> RelyingParty {
        RelyingParty {
            identifier: IDENTIFIER.to_string(),
            token_type: TokenType::Saml11,
            token_lifetime: std::time::Duration::from_secs(3600),
            claims: vec![
                ClaimKind::Upn,
                ClaimKind::ImmutableId,
                ClaimKind::AlternateLoginId,
                ClaimKind::Name,
                ClaimKind::GivenName,
                ClaimKind::Surname,
                ClaimKind::InsideCorporateNetwork,
            ],
            reply_urls: [WSFED, SAML, HOME]
                .iter()
                .map(|p| public_url.join(p))
                .collect(),
            name_id_format: NameIdFormat::Persistent,
            sign: SamlSigning::Assertion,
            logout_url: None,
            require_signed_requests: false,
            logout_requests: crate::config::LogoutRequests::RequireSigned,
            signing_cert_der: None,
            per_domain_issuer: false,
        }
    }
}

/// Default `passive.account_state_max_age`.
pub const DEFAULT_ACCOUNT_STATE_AGE: Duration = Duration::from_secs(30);
/// Longest `passive.account_state_max_age`.
pub const MAX_ACCOUNT_STATE_AGE: Duration = Duration::from_secs(600);

/// Longest `passive.session_lifetime` and `passive.session_idle_timeout`: 30 days (a password
/// typed once a month at least).
pub const MAX_SESSION: Duration = Duration::from_secs(30 * DAY.as_secs());

impl Validator {
    /// `passive:`; defaults when absent. The session key, when configured, must be base64 of
    /// 32 bytes or more; the demo relying party needs `demo` mode.
    /// `passive.account_state_max_age`: zero allowed (read every time), at most
    /// [`MAX_ACCOUNT_STATE_AGE`].
    fn account_state_max_age(&mut self, raw: Option<Checked<HumanDuration>>) -> Duration {
        let path = "passive.account_state_max_age";
        match self.checked(path, raw) {
            None => DEFAULT_ACCOUNT_STATE_AGE,
            Some(HumanDuration(d)) if d > MAX_ACCOUNT_STATE_AGE => {
                self.err(path, "must be at most 10m");
                DEFAULT_ACCOUNT_STATE_AGE
            }
            Some(HumanDuration(d)) => d,
        }
    }

    pub(super) fn passive(&mut self, doc: &mut Document, demo: bool) -> PassiveConfig {
        let raw: RawPassive = self.take(doc, "passive").unwrap_or_default();
        let flag = |v: &mut Validator, key: &str, raw: Option<Checked<bool>>| {
            v.checked(&format!("passive.{key}"), raw).unwrap_or(false)
        };
        let demo_relying_party = flag(self, "demo_relying_party", raw.demo_relying_party);
        if demo_relying_party && !demo {
            self.err(
                "passive.demo_relying_party",
                "only allowed in demo mode (demo_directory): the demo relying party is a test application, never part of a deployment",
            );
        }
        let branding = RawBranding {
            logo_file: self.checked("passive.logo_file", raw.logo_file),
            accent_color: self.checked("passive.accent_color", raw.accent_color),
            help_desk_url: self.checked("passive.help_desk_url", raw.help_desk_url),
            texts: self.checked("passive.texts", raw.texts),
            password_texts: self.checked("passive.password_texts", raw.password_texts),
        };
        let branding = self.branding(branding);
        let session_key = self
            .secret(
                "passive",
                "session_key",
                SecretKeys {
                    env: raw.session_key_env,
                    file: raw.session_key_file,
                },
                false,
            )
            .and_then(|(key, text)| {
                let text = text.expose().trim();
                match base64::engine::general_purpose::STANDARD.decode(text) {
                    Ok(bytes) if bytes.len() >= 32 => Some(Secret::new(text.to_string())),
                    _ => {
                        self.err(
                            key,
                            "must be base64 of at least 32 random bytes (openssl rand -base64 32)",
                        );
                        None
                    }
                }
            });
        PassiveConfig {
            organization_name: self
                .checked("passive.organization_name", raw.organization_name)
                .unwrap_or_else(|| "altgate".into()),
            sign_in_hint: self
                .checked("passive.sign_in_hint", raw.sign_in_hint)
                .unwrap_or_else(|| "someone@example.com".into()),
            session_lifetime: self.duration(
                "passive.session_lifetime",
                raw.session_lifetime,
                Duration::from_secs(8 * 3600),
                MAX_SESSION,
            ),
            session_idle_timeout: self.duration(
                "passive.session_idle_timeout",
                raw.session_idle_timeout,
                Duration::from_secs(3600),
                MAX_SESSION,
            ),
            account_state_max_age: self.account_state_max_age(raw.account_state_max_age),
            session_key,
            idp_initiated_sign_on: flag(self, "idp_initiated_sign_on", raw.idp_initiated_sign_on),
            branding,
            demo_relying_party: demo_relying_party && demo,
            update_password_page: flag(self, "update_password_page", raw.update_password_page),
        }
    }
}

impl Validator {
    /// Registers the demo relying party (demo mode, `passive.demo_relying_party`), unless a
    /// configured relying party already uses its identifier.
    pub(super) fn demo_relying_party(
        &mut self,
        relying_parties: &mut Vec<super::RelyingParty>,
        public_url: &PublicUrl,
    ) {
        if relying_parties.iter().any(|r| r.matches(demo::IDENTIFIER)) {
            self.err(
                "passive.demo_relying_party",
                format!(
                    "a configured relying party already uses {}, the demo relying party's identifier",
                    demo::IDENTIFIER
                ),
            );
            return;
        }
        relying_parties.push(demo::relying_party(public_url));
    }
}

#[cfg(test)]
mod tests {
    use crate::config::branding::PasswordPageTexts;
    use crate::config::{demo, Config};

    const BASE: &str = "server: { listen: 127.0.0.1:0, public_url: https://sts.example.test }\n\
                        forests: [{ name: contoso.com }]\n";

    fn issues(text: &str) -> Vec<String> {
        match Config::parse(text, "t.yaml") {
            Ok(_) => Vec::new(),
            Err(e) => e.issues.iter().map(|i| i.to_string()).collect(),
        }
    }

    #[test]
    fn the_demo_relying_party_exists_only_in_demo_mode() {
        let demo_mode = format!(
            "{BASE}demo_directory: config/demo-directory.yaml\npassive: {{ demo_relying_party: true }}\n"
        );
        let c = Config::parse(&demo_mode, "t").expect("demo mode allows it");
        let rp = c
            .relying_parties
            .iter()
            .find(|r| r.identifier == demo::IDENTIFIER)
            .expect("registered");
        assert_eq!(
            rp.reply_urls.first().map(String::as_str),
            Some("https://sts.example.test/demo/wsfed")
        );
        let real = BASE.replace(
            "{ name: contoso.com }",
            "{ name: contoso.com, global_catalogs: ['ldaps://dc1.contoso.com'], service_account: { user: svc, password_file: Cargo.toml } }",
        ) + "passive: { demo_relying_party: true }\n";
        let found = issues(&real);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with("passive.demo_relying_party: only allowed in demo mode"),
            "{found:?}"
        );
        let taken = format!(
            "{demo_mode}relying_parties: [{{ identifier: '{}', reply_urls: ['https://rp.example.test/'] }}]\n",
            demo::IDENTIFIER
        );
        assert!(issues(&taken)
            .iter()
            .any(|i| i.contains("already uses urn:altgate:demo")));
    }

    #[test]
    fn branding_problems_name_their_keys() {
        let text = format!(
            "{BASE}demo_directory: config/demo-directory.yaml\n\
             passive:\n  logo_file: Cargo.toml\n  accent_color: '#ffcc00'\n  help_desk_url: 'javascript:alert(1)'\n\
             \x20 texts:\n    de: {{ heading: Anmelden }}\n    EN: {{ heading: x }}\n    ja: {{ heading: '{}' }}\n",
            "x".repeat(1001)
        );
        let found = issues(&text);
        for key in [
            "passive.logo_file: Cargo.toml is not a PNG, JPEG, GIF, WebP or SVG image",
            "passive.accent_color: #ffcc00 has a contrast of 1.5:1 against white",
            "passive.help_desk_url:",
            "passive.texts.de: altgate does not ship this language, so every string must be given; missing: user_name,",
            "passive.texts.EN: not a language tag",
            "passive.texts.ja.heading: longer than 1000 characters",
        ] {
            assert!(found.iter().any(|i| i.starts_with(key)), "{key} in {found:#?}");
        }
        let typo = format!("{BASE}demo_directory: config/demo-directory.yaml\npassive: {{ texts: {{ en: {{ heding: x }} }} }}\n");
        assert!(
            issues(&typo)
                .iter()
                .any(|i| i.starts_with("passive.texts.en.heding: unknown field")),
            "{:?}",
            issues(&typo)
        );
    }

    #[test]
    fn password_change_texts_follow_the_same_rules_and_need_a_language_the_pages_speak() {
        let text = format!(
            "{BASE}demo_directory: config/demo-directory.yaml\n\
             passive:\n  password_texts:\n    ja: {{ submit: 変更 }}\n    fr: {{ heading: Mettre à jour }}\n    EN: {{ heading: x }}\n    en: {{ policy: '{}' }}\n",
            "x".repeat(1001)
        );
        let found = issues(&text);
        for key in [
            "passive.password_texts.fr: altgate does not ship this language, so every string must be given; missing: expired,",
            "passive.password_texts.EN: not a language tag",
            "passive.password_texts.en.policy: longer than 1000 characters",
        ] {
            assert!(found.iter().any(|i| i.starts_with(key)), "{key} in {found:#?}");
        }
        assert!(
            !found
                .iter()
                .any(|i| i.starts_with("passive.password_texts.ja")),
            "{found:#?}"
        );
        // Every string of a new language, but the sign-in pages do not speak it.
        let keys = PasswordPageTexts::KEYS
            .iter()
            .map(|k| format!("{k}: x"))
            .collect::<Vec<_>>()
            .join(", ");
        let text = format!(
            "{BASE}demo_directory: config/demo-directory.yaml\npassive: {{ password_texts: {{ de: {{ {keys} }} }} }}\n"
        );
        let found = issues(&text);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(
            found[0].starts_with(
                "passive.password_texts.de: the sign-in pages do not speak this language"
            ),
            "{found:#?}"
        );
        let typo = format!("{BASE}demo_directory: config/demo-directory.yaml\npassive: {{ password_texts: {{ en: {{ headin: x }} }} }}\n");
        assert!(issues(&typo)
            .iter()
            .any(|i| i.starts_with("passive.password_texts.en.headin: unknown field")));
    }

    #[test]
    fn the_update_password_page_is_off_unless_asked_for() {
        let demo_mode = format!("{BASE}demo_directory: config/demo-directory.yaml\n");
        let c = Config::parse(&demo_mode, "t").expect("parses");
        assert!(
            !c.passive.update_password_page,
            "off by default, as in AD FS"
        );
        let on = format!("{demo_mode}passive: {{ update_password_page: true }}\n");
        assert!(
            Config::parse(&on, "t")
                .expect("parses")
                .passive
                .update_password_page
        );
        let bad = format!("{demo_mode}passive: {{ update_password_page: maybe }}\n");
        assert!(
            issues(&bad).iter().any(|i| i.contains("passive")),
            "{:?}",
            issues(&bad)
        );
    }
}
