//! [`SessionRegistry`]: several named, isolated client sessions in one store,
//! one of them active.

use std::collections::BTreeMap;
use std::fmt;

use parking_lot::Mutex;
use session_core::{ExpiryPolicy, SharedClock, SharedSessionStore};

use crate::error::Error;
use crate::state::SessionState;

/// Named sessions, each with its own tokens, cookies and metadata, stored
/// under `<prefix><name>` in one store.
///
/// # Examples
///
/// ```
/// use session_core::{MemoryStore, SharedSessionStore, TokenSet};
/// use session_auth::SessionRegistry;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let registry = SessionRegistry::new(SharedSessionStore::new(MemoryStore::new()));
/// let trading = registry.add("trading").await?;
/// let monitoring = registry.add("monitoring").await?;
/// trading.create_session(TokenSet::new("t-1"), None, None);
///
/// registry.switch("trading")?;
/// assert_eq!(registry.active().unwrap().access_token().unwrap().expose_secret(), "t-1");
/// assert!(monitoring.access_token().is_none()); // isolated
/// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
/// ```
pub struct SessionRegistry {
    store: SharedSessionStore,
    prefix: String,
    clock: SharedClock,
    policy: ExpiryPolicy,
    named: Mutex<Named>,
}

#[derive(Default)]
struct Named {
    sessions: BTreeMap<String, SessionState>,
    active: Option<String>,
}

impl SessionRegistry {
    /// An empty registry over `store`, with keys `session:<name>`.
    ///
    /// ```
    /// # use session_core::*;
    /// let _ = session_auth::SessionRegistry::new(SharedSessionStore::new(MemoryStore::new()));
    /// ```
    pub fn new(store: SharedSessionStore) -> Self {
        Self {
            store,
            prefix: "session:".to_owned(),
            clock: SharedClock::default(),
            policy: ExpiryPolicy::default(),
            named: Mutex::new(Named::default()),
        }
    }

