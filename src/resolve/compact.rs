//! How a resolution is kept in the cache: its strings in one allocation (with their end
//! offsets), the forest, domain and NetBIOS names and the searched-forest lists interned (shared
//! by every entry that names them), so a cached identity costs a few hundred bytes instead of a
//! dozen allocations. [`Compact::expand`] gives back the [`Resolution`] exactly.

use super::{Failure, FailureCode, Outcome, Resolution, ResolvedAccount, UpnFallback, Via};
use std::sync::{Arc, Mutex};

/// The string fields, in the order they are packed.
const LOGIN: usize = 0;
const UPN: usize = 1;
const SAM: usize = 2;
const DN: usize = 3;
const IMMUTABLE_ID: usize = 4;
const DISPLAY: usize = 5;
const GIVEN: usize = 6;
const SURNAME: usize = 7;
const MESSAGE: usize = 8;
const FIELDS: usize = 9;
/// `present` bit: the DN's domain suffix was left out.
const DN_ELIDED: u16 = 1 << 15;

/// `,DC=contoso,DC=com` for `contoso.com`: how a DN in that domain ends.
fn domain_suffix(domain: &str) -> String {
    domain
        .split('.')
        .filter(|l| !l.is_empty())
        .map(|l| format!(",DC={l}"))
        .collect()
}

/// A cached resolution (the cache hands out clones: one copy of the text, which a hit expands
/// into a dozen strings anyway).
#[derive(Clone)]
pub(crate) struct Compact {
    /// The string fields, concatenated; the login is left out when it is the cache key, and the
    /// DN's domain suffix (`,DC=contoso,DC=com`) when it is the domain's own.
    text: Box<str>,
    /// Where each field ends in `text` (a resolution whose strings pass 64 KiB is not kept).
    ends: [u16; FIELDS],
    /// Which optional fields are present (bit per field).
    present: u16,
    outcome: Outcome,
    via: Option<Via>,
    upn_fallback: Option<UpnFallback>,
    /// Forest, domain, NetBIOS name (interned together); `None` without an account.
    names: Option<Arc<Names>>,
    enabled: bool,
    /// The failure's code (its MSIS code and event id follow from it).
    failure: Option<FailureCode>,
    /// Forests searched and forests unreachable (interned together).
    forests: Arc<Forests>,
    /// How long it may be kept (the resolution's own rule).
    lifetime: crate::cache::Lifetime,
}

/// An account's forest, domain and NetBIOS domain name.
#[derive(PartialEq, Eq)]
struct Names {
    forest: String,
    domain: String,
    netbios: Option<String>,
}

/// Forests searched, and those unreachable.
#[derive(PartialEq, Eq)]
struct Forests {
    searched: Vec<String>,
    unreachable: Vec<String>,
}

/// Shared copies of the few names and forest lists every entry repeats. Bounded: past
/// [`Interner::MAX`] values a new one is kept unshared.
#[derive(Default)]
pub(crate) struct Interner {
    names: Mutex<Vec<Arc<Names>>>,
    forests: Mutex<Vec<Arc<Forests>>>,
}

/// The shared copy of `value` in `pool`, added when new (unshared past [`Interner::MAX`]).
fn intern<T: PartialEq>(pool: &Mutex<Vec<Arc<T>>>, value: T) -> Arc<T> {
    let mut pool = pool.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(x) = pool.iter().find(|x| ***x == value) {
        return Arc::clone(x);
    }
    let x = Arc::new(value);
    if pool.len() < Interner::MAX {
        pool.push(Arc::clone(&x));
    }
    x
}

impl Interner {
    const MAX: usize = 4096;
}

impl Compact {
    /// Packs `r`, cached under `key`, sharing names through `interner`.
    pub(crate) fn pack(r: &Resolution, key: &str, interner: &Interner) -> Compact {
        let a = r.account.as_ref();
        let suffix = a.map(|a| domain_suffix(&a.domain)).unwrap_or_default();
        let dn = a.map(|a| {
            a.distinguished_name
                .strip_suffix(suffix.as_str())
                .filter(|rest| !suffix.is_empty() && !rest.is_empty())
                .unwrap_or(&a.distinguished_name)
        });
        let dn_elided =
            a.is_some_and(|a| dn.is_some_and(|d| d.len() != a.distinguished_name.len()));
        let fields: [Option<&str>; FIELDS] = [
            Some(r.login.as_str()).filter(|l| *l != key),
            a.and_then(|a| a.user_principal_name.as_deref()),
            a.map(|a| a.sam_account_name.as_str()),
            dn,
            a.and_then(|a| a.immutable_id.as_deref()),
            a.and_then(|a| a.display_name.as_deref()),
            a.and_then(|a| a.given_name.as_deref()),
            a.and_then(|a| a.surname.as_deref()),
            r.failure.as_ref().map(|f| f.message.as_str()),
        ];
        let mut text = String::with_capacity(fields.iter().flatten().map(|f| f.len()).sum());
        let mut ends = [0u16; FIELDS];
        let mut present = if dn_elided { DN_ELIDED } else { 0u16 };
        let mut fits = true;
        for (i, f) in fields.iter().enumerate() {
            if let Some(f) = f {
                text.push_str(f);
                present |= 1 << i;
            }
            match (ends.get_mut(i), u16::try_from(text.len())) {
                (Some(e), Ok(end)) => *e = end,
                _ => fits = false,
            }
        }
        let lifetime = if fits {
            r.lifetime()
        } else {
            crate::cache::Lifetime::Uncacheable
        };
        Compact {
            text: text.into_boxed_str(),
            ends,
            present,
            outcome: r.outcome,
            via: r.via,
            upn_fallback: r.upn_fallback,
            names: a.map(|a| {
                intern(
                    &interner.names,
                    Names {
                        forest: a.forest.clone(),
                        domain: a.domain.clone(),
                        netbios: a.netbios_domain.clone(),
                    },
                )
            }),
            enabled: a.is_some_and(|a| a.enabled),
            failure: r.failure.as_ref().map(|f| f.code),
            forests: intern(
                &interner.forests,
                Forests {
                    searched: r.forests_searched.clone(),
                    unreachable: r.unreachable_forests.clone(),
                },
            ),
            lifetime,
        }
    }

