//! URL rules: joining paths onto the base URL, and which hosts count as
//! loopback for the plain-http rule.

use url::{Host, Url};

use crate::error::{Error, Result};

/// Parses a base URL and makes sure its path ends with `/`, so joined paths
/// land under it: `https://api.example.com/v2` and `…/v2/` both give
/// `…/v2/customers` for `customers`.
pub(crate) fn parse_base(base: &str) -> Result<Url> {
    let mut url = Url::parse(base).map_err(|_| Error::InvalidUrl {
        reason: "the base URL is not an absolute URL",
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::InvalidUrl {
            reason: "the base URL must use http or https",
        });
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::InvalidUrl {
            reason: "the base URL can't have a query or a fragment",
        });
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// Resolves a request target: an absolute `http(s)` URL is used as it is;
/// anything else is a path under the base URL (a leading `/` is ignored, so
/// `/customers` and `customers` are the same).
pub(crate) fn resolve(base: Option<&Url>, target: &str) -> Result<Url> {
    if let Ok(url) = Url::parse(target) {
        return match url.scheme() {
            "http" | "https" => Ok(url),
            _ => Err(Error::InvalidUrl {
                reason: "only http and https URLs can be requested",
            }),
        };
    }
    let base = base.ok_or(Error::InvalidUrl {
        reason: "a relative path needs a base URL on the session",
    })?;
    base.join(target.trim_start_matches('/'))
        .map_err(|_| Error::InvalidUrl {
            reason: "the path can't be joined onto the base URL",
        })
}

/// Whether the URL's host is loopback: `localhost` (and `*.localhost`),
/// 127.0.0.0/8 or `::1`.
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => {
            d.eq_ignore_ascii_case("localhost") || d.to_ascii_lowercase().ends_with(".localhost")
        }
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Refuses credentials over plain http to a non-loopback host.
pub(crate) fn check_transport(url: &Url, allow_insecure: bool) -> Result<()> {
    if url.scheme() == "http" && !allow_insecure && !is_loopback(url) {
        return Err(Error::InsecureTransport {
            host: url.host_str().unwrap_or_default().to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn join(base: &str, path: &str) -> String {
        resolve(Some(&parse_base(base).unwrap()), path)
            .unwrap()
            .to_string()
    }

    #[test]
    fn joining_with_and_without_trailing_slash() {
        for base in ["https://api.example.com/v2/", "https://api.example.com/v2"] {
            assert_eq!(
                join(base, "customers"),
                "https://api.example.com/v2/customers"
            );
            assert_eq!(
                join(base, "/customers"),
                "https://api.example.com/v2/customers"
            );
            assert_eq!(
                join(base, "customers/7?expand=1"),
                "https://api.example.com/v2/customers/7?expand=1"
            );
            assert_eq!(join(base, ""), "https://api.example.com/v2/");
        }
        assert_eq!(
            join("https://api.example.com", "x"),
            "https://api.example.com/x"
        );
        assert_eq!(
            join("https://api.example.com/v2/", "https://other.example/y"),
            "https://other.example/y"
        );
    }

    #[test]
    fn bad_targets_are_typed_errors() {
        assert!(matches!(
            parse_base("not a url"),
            Err(Error::InvalidUrl { .. })
        ));
        assert!(matches!(
            parse_base("ftp://x/"),
            Err(Error::InvalidUrl { .. })
        ));
        assert!(matches!(
            parse_base("https://x/?q=1"),
            Err(Error::InvalidUrl { .. })
        ));
        assert!(matches!(
            resolve(None, "customers"),
            Err(Error::InvalidUrl { .. })
        ));
        assert!(matches!(
            resolve(None, "file:///etc/passwd"),
            Err(Error::InvalidUrl { .. })
        ));
    }

    #[test]
    fn loopback_hosts() {
        for u in [
            "http://127.0.0.1:8/",
            "http://127.8.9.10/",
            "http://[::1]/",
            "http://localhost/",
            "http://api.localhost/",
        ] {
            assert!(is_loopback(&Url::parse(u).unwrap()), "{u}");
        }
        for u in [
            "http://example.com/",
            "http://10.0.0.1/",
            "http://localhost.example.com/",
        ] {
            assert!(!is_loopback(&Url::parse(u).unwrap()), "{u}");
        }
        assert!(check_transport(&Url::parse("http://example.com/").unwrap(), false).is_err());
        assert!(check_transport(&Url::parse("http://example.com/").unwrap(), true).is_ok());
        assert!(check_transport(&Url::parse("https://example.com/").unwrap(), false).is_ok());
    }
}
