//! Every documented catalogue of bounded values in one place: the label vocabularies
//! ([`vocabularies`]), each built from the enums that own its values. `docs/metrics.md` lists
//! every metric with where its label values come from, and every vocabulary with its values and
//! their meaning; a test compares both with the code, values included.

use crate::label::{kinds, Vocabulary};

/// Every label vocabulary, in the order `docs/metrics.md` lists them.
pub fn vocabularies() -> Vec<Vocabulary> {
    vec![
        Vocabulary::of::<kinds::Endpoint>()
            .with::<crate::endpoint::Endpoint>()
            .with::<crate::http::router::Unserved>(),
        Vocabulary::of::<kinds::ConnectionRefusal>().with::<crate::http::conn::Refused>(),
        Vocabulary::of::<kinds::ConnectionEviction>().with::<crate::http::conn::Evicted>(),
        Vocabulary::of::<kinds::Protocol>().with::<crate::signin::Protocol>(),
        Vocabulary::of::<kinds::TokenFailure>()
            .with::<crate::protocols::wstrust::RequestRefusal>()
            .with::<crate::protocols::passive::RefusalReason>()
            .with::<crate::protocols::oauth::OAuthRefusal>()
            .with::<crate::signin::FailureReason>()
            .with::<crate::signin::password_change::ChangeFailureReason>()
            .with::<crate::kerberos::Rejection>()
            .with::<crate::signin::windows::AccountRefusal>(),
        Vocabulary::of::<kinds::PassiveOutcome>().with::<crate::protocols::passive::Outcome>(),
        Vocabulary::of::<kinds::PassiveRefusal>()
            .with::<crate::protocols::passive::RefusalReason>(),
        Vocabulary::of::<kinds::SsoResult>().with::<crate::protocols::passive::SsoResult>(),
        Vocabulary::of::<kinds::SignInFailure>().with::<crate::signin::FailureReason>(),
        Vocabulary::of::<kinds::PasswordChangeFailure>()
            .with::<crate::signin::FailureReason>()
            .with::<crate::signin::password_change::ChangeFailureReason>(),
        Vocabulary::of::<kinds::PasswordChangeTrigger>()
            .with::<crate::signin::password_change::ChangeTrigger>(),
        Vocabulary::of::<kinds::DirectoryQuery>().with::<crate::directory::Query>(),
        Vocabulary::of::<kinds::SearchResult>().with::<crate::directory::SearchResult>(),
        Vocabulary::of::<kinds::BindResult>().with::<crate::directory::BindResult>(),
        Vocabulary::of::<kinds::ConnectResult>().with::<crate::directory::ConnectResult>(),
        Vocabulary::of::<kinds::ResolutionOutcome>().with::<crate::resolve::Outcome>(),
        Vocabulary::of::<kinds::ResolutionVia>()
            .with::<crate::resolve::Via>()
            .with::<crate::resolve::NoVia>(),
        Vocabulary::of::<kinds::UpnFallback>().with::<crate::resolve::UpnFallback>(),
        Vocabulary::of::<kinds::MsisCode>().with::<crate::resolve::Msis>(),
        Vocabulary::of::<kinds::CacheResult>().with::<crate::cache::CacheResult>(),
        Vocabulary::of::<kinds::EvictionCause>().with::<crate::cache::EvictionCause>(),
        Vocabulary::of::<kinds::EventName>().with::<crate::events::EventName>(),
        Vocabulary::of::<kinds::EventCategory>().with::<crate::events::Category>(),
        Vocabulary::of::<kinds::LockoutMode>().with::<crate::config::lockout::LockoutMode>(),
        Vocabulary::of::<kinds::LockoutClass>().with::<crate::lockout::Class>(),
        Vocabulary::of::<kinds::LockoutDecision>().with::<crate::lockout::Decision>(),
        Vocabulary::of::<kinds::StateOp>().with::<crate::state::Op>(),
        Vocabulary::of::<kinds::SigningCertificate>().with::<crate::keys::CertificateRole>(),
        Vocabulary::of::<kinds::TlsListener>().with::<crate::keys::TlsListener>(),
        Vocabulary::of::<kinds::ReloadResult>().with::<crate::config::ReloadResult>(),
        Vocabulary::of::<kinds::WindowsFailure>()
            .with::<crate::kerberos::Rejection>()
            .with::<crate::signin::windows::AccountRefusal>(),
        Vocabulary::of::<kinds::AuthenticationMethod>().with::<crate::signin::Method>(),
    ]
}

