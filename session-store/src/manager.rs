//! [`SessionManager`]: one client session kept in memory and persisted to any
//! [`SessionStore`], with coalesced auto-save.
//!
//! # Auto-save
//!
//! With auto-save on, the first change is written at once; changes in the
//! next `save_interval` (default 1 s) are written together at its end, so a
//! storm of token updates costs one write per interval. `close()` writes what
//! is pending; dropping the last handle does too, on the running tokio runtime.
//! With auto-save off, nothing is written until [`save`](SessionManager::save).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::Mutex;
use serde_json::Value;
use session_core::time::OffsetDateTime;
use session_core::url::Url;
use session_core::{
    AccessToken, CookieJar, ExpiryPolicy, RefreshToken, SessionData, SessionStore, SharedClock,
    SharedSessionStore, StoreRecord, TokenSet,
};

/// What a login endpoint returned, ready to become a session.
///
/// ```
/// let login = session_store::LoginResult::new(session_core::TokenSet::new("at"));
/// assert!(login.user_info.is_none());
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LoginResult {
    /// The tokens.
    pub tokens: TokenSet,
    /// What the API said about the user.
    pub user_info: Option<Value>,
}

impl LoginResult {
    /// A login result with tokens only.
    ///
    /// ```
    /// let _ = session_store::LoginResult::new(session_core::TokenSet::new("at"));
    /// ```
    pub fn new(tokens: TokenSet) -> Self {
        Self {
            tokens,
            user_info: None,
        }
    }

    /// Adds user info.
    ///
    /// ```
    /// let l = session_store::LoginResult::new(session_core::TokenSet::new("at"))
    ///     .with_user_info(serde_json::json!({"name": "Ada"}));
    /// assert!(l.user_info.is_some());
    /// ```
    #[must_use]
    pub fn with_user_info(mut self, info: Value) -> Self {
        self.user_info = Some(info);
        self
    }
}

/// One client session in memory, persisted under a key.
///
/// Cheap to clone; clones share the session.
///
/// # Examples
///
/// ```
/// use session_core::{MemoryStore, SharedSessionStore, TokenSet};
/// use session_store::SessionManager;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let store = SharedSessionStore::new(MemoryStore::new());
/// let manager = SessionManager::builder(store.clone(), "trading").open().await?;
/// manager.create_session(TokenSet::new("at").with_refresh_token("rt"), None, None);
/// manager.close().await?;
///
/// // Next run: loaded on creation.
/// let again = SessionManager::builder(store, "trading").open().await?;
/// assert!(again.is_valid());
/// assert_eq!(again.access_token().unwrap().expose_secret(), "at");
/// # Ok::<(), session_core::Error>(()) }).unwrap();
/// ```
#[derive(Clone)]
pub struct SessionManager {
    inner: Arc<Inner>,
}

struct Inner {
    store: SharedSessionStore,
    key: String,
    auto_save: bool,
    interval: Duration,
    clock: SharedClock,
    policy: ExpiryPolicy,
    state: Mutex<Option<SessionData>>,
    dirty: AtomicBool,
    flushing: AtomicBool,
    writes: AtomicU64,
    write_lock: tokio::sync::Mutex<()>,
}

impl Inner {
    fn record(&self) -> session_core::Result<Option<StoreRecord>> {
        match self.state.lock().as_ref() {
            Some(data) => Ok(Some(StoreRecord::new(data.to_value()?))),
            None => Ok(None),
        }
    }

