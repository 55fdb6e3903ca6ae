//! The CSV rendering for Excel: RFC 4180 (quoted fields, CRLF), UTF-8 with a byte-order mark
//! so Excel reads names in any script, one row per finding, `related` joined with `; `. A cell
//! that Excel would take for a formula (starting with `=`, `+`, `-`, `@`, tab or CR) gets a
//! leading `'`: directory values are untrusted and this file is meant to be opened.

use super::Report;

/// The columns, in order.
pub const COLUMNS: &[&str] = &[
    "rule",
    "severity",
    "forest",
    "domain",
    "sam_account_name",
    "distinguished_name",
    "attribute",
    "value",
    "related",
    "fix",
];

/// One cell, neutralised and quoted when needed.
pub fn cell(v: &str) -> String {
    let v = if v.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{v}")
    } else {
        v.to_string()
    };
    if v.contains([',', '"', '\n', '\r']) || v.starts_with(' ') || v.ends_with(' ') {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v
    }
}

/// The CSV report.
pub fn render(r: &Report) -> String {
    let mut out = String::from("\u{feff}");
    out.push_str(&COLUMNS.join(","));
    out.push_str("\r\n");
    for f in &r.findings {
        let row = [
            f.rule.id().to_string(),
            f.severity.as_str().to_string(),
            f.forest.clone(),
            f.domain.clone(),
            f.sam_account_name.clone(),
            f.distinguished_name.clone(),
            f.attribute.clone(),
            f.value.clone(),
            f.related.join("; "),
            f.fix.clone(),
        ];
        out.push_str(&row.iter().map(|c| cell(c)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_and_formulas_neutralised() {
        assert_eq!(cell("plain"), "plain");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(cell("+1"), "'+1");
        assert_eq!(cell("-1"), "'-1");
        assert_eq!(cell("@x"), "'@x");
        assert_eq!(cell(" lead"), "\" lead\"");
        assert_eq!(cell("two\nlines"), "\"two\nlines\"");
        assert_eq!(cell(""), "");
    }
}
