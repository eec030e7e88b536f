//! The transport rule for credentials: they travel over https, or over plain
//! http only to a loopback host — unless the application opts out
//! explicitly. Every sender in session-kit (the `Session`, its middleware
//! adapters, the OAuth client's own calls) asks this one function.

use url::{Host, Url};

use crate::error::{Error, Result};

/// Whether the URL's host is loopback: `localhost` (and `*.localhost`),
/// 127.0.0.0/8 or `::1`.
///
/// ```
/// use session_core::url::Url;
/// assert!(session_core::is_loopback(&Url::parse("http://127.0.0.1:8080/").unwrap()));
/// assert!(session_core::is_loopback(&Url::parse("http://app.localhost/").unwrap()));
/// assert!(!session_core::is_loopback(&Url::parse("http://example.com/").unwrap()));
/// ```
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => {
            d.eq_ignore_ascii_case("localhost") || d.to_ascii_lowercase().ends_with(".localhost")
        }
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Refuses to send credentials to `url` over plain http unless its host is
/// loopback or `allow_insecure_http` is set.
///
/// # Errors
///
/// [`Error::InsecureTransport`] naming the host.
///
/// ```
/// use session_core::url::Url;
/// let url = Url::parse("http://api.example.com/v1").unwrap();
/// assert!(session_core::check_transport(&url, false).unwrap_err().to_string().contains("api.example.com"));
/// assert!(session_core::check_transport(&url, true).is_ok());
/// assert!(session_core::check_transport(&Url::parse("https://api.example.com/").unwrap(), false).is_ok());
/// ```
pub fn check_transport(url: &Url, allow_insecure_http: bool) -> Result<()> {
    if url.scheme() == "http" && !allow_insecure_http && !is_loopback(url) {
        return Err(Error::InsecureTransport {
            host: url.host_str().unwrap_or_default().to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
