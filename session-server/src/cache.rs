//! [`SessionCache`]: the sessions this process read recently, so requests
//! through the layer don't ask the store every time.
//!
//! Every change this process makes takes effect in the cache at once: a
//! write (data, activity, extension) replaces the entry with what it wrote;
//! rotation, invalidation and eviction forget the affected entries. A read
//! that raced with a change is not cached, and neither is a write that
//! raced with an invalidation (an epoch counter tells).
//! Changes made by *other* processes sharing the store are seen once an
//! entry is older than the cache's time to live (`SESSION_CACHE_TTL`, 1 s
//! by default; 0 turns the cache off).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::session::ServerSession;

/// Entries kept at most; when full, stale entries go first, then all.
const CAPACITY: usize = 10_000;

/// Recently read sessions by storage key.
pub(crate) struct SessionCache {
    /// Time to live in nanoseconds; 0 means off.
    ttl: i128,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Bumped by every forget, so a read that began before it isn't cached.
    epoch: u64,
    entries: HashMap<String, Entry>,
}

struct Entry {
    session: Arc<ServerSession>,
    /// When it was read, in Unix nanoseconds on the manager's clock.
    read_at: i128,
}

impl SessionCache {
    /// A cache whose entries live `ttl` (zero: no cache).
    pub(crate) fn new(ttl: Duration) -> Self {
        Self {
            ttl: i128::try_from(ttl.as_nanos()).unwrap_or(i128::MAX),
            state: Mutex::new(State::default()),
        }
    }

    /// Whether the cache is on.
    pub(crate) fn is_on(&self) -> bool {
        self.ttl > 0
    }

    /// A copy of the cached session for `key` if it was read less than the
    /// time to live before `now` (Unix nanoseconds).
    pub(crate) fn get(&self, key: &str, now: i128) -> Option<Arc<ServerSession>> {
        if !self.is_on() {
            return None;
        }
        let state = self.state.lock();
        let entry = state.entries.get(key)?;
        let age = now.saturating_sub(entry.read_at);
        (0..self.ttl).contains(&age).then(|| entry.session.clone())
    }

    /// The epoch to hand to [`insert`](Self::insert) for a store read about
    /// to begin.
    pub(crate) fn epoch(&self) -> u64 {
        if !self.is_on() {
            return 0;
        }
        self.state.lock().epoch
    }

    /// Caches what a store read begun at `epoch` returned, unless something
    /// was forgotten since.
    pub(crate) fn insert(&self, key: String, session: &Arc<ServerSession>, epoch: u64, now: i128) {
        if !self.is_on() {
            return;
        }
        let mut state = self.state.lock();
        if state.epoch == epoch {
            self.put(&mut state, key, Arc::clone(session), now);
        }
    }

    /// Caches what this process just wrote for `key` in place of what was
    /// cached, if nothing was forgotten since `epoch` (taken before the
    /// write began: an invalidation meanwhile keeps the written session out
    /// of the cache). Either way, reads that began before now can't cache
    /// what they read, which the write may have changed.
    pub(crate) fn replace(&self, key: &str, session: &ServerSession, epoch: u64, now: i128) {
        if !self.is_on() {
            return;
        }
        let written = Arc::new(session.clone());
        let mut state = self.state.lock();
        let unchanged = state.epoch == epoch;
        state.epoch = state.epoch.wrapping_add(1);
        if unchanged {
            self.put(&mut state, key.to_owned(), written, now);
        } else {
            state.entries.remove(key);
        }
    }

    /// Puts an entry, making room first when the cache is full: stale
    /// entries go first, then all.
    fn put(&self, state: &mut State, key: String, session: Arc<ServerSession>, now: i128) {
        if state.entries.len() >= CAPACITY && !state.entries.contains_key(&key) {
            let ttl = self.ttl;
            state
                .entries
                .retain(|_, e| (0..ttl).contains(&now.saturating_sub(e.read_at)));
            if state.entries.len() >= CAPACITY {
                state.entries.clear();
            }
        }
        state.entries.insert(
            key,
            Entry {
                session,
                read_at: now,
            },
        );
    }

    /// Forgets `key` (after this process changed or removed it): one
    /// lookup, however many sessions are cached.
    pub(crate) fn forget(&self, key: &str) {
        if !self.is_on() {
            return;
        }
        let mut state = self.state.lock();
        state.epoch = state.epoch.wrapping_add(1);
        state.entries.remove(key);
    }

