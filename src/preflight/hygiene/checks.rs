//! The per-value hygiene checks, each a small pure function: the attribute rules of seed 002
//! (Office 365 directory sync preparation), and IdFix's rules where the seed is silent. Every
//! check returns the rules the value breaks, with a short detail for the fix line.
//!
//! As in IdFix, a format check looks at the value as the character checks would leave it
//! (forbidden characters removed, other non-ASCII characters read as `_`, which is what sync
//! turns them into), so one bad character is reported once, as a character problem.

use super::super::rules::Rule;
use super::tld;

/// One broken rule, with what exactly is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// The rule.
    pub rule: Rule,
    /// What is wrong, for the fix line (`"65 characters before @ (limit 64)"`).
    pub detail: String,
}

fn hit(rule: Rule, detail: impl Into<String>) -> Hit {
    Hit {
        rule,
        detail: detail.into(),
    }
}

/// UPN: longest value (64 + `@` + 48).
pub const UPN_MAX: usize = 113;
/// UPN: longest part before the `@`.
pub const UPN_LOCAL_MAX: usize = 64;
/// UPN: longest part after the `@`.
pub const UPN_DOMAIN_MAX: usize = 48;
/// `sAMAccountName`.
pub const SAM_MAX: usize = 20;
/// `displayName`.
pub const DISPLAY_NAME_MAX: usize = 255;
/// `givenName`.
pub const GIVEN_NAME_MAX: usize = 63;
/// One `proxyAddresses` value.
pub const PROXY_ADDRESS_MAX: usize = 256;
/// `targetAddress`.
pub const TARGET_ADDRESS_MAX: usize = 255;

/// Seed 002: characters a UPN may not contain (the seed prints the double quote as “).
pub const UPN_INVALID: &[char] = &[
    '\\', '%', '&', '*', '+', '/', '=', '?', '{', '}', '|', '<', '>', '(', ')', ';', ':', ',', '[',
    ']', '"',
];
/// Seed 002: umlauts are invalid in a UPN too (IdFix's list).
pub const UMLAUTS: &[char] = &['ä', 'ë', 'ï', 'ö', 'ü', 'ÿ', 'Ä', 'Ë', 'Ï', 'Ö', 'Ü', 'Ÿ'];
/// Seed 002: characters a `sAMAccountName` may not contain.
pub const SAM_INVALID: &[char] = &[
    '[', '\\', '"', '|', ',', '/', ':', '<', '>', '+', '=', ';', '?', '*', ']',
];
/// Seed 002: characters the address of an SMTP `proxyAddresses` value may not contain
/// (blanks are refused too).
pub const PROXY_SMTP_INVALID: &[char] = &['<', '>', '(', ')', ';', ':', ',', '[', ']', '"'];
/// IdFix: other proxy address types (`SIP:`, `EUM:`...).
pub const PROXY_OTHER_INVALID: &[char] = &['<', '>', '(', ')', ':', ',', '[', ']', '"'];
/// IdFix: X.400 and X.500 addresses (plus control blanks).
pub const PROXY_X400_INVALID: &[char] = &['[', ']', '"', '\''];
/// Seed 002: characters the address of an SMTP `targetAddress` may not contain (and blanks).
pub const TARGET_SMTP_INVALID: &[char] = &['\\', '<', '>', '(', ')', ';', ':', ',', '[', ']', '"'];
/// IdFix: other `targetAddress` types.
pub const TARGET_OTHER_INVALID: &[char] = &['\\', '<', '>', '(', ')', ':', ',', '[', ']', '"'];

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// Nothing but blanks (or empty).
pub fn is_blank(s: &str) -> bool {
    s.trim().is_empty()
}

/// The distinct characters of `s` found in `set`, in order of appearance.
pub fn invalid_characters(s: &str, set: &[char]) -> Vec<char> {
    let mut out: Vec<char> = Vec::new();
    for c in s.chars() {
        if set.contains(&c) && !out.contains(&c) {
            out.push(c);
        }
    }
    out
}

fn describe_characters(found: &[char]) -> String {
    found
        .iter()
        .map(|c| match c {
            ' ' => "space".to_string(),
            c if c.is_whitespace() || c.is_control() => format!("U+{:04X}", u32::from(*c)),
            c => format!("'{c}'"),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The value as the character checks leave it: characters of `removed` dropped, other
/// non-ASCII characters read as `_`.
fn skeleton(s: &str, removed: &[char]) -> String {
    s.chars()
        .filter(|c| !removed.contains(c))
        .map(|c| if c.is_ascii() { c } else { '_' })
        .collect()
}

fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-".contains(c)
}

/// RFC 2822 `local@domain` as IdFix checks it: a dot-atom local part, a domain of
/// letter/digit/hyphen labels ending in a 2-17 letter top-level label. `Err` says what is wrong.
pub fn smtp_address(s: &str) -> Result<(), &'static str> {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return Err("no @");
    };
    if local.is_empty() {
        return Err("nothing before @");
    }
    if local.contains('@') {
        return Err("more than one @");
    }
    if local
        .split('.')
        .any(|atom| atom.is_empty() || !atom.chars().all(is_atext))
    {
        return Err("the part before @ is not a valid address");
    }
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    // IdFix: 2-17 letters; internationalised top-level domains come as xn--.
    let top_ok = labels.last().is_some_and(|t| {
        ((2..=17).contains(&t.len()) && t.chars().all(|c| c.is_ascii_alphabetic()))
            || t.to_ascii_lowercase().starts_with("xn--")
    });
    if labels.len() < 2 || !labels.iter().all(label_ok) || !top_ok {
        return Err("the part after @ is not a valid domain");
    }
    Ok(())
}

