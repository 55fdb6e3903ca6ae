//! The XML reader: random bytes and mutated samples never panic and, when accepted, honour the
//! limits; generated documents parse to exactly the tree they were written from; the limits
//! refuse exactly what exceeds them.

use crate::gen::{mutate, property, Rng};
use crate::samples;
use altgate::protocols::wstrust::request::Version;
use altgate::xml::parse::{parse, Limits, XmlAttr, XmlError, XmlNode};

fn within(n: &XmlNode, depth: usize, l: &Limits, count: &mut usize) -> bool {
    *count += 1;
    depth <= l.max_depth
        && n.attrs.len() <= l.max_attributes
        && n.children.iter().all(|c| within(c, depth + 1, l, count))
}

fn assert_within(doc: &XmlNode, l: &Limits) {
    let mut count = 0;
    assert!(within(doc, 1, l, &mut count), "limits broken: {l:?}");
    assert!(count <= l.max_elements, "{count} elements under {l:?}");
}

const TIGHT: Limits = Limits {
    max_depth: 4,
    max_elements: 16,
    max_attributes: 3,
};

/// No panic; what is accepted honours the limits; tight acceptance implies loose acceptance.
fn check_any(input: &[u8]) {
    let small = parse(input, TIGHT);
    let full = parse(input, Limits::default());
    if let Ok(doc) = &small {
        assert_within(doc, &TIGHT);
        assert_eq!(full.as_ref().ok(), Some(doc));
    }
    if let Ok(doc) = &full {
        assert_within(doc, &Limits::default());
    }
}

#[test]
fn random_bytes_never_panic() {
    let soup = [
        "<",
        ">",
        "</",
        "/>",
        "a",
        "p:a",
        " ",
        "=",
        "\"",
        "'",
        "&amp;",
        "&#",
        "x;",
        "<!--",
        "-->",
        "<![CDATA[",
        "]]>",
        "<?",
        "?>",
        "xmlns:p=\"u\"",
        "<!DOCTYPE",
        "\u{0}",
        "é",
    ];
    property(
        "xml_random_bytes",
        3000,
        |rng| {
            if rng.chance(50) {
                rng.bytes(256)
            } else {
                rng.string_of(&soup, 64).into_bytes()
            }
        },
        |input| check_any(input),
    );
}

#[test]
fn mutated_samples_never_panic() {
    let samples = [
        samples::rst(Version::Trust13),
        samples::rst(Version::Trust2005),
        samples::authn(),
        samples::logout(),
    ];
    property(
        "xml_mutated_samples",
        3000,
        |rng| {
            let s = rng.pick(&samples).as_bytes();
            mutate(rng, s)
        },
        |input| check_any(input),
    );
}

const TEXT: &[&str] = &[
    "a", "Z", "0", " ", "é", "山", "😀", "&", "<", ">", "\"", "'", "]]", "\n", "\t", "-", ";",
];

/// Random text and how it is written: escaped, partly as character references.
fn text(rng: &mut Rng, quote: bool) -> (String, String) {
    let plain = rng.string_of(TEXT, 8);
    let mut written = String::new();
    for c in plain.chars() {
        match c {
            '&' => written.push_str("&amp;"),
            '<' => written.push_str("&lt;"),
            '>' => written.push_str("&gt;"),
            '"' if quote => written.push_str("&quot;"),
            '\n' | '\t' if quote => written.push_str(&format!("&#{};", u32::from(c))),
            c if rng.chance(10) => written.push_str(&format!("&#x{:X};", u32::from(c))),
            c => written.push(c),
        }
    }
    (plain, written)
}

const LOCAL: &[&str] = &["a", "B", "Envelope", "x-y", "n.1", "_u", "Ünï", "e9"];

