//! [`SessionStore`]: the one persistence trait shared by client and server
//! sessions, its [`StoreRecord`], and the [`SharedSessionStore`] handle.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;
use time::OffsetDateTime;

use crate::error::Result;

/// One stored session: a JSON document with an optional expiry and owner.
///
/// `Debug` never shows the data (it holds tokens).
///
/// ```
/// use serde_json::json;
/// use session_core::StoreRecord;
///
/// let t = time::macros::datetime!(2030-01-01 12:00 UTC);
/// let record = StoreRecord::new(json!({"token": "SECRET"}))
///     .with_owner("user-1")
///     .with_expires_at(t);
/// assert!(record.is_expired(t));
/// assert!(!format!("{record:?}").contains("SECRET"));
/// ```
#[derive(Clone, PartialEq)]
pub struct StoreRecord {
    /// The stored document.
    pub data: Value,
    /// When the record stops existing, if ever.
    pub expires_at: Option<OffsetDateTime>,
    /// Whom the record belongs to (a user id), for per-owner listing.
    pub owner: Option<String>,
}

impl StoreRecord {
    /// A record with no expiry and no owner.
    ///
    /// ```
    /// let r = session_core::StoreRecord::new(serde_json::json!(1));
    /// assert!(r.owner.is_none() && r.expires_at.is_none());
    /// ```
    pub fn new(data: Value) -> Self {
        Self {
            data,
            expires_at: None,
            owner: None,
        }
    }

    /// Sets the owner.
    ///
    /// ```
    /// let r = session_core::StoreRecord::new(serde_json::json!(1)).with_owner("u");
    /// assert_eq!(r.owner.as_deref(), Some("u"));
    /// ```
    #[must_use]
    pub fn with_owner(mut self, owner: impl Into<String>) -> Self {
        self.owner = Some(owner.into());
        self
    }

    /// Sets the expiry.
    ///
    /// ```
    /// let t = time::macros::datetime!(2030-01-01 12:00 UTC);
    /// let r = session_core::StoreRecord::new(serde_json::json!(1)).with_expires_at(t);
    /// assert_eq!(r.expires_at, Some(t));
    /// ```
    #[must_use]
    pub fn with_expires_at(mut self, expires_at: OffsetDateTime) -> Self {
        self.expires_at = Some(expires_at);
        self
    }

    /// Whether the record no longer exists at `now` (`now >= expires_at`).
    ///
    /// ```
    /// let t = time::macros::datetime!(2030-01-01 12:00 UTC);
    /// assert!(!session_core::StoreRecord::new(serde_json::json!(1)).is_expired(t));
    /// ```
    pub fn is_expired(&self, now: OffsetDateTime) -> bool {
        self.expires_at.is_some_and(|at| now >= at)
    }
}

impl fmt::Debug for StoreRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreRecord")
            .field("data", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .field("owner", &self.owner)
            .finish()
    }
}

/// Persists session records by string key.
///
/// # Contract
///
/// Every backend keeps these rules (the conformance suite in
/// `session_core::conformance`, feature `test-util`, checks them):
///
/// - An expired record (`now >= expires_at`, by the store's clock) is never
///   returned, listed, counted or updated, even before it is swept.
/// - [`save`](Self::save) creates or replaces. [`update_if_exists`](Self::update_if_exists)
///   replaces only a live record, atomically: a record deleted concurrently
///   stays deleted. [`insert_if_absent`](Self::insert_if_absent) creates only
///   where no live record is, atomically.
/// - Owners index records: [`list_by_owner`](Self::list_by_owner) and
///   [`delete_by_owner`](Self::delete_by_owner) see exactly the live records
///   saved with that owner; re-saving under another owner moves the record.
///
/// # Examples
///
/// ```
/// use serde_json::json;
/// use session_core::{MemoryStore, SessionStore, StoreRecord};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = MemoryStore::new();
/// store.save("s1", &StoreRecord::new(json!({"n": 1})).with_owner("ada")).await?;
/// assert_eq!(store.list_by_owner("ada").await?.len(), 1);
/// assert!(store.delete("s1").await?);
/// // A late update cannot bring it back.
/// assert!(!store.update_if_exists("s1", &StoreRecord::new(json!({"n": 2}))).await?);
/// assert!(store.load("s1").await?.is_none());
/// # Ok::<(), session_core::Error>(())
/// # }).unwrap();
/// ```
#[async_trait]
pub trait SessionStore: Send + Sync + fmt::Debug {
    /// The live record under `key`, if any.
    ///
    /// # Errors
    ///
    /// [`Error::Store`](crate::Error::Store) when the backend fails.
    async fn load(&self, key: &str) -> Result<Option<StoreRecord>>;

    /// Creates or replaces the record under `key`.
    ///
    /// # Errors
    ///
    /// [`Error::Store`](crate::Error::Store) when the backend fails.
    async fn save(&self, key: &str, record: &StoreRecord) -> Result<()>;