    /// Writes the current state if it changed since the last write.
    async fn flush(&self) -> session_core::Result<()> {
        let _guard = self.write_lock.lock().await;
        if !self.dirty.swap(false, Ordering::AcqRel) {
            return Ok(());
        }
        let result = match self.record() {
            Ok(Some(record)) => self.store.save(&self.key, &record).await,
            Ok(None) => self.store.delete(&self.key).await.map(|_| ()),
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => {
                self.writes.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                self.dirty.store(true, Ordering::Release);
                Err(e)
            }
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if !self.dirty.load(Ordering::Acquire) {
            return;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(target: "session_store", key = %self.key, "session dropped outside a runtime with unsaved changes");
            return;
        };
        let store = self.store.clone();
        let key = self.key.clone();
        let record = self.record();
        handle.spawn(async move {
            let result = match record {
                Ok(Some(record)) => store.save(&key, &record).await,
                Ok(None) => store.delete(&key).await.map(|_| ()),
                Err(e) => Err(e),
            };
            if let Err(error) = result {
                tracing::warn!(target: "session_store", key = %key, error = %error, "final save failed");
            }
        });
    }
}

impl SessionManager {
    /// Starts a builder for the session under `key` in `store`.
    ///
    /// ```
    /// use session_core::{MemoryStore, SharedSessionStore};
    /// let _ = session_store::SessionManager::builder(SharedSessionStore::new(MemoryStore::new()), "k");
    /// ```
    pub fn builder(store: SharedSessionStore, key: impl Into<String>) -> SessionManagerBuilder {
        SessionManagerBuilder {
            store,
            key: key.into(),
            auto_save: true,
            interval: Duration::from_secs(1),
            clock: SharedClock::default(),
            policy: ExpiryPolicy::default(),
        }
    }

    /// The key the session is stored under.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let store = session_core::SharedSessionStore::new(session_core::MemoryStore::new());
    /// let m = session_store::SessionManager::builder(store, "k").open().await?;
    /// assert_eq!(m.key(), "k");
    /// # Ok::<(), session_core::Error>(()) }).unwrap();
    /// ```
    pub fn key(&self) -> &str {
        &self.inner.key
    }

    fn changed(&self) {
        self.inner.dirty.store(true, Ordering::Release);
        if !self.inner.auto_save || self.inner.flushing.swap(true, Ordering::AcqRel) {
            return;
        }
        let inner = self.inner.clone();
        tokio::spawn(async move {
            loop {
                if let Err(error) = inner.flush().await {
                    tracing::warn!(target: "session_store", key = %inner.key, error = %error, "auto-save failed");
                }
                tokio::time::sleep(inner.interval).await;
                if inner.dirty.load(Ordering::Acquire) {
                    continue;
                }
                inner.flushing.store(false, Ordering::Release);
                // A change that arrived after the check starts no flusher of
                // its own: take it on unless someone else already did.
                if !inner.dirty.load(Ordering::Acquire)
                    || inner.flushing.swap(true, Ordering::AcqRel)
                {
                    break;
                }
            }
        });
    }

    fn update(&self, f: impl FnOnce(&mut SessionData)) {
        {
            let mut state = self.inner.state.lock();
            let data = state.get_or_insert_with(|| SessionData::new(self.inner.clock.now()));
            f(data);
        }
        self.changed();
    }

    /// Starts a new session with these tokens, user info and cookies,
    /// replacing any current one.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let store = session_core::SharedSessionStore::new(session_core::MemoryStore::new());
    /// let m = session_store::SessionManager::builder(store, "k").open().await?;
    /// m.create_session(session_core::TokenSet::new("at"), Some(serde_json::json!({"id": 7})), None);
    /// assert_eq!(m.session().unwrap().user_info.unwrap()["id"], 7);
    /// # Ok::<(), session_core::Error>(()) }).unwrap();
    /// ```
    pub fn create_session(
        &self,
        tokens: TokenSet,
        user_info: Option<Value>,
        cookies: Option<CookieJar>,
    ) {
        let mut data = SessionData::with_tokens(tokens, self.inner.clock.now());
        data.user_info = user_info;
        if let Some(cookies) = cookies {
            data.cookies = cookies;
        }
        *self.inner.state.lock() = Some(data);
        self.changed();
    }

