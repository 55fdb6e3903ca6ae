//! Directory hygiene: the sync preparation rules of seed 002 and IdFix's rule set, applied to
//! every audited object ([`checks`] holds the per-value rules), plus uniqueness across the
//! whole scope (every forest read): `userPrincipalName`, `mail`, `proxyAddresses`,
//! `mailNickname` and `targetAddress` across all of them, `sAMAccountName` per domain. Unlike
//! IdFix, the UPN rules stay on with alternate login ID, and an address used by one object as
//! `mail`, UPN or proxy address and by another in another of these attributes is reported too.
//! Objects IdFix leaves out (system accounts, conflict objects...) are left out the same way.

pub mod checks;
pub mod tld;

use super::collect::Object;
use super::finding::Finding;
use super::lookup::{equal_groups, fold_hash, Index};
use super::rules::{Rule, Severity};

/// IdFix's well-known exclusions: objects whose name starts with one of these are skipped.
pub const WELL_KNOWN_EXCLUSIONS: &[&str] = &[
    "Admini",
    "CAS_{",
    "DiscoverySearchMailbox",
    "FederatedEmail",
    "Guest",
    "HTTPConnector",
    "krbtgt",
    "iusr_",
    "iwam",
    "msol",
    "support_",
    "SystemMailbox",
    "WWIOadmini",
    "HealthMailbox",
    "Exchange Online-ApplicationAccount",
];

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
}

/// Why IdFix leaves an object out, or `None` when it is audited.
pub fn skip_reason(o: &Object) -> Option<&'static str> {
    let cn = o.cn();
    if cn.ends_with('$') {
        return Some("name ends with $");
    }
    if WELL_KNOWN_EXCLUSIONS.iter().any(|x| starts_with_ci(&cn, x)) {
        return Some("well-known system account");
    }
    let dn = o.entry.dn.to_ascii_uppercase();
    if dn.contains("\\0ACNF:") || dn.contains("\nCNF:") {
        return Some("replication conflict object");
    }
    if o.critical_system_object {
        return Some("critical system object");
    }
    let sam = o.entry.sam_account_name.as_deref().unwrap_or("");
    if ["CAS_", "SUPPORT_", "MSOL_"]
        .iter()
        .any(|p| starts_with_ci(sam, p))
    {
        return Some("system sAMAccountName");
    }
    let nick = o.mail_nickname.as_deref().unwrap_or("");
    if ["CAS_", "SYSTEMMAILBOX"]
        .iter()
        .any(|p| starts_with_ci(nick, p))
    {
        return Some("system mailNickname");
    }
    None
}

/// What the hygiene pass needs to know beyond the objects.
pub struct Scope<'a> {
    /// Per object: left out (IdFix's exclusions).
    pub skipped: &'a [bool],
    /// Per object: findings about it belong in the report (`--forest`).
    pub reported: &'a [bool],
    /// Per object: it can sign in with an alternate ID (so a non-routable UPN is expected).
    pub alternate_covers: &'a [bool],
}

fn flag(v: &[bool], i: usize) -> bool {
    v.get(i).copied().unwrap_or(false)
}

fn with_detail(f: Finding, detail: &str) -> Finding {
    let fix = format!("{detail}: {}", f.fix);
    f.fix(fix)
}

fn value_findings(i: usize, o: &Object, scope: &Scope<'_>, out: &mut Vec<Finding>) {
    let mut add = |attribute: &str, value: &str, hits: Vec<checks::Hit>| {
        for h in hits {
            // With an alternate ID the on-premises UPN suffix never reaches the cloud.
            if h.rule == Rule::UpnTopLevelDomain && flag(scope.alternate_covers, i) {
                continue;
            }
            let mut f = with_detail(Finding::new(h.rule, o, attribute, value), &h.detail);
            match h.rule {
                // Seed 002: with a valid UPN, sync still works.
                Rule::SamAccountNameTooLong | Rule::SamAccountNameInvalidCharacters
                    if o.entry.user_principal_name.is_none() =>
                {
                    f = f.severity(Severity::Error)
                }
                _ => {}
            }
            out.push(f);
        }
    };
    let e = &o.entry;
    let upn = e.user_principal_name.as_deref();
    add("userPrincipalName", upn.unwrap_or(""), checks::upn(upn));
    if let Some(v) = &e.mail {
        add("mail", v, checks::mail(v));
    }
    for v in &o.proxy_addresses {
        add("proxyAddresses", v, checks::proxy_address(v));
    }
    if let Some(v) = &o.mail_nickname {
        add("mailNickname", v, checks::mail_nickname(v));
    }
    if let Some(v) = &o.target_address {
        add("targetAddress", v, checks::target_address(v));
    }
    if let Some(v) = &e.sam_account_name {
        add("sAMAccountName", v, checks::sam_account_name(v));
    }
    let display = e.display_name.as_deref();
    add(
        "displayName",
        display.unwrap_or(""),
        checks::display_name(display),
    );
    if let Some(v) = &e.given_name {
        add("givenName", v, checks::given_name(v));
    }
}

