//! [`SessionState`]: the one owner of a client session's data — tokens,
//! cookies, user info, named credentials, metadata — in memory and in its
//! store, with one restore, one save path (coalesced auto-save or manual)
//! and the lease that keeps processes sharing the store from refreshing at
//! once. The [`Session`](crate::Session), its [`TokenManager`](crate::TokenManager),
//! the [`SessionRegistry`](crate::SessionRegistry) and the OAuth facade
//! read and write through it; none keeps a copy of its own.
//!
//! # Auto-save
//!
//! With auto-save on (the default), the first change is written at once;
//! changes in the next `save_interval` (default 1 s) are written together at
//! its end, so a storm of token updates costs one write per interval.
//! `close()` writes what is pending; dropping the last handle does too, on
//! the running tokio runtime. With auto-save off, nothing is written until
//! [`save`](SessionState::save).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use serde_json::Value;
use session_core::url::Url;
use session_core::{
    AccessToken, CookieJar, ExpiryPolicy, RefreshToken, SessionData, SessionStore, SharedClock,
    SharedSessionStore, StoreRecord, TokenSet,
};
use tokio::sync::OnceCell;

/// Makes lease tokens unique within the process.
static LEASES: AtomicU64 = AtomicU64::new(0);

/// A fingerprint of a token set's access token, to compare without keeping
/// another copy of the secret.
fn fingerprint(tokens: &TokenSet) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    tokens.access_token().expose_secret().hash(&mut hasher);
    hasher.finish()
}

/// What a login endpoint returned, ready to become a session.
///
/// ```
/// let login = session_auth::LoginResult::new(session_core::TokenSet::new("at"));
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
    /// let _ = session_auth::LoginResult::new(session_core::TokenSet::new("at"));
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
    /// let l = session_auth::LoginResult::new(session_core::TokenSet::new("at"))
    ///     .with_user_info(serde_json::json!({"name": "Ada"}));
    /// assert!(l.user_info.is_some());
    /// ```
    #[must_use]
    pub fn with_user_info(mut self, info: Value) -> Self {
        self.user_info = Some(info);
        self
    }
}

/// One client session's data, in memory and (optionally) in a store.
///
/// Cheap to clone; clones share the session. Every change goes through
/// [`update`](Self::update) (or a method built on it), so a new field of
/// [`SessionData`] is persisted, restored and cleared like the others with
/// no code of its own.
///
/// # Examples
///
/// ```
/// use session_auth::SessionState;
/// use session_core::{MemoryStore, SharedSessionStore, TokenSet};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let store = SharedSessionStore::new(MemoryStore::new());
/// let state = SessionState::builder(store.clone(), "trading").open().await?;
/// state.create_session(TokenSet::new("at").with_refresh_token("rt"), None, None);
/// state.close().await?;
///
/// // Next run: loaded on creation.
/// let again = SessionState::builder(store, "trading").open().await?;
/// assert!(again.is_valid());
/// assert_eq!(again.access_token().unwrap().expose_secret(), "at");
/// # Ok::<(), session_core::Error>(()) }).unwrap();
/// ```
#[derive(Clone)]
pub struct SessionState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Option<SharedSessionStore>,
    key: String,
    auto_save: bool,
    interval: Duration,
    clock: SharedClock,
    policy: ExpiryPolicy,
    data: Mutex<Option<SessionData>>,
    /// Bumped whenever the tokens change, so views of them (the token
    /// manager's ready-made header) can tell theirs is stale with one atomic
    /// read — and a cookie or metadata change leaves them alone.
    version: AtomicU64,
    restored: OnceCell<()>,
    /// A fingerprint of the access token last read from or written to the
    /// store: tells whether another process has replaced it since.
    synced: Mutex<Option<u64>>,
    dirty: AtomicBool,
    flushing: AtomicBool,
    writes: AtomicU64,
    write_lock: tokio::sync::Mutex<()>,
}

