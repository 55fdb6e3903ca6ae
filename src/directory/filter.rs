//! LDAP search filters built from untrusted input. Values are escaped per RFC 4515 so that
//! `*`, `(`, `)`, `\` and NUL can never widen or restructure a filter.

use super::UserQuery;

/// Escapes an assertion value (RFC 4515 section 3): `*` `(` `)` `\` NUL become `\2a` `\28`
/// `\29` `\5c` `\00`. Everything else, UTF-8 included, passes through.
pub fn escape_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        match c {
            '*' => out.push_str("\\2a"),
            '(' => out.push_str("\\28"),
            ')' => out.push_str("\\29"),
            '\\' => out.push_str("\\5c"),
            '\0' => out.push_str("\\00"),
            c => out.push(c),
        }
    }
    out
}

/// Only user objects (people), never computers or contacts.
pub const USER_CLASS: &str = "(objectCategory=person)(objectClass=user)";

/// The filter for a query. Attribute names come from validated configuration, values are escaped.
pub fn for_query(query: &UserQuery) -> String {
    match query {
        UserQuery::AttributeEquals { attribute, value } => {
            format!("(&{USER_CLASS}({attribute}={}))", escape_value(value))
        }
        UserQuery::SamAccountName { sam, .. } => {
            format!("(&{USER_CLASS}(sAMAccountName={}))", escape_value(sam))
        }
    }
}

/// Every user object (people), as a directory scan reads them.
pub fn all_users() -> String {
    format!("(&{USER_CLASS})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metacharacters_are_escaped() {
        assert_eq!(escape_value("*"), "\\2a");
        assert_eq!(escape_value("o*brien(test)@x"), "o\\2abrien\\28test\\29@x");
        assert_eq!(escape_value("back\\slash"), "back\\5cslash");
        assert_eq!(escape_value("nul\0byte"), "nul\\00byte");
        assert_eq!(escape_value("山田@例え.jp"), "山田@例え.jp");
    }

    #[test]
    fn an_injection_attempt_stays_one_equality_assertion() {
        let f = for_query(&UserQuery::AttributeEquals {
            attribute: "mail".into(),
            value: "*)(|(mail=*".into(),
        });
        assert_eq!(
            f,
            "(&(objectCategory=person)(objectClass=user)(mail=\\2a\\29\\28|\\28mail=\\2a))"
        );
        // Balanced parentheses: the value contributed none.
        let opens = f.matches('(').count();
        assert_eq!(opens, f.matches(')').count());
        assert_eq!(opens, 4);
    }

    #[test]
    fn sam_filter_escapes_too() {
        let f = for_query(&UserQuery::SamAccountName {
            domain_dn: "DC=contoso,DC=com".into(),
            sam: "j*".into(),
        });
        assert!(f.ends_with("(sAMAccountName=j\\2a))"), "{f}");
    }
}
