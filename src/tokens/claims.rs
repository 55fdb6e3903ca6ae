//! Claims: what altgate says about a signed-in user, derived from the resolved account and the
//! sign-in context, with the claim types Microsoft 365 / Entra ID expect. Which claims exist
//! and the `name` claim's order are configuration vocabulary ([`crate::config::ClaimKind`],
//! [`crate::config::NameOrder`]); this module maps them onto an account.

use crate::config::{
    ClaimKind, NameOrder, PASSWORD_CHANGE_URL, PASSWORD_EXPIRATION_DAYS, PASSWORD_EXPIRATION_TIME,
};
use crate::directory::password_expiry::expiry_notice;
use crate::resolve::{ResolvedAccount, Via};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The facts claims are made from.
#[derive(Debug, Clone)]
pub struct Subject<'a> {
    /// The resolved account.
    pub account: &'a ResolvedAccount,
    /// How it was found.
    pub via: Via,
    /// The login as typed (trimmed).
    pub login: &'a str,
    /// Request from an internal network.
    pub inside_corporate_network: bool,
}

impl Subject<'_> {
    /// The cloud UPN: with an alternate login ID, the typed value; otherwise the on-premises UPN.
    pub fn cloud_upn(&self) -> String {
        match self.via {
            Via::AlternateLoginId => self.login.to_string(),
            _ => self
                .account
                .user_principal_name
                .clone()
                .unwrap_or_else(|| self.login.to_string()),
        }
    }

    /// The display name in `order`, falling back to `displayName`.
    pub fn name(&self, order: NameOrder) -> Option<String> {
        match (&self.account.given_name, &self.account.surname) {
            (Some(g), Some(s)) => Some(match order {
                NameOrder::GivenFamily => format!("{g} {s}"),
                NameOrder::FamilyGiven => format!("{s} {g}"),
            }),
            _ => self.account.display_name.clone(),
        }
    }
}

/// The issuer for a UPN: `http://{domain}/adfs/services/trust/` of the federated domain the
/// UPN's suffix equals or is a sub-domain of (the longest such), or `None`.
pub fn issuer_for_upn(upn: &str, federated_domains: &[String]) -> Option<String> {
    let suffix = upn.rsplit_once('@')?.1.to_ascii_lowercase();
    federated_domains
        .iter()
        .filter(|d| suffix == **d || suffix.ends_with(&format!(".{d}")))
        .max_by_key(|d| d.len())
        .map(|d| format!("http://{d}/adfs/services/trust/"))
}

/// The attribute claims (type URI, value) for `kinds`.
pub fn attribute_claims(
    kinds: &[ClaimKind],
    subject: &Subject<'_>,
    order: NameOrder,
    issuer_id: Option<&str>,
) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for kind in kinds {
        let value = match kind {
            ClaimKind::Upn => Some(subject.cloud_upn()),
            ClaimKind::ImmutableId => subject.account.immutable_id.clone(),
            ClaimKind::AlternateLoginId => {
                (subject.via == Via::AlternateLoginId).then(|| subject.login.to_string())
            }
            ClaimKind::Name => subject.name(order),
            ClaimKind::GivenName => subject.account.given_name.clone(),
            ClaimKind::Surname => subject.account.surname.clone(),
            ClaimKind::InsideCorporateNetwork => Some(subject.inside_corporate_network.to_string()),
            ClaimKind::IssuerId => issuer_id.map(str::to_string),
            // Three claims from the sign-in, not the account: [`password_expiry_claims`].
            ClaimKind::PasswordExpiry => None,
        };
        if let Some(v) = value {
            out.push((kind.uri(), v));
        }
    }
    out
}

