//! The pure decision logic of AD FS alternate login ID: given each forest's answer to one
//! search, decide between one account, none, or an ambiguity (MSIS8014/8015), and check the
//! chosen account's data (MSIS8012/8013). No I/O, no clocks: every rule is a unit test.

use crate::directory::{DirectoryEntry, DirectoryError};

/// One forest's answer to a search.
#[derive(Debug, Clone)]
pub struct ForestAnswer {
    /// The forest.
    pub forest: String,
    /// Its matches, or why it did not answer.
    pub result: Result<Vec<DirectoryEntry>, DirectoryError>,
}

/// What one round of searches decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision<'a> {
    /// Exactly one account among the forests that answered.
    Unique {
        /// Its forest.
        forest: &'a str,
        /// The account.
        entry: &'a DirectoryEntry,
    },
    /// Forests answered and none had a match.
    NoMatch,
    /// No forest answered at all.
    NoForestAnswered,
    /// More than one match inside one forest (MSIS8015).
    AmbiguousInForest {
        /// The forest.
        forest: &'a str,
        /// The matching accounts' DNs.
        identities: Vec<&'a str>,
    },
    /// Matches in more than one forest (MSIS8014).
    AmbiguousAcrossForests {
        /// The forests with a match, in search order.
        forests: Vec<&'a str>,
    },
}

/// Applies AD FS's uniqueness rules to one round of answers. Forests that did not answer are
/// skipped: a unique match among the others still resolves.
pub fn decide(answers: &[ForestAnswer]) -> Decision<'_> {
    let answered: Vec<(&str, &Vec<DirectoryEntry>)> = answers
        .iter()
        .filter_map(|a| a.result.as_ref().ok().map(|r| (a.forest.as_str(), r)))
        .collect();
    if answered.is_empty() {
        return Decision::NoForestAnswered;
    }
    let with_matches: Vec<(&str, &Vec<DirectoryEntry>)> = answered
        .into_iter()
        .filter(|(_, r)| !r.is_empty())
        .collect();
    match with_matches.as_slice() {
        [] => Decision::NoMatch,
        [(forest, entries)] => match entries.as_slice() {
            [entry] => Decision::Unique { forest, entry },
            many => {
                // Sorted: the directory's order is arbitrary and the message should be stable.
                let mut identities: Vec<&str> = many.iter().map(|e| e.dn.as_str()).collect();
                identities.sort_unstable();
                Decision::AmbiguousInForest { forest, identities }
            }
        },
        several => Decision::AmbiguousAcrossForests {
            forests: several.iter().map(|(f, _)| *f).collect(),
        },
    }
}

/// Keeps only the matches that live in the domain `dns_name` itself. A `DOMAIN\sam` search runs
/// on a global catalog below the domain's DN, and a global catalog's namespace also puts every
/// child domain there (`DC=emea,DC=contoso,DC=com` is below `DC=contoso,DC=com`): AD FS signs
/// `CONTOSO\jdoe` in as the `jdoe` of contoso.com only, never as a child domain's `jdoe`.
pub fn only_in_domain(answers: &mut [ForestAnswer], dns_name: &str) {
    for answer in answers {
        if let Ok(entries) = &mut answer.result {
            entries.retain(|e| {
                domain_from_dn(&e.dn).is_some_and(|d| d.eq_ignore_ascii_case(dns_name))
            });
        }
    }
}

/// The account's domain, as AD FS derives it: the DNS name before the first `/` of
/// `canonicalName`.
pub fn domain_from_canonical_name(canonical: &str) -> Option<String> {
    let (domain, rest) = canonical.split_once('/')?;
    let domain = domain.to_ascii_lowercase();
    let labels_ok = domain
        .split('.')
        .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    (labels_ok && domain.contains('.') && !rest.is_empty()).then_some(domain)
}

