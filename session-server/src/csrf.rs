//! Cross-site request forgery: a browser attaches the session cookie to
//! requests other sites make it send, so an unsafe request (POST, PUT,
//! PATCH, DELETE, …) that carries the session in a cookie must come from
//! this origin or one the configuration allows. Sessions carried in a
//! header are not affected: another site can't make a browser set it.
//!
//! The browser says where a request comes from in `Sec-Fetch-Site` (modern
//! browsers) and `Origin` (every browser on cross-origin unsafe requests).
//! A request with neither is not from a browser page and passes.

use http::{HeaderMap, Method};

/// An origin: scheme, host and port, compared exactly (host case-insensitive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

impl Origin {
    /// Parses `scheme://host[:port]` (no path, query or user info); `None`
    /// for anything else, `null` included.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let (scheme, rest) = text.trim().split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "https" => 443,
            "http" => 80,
            _ => return None,
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        Self::from_authority(&scheme, rest, default_port)
    }

    fn from_authority(scheme: &str, authority: &str, default_port: u16) -> Option<Self> {
        if authority.is_empty() || authority.contains(['/', '?', '#', '@', ' ']) {
            return None;
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(']') && host.contains(':') => {
                // An IPv6 literal without brackets isn't an origin.
                let _ = port;
                return None;
            }
            Some((host, port)) if !port.contains(']') => (host, port.parse().ok()?),
            _ => (authority, default_port),
        };
        if host.is_empty() {
            return None;
        }
        Some(Self {
            scheme: scheme.to_owned(),
            host: host.to_ascii_lowercase(),
            port,
        })
    }

    /// The origin a request was sent to: its `Host` (or URI authority) on
    /// the scheme it arrived over.
    fn of_request(uri: &http::Uri, headers: &HeaderMap, https: bool) -> Option<Self> {
        let authority = headers
            .get(http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .or_else(|| uri.authority().map(http::uri::Authority::as_str))?;
        let (scheme, port) = if https { ("https", 443) } else { ("http", 80) };
        Self::from_authority(scheme, authority, port)
    }
}

/// Whether `method` may change state (anything but GET, HEAD, OPTIONS, TRACE).
pub(crate) fn is_unsafe(method: &Method) -> bool {
    !matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// Whether a request carrying the session in a cookie is refused as
/// cross-site: an unsafe method sent by another origin's page that isn't in
/// `allowed`.
pub(crate) fn is_forged(
    method: &Method,
    uri: &http::Uri,
    headers: &HeaderMap,
    https: bool,
    allowed: &[String],
) -> bool {
    if !is_unsafe(method) {
        return false;
    }
    let origin = headers.get(http::header::ORIGIN).map(|v| v.to_str().ok());
    let fetch_site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .map(str::to_ascii_lowercase);
    let allowed_origin = |text: &str| {
        Origin::parse(text).is_some_and(|o| {
            Origin::of_request(uri, headers, https).as_ref() == Some(&o)
                || allowed
                    .iter()
                    .any(|a| Origin::parse(a).as_ref() == Some(&o))
        })
    };
    match (fetch_site.as_deref(), origin) {
        // The browser says it's this origin, or the user's own action.
        (Some("same-origin" | "none"), _) => false,
        // Another site: only an allowed origin passes.
        (Some(_), Some(Some(origin))) => !allowed_origin(origin),
        (Some(_), _) => true,
        // An older browser: the Origin header decides.
        (None, Some(Some(origin))) => !allowed_origin(origin),
        (None, Some(None)) => true,
        // No browser page sent this.
        (None, None) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(http::header::HOST, "app.example.com".parse().unwrap());
        for (k, v) in pairs {
            map.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        map
    }

    fn forged(method: Method, pairs: &[(&str, &str)], allowed: &[&str]) -> bool {
        let allowed: Vec<String> = allowed.iter().map(|s| (*s).to_owned()).collect();
        is_forged(
            &method,
            &"/cart".parse().unwrap(),
            &headers(pairs),
            true,
            &allowed,
        )
    }

    #[test]
    fn safe_methods_always_pass() {
        assert!(!forged(
            Method::GET,
            &[("origin", "https://evil.example")],
            &[]
        ));
        assert!(!forged(
            Method::HEAD,
            &[("sec-fetch-site", "cross-site")],
            &[]
        ));
    }

    #[test]
    fn cross_site_unsafe_requests_are_refused() {
        assert!(forged(
            Method::POST,
            &[("origin", "https://evil.example")],
            &[]
        ));
        assert!(forged(
            Method::DELETE,
            &[
                ("sec-fetch-site", "cross-site"),
                ("origin", "https://evil.example")
            ],
            &[]
        ));
        assert!(forged(
            Method::POST,
            &[("sec-fetch-site", "same-site")],
            &[]
        ));
        assert!(forged(Method::POST, &[("origin", "null")], &[]));
        assert!(
            forged(Method::POST, &[("origin", "http://app.example.com")], &[]),
            "the http origin of an https site is another origin"
        );
    }

    #[test]
    fn own_and_allowed_origins_pass() {
        assert!(!forged(
            Method::POST,
            &[("origin", "https://app.example.com")],
            &[]
        ));
        assert!(!forged(
            Method::POST,
            &[("sec-fetch-site", "same-origin")],
            &[]
        ));
        assert!(!forged(Method::POST, &[("sec-fetch-site", "none")], &[]));
        assert!(!forged(
            Method::PUT,
            &[
                ("sec-fetch-site", "same-site"),
                ("origin", "https://admin.example.com")
            ],
            &["https://admin.example.com"]
        ));
        assert!(!forged(Method::POST, &[], &[]), "not from a browser page");
    }

    #[test]
    fn origins_parse_strictly() {
        assert!(Origin::parse("https://a.example.com").is_some());
        assert_eq!(
            Origin::parse("https://A.example.com:443"),
            Origin::parse("https://a.example.com")
        );
        assert!(Origin::parse("http://localhost:3000").is_some());
        assert!(Origin::parse("https://[::1]:8443").is_some());
        for bad in [
            "a.example.com",
            "null",
            "ftp://a.example.com",
            "https://",
            "https://a.example.com/path",
            "https://user@a.example.com",
            "https://a.example.com:99999",
        ] {
            assert!(Origin::parse(bad).is_none(), "{bad}");
        }
    }
}
