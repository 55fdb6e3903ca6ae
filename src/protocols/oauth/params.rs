//! One reading of an OAuth request's parameters (a query string or a form body): at most
//! [`MAX_PARAMS`], each name at most once (RFC 6749 §3.1: "parameters MUST NOT be included
//! more than once"), each value at most [`MAX_VALUE`] bytes; an empty value is an absent
//! parameter.

use super::OAuthRefusal;

/// At most this many parameters.
pub(super) const MAX_PARAMS: usize = 32;
/// Longest value (bytes): an assertion or ID token hint fits, a flood does not.
pub(super) const MAX_VALUE: usize = 8 * 1024;

/// The parameters of one request.
#[derive(Debug, Default)]
pub(super) struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Reads `raw` (`application/x-www-form-urlencoded`).
    pub(super) fn parse(raw: &str) -> Result<Params, OAuthRefusal> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (name, value) in form_urlencoded::parse(raw.as_bytes()) {
            if pairs.len() >= MAX_PARAMS || value.len() > MAX_VALUE || name.len() > 64 {
                return Err(OAuthRefusal::MalformedRequest);
            }
            if pairs.iter().any(|(n, _)| *n == name) {
                return Err(OAuthRefusal::RepeatedParameter);
            }
            pairs.push((name.into_owned(), value.into_owned()));
        }
        Ok(Params { pairs })
    }

    /// The form of a token-side request (token, revocation, introspection): a POST of
    /// `application/x-www-form-urlencoded`.
    pub(super) fn of_form(req: &super::ApiRequest<'_>) -> Result<Params, OAuthRefusal> {
        if !req.post || !req.form {
            return Err(OAuthRefusal::MalformedRequest);
        }
        let body = std::str::from_utf8(req.body).map_err(|_| OAuthRefusal::MalformedRequest)?;
        Params::parse(body)
    }

    /// The value of `name`, unless absent or empty.
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// The value of `name`, required.
    pub(super) fn require(&self, name: &str) -> Result<&str, OAuthRefusal> {
        self.get(name).ok_or(OAuthRefusal::MalformedRequest)
    }

    /// The value of `name` when it is at most `max` bytes.
    pub(super) fn bounded(&self, name: &str, max: usize) -> Result<Option<&str>, OAuthRefusal> {
        match self.get(name) {
            Some(v) if v.len() > max => Err(OAuthRefusal::MalformedRequest),
            other => Ok(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_oversized_and_empty_parameters() {
        let p = Params::parse("a=1&b=&c=x%20y").expect("parse");
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), None);
        assert_eq!(p.get("c"), Some("x y"));
        assert_eq!(
            Params::parse("a=1&a=2").err(),
            Some(OAuthRefusal::RepeatedParameter)
        );
        let big = format!("a={}", "x".repeat(MAX_VALUE + 1));
        assert_eq!(
            Params::parse(&big).err(),
            Some(OAuthRefusal::MalformedRequest)
        );
        let many: Vec<String> = (0..=MAX_PARAMS).map(|i| format!("p{i}=1")).collect();
        assert_eq!(
            Params::parse(&many.join("&")).err(),
            Some(OAuthRefusal::MalformedRequest)
        );
    }
}
