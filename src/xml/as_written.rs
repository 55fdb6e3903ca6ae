//! Reading a received XML document as written, for signature checks: qualified names,
//! namespace declarations where they were put, attribute values and every text node, which is
//! what Exclusive C14N needs (altgate's untrusted-XML reader, [`crate::xml::parse`], resolves
//! namespaces away). DTDs and processing instructions are refused, comments dropped, depth and
//! size bounded. Also the namespace-aware lookups over such a tree.

use super::{Element, Node};
use quick_xml::events::{BytesStart, Event};
use std::collections::BTreeMap;

/// Deepest element nesting read.
pub const MAX_DEPTH: usize = 32;
/// Most elements read.
pub const MAX_ELEMENTS: usize = 2048;

/// Namespace bindings in scope: prefix (`""` for the default) → URI.
pub type Scope = BTreeMap<String, String>;

fn start_element(e: &BytesStart<'_>) -> Result<Element, String> {
    let bad = |what: &str| what.to_string();
    let name = std::str::from_utf8(e.name().as_ref())
        .map_err(|_| bad("element name is not UTF-8"))?
        .to_string();
    let mut el = Element::new(&name);
    for a in e.attributes() {
        let a = a.map_err(|e| bad(&format!("attribute: {e}")))?;
        let key = std::str::from_utf8(a.key.as_ref())
            .map_err(|_| bad("attribute name is not UTF-8"))?
            .to_string();
        let value = a
            .unescape_value()
            .map_err(|e| bad(&format!("attribute value: {e}")))?
            .into_owned();
        if key == "xmlns" {
            el.ns.push((String::new(), value));
        } else if let Some(prefix) = key.strip_prefix("xmlns:") {
            el.ns.push((prefix.to_string(), value));
        } else {
            el.attrs.push((key, value));
        }
    }
    Ok(el)
}

/// Reads `xml` into an element tree that keeps what Exclusive C14N needs: qualified names,
/// namespace declarations where written, attribute values and every text node. DTDs and
/// processing instructions are refused; comments are dropped (C14N without comments).
pub fn read_tree(xml: &[u8]) -> Result<Element, String> {
    let bad = |what: String| what;
    let mut reader = quick_xml::Reader::from_reader(xml);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;
    let mut buf = Vec::new();
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| bad(format!("XML: {e}")))?;
        match event {
            Event::Start(_) | Event::Empty(_) if root.is_some() => {
                return Err(bad("content after the root element".into()));
            }
            Event::Start(e) => {
                count += 1;
                if stack.len() >= MAX_DEPTH || count > MAX_ELEMENTS {
                    return Err(bad("document too deep or too large".into()));
                }
                stack.push(start_element(&e)?);
            }
            Event::Empty(e) => {
                count += 1;
                if count > MAX_ELEMENTS {
                    return Err(bad("document too large".into()));
                }
                let el = start_element(&e)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(Node::Element(el)),
                    None => root = Some(el),
                }
            }
            Event::End(_) => {
                let el = stack
                    .pop()
                    .ok_or_else(|| bad("unbalanced end tag".into()))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(Node::Element(el)),
                    None => root = Some(el),
                }
            }
            Event::Text(t) => {
                let text = t
                    .unescape()
                    .map_err(|e| bad(format!("text: {e}")))?
                    .into_owned();
                match stack.last_mut() {
                    Some(parent) => parent.children.push(Node::Text(text)),
                    None if text.trim().is_empty() => {}
                    None => return Err(bad("text outside the root element".into())),
                }
            }
            Event::CData(c) => {
                let text = String::from_utf8(c.into_inner().into_owned())
                    .map_err(|_| bad("CDATA is not UTF-8".into()))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(Node::Text(text)),
                    None => return Err(bad("CDATA outside the root element".into())),
                }
            }
            Event::DocType(_) => return Err(bad("DTDs are not accepted".into())),
            Event::PI(_) => return Err(bad("processing instructions are not accepted".into())),
            Event::Comment(_) | Event::Decl(_) => {}
            Event::Eof => break,
        }
        buf.clear();
    }
    if !stack.is_empty() {
        return Err(bad("unclosed element".into()));
    }
    root.ok_or_else(|| bad("no root element".into()))
}

/// `scope` with the namespace declarations written on `el` added.
pub fn with_declarations(scope: &Scope, el: &Element) -> Scope {
    let mut s = scope.clone();
    for (p, uri) in &el.ns {
        s.insert(p.clone(), uri.clone());
    }
    s
}

/// The namespace URI and local name of `el` in `scope` (its own declarations included).
pub fn expanded<'a>(el: &'a Element, scope: &Scope) -> (String, &'a str) {
    let (prefix, local) = el.name.split_once(':').unwrap_or(("", el.name.as_str()));
    let own = with_declarations(scope, el);
    (own.get(prefix).cloned().unwrap_or_default(), local)
}

/// True when `el` (in `scope`) is the element `{ns}local`.
pub fn is(el: &Element, scope: &Scope, ns: &str, local: &str) -> bool {
    let (n, l) = expanded(el, scope);
    n == ns && l == local
}

/// Every element `{ns}local` under `el` (itself included), each with the bindings its ancestors
/// put in scope.
pub fn find_all<'a>(
    el: &'a Element,
    inherited: &Scope,
    ns: &str,
    local: &str,
    out: &mut Vec<(&'a Element, Scope)>,
) {
    if is(el, inherited, ns, local) {
        out.push((el, inherited.clone()));
    }
    let own = with_declarations(inherited, el);
    for c in &el.children {
        if let Node::Element(child) = c {
            find_all(child, &own, ns, local, out);
        }
    }
}

/// The child elements `{ns}local` of `el` (whose own scope is `scope`).
pub fn children<'a>(el: &'a Element, scope: &Scope, ns: &str, local: &str) -> Vec<&'a Element> {
    el.children
        .iter()
        .filter_map(|c| match c {
            Node::Element(e) if is(e, scope, ns, local) => Some(e),
            _ => None,
        })
        .collect()
}

/// The attribute `name` of `el`, as written (qualified name).
pub fn attr<'a>(el: &'a Element, name: &str) -> Option<&'a str> {
    el.attrs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The text directly inside `el` (child elements' text left out).
pub fn text_of(el: &Element) -> String {
    el.children
        .iter()
        .filter_map(|c| match c {
            Node::Text(t) => Some(t.as_str()),
            Node::Element(_) => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tree_keeps_what_c14n_needs_and_refuses_dtds() {
        let t = read_tree(
            b"<?xml version=\"1.0\"?><!-- c --><a:R xmlns:a=\"urn:a\" z=\"1 &amp; 2\"><a:x/> t&lt; </a:R>",
        )
        .expect("read");
        assert_eq!(
            t.exc_c14n(&Scope::new()),
            "<a:R xmlns:a=\"urn:a\" z=\"1 &amp; 2\"><a:x></a:x> t&lt; </a:R>"
        );
        assert_eq!(
            read_tree(b"<!DOCTYPE x [<!ENTITY e \"x\">]><x>&e;</x>").expect_err("dtd"),
            "DTDs are not accepted"
        );
        assert!(read_tree(b"<a/><b/>").is_err());
        assert!(read_tree(b"<a>").is_err());
    }
}
