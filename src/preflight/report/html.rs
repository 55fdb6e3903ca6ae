//! The HTML rendering: one self-contained file an admin can mail to the directory team. A
//! summary, a bar chart of findings per rule and one per forest (inline SVG), and the table of
//! findings, sortable by any column and filterable, with a few lines of inline script. No
//! external assets: the Content-Security-Policy allows nothing but this file's own style and
//! script (by hash). Every directory value is HTML-escaped.

use super::Report;
use crate::preflight::rules::Severity;
use base64::Engine;
use std::fmt::Write;

/// HTML-escapes text for element content and quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans JP",sans-serif;margin:24px;color:#1b1f24;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.meta{color:#57606a;font-size:13px;margin:2px 0}
.cards{display:flex;gap:12px;margin:16px 0;flex-wrap:wrap}
.card{border:1px solid #d0d7de;border-radius:6px;padding:10px 16px;min-width:120px}
.card b{display:block;font-size:24px}.card span{font-size:12px;color:#57606a}
.card.error b{color:#cf222e}.card.warning b{color:#9a6700}.card.info b{color:#0969da}
.charts{display:flex;gap:32px;flex-wrap:wrap}
svg text{font-size:12px;fill:#1b1f24}
table{border-collapse:collapse;width:100%;font-size:12px;margin-top:8px}
th,td{border-bottom:1px solid #d0d7de;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f6f8fa;cursor:pointer;user-select:none;position:sticky;top:0}
th.sorted-asc::after{content:" \25B2"}th.sorted-desc::after{content:" \25BC"}
td.value,td.dn{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;word-break:break-all}
.sev{font-weight:600}.sev-error{color:#cf222e}.sev-warning{color:#9a6700}.sev-info{color:#0969da}
input{font-size:13px;padding:4px 8px;width:320px}
"#;

const SCRIPT: &str = r#"
(function(){
  var table=document.getElementById('findings');
  var body=table.tBodies[0];
  var heads=table.tHead.rows[0].cells;
  function key(row,i){var c=row.cells[i];return c.getAttribute('data-sort')||c.textContent;}
  Array.prototype.forEach.call(heads,function(th,i){
    th.addEventListener('click',function(){
      var asc=!th.classList.contains('sorted-asc');
      Array.prototype.forEach.call(heads,function(h){h.classList.remove('sorted-asc','sorted-desc');});
      th.classList.add(asc?'sorted-asc':'sorted-desc');
      var rows=Array.prototype.slice.call(body.rows);
      rows.sort(function(a,b){var x=key(a,i),y=key(b,i);return (x<y?-1:x>y?1:0)*(asc?1:-1);});
      rows.forEach(function(r){body.appendChild(r);});
    });
  });
  var filter=document.getElementById('filter');
  filter.addEventListener('input',function(){
    var q=filter.value.toLowerCase();
    Array.prototype.forEach.call(body.rows,function(r){
      r.style.display=r.textContent.toLowerCase().indexOf(q)<0?'none':'';
    });
  });
})();
"#;

fn sha256_b64(s: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, s.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
}

fn colour(s: Severity) -> &'static str {
    match s {
        Severity::Error => "#cf222e",
        Severity::Warning => "#d4a72c",
        Severity::Info => "#0969da",
    }
}

fn rank(s: Severity) -> u8 {
    match s {
        Severity::Error => 0,
        Severity::Warning => 1,
        Severity::Info => 2,
    }
}

/// Horizontal bars: one row per (label, [(severity, count)]) with the total at the end.
fn bar_chart(id: &str, title: &str, rows: &[(String, Vec<(Severity, u64)>)]) -> String {
    let label_w = rows
        .iter()
        .map(|(l, _)| l.chars().count())
        .max()
        .unwrap_or(10) as u64
        * 7
        + 12;
    let max = rows
        .iter()
        .map(|(_, p)| p.iter().map(|(_, n)| n).sum::<u64>())
        .max()
        .unwrap_or(1)
        .max(1);
    let bar_w = 320u64;
    let row_h = 20u64;
    let height = row_h * rows.len() as u64 + 28;
    let width = label_w + bar_w + 60;
    let mut svg = format!(
        "<svg id=\"{id}\" role=\"img\" aria-label=\"{}\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\">",
        escape(title)
    );
    let _ = write!(
        svg,
        "<text x=\"0\" y=\"14\" font-weight=\"600\">{}</text>",
        escape(title)
    );
    for (i, (label, parts)) in rows.iter().enumerate() {
        let y = 24 + row_h * i as u64;
        let _ = write!(
            svg,
            "<text x=\"0\" y=\"{}\">{}</text>",
            y + 14,
            escape(label)
        );
        let mut x = label_w;
        let mut total = 0;
        for (severity, n) in parts.iter().filter(|(_, n)| *n > 0) {
            let w = (n * bar_w / max).max(2);
            let _ = write!(
                svg,
                "<rect class=\"bar\" x=\"{x}\" y=\"{}\" width=\"{w}\" height=\"{}\" fill=\"{}\"><title>{} {}</title></rect>",
                y + 3,
                row_h - 6,
                colour(*severity),
                n,
                severity.as_str()
            );
            x += w;
            total += n;
        }
        let _ = write!(svg, "<text x=\"{}\" y=\"{}\">{total}</text>", x + 6, y + 14);
    }
    svg.push_str("</svg>");
    svg
}

/// The HTML report.
pub fn render(r: &Report) -> String {
    let s = &r.summary;
    let csp = format!(
        "default-src 'none'; style-src 'sha256-{}'; script-src 'sha256-{}'; img-src data:",
        sha256_b64(STYLE),
        sha256_b64(SCRIPT)
    );
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{csp}\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>altgate audit {}</title><style>{STYLE}</style></head><body>\n",
        escape(&s.generated_at)
    );
    let _ = writeln!(
        out,
        "<h1>altgate audit: who will fail to sign in, and why</h1>\
         <p class=\"meta\">Generated {} &middot; alternate login ID: {} &middot; federated domains: {}</p>\
         <p class=\"meta\">{} user objects read ({}); {} audited, {} system objects left out; \
         sign-in simulated for {} enabled accounts.</p>",
        escape(&s.generated_at),
        escape(s.alternate_login_id.as_deref().unwrap_or("not configured")),
        escape(&if s.federated_domains.is_empty() {
            "none configured".to_string()
        } else {
            s.federated_domains.join(", ")
        }),
        s.objects_read,
        escape(
            &s.forests
                .iter()
                .map(|f| format!("{} {}", f.forest, f.objects_read))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        s.objects_audited,
        s.objects_skipped,
        s.accounts_simulated
    );
    let _ = writeln!(
        out,
        "<div class=\"cards\">\
         <div class=\"card error\"><b id=\"count-error\">{}</b><span>errors</span></div>\
         <div class=\"card warning\"><b id=\"count-warning\">{}</b><span>warnings</span></div>\
         <div class=\"card info\"><b id=\"count-info\">{}</b><span>infos</span></div>\
         <div class=\"card\"><b>{}</b><span>accounts with errors</span></div></div>",
        s.errors, s.warnings, s.infos, s.accounts_with_errors
    );
    let by_rule: Vec<(String, Vec<(Severity, u64)>)> = s
        .rules
        .iter()
        .map(|c| {
            let per = [Severity::Error, Severity::Warning, Severity::Info]
                .iter()
                .map(|sev| {
                    let n = r
                        .findings
                        .iter()
                        .filter(|f| f.rule == c.rule && f.severity == *sev)
                        .count() as u64;
                    (*sev, n)
                })
                .collect();
            (c.rule.id().to_string(), per)
        })
        .collect();
    let by_forest: Vec<(String, Vec<(Severity, u64)>)> = s
        .forests
        .iter()
        .map(|f| {
            (
                f.forest.clone(),
                vec![
                    (Severity::Error, f.errors),
                    (Severity::Warning, f.warnings),
                    (Severity::Info, f.infos),
                ],
            )
        })
        .collect();
    let _ = writeln!(
        out,
        "<h2>Summary</h2><div class=\"charts\">{}{}</div>",
        bar_chart("chart-rules", "Findings per rule", &by_rule),
        bar_chart("chart-forests", "Findings per forest", &by_forest)
    );
    let _ = writeln!(
        out,
        "<h2>Findings</h2><input id=\"filter\" type=\"search\" placeholder=\"Filter (any text)\" aria-label=\"Filter\">\
         <table id=\"findings\"><thead><tr><th>severity</th><th>rule</th><th>forest</th>\
         <th>domain</th><th>sAMAccountName</th><th>distinguished name</th><th>attribute</th>\
         <th>value</th><th>related</th><th>fix</th></tr></thead><tbody>"
    );
    for f in &r.findings {
        let _ = writeln!(
            out,
            "<tr><td class=\"sev sev-{sev}\" data-sort=\"{rank}\">{sev}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td class=\"dn\">{}</td><td>{}</td><td class=\"value\">{}</td>\
             <td class=\"dn\">{}</td><td>{}</td></tr>",
            escape(f.rule.id()),
            escape(&f.forest),
            escape(&f.domain),
            escape(&f.sam_account_name),
            escape(&f.distinguished_name),
            escape(&f.attribute),
            escape(&f.value),
            f.related
                .iter()
                .map(|d| escape(d))
                .collect::<Vec<_>>()
                .join("<br>"),
            escape(&f.fix),
            sev = f.severity.as_str(),
            rank = rank(f.severity),
        );
    }
    let _ = write!(
        out,
        "</tbody></table>\n<script>{SCRIPT}</script></body></html>\n"
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_and_controls() {
        assert_eq!(
            escape("<script>alert('x')&\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;)&amp;&quot;&lt;/script&gt;"
        );
        assert_eq!(escape("a\u{1b}b"), "a\\u{1b}b");
        assert_eq!(escape("山田"), "山田");
    }
}
