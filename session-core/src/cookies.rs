//! [`CookieJar`]: a serializable cookie jar built on `cookie_store`.
//!
//! Unlike `cookie_store`'s own serializer, the jar keeps session cookies
//! (those without `Expires`/`Max-Age`) when saved: a persisted API session must
//! come back with the cookies it was using. Expired cookies are dropped.
//!
//! Every cookie a server sets goes through [`CookieJar::insert_set_cookie`],
//! which bounds what a server can make a session keep (and save, and send
//! back): a cookie's size, the cookies per domain and in all.

use std::fmt;

use cookie_store::{Cookie, CookieDomain, CookieStore};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use url::Url;

/// A cookie jar that can be saved with a session.
///
/// `Debug` shows how many cookies there are, never their values.
///
/// # Limits
///
/// A server decides what cookies it sets; the jar decides what it keeps, so
/// a misbehaving or hostile server can't grow a session (and its saved form,
/// and every request's `Cookie` header) without bound. As browsers do, and
/// at the sizes RFC 6265 §6.1 asks every client to support, the jar refuses
/// a cookie whose name and value together exceed
/// [`MAX_COOKIE_BYTES`](Self::MAX_COOKIE_BYTES), and a *new* cookie once its
/// domain holds [`MAX_PER_DOMAIN`](Self::MAX_PER_DOMAIN) or the jar
/// [`MAX_COOKIES`](Self::MAX_COOKIES). Cookies already kept can always be
/// replaced or removed, so a full jar never blocks a server's own session
/// cookie from being renewed. A cookie set for a whole top-level domain
/// (`Domain=com`) is refused too; the jar carries no public suffix list, so
/// one set for a multi-label suffix (`Domain=co.uk`) is kept — give a
/// session that talks to unrelated sites under such a suffix a jar each.
/// (Cookies put in through [`store_mut`](Self::store_mut) or restored from
/// a saved session are taken as they are.)
///
/// # Examples
///
/// ```
/// use session_core::CookieJar;
/// use url::Url;
///
/// let url = Url::parse("https://api.example.com/login")?;
/// let mut jar = CookieJar::default();
/// jar.insert_set_cookie("sid=abc; Path=/; HttpOnly", &url);
/// assert_eq!(jar.cookie_header(&url).as_deref(), Some("sid=abc"));
///
/// let saved = serde_json::to_string(&jar)?;
/// let restored: CookieJar = serde_json::from_str(&saved)?;
/// assert_eq!(restored.len(), 1);
/// assert_eq!(format!("{jar:?}"), "CookieJar { cookies: 1 }");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Default)]
pub struct CookieJar {
    store: CookieStore,
}

impl CookieJar {
    /// The largest cookie the jar keeps: name and value together, in bytes
    /// (RFC 6265 §6.1; browsers refuse bigger ones too).
    pub const MAX_COOKIE_BYTES: usize = 4096;

    /// How many cookies the jar keeps for one domain (RFC 6265 §6.1).
    pub const MAX_PER_DOMAIN: usize = 50;

    /// How many cookies the jar keeps in all (RFC 6265 §6.1).
    pub const MAX_COOKIES: usize = 3000;

    /// Wraps an existing `cookie_store::CookieStore`.
    ///
    /// ```
    /// let jar = session_core::CookieJar::from_store(cookie_store::CookieStore::default());
    /// assert!(jar.is_empty());
    /// ```
    pub fn from_store(store: CookieStore) -> Self {
        Self { store }
    }

    /// The underlying store, e.g. to hand to an HTTP client.
    ///
    /// ```
    /// let jar = session_core::CookieJar::default();
    /// assert_eq!(jar.store().iter_unexpired().count(), 0);
    /// ```
    pub fn store(&self) -> &CookieStore {
        &self.store
    }

    /// The underlying store, mutably.
    ///
    /// ```
    /// let mut jar = session_core::CookieJar::default();
    /// jar.store_mut().clear();
    /// ```
    pub fn store_mut(&mut self) -> &mut CookieStore {
        &mut self.store
    }

    /// Unwraps the store.
    ///
    /// ```
    /// let _store: cookie_store::CookieStore = session_core::CookieJar::default().into_store();
    /// ```
    pub fn into_store(self) -> CookieStore {
        self.store
    }

