//! One finding of the audit: which rule, how bad, which object, which value, which other
//! objects are involved, and what to do about it. Findings sort worst first, then by rule,
//! forest and object, so every report lists them in the same order.

use super::collect::Object;
use super::rules::{Rule, Severity};
use serde::Serialize;

/// One problem with one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The rule's stable id.
    pub rule: Rule,
    /// How bad it is.
    pub severity: Severity,
    /// The object's forest.
    pub forest: String,
    /// The object's domain (DNS name, from its distinguished name).
    pub domain: String,
    /// The object's `sAMAccountName` (empty when it has none).
    pub sam_account_name: String,
    /// The object's distinguished name.
    pub distinguished_name: String,
    /// The attribute at fault (`userPrincipalName`, `mail`, ...).
    pub attribute: String,
    /// The value at fault (empty when the attribute is missing).
    pub value: String,
    /// The other objects involved (distinguished names), sorted.
    pub related: Vec<String>,
    /// What to do, in one line.
    pub fix: String,
}

impl Finding {
    /// A finding of `rule` at its usual severity and fix, about `object`.
    pub fn new(rule: Rule, object: &Object, attribute: &str, value: &str) -> Finding {
        Finding {
            rule,
            severity: rule.severity(),
            forest: object.forest.to_string(),
            domain: object.domain.to_string(),
            sam_account_name: object.entry.sam_account_name.clone().unwrap_or_default(),
            distinguished_name: object.entry.dn.clone(),
            attribute: attribute.to_string(),
            value: value.to_string(),
            related: Vec::new(),
            fix: rule.fix().to_string(),
        }
    }

    /// With another severity.
    pub fn severity(mut self, severity: Severity) -> Finding {
        self.severity = severity;
        self
    }

    /// With the other objects involved (sorted, without duplicates).
    pub fn related(mut self, mut related: Vec<String>) -> Finding {
        related.sort_unstable();
        related.dedup();
        self.related = related;
        self
    }

    /// With a more specific fix.
    pub fn fix(mut self, fix: String) -> Finding {
        self.fix = fix;
        self
    }

    /// The report order: worst first, then rule, forest, object, attribute, value.
    pub fn sort_key(&self) -> impl Ord + '_ {
        (
            self.severity,
            self.rule,
            self.forest.as_str(),
            self.distinguished_name.to_lowercase(),
            self.attribute.as_str(),
            self.value.as_str(),
        )
    }
}

/// Sorts findings into report order and drops exact repeats.
pub fn sort(findings: &mut Vec<Finding>) {
    findings.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    findings.dedup();
}