    /// Creates the record under `key` only if no live one exists (an expired
    /// one is replaced). Returns whether it did. Atomic: of many concurrent
    /// calls for one key, exactly one succeeds — the building block for
    /// leases and unique ids.
    ///
    /// # Errors
    ///
    /// [`Error::Store`](crate::Error::Store) when the backend fails.
    async fn insert_if_absent(&self, key: &str, record: &StoreRecord) -> Result<bool>;

    /// Replaces the record under `key` only if a live one exists. Returns
    /// whether it did.
    ///
    /// # Errors
    ///
    /// [`Error::Store`](crate::Error::Store) when the backend fails.
    async fn update_if_exists(&self, key: &str, record: &StoreRecord) -> Result<bool>;

    /// Deletes the record under `key`. Returns whether a live one existed.
    ///
    /// # Errors
    ///
    /// [`Error::Store`](crate::Error::Store) when the backend fails.
    async fn delete(&self, key: &str) -> Result<bool>;

    /// Every live record of `owner`, with its key.
    ///
    /// # Errors
    ///
    /// [`Error::Store`](crate::Error::Store) when the backend fails.
    async fn list_by_owner(&self, owner: &str) -> Result<Vec<(String, StoreRecord)>>;

    /// Deletes every record of `owner`. Returns how many live ones there were.
    ///
    /// # Errors
    ///
    /// [`Error::Store`](crate::Error::Store) when the backend fails.
    async fn delete_by_owner(&self, owner: &str) -> Result<u64>;

    /// How many live records each owner has (owners with none are left out).
    ///
    /// # Errors
    ///
    /// [`Error::Store`](crate::Error::Store) when the backend fails.
    async fn owner_counts(&self) -> Result<Vec<(String, u64)>>;

    /// Deletes every record expired at `now`. Returns how many.
    ///
    /// # Errors
    ///
    /// [`Error::Store`](crate::Error::Store) when the backend fails.
    async fn delete_expired(&self, now: OffsetDateTime) -> Result<u64>;

    /// How many live records the store holds.
    ///
    /// # Errors
    ///
    /// [`Error::Store`](crate::Error::Store) when the backend fails.
    async fn count(&self) -> Result<u64>;
}

/// A cheaply cloneable, shareable [`SessionStore`].
///
/// ```
/// use session_core::{MemoryStore, SharedSessionStore};
/// let store = SharedSessionStore::new(MemoryStore::new());
/// let _clone = store.clone();
/// ```
#[derive(Clone)]
pub struct SharedSessionStore(Arc<dyn SessionStore>);

impl SharedSessionStore {
    /// Wraps a store.
    ///
    /// ```
    /// let _ = session_core::SharedSessionStore::new(session_core::MemoryStore::new());
    /// ```
    pub fn new(store: impl SessionStore + 'static) -> Self {
        Self(Arc::new(store))
    }

    /// Wraps an already shared store.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use session_core::{MemoryStore, SessionStore, SharedSessionStore};
    /// let arc: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
    /// let _ = SharedSessionStore::from_arc(arc);
    /// ```
    pub fn from_arc(store: Arc<dyn SessionStore>) -> Self {
        Self(store)
    }

    /// Whether `other` is a handle to this same store.
    ///
    /// ```
    /// use session_core::{MemoryStore, SharedSessionStore};
    /// let store = SharedSessionStore::new(MemoryStore::new());
    /// assert!(store.same_store(&store.clone()));
    /// assert!(!store.same_store(&SharedSessionStore::new(MemoryStore::new())));
    /// ```
    pub fn same_store(&self, other: &Self) -> bool {
        std::ptr::addr_eq(Arc::as_ptr(&self.0), Arc::as_ptr(&other.0))
    }
}

impl fmt::Debug for SharedSessionStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SharedSessionStore").field(&self.0).finish()
    }
}

#[async_trait]
impl SessionStore for SharedSessionStore {
    async fn load(&self, key: &str) -> Result<Option<StoreRecord>> {
        self.0.load(key).await
    }
    async fn save(&self, key: &str, record: &StoreRecord) -> Result<()> {
        self.0.save(key, record).await
    }
    async fn insert_if_absent(&self, key: &str, record: &StoreRecord) -> Result<bool> {
        self.0.insert_if_absent(key, record).await
    }
    async fn update_if_exists(&self, key: &str, record: &StoreRecord) -> Result<bool> {
        self.0.update_if_exists(key, record).await
    }
    async fn delete(&self, key: &str) -> Result<bool> {
        self.0.delete(key).await
    }
    async fn list_by_owner(&self, owner: &str) -> Result<Vec<(String, StoreRecord)>> {
        self.0.list_by_owner(owner).await
    }
    async fn delete_by_owner(&self, owner: &str) -> Result<u64> {
        self.0.delete_by_owner(owner).await
    }
    async fn owner_counts(&self) -> Result<Vec<(String, u64)>> {
        self.0.owner_counts().await
    }
    async fn delete_expired(&self, now: OffsetDateTime) -> Result<u64> {
        self.0.delete_expired(now).await
    }
    async fn count(&self) -> Result<u64> {
        self.0.count().await
    }
}
