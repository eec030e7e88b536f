//! [`SessionManager`]: creates, validates, slides, extends and ends server
//! sessions on any [`SessionStore`], enforces the per-user maximum, and
//! sweeps expired sessions in the background.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use serde_json::Value;
use session_core::{SessionStore, SharedClock, SharedSessionStore, StoreRecord};

use crate::cache::SessionCache;
use crate::config::SessionConfig;
use crate::error::{Error, Result};
use crate::id::SessionId;
use crate::session::ServerSession;
use crate::user_lock::UserLock;

/// Number of lock stripes serializing per-user creates.
const STRIPES: usize = 64;

/// Counters since the manager started, and the live count.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
#[non_exhaustive]
pub struct SessionStats {
    /// Live sessions in the store.
    pub active: u64,
    /// Sessions created.
    pub created: u64,
    /// Sessions evicted by the per-user maximum.
    pub evicted: u64,
    /// Sessions found expired when used.
    pub expired: u64,
    /// Expired sessions removed by the cleanup task.
    pub cleaned: u64,
    /// Sessions ended explicitly.
    pub invalidated: u64,
    /// Live sessions per user.
    pub per_user: std::collections::BTreeMap<String, u64>,
}

/// Server session management. Cheap to clone.
///
/// # Examples
///
/// ```
/// use session_server::{SessionConfig, SessionManager};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let manager = SessionManager::memory(SessionConfig::default())?;
/// let (id, session) = manager.create("ada", None, serde_json::json!({"role": "admin"})).await?;
/// assert_eq!(session.timeout_secs, 3600);
/// assert_eq!(manager.get(id.as_str()).await?.unwrap().user_id, "ada");
/// manager.invalidate(id.as_str()).await?;
/// assert!(manager.get(id.as_str()).await?.is_none());
/// # Ok::<(), session_server::Error>(()) }).unwrap();
/// ```
#[derive(Clone)]
pub struct SessionManager {
    inner: Arc<Inner>,
}

struct Inner {
    store: SharedSessionStore,
    config: SessionConfig,
    /// The session cookie's name as sent (`__Host-` prefixed when cookies
    /// are secure), worked out once.
    cookie_name: Option<String>,
    cache: SessionCache,
    clock: SharedClock,
    stripes: Vec<tokio::sync::Mutex<()>>,
    batches: Vec<Batch>,
    created: AtomicU64,
    evicted: AtomicU64,
    expired: AtomicU64,
    cleaned: AtomicU64,
    invalidated: AtomicU64,
    cleanup: parking_lot::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(task) = self.cleanup.lock().take() {
            task.abort();
        }
    }
}

impl SessionManager {
    /// A manager on `store`, using the system clock.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when `config` doesn't pass
    /// [`SessionConfig::validate`] (its fields are public, so a checked
    /// configuration may have been changed since).
    ///
    /// ```
    /// use session_core::{MemoryStore, SharedSessionStore};
    /// let manager = session_server::SessionManager::new(SharedSessionStore::new(MemoryStore::new()), Default::default())?;
    /// # let _ = manager;
    ///
    /// let mut config = session_server::SessionConfig::default();
    /// config.max_per_user = 0;
    /// assert!(session_server::SessionManager::new(SharedSessionStore::new(MemoryStore::new()), config).is_err());
    /// # Ok::<(), session_server::Error>(())
    /// ```
    pub fn new(store: SharedSessionStore, config: SessionConfig) -> Result<Self> {
        config.validate()?;
        Ok(Self::build(store, config, SharedClock::default()))
    }

    /// A manager on an in-memory store.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] as for [`new`](Self::new).
    ///
    /// ```
    /// let manager = session_server::SessionManager::memory(Default::default())?;
    /// # let _ = manager;
    /// # Ok::<(), session_server::Error>(())
    /// ```
    pub fn memory(config: SessionConfig) -> Result<Self> {
        Self::new(
            SharedSessionStore::new(session_core::MemoryStore::new()),
            config,
        )
    }