    /// Records a `Set-Cookie` header value received from `url`. Returns
    /// whether the cookie was accepted.
    ///
    /// ```
    /// let url = url::Url::parse("https://a.example/")?;
    /// let mut jar = session_core::CookieJar::default();
    /// assert!(jar.insert_set_cookie("k=v", &url));
    /// assert!(!jar.insert_set_cookie("k=v; Domain=other.example", &url));
    /// # Ok::<(), url::ParseError>(())
    /// ```
    pub fn insert_set_cookie(&mut self, set_cookie: &str, url: &Url) -> bool {
        let Ok(cookie) = Cookie::parse(set_cookie, url) else {
            return false;
        };
        if cookie.name().len() + cookie.value().len() > Self::MAX_COOKIE_BYTES {
            return false;
        }
        // No site owns a whole top-level domain: `Domain=com` from
        // `evil.com` would reach every `.com` host the session talks to.
        // (Multi-label public suffixes such as `co.uk` need the public
        // suffix list, which the jar doesn't carry.)
        if let CookieDomain::Suffix(suffix) = &cookie.domain
            && !suffix.contains('.')
            && url.host_str() != Some(suffix.as_str())
        {
            return false;
        }
        let domain = String::from(&cookie.domain);
        let known = self
            .store
            .contains_any(&domain, &cookie.path, cookie.name());
        if !known && !cookie.is_expired() && !self.has_room_on(&domain) {
            return false;
        }
        self.store.insert(cookie.into_owned(), url).is_ok()
    }

    /// Whether a new cookie for `domain` fits within the limits, after
    /// letting go of expired cookies if the jar is at one.
    fn has_room_on(&mut self, domain: &str) -> bool {
        let fits = |store: &CookieStore| {
            let mut on_domain = 0;
            let mut all = 0;
            for cookie in store.iter_any() {
                all += 1;
                on_domain += usize::from(cookie.domain.as_cow().as_deref() == Some(domain));
            }
            on_domain < Self::MAX_PER_DOMAIN && all < Self::MAX_COOKIES
        };
        if fits(&self.store) {
            return true;
        }
        let expired: Vec<(String, String, String)> = self
            .store
            .iter_any()
            .filter(|c| c.is_expired())
            .map(|c| {
                let path: &str = &c.path;
                (
                    String::from(&c.domain),
                    path.to_owned(),
                    c.name().to_owned(),
                )
            })
            .collect();
        if expired.is_empty() {
            return false;
        }
        for (domain, path, name) in &expired {
            self.store.remove(domain, path, name);
        }
        fits(&self.store)
    }

    /// The `Cookie` header value to send to `url`, if any cookie matches.
    ///
    /// # Security
    ///
    /// The value usually carries session secrets; send it, don't log it.
    ///
    /// ```
    /// let url = url::Url::parse("https://a.example/")?;
    /// assert_eq!(session_core::CookieJar::default().cookie_header(&url), None);
    /// # Ok::<(), url::ParseError>(())
    /// ```
    pub fn cookie_header(&self, url: &Url) -> Option<String> {
        let mut header = String::new();
        for (name, value) in self.store.get_request_values(url) {
            if !header.is_empty() {
                header.push_str("; ");
            }
            header.push_str(name);
            header.push('=');
            header.push_str(value);
        }
        (!header.is_empty()).then_some(header)
    }

    /// How many unexpired cookies the jar holds.
    ///
    /// ```
    /// assert_eq!(session_core::CookieJar::default().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.store.iter_unexpired().count()
    }

    /// Whether the jar holds no unexpired cookie.
    ///
    /// ```
    /// assert!(session_core::CookieJar::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.store.iter_unexpired().next().is_none()
    }

    /// Removes every cookie.
    ///
    /// ```
    /// let mut jar = session_core::CookieJar::default();
    /// jar.clear();
    /// assert!(jar.is_empty());
    /// ```
    pub fn clear(&mut self) {
        self.store.clear();
    }
}

impl From<CookieStore> for CookieJar {
    fn from(store: CookieStore) -> Self {
        Self::from_store(store)
    }
}

impl fmt::Debug for CookieJar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CookieJar")
            .field("cookies", &self.len())
            .finish()
    }
}

/// Serializes every unexpired cookie, session cookies included.
impl Serialize for CookieJar {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.store.iter_unexpired())
    }
}