/// AD FS's password-expiry claims for a password that expires at `expires_at`, seen at `now`:
/// `passwordexpirationtime` (UTC `xs:dateTime`, whole seconds), `passwordexpirationdays` (whole
/// days left, rounded down) and, when a change page is offered, `passwordchangeurl`. Empty
/// unless the password expires after `now` and within `horizon` (AD FS: 14 days; zero: never).
pub fn password_expiry_claims(
    expires_at: Option<OffsetDateTime>,
    now: OffsetDateTime,
    horizon: std::time::Duration,
    change_url: Option<&str>,
) -> Vec<(&'static str, String)> {
    let Some(expires_at) = expires_at else {
        return Vec::new();
    };
    let Some(days) = expiry_notice(expires_at, now, horizon) else {
        return Vec::new();
    };
    let Ok(time) = expires_at
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .map_err(|_| ())
        .and_then(|t| t.format(&Rfc3339).map_err(|_| ()))
    else {
        return Vec::new();
    };
    let mut out = vec![
        (PASSWORD_EXPIRATION_TIME, time),
        (PASSWORD_EXPIRATION_DAYS, days.to_string()),
    ];
    if let Some(url) = change_url {
        out.push((PASSWORD_CHANGE_URL, url.to_string()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account() -> ResolvedAccount {
        ResolvedAccount {
            forest: "contoso.com".into(),
            domain: "contoso.com".into(),
            netbios_domain: Some("CONTOSO".into()),
            user_principal_name: Some("jdoe@corp.contoso.local".into()),
            sam_account_name: "jdoe".into(),
            distinguished_name: "CN=John Doe,CN=Users,DC=contoso,DC=com".into(),
            immutable_id: Some("AAECAwQFBgcICQoLDA0ODw==".into()),
            display_name: Some("John Doe".into()),
            given_name: Some("John".into()),
            surname: Some("Doe".into()),
            enabled: true,
        }
    }

    #[test]
    fn cloud_upn_is_the_alternate_id_when_used() {
        let a = account();
        let s = Subject {
            account: &a,
            via: Via::AlternateLoginId,
            login: "jdoe@contoso.com",
            inside_corporate_network: false,
        };
        assert_eq!(s.cloud_upn(), "jdoe@contoso.com");
        let s = Subject {
            via: Via::Upn,
            login: "jdoe@corp.contoso.local",
            ..s
        };
        assert_eq!(s.cloud_upn(), "jdoe@corp.contoso.local");
        let s = Subject {
            via: Via::SamAccountName,
            login: "CONTOSO\\jdoe",
            ..s
        };
        assert_eq!(s.cloud_upn(), "jdoe@corp.contoso.local");
        let claims = attribute_claims(
            &[ClaimKind::AlternateLoginId],
            &s,
            NameOrder::GivenFamily,
            None,
        );
        assert!(
            claims.is_empty(),
            "no alternateloginid claim without an alternate login"
        );
    }

    #[test]
    fn issuer_follows_the_upn_suffix_and_parents_cover_subdomains() {
        let fed = vec![
            "contoso.com".to_string(),
            "fabrikam.com".to_string(),
            "sales.contoso.com".to_string(),
        ];
        assert_eq!(
            issuer_for_upn("a@contoso.com", &fed).as_deref(),
            Some("http://contoso.com/adfs/services/trust/")
        );
        assert_eq!(
            issuer_for_upn("a@EMEA.Contoso.com", &fed).as_deref(),
            Some("http://contoso.com/adfs/services/trust/")
        );
        assert_eq!(
            issuer_for_upn("a@x.sales.contoso.com", &fed).as_deref(),
            Some("http://sales.contoso.com/adfs/services/trust/")
        );
        assert_eq!(
            issuer_for_upn("a@fabrikam.com", &fed).as_deref(),
            Some("http://fabrikam.com/adfs/services/trust/")
        );
        assert_eq!(issuer_for_upn("a@notcontoso.com", &fed), None);
        assert_eq!(issuer_for_upn("nodomain", &fed), None);
    }

    #[test]
    fn name_order_is_configurable() {
        let a = account();
        let s = Subject {
            account: &a,
            via: Via::Upn,
            login: "x",
            inside_corporate_network: true,
        };
        assert_eq!(s.name(NameOrder::GivenFamily).as_deref(), Some("John Doe"));
        assert_eq!(s.name(NameOrder::FamilyGiven).as_deref(), Some("Doe John"));
        let claims = attribute_claims(
            &[ClaimKind::InsideCorporateNetwork],
            &s,
            NameOrder::GivenFamily,
            None,
        );
        assert_eq!(
            claims,
            vec![(
                "http://schemas.microsoft.com/ws/2012/01/insidecorporatenetwork",
                "true".to_string()
            )]
        );
    }

    #[test]
    fn password_expiry_claims_within_the_horizon_only() {
        use time::macros::datetime;
        let now = datetime!(2026-11-24 18:30:00.25 UTC);
        let day = std::time::Duration::from_secs(86_400);
        let url = Some("https://sts.contoso.com/adfs/portal/updatepassword/");
        let expires = now + time::Duration::days(3) - time::Duration::minutes(1);
        assert_eq!(
            password_expiry_claims(Some(expires), now, 14 * day, url),
            vec![
                (PASSWORD_EXPIRATION_TIME, "2026-11-27T18:29:00Z".to_string()),
                (PASSWORD_EXPIRATION_DAYS, "2".to_string()),
                (
                    PASSWORD_CHANGE_URL,
                    "https://sts.contoso.com/adfs/portal/updatepassword/".to_string()
                ),
            ]
        );
        let without_url = password_expiry_claims(Some(expires), now, 14 * day, None);
        assert_eq!(without_url.len(), 2, "no change page: no passwordchangeurl");
        assert!(password_expiry_claims(None, now, 14 * day, url).is_empty());
        assert!(password_expiry_claims(Some(expires), now, 2 * day, url).is_empty());
        assert!(
            password_expiry_claims(Some(expires), now, std::time::Duration::ZERO, url).is_empty()
        );
        assert!(password_expiry_claims(Some(now), now, 14 * day, url).is_empty());
        let far = datetime!(9999-12-31 23:59:59 UTC);
        assert!(password_expiry_claims(Some(far), now, 14 * day, url).is_empty());
    }
}