    /// Starts a new session from a login result.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let store = session_core::SharedSessionStore::new(session_core::MemoryStore::new());
    /// let m = session_store::SessionManager::builder(store, "k").open().await?;
    /// m.create_session_from_login(session_store::LoginResult::new(session_core::TokenSet::new("at")), None);
    /// assert!(m.is_valid());
    /// # Ok::<(), session_core::Error>(()) }).unwrap();
    /// ```
    pub fn create_session_from_login(&self, login: LoginResult, cookies: Option<CookieJar>) {
        self.create_session(login.tokens, login.user_info, cookies);
    }

    /// Whether there is a session whose tokens are not expired.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let store = session_core::SharedSessionStore::new(session_core::MemoryStore::new());
    /// let m = session_store::SessionManager::builder(store, "k").open().await?;
    /// assert!(!m.is_valid());
    /// # Ok::<(), session_core::Error>(()) }).unwrap();
    /// ```
    pub fn is_valid(&self) -> bool {
        let now = self.inner.clock.now();
        self.inner
            .state
            .lock()
            .as_ref()
            .is_some_and(|d| d.is_valid(now, &self.inner.policy))
    }

    /// Whether the tokens (or a named credential) are due for a refresh.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let store = session_core::SharedSessionStore::new(session_core::MemoryStore::new());
    /// let m = session_store::SessionManager::builder(store, "k").open().await?;
    /// assert!(!m.needs_refresh());
    /// # Ok::<(), session_core::Error>(()) }).unwrap();
    /// ```
    pub fn needs_refresh(&self) -> bool {
        let now = self.inner.clock.now();
        self.inner
            .state
            .lock()
            .as_ref()
            .is_some_and(|d| d.needs_refresh(now, &self.inner.policy))
    }

    /// A copy of the session, if there is one.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let store = session_core::SharedSessionStore::new(session_core::MemoryStore::new());
    /// let m = session_store::SessionManager::builder(store, "k").open().await?;
    /// assert!(m.session().is_none());
    /// # Ok::<(), session_core::Error>(()) }).unwrap();
    /// ```
    pub fn session(&self) -> Option<SessionData> {
        self.inner.state.lock().clone()
    }

    /// The access token, if any.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let store = session_core::SharedSessionStore::new(session_core::MemoryStore::new());
    /// let m = session_store::SessionManager::builder(store, "k").open().await?;
    /// assert!(m.access_token().is_none());
    /// # Ok::<(), session_core::Error>(()) }).unwrap();
    /// ```
    pub fn access_token(&self) -> Option<AccessToken> {
        let state = self.inner.state.lock();
        Some(state.as_ref()?.tokens.as_ref()?.access_token().clone())
    }

    /// The refresh token, if any.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let store = session_core::SharedSessionStore::new(session_core::MemoryStore::new());
    /// let m = session_store::SessionManager::builder(store, "k").open().await?;
    /// assert!(m.refresh_token().is_none());
    /// # Ok::<(), session_core::Error>(()) }).unwrap();
    /// ```
    pub fn refresh_token(&self) -> Option<RefreshToken> {
        let state = self.inner.state.lock();
        state.as_ref()?.tokens.as_ref()?.refresh_token().cloned()
    }

    /// The `Cookie` header value for `url`, if any cookie matches.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let store = session_core::SharedSessionStore::new(session_core::MemoryStore::new());
    /// let m = session_store::SessionManager::builder(store, "k").open().await?;
    /// let url = session_core::url::Url::parse("https://api.example.com/").unwrap();
    /// assert!(m.cookie_header(&url).is_none());
    /// # Ok::<(), session_core::Error>(()) }).unwrap();
    /// ```
    pub fn cookie_header(&self, url: &Url) -> Option<String> {
        self.inner.state.lock().as_ref()?.cookies.cookie_header(url)
    }

    /// Replaces the tokens after a refresh (keeping the old refresh token if
    /// the new set has none), creating the session if there is none.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let store = session_core::SharedSessionStore::new(session_core::MemoryStore::new());
    /// let m = session_store::SessionManager::builder(store, "k").open().await?;
    /// m.update_tokens(session_core::TokenSet::new("at-2"));
    /// assert_eq!(m.access_token().unwrap().expose_secret(), "at-2");
    /// # Ok::<(), session_core::Error>(()) }).unwrap();
    /// ```
    pub fn update_tokens(&self, tokens: TokenSet) {
        let now = self.inner.clock.now();
        self.update(|d| d.update_tokens(tokens, now));
    }

