//! `kerberos:` (the service's keys) and `windows_integrated:` (where Windows integrated sign-in
//! is offered): Kerberos on `/adfs/ls/` for internal browsers and WS-Trust `windowstransport`
//! for internal Windows devices and rich clients.

use super::{is_dns_name, Checked, CheckedList, Document, Validator};
use crate::keytab::{self, KeyEntry};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// `kerberos:` as written.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawKerberos {
    /// The keytab holding the service principal's keys (`HTTP/<sts host>`), exported with
    /// `ktpass` or `samba-tool domain exportkeytab`. Required.
    pub keytab_file: Option<Checked<String>>,
    /// The service principal to accept tickets for (`HTTP/sts.contoso.com`, realm optional);
    /// default: any principal in the keytab.
    pub service_principal: Option<Checked<String>>,
    /// Realm → forest, where a realm is not its forest's DNS name (or a child domain of it).
    pub realms: Option<Checked<BTreeMap<String, String>>>,
}

/// `kerberos:`.
#[derive(Debug, Clone)]
pub struct KerberosConfig {
    /// The keytab file.
    pub keytab_file: PathBuf,
    /// The one service principal accepted (as written), or any in the keytab.
    pub service_principal: Option<String>,
    /// Explicit realm → forest mappings (realm upper case, forest as configured).
    pub realms: BTreeMap<String, String>,
    /// The keytab's entries as read at validation (principals, key versions, encryption
    /// types; no keys).
    pub keys: Vec<KeyEntry>,
}

impl KerberosConfig {
    /// The keytab's entries for the accepted principal(s).
    pub fn accepted_keys(&self) -> Vec<&KeyEntry> {
        self.keys
            .iter()
            .filter(|k| {
                self.service_principal
                    .as_deref()
                    .is_none_or(|p| principal_matches(p, &k.principal))
            })
            .collect()
    }
}

/// True when keytab principal `entry` (`HTTP/host@REALM`) is `wanted` (`HTTP/host` or
/// `HTTP/host@REALM`); the host part compares case-insensitively, as DNS names do.
pub fn principal_matches(wanted: &str, entry: &str) -> bool {
    let (w_name, w_realm) = wanted
        .rsplit_once('@')
        .map_or((wanted, None), |(n, r)| (n, Some(r)));
    let Some((e_name, e_realm)) = entry.rsplit_once('@') else {
        return false;
    };
    w_name.eq_ignore_ascii_case(e_name) && w_realm.is_none_or(|r| r == e_realm)
}

/// `windows_integrated:` as written.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawWindowsIntegrated {
    /// Answer `401 Negotiate` (with the sign-in form as its body) on `/adfs/ls/` to internal
    /// browsers whose User-Agent is in `user_agents` (default true when `kerberos` is set).
    pub browser: Option<Checked<bool>>,
    /// WS-Trust `windowstransport` (2005 and 1.3) for internal clients: hybrid join of Windows
    /// devices, integrated sign-in of rich clients (default true when `kerberos` is set).
    pub windows_transport: Option<Checked<bool>>,
    /// User-Agents offered Negotiate: a substring each, or a regular expression after `=~`
    /// (AD FS's `WIASupportedUserAgents` syntax). Replaces the default list.
    pub user_agents: Option<CheckedList<String>>,
    /// The verified domain whose issuer (`http://<domain>/adfs/services/trust/`) a computer's
    /// token carries (`issuerid`); default: the first `federation.federated_domains` entry.
    pub device_issuer_domain: Option<Checked<String>>,
}

/// One User-Agent rule.
#[derive(Debug, Clone)]
pub enum UserAgentRule {
    /// The User-Agent contains this.
    Contains(String),
    /// The User-Agent matches this expression (written `=~...`).
    Matches(regex::Regex),
}

impl UserAgentRule {
    /// A rule as written: a regular expression after `=~`, else a substring.
    pub fn parse(rule: &str) -> Result<Self, regex::Error> {
        Ok(match rule.strip_prefix("=~") {
            Some(expr) => {
                UserAgentRule::Matches(regex::RegexBuilder::new(expr).size_limit(1 << 16).build()?)
            }
            None => UserAgentRule::Contains(rule.to_string()),
        })
    }

