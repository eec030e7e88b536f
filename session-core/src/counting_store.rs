//! [`CountingStore`]: a store for tests that counts the reads and writes
//! reaching the store it wraps, to tell code that wrote from code that only
//! read, code that read from a cache from code that asked the store, or how
//! many writes a burst of changes was coalesced into.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::error::Result;
use crate::memory_store::MemoryStore;
use crate::store::{SessionStore, StoreRecord};

/// Wraps a [`SessionStore`] (a [`MemoryStore`] by default) and counts what
/// reaches it: [`saves`](Self::saves) counts `save`, [`writes`](Self::writes)
/// counts `save`, `insert_if_absent`, `update_if_exists` and `delete`,
/// [`updated`](Self::updated) the `update_if_exists` calls the wrapped store
/// has answered, and [`loads`](Self::loads) counts `load`. Bulk operations
/// (`delete_by_owner`, `delete_expired`) and listings are passed through
/// uncounted.
///
/// Clones share the counts and the wrapped store.
///
/// # Examples
///
/// ```
/// use session_core::{CountingStore, SessionStore, StoreRecord};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = CountingStore::new();
/// let record = StoreRecord::new(serde_json::json!({"a": 1}));
/// store.save("k", &record).await?;
/// store.load("k").await?;
/// store.delete("k").await?;
/// assert_eq!((store.saves(), store.writes()), (1, 2));
/// # Ok::<(), session_core::Error>(()) }).unwrap();
/// ```
#[derive(Debug, Clone, Default)]
pub struct CountingStore<S = MemoryStore> {
    inner: S,
    counts: Arc<Counts>,
    update_turns: u32,
}

#[derive(Debug, Default)]
struct Counts {
    saves: AtomicU64,
    writes: AtomicU64,
    updated: AtomicU64,
    loads: AtomicU64,
}

impl CountingStore {
    /// Counts the writes to a new, empty memory store.
    ///
    /// ```
    /// assert_eq!(session_core::CountingStore::new().writes(), 0);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }
}

impl<S: SessionStore> CountingStore<S> {
    /// Counts the writes to `inner`.
    ///
    /// ```
    /// let store = session_core::CountingStore::wrapping(session_core::MemoryStore::new());
    /// assert_eq!(store.saves(), 0);
    /// ```
    pub fn wrapping(inner: S) -> Self {
        Self {
            inner,
            counts: Arc::default(),
            update_turns: 0,
        }
    }

    /// Makes each `update_if_exists` give the scheduler `turns` turns before
    /// it runs and `turns` more before its answer comes back, as a store
    /// across a network takes a while both ways: lets a test see what queues
    /// up behind a write in flight, and what happens between a write and
    /// its answer ([`updated`](Self::updated) tells when it was made).
    ///
    /// ```
    /// let _slow = session_core::CountingStore::new().slow_updates(10);
    /// ```
    pub fn slow_updates(mut self, turns: u32) -> Self {
        self.update_turns = turns;
        self
    }

    /// How many `save` calls reached the store.
    ///
    /// ```
    /// assert_eq!(session_core::CountingStore::new().saves(), 0);
    /// ```
    pub fn saves(&self) -> u64 {
        self.counts.saves.load(Ordering::SeqCst)
    }

    /// How many writes of one record (`save`, `insert_if_absent`,
    /// `update_if_exists`, `delete`) reached the store.
    ///
    /// ```
    /// assert_eq!(session_core::CountingStore::new().writes(), 0);
    /// ```
    pub fn writes(&self) -> u64 {
        self.counts.writes.load(Ordering::SeqCst)
    }

    /// How many `update_if_exists` calls the wrapped store has answered (an
    /// answer may still be on its way back: see
    /// [`slow_updates`](Self::slow_updates)).
    ///
    /// ```
    /// assert_eq!(session_core::CountingStore::new().updated(), 0);
    /// ```
    pub fn updated(&self) -> u64 {
        self.counts.updated.load(Ordering::SeqCst)
    }

    /// How many `load` calls reached the store.
    ///
    /// ```
    /// assert_eq!(session_core::CountingStore::new().loads(), 0);
    /// ```
    pub fn loads(&self) -> u64 {
        self.counts.loads.load(Ordering::SeqCst)
    }

    fn wrote(&self) {
        self.counts.writes.fetch_add(1, Ordering::SeqCst);
    }
}

