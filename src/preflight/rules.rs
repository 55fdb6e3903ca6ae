//! The catalogue of audit rules: every rule's stable id (used in JSON and CSV, and documented
//! in `docs/audit.md`), whether it comes from the sign-in simulation or from directory
//! hygiene, its usual severity, what it means, and the one-line fix an admin is told.

use serde::Serialize;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Someone cannot sign in, or synchronisation to Microsoft 365 breaks.
    Error,
    /// Something will go wrong or be changed silently (sync rewrites or quarantines a value).
    Warning,
    /// Worth knowing: a disabled account that still blocks others.
    Info,
}

impl Severity {
    /// `error`, `warning` or `info`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// Where a rule comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// altgate's own sign-in resolution, simulated for every identifier of every account.
    SignIn,
    /// The sync preparation rules (seed 002) and IdFix's rule set.
    Hygiene,
}

macro_rules! rules {
    ($( $(#[$doc:meta])* $variant:ident = $id:literal, $kind:ident, $severity:ident,
        $title:literal, $fix:literal; )*) => {
        /// One audit rule. The ids are stable: scripts and spreadsheets key on them.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Rule {
            $( $(#[$doc])* $variant, )*
        }

        impl Rule {
            /// Every rule, in catalogue order (sign-in first).
            pub const ALL: &'static [Rule] = &[ $( Rule::$variant, )* ];

            /// The stable id.
            pub fn id(self) -> &'static str {
                match self { $( Rule::$variant => $id, )* }
            }

            /// Sign-in simulation or hygiene.
            pub fn kind(self) -> Kind {
                match self { $( Rule::$variant => Kind::$kind, )* }
            }

            /// The usual severity (a finding may be lower: see [`Severity`]).
            pub fn severity(self) -> Severity {
                match self { $( Rule::$variant => Severity::$severity, )* }
            }

            /// What the rule means, in one line.
            pub fn title(self) -> &'static str {
                match self { $( Rule::$variant => $title, )* }
            }

            /// The fix an admin is told, in one line.
            pub fn fix(self) -> &'static str {
                match self { $( Rule::$variant => $fix, )* }
            }
        }
    };
}