    /// A manager on the SQLite database at `config.db_path` (the default backend).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] as for [`new`](Self::new); [`Error::Store`] when the
    /// database can't be opened.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), session_server::Error> {
    /// let manager = session_server::SessionManager::sqlite(session_server::SessionConfig::from_env()?).await?;
    /// # let _ = manager; Ok(()) }
    /// ```
    #[cfg(feature = "sqlite")]
    pub async fn sqlite(config: SessionConfig) -> Result<Self> {
        config.validate()?;
        let store = session_store::SqliteStore::open(&config.db_path)
            .await
            .map_err(|e| Error::Store(e.into_core("open the session database")))?;
        Self::new(SharedSessionStore::new(store), config)
    }

    /// This manager, deciding expiry with `clock`. Use it while building:
    /// the returned manager starts with fresh counters and cache.
    ///
    /// ```
    /// use session_core::{MemoryStore, SharedClock, SharedSessionStore};
    /// let _ = session_server::SessionManager::new(SharedSessionStore::new(MemoryStore::new()), Default::default())?
    ///     .with_clock(SharedClock::default());
    /// # Ok::<(), session_server::Error>(())
    /// ```
    #[must_use]
    pub fn with_clock(self, clock: SharedClock) -> Self {
        Self::build(self.inner.store.clone(), self.inner.config.clone(), clock)
    }

    fn build(store: SharedSessionStore, config: SessionConfig, clock: SharedClock) -> Self {
        let cookie_name = crate::session_cookie::effective_name(&config);
        let cache = SessionCache::new(config.cache_ttl);
        Self {
            inner: Arc::new(Inner {
                store,
                config,
                cookie_name,
                cache,
                clock,
                stripes: (0..STRIPES).map(|_| tokio::sync::Mutex::new(())).collect(),
                batches: (0..STRIPES).map(|_| Batch::default()).collect(),
                created: AtomicU64::new(0),
                evicted: AtomicU64::new(0),
                expired: AtomicU64::new(0),
                cleaned: AtomicU64::new(0),
                invalidated: AtomicU64::new(0),
                cleanup: parking_lot::Mutex::new(None),
            }),
        }
    }

    /// The configuration.
    ///
    /// ```
    /// let manager = session_server::SessionManager::memory(Default::default())?;
    /// assert_eq!(manager.config().header, "X-Session-ID");
    /// # Ok::<(), session_server::Error>(())
    /// ```
    pub fn config(&self) -> &SessionConfig {
        &self.inner.config
    }

    fn stripe(&self, name: &str) -> &tokio::sync::Mutex<()> {
        &self.inner.stripes[stripe_index(name)]
    }

    fn record(&self, session: &ServerSession) -> Result<StoreRecord> {
        let data = serde_json::to_value(session).map_err(|e| {
            Error::Store(session_core::Error::store("encode the session", false, e))
        })?;
        Ok(StoreRecord::new(data)
            .with_owner(session.user_id.clone())
            .with_expires_at(session.expires_at()))
    }

    fn decode(record: StoreRecord) -> Result<ServerSession> {
        serde_json::from_value(record.data)
            .map_err(|e| Error::Store(session_core::Error::store("decode the session", false, e)))
    }

    /// Creates a session for `user_id` with `timeout` seconds (the default
    /// when `None`), evicting the user's oldest sessions beyond the maximum.
    ///
    /// # Errors
    ///
    /// [`Error::TimeoutOutOfRange`], [`Error::InvalidUserId`], [`Error::Store`].
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let manager = session_server::SessionManager::memory(Default::default())?;
    /// let (id, session) = manager.create("ada", Some(1800), serde_json::json!({"role": "admin"})).await?;
    /// assert_eq!(session.timeout_secs, 1800);
    /// # let _ = id;
    /// # Ok::<(), session_server::Error>(()) }).unwrap();
    /// ```
    pub async fn create(
        &self,
        user_id: &str,
        timeout: Option<u64>,
        metadata: Value,
    ) -> Result<(SessionId, ServerSession)> {
        let config = &self.inner.config;
        check_user_id(user_id)?;
        if holds_nul(&metadata) {
            return Err(Error::InvalidMetadata);
        }
        let timeout = timeout.unwrap_or(config.default_timeout.as_secs());
        let (min, max) = (config.min_timeout.as_secs(), config.max_timeout.as_secs());
        if timeout < min || timeout > max {
            return Err(Error::TimeoutOutOfRange {
                requested: timeout,
                min,
                max,
            });
        }
        // One create per user at a time: in this process by a lock stripe,
        // across processes by a lock record in the store.
        let _guard = self.stripe(user_id).lock().await;
        let lock = UserLock::acquire(&self.inner.store, &self.inner.clock, user_id).await?;
        let created = self.create_locked(user_id, timeout, metadata).await;
        let released = lock.release(&self.inner.store).await;
        let created = created?;
        if let Err(error) = released {
            tracing::warn!(target: "session_server", error = %error, "releasing a creation lock failed; it expires on its own");
        }
        Ok(created)
    }