    /// True when `ua` matches.
    pub fn matches(&self, ua: &str) -> bool {
        match self {
            UserAgentRule::Contains(s) => ua.contains(s.as_str()),
            UserAgentRule::Matches(r) => r.is_match(ua),
        }
    }
}

/// AD FS's `WIASupportedUserAgents` (Microsoft's recommended list for AD FS 2016/2019), its
/// Chromium Edge expression, and Chrome on Windows and macOS (which AD FS admins add by hand).
pub const DEFAULT_USER_AGENTS: &[&str] = &[
    "MSIE 6.0",
    "MSIE 7.0; Windows NT",
    "MSIE 8.0",
    "MSIE 9.0",
    "MSIE 10.0; Windows NT 6",
    "Windows NT 6.3; Trident/7.0",
    "Windows NT 6.3; Win64; x64; Trident/7.0",
    "Windows NT 6.3; WOW64; Trident/7.0",
    "Windows NT 6.2; Trident/7.0",
    "Windows NT 6.2; Win64; x64; Trident/7.0",
    "Windows NT 6.2; WOW64; Trident/7.0",
    "Windows NT 6.1; Trident/7.0",
    "Windows NT 6.1; Win64; x64; Trident/7.0",
    "Windows NT 6.1; WOW64; Trident/7.0",
    "Windows NT 10.0; WOW64; Trident/7.0",
    "MSIPC",
    "Windows Rights Management Client",
    r"=~Windows\s*NT.*Edg.*",
    "Mozilla/5.0 (Windows NT",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X",
];

/// Longest User-Agent rule, in bytes.
const MAX_RULE_BYTES: usize = 256;

/// `windows_integrated:`.
#[derive(Debug, Clone)]
pub struct WindowsIntegrated {
    /// Negotiate on `/adfs/ls/` for internal browsers.
    pub browser: bool,
    /// WS-Trust `windowstransport`, internal only.
    pub windows_transport: bool,
    /// User-Agents offered Negotiate on `/adfs/ls/`.
    pub user_agents: Vec<UserAgentRule>,
    /// `issuerid` domain for computer accounts.
    pub device_issuer_domain: Option<String>,
}

impl WindowsIntegrated {
    /// Off: what a configuration without `kerberos:` has.
    pub fn off() -> Self {
        WindowsIntegrated {
            browser: false,
            windows_transport: false,
            user_agents: Vec::new(),
            device_issuer_domain: None,
        }
    }

    /// True when `ua` is offered Negotiate.
    pub fn user_agent_supported(&self, ua: &str) -> bool {
        self.user_agents.iter().any(|r| r.matches(ua))
    }
}

impl Validator {
    /// `kerberos:`; `None` when absent.
    pub(super) fn kerberos(
        &mut self,
        doc: &mut Document,
        forests: &[String],
    ) -> Option<KerberosConfig> {
        let raw: RawKerberos = self.take(doc, "kerberos")?;
        let keytab_file = self.required(
            "kerberos.keytab_file",
            raw.keytab_file,
            " (the service principal's keytab, e.g. /etc/altgate/http.keytab)",
        );
        let service_principal = self
            .checked::<String>("kerberos.service_principal", raw.service_principal)
            .map(|p| p.trim().to_string());
        if let Some(p) = &service_principal {
            let name = p.split('@').next().unwrap_or_default();
            if !name.contains('/') || p.chars().any(|c| c.is_control() || c.is_whitespace()) {
                self.err(
                    "kerberos.service_principal",
                    format!("{p:?} is not a service principal such as HTTP/sts.contoso.com"),
                );
            }
        }
        let mut realms = BTreeMap::new();
        for (realm, forest) in self
            .checked("kerberos.realms", raw.realms)
            .unwrap_or_default()
        {
            let at = format!("kerberos.realms.{realm}");
            if !is_dns_name(&realm.to_ascii_lowercase()) {
                self.err(
                    &at,
                    format!("{realm:?} is not a realm name such as CONTOSO.COM"),
                );
            } else if !forests.contains(&forest) {
                self.err(
                    &at,
                    format!("{forest:?} is not a configured forest (forests[].name)"),
                );
            } else {
                realms.insert(realm.to_ascii_uppercase(), forest);
            }
        }
        let keytab_file = PathBuf::from(keytab_file?);
        let keys = match keytab::read(&keytab_file) {
            Ok(keys) => keys,
            Err(e) => {
                self.err("kerberos.keytab_file", e.to_string());
                Vec::new()
            }
        };
        let config = KerberosConfig {
            keytab_file,
            service_principal,
            realms,
            keys,
        };
        if !config.keys.is_empty() && config.accepted_keys().is_empty() {
            let held: Vec<&str> = config.keys.iter().map(|k| k.principal.as_str()).collect();
            self.err(
                "kerberos.service_principal",
                format!(
                    "the keytab has no key for {:?}; it holds: {}",
                    config.service_principal.as_deref().unwrap_or_default(),
                    held.join(", ")
                ),
            );
        }
        Some(config)
    }

