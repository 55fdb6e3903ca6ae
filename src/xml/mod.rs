//! XML for altgate: [`parse`] reads untrusted documents into a small namespace-resolved tree
//! under strict limits (no DTDs, no entities beyond the five predefined ones, bounded depth and
//! size); [`as_written`] reads a received document keeping its qualified names and namespace
//! declarations, for checking its signature; [`Element`] builds the documents altgate sends and serializes them either as written or
//! in Exclusive XML Canonicalization form (the input of XML signatures).

pub mod as_written;
pub mod parse;

use std::collections::BTreeMap;

/// An element altgate writes. Names are qualified (`saml:Assertion`); `ns` holds the namespace
/// declarations written on this element (prefix `""` is the default namespace).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    /// Qualified name.
    pub name: String,
    /// Namespace declarations on this element: prefix → URI.
    pub ns: Vec<(String, String)>,
    /// Attributes: qualified name → value.
    pub attrs: Vec<(String, String)>,
    /// Child nodes.
    pub children: Vec<Node>,
}

/// A child node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// An element.
    Element(Element),
    /// Character data (escaped on output).
    Text(String),
}

impl Element {
    /// A new element.
    pub fn new(name: &str) -> Self {
        Element {
            name: name.to_string(),
            ns: Vec::new(),
            attrs: Vec::new(),
            children: Vec::new(),
        }
    }

    /// Declares a namespace on this element.
    pub fn xmlns(mut self, prefix: &str, uri: &str) -> Self {
        self.ns.push((prefix.to_string(), uri.to_string()));
        self
    }

    /// Adds an attribute.
    pub fn attr(mut self, name: &str, value: impl Into<String>) -> Self {
        self.attrs.push((name.to_string(), value.into()));
        self
    }

    /// Adds a child element.
    pub fn child(mut self, child: Element) -> Self {
        self.children.push(Node::Element(child));
        self
    }

    /// Adds child elements.
    pub fn children(mut self, children: impl IntoIterator<Item = Element>) -> Self {
        self.children
            .extend(children.into_iter().map(Node::Element));
        self
    }

    /// Adds text.
    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.children.push(Node::Text(text.into()));
        self
    }

    /// Adds a child holding only `text`.
    pub fn leaf(self, name: &str, text: impl Into<String>) -> Self {
        self.child(Element::new(name).text(text))
    }

    /// Serializes as written (declarations where they were put, attributes in insertion order).
    pub fn to_document(&self) -> String {
        let mut out = String::with_capacity(2048);
        self.write_document(&mut out);
        out
    }

    fn write_document(&self, out: &mut String) {
        out.push('<');
        out.push_str(&self.name);
        for (p, uri) in &self.ns {
            push_ns(out, p, uri);
        }
        for (k, v) in &self.attrs {
            push_attr(out, k, v);
        }
        if self.children.is_empty() {
            out.push_str("/>");
            return;
        }
        out.push('>');
        for c in &self.children {
            match c {
                Node::Element(e) => e.write_document(out),
                Node::Text(t) => push_text(out, t),
            }
        }
        out.push_str("</");
        out.push_str(&self.name);
        out.push('>');
    }

    /// Exclusive XML Canonicalization (without comments, no inclusive prefixes) of this element as
    /// the apex, with `in_scope` the namespace bindings inherited from its ancestors.
    pub fn exc_c14n(&self, in_scope: &BTreeMap<String, String>) -> String {
        let mut out = String::with_capacity(2048);
        self.write_c14n(&mut out, in_scope, &BTreeMap::new());
        out
    }

    fn write_c14n(
        &self,
        out: &mut String,
        inherited: &BTreeMap<String, String>,
        rendered: &BTreeMap<String, String>,
    ) {
        let mut scope = inherited.clone();
        for (p, uri) in &self.ns {
            scope.insert(p.clone(), uri.clone());
        }
        // Prefixes visibly utilized: the element's own and its prefixed attributes'.
        let mut used: Vec<String> = vec![prefix_of(&self.name).to_string()];
        for (k, _) in &self.attrs {
            let p = prefix_of(k);
            if !p.is_empty() && !used.iter().any(|u| u == p) {
                used.push(p.to_string());
            }
        }
        used.sort();
        let mut now_rendered = rendered.clone();
        out.push('<');
        out.push_str(&self.name);
        for p in &used {
            let uri = scope.get(p).cloned().unwrap_or_default();
            let already = rendered.get(p).cloned().unwrap_or_default();
            if uri != already {
                push_ns(out, p, &uri);
                now_rendered.insert(p.clone(), uri);
            }
        }
        // Attributes sorted by (namespace URI, local name); unqualified ones have no URI.
        let mut attrs: Vec<(String, &str, &str, &str)> = self
            .attrs
            .iter()
            .map(|(k, v)| {
                let p = prefix_of(k);
                let uri = if p.is_empty() {
                    String::new()
                } else {
                    scope.get(p).cloned().unwrap_or_default()
                };
                (uri, local_of(k), k.as_str(), v.as_str())
            })
            .collect();
        attrs.sort_by(|a, b| (a.0.as_str(), a.1).cmp(&(b.0.as_str(), b.1)));
        for (_, _, qname, value) in attrs {
            push_attr(out, qname, value);
        }
        out.push('>');
        for c in &self.children {
            match c {
                Node::Element(e) => e.write_c14n(out, &scope, &now_rendered),
                Node::Text(t) => push_text(out, t),
            }
        }
        out.push_str("</");
        out.push_str(&self.name);
        out.push('>');
    }
}

