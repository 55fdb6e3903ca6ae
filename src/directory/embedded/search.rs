//! The embedded directory's answers to searches and scans, as a global catalog gives them:
//! case-insensitive equality on an account attribute or a free-form one, user objects only,
//! `DOMAIN\\sam` within the domain, every value of each attribute a scan asks for, and the
//! account a Kerberos principal names.

use super::file::domain_dn;
use super::{EmbeddedDirectory, Forest, User};
use crate::directory::{
    DirectoryEntry, DirectoryError, ScannedUser, UserQuery, WindowsAccount, WindowsLookup,
};
use std::collections::BTreeMap;

/// Equal as AD compares attribute values here (case-insensitively).
fn eq_ci(a: &str, b: &str) -> bool {
    a == b || a.to_lowercase() == b.to_lowercase()
}

/// The value of attribute `name` of one demo user: an account attribute searches use, else a
/// free-form one.
fn attribute<'a>(
    entry: &'a DirectoryEntry,
    extra: &'a BTreeMap<String, String>,
    name: &str,
) -> Option<&'a str> {
    let known = match name.to_ascii_lowercase().as_str() {
        "mail" => entry.mail.as_deref(),
        "userprincipalname" => entry.user_principal_name.as_deref(),
        "samaccountname" => entry.sam_account_name.as_deref(),
        "displayname" => entry.display_name.as_deref(),
        _ => None,
    };
    known.or_else(|| {
        extra
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    })
}

/// Every value of `name` for one demo user: `proxyAddresses` from its list, anything else
/// from the account attributes or the free-form ones.
fn scanned_values(
    forest: &Forest,
    entry: &DirectoryEntry,
    extra: &BTreeMap<String, String>,
    name: &str,
) -> Vec<String> {
    if name.eq_ignore_ascii_case("proxyAddresses") {
        return forest
            .proxies
            .get(&entry.dn.to_lowercase())
            .cloned()
            .unwrap_or_default();
    }
    attribute(entry, extra, name)
        .map(|v| vec![v.to_string()])
        .unwrap_or_default()
}

/// One demo user as a scan reads it: its entry and every value of each of `names`.
fn scanned(
    forest: &Forest,
    entry: DirectoryEntry,
    extra: &BTreeMap<String, String>,
    names: &[&str],
) -> ScannedUser {
    let values = names
        .iter()
        .map(|n| scanned_values(forest, &entry, extra, n))
        .collect();
    ScannedUser { entry, values }
}

impl EmbeddedDirectory {
    /// The user objects of `forest` matching `query`.
    pub(super) fn search(
        &self,
        forest: &str,
        query: &UserQuery,
    ) -> Result<Vec<DirectoryEntry>, DirectoryError> {
        let f = self.forest(forest)?;
        let found = f.users.iter().filter(|u| match query {
            UserQuery::AttributeEquals {
                attribute: a,
                value,
            } => attribute(&u.entry, &u.extra, a).is_some_and(|v| eq_ci(v, value)),
            UserQuery::SamAccountName { domain_dn: dn, sam } => {
                eq_ci(&domain_dn(&u.domain), dn)
                    && u.entry
                        .sam_account_name
                        .as_deref()
                        .is_some_and(|s| eq_ci(s, sam))
            }
        });
        Ok(found.map(|u| u.entry.clone()).collect())
    }

    /// Every user object of `forest` with its account attributes and every value of each of
    /// `extra`.
    pub(super) fn scan_forest(
        &self,
        forest: &str,
        extra: &[&str],
    ) -> Result<Vec<ScannedUser>, DirectoryError> {
        let f = self.forest(forest)?;
        Ok(f.users
            .iter()
            .map(|u| scanned(f, u.entry.clone(), &u.extra, extra))
            .collect())
    }

    /// Every user object of `domain` of `forest` under `base`, with its DN and every value of
    /// each of `attributes` (as a domain controller's scan reads them).
    pub(super) fn scan_domain_users(
        &self,
        forest: &str,
        domain: &str,
        base: &str,
        attributes: &[&str],
    ) -> Result<Vec<ScannedUser>, DirectoryError> {
        let f = self.forest(forest)?;
        let base = base.to_lowercase();
        Ok(f.users
            .iter()
            .filter(|u| {
                u.domain.eq_ignore_ascii_case(domain) && u.entry.dn.to_lowercase().ends_with(&base)
            })
            .map(|user| {
                let mut u = scanned(f, user.entry.clone(), &user.extra, attributes);
                u.entry = DirectoryEntry {
                    dn: u.entry.dn,
                    ..Default::default()
                };
                u
            })
            .collect())
    }
}

impl EmbeddedDirectory {
    /// The demo user a Kerberos ticket names, in `domain` of `forest` (demo users are never
    /// computers and have no `objectSid`).
    pub(super) fn windows_user(
        &self,
        forest: &str,
        domain: &str,
        lookup: WindowsLookup<'_>,
        alternate_attribute: Option<&str>,
    ) -> Result<Option<WindowsAccount>, DirectoryError> {
        let f = self.forest(forest)?;
        let found: Vec<&User> = f
            .users
            .iter()
            .filter(|u| u.domain.eq_ignore_ascii_case(domain))
            .filter(|u| match lookup {
                WindowsLookup::SamAccountName(sam) => u
                    .entry
                    .sam_account_name
                    .as_deref()
                    .is_some_and(|s| eq_ci(s, sam)),
                WindowsLookup::Upn(upn) => u
                    .entry
                    .user_principal_name
                    .as_deref()
                    .is_some_and(|s| eq_ci(s, upn)),
            })
            .collect();
        let [u] = found.as_slice() else {
            return match found.len() {
                0 => Ok(None),
                _ => Err(DirectoryError::SearchFailed {
                    forest: forest.to_string(),
                    reason: format!("more than one demo account in {domain} matches {lookup:?}"),
                }),
            };
        };
        let state = self.state_of(forest, u);
        Ok(Some(WindowsAccount {
            dn: u.entry.dn.clone(),
            sam_account_name: u.entry.sam_account_name.clone().unwrap_or_default(),
            user_principal_name: u.entry.user_principal_name.clone(),
            alternate_id: alternate_attribute
                .and_then(|a| attribute(&u.entry, &u.extra, a))
                .map(str::to_string),
            object_guid: u.entry.object_guid.clone(),
            object_sid: None,
            primary_group_id: Some(513),
            computer: false,
            user_account_control: u.entry.user_account_control.unwrap_or(512),
            pwd_last_set: state.pwd_last_set,
            account_expires: None,
            computed_control: None,
        }))
    }
}
