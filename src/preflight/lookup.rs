//! Case-insensitive lookups over the audited values that stay small for large directories:
//! each value is one (hash of its lower-case form, position) pair in a sorted vector, 16 bytes
//! instead of a copied string and a list. A hash match is always confirmed on the values
//! themselves, so a hash collision can never make two different values equal.

use std::hash::{Hash, Hasher};

/// Compares as Active Directory does: case-insensitively (Unicode lower case).
pub fn eq_ignoring_case(a: &str, b: &str) -> bool {
    a == b
        || a.chars()
            .flat_map(char::to_lowercase)
            .eq(b.chars().flat_map(char::to_lowercase))
}

/// The hash of `s`'s lower-case form, after `prefix` (which keeps kinds of keys apart).
pub fn fold_hash(prefix: &str, s: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    prefix.hash(&mut h);
    for c in s.chars().flat_map(char::to_lowercase) {
        c.hash(&mut h);
    }
    h.finish()
}

/// Positions by value hash, sorted.
#[derive(Debug, Default)]
pub struct Index<T: Copy + Ord> {
    entries: Vec<(u64, T)>,
}

impl<T: Copy + Ord> Index<T> {
    /// An index over `entries` (hash, position).
    pub fn new(mut entries: Vec<(u64, T)>) -> Self {
        entries.sort_unstable();
        entries.dedup();
        entries.shrink_to_fit();
        Index { entries }
    }

    /// The positions whose value has hash `h` (confirm each against the value sought).
    pub fn get(&self, h: u64) -> impl Iterator<Item = T> + '_ {
        let start = self.entries.partition_point(|(k, _)| *k < h);
        self.entries
            .get(start..)
            .unwrap_or(&[])
            .iter()
            .take_while(move |(k, _)| *k == h)
            .map(|(_, t)| *t)
    }

    /// Every run of two or more positions sharing a hash (candidates for duplicates).
    pub fn shared(&self) -> impl Iterator<Item = Vec<T>> + '_ {
        self.entries
            .chunk_by(|a, b| a.0 == b.0)
            .filter(|run| run.len() > 1)
            .map(|run| run.iter().map(|(_, t)| *t).collect())
    }
}

/// Splits `items` into groups of equal values (per `value`), keeping groups of two or more.
pub fn equal_groups<T: Copy>(items: &[T], value: impl Fn(T) -> String) -> Vec<Vec<T>> {
    let mut groups: Vec<(String, Vec<T>)> = Vec::new();
    for t in items {
        let v = value(*t);
        match groups.iter_mut().find(|(g, _)| eq_ignoring_case(g, &v)) {
            Some((_, members)) => members.push(*t),
            None => groups.push((v, vec![*t])),
        }
    }
    groups
        .into_iter()
        .map(|(_, m)| m)
        .filter(|m| m.len() > 1)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_insensitive_like_ad() {
        assert!(eq_ignoring_case("JDoe@Contoso.COM", "jdoe@contoso.com"));
        assert!(eq_ignoring_case("ÄRGER", "ärger"));
        assert!(!eq_ignoring_case("jdoe", "jdoe2"));
        assert_eq!(fold_hash("m", "JDoe"), fold_hash("m", "jdoe"));
        assert_ne!(fold_hash("m", "jdoe"), fold_hash("u", "jdoe"));
    }

    #[test]
    fn lookups_and_shared_runs() {
        let ix = Index::new(vec![(5, 1u32), (3, 0), (5, 2), (9, 3), (5, 1)]);
        assert_eq!(ix.get(5).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(ix.get(4).count(), 0);
        assert_eq!(ix.get(10).count(), 0);
        assert_eq!(ix.shared().collect::<Vec<_>>(), vec![vec![1, 2]]);
        let values = ["a", "A", "b", "c", "B"];
        let groups = equal_groups(&[0usize, 1, 2, 3, 4], |i| values[i].to_string());
        assert_eq!(groups, vec![vec![0, 1], vec![2, 4]]);
    }
}