#[async_trait]
impl<S: SessionStore> SessionStore for CountingStore<S> {
    async fn load(&self, key: &str) -> Result<Option<StoreRecord>> {
        self.counts.loads.fetch_add(1, Ordering::SeqCst);
        self.inner.load(key).await
    }

    async fn save(&self, key: &str, record: &StoreRecord) -> Result<()> {
        self.counts.saves.fetch_add(1, Ordering::SeqCst);
        self.wrote();
        self.inner.save(key, record).await
    }

    async fn insert_if_absent(&self, key: &str, record: &StoreRecord) -> Result<bool> {
        self.wrote();
        self.inner.insert_if_absent(key, record).await
    }

    async fn update_if_exists(&self, key: &str, record: &StoreRecord) -> Result<bool> {
        self.wrote();
        for _ in 0..self.update_turns {
            tokio::task::yield_now().await;
        }
        let answer = self.inner.update_if_exists(key, record).await;
        self.counts.updated.fetch_add(1, Ordering::SeqCst);
        for _ in 0..self.update_turns {
            tokio::task::yield_now().await;
        }
        answer
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        self.wrote();
        self.inner.delete(key).await
    }

    async fn list_by_owner(&self, owner: &str) -> Result<Vec<(String, StoreRecord)>> {
        self.inner.list_by_owner(owner).await
    }

    async fn delete_by_owner(&self, owner: &str) -> Result<u64> {
        self.inner.delete_by_owner(owner).await
    }

    async fn owner_counts(&self) -> Result<Vec<(String, u64)>> {
        self.inner.owner_counts().await
    }

    async fn delete_expired(&self, now: OffsetDateTime) -> Result<u64> {
        self.inner.delete_expired(now).await
    }

    async fn count(&self) -> Result<u64> {
        self.inner.count().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn counts_single_record_writes_and_passes_everything_through() {
        let store = CountingStore::new();
        let record = StoreRecord::new(serde_json::json!({"a": 1})).with_owner("ada");
        store.save("k", &record).await.unwrap();
        assert!(!store.insert_if_absent("k", &record).await.unwrap());
        assert!(store.update_if_exists("k", &record).await.unwrap());
        assert_eq!(store.load("k").await.unwrap(), Some(record.clone()));
        assert_eq!(store.list_by_owner("ada").await.unwrap().len(), 1);
        assert_eq!(store.owner_counts().await.unwrap(), [("ada".to_owned(), 1)]);
        assert_eq!(store.count().await.unwrap(), 1);
        assert!(store.delete("k").await.unwrap());
        assert_eq!(store.delete_by_owner("ada").await.unwrap(), 0);
        assert_eq!((store.saves(), store.writes()), (1, 4));
        assert_eq!((store.loads(), store.updated()), (1, 1));
        let clone = store.clone();
        clone.save("k2", &record).await.unwrap();
        assert_eq!(
            (store.saves(), store.writes()),
            (2, 5),
            "clones share counts"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_slow_update_lets_other_tasks_run_first() {
        let store = CountingStore::new().slow_updates(5);
        let record = StoreRecord::new(serde_json::json!(1));
        store.save("k", &record).await.unwrap();
        let ran = Arc::new(AtomicU64::new(0));
        let other = tokio::spawn({
            let ran = ran.clone();
            async move {
                ran.store(1, Ordering::SeqCst);
            }
        });
        store.update_if_exists("k", &record).await.unwrap();
        assert_eq!(
            ran.load(Ordering::SeqCst),
            1,
            "the other task ran meanwhile"
        );
        other.await.unwrap();
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_slow_update_is_made_before_its_answer_comes_back() {
        let store = CountingStore::new().slow_updates(5);
        store
            .save("k", &StoreRecord::new(serde_json::json!(1)))
            .await
            .unwrap();
        let update = tokio::spawn({
            let store = store.clone();
            async move {
                let record = StoreRecord::new(serde_json::json!(2));
                store.update_if_exists("k", &record).await
            }
        });
        while store.updated() == 0 {
            tokio::task::yield_now().await;
        }
        assert!(!update.is_finished(), "the answer is still on its way");
        assert_eq!(
            store.load("k").await.unwrap().unwrap().data,
            serde_json::json!(2)
        );
        assert!(update.await.unwrap().unwrap());
    }
}