/// Which value of which object: (object, value number).
type At = (u32, u16);

fn at(i: usize, k: usize) -> At {
    (
        u32::try_from(i).unwrap_or(u32::MAX),
        u16::try_from(k).unwrap_or(u16::MAX),
    )
}

/// `smtp:` values compare by address (any case of the type), others as a whole.
fn proxy_key(v: &str) -> String {
    match v.split_once(':') {
        Some((t, a)) if t.eq_ignore_ascii_case("smtp") => format!("smtp:{a}"),
        _ => v.to_string(),
    }
}

/// One attribute's uniqueness rule.
struct Unique {
    rule: Rule,
    attribute: &'static str,
    /// The values of an object (blank ones are not compared).
    values: fn(&Object) -> Vec<&str>,
    /// What is compared (case-insensitively): the value, or a normalised form.
    key: fn(&Object, &str) -> String,
}

fn single(v: &Option<String>) -> Vec<&str> {
    v.as_deref()
        .filter(|v| !checks::is_blank(v))
        .into_iter()
        .collect()
}

const UNIQUE: &[Unique] = &[
    Unique {
        rule: Rule::UpnDuplicate,
        attribute: "userPrincipalName",
        values: |o| single(&o.entry.user_principal_name),
        key: |_, v| v.to_string(),
    },
    Unique {
        rule: Rule::MailDuplicate,
        attribute: "mail",
        values: |o| single(&o.entry.mail),
        key: |_, v| v.to_string(),
    },
    Unique {
        rule: Rule::ProxyAddressDuplicate,
        attribute: "proxyAddresses",
        values: |o| {
            o.proxy_addresses
                .iter()
                .map(String::as_str)
                .filter(|v| !checks::is_blank(v))
                .collect()
        },
        key: |_, v| proxy_key(v),
    },
    Unique {
        rule: Rule::MailNicknameDuplicate,
        attribute: "mailNickname",
        values: |o| single(&o.mail_nickname),
        key: |_, v| v.to_string(),
    },
    Unique {
        rule: Rule::TargetAddressDuplicate,
        attribute: "targetAddress",
        values: |o| single(&o.target_address),
        key: |_, v| v.to_string(),
    },
    Unique {
        rule: Rule::SamAccountNameDuplicate,
        attribute: "sAMAccountName",
        values: |o| single(&o.entry.sam_account_name),
        // Unique per domain.
        key: |o, v| format!("{}\n{}\n{v}", o.forest, o.domain),
    },
];

fn value_at<'a>(objects: &'a [Object], (i, k): At, u: &Unique) -> Option<(&'a Object, String)> {
    let o = objects.get(i as usize)?;
    let v = (u.values)(o).get(usize::from(k))?.to_string();
    Some((o, v))
}

fn duplicates(objects: &[Object], scope: &Scope<'_>, u: &Unique, out: &mut Vec<Finding>) {
    let mut entries = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        if flag(scope.skipped, i) {
            continue;
        }
        for (k, v) in (u.values)(o).into_iter().enumerate() {
            entries.push((fold_hash(u.attribute, &(u.key)(o, v)), at(i, k)));
        }
    }
    let index = Index::new(entries);
    for run in index.shared() {
        let key = |a: At| {
            value_at(objects, a, u)
                .map_or(String::new(), |(o, v): (&Object, String)| (u.key)(o, &v))
        };
        for mut group in equal_groups(&run, key) {
            // Several values of one object are not a duplicate.
            group.dedup_by_key(|(i, _)| *i);
            if group.len() < 2 {
                continue;
            }
            for a in &group {
                let Some((o, value)) = value_at(objects, *a, u) else {
                    continue;
                };
                if !flag(scope.reported, a.0 as usize) {
                    continue;
                }
                let related = group
                    .iter()
                    .filter(|b| b.0 != a.0)
                    .filter_map(|b| objects.get(b.0 as usize).map(|o| o.entry.dn.clone()))
                    .collect();
                out.push(Finding::new(u.rule, o, u.attribute, &value).related(related));
            }
        }
    }
}

/// The attributes holding addresses, for the cross-attribute check.
const ADDRESS_ATTRIBUTES: [&str; 3] = ["userPrincipalName", "mail", "proxyAddresses"];

