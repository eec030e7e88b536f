//! URL rules: joining paths onto the base URL, and the plain-http rule in
//! this crate's error type.

use url::Url;

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

/// Refuses credentials over plain http to a non-loopback host: the one
/// rule, from session-core, in this crate's error type.
pub(crate) fn check_transport(url: &Url, allow_insecure: bool) -> Result<()> {
    session_core::check_transport(url, allow_insecure).map_err(Error::from_core)
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
}
