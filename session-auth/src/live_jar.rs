//! [`LiveJar`]: the cookie jar reqwest fills and reads while a session
//! sends — a `cookie_store::CookieStore` behind a lock, fed without the
//! store's own logging (which writes cookie values to `log` at DEBUG).

use bytes::Bytes;
use cookie_store::{CookieStore, RawCookie};
use http::HeaderValue;
use parking_lot::{Mutex, MutexGuard};
use url::Url;

/// The live cookie jar of a session.
#[derive(Debug, Default)]
pub(crate) struct LiveJar(Mutex<CookieStore>);

impl LiveJar {
    /// The store, locked.
    pub(crate) fn lock(&self) -> MutexGuard<'_, CookieStore> {
        self.0.lock()
    }
}

impl reqwest::cookie::CookieStore for LiveJar {
    fn set_cookies(&self, headers: &mut dyn Iterator<Item = &HeaderValue>, url: &Url) {
        let mut store = self.0.lock();
        for header in headers {
            let Ok(text) = std::str::from_utf8(header.as_bytes()) else {
                continue;
            };
            let Ok(cookie) = RawCookie::parse(text) else {
                continue;
            };
            // A cookie the store refuses (wrong domain, bad path) is dropped
            // quietly: its value must not reach a log either.
            let _ = store.insert_raw(&cookie, url);
        }
    }

    fn cookies(&self, url: &Url) -> Option<HeaderValue> {
        let store = self.0.lock();
        let line = store
            .get_request_values(url)
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ");
        if line.is_empty() {
            return None;
        }
        let mut value = HeaderValue::from_maybe_shared(Bytes::from(line)).ok()?;
        value.set_sensitive(true);
        Some(value)
    }
}
