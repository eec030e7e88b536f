//! [`MemoryStore`]: a [`SessionStore`] in process memory, for tests and for
//! single-process servers that accept losing sessions on restart.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use parking_lot::Mutex;
use time::OffsetDateTime;

use crate::clock::SharedClock;
use crate::error::Result;
use crate::store::{SessionStore, StoreRecord};

/// An in-memory [`SessionStore`]. Clones share the same records.
///
/// Every operation takes one short lock, so `update_if_exists` and `delete`
/// are atomic with respect to each other.
///
/// # Examples
///
/// ```
/// use serde_json::json;
/// use session_core::{MemoryStore, SessionStore, StoreRecord};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = MemoryStore::new();
/// store.save("k", &StoreRecord::new(json!({"a": 1}))).await?;
/// assert_eq!(store.load("k").await?.unwrap().data["a"], 1);
/// assert_eq!(store.count().await?, 1);
/// # Ok::<(), session_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    inner: Arc<Mutex<Inner>>,
    clock: SharedClock,
}

#[derive(Debug, Default)]
struct Inner {
    records: HashMap<String, StoreRecord>,
    by_owner: HashMap<String, HashSet<String>>,
}

impl Inner {
    fn insert(&mut self, key: &str, record: StoreRecord) {
        self.remove(key);
        if let Some(owner) = &record.owner {
            self.by_owner
                .entry(owner.clone())
                .or_default()
                .insert(key.to_owned());
        }
        self.records.insert(key.to_owned(), record);
    }

    fn remove(&mut self, key: &str) -> Option<StoreRecord> {
        let record = self.records.remove(key)?;
        if let Some(owner) = &record.owner
            && let Some(keys) = self.by_owner.get_mut(owner)
        {
            keys.remove(key);
            if keys.is_empty() {
                self.by_owner.remove(owner);
            }
        }
        Some(record)
    }

    fn live(&self, key: &str, now: OffsetDateTime) -> Option<&StoreRecord> {
        self.records.get(key).filter(|r| !r.is_expired(now))
    }
}

impl MemoryStore {
    /// An empty store on the system clock.
    ///
    /// ```
    /// let _ = session_core::MemoryStore::new();
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// This store, deciding expiry with `clock`.
    ///
    /// ```
    /// let _ = session_core::MemoryStore::new().with_clock(session_core::SharedClock::default());
    /// ```
    #[must_use]
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn load(&self, key: &str) -> Result<Option<StoreRecord>> {
        let now = self.clock.now();
        Ok(self.inner.lock().live(key, now).cloned())
    }

    async fn save(&self, key: &str, record: &StoreRecord) -> Result<()> {
        self.inner.lock().insert(key, record.clone());
        Ok(())
    }

    async fn insert_if_absent(&self, key: &str, record: &StoreRecord) -> Result<bool> {
        let now = self.clock.now();
        let mut inner = self.inner.lock();
        if inner.live(key, now).is_some() {
            return Ok(false);
        }
        inner.insert(key, record.clone());
        Ok(true)
    }

    async fn update_if_exists(&self, key: &str, record: &StoreRecord) -> Result<bool> {
        let now = self.clock.now();
        let mut inner = self.inner.lock();
        if inner.live(key, now).is_none() {
            return Ok(false);
        }
        inner.insert(key, record.clone());
        Ok(true)
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        let now = self.clock.now();
        Ok(self
            .inner
            .lock()
            .remove(key)
            .is_some_and(|r| !r.is_expired(now)))
    }

    async fn list_by_owner(&self, owner: &str) -> Result<Vec<(String, StoreRecord)>> {
        let now = self.clock.now();
        let inner = self.inner.lock();
        let Some(keys) = inner.by_owner.get(owner) else {
            return Ok(Vec::new());
        };
        Ok(keys
            .iter()
            .filter_map(|k| inner.live(k, now).map(|r| (k.clone(), r.clone())))
            .collect())
    }

    async fn delete_by_owner(&self, owner: &str) -> Result<u64> {
        let now = self.clock.now();
        let mut inner = self.inner.lock();
        let keys: Vec<String> = inner
            .by_owner
            .get(owner)
            .map(|k| k.iter().cloned().collect())
            .unwrap_or_default();
        let mut live = 0;
        for key in keys {
            if inner.remove(&key).is_some_and(|r| !r.is_expired(now)) {
                live += 1;
            }
        }
        Ok(live)
    }

    async fn owner_counts(&self) -> Result<Vec<(String, u64)>> {
        let now = self.clock.now();
        let inner = self.inner.lock();
        Ok(inner
            .by_owner
            .iter()
            .map(|(owner, keys)| {
                let live = keys.iter().filter(|k| inner.live(k, now).is_some()).count() as u64;
                (owner.clone(), live)
            })
            .filter(|(_, n)| *n > 0)
            .collect())
    }

    async fn delete_expired(&self, now: OffsetDateTime) -> Result<u64> {
        let mut inner = self.inner.lock();
        let expired: Vec<String> = inner
            .records
            .iter()
            .filter(|(_, r)| r.is_expired(now))
            .map(|(k, _)| k.clone())
            .collect();
        for key in &expired {
            inner.remove(key);
        }
        Ok(expired.len() as u64)
    }

    async fn count(&self) -> Result<u64> {
        let now = self.clock.now();
        let inner = self.inner.lock();
        Ok(inner
            .records
            .values()
            .filter(|r| !r.is_expired(now))
            .count() as u64)
    }
}