    /// `windows_integrated:`; off without `kerberos:`.
    pub(super) fn windows_integrated(
        &mut self,
        doc: &mut Document,
        kerberos: bool,
    ) -> WindowsIntegrated {
        let raw: Option<RawWindowsIntegrated> = self.take(doc, "windows_integrated");
        let raw = match (raw, kerberos) {
            (None, false) => return WindowsIntegrated::off(),
            (Some(r), false) => {
                let on = |b: &Option<Checked<bool>>| b.is_some();
                if on(&r.browser) || on(&r.windows_transport) {
                    self.err(
                        "windows_integrated",
                        "needs the kerberos section (kerberos.keytab_file)",
                    );
                }
                return WindowsIntegrated::off();
            }
            (raw, true) => raw.unwrap_or_default(),
        };
        let browser = self
            .checked("windows_integrated.browser", raw.browser)
            .unwrap_or(true);
        let windows_transport = self
            .checked(
                "windows_integrated.windows_transport",
                raw.windows_transport,
            )
            .unwrap_or(true);
        let written = match raw.user_agents {
            None => DEFAULT_USER_AGENTS
                .iter()
                .enumerate()
                .map(|(i, s)| (format!("(default)[{i}]"), (*s).to_string()))
                .collect(),
            Some(list) => self.list::<String>("windows_integrated.user_agents", Some(list)),
        };
        let mut user_agents = Vec::new();
        for (at, rule) in written {
            if rule.is_empty() || rule.len() > MAX_RULE_BYTES {
                self.err(at, "must be 1 to 256 bytes");
            } else {
                match UserAgentRule::parse(&rule) {
                    Ok(r) => user_agents.push(r),
                    Err(e) => self.err(at, format!("not a regular expression: {e}")),
                }
            }
        }
        let device_issuer_domain = self
            .checked::<String>(
                "windows_integrated.device_issuer_domain",
                raw.device_issuer_domain,
            )
            .map(|d| d.trim().to_ascii_lowercase());
        if let Some(d) = &device_issuer_domain {
            if !is_dns_name(d) {
                self.err(
                    "windows_integrated.device_issuer_domain",
                    format!("{d:?} is not a DNS name"),
                );
            }
        }
        WindowsIntegrated {
            browser,
            windows_transport,
            user_agents,
            device_issuer_domain,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_principals_match_with_or_without_realm() {
        let e = "HTTP/sts.contoso.com@CONTOSO.COM";
        assert!(principal_matches("HTTP/sts.contoso.com", e));
        assert!(principal_matches("HTTP/STS.contoso.com@CONTOSO.COM", e));
        assert!(!principal_matches("HTTP/sts.contoso.com@FABRIKAM.COM", e));
        assert!(!principal_matches("HTTP/other.contoso.com", e));
    }

    #[test]
    fn default_user_agents_cover_edge_chrome_and_ie_but_not_linux() {
        let w = WindowsIntegrated {
            user_agents: DEFAULT_USER_AGENTS
                .iter()
                .map(|s| UserAgentRule::parse(s).expect("a default rule"))
                .collect(),
            ..WindowsIntegrated::off()
        };
        let edge = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0";
        let ie11 =
            "Mozilla/5.0 (compatible; Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko";
        let mac = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
        let linux = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15";
        assert!(w.user_agent_supported(edge));
        assert!(w.user_agent_supported(ie11));
        assert!(w.user_agent_supported(mac));
        assert!(!w.user_agent_supported(linux));
        assert!(!w.user_agent_supported(iphone));
        assert!(!w.user_agent_supported(""));
    }
}
