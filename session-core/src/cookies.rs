//! [`CookieJar`]: a serializable cookie jar built on `cookie_store`.
//!
//! Unlike `cookie_store`'s own serializer, the jar keeps session cookies
//! (those without `Expires`/`Max-Age`) when saved: a persisted API session must
//! come back with the cookies it was using. Expired cookies are dropped.

use std::fmt;

use cookie_store::{Cookie, CookieStore};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use url::Url;

/// A cookie jar that can be saved with a session.
///
/// `Debug` shows how many cookies there are, never their values.
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
        self.store.parse(set_cookie, url).is_ok()
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