    /// Replaces the cookies.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let store = session_core::SharedSessionStore::new(session_core::MemoryStore::new());
    /// let m = session_store::SessionManager::builder(store, "k").open().await?;
    /// m.update_cookies(session_core::CookieJar::default());
    /// # Ok::<(), session_core::Error>(()) }).unwrap();
    /// ```
    pub fn update_cookies(&self, cookies: CookieJar) {
        self.update(|d| d.cookies = cookies);
    }

    /// Records an API call to `server`, now.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let store = session_core::SharedSessionStore::new(session_core::MemoryStore::new());
    /// let m = session_store::SessionManager::builder(store, "k").open().await?;
    /// m.mark_api_call(Some("api.example.com"));
    /// assert_eq!(m.session().unwrap().metadata.current_api_server.as_deref(), Some("api.example.com"));
    /// # Ok::<(), session_core::Error>(()) }).unwrap();
    /// ```
    pub fn mark_api_call(&self, server: Option<&str>) {
        let now = self.inner.clock.now();
        self.update(|d| d.metadata.mark_api_call(now, server));
    }

    /// Writes the session now (whatever the auto-save setting).
    ///
    /// # Errors
    ///
    /// The store's error; the changes stay pending.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let store = session_core::SharedSessionStore::new(session_core::MemoryStore::new());
    /// let m = session_store::SessionManager::builder(store, "k").auto_save(false).open().await?;
    /// m.update_tokens(session_core::TokenSet::new("at"));
    /// m.save().await?;
    /// assert_eq!(m.writes(), 1);
    /// # Ok::<(), session_core::Error>(()) }).unwrap();
    /// ```
    pub async fn save(&self) -> session_core::Result<()> {
        self.inner.dirty.store(true, Ordering::Release);
        self.inner.flush().await
    }

    /// Reloads the session from the store, dropping unsaved changes.
    ///
    /// # Errors
    ///
    /// The store's error, or a decoding error for data that is not a session.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let store = session_core::SharedSessionStore::new(session_core::MemoryStore::new());
    /// let m = session_store::SessionManager::builder(store, "k").open().await?;
    /// m.load().await?;
    /// # Ok::<(), session_core::Error>(()) }).unwrap();
    /// ```
    pub async fn load(&self) -> session_core::Result<()> {
        let _guard = self.inner.write_lock.lock().await;
        let data = match self.inner.store.load(&self.inner.key).await? {
            Some(record) => Some(SessionData::from_value(record.data)?),
            None => None,
        };
        *self.inner.state.lock() = data;
        self.inner.dirty.store(false, Ordering::Release);
        Ok(())
    }

    /// Forgets the session in memory and deletes it from the store.
    ///
    /// # Errors
    ///
    /// The store's error.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let store = session_core::SharedSessionStore::new(session_core::MemoryStore::new());
    /// let m = session_store::SessionManager::builder(store, "k").open().await?;
    /// m.create_session(session_core::TokenSet::new("at"), None, None);
    /// m.clear().await?;
    /// assert!(m.session().is_none());
    /// # Ok::<(), session_core::Error>(()) }).unwrap();
    /// ```
    pub async fn clear(&self) -> session_core::Result<()> {
        let _guard = self.inner.write_lock.lock().await;
        *self.inner.state.lock() = None;
        self.inner.dirty.store(false, Ordering::Release);
        self.inner.store.delete(&self.inner.key).await?;
        Ok(())
    }

