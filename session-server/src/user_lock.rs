//! [`UserLock`]: one user's session creation, serialized across every
//! process sharing the store, so the per-user maximum holds for a fleet of
//! servers and not just for one.
//!
//! The lock is a record the store inserts only where nothing lives
//! (`insert_if_absent`, atomic on every backend), with a short expiry so a
//! process that dies holding it delays that user's next login by at most
//! [`TTL`], never forever.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use session_core::{SessionStore as _, SharedClock, SharedSessionStore, StoreRecord};
use sha2::{Digest as _, Sha256};

use crate::error::{Error, Result};

/// How long a lock outlives a holder that died holding it.
const TTL: Duration = Duration::from_secs(10);
/// How long a create waits for another process's lock before giving up.
const PATIENCE: Duration = Duration::from_secs(10);
/// The first and the longest pause between attempts.
const FIRST_PAUSE: Duration = Duration::from_millis(2);
const LONGEST_PAUSE: Duration = Duration::from_millis(50);

/// A held lock on one user's session creation. [`release`](Self::release) it.
#[derive(Debug)]
pub(crate) struct UserLock {
    key: String,
    token: String,
}

impl UserLock {
    /// The store key of `user_id`'s lock (the user id hashed: it may be
    /// anything, keys may not).
    fn key(user_id: &str) -> String {
        let digest = Sha256::digest(user_id.as_bytes());
        format!("lock:{}", URL_SAFE_NO_PAD.encode(digest))
    }

    /// Waits until this process holds `user_id`'s lock.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the store fails, or (retryable) when another
    /// process held the lock for longer than the patience.
    pub(crate) async fn acquire(
        store: &SharedSessionStore,
        clock: &SharedClock,
        user_id: &str,
    ) -> Result<Self> {
        let mut token = [0u8; 16];
        getrandom::fill(&mut token).expect("the OS random number generator is available");
        let lock = Self {
            key: Self::key(user_id),
            token: URL_SAFE_NO_PAD.encode(token),
        };
        let started = tokio::time::Instant::now();
        let mut pause = FIRST_PAUSE;
        loop {
            let record =
                StoreRecord::new(json!({ "lock": lock.token })).with_expires_at(clock.now() + TTL);
            if store.insert_if_absent(&lock.key, &record).await? {
                return Ok(lock);
            }
            if started.elapsed() >= PATIENCE {
                return Err(Error::Store(session_core::Error::store(
                    "wait for another server creating a session for this user",
                    true,
                    std::io::Error::other("the user's creation lock stayed held"),
                )));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(LONGEST_PAUSE);
        }
    }

    /// Gives the lock up, if it is still ours (it may have expired and
    /// been taken by another process meanwhile).
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the store fails (the lock then expires on its own).
    pub(crate) async fn release(self, store: &SharedSessionStore) -> Result<()> {
        let ours = store
            .load(&self.key)
            .await?
            .is_some_and(|r| r.data.get("lock").and_then(|t| t.as_str()) == Some(&self.token));
        if ours {
            store.delete(&self.key).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use session_core::{ManualClock, MemoryStore};

    fn store(clock: &ManualClock) -> SharedSessionStore {
        SharedSessionStore::new(MemoryStore::new().with_clock(SharedClock::new(clock.clone())))
    }

    #[tokio::test(start_paused = true)]
    async fn a_held_lock_makes_the_next_wait_and_a_dead_holders_lock_expires() {
        let clock = ManualClock::at_unix(1_900_000_000);
        let shared = SharedClock::new(clock.clone());
        let store = store(&clock);
        let first = UserLock::acquire(&store, &shared, "ada").await.unwrap();
        // Another user is not held up.
        let other = UserLock::acquire(&store, &shared, "bob").await.unwrap();
        other.release(&store).await.unwrap();
        // The same user waits, and gives up after the patience (the
        // holder never releases and the clock never moves).
        let err = UserLock::acquire(&store, &shared, "ada").await.unwrap_err();
        assert!(err.is_retryable(), "{err}");
        // Its holder died: once its expiry passes, the lock is free.
        clock.advance(TTL);
        let second = UserLock::acquire(&store, &shared, "ada").await.unwrap();
        // The first holder, back late, must not release the second's lock.
        first.release(&store).await.unwrap();
        assert!(store.load(&UserLock::key("ada")).await.unwrap().is_some());
        second.release(&store).await.unwrap();
        assert!(store.load(&UserLock::key("ada")).await.unwrap().is_none());
    }
}
