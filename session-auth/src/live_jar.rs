//! [`LiveJar`]: the cookie jar reqwest fills and reads while a session
//! sends — a [`CookieJar`] behind a lock. Every `Set-Cookie` goes through
//! [`CookieJar::insert_set_cookie`], the one place that decides what a
//! session keeps (its limits included), and never through `cookie_store`'s
//! own response path, which writes cookie values to `log` at DEBUG.

use bytes::Bytes;
use http::HeaderValue;
use parking_lot::{Mutex, MutexGuard};
use session_core::CookieJar;
use url::Url;

/// The live cookie jar of a session.
#[derive(Debug, Default)]
pub(crate) struct LiveJar(Mutex<CookieJar>);

impl LiveJar {
    /// The jar, locked.
    pub(crate) fn lock(&self) -> MutexGuard<'_, CookieJar> {
        self.0.lock()
    }
}

impl reqwest::cookie::CookieStore for LiveJar {
    fn set_cookies(&self, headers: &mut dyn Iterator<Item = &HeaderValue>, url: &Url) {
        let mut jar = self.0.lock();
        for header in headers {
            // A cookie the jar refuses (not text, wrong domain, over a
            // limit) is dropped quietly: its value must not reach a log.
            if let Ok(text) = std::str::from_utf8(header.as_bytes()) {
                jar.insert_set_cookie(text, url);
            }
        }
    }

    fn cookies(&self, url: &Url) -> Option<HeaderValue> {
        let line = self.0.lock().cookie_header(url)?;
        let mut value = HeaderValue::from_maybe_shared(Bytes::from(line)).ok()?;
        value.set_sensitive(true);
        Some(value)
    }
}
