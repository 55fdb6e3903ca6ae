//! One decoding of a query string or form body, shared by routing and by HTTP-Redirect signature
//! verification: every parameter keeps its decoded name and value together with the raw (still
//! URL-encoded) text it came from, so a signature is checked over exactly the bytes of the
//! parameters the request is then routed on. Protocol parameters must appear once, under their
//! literal name: a percent-encoded name (`SAML%52equest`) or a second copy is refused.

use super::RefusalReason;

/// At most this many parameters are read from one query string or form.
const MAX_PARAMS: usize = 64;

/// The WS-Federation, SAML and sign-on parameters whose names must be literal and unique.
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
    "prompt",
];

/// Why a request's parameters were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum ParamError {
    /// A protocol parameter's name arrived percent- or plus-encoded.
    #[error("the protocol parameter {0} has an encoded name")]
    EncodedName(&'static str),
    /// A protocol parameter appears more than once.
    #[error("the protocol parameter {0} appears more than once")]
    Duplicate(&'static str),
}

impl ParamError {
    /// The refusal's reason: `encoded_parameter_name` or `duplicate_parameter`.
    pub(super) fn reason(&self) -> RefusalReason {
        match self {
            ParamError::EncodedName(_) => RefusalReason::EncodedParameterName,
            ParamError::Duplicate(_) => RefusalReason::DuplicateParameter,
        }
    }

    /// Stable code (metric label and audit reason): the id of [`ParamError::reason`].
    pub(super) fn code(&self) -> &'static str {
        self.reason().id()
    }
}

/// One parameter: decoded, and the raw text it was decoded from.
#[derive(Debug, Clone)]
struct Param<'a> {
    name: String,
    value: String,
    raw_name: &'a str,
    raw_value: &'a str,
}

/// The parameters of one request, in arrival order.
#[derive(Debug, Clone, Default)]
pub(super) struct Params<'a> {
    list: Vec<Param<'a>>,
}

impl<'a> Params<'a> {
    /// Decodes `raw` (`application/x-www-form-urlencoded`: `&`-separated, `+` and `%XX`
    /// escapes), keeping the first [`MAX_PARAMS`] parameters. Nothing is refused here; see
    /// [`Params::check`].
    pub(super) fn parse(raw: &'a str) -> Self {
        let list = raw
            .split('&')
            .filter(|segment| !segment.is_empty())
            .take(MAX_PARAMS)
            .map(|segment| {
                let (raw_name, raw_value) = segment.split_once('=').unwrap_or((segment, ""));
                let (name, value) = form_urlencoded::parse(segment.as_bytes())
                    .next()
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .unwrap_or_default();
                Param {
                    name,
                    value,
                    raw_name,
                    raw_value,
                }
            })
            .collect();
        Params { list }
    }

    /// Appends another source's parameters (a POST's query string after its form).
    pub(super) fn extend(&mut self, other: Params<'a>) {
        self.list.extend(other.list);
    }

    /// Refuses protocol parameters that arrive under an encoded name or more than once.
    pub(super) fn check(&self) -> Result<(), ParamError> {
        for &name in PROTOCOL {
            if self
                .list
                .iter()
                .any(|p| p.name == name && p.raw_name != name)
            {
                return Err(ParamError::EncodedName(name));
            }
        }
        for &name in PROTOCOL {
            if self.list.iter().filter(|p| p.name == name).count() > 1 {
                return Err(ParamError::Duplicate(name));
            }
        }
        Ok(())
    }

    fn find(&self, name: &str) -> Option<&Param<'a>> {
        self.list.iter().find(|p| p.name == name)
    }

    /// The decoded value of parameter `name`.
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.find(name).map(|p| p.value.as_str())
    }

    /// The raw (still encoded) value of the same parameter [`Params::get`] decodes.
    pub(super) fn raw(&self, name: &str) -> Option<&'a str> {
        self.find(name).map(|p| p.raw_value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_like_a_form_and_keeps_the_raw_values() {
        let p = Params::parse("a=1&&b=x+y%21&c&RelayState=r%2Fs");
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), Some("x y!"));
        assert_eq!(p.raw("b"), Some("x+y%21"));
        assert_eq!((p.get("c"), p.raw("c")), (Some(""), Some("")));
        assert_eq!(p.get("RelayState"), Some("r/s"));
        assert_eq!(p.raw("RelayState"), Some("r%2Fs"));
        assert_eq!(p.get("d"), None);
        assert_eq!(p.check(), Ok(()));
        let many: String = (0..100).map(|i| format!("p{i}=v&")).collect();
        let p = Params::parse(&many);
        assert_eq!((p.get("p63"), p.get("p64")), (Some("v"), None));
    }

    #[test]
    fn encoded_names_and_duplicates_of_protocol_parameters_are_refused() {
        for (query, code) in [
            ("SAMLRequest=b&SAML%52equest=a", "encoded_parameter_name"),
            ("SAML%52equest=a&SigAlg=s", "encoded_parameter_name"),
            ("Relay%53tate=x", "encoded_parameter_name"),
            ("SAMLRequest=a&SAMLRequest=a", "duplicate_parameter"),
            ("wa=wsignin1.0&w%61=wsignout1.0", "encoded_parameter_name"),
            ("wa=wsignin1.0&wtrealm=a&wtrealm=b", "duplicate_parameter"),
            ("w%74realm=a", "encoded_parameter_name"),
        ] {
            let err = Params::parse(query).check().expect_err(query);
            assert_eq!(err.code(), code, "{query}");
        }
        // Across sources too (a POST's form and its query string).
        let mut p = Params::parse("SAMLRequest=a");
        p.extend(Params::parse("SAMLRequest=b"));
        assert_eq!(p.check(), Err(ParamError::Duplicate("SAMLRequest")));
        // Other parameters may repeat or be encoded.
        assert_eq!(Params::parse("x=1&x=2&%78y=3").check(), Ok(()));
    }
}
