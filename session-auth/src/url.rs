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
    refuse_userinfo(&url)?;
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
    let url = match Url::parse(target) {
        Ok(url) => url,
        Err(_) => {
            let base = base.ok_or(Error::InvalidUrl {
                reason: "a relative path needs a base URL on the session",
            })?;
            base.join(target.trim_start_matches('/'))
                .map_err(|_| Error::InvalidUrl {
                    reason: "the path can't be joined onto the base URL",
                })?
        }
    };
    // Checked on what is sent, whichever way it was written: a path such as
    // `//user:pw@host` reads as a scheme of its own once joined.
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::InvalidUrl {
            reason: "only http and https URLs can be requested",
        });
    }
    refuse_userinfo(&url)?;
    Ok(url)
}

/// Refuses a user name or password in a URL. A request never sends them
/// (credentials come from the session's auth strategy, which keeps them
/// secret and obeys the transport rule), and a URL is no place to keep a
/// secret: it is printed, logged and shown in errors.
fn refuse_userinfo(url: &Url) -> Result<()> {
    if url.username().is_empty() && url.password().is_none() {
        return Ok(());
    }
    Err(Error::InvalidUrl {
        reason: "a URL can't carry a user name or password; use BasicAuth or another auth strategy",
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

    #[test]
    fn credentials_in_a_url_are_refused_not_dropped_or_sent() {
        let base = parse_base("https://api.example.com/v1").unwrap();
        for url in [
            "https://ada:pw-123@api.example.com/",
            "https://ada@api.example.com/",
            "https://:pw-123@api.example.com/",
        ] {
            for result in [parse_base(url), resolve(Some(&base), url)] {
                let err = result.unwrap_err();
                assert!(matches!(err, Error::InvalidUrl { .. }), "{url}");
                assert!(!err.to_string().contains("pw-123"), "{err}");
            }
        }
    }

    #[test]
    fn a_path_never_turns_into_another_scheme() {
        let base = parse_base("https://api.example.com/v1").unwrap();
        // `//host/x` stays under the base; `x:y` looks like a scheme once
        // the slashes are gone.
        assert_eq!(
            resolve(Some(&base), "//evil.example/x").unwrap().as_str(),
            "https://api.example.com/v1/evil.example/x"
        );
        assert!(matches!(
            resolve(Some(&base), "//user:pw@evil.example/x"),
            Err(Error::InvalidUrl { .. })
        ));
    }
}
