//! Reading ldap3 search entries: attribute values matched case-insensitively, binary attributes
//! wherever ldap3 put them, and the mapping to [`DirectoryEntry`].

use crate::directory::DirectoryEntry;
use ldap3::SearchEntry;

/// First value of an attribute, matched case-insensitively.
pub(super) fn attr(e: &SearchEntry, name: &str) -> Option<String> {
    e.attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.first().cloned())
}

/// First value of a binary attribute, wherever ldap3 put it (valid UTF-8 lands in `attrs`).
pub(super) fn bin_attr(e: &SearchEntry, name: &str) -> Option<Vec<u8>> {
    e.bin_attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.first().cloned())
        .or_else(|| attr(e, name).map(String::into_bytes))
}

/// The account attributes of one search entry.
pub(super) fn to_entry(e: &SearchEntry) -> DirectoryEntry {
    DirectoryEntry {
        dn: e.dn.clone(),
        sam_account_name: attr(e, "sAMAccountName"),
        user_principal_name: attr(e, "userPrincipalName"),
        canonical_name: attr(e, "canonicalName"),
        object_guid: bin_attr(e, "objectGUID"),
        // Not in the global catalog's partial attribute set: read from a DC of the account's
        // domain (`Directory::domain_attributes`), never from a global catalog answer.
        consistency_guid: None,
        user_account_control: attr(e, "userAccountControl")
            .and_then(|v| v.parse::<i64>().ok())
            .map(|v| v as u32),
        display_name: attr(e, "displayName"),
        given_name: attr(e, "givenName"),
        surname: attr(e, "sn"),
        mail: attr(e, "mail"),
    }
}
