//! `federation:`: how altgate presents itself as an identity provider (issuer, federated
//! domains, internal networks, the `name` claim's order, clock skew).

use super::{
    is_dns_name, Checked, CheckedList, Document, HumanDuration, NameOrder, ServerConfig, Validator,
    HOUR,
};
use serde::Deserialize;
use std::time::Duration;

/// `federation:` as written.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawFederation {
    /// Issuer URI for users outside `federated_domains`; default
    /// `http://{public host}/adfs/services/trust`.
    pub issuer: Option<Checked<String>>,
    /// Domains federated with Entra ID; a user's issuer is `http://{domain}/adfs/services/trust/`
    /// of the domain their UPN claim falls under (sub-domains take their parent's).
    pub federated_domains: Option<CheckedList<String>>,
    /// CIDR blocks whose clients get `insidecorporatenetwork = true`.
    pub internal_networks: Option<CheckedList<String>>,
    /// `given_family` (default) or `family_given` for the `name` claim.
    pub display_name_order: Option<Checked<NameOrder>>,
    /// Tolerated clock difference for WS-Security timestamps (`5m`).
    pub max_clock_skew: Option<Checked<HumanDuration>>,
    /// Issue the password-expiry claims when the password expires within this (`14d`, as AD FS;
    /// `0` disables them; at most 90d). A bare `0` is accepted as well as durations.
    pub password_expiry_notice: Option<Checked<serde_yaml::Value>>,
}

/// `federation:`.
#[derive(Debug, Clone)]
pub struct Federation {
    /// Default issuer.
    pub issuer: String,
    /// Federated domains, lower case.
    pub federated_domains: Vec<String>,
    /// Internal networks.
    pub internal_networks: Vec<ipnet::IpNet>,
    /// `name` claim order.
    pub display_name_order: NameOrder,
    /// `max_clock_skew` (default 5m, at most [`MAX_CLOCK_SKEW`], 1h): tolerance for
    /// WS-Security timestamps and SAML IssueInstants; the SAML replay window is twice it plus
    /// five minutes.
    pub max_clock_skew: Duration,
    /// `password_expiry_notice` (default 14 days as AD FS, `0` disables, at most
    /// `MAX_PASSWORD_EXPIRY_NOTICE`, 90 days): a password sign-in whose password expires
    /// within it gets the password-expiry claims (relying parties with the `password_expiry`
    /// claim). Zero also skips the domain-controller read at each password sign-in.
    pub password_expiry_notice: Duration,
}

/// Default `federation.password_expiry_notice`: AD FS's fixed 14 days.
pub const DEFAULT_PASSWORD_EXPIRY_NOTICE: Duration = Duration::from_secs(14 * 86_400);
/// Longest `federation.password_expiry_notice`: 90 days (a notice further out is noise, and
/// the common maximum password age is 42 to 90 days).
pub const MAX_PASSWORD_EXPIRY_NOTICE: Duration = Duration::from_secs(90 * 86_400);

/// Longest `federation.max_clock_skew`: 1 hour (clocks further apart are broken, and a
/// longer window lets captured requests be replayed for longer).
pub const MAX_CLOCK_SKEW: Duration = HOUR;

impl Validator {
    /// `federation:`; the issuer defaults to one on the public URL's host.
    pub(super) fn federation(
        &mut self,
        doc: &mut Document,
        server: Option<&ServerConfig>,
    ) -> Federation {
        let raw: RawFederation = self.take(doc, "federation").unwrap_or_default();
        let host = server.map_or("localhost", |s| s.public_url.host());
        let issuer = self
            .checked("federation.issuer", raw.issuer)
            .unwrap_or_else(|| format!("http://{host}/adfs/services/trust"));
        let mut federated_domains = Vec::new();
        for (at, d) in self.list::<String>("federation.federated_domains", raw.federated_domains) {
            let d = d.trim().to_ascii_lowercase();
            if is_dns_name(&d) {
                federated_domains.push(d);
            } else {
                self.err(at, format!("{d:?} is not a DNS name"));
            }
        }
        let mut internal_networks = Vec::new();
        for (at, n) in self.list::<String>("federation.internal_networks", raw.internal_networks) {
            match n.trim().parse::<ipnet::IpNet>() {
                Ok(net) => internal_networks.push(net),
                Err(_) => self.err(at, format!("{n:?} is not a CIDR block such as 10.0.0.0/8")),
            }
        }
        let display_name_order = self
            .checked("federation.display_name_order", raw.display_name_order)
            .unwrap_or_default();
        let notice = self.checked(
            "federation.password_expiry_notice",
            raw.password_expiry_notice,
        );
        let password_expiry_notice = self.password_expiry_notice(notice);
        Federation {
            issuer,
            federated_domains,
            internal_networks,
            display_name_order,
            max_clock_skew: self.duration(
                "federation.max_clock_skew",
                raw.max_clock_skew,
                Duration::from_secs(300),
                MAX_CLOCK_SKEW,
            ),
            password_expiry_notice,
        }
    }

    /// `federation.password_expiry_notice`: zero allowed (disables), at most 90 days.
    fn password_expiry_notice(&mut self, raw: Option<serde_yaml::Value>) -> Duration {
        const PATH: &str = "federation.password_expiry_notice";
        let notice = match raw {
            None => return DEFAULT_PASSWORD_EXPIRY_NOTICE,
            Some(serde_yaml::Value::Number(n)) if n.as_u64() == Some(0) => Duration::ZERO,
            Some(v) => match self.typed::<HumanDuration>(PATH, v) {
                Some(HumanDuration(d)) => d,
                None => return DEFAULT_PASSWORD_EXPIRY_NOTICE,
            },
        };
        if notice > MAX_PASSWORD_EXPIRY_NOTICE {
            self.err(PATH, "must be at most 90d (0 disables the claims)");
            return DEFAULT_PASSWORD_EXPIRY_NOTICE;
        }
        notice
    }
}
