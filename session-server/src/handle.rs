//! [`SessionHandle`]: a handler's way into its request's session — read and
//! write values, log a user in, cycle the id, log out. The layer makes one
//! per request and, once the handler has answered, writes the values that
//! changed (once, and only if something changed) and sets or clears the
//! cookie.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::FromRequestParts;
use http::request::Parts;
use http::{HeaderValue, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::Mutex;

use crate::error::{Error, Result};
use crate::extract::SessionRejection;
use crate::id::SessionId;
use crate::login::Login;
use crate::manager::SessionManager;
use crate::session::ServerSession;

/// The changes a request made to its session's values.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct DataEdits {
    /// Every value was removed first.
    pub(crate) cleared: bool,
    /// Then these were set (`Some`) or removed (`None`).
    pub(crate) changes: BTreeMap<String, Option<Value>>,
}

impl DataEdits {
    fn is_empty(&self) -> bool {
        !self.cleared && self.changes.is_empty()
    }

    /// Applies the edits to `data`, leaving keys they don't name as they are.
    pub(crate) fn apply(&self, data: &mut serde_json::Map<String, Value>) {
        if self.cleared {
            data.clear();
        }
        for (key, change) in &self.changes {
            match change {
                Some(value) => {
                    data.insert(key.clone(), value.clone());
                }
                None => {
                    data.remove(key);
                }
            }
        }
    }
}

/// What the response must tell the browser about the cookie.
#[derive(Debug, Clone)]
enum CookieChange {
    Keep,
    Set(SessionId, Arc<ServerSession>),
    Expire,
}

#[derive(Debug)]
struct State {
    /// The id the request presented, until looked up.
    presented: Option<String>,
    /// Whether `current` reflects the store (the layer looked it up, or we did).
    loaded: bool,
    current: Option<(SessionId, Arc<ServerSession>)>,
    edits: DataEdits,
    cookie: CookieChange,
}

/// The request's session, for handlers: typed values in and out, login,
/// id cycling and logout. Needs [`SessionLayer`](crate::SessionLayer).
///
/// Values live in [`ServerSession::data`], apart from the role and
/// permissions, so no value a handler writes can grant a privilege. They
/// need a session: log the user in first ([`Error::NoSession`] otherwise).
///
/// Changes are written once, after the handler answered, and only when
/// there are any; a request that only reads writes nothing. Concurrent
/// requests of one session that write different keys keep each other's
/// values: the write re-reads the stored session and applies just this
/// request's changes, one request at a time per session in this process.
/// Two *processes* writing the same session at the same instant: the later
/// write wins for the keys both changed, and a key only the earlier one
/// changed can be lost if their store round trips overlap.
///
/// ```
/// use axum::{Router, routing::{get, post}};
/// use session_server::{Login, SessionConfig, SessionHandle, SessionLayer, SessionManager};
///
/// async fn login(session: SessionHandle) -> Result<String, session_server::Error> {
///     // …check the user's password first…
///     session.login(Login::user("ada").role("customer")).await?;
///     Ok("welcome".into())
/// }
///
/// async fn add_to_cart(session: SessionHandle) -> Result<String, session_server::Error> {
///     let mut cart: Vec<String> = session.get("cart").await?.unwrap_or_default();
///     cart.push("book".into());
///     session.insert("cart", &cart).await?;
///     Ok(format!("{} items", cart.len()))
/// }
///
/// async fn logout(session: SessionHandle) -> Result<&'static str, session_server::Error> {
///     session.logout().await?;
///     Ok("bye")
/// }
///
/// let config = SessionConfig::builder().cookie_name("sid").build()?;
/// let manager = SessionManager::memory(config)?;
/// let app: Router = Router::new()
///     .route("/login", post(login))
///     .route("/cart", post(add_to_cart))
///     .route("/logout", post(logout))
///     .layer(SessionLayer::new(manager));
/// # Ok::<(), session_server::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct SessionHandle {
    manager: SessionManager,
    state: Arc<Mutex<State>>,
    /// Set by anything that may leave work for [`finish`](Self::finish),
    /// so a request that never changed the session skips it.
    touched: Arc<AtomicBool>,
}

impl SessionHandle {
    /// A handle for a request that presented `presented`; `current` is what
    /// the layer found for it, if it looked (`loaded`).
    pub(crate) fn new(
        manager: SessionManager,
        presented: Option<String>,
        loaded: bool,
        current: Option<(SessionId, Arc<ServerSession>)>,
    ) -> Self {
        Self {
            touched: Arc::new(AtomicBool::new(false)),
            manager,
            state: Arc::new(Mutex::new(State {
                presented,
                loaded,
                current,
                edits: DataEdits::default(),
                cookie: CookieChange::Keep,
            })),
        }
    }