    /// This registry, opening its sessions on `clock`.
    ///
    /// ```
    /// # use session_core::*;
    /// let _ = session_auth::SessionRegistry::new(SharedSessionStore::new(MemoryStore::new()))
    ///     .with_clock(SharedClock::default());
    /// ```
    #[must_use]
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// This registry, judging its sessions' validity with `policy`.
    ///
    /// ```
    /// # use session_core::*;
    /// let _ = session_auth::SessionRegistry::new(SharedSessionStore::new(MemoryStore::new()))
    ///     .with_expiry_policy(ExpiryPolicy::default());
    /// ```
    #[must_use]
    pub fn with_expiry_policy(mut self, policy: ExpiryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Opens (loading any stored data) and adds the session `name`; the first
    /// one added becomes active. Adding an existing name returns it.
    ///
    /// # Errors
    ///
    /// The store's error while loading.
    ///
    /// ```
    /// # use session_core::*;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let registry = session_auth::SessionRegistry::new(SharedSessionStore::new(MemoryStore::new()));
    /// registry.add("a").await?;
    /// assert_eq!(registry.active_name().as_deref(), Some("a"));
    /// # Ok::<(), session_core::Error>(()) }).unwrap();
    /// ```
    pub async fn add(&self, name: &str) -> session_core::Result<SessionState> {
        if let Some(existing) = self.named.lock().sessions.get(name) {
            return Ok(existing.clone());
        }
        let opened = SessionState::builder(self.store.clone(), format!("{}{name}", self.prefix))
            .clock(self.clock.clone())
            .expiry_policy(self.policy)
            .open()
            .await?;
        let mut registry = self.named.lock();
        let session = registry
            .sessions
            .entry(name.to_owned())
            .or_insert(opened)
            .clone();
        if registry.active.is_none() {
            registry.active = Some(name.to_owned());
        }
        Ok(session)
    }

    /// Makes `name` the active session.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownSession`] if no session has that name.
    ///
    /// ```
    /// # use session_core::*;
    /// let registry = session_auth::SessionRegistry::new(SharedSessionStore::new(MemoryStore::new()));
    /// assert!(registry.switch("missing").is_err());
    /// ```
    pub fn switch(&self, name: &str) -> Result<(), Error> {
        let mut state = self.named.lock();
        if !state.sessions.contains_key(name) {
            return Err(Error::UnknownSession {
                name: name.to_owned(),
            });
        }
        state.active = Some(name.to_owned());
        Ok(())
    }

    /// The active session.
    ///
    /// ```
    /// # use session_core::*;
    /// let registry = session_auth::SessionRegistry::new(SharedSessionStore::new(MemoryStore::new()));
    /// assert!(registry.active().is_none());
    /// ```
    pub fn active(&self) -> Option<SessionState> {
        let state = self.named.lock();
        state
            .active
            .as_ref()
            .and_then(|n| state.sessions.get(n))
            .cloned()
    }

    /// The active session's name.
    ///
    /// ```
    /// # use session_core::*;
    /// let registry = session_auth::SessionRegistry::new(SharedSessionStore::new(MemoryStore::new()));
    /// assert!(registry.active_name().is_none());
    /// ```
    pub fn active_name(&self) -> Option<String> {
        self.named.lock().active.clone()
    }

    /// The session called `name`.
    ///
    /// ```
    /// # use session_core::*;
    /// let registry = session_auth::SessionRegistry::new(SharedSessionStore::new(MemoryStore::new()));
    /// assert!(registry.get("x").is_none());
    /// ```
    pub fn get(&self, name: &str) -> Option<SessionState> {
        self.named.lock().sessions.get(name).cloned()
    }

    /// Every session's name and whether it is valid now, by name.
    ///
    /// ```
    /// # use session_core::*;
    /// let registry = session_auth::SessionRegistry::new(SharedSessionStore::new(MemoryStore::new()));
    /// assert!(registry.list().is_empty());
    /// ```
    pub fn list(&self) -> Vec<(String, bool)> {
        self.named
            .lock()
            .sessions
            .iter()
            .map(|(name, m)| (name.clone(), m.is_valid()))
            .collect()
    }

    /// Removes `name` from the registry and deletes its stored data. If it was
    /// active, no session is active afterwards. Returns whether it existed.
    ///
    /// # Errors
    ///
    /// The store's error.
    ///
    /// ```
    /// # use session_core::*;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let registry = session_auth::SessionRegistry::new(SharedSessionStore::new(MemoryStore::new()));
    /// registry.add("a").await?;
    /// assert!(registry.remove("a").await?);
    /// # Ok::<(), session_core::Error>(()) }).unwrap();
    /// ```
    pub async fn remove(&self, name: &str) -> session_core::Result<bool> {
        let removed = {
            let mut state = self.named.lock();
            if state.active.as_deref() == Some(name) {
                state.active = None;
            }
            state.sessions.remove(name)
        };
        match removed {
            Some(state) => {
                state.clear().await?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Removes every session that is not valid now (no tokens, or expired),
    /// returning their names.
    ///
    /// # Errors
    ///
    /// The store's error.
    ///
    /// ```
    /// # use session_core::*;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let registry = session_auth::SessionRegistry::new(SharedSessionStore::new(MemoryStore::new()));
    /// registry.add("empty").await?;
    /// assert_eq!(registry.cleanup_invalid().await?, ["empty"]);
    /// # Ok::<(), session_core::Error>(()) }).unwrap();
    /// ```
    pub async fn cleanup_invalid(&self) -> session_core::Result<Vec<String>> {
        let invalid: Vec<String> = self
            .list()
            .into_iter()
            .filter(|(_, valid)| !valid)
            .map(|(name, _)| name)
            .collect();
        for name in &invalid {
            self.remove(name).await?;
        }
        Ok(invalid)
    }
}

impl fmt::Debug for SessionRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.named.lock();
        f.debug_struct("SessionRegistry")
            .field("sessions", &state.sessions.keys().collect::<Vec<_>>())
            .field("active", &state.active)
            .finish_non_exhaustive()
    }
}
