//! The JSON rendering: `{"summary": {...}, "findings": [...]}`, pretty-printed, one finding per
//! object of the `findings` array with the fields of [`super::Finding`].

use super::Report;

/// The JSON report.
pub fn render(r: &Report) -> String {
    let mut s = serde_json::to_string_pretty(r).unwrap_or_else(|e| {
        // Serialising plain strings and numbers cannot fail; say so if it ever does.
        format!("{{\"error\": {:?}}}", e.to_string())
    });
    s.push('\n');
    s
}
