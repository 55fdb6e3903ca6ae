//! The client principal of an accepted ticket, as MIT prints it (`krb5_unparse_name`): `sam@REALM`
//! for a user, `WS01$@REALM` for a computer, `jdoe\@contoso.com@REALM` for an enterprise
//! principal (a UPN the KDC did not canonicalise). Parsing undoes MIT's escapes (`\@`, `\/`,
//! `\\`, `\n`, `\t`, `\b`, `\0`) and refuses anything else: a service principal
//! (`host/ws01.contoso.com`), an empty name or realm, a control character, a realm that is not
//! a DNS name.

/// Longest principal accepted, in bytes (AD's names are far shorter).
pub const MAX_PRINCIPAL_BYTES: usize = 1024;

/// Who a principal names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Client {
    /// A user by `sAMAccountName`.
    User(String),
    /// A computer by `sAMAccountName` (ending in `$`).
    Computer(String),
    /// An enterprise principal: a user by `userPrincipalName`.
    Enterprise(String),
}

/// A client principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Who it names.
    pub client: Client,
    /// Its realm, upper case.
    pub realm: String,
}

impl Principal {
    /// The `sAMAccountName` or UPN the principal names.
    pub fn name(&self) -> &str {
        match &self.client {
            Client::User(n) | Client::Computer(n) | Client::Enterprise(n) => n,
        }
    }

    /// The principal as MIT prints it (for logs).
    pub fn display(&self) -> String {
        format!("{}@{}", self.name().replace('@', "\\@"), self.realm)
    }
}

/// Why a principal name was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PrincipalError {
    /// Empty, too long, malformed escapes or a control character.
    #[error("not a principal name")]
    Malformed,
    /// More than one name component: a service, not a user or a computer.
    #[error("a service principal, not a user or computer")]
    Service,
}

/// Parses a principal as MIT displays it.
pub fn parse(display: &str) -> Result<Principal, PrincipalError> {
    if display.is_empty() || display.len() > MAX_PRINCIPAL_BYTES {
        return Err(PrincipalError::Malformed);
    }
    let mut components = vec![String::new()];
    let mut realm: Option<String> = None;
    let mut chars = display.chars();
    while let Some(c) = chars.next() {
        let unescaped = match c {
            '\\' => match chars.next().ok_or(PrincipalError::Malformed)? {
                'n' => '\n',
                't' => '\t',
                'b' => '\u{8}',
                '0' => '\0',
                e @ ('@' | '/' | '\\') => e,
                _ => return Err(PrincipalError::Malformed),
            },
            '@' if realm.is_none() => {
                realm = Some(String::new());
                continue;
            }
            '/' if realm.is_none() => {
                components.push(String::new());
                continue;
            }
            c => c,
        };
        match realm.as_mut() {
            Some(r) => r.push(unescaped),
            None => components
                .last_mut()
                .ok_or(PrincipalError::Malformed)?
                .push(unescaped),
        }
    }
    let realm = realm.ok_or(PrincipalError::Malformed)?;
    let bad = |s: &str| s.is_empty() || s.chars().any(char::is_control);
    // A realm is a domain's DNS name in capitals: nothing else is looked up.
    let dns = |r: &str| {
        r.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    };
    if bad(&realm) || !dns(&realm) || components.iter().any(|c| bad(c)) {
        return Err(PrincipalError::Malformed);
    }
    let [name] = <[String; 1]>::try_from(components).map_err(|_| PrincipalError::Service)?;
    let client = if name.contains('@') {
        Client::Enterprise(name)
    } else if name.ends_with('$') {
        Client::Computer(name)
    } else {
        Client::User(name)
    };
    Ok(Principal {
        client,
        realm: realm.to_ascii_uppercase(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_computers_and_enterprise_principals() {
        assert_eq!(
            parse("krb-user@CONTOSO.COM"),
            Ok(Principal {
                client: Client::User("krb-user".into()),
                realm: "CONTOSO.COM".into()
            })
        );
        assert_eq!(
            parse("WS01$@contoso.com"),
            Ok(Principal {
                client: Client::Computer("WS01$".into()),
                realm: "CONTOSO.COM".into()
            })
        );
        let p = parse("jdoe\\@contoso.com@CONTOSO.COM").expect("enterprise");
        assert_eq!(p.client, Client::Enterprise("jdoe@contoso.com".into()));
        assert_eq!(p.display(), "jdoe\\@contoso.com@CONTOSO.COM");
    }

    #[test]
    fn services_and_malformed_names_are_refused() {
        assert_eq!(
            parse("host/ws01.contoso.com@CONTOSO.COM"),
            Err(PrincipalError::Service)
        );
        assert_eq!(
            parse("HTTP/sts.contoso.com@CONTOSO.COM"),
            Err(PrincipalError::Service)
        );
        for bad in [
            "",
            "nobody",
            "@CONTOSO.COM",
            "user@",
            "user\\",
            "us\\qer@R",
            "us\\ner@R",
            "user@RE\\@ALM",
            "a/@R",
            "a@RE\\\\ALM",
            "a@RE ALM",
        ] {
            assert_eq!(parse(bad), Err(PrincipalError::Malformed), "{bad:?}");
        }
        assert_eq!(
            parse(&format!("{}@R", "a".repeat(MAX_PRINCIPAL_BYTES))),
            Err(PrincipalError::Malformed)
        );
    }
}