    /// Forgets every session of `user_id` (a pass over the cache: ending
    /// all of a user's sessions is rare).
    pub(crate) fn forget_user(&self, user_id: &str) {
        if !self.is_on() {
            return;
        }
        let mut state = self.state.lock();
        state.epoch = state.epoch.wrapping_add(1);
        state.entries.retain(|_, e| e.session.user_id != user_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(user: &str) -> Arc<ServerSession> {
        let now = time::macros::datetime!(2030-01-01 0:00 UTC);
        Arc::new(ServerSession::new(
            user.to_owned(),
            now,
            3600,
            now + Duration::from_secs(86_400),
            serde_json::json!({}),
        ))
    }

    const SECOND: i128 = 1_000_000_000;

    #[test]
    fn entries_live_exactly_the_ttl() {
        let cache = SessionCache::new(Duration::from_secs(1));
        let epoch = cache.epoch();
        cache.insert("k".into(), &session("ada"), epoch, 10 * SECOND);
        assert!(cache.get("k", 10 * SECOND).is_some());
        assert!(cache.get("k", 11 * SECOND - 1).is_some());
        assert!(cache.get("k", 11 * SECOND).is_none());
        assert!(
            cache.get("k", 9 * SECOND).is_none(),
            "a clock gone back doesn't trust it"
        );
        assert!(cache.get("other", 10 * SECOND).is_none());
    }

    #[test]
    fn a_read_that_raced_with_a_change_is_not_cached() {
        let cache = SessionCache::new(Duration::from_secs(1));
        let epoch = cache.epoch();
        cache.forget("k"); // another task changed the session meanwhile
        cache.insert("k".into(), &session("ada"), epoch, 0);
        assert!(cache.get("k", 0).is_none());
        let epoch = cache.epoch();
        cache.insert("k".into(), &session("ada"), epoch, 0);
        assert!(cache.get("k", 0).is_some());
    }

    #[test]
    fn a_write_replaces_the_entry_unless_something_was_forgotten_meanwhile() {
        let cache = SessionCache::new(Duration::from_secs(1));
        let read = cache.epoch();
        cache.insert("k".into(), &session("ada"), read, 0);

        // This process writes the session: what it wrote is what is cached.
        let before_write = cache.epoch();
        cache.replace("k", &session("bob"), before_write, 5);
        assert_eq!(cache.get("k", 5).unwrap().user_id, "bob");
        // A read that began before the write can't put back what it read.
        cache.insert("k".into(), &session("ada"), read, 6);
        assert_eq!(cache.get("k", 6).unwrap().user_id, "bob");

        // The session is invalidated while another write is in flight: the
        // write's session is not cached, and neither is the old one.
        let before_write = cache.epoch();
        cache.forget("k");
        cache.replace("k", &session("eve"), before_write, 7);
        assert!(cache.get("k", 7).is_none());

        // Off, nothing is kept.
        let off = SessionCache::new(Duration::ZERO);
        off.replace("k", &session("ada"), off.epoch(), 0);
        assert!(off.get("k", 0).is_none());
    }

    #[test]
    fn forgetting_a_key_or_a_user() {
        let cache = SessionCache::new(Duration::from_secs(1));
        for (key, user) in [("a1", "ada"), ("a2", "ada"), ("b1", "bob")] {
            let epoch = cache.epoch();
            cache.insert(key.into(), &session(user), epoch, 0);
        }
        cache.forget("b1");
        assert!(cache.get("b1", 0).is_none());
        assert!(cache.get("a1", 0).is_some() && cache.get("a2", 0).is_some());
        cache.forget_user("ada");
        assert!(cache.get("a1", 0).is_none() && cache.get("a2", 0).is_none());
    }

    #[test]
    fn off_means_nothing_is_kept() {
        let cache = SessionCache::new(Duration::ZERO);
        cache.insert("k".into(), &session("ada"), cache.epoch(), 0);
        assert!(cache.get("k", 0).is_none());
    }

    #[test]
    fn a_full_cache_makes_room() {
        let cache = SessionCache::new(Duration::from_secs(1));
        for i in 0..CAPACITY {
            cache.insert(format!("k{i}"), &session("ada"), cache.epoch(), 0);
        }
        cache.insert("new".into(), &session("ada"), cache.epoch(), 2 * SECOND);
        assert!(cache.get("new", 2 * SECOND).is_some());
        assert!(cache.state.lock().entries.len() <= CAPACITY);
    }
}
