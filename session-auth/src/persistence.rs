//! [`Persistence`]: where a session's data (tokens, cookies, metadata) is
//! saved, with read-modify-write updates serialized per session.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use session_core::{SessionData, SessionStore, SharedClock, SharedSessionStore, StoreRecord};

/// Makes lease tokens unique within the process.
static LEASES: AtomicU64 = AtomicU64::new(0);

/// A session's place in a [`SessionStore`]: a store and a key.
///
/// The session and its token manager share one `Persistence`, so their
/// updates (tokens from one, cookies and metadata from the other) are applied
/// one at a time to the stored [`SessionData`] and never overwrite each other.
///
/// ```
/// use session_auth::Persistence;
/// use session_core::{MemoryStore, SharedSessionStore};
///
/// let persistence = Persistence::new(SharedSessionStore::new(MemoryStore::new()), "default");
/// assert_eq!(persistence.key(), "default");
/// ```
#[derive(Clone)]
pub struct Persistence {
    inner: Arc<Inner>,
}

struct Inner {
    store: SharedSessionStore,
    key: String,
    lock: tokio::sync::Mutex<()>,
    clock: SharedClock,
}

impl Persistence {
    /// Session data under `key` in `store`.
    ///
    /// ```
    /// # use session_core::*;
    /// let p = session_auth::Persistence::new(SharedSessionStore::new(MemoryStore::new()), "k");
    /// # let _ = p;
    /// ```
    pub fn new(store: SharedSessionStore, key: impl Into<String>) -> Self {
        Self::with_clock(store, key, SharedClock::default())
    }

    /// Like [`new`](Self::new), stamping times with `clock`.
    ///
    /// ```
    /// # use session_core::*;
    /// let p = session_auth::Persistence::with_clock(SharedSessionStore::new(MemoryStore::new()), "k", SharedClock::default());
    /// # let _ = p;
    /// ```
    pub fn with_clock(
        store: SharedSessionStore,
        key: impl Into<String>,
        clock: SharedClock,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                key: key.into(),
                lock: tokio::sync::Mutex::new(()),
                clock,
            }),
        }
    }

    /// The key the session is stored under.
    ///
    /// ```
    /// # use session_core::*;
    /// let p = session_auth::Persistence::new(SharedSessionStore::new(MemoryStore::new()), "k");
    /// assert_eq!(p.key(), "k");
    /// ```
    pub fn key(&self) -> &str {
        &self.inner.key
    }

    /// The stored session data, if any.
    ///
    /// # Errors
    ///
    /// The store's error, or a decoding error for data that is not a session.
    ///
    /// ```
    /// # use session_core::*;
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let p = session_auth::Persistence::new(SharedSessionStore::new(MemoryStore::new()), "k");
    /// assert!(p.load().await?.is_none());
    /// # Ok::<(), session_core::Error>(()) }).unwrap();
    /// ```
    pub async fn load(&self) -> session_core::Result<Option<SessionData>> {
        match self.inner.store.load(&self.inner.key).await? {
            Some(record) => SessionData::from_value(record.data).map(Some),
            None => Ok(None),
        }
    }

    /// Loads the stored data (or starts new data), applies `change`, and saves
    /// it — one update at a time.
    ///
    /// # Errors
    ///
    /// The store's error, or a decoding error for stored data that is not a
    /// session (which is then left as it is).
    ///
    /// ```
    /// # use session_core::*;
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let p = session_auth::Persistence::new(SharedSessionStore::new(MemoryStore::new()), "k");
    /// p.update(|data| data.user_info = Some(serde_json::json!({"name": "Ada"}))).await?;
    /// assert_eq!(p.load().await?.unwrap().user_info.unwrap()["name"], "Ada");
    /// # Ok::<(), session_core::Error>(()) }).unwrap();
    /// ```
    pub async fn update(&self, change: impl FnOnce(&mut SessionData)) -> session_core::Result<()> {
        let _guard = self.inner.lock.lock().await;
        let mut data = match self.load().await? {
            Some(data) => data,
            None => SessionData::new(self.inner.clock.now()),
        };
        change(&mut data);
        let record = StoreRecord::new(data.to_value()?);
        self.inner.store.save(&self.inner.key, &record).await
    }

    /// Deletes the stored data.
    ///
    /// # Errors
    ///
    /// The store's error.
    ///
    /// ```
    /// # use session_core::*;
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let p = session_auth::Persistence::new(SharedSessionStore::new(MemoryStore::new()), "k");
    /// p.delete().await?;
    /// # Ok::<(), session_core::Error>(()) }).unwrap();
    /// ```
    pub async fn delete(&self) -> session_core::Result<()> {
        let _guard = self.inner.lock.lock().await;
        self.inner.store.delete(&self.inner.key).await.map(|_| ())
    }
}

/// A held lease on a stored session: while it is held, no other process
/// sharing the store refreshes that session's tokens.
pub(crate) struct Lease {
    persistence: Persistence,
    key: String,
    token: String,
}

impl Persistence {
    /// Takes the session's refresh lease: a record under `<key>.refresh-lease`
    /// created only where none lives, expiring after `ttl` so a crashed holder
    /// can't block others for long. Waits (backing off up to 200 ms) for at
    /// most `patience`.
    pub(crate) async fn lease(
        &self,
        ttl: Duration,
        patience: Duration,
    ) -> session_core::Result<Lease> {
        let key = format!("{}.refresh-lease", self.inner.key);
        let token = format!(
            "{}-{}-{}",
            std::process::id(),
            LEASES.fetch_add(1, Ordering::Relaxed),
            self.inner.clock.now().unix_timestamp_nanos()
        );
        let started = tokio::time::Instant::now();
        let mut backoff = Duration::from_millis(5);
        loop {
            let record = StoreRecord::new(serde_json::json!({ "lease": token }))
                .with_expires_at(self.inner.clock.now() + ttl);
            if self.inner.store.insert_if_absent(&key, &record).await? {
                return Ok(Lease {
                    persistence: self.clone(),
                    key,
                    token,
                });
            }
            if started.elapsed() >= patience {
                return Err(session_core::Error::store(
                    "take the refresh lease",
                    true,
                    std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "another process holds the refresh lease",
                    ),
                ));
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_millis(200));
        }
    }
}

impl Lease {
    /// Gives the lease back (only if it is still ours).
    pub(crate) async fn release(self) -> session_core::Result<()> {
        let store = &self.persistence.inner.store;
        if let Some(record) = store.load(&self.key).await?
            && record.data["lease"] == self.token.as_str()
        {
            store.delete(&self.key).await?;
        }
        Ok(())
    }
}

impl fmt::Debug for Persistence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Persistence")
            .field("store", &self.inner.store)
            .field("key", &self.inner.key)
            .finish()
    }
}