    /// Looks the presented id up if the layer didn't (an excluded path).
    async fn load(&self, state: &mut State) -> Result<()> {
        if state.loaded {
            return Ok(());
        }
        state.loaded = true;
        let Some(presented) = state.presented.take() else {
            return Ok(());
        };
        let Ok(id) = SessionId::parse(&presented) else {
            return Ok(());
        };
        state.current = self
            .manager
            .lookup(id.as_str())
            .await?
            .map(|(_, session)| (id, session));
        Ok(())
    }

    /// The session's id, if there is a session.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when looking it up failed.
    ///
    /// ```no_run
    /// async fn handler(session: session_server::SessionHandle) -> Result<String, session_server::Error> {
    ///     Ok(if session.id().await?.is_some() { "signed in" } else { "anonymous" }.into())
    /// }
    /// ```
    pub async fn id(&self) -> Result<Option<SessionId>> {
        let mut state = self.state.lock().await;
        self.load(&mut state).await?;
        Ok(state.current.as_ref().map(|(id, _)| id.clone()))
    }

    /// The session as this request sees it (its own changes included).
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when looking it up failed.
    ///
    /// ```no_run
    /// async fn whoami(session: session_server::SessionHandle) -> Result<String, session_server::Error> {
    ///     Ok(session.session().await?.map(|s| s.user_id).unwrap_or_default())
    /// }
    /// ```
    pub async fn session(&self) -> Result<Option<ServerSession>> {
        let mut state = self.state.lock().await;
        self.load(&mut state).await?;
        Ok(state.current.as_ref().map(|(_, session)| {
            let mut session = ServerSession::clone(session);
            state.edits.apply(&mut session.data);
            session
        }))
    }