/// The `## Label vocabularies` section of `docs/metrics.md` as the code defines it.
pub fn vocabularies_markdown() -> String {
    let mut out = String::from("## Label vocabularies\n");
    for v in vocabularies() {
        out.push_str(&format!(
            "\n### {}\n\n{}\n\n| value | meaning |\n|---|---|\n",
            v.name,
            v.doc.trim()
        ));
        for (id, doc) in &v.values {
            out.push_str(&format!("| `{id}` | {} |\n", doc.replace('\n', " ")));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Metrics, Values};

    const DOC: &str = "docs/metrics.md";

    fn docs() -> String {
        std::fs::read_to_string(DOC).expect("docs/metrics.md")
    }

    /// The first four columns of the metrics table: name, type, label names, label values.
    fn documented_metrics(text: &str) -> Vec<[String; 4]> {
        text.lines()
            .filter(|l| l.starts_with("| `altgate_"))
            .map(|l| {
                let cols: Vec<&str> = l.split('|').map(str::trim).collect();
                let col = |i: usize| cols.get(i).copied().unwrap_or("").to_string();
                let labels = col(3)
                    .split(',')
                    .map(|s| s.trim().trim_matches('`').to_string())
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join(",");
                [col(1).trim_matches('`').to_string(), col(2), labels, col(4)]
            })
            .collect()
    }

    #[test]
    fn every_metric_is_documented_with_its_labels_and_their_values() {
        let m = Metrics::standalone().expect("metrics");
        let mut code: Vec<[String; 4]> = m
            .catalogue
            .iter()
            .map(|i| {
                [
                    i.name.clone(),
                    i.kind.to_string(),
                    i.labels
                        .iter()
                        .map(|l| l.name)
                        .collect::<Vec<_>>()
                        .join(","),
                    i.values_cell(),
                ]
            })
            .collect();
        let mut docs = documented_metrics(&docs());
        code.sort();
        docs.sort();
        let expected: Vec<String> = code
            .iter()
            .map(|[n, k, l, v]| {
                let labels = l
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                format!("| `{n}` | {k} | {labels} | {v} |")
            })
            .collect();
        assert_eq!(
            code,
            docs,
            "{DOC} and the registered metrics differ; the code's first four columns:\n{}",
            expected.join("\n")
        );
    }

    #[test]
    fn every_vocabulary_is_documented_with_its_values() {
        let text = docs();
        let start = text
            .find("## Label vocabularies\n")
            .expect("a `## Label vocabularies` section");
        let section = &text[start..];
        let section = section[1..]
            .find("\n## ")
            .map_or(section, |end| &section[..end + 2]);
        let want = vocabularies_markdown();
        if std::env::var_os("ALTGATE_BLESS_DOCS").is_some() && section.trim_end() != want.trim_end()
        {
            // Rewrites the section from the code (a developer's step; CI never sets it).
            let text = text.replacen(section.trim_end(), want.trim_end(), 1);
            std::fs::write(DOC, text).expect("write docs/metrics.md");
            return;
        }
        assert_eq!(
            section.trim_end(),
            want.trim_end(),
            "{DOC}'s vocabularies differ from the code's; the code's:\n{want}"
        );
    }

    #[test]
    fn vocabularies_are_unique_non_empty_and_every_metric_label_has_one() {
        let vocabularies = vocabularies();
        let mut names: Vec<&str> = vocabularies.iter().map(|v| v.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(
            names.len(),
            vocabularies.len(),
            "a vocabulary is listed twice"
        );
        for v in &vocabularies {
            assert!(!v.values.is_empty(), "{}", v.name);
            for (id, doc) in &v.values {
                assert!(!id.is_empty() && !doc.is_empty(), "{}: {id}", v.name);
            }
        }
        let m = Metrics::standalone().expect("metrics");
        for i in &m.catalogue {
            for l in &i.labels {
                if let Values::Vocabulary(k) = l.values {
                    assert!(
                        vocabularies.iter().any(|v| v.name == k),
                        "{}{{{}}}: vocabulary {k} is not in catalogue::vocabularies()",
                        i.name,
                        l.name
                    );
                }
            }
        }
    }
}