rules! {
    /// MSIS8015: the alternate ID is held by more than one account of one forest.
    AltIdAmbiguousInForest = "alt_id_ambiguous_in_forest", SignIn, Error,
        "the alternate ID is held by several accounts in one forest: sign-in fails with MSIS8015",
        "give each account its own alternate ID value (or clear it on all but one)";
    /// MSIS8014: the alternate ID is held by accounts of more than one lookup forest.
    AltIdAmbiguousAcrossForests = "alt_id_ambiguous_across_forests", SignIn, Error,
        "the alternate ID is held by accounts in several forests: sign-in fails with MSIS8014",
        "keep the value on the account in one forest only";
    /// Typing the UPN finds another account's alternate ID first.
    AltIdShadowsUpn = "alt_id_shadows_upn", SignIn, Error,
        "the UPN is another account's alternate ID: typing it signs in as that account or fails",
        "change the other account's alternate ID, or have this user sign in with their own alternate ID";
    /// Typing the UPN is ambiguous (the same UPN in two forests).
    UpnAmbiguous = "upn_ambiguous", SignIn, Error,
        "the UPN is held by several accounts: signing in with it fails with MSIS8014/MSIS8015",
        "make the UPN unique across the forests";
    /// No identifier of the user can reach Microsoft 365.
    NoAltIdNonroutableUpn = "no_alt_id_nonroutable_upn", SignIn, Error,
        "no alternate ID, and the UPN is missing or its suffix is not routable or not federated",
        "set the alternate ID (e.g. mail) to an address in a federated domain, or give the user a routable UPN";
    /// The token would carry a UPN in a domain that is not federated.
    AltIdDomainNotFederated = "alt_id_domain_not_federated", SignIn, Error,
        "the alternate ID's domain is not in federation.federated_domains: Microsoft 365 refuses the token",
        "use an address in a federated domain, or federate the domain and list it in federation.federated_domains";
    /// MSIS8012.
    MissingSamAccountName = "missing_sam_account_name", SignIn, Error,
        "the account has no sAMAccountName: sign-in fails with MSIS8012",
        "give the account a sAMAccountName";
    /// MSIS8013.
    BadCanonicalName = "bad_canonical_name", SignIn, Error,
        "the account's canonicalName is not dns.domain/...: sign-in fails with MSIS8013",
        "check the object's DN and domain (canonicalName is derived from them)";
    /// `NETBIOS\sam` does not reach the account.
    DownLevelLoginFails = "down_level_login_fails", SignIn, Error,
        "signing in as NETBIOS\\sAMAccountName does not reach this account",
        "make the sAMAccountName unique in its domain and the NetBIOS name unique across the forests";
    /// The identifier is refused before any lookup.
    IdentifierRejected = "identifier_rejected", SignIn, Error,
        "this identifier is refused before any lookup (control character, or longer than 320 characters)",
        "remove control characters and shorten the value";

    /// No UPN.
    UpnBlank = "upn_blank", Hygiene, Warning,
        "no userPrincipalName: sync falls back to sAMAccountName@initial domain",
        "set a userPrincipalName in a routable domain";
    /// UPN over 113 characters, 64 before the `@` or 48 after it.
    UpnTooLong = "upn_too_long", Hygiene, Error,
        "userPrincipalName longer than 113 characters (64 before @, 48 after)",
        "shorten the userPrincipalName";
    /// UPN with a character seed 002 forbids.
    UpnInvalidCharacters = "upn_invalid_characters", Hygiene, Error,
        "userPrincipalName contains a character sync refuses (\\ % & * + / = ? { } | < > ( ) ; : , [ ] \", umlauts)",
        "remove the characters from the userPrincipalName";
    /// UPN with non-ASCII characters sync rewrites.
    UpnUnicodeCharacters = "upn_unicode_characters", Hygiene, Warning,
        "userPrincipalName contains non-ASCII characters: sync replaces them with '_'",
        "use ASCII in the userPrincipalName";
    /// UPN not `local@domain` in SMTP form.
    UpnFormat = "upn_format", Hygiene, Error,
        "userPrincipalName is not local@domain in SMTP form (no @, @ first, local part ending in . & space or @)",
        "rewrite the userPrincipalName as user@domain";
    /// UPN suffix under an unknown top-level domain (not reported for accounts an alternate
    /// ID covers: their on-premises UPN never reaches the cloud).
    UpnTopLevelDomain = "upn_top_level_domain", Hygiene, Warning,
        "userPrincipalName suffix is not routable (top-level domain not in the IANA list) and no alternate ID covers the account",
        "add a routable UPN suffix and move the user to it, or give the user an alternate ID";
    /// The same UPN on several objects.
    UpnDuplicate = "upn_duplicate", Hygiene, Error,
        "userPrincipalName held by several objects",
        "make the userPrincipalName unique";
    /// `mail` not an SMTP address.
    MailFormat = "mail_format", Hygiene, Warning,
        "mail is not an SMTP address",
        "correct the mail attribute";
    /// The same `mail` on several objects.
    MailDuplicate = "mail_duplicate", Hygiene, Error,
        "mail held by several objects: only the first is synchronised",
        "make mail unique";
    /// A `proxyAddresses` value over 256 characters.
    ProxyAddressTooLong = "proxy_address_too_long", Hygiene, Error,
        "proxyAddresses value longer than 256 characters",
        "shorten or remove the proxy address";
    /// A `proxyAddresses` value with a forbidden character.
    ProxyAddressInvalidCharacters = "proxy_address_invalid_characters", Hygiene, Error,
        "proxyAddresses value contains a character sync refuses (< > ( ) ; : , [ ] \" space)",
        "remove the characters from the proxy address";
    /// A `proxyAddresses` value not `type:address`, or an SMTP one not an address.
    ProxyAddressFormat = "proxy_address_format", Hygiene, Error,
        "proxyAddresses value is not type:address, or its SMTP address is malformed",
        "rewrite the value as smtp:user@domain (SMTP: for the primary)";
    /// An SMTP proxy address under an unknown top-level domain.
    ProxyAddressTopLevelDomain = "proxy_address_top_level_domain", Hygiene, Warning,
        "SMTP proxy address in a non-routable domain (top-level domain not in the IANA list)",
        "remove the address or move it to a routable domain";
    /// The same proxy address on several objects.
    ProxyAddressDuplicate = "proxy_address_duplicate", Hygiene, Error,
        "proxy address held by several objects",
        "remove the duplicate proxy address";
    /// An address used by one object in one attribute and by another in another.
    AddressConflict = "address_conflict", Hygiene, Warning,
        "the address is another object's mail, UPN or proxy address: the cloud quarantines one of them",
        "give each address to one object only";
    /// `mailNickname` of blanks.
    MailNicknameBlank = "mail_nickname_blank", Hygiene, Warning,
        "mailNickname is blank",
        "set mailNickname or clear it";
    /// `mailNickname` starting with a period.
    MailNicknameFormat = "mail_nickname_format", Hygiene, Error,
        "mailNickname starts with a period",
        "remove the leading period from mailNickname";
    /// The same `mailNickname` on several objects.
    MailNicknameDuplicate = "mail_nickname_duplicate", Hygiene, Error,
        "mailNickname held by several objects",
        "make mailNickname unique";
    /// `sAMAccountName` over 20 characters.
    SamAccountNameTooLong = "sam_account_name_too_long", Hygiene, Warning,
        "sAMAccountName longer than 20 characters (an error when the object has no UPN)",
        "shorten the sAMAccountName";
    /// `sAMAccountName` with a forbidden character.
    SamAccountNameInvalidCharacters = "sam_account_name_invalid_characters", Hygiene, Warning,
        "sAMAccountName contains a character sync refuses ([ \\ \" | , / : < > + = ; ? * ]; an error when the object has no UPN)",
        "remove the characters from the sAMAccountName";
    /// The same `sAMAccountName` twice in one domain.
    SamAccountNameDuplicate = "sam_account_name_duplicate", Hygiene, Error,
        "sAMAccountName held by several objects of one domain",
        "make the sAMAccountName unique in its domain";
    /// No `displayName`, or blanks.
    DisplayNameBlank = "display_name_blank", Hygiene, Error,
        "displayName missing or blank",
        "set a displayName";
    /// `displayName` over 255 characters.
    DisplayNameTooLong = "display_name_too_long", Hygiene, Error,
        "displayName longer than 255 characters",
        "shorten the displayName";
    /// `givenName` over 63 characters.
    GivenNameTooLong = "given_name_too_long", Hygiene, Error,
        "givenName longer than 63 characters",
        "shorten the givenName";
    /// `targetAddress` of blanks.
    TargetAddressBlank = "target_address_blank", Hygiene, Warning,
        "targetAddress is blank",
        "set targetAddress or clear it";
    /// `targetAddress` over 255 characters.
    TargetAddressTooLong = "target_address_too_long", Hygiene, Error,
        "targetAddress longer than 255 characters",
        "shorten the targetAddress";
    /// `targetAddress` with a forbidden character.
    TargetAddressInvalidCharacters = "target_address_invalid_characters", Hygiene, Error,
        "targetAddress contains a character sync refuses (\\ < > ( ) ; : , [ ] \" space)",
        "remove the characters from the targetAddress";
    /// `targetAddress` not `type:address`, or an SMTP one not an address.
    TargetAddressFormat = "target_address_format", Hygiene, Error,
        "targetAddress is not type:address, or its SMTP address is malformed",
        "rewrite the value as SMTP:user@domain";
    /// The same `targetAddress` on several objects.
    TargetAddressDuplicate = "target_address_duplicate", Hygiene, Error,
        "targetAddress held by several objects",
        "make targetAddress unique";
}

impl Rule {
    /// The rule with this id.
    pub fn from_id(id: &str) -> Option<Rule> {
        Rule::ALL.iter().copied().find(|r| r.id() == id)
    }
}

impl Serialize for Rule {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_unique_snake_case_and_round_trip() {
        let mut seen = HashSet::new();
        for r in Rule::ALL {
            assert!(seen.insert(r.id()), "duplicate id {}", r.id());
            assert!(r
                .id()
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'));
            assert_eq!(Rule::from_id(r.id()), Some(*r));
            assert!(!r.title().is_empty() && !r.fix().is_empty());
        }
        assert_eq!(Rule::from_id("nope"), None);
    }

    #[test]
    fn every_rule_is_documented() {
        let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/audit.md"))
            .expect("docs/audit.md");
        for r in Rule::ALL {
            assert!(
                doc.contains(&format!("`{}`", r.id())),
                "docs/audit.md does not document {}",
                r.id()
            );
        }
    }
}