/// The account's domain from its distinguished name: the trailing `DC=` components joined with
/// dots, lower case (`CN=Doe\, John,OU=Staff,DC=EMEA,DC=contoso,DC=com` → `emea.contoso.com`).
/// This is what `canonicalName` is constructed from (DsCrackNames, syntactical only), so on
/// every real directory both give the same domain; unlike `canonicalName` (constructed, not in
/// the global catalog's partial attribute set), the DN is in every search answer.
pub fn domain_from_dn(dn: &str) -> Option<String> {
    let mut rdns = Vec::new();
    let (mut current, mut escaped) = (String::new(), false);
    for c in dn.chars() {
        match (c, escaped) {
            (_, true) => {
                current.push(c);
                escaped = false;
            }
            ('\\', false) => {
                current.push(c);
                escaped = true;
            }
            (',', false) => rdns.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    rdns.push(current);
    let mut labels: Vec<String> = rdns
        .iter()
        .rev()
        .map_while(|rdn| {
            let (kind, value) = rdn.trim().split_once('=')?;
            kind.trim()
                .eq_ignore_ascii_case("DC")
                .then(|| value.trim().to_ascii_lowercase())
        })
        .collect();
    labels.reverse();
    let labels_ok = labels.len() >= 2
        && labels
            .iter()
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    // The object itself must sit below the domain head.
    (labels_ok && rdns.len() > labels.len()).then(|| labels.join("."))
}

/// A check of the chosen account failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountDataError {
    /// No `sAMAccountName` (MSIS8012).
    MissingSamAccountName,
    /// `canonicalName` absent or not `dns.domain/...` (MSIS8013); holds the value seen.
    BadCanonicalName(String),
}

/// The checks AD FS makes on the account it found: returns `(sam, domain)`. The domain comes
/// from the DN ([`domain_from_dn`]); a `canonicalName` that came back must still be in AD FS's
/// `dns.domain/...` format (MSIS8013), but its absence (a Windows global catalog does not
/// return it) is not an error.
pub fn check_account(entry: &DirectoryEntry) -> Result<(String, String), AccountDataError> {
    let sam = entry
        .sam_account_name
        .clone()
        .filter(|s| !s.is_empty())
        .ok_or(AccountDataError::MissingSamAccountName)?;
    if let Some(canonical) = &entry.canonical_name {
        if domain_from_canonical_name(canonical).is_none() {
            return Err(AccountDataError::BadCanonicalName(canonical.clone()));
        }
    }
    let domain = domain_from_dn(&entry.dn).ok_or_else(|| {
        AccountDataError::BadCanonicalName(
            entry
                .canonical_name
                .clone()
                .unwrap_or_else(|| entry.dn.clone()),
        )
    })?;
    Ok((sam, domain))
}

/// The exact AD FS message texts (event 364).
pub mod messages {
    /// MSIS8012.
    pub fn msis8012(login: &str) -> String {
        format!("MSIS8012: Unable to find samAccountName for the user: '{login}'.")
    }
    /// MSIS8013.
    pub fn msis8013(canonical: &str, login: &str) -> String {
        format!("MSIS8013: CanonicalName: '{canonical}' of the user:'{login}' is in bad format.")
    }
    /// MSIS8014.
    pub fn msis8014(login: &str, forests: &[&str]) -> String {
        format!(
            "MSIS8014: Found multiple user accounts with identity '{login}' in forests: {}",
            forests.join(", ")
        )
    }
    /// MSIS8015.
    pub fn msis8015(login: &str, forest: &str, identities: &[&str]) -> String {
        format!(
            "MSIS8015: Found multiple user accounts with identity '{login}' in forest '{forest}' with identities: {}",
            identities.join("; ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(dn: &str) -> DirectoryEntry {
        DirectoryEntry {
            dn: dn.into(),
            sam_account_name: Some("jdoe".into()),
            canonical_name: Some("contoso.com/Users/John Doe".into()),
            ..Default::default()
        }
    }

    fn answer(forest: &str, dns: &[&str]) -> ForestAnswer {
        ForestAnswer {
            forest: forest.into(),
            result: Ok(dns.iter().map(|d| entry(d)).collect()),
        }
    }

    fn down(forest: &str) -> ForestAnswer {
        ForestAnswer {
            forest: forest.into(),
            result: Err(DirectoryError::Unreachable {
                forest: forest.into(),
                reason: "refused".into(),
            }),
        }
    }

    #[test]
    fn one_match_in_one_forest_is_unique() {
        let a = [
            answer("contoso.com", &["CN=a"]),
            answer("fabrikam.com", &[]),
        ];
        assert!(
            matches!(decide(&a), Decision::Unique { forest: "contoso.com", entry } if entry.dn == "CN=a")
        );
    }

    #[test]
    fn two_matches_in_one_forest_is_msis8015() {
        let a = [
            answer("contoso.com", &["CN=a", "CN=b"]),
            answer("fabrikam.com", &[]),
        ];
        assert_eq!(
            decide(&a),
            Decision::AmbiguousInForest {
                forest: "contoso.com",
                identities: vec!["CN=a", "CN=b"]
            }
        );
    }

    #[test]
    fn matches_in_two_forests_is_msis8014_even_if_one_forest_has_several() {
        let a = [
            answer("contoso.com", &["CN=a", "CN=b"]),
            answer("fabrikam.com", &["CN=c"]),
        ];
        assert_eq!(
            decide(&a),
            Decision::AmbiguousAcrossForests {
                forests: vec!["contoso.com", "fabrikam.com"]
            }
        );
    }

    #[test]
    fn unreachable_forest_is_skipped() {
        let a = [down("contoso.com"), answer("fabrikam.com", &["CN=c"])];
        assert!(matches!(
            decide(&a),
            Decision::Unique {
                forest: "fabrikam.com",
                ..
            }
        ));
        let a = [down("contoso.com"), answer("fabrikam.com", &[])];
        assert_eq!(decide(&a), Decision::NoMatch);
        let a = [down("contoso.com"), down("fabrikam.com")];
        assert_eq!(decide(&a), Decision::NoForestAnswered);
        assert_eq!(decide(&[]), Decision::NoForestAnswered);
    }

    #[test]
    fn canonical_name_gives_the_domain() {
        assert_eq!(
            domain_from_canonical_name("Contoso.COM/Users/John Doe").as_deref(),
            Some("contoso.com")
        );
        assert_eq!(
            domain_from_canonical_name("emea.contoso.com/Staff/x").as_deref(),
            Some("emea.contoso.com")
        );
        for bad in [
            "",
            "contoso.com",
            "contoso.com/",
            "/Users/x",
            "CONTOSO/Users/x",
            "con toso.com/x",
        ] {
            assert_eq!(domain_from_canonical_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_dn_gives_the_domain_as_canonical_name_would() {
        let cases = [
            (
                "CN=John Doe,CN=Users,DC=contoso,DC=com",
                Some("contoso.com"),
            ),
            (
                "cn=Doe\\, John,OU=Staff,dc=EMEA,Dc=Contoso,DC=COM",
                Some("emea.contoso.com"),
            ),
            // A comma escaped inside a DC-looking value is not a component boundary.
            ("CN=x\\,DC=evil,DC=contoso,DC=com", Some("contoso.com")),
            ("CN=a, OU=b , DC=contoso , DC=com", Some("contoso.com")),
            ("DC=contoso,DC=com", None),
            ("CN=a,DC=com", None),
            ("CN=a,OU=b", None),
            ("CN=a,DC=con toso,DC=com", None),
            ("CN=a,DC=,DC=com", None),
            ("", None),
            ("CN=a", None),
        ];
        for (dn, domain) in cases {
            assert_eq!(domain_from_dn(dn).as_deref(), domain, "{dn}");
        }
        // Where a canonicalName exists, both rules agree.
        for (dn, canonical) in [
            (
                "CN=John Doe,CN=Users,DC=contoso,DC=com",
                "contoso.com/Users/John Doe",
            ),
            (
                "CN=x,OU=Staff,DC=emea,DC=contoso,DC=com",
                "emea.contoso.com/Staff/x",
            ),
        ] {
            assert_eq!(domain_from_dn(dn), domain_from_canonical_name(canonical));
        }
    }

    #[test]
    fn account_checks_give_msis8012_and_msis8013() {
        let mut e = entry("CN=a,CN=Users,DC=contoso,DC=com");
        assert_eq!(check_account(&e), Ok(("jdoe".into(), "contoso.com".into())));
        e.canonical_name = Some("garbage".into());
        assert_eq!(
            check_account(&e),
            Err(AccountDataError::BadCanonicalName("garbage".into()))
        );
        // A global catalog that does not return canonicalName: the DN decides.
        e.canonical_name = None;
        assert_eq!(check_account(&e), Ok(("jdoe".into(), "contoso.com".into())));
        e.dn = "CN=a,OU=nowhere".into();
        assert_eq!(
            check_account(&e),
            Err(AccountDataError::BadCanonicalName("CN=a,OU=nowhere".into()))
        );
        e.sam_account_name = None;
        assert_eq!(
            check_account(&e),
            Err(AccountDataError::MissingSamAccountName)
        );
    }

    #[test]
    fn messages_match_ad_fs_text() {
        assert_eq!(
            messages::msis8012("x@y.com"),
            "MSIS8012: Unable to find samAccountName for the user: 'x@y.com'."
        );
        assert_eq!(
            messages::msis8013("bad", "x@y.com"),
            "MSIS8013: CanonicalName: 'bad' of the user:'x@y.com' is in bad format."
        );
        assert_eq!(
            messages::msis8014("x@y.com", &["contoso.com", "fabrikam.com"]),
            "MSIS8014: Found multiple user accounts with identity 'x@y.com' in forests: contoso.com, fabrikam.com"
        );
        assert_eq!(
            messages::msis8015("x@y.com", "contoso.com", &["CN=a", "CN=b"]),
            "MSIS8015: Found multiple user accounts with identity 'x@y.com' in forest 'contoso.com' with identities: CN=a; CN=b"
        );
    }
}