impl Inner {
    fn record(&self) -> session_core::Result<Option<StoreRecord>> {
        match self.data.lock().as_ref() {
            Some(data) => Ok(Some(StoreRecord::new(data.to_value()?))),
            None => Ok(None),
        }
    }

    /// Writes the data if it changed since the last write.
    ///
    /// Tokens another process stored since this one last synced (a refresh
    /// it made under the lease) are kept, unless this process changed its
    /// own since: a save of cookies or metadata never puts back a refresh
    /// token that was rotated away.
    async fn flush(&self) -> session_core::Result<()> {
        let Some(store) = &self.store else {
            self.dirty.store(false, Ordering::Release);
            return Ok(());
        };
        let _guard = self.write_lock.lock().await;
        if !self.dirty.swap(false, Ordering::AcqRel) {
            return Ok(());
        }
        let result = async {
            // Stored data that is not a session is overwritten.
            let stored = match self.load_stored().await {
                Ok(data) => data.and_then(|d| d.tokens),
                Err(session_core::Error::Serialization { .. }) => None,
                Err(e) => return Err(e),
            };
            self.adopt_newer(stored);
            match self.record()? {
                Some(record) => store.save(&self.key, &record).await?,
                None => {
                    store.delete(&self.key).await?;
                }
            }
            self.mark_synced();
            Ok(())
        }
        .await;
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

    /// Takes `stored` tokens in place of the held ones when the store's
    /// changed since the last sync and the held ones didn't.
    fn adopt_newer(&self, stored: Option<TokenSet>) {
        let synced = *self.synced.lock();
        let mut data = self.data.lock();
        let Some(held) = data.as_mut() else { return };
        let ours = held.tokens.as_ref().map(fingerprint);
        let theirs = stored.as_ref().map(fingerprint);
        if ours == synced && theirs != synced && stored.is_some() {
            held.tokens = stored;
            self.version.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Notes that memory and store now hold the same tokens.
    fn mark_synced(&self) {
        let held = self
            .data
            .lock()
            .as_ref()
            .and_then(|d| d.tokens.as_ref().map(fingerprint));
        *self.synced.lock() = held;
    }

    async fn load_stored(&self) -> session_core::Result<Option<SessionData>> {
        let Some(store) = &self.store else {
            return Ok(None);
        };
        match store.load(&self.key).await? {
            Some(record) => SessionData::from_value(record.data).map(Some),
            None => Ok(None),
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if self.store.is_none() || !self.dirty.load(Ordering::Acquire) {
            return;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(target: "session_auth", key = %self.key, "session dropped outside a runtime with unsaved changes");
            return;
        };
        let store = self.store.clone();
        let key = self.key.clone();
        let record = self.record();
        handle.spawn(async move {
            let Some(store) = store else { return };
            let result = match record {
                Ok(Some(record)) => store.save(&key, &record).await,
                Ok(None) => store.delete(&key).await.map(|_| ()),
                Err(e) => Err(e),
            };
            if let Err(error) = result {
                tracing::warn!(target: "session_auth", key = %key, error = %error, "final save failed");
            }
        });
    }
}

impl SessionState {
    /// Starts a builder for the session under `key` in `store`.
    ///
    /// ```
    /// use session_core::{MemoryStore, SharedSessionStore};
    /// let _ = session_auth::SessionState::builder(SharedSessionStore::new(MemoryStore::new()), "k");
    /// ```
    pub fn builder(store: SharedSessionStore, key: impl Into<String>) -> SessionStateBuilder {
        SessionStateBuilder {
            store: Some(store),
            key: key.into(),
            auto_save: true,
            interval: Duration::from_secs(1),
            clock: SharedClock::default(),
            policy: ExpiryPolicy::default(),
        }
    }

    /// A session in memory only, on `clock`.
    pub(crate) fn memory(clock: SharedClock, policy: ExpiryPolicy) -> Self {
        SessionStateBuilder {
            store: None,
            key: String::new(),
            auto_save: false,
            interval: Duration::from_secs(1),
            clock,
            policy,
        }
        .build()
    }

    /// A session kept in memory only: nothing is written anywhere.
    ///
    /// ```
    /// let state = session_auth::SessionState::in_memory();
    /// assert!(state.key().is_none());
    /// assert!(state.session().is_none());
    /// ```
    pub fn in_memory() -> Self {
        Self::memory(SharedClock::default(), ExpiryPolicy::default())
    }

    /// Whether `other` is a handle to this same session.
    ///
    /// ```
    /// let state = session_auth::SessionState::in_memory();
    /// assert!(state.same_session(&state.clone()));
    /// assert!(!state.same_session(&session_auth::SessionState::in_memory()));
    /// ```
    pub fn same_session(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// The key the session is stored under (`None` in memory only).
    ///
    /// ```
    /// # use session_core::*;
    /// let s = session_auth::SessionState::builder(SharedSessionStore::new(MemoryStore::new()), "k").build();
    /// assert_eq!(s.key(), Some("k"));
    /// ```
    pub fn key(&self) -> Option<&str> {
        self.inner.store.as_ref().map(|_| self.inner.key.as_str())
    }

    /// Whether the session is kept under `key` in `store`.
    pub(crate) fn is_stored_at(&self, store: &SharedSessionStore, key: &str) -> bool {
        self.inner
            .store
            .as_ref()
            .is_some_and(|own| own.same_store(store) && self.inner.key == key)
    }

    /// Whether the session is persisted to a store.
    ///
    /// ```
    /// assert!(!session_auth::SessionState::in_memory().is_persisted());
    /// ```
    pub fn is_persisted(&self) -> bool {
        self.inner.store.is_some()
    }

    /// How many times the tokens have changed; views compare it with the
    /// version they were built from.
    pub(crate) fn version(&self) -> u64 {
        self.inner.version.load(Ordering::Acquire)
    }

    /// Notes a change (of the tokens too, if `tokens`) and schedules the save.
    fn changed(&self, tokens: bool) {
        if tokens {
            self.inner.version.fetch_add(1, Ordering::AcqRel);
        }
        if self.inner.store.is_none() {
            return;
        }
        self.inner.dirty.store(true, Ordering::Release);
        if !self.inner.auto_save || self.inner.flushing.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // Outside a runtime: written by the next save, close or drop.
            self.inner.flushing.store(false, Ordering::Release);
            return;
        };
        let inner = self.inner.clone();
        runtime.spawn(async move {
            loop {
                if let Err(error) = inner.flush().await {
                    tracing::warn!(target: "session_auth", key = %inner.key, error = %error, "auto-save failed");
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

    /// Changes the session's data (starting a new session if there is
    /// none) and schedules the save: the one path every change takes.
    ///
    /// ```
    /// let state = session_auth::SessionState::in_memory();
    /// state.update(|data| data.user_info = Some(serde_json::json!({"name": "Ada"})));
    /// assert_eq!(state.session().unwrap().user_info.unwrap()["name"], "Ada");
    /// ```
    pub fn update<R>(&self, change: impl FnOnce(&mut SessionData) -> R) -> R {
        let (result, tokens_changed) = {
            let mut data = self.inner.data.lock();
            let data = data.get_or_insert_with(|| SessionData::new(self.inner.clock.now()));
            let before = data.tokens.clone();
            let result = change(data);
            (result, data.tokens != before)
        };
        self.changed(tokens_changed);
        result
    }

    /// Reads the session's data without copying it (`None`: no session).
    pub(crate) fn read<R>(&self, read: impl FnOnce(Option<&SessionData>) -> R) -> R {
        read(self.inner.data.lock().as_ref())
    }

    /// Starts a session with `tokens`, user info and cookies, replacing any.
    ///
    /// ```
    /// let state = session_auth::SessionState::in_memory();
    /// state.create_session(session_core::TokenSet::new("at"), None, None);
    /// assert!(state.is_valid());
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
        *self.inner.data.lock() = Some(data);
        self.changed(true);
    }

    /// Starts a session from a login result.
    ///
    /// ```
    /// let state = session_auth::SessionState::in_memory();
    /// state.create_session_from_login(session_auth::LoginResult::new(session_core::TokenSet::new("at")), None);
    /// assert!(state.is_valid());
    /// ```
    pub fn create_session_from_login(&self, login: LoginResult, cookies: Option<CookieJar>) {
        self.create_session(login.tokens, login.user_info, cookies);
    }

    /// Whether there is a session whose tokens are still usable.
    ///
    /// ```
    /// assert!(!session_auth::SessionState::in_memory().is_valid());
    /// ```
    pub fn is_valid(&self) -> bool {
        let now = self.inner.clock.now();
        self.read(|d| d.is_some_and(|d| d.is_valid(now, &self.inner.policy)))
    }

    /// Whether the session's tokens are inside their refresh window.
    ///
    /// ```
    /// assert!(!session_auth::SessionState::in_memory().needs_refresh());
    /// ```
    pub fn needs_refresh(&self) -> bool {
        let now = self.inner.clock.now();
        self.read(|d| d.is_some_and(|d| d.needs_refresh(now, &self.inner.policy)))
    }

    /// A copy of the session's data.
    ///
    /// ```
    /// assert!(session_auth::SessionState::in_memory().session().is_none());
    /// ```
    pub fn session(&self) -> Option<SessionData> {
        self.inner.data.lock().clone()
    }

    /// The session's tokens.
    ///
    /// ```
    /// let state = session_auth::SessionState::in_memory();
    /// state.update_tokens(session_core::TokenSet::new("at"));
    /// assert!(state.tokens().is_some());
    /// ```
    pub fn tokens(&self) -> Option<TokenSet> {
        self.read(|d| d.and_then(|d| d.tokens.clone()))
    }

    /// The access token.
    ///
    /// ```
    /// assert!(session_auth::SessionState::in_memory().access_token().is_none());
    /// ```
    pub fn access_token(&self) -> Option<AccessToken> {
        self.read(|d| Some(d?.tokens.as_ref()?.access_token().clone()))
    }

    /// The refresh token.
    ///
    /// ```
    /// assert!(session_auth::SessionState::in_memory().refresh_token().is_none());
    /// ```
    pub fn refresh_token(&self) -> Option<RefreshToken> {
        self.read(|d| d?.tokens.as_ref()?.refresh_token().cloned())
    }

    /// The `Cookie` header value the session's cookies give for `url`.
    ///
    /// ```
    /// let url = session_core::url::Url::parse("https://a.example/").unwrap();
    /// assert!(session_auth::SessionState::in_memory().cookie_header(&url).is_none());
    /// ```
    pub fn cookie_header(&self, url: &Url) -> Option<String> {
        self.read(|d| d?.cookies.cookie_header(url))
    }

    /// Replaces the tokens (a refresh token the server didn't rotate is kept).
    ///
    /// ```
    /// let state = session_auth::SessionState::in_memory();
    /// state.update_tokens(session_core::TokenSet::new("at").with_refresh_token("rt"));
    /// state.update_tokens(session_core::TokenSet::new("at2"));
    /// assert_eq!(state.refresh_token().unwrap().expose_secret(), "rt");
    /// ```
    pub fn update_tokens(&self, tokens: TokenSet) {
        let now = self.inner.clock.now();
        self.update(|d| d.update_tokens(tokens, now));
    }

    /// Replaces the cookies.
    ///
    /// ```
    /// let state = session_auth::SessionState::in_memory();
    /// state.update_cookies(session_core::CookieJar::default());
    /// assert!(state.session().is_some());
    /// ```
    pub fn update_cookies(&self, cookies: CookieJar) {
        self.update(|d| d.cookies = cookies);
    }

    /// Records an API call now, to `server` if given.
    ///
    /// ```
    /// let state = session_auth::SessionState::in_memory();
    /// state.mark_api_call(Some("api.example.com"));
    /// assert!(state.session().unwrap().metadata.last_api_call_at.is_some());
    /// ```
    pub fn mark_api_call(&self, server: Option<&str>) {
        let now = self.inner.clock.now();
        self.update(|d| d.metadata.mark_api_call(now, server));
    }

    /// Writes the session to its store now (deleting it there when there is
    /// no session).
    ///
    /// # Errors
    ///
    /// The store's error.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// session_auth::SessionState::in_memory().save().await?;
    /// # Ok::<(), session_core::Error>(()) }).unwrap();
    /// ```
    pub async fn save(&self) -> session_core::Result<()> {
        self.inner.dirty.store(true, Ordering::Release);
        self.inner.flush().await
    }

    /// Replaces what is in memory with what is stored (nothing, if nothing is).
    ///
    /// # Errors
    ///
    /// The store's error, or a decoding error for stored data that is not a
    /// session (memory is then left as it was).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let store = session_core::SharedSessionStore::new(session_core::MemoryStore::new());
    /// let state = session_auth::SessionState::builder(store, "k").build();
    /// state.load().await?;
    /// assert!(state.session().is_none());
    /// # Ok::<(), session_core::Error>(()) }).unwrap();
    /// ```
    pub async fn load(&self) -> session_core::Result<()> {
        if self.inner.store.is_none() {
            return Ok(());
        }
        let _guard = self.inner.write_lock.lock().await;
        let data = self.inner.load_stored().await?;
        *self.inner.data.lock() = data;
        self.inner.mark_synced();
        self.inner.version.fetch_add(1, Ordering::AcqRel);
        self.inner.dirty.store(false, Ordering::Release);
        let _ = self.inner.restored.set(());
        Ok(())
    }

    /// Loads the stored session once, on first use; later calls do nothing.
    /// What is already in memory (tokens given up front) wins over what is
    /// stored.
    ///
    /// # Errors
    ///
    /// The store's error, or a decoding error (tried again next time).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// session_auth::SessionState::in_memory().restore().await?;
    /// # Ok::<(), session_core::Error>(()) }).unwrap();
    /// ```
    pub async fn restore(&self) -> session_core::Result<()> {
        if self.inner.restored.initialized() || self.inner.store.is_none() {
            return Ok(());
        }
        self.inner
            .restored
            .get_or_try_init(|| async {
                let _guard = self.inner.write_lock.lock().await;
                let stored = self.inner.load_stored().await?;
                *self.inner.synced.lock() = stored
                    .as_ref()
                    .and_then(|d| d.tokens.as_ref().map(fingerprint));
                let mut data = self.inner.data.lock();
                match (data.as_mut(), stored) {
                    (None, stored) => *data = stored,
                    (Some(held), Some(mut stored)) => {
                        if held.tokens.is_some() {
                            stored.tokens = held.tokens.take();
                        }
                        *held = stored;
                    }
                    (Some(_), None) => {}
                }
                drop(data);
                self.inner.version.fetch_add(1, Ordering::AcqRel);
                Ok::<(), session_core::Error>(())
            })
            .await
            .map(|_| ())
    }

    /// Whether [`restore`](Self::restore) (or [`load`](Self::load)) has run.
    pub(crate) fn is_restored(&self) -> bool {
        self.inner.store.is_none() || self.inner.restored.initialized()
    }

    /// The tokens as stored right now (not as held in memory): what another
    /// process sharing the store may have written.
    pub(crate) async fn stored_tokens(&self) -> session_core::Result<Option<TokenSet>> {
        Ok(self.inner.load_stored().await?.and_then(|d| d.tokens))
    }

    /// Forgets the session in memory and deletes it from the store.
    ///
    /// # Errors
    ///
    /// The store's error (memory is cleared anyway).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let state = session_auth::SessionState::in_memory();
    /// state.create_session(session_core::TokenSet::new("at"), None, None);
    /// state.clear().await?;
    /// assert!(state.session().is_none());
    /// # Ok::<(), session_core::Error>(()) }).unwrap();
    /// ```
    pub async fn clear(&self) -> session_core::Result<()> {
        *self.inner.data.lock() = None;
        *self.inner.synced.lock() = None;
        self.inner.version.fetch_add(1, Ordering::AcqRel);
        let Some(store) = &self.inner.store else {
            return Ok(());
        };
        let _guard = self.inner.write_lock.lock().await;
        self.inner.dirty.store(false, Ordering::Release);
        store.delete(&self.inner.key).await?;
        Ok(())
    }

    /// The one-line summary, e.g.
    /// `Session: VALID | Tokens: VALID | Cookies: PRESENT | Age: 45m | Last API: 2m ago`.
    ///
    /// ```
    /// assert_eq!(session_auth::SessionState::in_memory().summary(), "Session: NONE");
    /// ```
    pub fn summary(&self) -> String {
        let now = self.inner.clock.now();
        self.read(|d| match d {
            Some(data) => data.summary(now, &self.inner.policy),
            None => "Session: NONE".to_owned(),
        })
    }

    /// Writes what is pending. The session stays usable.
    ///
    /// # Errors
    ///
    /// The store's error.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// session_auth::SessionState::in_memory().close().await?;
    /// # Ok::<(), session_core::Error>(()) }).unwrap();
    /// ```
    pub async fn close(&self) -> session_core::Result<()> {
        self.inner.flush().await
    }

    /// How many times the session has been written to its store.
    ///
    /// ```
    /// assert_eq!(session_auth::SessionState::in_memory().writes(), 0);
    /// ```
    pub fn writes(&self) -> u64 {
        self.inner.writes.load(Ordering::Relaxed)
    }

    /// Takes the session's refresh lease: a record under `<key>.refresh-lease`
    /// created only where none lives, expiring after `ttl` so a crashed
    /// holder can't block others for long. Waits (backing off up to 200 ms)
    /// for at most `patience`. Without a store there is nobody to share
    /// with, and the lease is granted at once.
    pub(crate) async fn lease(
        &self,
        ttl: Duration,
        patience: Duration,
    ) -> session_core::Result<Lease> {
        let Some(store) = &self.inner.store else {
            return Ok(Lease(None));
        };
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
            if store.insert_if_absent(&key, &record).await? {
                return Ok(Lease(Some((store.clone(), key, token))));
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

/// A held lease on a stored session: while it is held, no other process
/// sharing the store refreshes that session's tokens.
pub(crate) struct Lease(Option<(SharedSessionStore, String, String)>);

impl Lease {
    /// Gives the lease back (only if it is still ours).
    pub(crate) async fn release(self) -> session_core::Result<()> {
        let Some((store, key, token)) = self.0 else {
            return Ok(());
        };
        if let Some(record) = store.load(&key).await?
            && record.data["lease"] == token.as_str()
        {
            store.delete(&key).await?;
        }
        Ok(())
    }
}

impl fmt::Debug for SessionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionState")
            .field("store", &self.inner.store)
            .field("key", &self.key())
            .field("auto_save", &self.inner.auto_save)
            .field("summary", &self.summary())
            .finish_non_exhaustive()
    }
}

/// Builds a [`SessionState`].
///
/// ```
/// use std::time::Duration;
/// use session_core::{MemoryStore, SharedSessionStore};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let state = session_auth::SessionState::builder(SharedSessionStore::new(MemoryStore::new()), "k")
///     .auto_save(true)
///     .save_interval(Duration::from_millis(500))
///     .open()
///     .await?;
/// # let _ = state;
/// # Ok::<(), session_core::Error>(()) }).unwrap();
/// ```
#[must_use]
pub struct SessionStateBuilder {
    store: Option<SharedSessionStore>,
    key: String,
    auto_save: bool,
    interval: Duration,
    clock: SharedClock,
    policy: ExpiryPolicy,
}

impl SessionStateBuilder {
    /// Save after every change, coalesced per interval (default on).
    ///
    /// ```
    /// # use session_core::*;
    /// let _ = session_auth::SessionState::builder(SharedSessionStore::new(MemoryStore::new()), "k").auto_save(false);
    /// ```
    pub fn auto_save(mut self, yes: bool) -> Self {
        self.auto_save = yes;
        self
    }

    /// How often auto-save writes at most (default 1 s).
    ///
    /// ```
    /// # use session_core::*;
    /// let _ = session_auth::SessionState::builder(SharedSessionStore::new(MemoryStore::new()), "k")
    ///     .save_interval(std::time::Duration::from_secs(5));
    /// ```
    pub fn save_interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// The clock for timestamps and validity.
    ///
    /// ```
    /// # use session_core::*;
    /// let _ = session_auth::SessionState::builder(SharedSessionStore::new(MemoryStore::new()), "k")
    ///     .clock(SharedClock::default());
    /// ```
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// The expiry rules for `is_valid` and `needs_refresh`.
    ///
    /// ```
    /// # use session_core::*;
    /// let _ = session_auth::SessionState::builder(SharedSessionStore::new(MemoryStore::new()), "k")
    ///     .expiry_policy(ExpiryPolicy::default());
    /// ```
    pub fn expiry_policy(mut self, policy: ExpiryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Builds the state; the stored session is loaded on first use.
    ///
    /// ```
    /// # use session_core::*;
    /// let state = session_auth::SessionState::builder(SharedSessionStore::new(MemoryStore::new()), "k").build();
    /// # let _ = state;
    /// ```
    pub fn build(self) -> SessionState {
        SessionState {
            inner: Arc::new(Inner {
                store: self.store,
                key: self.key,
                auto_save: self.auto_save,
                interval: self.interval,
                clock: self.clock,
                policy: self.policy,
                data: Mutex::new(None),
                version: AtomicU64::new(0),
                restored: OnceCell::new(),
                synced: Mutex::new(None),
                dirty: AtomicBool::new(false),
                flushing: AtomicBool::new(false),
                writes: AtomicU64::new(0),
                write_lock: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// Builds the state and loads the stored session now.
    ///
    /// # Errors
    ///
    /// The store's error, or a decoding error for stored data that is not a
    /// session.
    ///
    /// ```
    /// # use session_core::*;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let state = session_auth::SessionState::builder(SharedSessionStore::new(MemoryStore::new()), "k").open().await?;
    /// assert!(state.session().is_none());
    /// # Ok::<(), session_core::Error>(()) }).unwrap();
    /// ```
    pub async fn open(self) -> session_core::Result<SessionState> {
        let state = self.build();
        state.restore().await?;
        Ok(state)
    }
}

impl fmt::Debug for SessionStateBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionStateBuilder")
            .field("key", &self.key)
            .field("auto_save", &self.auto_save)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_token_change_moves_the_version_views_watch() {
        let state = SessionState::in_memory();
        let start = state.version();
        state.mark_api_call(Some("api.example.com"));
        state.update_cookies(CookieJar::default());
        state.update(|data| data.user_info = Some(serde_json::json!({"name": "Ada"})));
        assert_eq!(state.version(), start, "no token changed");
        state.update_tokens(TokenSet::new("at"));
        assert_eq!(state.version(), start + 1);
        state.update_tokens(TokenSet::new("at"));
        assert_eq!(state.version(), start + 1, "the same tokens again");
        state.update_tokens(TokenSet::new("at-2"));
        assert_eq!(state.version(), start + 2);
    }
}