/// The top-level label of an address's domain, when the domain has a dot.
pub fn top_level(address: &str) -> Option<String> {
    let domain = address.rsplit_once('@').map_or(address, |(_, d)| d);
    domain
        .rsplit_once('.')
        .map(|(_, t)| t.to_lowercase())
        .filter(|t| !t.is_empty())
}

/// True when the address's domain ends in a top-level domain of the IANA list.
pub fn routable(address: &str) -> bool {
    top_level(address).is_some_and(|t| tld::is_known(&t))
}

/// `userPrincipalName`.
pub fn upn(value: Option<&str>) -> Vec<Hit> {
    let Some(v) = value.filter(|v| !is_blank(v)) else {
        return vec![hit(Rule::UpnBlank, "no userPrincipalName")];
    };
    let mut out = Vec::new();
    let (local, domain) = v.rsplit_once('@').unwrap_or((v, ""));
    let mut long = Vec::new();
    if chars(v) > UPN_MAX {
        long.push(format!("{} characters (limit {UPN_MAX})", chars(v)));
    }
    if chars(local) > UPN_LOCAL_MAX {
        long.push(format!(
            "{} characters before @ (limit {UPN_LOCAL_MAX})",
            chars(local)
        ));
    }
    if chars(domain) > UPN_DOMAIN_MAX {
        long.push(format!(
            "{} characters after @ (limit {UPN_DOMAIN_MAX})",
            chars(domain)
        ));
    }
    if !long.is_empty() {
        out.push(hit(Rule::UpnTooLong, long.join(", ")));
    }
    let mut bad = invalid_characters(v, UPN_INVALID);
    bad.extend(invalid_characters(v, UMLAUTS));
    if !bad.is_empty() {
        out.push(hit(Rule::UpnInvalidCharacters, describe_characters(&bad)));
    }
    let unicode: Vec<char> = v
        .chars()
        .filter(|c| !c.is_ascii() && !UMLAUTS.contains(c))
        .fold(Vec::new(), |mut acc, c| {
            if !acc.contains(&c) {
                acc.push(c);
            }
            acc
        });
    if !unicode.is_empty() {
        out.push(hit(
            Rule::UpnUnicodeCharacters,
            describe_characters(&unicode),
        ));
    }
    let format = if !v.contains('@') {
        Some("no @".to_string())
    } else if v.starts_with('@') {
        Some("@ is the first character".to_string())
    } else if let Some(c) = local
        .chars()
        .last()
        .filter(|c| ['.', '&', ' ', '@'].contains(c))
    {
        Some(format!(
            "the part before @ ends with {}",
            describe_characters(&[c])
        ))
    } else if v.chars().any(char::is_whitespace) {
        Some("contains blanks".to_string())
    } else {
        let mut removed = UPN_INVALID.to_vec();
        removed.extend_from_slice(UMLAUTS);
        smtp_address(&skeleton(v, &removed))
            .err()
            .map(str::to_string)
    };
    if let Some(why) = format {
        out.push(hit(Rule::UpnFormat, why));
    }
    if let Some(t) = top_level(domain).filter(|t| !tld::is_known(t)) {
        out.push(hit(
            Rule::UpnTopLevelDomain,
            format!(".{t} is not a top-level domain"),
        ));
    }
    out
}

/// `mail` (present).
pub fn mail(v: &str) -> Vec<Hit> {
    let why = if is_blank(v) {
        Some("blank")
    } else if v.chars().any(char::is_whitespace) {
        Some("contains blanks")
    } else {
        smtp_address(&skeleton(v, &[])).err()
    };
    why.map(|w| vec![hit(Rule::MailFormat, w)])
        .unwrap_or_default()
}

/// `type:address` split at the first colon, when there is a non-empty type.
fn typed(v: &str) -> Option<(&str, &str)> {
    v.split_once(':').filter(|(t, _)| !t.trim().is_empty())
}

fn is_x400_or_x500(kind: &str) -> bool {
    let k = kind.to_ascii_lowercase().replace('.', "");
    k == "x400" || k == "x500"
}

