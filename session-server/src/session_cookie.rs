//! The session cookie, built with the `cookie` crate from the
//! configuration: name (prefixed when secure), `Path`, `Domain`,
//! `SameSite`, `HttpOnly`, `Secure`, and `Max-Age` up to the session's hard
//! end of life (the server ends it sooner when it goes idle).

use cookie::Cookie;
use http::HeaderValue;
use session_core::time::OffsetDateTime;

use crate::config::{SameSite, SessionConfig};
use crate::id::SessionId;
use crate::session::ServerSession;

/// The cookie's name as sent: `__Host-NAME` when secure, for this host only
/// and at `/`; `__Secure-NAME` when secure otherwise; `NAME` when not secure.
pub(crate) fn effective_name(config: &SessionConfig) -> Option<String> {
    let name = config.cookie_name.as_ref()?;
    Some(if !config.secure_cookies {
        name.clone()
    } else if config.cookie_domain.is_none() && config.cookie_path == "/" {
        format!("__Host-{name}")
    } else {
        format!("__Secure-{name}")
    })
}

fn base<'c>(config: &'c SessionConfig, name: &'c str, value: &'c str) -> Cookie<'c> {
    let mut cookie = Cookie::build((name, value))
        .path(config.cookie_path.as_str())
        .http_only(true)
        .secure(config.secure_cookies)
        .same_site(match config.same_site {
            SameSite::Strict => cookie::SameSite::Strict,
            SameSite::Lax => cookie::SameSite::Lax,
            SameSite::None => cookie::SameSite::None,
        })
        .build();
    if let Some(domain) = &config.cookie_domain {
        cookie.set_domain(domain.as_str());
    }
    cookie
}

/// `Set-Cookie` carrying `id`, kept by the browser until `session` can no
/// longer live.
pub(crate) fn issue(
    config: &SessionConfig,
    name: &str,
    id: &SessionId,
    session: &ServerSession,
    now: OffsetDateTime,
) -> Option<HeaderValue> {
    let mut cookie = base(config, name, id.as_str());
    let left = (session.absolute_expires_at - now).whole_seconds().max(0);
    cookie.set_max_age(cookie::time::Duration::seconds(left));
    HeaderValue::from_str(&cookie.encoded().to_string()).ok()
}

/// `Set-Cookie` that makes the browser forget the session cookie.
pub(crate) fn expire(config: &SessionConfig, name: &str) -> Option<HeaderValue> {
    let mut cookie = base(config, name, "");
    cookie.make_removal();
    HeaderValue::from_str(&cookie.encoded().to_string()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn session(now: OffsetDateTime) -> ServerSession {
        ServerSession::new(
            "ada".into(),
            now,
            600,
            now + Duration::from_secs(3600),
            serde_json::json!({}),
        )
    }

    #[test]
    fn names_take_the_strongest_prefix_allowed() {
        let plain = SessionConfig::builder().cookie_name("sid").build().unwrap();
        assert_eq!(effective_name(&plain).as_deref(), Some("sid"));
        let host = SessionConfig::builder()
            .cookie_name("sid")
            .secure_cookies(true)
            .build()
            .unwrap();
        assert_eq!(effective_name(&host).as_deref(), Some("__Host-sid"));
        let domain = SessionConfig::builder()
            .cookie_name("sid")
            .secure_cookies(true)
            .cookie_domain("example.com")
            .build()
            .unwrap();
        assert_eq!(effective_name(&domain).as_deref(), Some("__Secure-sid"));
        assert_eq!(effective_name(&SessionConfig::default()), None);
    }

    #[test]
    fn the_cookie_carries_every_configured_attribute() {
        let config = SessionConfig::builder()
            .cookie_name("sid")
            .secure_cookies(true)
            .same_site(SameSite::Strict)
            .cookie_domain("example.com")
            .cookie_path("/app")
            .build()
            .unwrap();
        let now = time::macros::datetime!(2030-01-01 0:00 UTC);
        let id = SessionId::generate();
        let value = issue(&config, "__Secure-sid", &id, &session(now), now).unwrap();
        let cookie = Cookie::parse(value.to_str().unwrap()).unwrap();
        assert_eq!(cookie.name(), "__Secure-sid");
        assert_eq!(cookie.value(), id.as_str());
        assert_eq!(cookie.path(), Some("/app"));
        assert_eq!(cookie.domain(), Some("example.com"));
        assert_eq!(cookie.same_site(), Some(cookie::SameSite::Strict));
        assert_eq!(
            (cookie.http_only(), cookie.secure()),
            (Some(true), Some(true))
        );
        assert_eq!(cookie.max_age(), Some(cookie::time::Duration::hours(1)));

        let gone = expire(&config, "__Secure-sid").unwrap();
        let gone = Cookie::parse(gone.to_str().unwrap()).unwrap();
        assert_eq!(gone.value(), "");
        assert_eq!(gone.max_age(), Some(cookie::time::Duration::ZERO));
        assert_eq!(gone.path(), Some("/app"));
    }
}
