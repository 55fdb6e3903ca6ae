//! The top-level domains a routable address may end in: the ICANN section of the Public
//! Suffix List, shipped in `tlds.txt` (IdFix ships the same kind of list as `domains.txt`).
//! `.local`, `.lan`, `.corp`, `.internal` and the like are not in it: such suffixes cannot be
//! verified in Microsoft 365.

use std::collections::HashSet;
use std::sync::OnceLock;

const LIST: &str = include_str!("tlds.txt");

fn list() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        LIST.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect()
    })
}

/// True when `tld` (without the dot, any case) is a top-level domain.
pub fn is_known(tld: &str) -> bool {
    list().contains(tld.to_lowercase().as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_unknown_top_level_domains() {
        for t in [
            "com",
            "COM",
            "jp",
            "co",
            "info",
            "xn--fiqs8s",
            "中国",
            "onmicrosoft",
        ] {
            assert_eq!(is_known(t), t != "onmicrosoft", "{t}");
        }
        for t in [
            "local",
            "lan",
            "corp",
            "internal",
            "localdomain",
            "example",
            "",
            "c",
        ] {
            assert!(!is_known(t), "{t}");
        }
    }
}