    /// The one-line summary (`Session: VALID | Tokens: VALID | …`).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let store = session_core::SharedSessionStore::new(session_core::MemoryStore::new());
    /// let m = session_store::SessionManager::builder(store, "k").open().await?;
    /// assert_eq!(m.summary(), "Session: NONE");
    /// # Ok::<(), session_core::Error>(()) }).unwrap();
    /// ```
    pub fn summary(&self) -> String {
        let now = self.inner.clock.now();
        match self.inner.state.lock().as_ref() {
            Some(data) => data.summary(now, &self.inner.policy),
            None => "Session: NONE".to_owned(),
        }
    }

    /// Writes pending changes; call before exiting.
    ///
    /// # Errors
    ///
    /// The store's error.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let store = session_core::SharedSessionStore::new(session_core::MemoryStore::new());
    /// let m = session_store::SessionManager::builder(store, "k").open().await?;
    /// m.close().await?;
    /// # Ok::<(), session_core::Error>(()) }).unwrap();
    /// ```
    pub async fn close(&self) -> session_core::Result<()> {
        self.inner.flush().await
    }

    /// How many writes reached the store.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let store = session_core::SharedSessionStore::new(session_core::MemoryStore::new());
    /// let m = session_store::SessionManager::builder(store, "k").open().await?;
    /// assert_eq!(m.writes(), 0);
    /// # Ok::<(), session_core::Error>(()) }).unwrap();
    /// ```
    pub fn writes(&self) -> u64 {
        self.inner.writes.load(Ordering::Relaxed)
    }

    /// Replaces the session from `record` only if one is held (`want_held`)
    /// or is not; the check and the replacement happen under one lock.
    fn replace_own_if(&self, record: &StoreRecord, want_held: bool) -> session_core::Result<bool> {
        let data = SessionData::from_value(record.data.clone())?;
        {
            let mut state = self.inner.state.lock();
            if state.is_some() != want_held {
                return Ok(false);
            }
            *state = Some(data);
        }
        self.changed();
        Ok(true)
    }

    /// This manager as a store for a `Session`: its own key is served from
    /// memory with coalesced writes; other keys go to the underlying store.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let store = session_core::SharedSessionStore::new(session_core::MemoryStore::new());
    /// let m = session_store::SessionManager::builder(store, "k").open().await?;
    /// let _store: session_core::SharedSessionStore = m.as_store();
    /// # Ok::<(), session_core::Error>(()) }).unwrap();
    /// ```
    pub fn as_store(&self) -> SharedSessionStore {
        SharedSessionStore::new(self.clone())
    }
}

#[async_trait]
impl SessionStore for SessionManager {
    async fn load(&self, key: &str) -> session_core::Result<Option<StoreRecord>> {
        if key == self.inner.key {
            return self.inner.record();
        }
        self.inner.store.load(key).await
    }

    async fn save(&self, key: &str, record: &StoreRecord) -> session_core::Result<()> {
        if key == self.inner.key {
            let data = SessionData::from_value(record.data.clone())?;
            *self.inner.state.lock() = Some(data);
            self.changed();
            return Ok(());
        }
        self.inner.store.save(key, record).await
    }

    async fn insert_if_absent(
        &self,
        key: &str,
        record: &StoreRecord,
    ) -> session_core::Result<bool> {
        if key == self.inner.key {
            return self.replace_own_if(record, false);
        }
        self.inner.store.insert_if_absent(key, record).await
    }

    async fn update_if_exists(
        &self,
        key: &str,
        record: &StoreRecord,
    ) -> session_core::Result<bool> {
        if key == self.inner.key {
            return self.replace_own_if(record, true);
        }
        self.inner.store.update_if_exists(key, record).await
    }

    async fn delete(&self, key: &str) -> session_core::Result<bool> {
        if key == self.inner.key {
            let existed = self.inner.state.lock().is_some();
            self.clear().await?;
            return Ok(existed);
        }
        self.inner.store.delete(key).await
    }

    async fn list_by_owner(&self, owner: &str) -> session_core::Result<Vec<(String, StoreRecord)>> {
        self.inner.flush().await?;
        self.inner.store.list_by_owner(owner).await
    }