impl<'de> Deserialize<'de> for CookieJar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let cookies = Vec::<Cookie<'static>>::deserialize(deserializer)?;
        let store = CookieStore::from_cookies(
            cookies.into_iter().map(Ok::<_, std::convert::Infallible>),
            false,
        )
        .unwrap_or_default();
        Ok(Self { store })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_cookies_survive_a_round_trip_and_expired_ones_do_not() {
        let url = Url::parse("https://api.example.com/").unwrap();
        let mut jar = CookieJar::default();
        assert!(jar.insert_set_cookie("session=s1; Path=/", &url));
        assert!(jar.insert_set_cookie("persist=p1; Path=/; Max-Age=3600", &url));
        // Already expired: refused, and never saved.
        assert!(!jar.insert_set_cookie(
            "gone=x; Path=/; Expires=Thu, 01 Jan 2000 00:00:00 GMT",
            &url
        ));
        let json = serde_json::to_string(&jar).unwrap();
        let back: CookieJar = serde_json::from_str(&json).unwrap();
        let header = back.cookie_header(&url).unwrap();
        assert!(header.contains("session=s1"), "{header}");
        assert!(header.contains("persist=p1"), "{header}");
        assert!(!header.contains("gone"), "{header}");
        assert_eq!(back.len(), 2);
    }

    #[test]
    fn a_cookie_over_the_size_limit_is_refused() {
        let url = Url::parse("https://api.example.com/").unwrap();
        let mut jar = CookieJar::default();
        let name = "k";
        let fits = "v".repeat(CookieJar::MAX_COOKIE_BYTES - name.len());
        assert!(jar.insert_set_cookie(&format!("{name}={fits}"), &url));
        assert!(!jar.insert_set_cookie(&format!("{name}={fits}v"), &url));
        assert_eq!(
            jar.cookie_header(&url).unwrap().len(),
            CookieJar::MAX_COOKIE_BYTES + 1
        );
    }

    #[test]
    fn a_full_domain_takes_no_new_cookie_but_keeps_renewing_its_own() {
        let url = Url::parse("https://api.example.com/").unwrap();
        let other = Url::parse("https://other.example.com/").unwrap();
        let mut jar = CookieJar::default();
        for n in 0..CookieJar::MAX_PER_DOMAIN {
            assert!(
                jar.insert_set_cookie(&format!("c{n}=v"), &url),
                "cookie {n}"
            );
        }
        assert!(!jar.insert_set_cookie("one-more=v", &url));
        // Renewing and removing what it holds still work.
        assert!(jar.insert_set_cookie("c0=renewed", &url));
        assert!(jar.cookie_header(&url).unwrap().contains("c0=renewed"));
        assert!(jar.insert_set_cookie("c1=; Max-Age=0", &url));
        assert_eq!(jar.len(), CookieJar::MAX_PER_DOMAIN - 1);
        // The removed cookie made room.
        assert!(jar.insert_set_cookie("one-more=v", &url));
        assert!(!jar.insert_set_cookie("two-more=v", &url));
        // Another domain has its own room.
        assert!(jar.insert_set_cookie("k=v", &other));
    }

    #[test]
    fn cookies_a_server_removed_make_room_and_are_let_go() {
        let url = Url::parse("https://api.example.com/").unwrap();
        let mut jar = CookieJar::default();
        for round in 0..3 {
            for n in 0..CookieJar::MAX_PER_DOMAIN {
                let name = format!("r{round}c{n}");
                assert!(jar.insert_set_cookie(&format!("{name}=v"), &url), "{name}");
            }
            // The server removes them all; the store keeps them, expired.
            for n in 0..CookieJar::MAX_PER_DOMAIN {
                assert!(jar.insert_set_cookie(&format!("r{round}c{n}=; Max-Age=0"), &url));
            }
            assert!(jar.is_empty());
            assert!(jar.store().iter_any().count() <= CookieJar::MAX_PER_DOMAIN);
        }
    }

    #[test]
    fn the_jar_as_a_whole_is_bounded() {
        let mut jar = CookieJar::default();
        let per = CookieJar::MAX_PER_DOMAIN;
        for n in 0..CookieJar::MAX_COOKIES {
            let url = Url::parse(&format!("https://h{}.example/", n / per)).unwrap();
            assert!(
                jar.insert_set_cookie(&format!("c{n}=v"), &url),
                "cookie {n}"
            );
        }
        let url = Url::parse("https://fresh.example/").unwrap();
        assert!(!jar.insert_set_cookie("k=v", &url));
        assert_eq!(jar.len(), CookieJar::MAX_COOKIES);
    }

    #[test]
    fn a_cookie_for_a_whole_top_level_domain_is_refused() {
        let evil = Url::parse("https://evil.com/").unwrap();
        let victim = Url::parse("https://api.victim.com/").unwrap();
        let mut jar = CookieJar::default();
        assert!(!jar.insert_set_cookie("sid=planted; Domain=com", &evil));
        assert!(!jar.insert_set_cookie("sid=planted; Domain=.com", &evil));
        assert!(jar.cookie_header(&victim).is_none());
        // A site's own domain, and a single-label host for itself, are fine.
        assert!(jar.insert_set_cookie("k=v; Domain=evil.com", &evil));
        let local = Url::parse("http://localhost:8080/").unwrap();
        assert!(jar.insert_set_cookie("k=v; Domain=localhost", &local));
        assert_eq!(jar.len(), 2);
    }

    #[test]
    fn debug_hides_values() {
        let url = Url::parse("https://api.example.com/").unwrap();
        let mut jar = CookieJar::default();
        jar.insert_set_cookie("sid=TOPSECRET", &url);
        assert!(!format!("{jar:?}").contains("TOPSECRET"));
    }

    #[test]
    fn cookies_stay_with_their_domain() {
        let a = Url::parse("https://a.example/").unwrap();
        let b = Url::parse("https://b.example/").unwrap();
        let mut jar = CookieJar::default();
        jar.insert_set_cookie("k=v", &a);
        assert!(jar.cookie_header(&b).is_none());
    }
}