/// One `proxyAddresses` value.
pub fn proxy_address(v: &str) -> Vec<Hit> {
    let mut out = Vec::new();
    if chars(v) > PROXY_ADDRESS_MAX {
        out.push(hit(
            Rule::ProxyAddressTooLong,
            format!("{} characters (limit {PROXY_ADDRESS_MAX})", chars(v)),
        ));
    }
    let Some((kind, address)) = typed(v) else {
        out.push(hit(Rule::ProxyAddressFormat, "not type:address"));
        return out;
    };
    let smtp = kind.eq_ignore_ascii_case("smtp");
    let (set, blanks): (&[char], fn(char) -> bool) = if smtp {
        (PROXY_SMTP_INVALID, char::is_whitespace)
    } else if is_x400_or_x500(kind) {
        (PROXY_X400_INVALID, |c| c.is_whitespace() && c != ' ')
    } else {
        (PROXY_OTHER_INVALID, char::is_whitespace)
    };
    let mut bad = invalid_characters(address, set);
    for c in address.chars().filter(|c| blanks(*c)) {
        if !bad.contains(&c) {
            bad.push(c);
        }
    }
    if !bad.is_empty() {
        out.push(hit(
            Rule::ProxyAddressInvalidCharacters,
            describe_characters(&bad),
        ));
    }
    if smtp {
        let clean: String = skeleton(address, set)
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        if let Err(why) = smtp_address(&clean) {
            out.push(hit(Rule::ProxyAddressFormat, why));
        }
        if let Some(t) = top_level(&clean).filter(|t| !tld::is_known(t)) {
            out.push(hit(
                Rule::ProxyAddressTopLevelDomain,
                format!(".{t} is not a top-level domain"),
            ));
        }
    } else if is_blank(address) {
        out.push(hit(Rule::ProxyAddressFormat, "no address after the type"));
    }
    out
}

/// `targetAddress` (present).
pub fn target_address(v: &str) -> Vec<Hit> {
    if is_blank(v) {
        return vec![hit(Rule::TargetAddressBlank, "blank")];
    }
    let mut out = Vec::new();
    if chars(v) > TARGET_ADDRESS_MAX {
        out.push(hit(
            Rule::TargetAddressTooLong,
            format!("{} characters (limit {TARGET_ADDRESS_MAX})", chars(v)),
        ));
    }
    let Some((kind, address)) = typed(v) else {
        out.push(hit(Rule::TargetAddressFormat, "not type:address"));
        return out;
    };
    let smtp = kind.eq_ignore_ascii_case("smtp");
    let set = if smtp {
        TARGET_SMTP_INVALID
    } else {
        TARGET_OTHER_INVALID
    };
    let mut bad = invalid_characters(address, set);
    for c in address.chars().filter(|c| c.is_whitespace()) {
        if !bad.contains(&c) {
            bad.push(c);
        }
    }
    if !bad.is_empty() {
        out.push(hit(
            Rule::TargetAddressInvalidCharacters,
            describe_characters(&bad),
        ));
    }
    if smtp {
        let clean: String = skeleton(address, set)
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        if let Err(why) = smtp_address(&clean) {
            out.push(hit(Rule::TargetAddressFormat, why));
        }
    } else if is_blank(address) {
        out.push(hit(Rule::TargetAddressFormat, "no address after the type"));
    }
    out
}

/// `mailNickname` (present).
pub fn mail_nickname(v: &str) -> Vec<Hit> {
    if is_blank(v) {
        return vec![hit(Rule::MailNicknameBlank, "blank")];
    }
    if v.starts_with('.') {
        return vec![hit(Rule::MailNicknameFormat, "starts with a period")];
    }
    Vec::new()
}

/// `sAMAccountName` (present; a missing one is MSIS8012, a sign-in rule).
pub fn sam_account_name(v: &str) -> Vec<Hit> {
    let mut out = Vec::new();
    if chars(v) > SAM_MAX {
        out.push(hit(
            Rule::SamAccountNameTooLong,
            format!("{} characters (limit {SAM_MAX})", chars(v)),
        ));
    }
    let bad = invalid_characters(v, SAM_INVALID);
    if !bad.is_empty() {
        out.push(hit(
            Rule::SamAccountNameInvalidCharacters,
            describe_characters(&bad),
        ));
    }
    out
}

/// `displayName` (missing counts as blank, as in IdFix).
pub fn display_name(value: Option<&str>) -> Vec<Hit> {
    match value {
        None => vec![hit(Rule::DisplayNameBlank, "no displayName")],
        Some(v) if is_blank(v) => vec![hit(Rule::DisplayNameBlank, "blank")],
        Some(v) if chars(v) > DISPLAY_NAME_MAX => vec![hit(
            Rule::DisplayNameTooLong,
            format!("{} characters (limit {DISPLAY_NAME_MAX})", chars(v)),
        )],
        Some(_) => Vec::new(),
    }
}

/// `givenName` (present).
pub fn given_name(v: &str) -> Vec<Hit> {
    if chars(v) > GIVEN_NAME_MAX {
        return vec![hit(
            Rule::GivenNameTooLong,
            format!("{} characters (limit {GIVEN_NAME_MAX})", chars(v)),
        )];
    }
    Vec::new()
}

#[cfg(test)]
mod tests;