    async fn delete_by_owner(&self, owner: &str) -> session_core::Result<u64> {
        self.inner.flush().await?;
        self.inner.store.delete_by_owner(owner).await
    }

    async fn owner_counts(&self) -> session_core::Result<Vec<(String, u64)>> {
        self.inner.flush().await?;
        self.inner.store.owner_counts().await
    }

    async fn delete_expired(&self, now: OffsetDateTime) -> session_core::Result<u64> {
        self.inner.flush().await?;
        self.inner.store.delete_expired(now).await
    }

    async fn count(&self) -> session_core::Result<u64> {
        self.inner.flush().await?;
        self.inner.store.count().await
    }
}

impl fmt::Debug for SessionManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionManager")
            .field("key", &self.inner.key)
            .field("auto_save", &self.inner.auto_save)
            .field("summary", &self.summary())
            .finish_non_exhaustive()
    }
}

/// Builds a [`SessionManager`].
///
/// ```
/// use std::time::Duration;
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// # let store = session_core::SharedSessionStore::new(session_core::MemoryStore::new());
/// let manager = session_store::SessionManager::builder(store, "default")
///     .auto_save(true)
///     .save_interval(Duration::from_millis(500))
///     .open()
///     .await?;
/// # let _ = manager; Ok::<(), session_core::Error>(()) }).unwrap();
/// ```
#[must_use]
pub struct SessionManagerBuilder {
    store: SharedSessionStore,
    key: String,
    auto_save: bool,
    interval: Duration,
    clock: SharedClock,
    policy: ExpiryPolicy,
}

impl SessionManagerBuilder {
    /// Save changes automatically (default yes).
    ///
    /// ```
    /// # let store = session_core::SharedSessionStore::new(session_core::MemoryStore::new());
    /// let _ = session_store::SessionManager::builder(store, "k").auto_save(false);
    /// ```
    pub fn auto_save(mut self, yes: bool) -> Self {
        self.auto_save = yes;
        self
    }

    /// At most one automatic write per `interval` (default 1 s).
    ///
    /// ```
    /// # let store = session_core::SharedSessionStore::new(session_core::MemoryStore::new());
    /// let _ = session_store::SessionManager::builder(store, "k").save_interval(std::time::Duration::from_secs(5));
    /// ```
    pub fn save_interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// The clock for timestamps and expiry.
    ///
    /// ```
    /// # let store = session_core::SharedSessionStore::new(session_core::MemoryStore::new());
    /// let _ = session_store::SessionManager::builder(store, "k").clock(session_core::SharedClock::default());
    /// ```
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// The expiry rules for validity and refresh.
    ///
    /// ```
    /// # let store = session_core::SharedSessionStore::new(session_core::MemoryStore::new());
    /// let _ = session_store::SessionManager::builder(store, "k").expiry_policy(Default::default());
    /// ```
    pub fn expiry_policy(mut self, policy: ExpiryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Creates the manager and loads the stored session, if any.
    ///
    /// # Errors
    ///
    /// The store's error, or a decoding error for stored data that is not a
    /// session (left in the store as it is).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let store = session_core::SharedSessionStore::new(session_core::MemoryStore::new());
    /// let m = session_store::SessionManager::builder(store, "k").open().await?;
    /// # let _ = m; Ok::<(), session_core::Error>(()) }).unwrap();
    /// ```
    pub async fn open(self) -> session_core::Result<SessionManager> {
        let manager = SessionManager {
            inner: Arc::new(Inner {
                store: self.store,
                key: self.key,
                auto_save: self.auto_save,
                interval: self.interval,
                clock: self.clock,
                policy: self.policy,
                state: Mutex::new(None),
                dirty: AtomicBool::new(false),
                flushing: AtomicBool::new(false),
                writes: AtomicU64::new(0),
                write_lock: tokio::sync::Mutex::new(()),
            }),
        };
        manager.load().await?;
        Ok(manager)
    }
}

impl fmt::Debug for SessionManagerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionManagerBuilder")
            .field("key", &self.key)
            .field("auto_save", &self.auto_save)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}