fn prefix_of(qname: &str) -> &str {
    qname.split_once(':').map_or("", |(p, _)| p)
}

fn local_of(qname: &str) -> &str {
    qname.split_once(':').map_or(qname, |(_, l)| l)
}

fn push_ns(out: &mut String, prefix: &str, uri: &str) {
    if prefix.is_empty() {
        out.push_str(" xmlns=\"");
    } else {
        out.push_str(" xmlns:");
        out.push_str(prefix);
        out.push_str("=\"");
    }
    push_attr_value(out, uri);
    out.push('"');
}

fn push_attr(out: &mut String, name: &str, value: &str) {
    out.push(' ');
    out.push_str(name);
    out.push_str("=\"");
    push_attr_value(out, value);
    out.push('"');
}

/// Attribute value escaping as Canonical XML prescribes.
fn push_attr_value(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

/// Text escaping as Canonical XML prescribes.
fn push_text(out: &mut String, t: &str) {
    for c in t.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

/// Escapes text for XML content (for templates outside the tree builder).
pub fn escape_text(t: &str) -> String {
    let mut s = String::with_capacity(t.len());
    push_text(&mut s, t);
    s
}

/// Escapes an attribute value.
pub fn escape_attr(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    push_attr_value(&mut s, v);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c14n_renders_only_visibly_used_namespaces_sorted_attributes_and_long_empty_tags() {
        let e = Element::new("md:EntityDescriptor")
            .xmlns("md", "urn:md")
            .xmlns("fed", "urn:fed")
            .attr("z", "1")
            .attr("a", "x\"<&\n")
            .child(
                Element::new("md:RoleDescriptor")
                    .xmlns("xsi", "urn:xsi")
                    .attr("xsi:type", "fed:T")
                    .attr("b", "2")
                    .child(Element::new("fed:Endpoint").text("a<b>&c\r")),
            );
        assert_eq!(
            e.exc_c14n(&BTreeMap::new()),
            "<md:EntityDescriptor xmlns:md=\"urn:md\" a=\"x&quot;&lt;&amp;&#xA;\" z=\"1\">\
             <md:RoleDescriptor xmlns:xsi=\"urn:xsi\" b=\"2\" xsi:type=\"fed:T\">\
             <fed:Endpoint xmlns:fed=\"urn:fed\">a&lt;b&gt;&amp;c&#xD;</fed:Endpoint>\
             </md:RoleDescriptor></md:EntityDescriptor>"
        );
        assert!(e
            .to_document()
            .starts_with("<md:EntityDescriptor xmlns:md=\"urn:md\" xmlns:fed=\"urn:fed\" z=\"1\""));
    }

    #[test]
    fn c14n_of_a_subtree_declares_inherited_namespaces_it_uses() {
        let mut scope = BTreeMap::new();
        scope.insert("ds".to_string(), "urn:ds".to_string());
        let e = Element::new("ds:SignedInfo").child(Element::new("ds:Reference"));
        assert_eq!(
            e.exc_c14n(&scope),
            "<ds:SignedInfo xmlns:ds=\"urn:ds\"><ds:Reference></ds:Reference></ds:SignedInfo>"
        );
    }

    #[test]
    fn default_namespace_is_rendered_once() {
        let e = Element::new("Signature")
            .xmlns("", "urn:ds")
            .child(Element::new("SignedInfo"));
        assert_eq!(
            e.exc_c14n(&BTreeMap::new()),
            "<Signature xmlns=\"urn:ds\"><SignedInfo></SignedInfo></Signature>"
        );
    }
}