/// The addresses of an object: (attribute number, value number, address).
fn addresses(o: &Object) -> Vec<(u8, u16, &str)> {
    let mut out = Vec::new();
    if let Some(v) = single(&o.entry.user_principal_name).first() {
        out.push((0, 0, *v));
    }
    if let Some(v) = single(&o.entry.mail).first() {
        out.push((1, 0, *v));
    }
    for (k, v) in o.proxy_addresses.iter().enumerate() {
        if let Some((t, a)) = v.split_once(':') {
            if t.eq_ignore_ascii_case("smtp") && !checks::is_blank(a) {
                out.push((2, u16::try_from(k).unwrap_or(u16::MAX), a));
            }
        }
    }
    out
}

/// An address used by one object in one attribute and by another in another attribute.
fn address_conflicts(objects: &[Object], scope: &Scope<'_>, out: &mut Vec<Finding>) {
    let mut entries = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        if flag(scope.skipped, i) {
            continue;
        }
        for (attr, k, a) in addresses(o) {
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            entries.push((fold_hash("address", a), (i, attr, k)));
        }
    }
    let index = Index::new(entries);
    let address = |(i, attr, k): (u32, u8, u16)| {
        objects
            .get(i as usize)
            .and_then(|o| {
                addresses(o)
                    .into_iter()
                    .find(|(a, n, _)| *a == attr && *n == k)
                    .map(|(_, _, v)| v.to_string())
            })
            .unwrap_or_default()
    };
    for run in index.shared() {
        for group in equal_groups(&run, address) {
            for &(i, attr, k) in &group {
                let related: Vec<String> = group
                    .iter()
                    .filter(|(j, a, _)| *j != i && *a != attr)
                    .filter_map(|(j, _, _)| objects.get(*j as usize).map(|o| o.entry.dn.clone()))
                    .collect();
                let Some(o) = objects
                    .get(i as usize)
                    .filter(|_| flag(scope.reported, i as usize))
                else {
                    continue;
                };
                if related.is_empty() {
                    continue;
                }
                let attribute = ADDRESS_ATTRIBUTES
                    .get(usize::from(attr))
                    .copied()
                    .unwrap_or("");
                let value = match attr {
                    2 => o
                        .proxy_addresses
                        .get(usize::from(k))
                        .cloned()
                        .unwrap_or_default(),
                    _ => address((i, attr, k)),
                };
                out.push(
                    Finding::new(Rule::AddressConflict, o, attribute, &value).related(related),
                );
            }
        }
    }
}

fn uniqueness(objects: &[Object], scope: &Scope<'_>, out: &mut Vec<Finding>) {
    for u in UNIQUE {
        duplicates(objects, scope, u, out);
    }
    address_conflicts(objects, scope, out);
}