    /// [`create`](Self::create) with the user's creation lock held.
    async fn create_locked(
        &self,
        user_id: &str,
        timeout: u64,
        metadata: Value,
    ) -> Result<(SessionId, ServerSession)> {
        let config = &self.inner.config;
        let now = self.inner.clock.now();
        let mut existing = self.inner.store.list_by_owner(user_id).await?;
        if existing.len() >= config.max_per_user {
            existing.sort_by_key(|(_, r)| {
                r.data
                    .get("created_at")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .unwrap_or_default()
            });
            let surplus = existing.len() + 1 - config.max_per_user;
            for (key, _) in existing.iter().take(surplus) {
                let deleted = self.inner.store.delete(key).await?;
                self.inner.cache.forget(key);
                if deleted {
                    self.inner.evicted.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        let session = ServerSession::new(
            user_id.to_owned(),
            now,
            timeout,
            now + config.absolute_timeout,
            metadata,
        );
        let id = SessionId::generate();
        if !self
            .inner
            .store
            .insert_if_absent(&id.storage_key(), &self.record(&session)?)
            .await?
        {
            // 256 random bits never collide; refuse rather than overwrite.
            return Err(Error::Store(session_core::Error::store(
                "create the session",
                true,
                std::io::Error::other("id collision"),
            )));
        }
        self.inner.created.fetch_add(1, Ordering::Relaxed);
        Ok((id, session))
    }

    /// The live session for the id `id`, if any. Malformed ids are refused
    /// before the store is asked.
    ///
    /// # Errors
    ///
    /// [`Error::MalformedId`], [`Error::Store`].
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let manager = session_server::SessionManager::memory(Default::default())?;
    /// let (id, _) = manager.create("ada", None, serde_json::json!({})).await?;
    /// assert!(manager.get(id.as_str()).await?.is_some());
    /// # Ok::<(), session_server::Error>(()) }).unwrap();
    /// ```
    pub async fn get(&self, id: &str) -> Result<Option<ServerSession>> {
        let id = SessionId::parse(id)?;
        self.get_by(&id)
            .await
            .map(|found| found.map(|(_, s)| Arc::unwrap_or_clone(s)))
    }

    async fn get_by(&self, id: &SessionId) -> Result<Option<(String, Arc<ServerSession>)>> {
        let key = id.storage_key();
        let read_at = self.inner.clock.unix_nanos();
        let session = match self.inner.cache.get(&key, read_at) {
            Some(session) => session,
            None => {
                let epoch = self.inner.cache.epoch();
                let Some(record) = self.inner.store.load(&key).await? else {
                    return Ok(None);
                };
                let session = Arc::new(Self::decode(record)?);
                self.inner
                    .cache
                    .insert(key.clone(), &session, epoch, read_at);
                session
            }
        };
        if session.is_expired(self.inner.clock.now()) {
            self.inner.expired.fetch_add(1, Ordering::Relaxed);
            return Ok(None);
        }
        Ok(Some((key, session)))
    }

    /// Records activity: the idle timeout slides from now. Writes at most once
    /// per `activity_throttle`, and never brings back a session deleted
    /// meanwhile. Returns the session as it now stands.
    ///
    /// # Errors
    ///
    /// [`Error::MalformedId`], [`Error::NotFound`], [`Error::Store`].
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let manager = session_server::SessionManager::memory(Default::default())?;
    /// let (id, _) = manager.create("ada", None, serde_json::json!({})).await?;
    /// let session = manager.touch(id.as_str()).await?;
    /// # let _ = session;
    /// # Ok::<(), session_server::Error>(()) }).unwrap();
    /// ```
    pub async fn touch(&self, id: &str) -> Result<ServerSession> {
        let id = SessionId::parse(id)?;
        let (key, session) = self.get_by(&id).await?.ok_or(Error::NotFound)?;
        self.touch_loaded(key, session)
            .await
            .map(Arc::unwrap_or_clone)
    }

    /// The live session for `id` with its storage key, for the layer, which
    /// then touches what it loaded instead of loading it twice.
    pub(crate) async fn lookup(&self, id: &str) -> Result<Option<(String, Arc<ServerSession>)>> {
        let id = SessionId::parse(id)?;
        self.get_by(&id).await
    }

    /// The session cookie's name as sent, if cookies are on.
    pub(crate) fn cookie_name(&self) -> Option<&str> {
        self.inner.cookie_name.as_deref()
    }

    /// `Set-Cookie` for `id`, if cookies are on.
    pub(crate) fn issue_cookie(
        &self,
        id: &SessionId,
        session: &ServerSession,
    ) -> Option<http::HeaderValue> {
        let name = self.cookie_name()?;
        crate::session_cookie::issue(
            &self.inner.config,
            name,
            id,
            session,
            self.inner.clock.now(),
        )
    }

    /// `Set-Cookie` that removes the session cookie, if cookies are on.
    pub(crate) fn expire_cookie(&self) -> Option<http::HeaderValue> {
        crate::session_cookie::expire(&self.inner.config, self.cookie_name()?)
    }

    /// Applies one request's value changes to the stored session `id`,
    /// through [`modify`](Self::modify): concurrent requests keep each
    /// other's keys, and those of one session that queue while a write is
    /// under way go to the store together in the next. Returns whether the
    /// session still existed.
    pub(crate) async fn write_data(
        &self,
        id: &SessionId,
        edits: &crate::handle::DataEdits,
    ) -> Result<bool> {
        let key = id.storage_key();
        let batch = &self.inner.batches[stripe_index(&key)];
        let (done, result) = tokio::sync::oneshot::channel();
        let lead = {
            let mut state = batch.state.lock();
            state.pending.push(Queued {
                key: key.clone(),
                edits: edits.clone(),
                done,
            });
            !std::mem::replace(&mut state.writing, true)
        };
        if lead {
            // Write until nothing is queued; whatever queues meanwhile
            // goes in the next write, all of one session's changes in one.
            let mut leading = Leading {
                batch,
                active: true,
            };
            loop {
                let queued = {
                    let mut state = batch.state.lock();
                    if state.pending.is_empty() {
                        state.writing = false;
                        leading.active = false;
                        break;
                    }
                    std::mem::take(&mut state.pending)
                };
                let mut sessions: Vec<(String, Vec<Queued>)> = Vec::new();
                for item in queued {
                    match sessions.iter_mut().find(|(k, _)| *k == item.key) {
                        Some((_, items)) => items.push(item),
                        None => sessions.push((item.key.clone(), vec![item])),
                    }
                }
                for (key, items) in sessions {
                    let written = self
                        .modify(&key, |session| {
                            for item in &items {
                                item.edits.apply(&mut session.data);
                            }
                        })
                        .await
                        .map(|s| s.is_some());
                    for item in items {
                        let _ = item.done.send(share(&written));
                    }
                }
            }
        }
        match result.await {
            Ok(written) => written,
            // The writer that took our changes was cancelled midway: write
            // them ourselves (applying them twice changes nothing).
            Err(_) => self
                .modify(&key, |session| edits.apply(&mut session.data))
                .await
                .map(|s| s.is_some()),
        }
    }

    /// Whether a request now would move the session's last activity (the
    /// activity throttle has passed).
    pub(crate) fn due_for_touch(&self, session: &ServerSession) -> bool {
        self.inner.clock.now() - session.last_activity >= self.inner.config.activity_throttle
    }

    /// [`touch`](Self::touch) for a session just loaded from `key`.
    pub(crate) async fn touch_loaded(
        &self,
        key: String,
        session: Arc<ServerSession>,
    ) -> Result<Arc<ServerSession>> {
        if !self.due_for_touch(&session) {
            return Ok(session);
        }
        let now = self.inner.clock.now();
        self.modify(&key, |s| s.last_activity = now)
            .await?
            .map(Arc::new)
            .ok_or(Error::NotFound)
    }

    /// The live session stored under `key`, read from the store itself
    /// (never the cache), for a change about to be written back.
    async fn load_fresh(&self, key: &str) -> Result<Option<ServerSession>> {
        let Some(record) = self.inner.store.load(key).await? else {
            self.inner.cache.forget(key);
            return Ok(None);
        };
        let session = Self::decode(record)?;
        Ok((!session.is_expired(self.inner.clock.now())).then_some(session))
    }

    /// The one way a stored session changes in place: under this process's
    /// lock for it, re-read from the store (never the cache, so no change
    /// made meanwhile is undone), changed by `change`, written back if it
    /// still exists — and then cached as written, so the next request reads
    /// it without asking the store. `None` when it is gone or expired.
    async fn modify(
        &self,
        key: &str,
        change: impl FnOnce(&mut ServerSession),
    ) -> Result<Option<ServerSession>> {
        let _guard = self.stripe(key).lock().await;
        let Some(mut session) = self.load_fresh(key).await? else {
            return Ok(None);
        };
        change(&mut session);
        let record = self.record(&session)?;
        // Taken before the write: an invalidation from here on keeps what
        // is written out of the cache.
        let epoch = self.inner.cache.epoch();
        match self.inner.store.update_if_exists(key, &record).await {
            Ok(true) => {
                let now = self.inner.clock.unix_nanos();
                self.inner.cache.replace(key, &session, epoch, now);
                Ok(Some(session))
            }
            Ok(false) => {
                self.inner.cache.forget(key);
                Ok(None)
            }
            Err(error) => {
                self.inner.cache.forget(key);
                Err(error.into())
            }
        }
    }

    /// Extends the idle timeout by `seconds`, up to the maximum timeout, and
    /// slides from now; never past the absolute lifetime.
    ///
    /// # Errors
    ///
    /// [`Error::MalformedId`], [`Error::NotFound`], [`Error::Store`].
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let manager = session_server::SessionManager::memory(Default::default())?;
    /// let (id, _) = manager.create("ada", Some(600), serde_json::json!({})).await?;
    /// assert_eq!(manager.extend(id.as_str(), 1800).await?.timeout_secs, 2400);
    /// # Ok::<(), session_server::Error>(()) }).unwrap();
    /// ```
    pub async fn extend(&self, id: &str, seconds: u64) -> Result<ServerSession> {
        let id = SessionId::parse(id)?;
        let max = self.inner.config.max_timeout.as_secs();
        let now = self.inner.clock.now();
        self.modify(&id.storage_key(), |session| {
            session.timeout_secs = session.timeout_secs.saturating_add(seconds).min(max);
            session.last_activity = now;
        })
        .await?
        .ok_or(Error::NotFound)
    }

    /// Replaces the id of a session (after a privilege change), keeping its
    /// data; the old id stops working.
    ///
    /// # Errors
    ///
    /// [`Error::MalformedId`], [`Error::NotFound`], [`Error::Store`].
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let manager = session_server::SessionManager::memory(Default::default())?;
    /// let (old, _) = manager.create("ada", None, serde_json::json!({"role": "user"})).await?;
    /// let (new, _) = manager.rotate(old.as_str(), Some(serde_json::json!({"role": "admin"}))).await?;
    /// assert!(manager.get(old.as_str()).await?.is_none());
    /// # let _ = new;
    /// # Ok::<(), session_server::Error>(()) }).unwrap();
    /// ```
    pub async fn rotate(
        &self,
        id: &str,
        metadata: Option<Value>,
    ) -> Result<(SessionId, ServerSession)> {
        let old = SessionId::parse(id)?;
        if metadata.as_ref().is_some_and(holds_nul) {
            return Err(Error::InvalidMetadata);
        }
        let key = old.storage_key();
        let _guard = self.stripe(&key).lock().await;
        let mut session = self.load_fresh(&key).await?.ok_or(Error::NotFound)?;
        if let Some(metadata) = metadata {
            session.metadata = metadata;
        }
        let new = SessionId::generate();
        self.inner
            .store
            .insert_if_absent(&new.storage_key(), &self.record(&session)?)
            .await?;
        let deleted = self.inner.store.delete(&key).await;
        self.inner.cache.forget(&key);
        deleted?;
        Ok((new, session))
    }

    /// Ends one session. Returns whether it was live.
    ///
    /// # Errors
    ///
    /// [`Error::MalformedId`], [`Error::Store`].
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let manager = session_server::SessionManager::memory(Default::default())?;
    /// let (id, _) = manager.create("ada", None, serde_json::json!({})).await?;
    /// assert!(manager.invalidate(id.as_str()).await?);
    /// # Ok::<(), session_server::Error>(()) }).unwrap();
    /// ```
    pub async fn invalidate(&self, id: &str) -> Result<bool> {
        let id = SessionId::parse(id)?;
        let key = id.storage_key();
        let done = self.inner.store.delete(&key).await;
        self.inner.cache.forget(&key);
        let done = done?;
        if done {
            self.inner.invalidated.fetch_add(1, Ordering::Relaxed);
        }
        Ok(done)
    }

    /// Ends every session of `user_id`. Returns how many were live.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let manager = session_server::SessionManager::memory(Default::default())?;
    /// manager.create("ada", None, serde_json::json!({})).await?;
    /// assert_eq!(manager.invalidate_user("ada").await?, 1);
    /// # Ok::<(), session_server::Error>(()) }).unwrap();
    /// ```
    pub async fn invalidate_user(&self, user_id: &str) -> Result<u64> {
        check_user_id(user_id)?;
        let n = self.inner.store.delete_by_owner(user_id).await;
        self.inner.cache.forget_user(user_id);
        let n = n?;
        self.inner.invalidated.fetch_add(n, Ordering::Relaxed);
        Ok(n)
    }

    /// The live sessions of `user_id`, oldest first (without their ids).
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let manager = session_server::SessionManager::memory(Default::default())?;
    /// manager.create("ada", None, serde_json::json!({})).await?;
    /// assert_eq!(manager.list_user("ada").await?.len(), 1);
    /// # Ok::<(), session_server::Error>(()) }).unwrap();
    /// ```
    pub async fn list_user(&self, user_id: &str) -> Result<Vec<ServerSession>> {
        check_user_id(user_id)?;
        let now = self.inner.clock.now();
        let mut sessions: Vec<ServerSession> = self
            .inner
            .store
            .list_by_owner(user_id)
            .await?
            .into_iter()
            .filter_map(|(_, r)| Self::decode(r).ok())
            .filter(|s| !s.is_expired(now))
            .collect();
        sessions.sort_by_key(|s| s.created_at);
        Ok(sessions)
    }

    /// Counters and the live count.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let manager = session_server::SessionManager::memory(Default::default())?;
    /// manager.create("ada", None, serde_json::json!({})).await?;
    /// assert_eq!(manager.stats().await?.active, 1);
    /// # Ok::<(), session_server::Error>(()) }).unwrap();
    /// ```
    pub async fn stats(&self) -> Result<SessionStats> {
        Ok(SessionStats {
            active: self.inner.store.count().await?,
            created: self.inner.created.load(Ordering::Relaxed),
            evicted: self.inner.evicted.load(Ordering::Relaxed),
            expired: self.inner.expired.load(Ordering::Relaxed),
            cleaned: self.inner.cleaned.load(Ordering::Relaxed),
            invalidated: self.inner.invalidated.load(Ordering::Relaxed),
            per_user: self.inner.store.owner_counts().await?.into_iter().collect(),
        })
    }

    /// Removes expired sessions now. Returns how many.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let manager = session_server::SessionManager::memory(Default::default())?;
    /// assert_eq!(manager.cleanup().await?, 0);
    /// # Ok::<(), session_server::Error>(()) }).unwrap();
    /// ```
    pub async fn cleanup(&self) -> Result<u64> {
        let n = self
            .inner
            .store
            .delete_expired(self.inner.clock.now())
            .await?;
        self.inner.cleaned.fetch_add(n, Ordering::Relaxed);
        Ok(n)
    }

    /// Starts the background cleanup every `cleanup_interval` (once; later
    /// calls do nothing). It stops when the last handle to the manager is
    /// dropped.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let manager = session_server::SessionManager::memory(Default::default())?;
    /// manager.start_cleanup();
    /// # Ok::<(), session_server::Error>(()) }).unwrap();
    /// ```
    pub fn start_cleanup(&self) {
        let mut slot = self.inner.cleanup.lock();
        if slot.is_some() {
            return;
        }
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        let interval: Duration = self.inner.config.cleanup_interval;
        *slot = Some(tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                let Some(inner) = weak.upgrade() else { return };
                let manager = SessionManager { inner };
                if let Err(error) = manager.cleanup().await {
                    tracing::warn!(target: "session_server", error = %error, "session cleanup failed");
                }
            }
        }));
    }
}