    /// The value under `key`, if the session has one.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidValue`] when the stored value isn't a `T`;
    /// [`Error::Store`] when looking the session up failed.
    ///
    /// ```no_run
    /// async fn page(session: session_server::SessionHandle) -> Result<String, session_server::Error> {
    ///     let visits: u32 = session.get("visits").await?.unwrap_or(0);
    ///     Ok(visits.to_string())
    /// }
    /// ```
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        let mut state = self.state.lock().await;
        self.load(&mut state).await?;
        let value = match state.edits.changes.get(key) {
            Some(change) => change.clone(),
            None if state.edits.cleared => None,
            None => state
                .current
                .as_ref()
                .and_then(|(_, session)| session.data.get(key).cloned()),
        };
        value
            .map(|v| {
                serde_json::from_value(v).map_err(|_| Error::InvalidValue {
                    key: key.to_owned(),
                })
            })
            .transpose()
    }

    /// Sets `key` to `value` (written when the handler has answered).
    ///
    /// # Errors
    ///
    /// [`Error::NoSession`] without a session; [`Error::InvalidValue`] when
    /// `value` doesn't serialize to JSON or holds a NUL character;
    /// [`Error::Store`] when looking the session up failed.
    ///
    /// ```no_run
    /// async fn remember(session: session_server::SessionHandle) -> Result<(), session_server::Error> {
    ///     session.insert("last_page", "/reports/2026").await
    /// }
    /// ```
    pub async fn insert<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<()> {
        let invalid = || Error::InvalidValue {
            key: key.to_owned(),
        };
        let value = serde_json::to_value(value).map_err(|_| invalid())?;
        if key.contains('\0') || crate::manager::holds_nul(&value) {
            return Err(invalid());
        }
        self.edit(|edits| {
            edits.changes.insert(key.to_owned(), Some(value));
        })
        .await
    }

    /// Removes `key`; returns the value it had, if any and if it is a `T`.
    ///
    /// # Errors
    ///
    /// [`Error::NoSession`] without a session; [`Error::Store`] when
    /// looking the session up failed.
    ///
    /// ```no_run
    /// async fn flash(session: session_server::SessionHandle) -> Result<String, session_server::Error> {
    ///     Ok(session.remove::<String>("flash").await?.unwrap_or_default())
    /// }
    /// ```
    pub async fn remove<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        let old = self.get::<Value>(key).await?;
        self.edit(|edits| {
            edits.changes.insert(key.to_owned(), None);
        })
        .await?;
        Ok(old.and_then(|v| serde_json::from_value(v).ok()))
    }

    /// Removes every value (the session itself stays).
    ///
    /// # Errors
    ///
    /// [`Error::NoSession`] without a session; [`Error::Store`] when
    /// looking the session up failed.
    ///
    /// ```no_run
    /// async fn empty(session: session_server::SessionHandle) -> Result<(), session_server::Error> {
    ///     session.clear().await
    /// }
    /// ```
    pub async fn clear(&self) -> Result<()> {
        self.edit(|edits| {
            edits.cleared = true;
            edits.changes.clear();
        })
        .await
    }

    async fn edit(&self, change: impl FnOnce(&mut DataEdits)) -> Result<()> {
        let mut state = self.state.lock().await;
        self.load(&mut state).await?;
        if state.current.is_none() {
            return Err(Error::NoSession);
        }
        self.touched.store(true, Ordering::Relaxed);
        change(&mut state.edits);
        Ok(())
    }

    /// Starts a session for the user `login` names (after your handler has
    /// checked who they are). A session the request already had ends: a new
    /// id for every login, so an id planted before it is worthless after.
    /// Values this request set carry over. The layer sets the cookie; the
    /// returned id is for clients that use the header instead.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidUserId`], [`Error::InvalidMetadata`],
    /// [`Error::TimeoutOutOfRange`], [`Error::Store`].
    ///
    /// ```no_run
    /// use session_server::{Login, SessionHandle};
    /// async fn login(session: SessionHandle) -> Result<String, session_server::Error> {
    ///     let id = session.login(Login::user("ada").role("admin")).await?;
    ///     Ok(id.as_str().to_owned())
    /// }
    /// ```
    pub async fn login(&self, login: Login) -> Result<SessionId> {
        let mut state = self.state.lock().await;
        self.load(&mut state).await?;
        let (user_id, timeout, metadata) = login.into_parts();
        let (id, session) = self.manager.create(&user_id, timeout, metadata).await?;
        self.touched.store(true, Ordering::Relaxed);
        if let Some((old, _)) = state.current.take() {
            self.manager.invalidate(old.as_str()).await?;
        }
        let session = Arc::new(session);
        state.cookie = CookieChange::Set(id.clone(), Arc::clone(&session));
        state.current = Some((id.clone(), session));
        Ok(id)
    }

    /// Gives the session a new id, keeping its values, and ends the old id
    /// — do it whenever the user's privileges change. `metadata`, when
    /// given, replaces the session's role, permissions and other metadata.
    ///
    /// # Errors
    ///
    /// [`Error::NoSession`] without a session; [`Error::InvalidMetadata`],
    /// [`Error::NotFound`] if it ended meanwhile; [`Error::Store`].
    ///
    /// ```no_run
    /// async fn elevate(session: session_server::SessionHandle) -> Result<(), session_server::Error> {
    ///     // …after the user re-entered their password…
    ///     session.cycle_id(Some(serde_json::json!({"role": "admin"}))).await?;
    ///     Ok(())
    /// }
    /// ```
    pub async fn cycle_id(&self, metadata: Option<Value>) -> Result<SessionId> {
        let mut state = self.state.lock().await;
        self.load(&mut state).await?;
        let Some((old, _)) = &state.current else {
            return Err(Error::NoSession);
        };
        let (id, session) = self.manager.rotate(old.as_str(), metadata).await?;
        self.touched.store(true, Ordering::Relaxed);
        let session = Arc::new(session);
        state.cookie = CookieChange::Set(id.clone(), Arc::clone(&session));
        state.current = Some((id.clone(), session));
        Ok(id)
    }

    /// Ends the session: deleted from the store, the cookie expired, this
    /// request's unsaved values dropped. Returns whether there was one.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    ///
    /// ```no_run
    /// async fn logout(session: session_server::SessionHandle) -> Result<(), session_server::Error> {
    ///     session.logout().await?;
    ///     Ok(())
    /// }
    /// ```
    pub async fn logout(&self) -> Result<bool> {
        let mut state = self.state.lock().await;
        // Even a session the store can't be asked about gets its cookie
        // expired.
        self.touched.store(true, Ordering::Relaxed);
        state.cookie = CookieChange::Expire;
        state.edits = DataEdits::default();
        self.load(&mut state).await?;
        match state.current.take() {
            Some((id, _)) => self.manager.invalidate(id.as_str()).await,
            None => Ok(false),
        }
    }

    /// After the handler: writes the changed values, and says which
    /// `Set-Cookie` the response needs.
    pub(crate) async fn finish(&self) -> Result<Option<HeaderValue>> {
        if !self.touched.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let mut state = self.state.lock().await;
        let edits = std::mem::take(&mut state.edits);
        if !edits.is_empty()
            && let Some((id, _)) = &state.current
        {
            self.manager.write_data(id, &edits).await?;
        }
        Ok(
            match std::mem::replace(&mut state.cookie, CookieChange::Keep) {
                CookieChange::Keep => None,
                CookieChange::Set(id, session) => self.manager.issue_cookie(&id, &session),
                CookieChange::Expire => self.manager.expire_cookie(),
            },
        )
    }
}

impl<S: Send + Sync> FromRequestParts<S> for SessionHandle {
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<SessionHandle>()
            .cloned()
            .ok_or(SessionRejection::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the session layer is not installed",
            ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn edits_touch_only_the_keys_they_name() {
        let mut data = json!({"a": 1, "b": 2}).as_object().unwrap().clone();
        let mut edits = DataEdits::default();
        edits.changes.insert("a".into(), None);
        edits.changes.insert("c".into(), Some(json!(3)));
        edits.apply(&mut data);
        assert_eq!(Value::Object(data.clone()), json!({"b": 2, "c": 3}));
        let cleared = DataEdits {
            cleared: true,
            changes: BTreeMap::from([("d".to_owned(), Some(json!(4)))]),
        };
        cleared.apply(&mut data);
        assert_eq!(Value::Object(data), json!({"d": 4}));
        assert!(DataEdits::default().is_empty());
    }
}