/// Every hygiene finding about the reported, audited objects.
pub fn hygiene(objects: &[Object], scope: &Scope<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        if flag(scope.reported, i) && !flag(scope.skipped, i) {
            value_findings(i, o, scope, &mut out);
        }
    }
    uniqueness(objects, scope, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::DirectoryEntry;
    use std::sync::Arc;

    fn object(dn: &str, upn: Option<&str>, mail: Option<&str>) -> Object {
        Object {
            forest: Arc::from("contoso.com"),
            domain: "contoso.com".into(),
            entry: DirectoryEntry {
                dn: dn.into(),
                sam_account_name: Some(
                    dn.trim_start_matches("CN=")
                        .split(',')
                        .next()
                        .unwrap_or("")
                        .into(),
                ),
                user_principal_name: upn.map(Into::into),
                mail: mail.map(Into::into),
                display_name: Some("Someone".into()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn run(objects: &[Object], covered: bool) -> Vec<(Rule, String, String, Vec<String>)> {
        let n = objects.len();
        let skipped: Vec<bool> = objects.iter().map(|o| skip_reason(o).is_some()).collect();
        let scope = Scope {
            skipped: &skipped,
            reported: &vec![true; n],
            alternate_covers: &vec![covered; n],
        };
        let mut f = hygiene(objects, &scope);
        super::super::finding::sort(&mut f);
        f.into_iter()
            .map(|f| (f.rule, f.sam_account_name, f.value, f.related))
            .collect()
    }

    #[test]
    fn idfix_exclusions() {
        let skip = |dn: &str| skip_reason(&object(dn, None, None));
        assert_eq!(
            skip("CN=Administrator,CN=Users,DC=c,DC=com"),
            Some("well-known system account")
        );
        assert_eq!(
            skip("CN=krbtgt,CN=Users,DC=c,DC=com"),
            Some("well-known system account")
        );
        assert_eq!(
            skip("CN=HealthMailbox0a1b,CN=Users,DC=c,DC=com"),
            Some("well-known system account")
        );
        assert_eq!(
            skip("CN=MSOL_0123abcd,CN=Users,DC=c,DC=com"),
            Some("well-known system account")
        );
        assert_eq!(
            skip("CN=WS01$,CN=Computers,DC=c,DC=com"),
            Some("name ends with $")
        );
        assert_eq!(
            skip("CN=John Doe\\0ACNF:5f1c2d3e-aaaa,CN=Users,DC=c,DC=com"),
            Some("replication conflict object")
        );
        assert_eq!(skip("CN=John Doe,CN=Users,DC=c,DC=com"), None);
        let mut o = object("CN=x,DC=c,DC=com", None, None);
        o.critical_system_object = true;
        assert_eq!(skip_reason(&o), Some("critical system object"));
        let mut o = object("CN=x,DC=c,DC=com", None, None);
        o.entry.sam_account_name = Some("support_388945a0".into());
        assert_eq!(skip_reason(&o), Some("system sAMAccountName"));
        let mut o = object("CN=x,DC=c,DC=com", None, None);
        o.mail_nickname = Some("SystemMailbox{1f05a927}".into());
        assert_eq!(skip_reason(&o), Some("system mailNickname"));
    }

    #[test]
    fn duplicates_across_the_scope_and_skipped_objects_do_not_count() {
        let objects = vec![
            object(
                "CN=a,DC=c,DC=com",
                Some("a@contoso.com"),
                Some("same@contoso.com"),
            ),
            object(
                "CN=b,DC=c,DC=com",
                Some("b@contoso.com"),
                Some("SAME@contoso.com"),
            ),
            object(
                "CN=Administrator,DC=c,DC=com",
                Some("adm@contoso.com"),
                Some("same@contoso.com"),
            ),
        ];
        let f = run(&objects, true);
        assert_eq!(
            f,
            vec![
                (
                    Rule::MailDuplicate,
                    "a".into(),
                    "same@contoso.com".into(),
                    vec!["CN=b,DC=c,DC=com".into()]
                ),
                (
                    Rule::MailDuplicate,
                    "b".into(),
                    "SAME@contoso.com".into(),
                    vec!["CN=a,DC=c,DC=com".into()]
                ),
            ]
        );
    }

    #[test]
    fn an_address_in_two_attributes_of_two_objects_conflicts() {
        let mut a = object(
            "CN=a,DC=c,DC=com",
            Some("a@contoso.com"),
            Some("a@contoso.com"),
        );
        a.proxy_addresses = vec!["SMTP:a@contoso.com".into(), "smtp:b@contoso.com".into()];
        let b = object("CN=b,DC=c,DC=com", Some("b@contoso.com"), None);
        let f = run(&[a, b], true);
        assert_eq!(
            f,
            vec![
                (
                    Rule::AddressConflict,
                    "a".into(),
                    "smtp:b@contoso.com".into(),
                    vec!["CN=b,DC=c,DC=com".into()]
                ),
                (
                    Rule::AddressConflict,
                    "b".into(),
                    "b@contoso.com".into(),
                    vec!["CN=a,DC=c,DC=com".into()]
                ),
            ]
        );
    }

    #[test]
    fn severities_follow_alternate_id_coverage_and_upn_presence() {
        let mut o = object(
            "CN=abcdefghijklmnopqrstu,DC=c,DC=com",
            Some("x@corp.contoso.local"),
            None,
        );
        o.entry.display_name = None;
        let n = [o.clone()];
        let sev = |covered: bool, objects: &[Object]| {
            let scope = Scope {
                skipped: &[false],
                reported: &[true],
                alternate_covers: &[covered],
            };
            let mut f = hygiene(objects, &scope);
            super::super::finding::sort(&mut f);
            f.into_iter()
                .map(|f| (f.rule, f.severity))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            sev(true, &n),
            vec![
                (Rule::DisplayNameBlank, Severity::Error),
                (Rule::SamAccountNameTooLong, Severity::Warning),
            ]
        );
        assert!(sev(false, &n).contains(&(Rule::UpnTopLevelDomain, Severity::Warning)));
        o.entry.user_principal_name = None;
        let sevs = sev(false, &[o]);
        assert!(
            sevs.contains(&(Rule::SamAccountNameTooLong, Severity::Error)),
            "{sevs:?}"
        );
        assert!(
            sevs.contains(&(Rule::UpnBlank, Severity::Warning)),
            "{sevs:?}"
        );
    }
}