impl fmt::Debug for SessionManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionManager")
            .field("store", &self.inner.store)
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// Which of the [`STRIPES`] a user id or storage key falls in.
fn stripe_index(name: &str) -> usize {
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    (hash % STRIPES as u64) as usize
}

/// Value changes waiting to be written, per lock stripe. The request that
/// finds no write under way becomes the writer and writes everything
/// queued, a session's changes in one read-modify-write, until the queue is
/// empty; the others only wait for their answer. A hot session's
/// concurrent requests share writes instead of queueing one store round
/// trip each.
#[derive(Default)]
struct Batch {
    state: parking_lot::Mutex<BatchState>,
}

#[derive(Default)]
struct BatchState {
    pending: Vec<Queued>,
    /// A request is writing this stripe's queue.
    writing: bool,
}

/// While alive, its batch has a writer; dropped early (the writer's future
/// was cancelled), it lets the next request lead and drops the queue, whose
/// waiters then write their own changes.
struct Leading<'a> {
    batch: &'a Batch,
    /// Still writing (false once the queue was found empty and handed back).
    active: bool,
}

impl Drop for Leading<'_> {
    fn drop(&mut self) {
        if self.active {
            let mut state = self.batch.state.lock();
            state.writing = false;
            state.pending.clear();
        }
    }
}

