//! [`UrlCache`]: a session's last resolved request targets, so a target it
//! sends to again is not parsed again.
//!
//! Parsing a URL is one of the costliest steps of building a request (the
//! host goes through IDNA processing, an IP address is parsed and printed
//! back): several thousand instructions, more than everything else the
//! session adds to a request. API clients send to the same few targets over
//! and over, so each thread slot keeps the last target it resolved and its
//! URL; the same target again is a string compare and a copy of the URL.
//!
//! Resolving stays [`resolve`]'s job: a target the cache doesn't hold goes
//! through it, and only what it accepted is kept. The base URL can't change
//! after a session is built, so a target always resolves to the same URL.
//! Slots are locked with `try_lock` and never waited for: a slot busy on
//! another thread means a parse, not a wait. What the cache held is wiped
//! when it is replaced and when the session is dropped.

use parking_lot::Mutex;
use url::Url;
use zeroize::Zeroize;

use crate::error::Result;
use crate::striped::{SHARDS, slot};
use crate::url::resolve;

/// The last target resolved on each thread slot.
pub(crate) struct UrlCache {
    slots: [Slot; SHARDS],
}

/// One slot, on cache lines of its own.
#[repr(align(128))]
#[derive(Default)]
struct Slot(Mutex<Option<Entry>>);

/// A target and the URL it resolved to.
struct Entry {
    target: String,
    url: Option<Url>,
}

impl Entry {
    /// Forgets the URL, wiping its text.
    fn wipe_url(&mut self) {
        if let Some(url) = self.url.take() {
            String::from(url).zeroize();
        }
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        self.target.zeroize();
        self.wipe_url();
    }
}

impl UrlCache {
    pub(crate) fn new() -> Self {
        Self {
            slots: Default::default(),
        }
    }

    /// Resolves `target` against `base` (see [`resolve`]), from the cache
    /// when the calling thread's slot resolved the same target last.
    pub(crate) fn resolve(&self, base: Option<&Url>, target: &str) -> Result<Url> {
        let slot = &self.slots[slot() % SHARDS].0;
        if let Some(held) = slot.try_lock()
            && let Some(Entry {
                target: held_target,
                url: Some(url),
            }) = held.as_ref()
            && held_target == target
        {
            return Ok(url.clone());
        }
        let url = resolve(base, target)?;
        if let Some(mut held) = slot.try_lock() {
            match held.as_mut() {
                Some(entry) => {
                    // The old entry's text is wiped and its room reused.
                    entry.wipe_url();
                    entry.target.zeroize();
                    entry.target.push_str(target);
                    entry.url = Some(url.clone());
                }
                None => {
                    *held = Some(Entry {
                        target: target.to_owned(),
                        url: Some(url.clone()),
                    });
                }
            }
        }
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use crate::url::parse_base;

    fn base() -> Url {
        parse_base("https://api.example.com/v2/").unwrap()
    }

    #[test]
    fn a_cached_target_resolves_as_a_parse_would() {
        let cache = UrlCache::new();
        let base = base();
        let targets = [
            "customers",
            "/customers",
            "customers/7?expand=1",
            "https://other.example/y",
            "http://127.0.0.1:8080/",
            "",
        ];
        for _ in 0..3 {
            for target in targets {
                let first = cache.resolve(Some(&base), target).unwrap();
                let again = cache.resolve(Some(&base), target).unwrap();
                let parsed = resolve(Some(&base), target).unwrap();
                assert_eq!(first, parsed, "{target}");
                assert_eq!(again, parsed, "{target}");
                let held = cache.slots[slot() % SHARDS].0.lock();
                let entry = held.as_ref().expect("the slot keeps what it resolved");
                assert_eq!(entry.target, target);
                assert_eq!(entry.url.as_ref(), Some(&parsed));
            }
        }
    }

    #[test]
    fn the_same_text_against_another_base_is_not_shared() {
        // Each session has its own cache (its base can't change), so one
        // session's entry can't answer for another's.
        let (one, two) = (UrlCache::new(), UrlCache::new());
        let other = parse_base("https://elsewhere.example/").unwrap();
        assert_eq!(
            one.resolve(Some(&base()), "customers").unwrap().as_str(),
            "https://api.example.com/v2/customers"
        );
        assert_eq!(
            two.resolve(Some(&other), "customers").unwrap().as_str(),
            "https://elsewhere.example/customers"
        );
    }

    #[test]
    fn a_refused_target_is_refused_every_time_and_not_kept() {
        let cache = UrlCache::new();
        for _ in 0..2 {
            assert!(matches!(
                cache.resolve(None, "customers"),
                Err(Error::InvalidUrl { .. })
            ));
            assert!(matches!(
                cache.resolve(None, "file:///etc/passwd"),
                Err(Error::InvalidUrl { .. })
            ));
        }
        let held = cache.slots[slot() % SHARDS].0.lock();
        assert!(held.is_none(), "nothing was kept");
    }

    #[test]
    fn a_busy_slot_means_a_parse_not_a_wait() {
        let cache = UrlCache::new();
        let base = base();
        cache.resolve(Some(&base), "customers").unwrap();
        let _busy = cache.slots[slot() % SHARDS].0.lock();
        assert_eq!(
            cache.resolve(Some(&base), "orders").unwrap().as_str(),
            "https://api.example.com/v2/orders"
        );
        assert_eq!(
            cache.resolve(Some(&base), "customers").unwrap().as_str(),
            "https://api.example.com/v2/customers"
        );
    }

    #[test]
    fn threads_sharing_slots_each_get_their_own_target() {
        let cache = std::sync::Arc::new(UrlCache::new());
        let threads: Vec<_> = (0..2 * SHARDS)
            .map(|n| {
                let cache = cache.clone();
                std::thread::spawn(move || {
                    let base = base();
                    for round in 0..200 {
                        let target = format!("items/{}", (n + round) % 3);
                        let url = cache.resolve(Some(&base), &target).unwrap();
                        assert_eq!(url, resolve(Some(&base), &target).unwrap());
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
    }
}
