//! URLs the configuration names: `server.public_url` ([`PublicUrl`], checked once here and
//! typed from then on) and the URLs tokens may be posted to ([`is_reply_url`], for
//! `relying_parties[].reply_urls` and the ones SAML SP metadata lists).

use super::is_dns_name;
use std::fmt;

/// `server.public_url`: the `https://` base URL clients use, e.g. `https://sts.contoso.com`.
/// Checked once: the `https` scheme (clients only federate over TLS), a host (a DNS name or
/// an IP address, `[v6]` bracketed) with an optional port, no user name or password, no query
/// or fragment, no spaces. A path is kept (a proxy may publish altgate under one); trailing
/// slashes are dropped, so [`PublicUrl::join`] adds paths without doubling one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl {
    /// `https://host[:port][/path]`, without a trailing slash.
    url: String,
    /// Where the host ends in `url`.
    host_end: usize,
}

/// Where the host starts in `url`: after `https://`.
const HOST_START: usize = "https://".len();

impl PublicUrl {
    /// Checks `url` (see [`PublicUrl`]); the error says what is wrong, quoting the URL.
    pub fn parse(url: &str) -> Result<PublicUrl, String> {
        let Some(rest) = url.strip_prefix("https://").filter(|r| !r.is_empty()) else {
            return Err(format!(
                "{url:?} must be an https:// URL (clients only federate over TLS)"
            ));
        };
        if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!("{url:?}: no spaces or control characters allowed"));
        }
        if rest.contains(['?', '#']) {
            return Err(format!(
                "{url:?}: no query or fragment allowed (endpoint paths are added to it)"
            ));
        }
        let (authority, path) = match rest.split_once('/') {
            Some((authority, path)) => (authority, path.trim_end_matches('/')),
            None => (rest, ""),
        };
        if authority.contains('@') {
            return Err(format!("{url:?}: no user name or password allowed"));
        }
        // `host[:port]` or `[v6][:port]`.
        let (host, port) = match authority.strip_prefix('[').map(|a| a.split_once(']')) {
            Some(Some((v6, port))) => (
                format!("[{v6}]"),
                port.strip_prefix(':')
                    .or(Some(port).filter(|p| !p.is_empty())),
            ),
            Some(None) => (authority.to_string(), None),
            None => match authority.rsplit_once(':') {
                Some((h, port)) => (h.to_string(), Some(port)),
                None => (authority.to_string(), None),
            },
        };
        let host_ok = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            Some(v6) => v6.parse::<std::net::Ipv6Addr>().is_ok(),
            None => {
                host.parse::<std::net::Ipv4Addr>().is_ok()
                    || is_dns_name(&host.to_ascii_lowercase())
            }
        };
        let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p != 0));
        if !host_ok || !port_ok {
            return Err(format!("{url:?}: expected https://host[:port][/path]"));
        }
        Ok(PublicUrl {
            url: if path.is_empty() {
                format!("https://{authority}")
            } else {
                format!("https://{authority}/{path}")
            },
            host_end: HOST_START + host.len(),
        })
    }

    /// The URL without a trailing slash, e.g. `https://sts.contoso.com`.
    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// The host as the URL writes it, without the port: `sts.contoso.com`, `192.0.2.1`,
    /// `[2001:db8::1]`.
    pub fn host(&self) -> &str {
        self.url.get(HOST_START..self.host_end).unwrap_or("")
    }

    /// The absolute URL of `path` (an absolute path such as `/adfs/ls/`; a missing leading
    /// slash is added).
    pub fn join(&self, path: &str) -> String {
        if path.starts_with('/') {
            format!("{}{path}", self.url)
        } else {
            format!("{}/{path}", self.url)
        }
    }
}

impl fmt::Display for PublicUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

impl PartialEq<str> for PublicUrl {
    fn eq(&self, other: &str) -> bool {
        self.url == other
    }
}

impl PartialEq<&str> for PublicUrl {
    fn eq(&self, other: &&str) -> bool {
        self.url == *other
    }
}

/// An absolute URL tokens may be posted to: https, or http on a loopback host (tests, demos).
pub(super) fn is_reply_url(u: &str) -> bool {
    let host_of = |rest: &str| rest.split(['/', '?', '#']).next().unwrap_or("").to_string();
    if let Some(rest) = u.strip_prefix("https://") {
        let host = host_of(rest);
        return !host.is_empty() && !host.contains('@');
    }
    if let Some(rest) = u.strip_prefix("http://") {
        let host = host_of(rest);
        let name = host.rsplit_once(':').map_or(host.as_str(), |(h, _)| h);
        return matches!(name, "localhost" | "127.0.0.1" | "[::1]");
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_urls_are_checked_once_and_normalised() {
        let u = PublicUrl::parse("https://sts.contoso.com/").expect("valid");
        assert_eq!(u.as_str(), "https://sts.contoso.com");
        assert_eq!(u.host(), "sts.contoso.com");
        assert_eq!(u.join("/adfs/ls/"), "https://sts.contoso.com/adfs/ls/");
        assert_eq!(u.join("adfs/ls/"), "https://sts.contoso.com/adfs/ls/");
        assert_eq!(u.to_string(), "https://sts.contoso.com");
        let u = PublicUrl::parse("https://sts.contoso.com:8443/prefix//").expect("valid");
        assert_eq!(u.as_str(), "https://sts.contoso.com:8443/prefix");
        assert_eq!(u.host(), "sts.contoso.com");
        assert_eq!(u.join("/x"), "https://sts.contoso.com:8443/prefix/x");
        let u = PublicUrl::parse("https://[2001:db8::1]:443").expect("valid");
        assert_eq!(u.host(), "[2001:db8::1]");
        assert_eq!(
            PublicUrl::parse("https://192.0.2.1").expect("valid").host(),
            "192.0.2.1"
        );
        for bad in [
            "http://sts.contoso.com",
            "https://",
            "sts.contoso.com",
            "HTTPS://sts.contoso.com",
            "https://sts.contoso.com?x=1",
            "https://sts.contoso.com/#top",
            "https://user:pw@sts.contoso.com",
            "https://sts.contoso.com:port",
            "https://sts.contoso.com:0",
            "https://sts contoso.com",
            "https://[::1",
            "https://:443",
            "https://-bad-.example",
        ] {
            assert!(PublicUrl::parse(bad).is_err(), "{bad}");
        }
        assert!(PublicUrl::parse("http://x")
            .expect_err("http")
            .contains("must be an https:// URL"));
    }
}
