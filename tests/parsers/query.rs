//! The `/adfs/ls/` query/form decoding and the sign-in form's context codec: a decoded value is
//! always the decoding of the raw value it is reported with; the protocol-parameter check
//! refuses exactly encoded names and repeats; the context round-trips and decodes only what it
//! encodes.

use crate::gen::{mutate_str, property, Rng};
use altgate::fuzzing::{decode_form_context, encode_form_context, Query};

const PROTOCOL: &[&str] = &[
    "SAMLRequest",
    "SAMLResponse",
    "RelayState",
    "SigAlg",
    "Signature",
    "wa",
    "wtrealm",
    "wctx",
    "wreply",
    "wfresh",
    "wct",
    "whr",
    "wres",
    "wp",
    "wauth",
    "wresult",
    "loginToRp",
];

const VALUE: &[&str] = &[
    "a", "Z", "0", "+", "%20", "%2B", "%26", "%3D", "%", "%4", "%zz", "%C3%A9", "%FF", "=", "é",
    "/", ":", "~",
];

fn decoded(raw: &str) -> String {
    form_urlencoded::parse(format!("v={raw}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// A parameter name: a protocol one as it is, encoded (one character as `%XX`, or a space
/// spelled `+` around it), or another one.
fn name(rng: &mut Rng) -> String {
    let n = *rng.pick(PROTOCOL);
    match rng.below(6) {
        0 => {
            let at = rng.below(n.len());
            let c = n.as_bytes()[at];
            format!("{}%{c:02X}{}", &n[..at], &n[at + 1..])
        }
        1 => (*rng.pick(&["x", "ctx", "UserName", "", "%78y", "a+b", "wa "])).to_string(),
        _ => n.to_string(),
    }
}

fn query(rng: &mut Rng) -> String {
    let mut q = String::new();
    let most = if rng.chance(5) { 80 } else { 8 };
    for i in 0..rng.below(most) {
        if i > 0 {
            q.push('&');
        }
        if rng.chance(5) {
            continue; // an empty segment
        }
        q.push_str(&name(rng));
        if rng.chance(90) {
            q.push('=');
            q.push_str(&rng.string_of(VALUE, 6));
        }
    }
    q
}

/// The check's verdict computed from the definition: the first 64 non-empty `&`-separated
/// parameters of each source; a protocol name decoded from anything but itself is refused, then
/// a protocol name decoded more than once.
fn expected_check(sources: &[&str]) -> Result<(), &'static str> {
    let names: Vec<(String, String)> = sources
        .iter()
        .flat_map(|s| s.split('&').filter(|p| !p.is_empty()).take(64))
        .map(|p| {
            let raw = p.split_once('=').map_or(p, |(n, _)| n);
            (raw.to_string(), decoded(raw))
        })
        .collect();
    for &n in PROTOCOL {
        if names.iter().any(|(raw, d)| d == n && raw != n) {
            return Err("encoded_parameter_name");
        }
    }
    for &n in PROTOCOL {
        if names.iter().filter(|(_, d)| d == n).count() > 1 {
            return Err("duplicate_parameter");
        }
    }
    Ok(())
}

#[test]
fn queries_decode_consistently_and_the_check_refuses_exactly_encoded_or_repeated_names() {
    property(
        "query_check",
        3000,
        |rng| {
            let form = query(rng);
            let q = if rng.chance(30) {
                query(rng)
            } else {
                String::new()
            };
            (form, q)
        },
        |(form, q)| {
            let mut params = Query::parse(form);
            params.extend(Query::parse(q));
            assert_eq!(params.check(), expected_check(&[form, q]));
            for name in PROTOCOL.iter().chain(&["x", "ctx", "a b", ""]) {
                match (params.get(name), params.raw(name)) {
                    (Some(v), Some(raw)) => assert_eq!(v, decoded(raw), "{name}"),
                    (None, None) => {}
                    other => panic!("{name}: {other:?}"),
                }
            }
        },
    );
}

#[test]
fn form_context_round_trips_and_decodes_only_what_it_encodes() {
    let raw = [
        "a",
        "&",
        "=",
        "\n",
        "é",
        "😀",
        "SAMLRequest=",
        "wa=wsignin1.0",
        "%",
        "+",
        "\r",
        "\0",
    ];
    property(
        "form_context",
        3000,
        |rng| {
            let tag = *rng.pick(&["get", "post", "idp"]);
            let text = rng.string_of(&raw, 16);
            let ctx = encode_form_context(tag, &text).expect("tag");
            let mutated = mutate_str(rng, &ctx);
            (tag, text, ctx, mutated)
        },
        |(tag, text, ctx, mutated)| {
            assert_eq!(decode_form_context(ctx), Some((*tag, text.clone())));
            if let Some((t, r)) = decode_form_context(mutated) {
                assert_eq!(
                    encode_form_context(t, &r).as_deref(),
                    Some(mutated.as_str())
                );
            }
        },
    );
    assert_eq!(encode_form_context("other", "x"), None);
}