/// A random element written into `out`, and the tree the reader must make of it.
fn element(
    rng: &mut Rng,
    out: &mut String,
    depth: usize,
    default_ns: &str,
    n: &mut usize,
) -> XmlNode {
    *n += 1;
    let prefix = *rng.pick(&["", "p", "q"]);
    let local = *rng.pick(LOCAL);
    let qname = if prefix.is_empty() {
        local.to_string()
    } else {
        format!("{prefix}:{local}")
    };
    let ns = |p: &str| match p {
        "p" => "urn:p".to_string(),
        "q" => "urn:q".to_string(),
        _ => default_ns.to_string(),
    };
    let mut node = XmlNode {
        ns: ns(prefix),
        local: local.to_string(),
        ..XmlNode::default()
    };
    out.push('<');
    out.push_str(&qname);
    if depth == 0 {
        out.push_str(" xmlns:p=\"urn:p\" xmlns:q='urn:q'");
        if !default_ns.is_empty() {
            out.push_str(&format!(" xmlns=\"{default_ns}\""));
        }
    }
    let mut names: Vec<String> = Vec::new();
    for _ in 0..rng.below(4) {
        let p = *rng.pick(&["", "p"]);
        let l = *rng.pick(&["id", "Type", "x", "y-z"]);
        let q = if p.is_empty() {
            l.to_string()
        } else {
            format!("{p}:{l}")
        };
        if names.contains(&q) {
            continue;
        }
        names.push(q.clone());
        let (value, written) = text(rng, true);
        out.push_str(&format!(" {q}=\"{written}\""));
        node.attrs.push(XmlAttr {
            ns: if p.is_empty() { String::new() } else { ns(p) },
            local: l.to_string(),
            value,
        });
    }
    let pieces = if depth < 5 && *n < 60 {
        rng.below(5)
    } else {
        0
    };
    if pieces == 0 && rng.chance(50) {
        out.push_str("/>");
        return node;
    }
    out.push('>');
    for _ in 0..pieces {
        match rng.below(4) {
            0 => {
                let child = element(rng, out, depth + 1, default_ns, n);
                node.children.push(child);
            }
            1 => {
                let (plain, written) = text(rng, false);
                out.push_str(&written);
                node.text.push_str(&plain);
            }
            2 => {
                let mut plain = rng.string_of(TEXT, 6);
                while plain.contains("]]>") {
                    plain = plain.replace("]]>", "]>");
                }
                out.push_str(&format!("<![CDATA[{plain}]]>"));
                node.text.push_str(&plain);
            }
            _ => out.push_str("<!-- a comment -->"),
        }
    }
    out.push_str(&format!("</{qname}>"));
    node
}

/// What may not stand before or after the root element.
const OUTSIDE: &[&str] = &[
    "x",
    "\u{a0}",
    "\u{3000}",
    "&#32;",
    "&amp;",
    "<![CDATA[ ]]>",
    "<b/>",
];

#[test]
fn generated_documents_parse_to_their_tree() {
    property(
        "xml_generated_documents",
        2000,
        |rng| {
            let mut doc = String::new();
            if rng.chance(50) {
                doc.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
            }
            if rng.chance(30) {
                doc.push_str("<!-- before -->\n");
            }
            let default_ns = *rng.pick(&["", "urn:d"]);
            let tree = element(rng, &mut doc, 0, default_ns, &mut 0);
            if rng.chance(30) {
                doc.push_str("\n<!-- after --> ");
            }
            // Anything but XML white space around the root makes it no document.
            let outside = rng.chance(10).then(|| *rng.pick(OUTSIDE));
            if let Some(junk) = outside {
                if rng.chance(50) {
                    doc.insert_str(0, junk);
                } else {
                    doc.push_str(junk);
                }
            }
            let expected = match outside {
                Some(_) => Err(XmlError::Root),
                None => Ok(tree),
            };
            (doc, expected)
        },
        |(doc, expected)| {
            assert_eq!(&parse(doc.as_bytes(), Limits::default()), expected);
        },
    );
}

#[test]
fn limits_refuse_exactly_what_exceeds_them() {
    property(
        "xml_limits",
        2000,
        |rng| {
            let limits = Limits {
                max_depth: 1 + rng.below(40),
                max_elements: 1 + rng.below(600),
                max_attributes: rng.below(40),
            };
            let (depth, width, attrs) = match rng.below(3) {
                0 => (1 + rng.below(45), 0, 0),
                1 => (1, rng.below(650), 0),
                _ => (1, 0, rng.below(45)),
            };
            (limits, depth, width, attrs)
        },
        |&(limits, depth, width, attrs)| {
            let a: String = (0..attrs).map(|i| format!(" a{i}='v'")).collect();
            let doc = format!(
                "{}<r{a}>{}</r>{}",
                "<d>".repeat(depth - 1),
                "<c/>".repeat(width),
                "</d>".repeat(depth - 1)
            );
            // Start tags in document order: the k-th is counted, then its nesting judged, then
            // its attributes.
            let mut expected = Ok(());
            for k in 1..=depth + width {
                let open_above = (k - 1).min(depth);
                if k > limits.max_elements {
                    expected = Err(XmlError::TooManyElements(limits.max_elements));
                } else if open_above >= limits.max_depth {
                    expected = Err(XmlError::TooDeep(limits.max_depth));
                } else if k == depth && attrs > limits.max_attributes {
                    expected = Err(XmlError::TooManyAttributes(limits.max_attributes));
                } else {
                    continue;
                }
                break;
            }
            assert_eq!(parse(doc.as_bytes(), limits).map(|_| ()), expected, "{doc}");
        },
    );
}
