//! The XML reader (`altgate::xml::parse::parse`): never panics, and whatever it accepts honours
//! the limits it was given; a document accepted under tight limits is accepted under looser ones.
#![no_main]

use altgate::xml::parse::{parse, Limits, XmlNode};
use libfuzzer_sys::fuzz_target;

fn within(n: &XmlNode, depth: usize, l: &Limits, count: &mut usize) -> bool {
    *count += 1;
    depth <= l.max_depth
        && n.attrs.len() <= l.max_attributes
        && n.children.iter().all(|c| within(c, depth + 1, l, count))
}

fn check(doc: &XmlNode, l: &Limits) {
    let mut count = 0;
    assert!(within(doc, 1, l, &mut count), "limits broken: {l:?}");
    assert!(count <= l.max_elements, "{count} elements under {l:?}");
}

fuzz_target!(|data: &[u8]| {
    let tight = Limits {
        max_depth: 4,
        max_elements: 16,
        max_attributes: 3,
    };
    let loose = Limits::default();
    let small = parse(data, tight);
    let full = parse(data, loose);
    if let Ok(doc) = &small {
        check(doc, &tight);
        assert_eq!(
            full.as_ref().ok(),
            Some(doc),
            "accepted only under tight limits"
        );
    }
    if let Ok(doc) = &full {
        check(doc, &loose);
    }
});