    fn field(&self, i: usize) -> Option<&str> {
        if self.present & (1 << i) == 0 {
            return None;
        }
        let start = i
            .checked_sub(1)
            .and_then(|p| self.ends.get(p))
            .copied()
            .unwrap_or(0);
        let end = self.ends.get(i).copied().unwrap_or(0);
        self.text.get(start as usize..end as usize)
    }

    fn owned(&self, i: usize) -> Option<String> {
        self.field(i).map(str::to_string)
    }

    /// The resolution it was packed from (under cache key `key`).
    pub(crate) fn expand(&self, key: &str) -> Resolution {
        let account = self.names.as_ref().map(|n| ResolvedAccount {
            forest: n.forest.clone(),
            domain: n.domain.clone(),
            netbios_domain: n.netbios.clone(),
            user_principal_name: self.owned(UPN),
            sam_account_name: self.owned(SAM).unwrap_or_default(),
            distinguished_name: {
                let mut dn = self.owned(DN).unwrap_or_default();
                if self.present & DN_ELIDED != 0 {
                    dn.push_str(&domain_suffix(&n.domain));
                }
                dn
            },
            immutable_id: self.owned(IMMUTABLE_ID),
            display_name: self.owned(DISPLAY),
            given_name: self.owned(GIVEN),
            surname: self.owned(SURNAME),
            enabled: self.enabled,
        });
        Resolution {
            login: self.owned(LOGIN).unwrap_or_else(|| key.to_string()),
            outcome: self.outcome,
            via: self.via,
            account,
            failure: self.failure.map(|code| Failure {
                code,
                msis: code.msis(),
                event_id: super::EVENT_ID,
                message: self.owned(MESSAGE).unwrap_or_default(),
            }),
            forests_searched: self.forests.searched.clone(),
            unreachable_forests: self.forests.unreachable.clone(),
            upn_fallback: self.upn_fallback,
        }
    }

    /// How long it may be kept.
    pub(crate) fn lifetime(&self) -> crate::cache::Lifetime {
        self.lifetime
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved() -> Resolution {
        Resolution {
            login: "jdoe@contoso.com".into(),
            outcome: Outcome::Resolved,
            via: Some(Via::AlternateLoginId),
            account: Some(ResolvedAccount {
                forest: "contoso.com".into(),
                domain: "corp.contoso.com".into(),
                netbios_domain: Some("CORP".into()),
                user_principal_name: Some("jdoe@corp.contoso.local".into()),
                sam_account_name: "jdoe".into(),
                distinguished_name: "CN=John Doe,OU=Staff,DC=corp,DC=contoso,DC=com".into(),
                immutable_id: Some("AAECAwQFBgcICQoLDA0ODw==".into()),
                display_name: Some("John Doe".into()),
                given_name: None,
                surname: Some("Doe".into()),
                enabled: true,
            }),
            failure: None,
            forests_searched: vec!["contoso.com".into(), "fabrikam.com".into()],
            unreachable_forests: Vec::new(),
            upn_fallback: None,
        }
    }

    #[test]
    fn packing_gives_back_the_same_resolution_and_shares_names() {
        let interner = Interner::default();
        let r = resolved();
        let c = Compact::pack(&r, "jdoe@contoso.com", &interner);
        assert_eq!(c.expand("jdoe@contoso.com"), r);
        let typed = Resolution {
            login: "JDoe@Contoso.com".into(),
            ..resolved()
        };
        assert_eq!(
            Compact::pack(&typed, "jdoe@contoso.com", &interner).expand("jdoe@contoso.com"),
            typed,
            "a spelling other than the key is kept"
        );
        let failed = Resolution::failed(
            "x@y".into(),
            Outcome::Ambiguous,
            FailureCode::Msis8014,
            "MSIS8014: more than one".into(),
        );
        assert_eq!(
            Compact::pack(&failed, "x@y", &interner).expand("x@y"),
            failed
        );
        let mut other = resolved();
        if let Some(a) = other.account.as_mut() {
            // A DN whose suffix is not its domain's, in another case, and one that is only it.
            a.distinguished_name = "CN=X,DC=Corp,DC=Contoso,DC=com".into();
        }
        assert_eq!(Compact::pack(&other, "k", &interner).expand("k"), other);
        if let Some(a) = other.account.as_mut() {
            a.distinguished_name = ",DC=corp,DC=contoso,DC=com".into();
        }
        assert_eq!(Compact::pack(&other, "k", &interner).expand("k"), other);
        let mut empty = resolved();
        if let Some(a) = empty.account.as_mut() {
            a.sam_account_name = String::new();
            a.netbios_domain = None;
        }
        assert_eq!(Compact::pack(&empty, "k", &interner).expand("k"), empty);
        let d = Compact::pack(&r, "jdoe@contoso.com", &interner);
        let (Some(n1), Some(n2)) = (&c.names, &d.names) else {
            panic!("names");
        };
        assert!(Arc::ptr_eq(n1, n2), "one copy of the names for every entry");
        assert!(Arc::ptr_eq(&c.forests, &d.forests));
        assert_eq!(
            std::mem::size_of::<Compact>(),
            64,
            "a cached resolution's fixed part"
        );
    }
}
