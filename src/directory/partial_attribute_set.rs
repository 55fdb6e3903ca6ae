//! Where each attribute altgate reads lives in Windows Active Directory: in the global catalog's
//! partial attribute set (PAS), or only on the domain controllers of the object's own domain.
//! Samba's global catalog returns every attribute, so only this table (and the tests with a
//! global catalog that strips non-PAS attributes) keep altgate honest about real AD.
//!
//! | Attribute | Read by | In Global Catalog (schema) | Where altgate reads it |
//! |---|---|---|---|
//! | `sAMAccountName` | resolution (MSIS8012), `DOMAIN\sam` search | True | global catalog |
//! | `userPrincipalName` | resolution (UPN search), `upn` claim | True | global catalog |
//! | `mail` | default alternate login ID | True (`isMemberOfPartialAttributeSet: TRUE`) | global catalog |
//! | other `alternate_login_id.attribute` | alternate-ID search | must be True: AD FS searches it in the GC too | global catalog |
//! | `objectGUID` | ImmutableID when no consistency GUID | True | global catalog |
//! | `userAccountControl` | `enabled` | True | global catalog (and DC for account state) |
//! | `displayName`, `givenName`, `sn` | `name`, `givenname`, `surname` claims | True | global catalog |
//! | `canonicalName` | MSIS8013 check only | **False** (constructed, system flags `0x08000014`) | asked of the GC; the domain comes from the DN (`DC=` components), a returned value is only format-checked |
//! | `mS-DS-ConsistencyGuid` | ImmutableID (Entra Connect's source anchor) | **False** | DC of the user's domain, one base read, cached with the resolution; a GC value is never asked for nor trusted |
//! | `proxyAddresses` | audit only (not sign-in) | **False** in the base schema (Exchange's schema extension adds it) | DC (`altgate audit` domain scan) |
//! | `mailNickname`, `targetAddress`, `isCriticalSystemObject` | audit only | not relied on | DC (`altgate audit` domain scan) |
//! | `pwdLastSet` | account state (SSO), expiry fallback | **False** | DC, fresh, never cached |
//! | `msDS-UserPasswordExpiryTimeComputed` | password-expiry claims | **False** (constructed) | DC, fresh at each password sign-in |
//! | `maxPwdAge`, `lockoutThreshold`, ... | expiry fallback, extranet lockout policy | domain head object (not a user attribute) | DC of the domain |
//!
//! Sources: the "In Global Catalog" line of each attribute's page in Microsoft's Active Directory
//! Schema reference (learn.microsoft.com/windows/win32/adschema/a-*), and the
//! `isMemberOfPartialAttributeSet` line of Microsoft's published schema ([MS-ADA1..3]), which
//! Samba ships for provisioning: an integration test (`tests/it/dc_attributes.rs`) checks every
//! attribute of [`super::ACCOUNT_ATTRIBUTES`], [`DOMAIN_ATTRIBUTES`], [`NOT_IN_GLOBAL_CATALOG`]
//! and the expiry read ([`super::PASSWORD_EXPIRY_ATTRIBUTES`]) against that text.

/// The account attributes outside the partial attribute set that sign-in needs, read from a DC
/// of the account's domain ([`super::Directory::domain_attributes`]).
pub const DOMAIN_ATTRIBUTES: &[&str] = &["mS-DS-ConsistencyGuid"];

/// User attributes the table above found outside the partial attribute set of Windows AD's
/// default schema, each with why: a global catalog search on one of them finds nobody.
pub const NOT_IN_GLOBAL_CATALOG: &[(&str, &str)] = &[
    ("canonicalName", "constructed"),
    ("mS-DS-ConsistencyGuid", "not in the partial attribute set"),
    (
        "proxyAddresses",
        "not in the partial attribute set of the base schema (Exchange's schema extension adds it)",
    ),
    ("pwdLastSet", "not in the partial attribute set"),
    ("msDS-UserPasswordExpiryTimeComputed", "constructed"),
];

/// Why a global catalog of a default Windows AD schema cannot be searched on `attribute`, when
/// the schema documentation says so (`None`: in the partial attribute set, or not known here).
pub fn not_in_global_catalog(attribute: &str) -> Option<&'static str> {
    NOT_IN_GLOBAL_CATALOG
        .iter()
        .find(|(a, _)| a.eq_ignore_ascii_case(attribute))
        .map(|(_, why)| *why)
}

/// The account attributes a domain controller of the account's own domain holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DomainAttributes {
    /// Raw bytes of `mS-DS-ConsistencyGuid`; `None` when the account has none.
    pub consistency_guid: Option<Vec<u8>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_outside_the_partial_attribute_set_are_known() {
        assert!(not_in_global_catalog("proxyaddresses").is_some());
        assert_eq!(not_in_global_catalog("canonicalName"), Some("constructed"));
        assert!(not_in_global_catalog("mS-DS-ConsistencyGuid").is_some());
        for in_pas in ["mail", "userPrincipalName", "sAMAccountName", "employeeID"] {
            assert_eq!(not_in_global_catalog(in_pas), None, "{in_pas}");
        }
    }
}