/// One request's changes and where to say how its write went.
struct Queued {
    key: String,
    edits: crate::handle::DataEdits,
    done: tokio::sync::oneshot::Sender<Result<bool>>,
}

/// `result` again, for another waiter of the same write (errors aren't
/// `Clone`: the copy keeps the kind and whether a retry may help).
fn share(result: &Result<bool>) -> Result<bool> {
    match result {
        Ok(written) => Ok(*written),
        Err(error) => Err(Error::Store(session_core::Error::store(
            "save the session's values",
            error.is_retryable(),
            std::io::Error::other("the shared write failed"),
        ))),
    }
}

/// The one check of a user id, for every operation that takes one: 1 to
/// 256 bytes, no control characters (a NUL, which some stores refuse and
/// others keep, included). Every backend answers bad input the same way.
fn check_user_id(user_id: &str) -> Result<()> {
    if user_id.is_empty() || user_id.len() > 256 || user_id.chars().any(char::is_control) {
        return Err(Error::InvalidUserId);
    }
    Ok(())
}

/// Whether a NUL hides anywhere in `value`'s keys or strings.
pub(crate) fn holds_nul(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(s) => s.contains('\0'),
        serde_json::Value::Array(items) => items.iter().any(holds_nul),
        serde_json::Value::Object(map) => map
            .iter()
            .any(|(key, value)| key.contains('\0') || holds_nul(value)),
        _ => false,
    }
}
