//! [`SessionRoutes`]: the nine REST endpoints for managing sessions, with the
//! authorisation a plain session service leaves open closed: creating a session needs the
//! admin token or the application's [`AuthorizeCreate`] hook; a caller may
//! read, extend or delete only its own session; listing, revoking all of a
//! user's and stats need the admin token or an admin session.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{delete, get, post};
use axum::{Extension, Router};
use http::header::{AUTHORIZATION, CACHE_CONTROL, SET_COOKIE};
use http::{HeaderMap, HeaderValue, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::authorize_create::{AuthorizeCreate, CreateRequest};
use crate::error::Error;
use crate::extract::rejection;
use crate::layer::{presented_id, refusal};
use crate::manager::SessionManager;
use crate::session::ServerSession;

/// Builds the session management router.
///
/// ```
/// use session_server::{SessionConfig, SessionManager, SessionRoutes};
/// let manager = SessionManager::memory(SessionConfig::default())?;
/// let router: axum::Router = SessionRoutes::new(manager).into_router();
/// # Ok::<(), session_server::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct SessionRoutes {
    manager: SessionManager,
    authorize: Option<Arc<dyn AuthorizeCreate>>,
}

#[derive(Clone)]
struct AppState {
    manager: SessionManager,
    authorize: Option<Arc<dyn AuthorizeCreate>>,
}

impl SessionRoutes {
    /// The endpoints over `manager`.
    ///
    /// ```
    /// let routes = session_server::SessionRoutes::new(session_server::SessionManager::memory(Default::default())?);
    /// # let _ = routes;
    /// # Ok::<(), session_server::Error>(())
    /// ```
    pub fn new(manager: SessionManager) -> Self {
        Self {
            manager,
            authorize: None,
        }
    }

    /// Lets `hook` authorise session creation (besides the admin token).
    ///
    /// ```
    /// #[derive(Debug)]
    /// struct AdminsOnly;
    /// #[async_trait::async_trait]
    /// impl session_server::AuthorizeCreate for AdminsOnly {
    ///     async fn may_create(&self, headers: &http::HeaderMap, _request: &session_server::CreateRequest) -> bool {
    ///         headers.contains_key("x-verified-admin")
    ///     }
    /// }
    /// let routes = session_server::SessionRoutes::new(session_server::SessionManager::memory(Default::default())?)
    ///     .authorize_create(AdminsOnly);
    /// # let _ = routes;
    /// # Ok::<(), session_server::Error>(())
    /// ```
    #[must_use]
    pub fn authorize_create(mut self, hook: impl AuthorizeCreate + 'static) -> Self {
        self.authorize = Some(Arc::new(hook));
        self
    }

    /// The router: `/sessions/create`, `/sessions/{session_id}`, `…/activity`,
    /// `…/extend`, `/sessions/user/{user_id}`, `/sessions/user/{user_id}/sessions`,
    /// `/sessions/stats`, `/sessions/validate`.
    ///
    /// ```
    /// let app: axum::Router = session_server::SessionRoutes::new(session_server::SessionManager::memory(Default::default())?).into_router();
    /// # let _ = app;
    /// # Ok::<(), session_server::Error>(())
    /// ```
    pub fn into_router(self) -> Router {
        let state = AppState {
            manager: self.manager.clone(),
            authorize: self.authorize,
        };
        Router::new()
            .route("/sessions/create", post(create))
            .route("/sessions/stats", get(stats))
            .route("/sessions/validate", get(validate))
            .route("/sessions/user/{user_id}", delete(invalidate_user))
            .route("/sessions/user/{user_id}/sessions", get(list_user))
            .route("/sessions/{session_id}", get(read).delete(invalidate))
            .route("/sessions/{session_id}/activity", post(activity))
            .route("/sessions/{session_id}/extend", post(extend))
            .route_layer(axum::middleware::from_fn_with_state(
                self.manager.clone(),
                guard,
            ))
            .layer(Extension(self.manager))
            .with_state(state)
    }
}

/// The layer's https and cross-site rules, for routes served without it.
async fn guard(
    State(manager): State<SessionManager>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    match refusal(&manager, &request) {
        Some(refused) => refused,
        None => next.run(request).await,
    }
}

fn internal(error: &Error) -> Response {
    tracing::error!(target: "session_server", error = %error, "session endpoint failed");
    rejection(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
}

fn unprocessable(error: &JsonRejection) -> Response {
    let _ = error;
    rejection(
        StatusCode::UNPROCESSABLE_ENTITY,
        "the request body is not valid",
    )
}

fn describe(session: &ServerSession) -> Value {
    let ts = |t: session_core::time::OffsetDateTime| {
        t.format(&session_core::time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    };
    json!({
        "user_id": session.user_id,
        "created_at": ts(session.created_at),
        "last_activity": ts(session.last_activity),
        "expires_at": ts(session.expires_at()),
        "timeout": session.timeout_secs,
        "metadata": session.metadata,
        "is_active": true,
    })
}

/// Whether the request carries the configured admin token.
fn has_admin_token(manager: &SessionManager, headers: &HeaderMap) -> bool {
    let Some(expected) = &manager.config().admin_token else {
        return false;
    };
    let Some(given) = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    // Constant time for equal lengths.
    given.len() == expected.len()
        && given
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// Admin: the admin token, or a live session with role `admin`.
async fn is_admin(manager: &SessionManager, headers: &HeaderMap) -> Result<bool, Response> {
    if has_admin_token(manager, headers) {
        return Ok(true);
    }
    match presented_id(manager, headers) {
        Some(id) => match manager.get(&id).await {
            Ok(Some(session)) => Ok(session.has_role("admin")),
            Ok(None) | Err(Error::MalformedId) => Ok(false),
            Err(e) => Err(internal(&e)),
        },
        None => Ok(false),
    }
}

/// For the own-session endpoints: the admin, or the holder of that very id.
async fn may_act_on(
    manager: &SessionManager,
    headers: &HeaderMap,
    path_id: &str,
) -> Result<(), Response> {
    if is_admin(manager, headers).await? {
        return Ok(());
    }
    match presented_id(manager, headers) {
        None => Err(rejection(
            StatusCode::UNAUTHORIZED,
            "a valid session is required",
        )),
        Some(own) if own == path_id => Ok(()),
        Some(own) => match manager.get(&own).await {
            Ok(Some(_)) => Err(rejection(
                StatusCode::FORBIDDEN,
                "you may only manage your own session",
            )),
            Ok(None) | Err(Error::MalformedId) => Err(rejection(
                StatusCode::UNAUTHORIZED,
                "a valid session is required",
            )),
            Err(e) => Err(internal(&e)),
        },
    }
}

fn not_found() -> Response {
    rejection(StatusCode::NOT_FOUND, "session not found")
}

#[derive(Deserialize)]
struct CreateBody {
    user_id: String,
    #[serde(default)]
    timeout: Option<u64>,
    #[serde(default)]
    metadata: Option<Value>,
}

async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<CreateBody>, JsonRejection>,
) -> Response {
    let Json(body) = match body {
        Ok(body) => body,
        Err(e) => return unprocessable(&e),
    };
    let manager = &state.manager;
    let request = CreateRequest::new(
        body.user_id,
        body.timeout,
        body.metadata.unwrap_or_else(|| json!({})),
    );
    if !has_admin_token(manager, &headers) {
        let Some(hook) = &state.authorize else {
            return rejection(
                StatusCode::FORBIDDEN,
                "you may not create sessions for this user",
            );
        };
        if !hook.may_create(&headers, &request).await {
            return rejection(
                StatusCode::FORBIDDEN,
                "you may not create sessions for this user",
            );
        }
        if !hook.may_grant(&headers, &request).await {
            return rejection(
                StatusCode::FORBIDDEN,
                "you may not grant this role or these permissions",
            );
        }
    }
    match manager
        .create(&request.user_id, request.timeout, request.metadata)
        .await
    {
        Ok((id, session)) => {
            let mut info = describe(&session);
            info["session_id"] = json!(id.as_str());
            let mut response = Json(info).into_response();
            response
                .headers_mut()
                .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            if let Some(cookie) = manager.issue_cookie(&id, &session) {
                response.headers_mut().insert(SET_COOKIE, cookie);
            }
            response
        }
        Err(
            e @ (Error::TimeoutOutOfRange { .. } | Error::InvalidUserId | Error::InvalidMetadata),
        ) => rejection(StatusCode::UNPROCESSABLE_ENTITY, &e.to_string()),
        Err(e) => internal(&e),
    }
}

async fn read(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = may_act_on(&state.manager, &headers, &id).await {
        return r;
    }
    match state.manager.get(&id).await {
        Ok(Some(session)) => Json(describe(&session)).into_response(),
        Ok(None) | Err(Error::MalformedId) => not_found(),
        Err(e) => internal(&e),
    }
}

async fn activity(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = may_act_on(&state.manager, &headers, &id).await {
        return r;
    }
    match state.manager.touch(&id).await {
        Ok(session) => Json(describe(&session)).into_response(),
        Err(Error::NotFound | Error::MalformedId) => not_found(),
        Err(e) => internal(&e),
    }
}

#[derive(Deserialize)]
struct ExtendBody {
    additional_seconds: u64,
}

async fn extend(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Json<ExtendBody>, JsonRejection>,
) -> Response {
    let Json(body) = match body {
        Ok(body) => body,
        Err(e) => return unprocessable(&e),
    };
    if let Err(r) = may_act_on(&state.manager, &headers, &id).await {
        return r;
    }
    match state.manager.extend(&id, body.additional_seconds).await {
        Ok(session) => Json(describe(&session)).into_response(),
        Err(Error::NotFound | Error::MalformedId) => not_found(),
        Err(e) => internal(&e),
    }
}

async fn invalidate(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = may_act_on(&state.manager, &headers, &id).await {
        return r;
    }
    match state.manager.invalidate(&id).await {
        Ok(true) => Json(json!({ "invalidated": true })).into_response(),
        Ok(false) | Err(Error::MalformedId) => not_found(),
        Err(e) => internal(&e),
    }
}

async fn admin_only(manager: &SessionManager, headers: &HeaderMap) -> Result<(), Response> {
    match is_admin(manager, headers).await {
        Ok(true) => Ok(()),
        Ok(false)
            if presented_id(manager, headers).is_some() || headers.contains_key(AUTHORIZATION) =>
        {
            Err(rejection(
                StatusCode::FORBIDDEN,
                "the admin role is required",
            ))
        }
        Ok(false) => Err(rejection(
            StatusCode::UNAUTHORIZED,
            "a valid session is required",
        )),
        Err(r) => Err(r),
    }
}

async fn invalidate_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(user_id): Path<String>,
) -> Response {
    if let Err(r) = admin_only(&state.manager, &headers).await {
        return r;
    }
    match state.manager.invalidate_user(&user_id).await {
        Ok(n) => Json(json!({ "user_id": user_id, "invalidated": n })).into_response(),
        Err(e @ Error::InvalidUserId) => {
            rejection(StatusCode::UNPROCESSABLE_ENTITY, &e.to_string())
        }
        Err(e) => internal(&e),
    }
}

async fn list_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(user_id): Path<String>,
) -> Response {
    if let Err(r) = admin_only(&state.manager, &headers).await {
        return r;
    }
    match state.manager.list_user(&user_id).await {
        Ok(sessions) => Json(json!({
            "user_id": user_id,
            "sessions": sessions.iter().map(describe).collect::<Vec<_>>(),
        }))
        .into_response(),
        Err(e @ Error::InvalidUserId) => {
            rejection(StatusCode::UNPROCESSABLE_ENTITY, &e.to_string())
        }
        Err(e) => internal(&e),
    }
}

async fn stats(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(r) = admin_only(&state.manager, &headers).await {
        return r;
    }
    match state.manager.stats().await {
        Ok(stats) => Json(stats).into_response(),
        Err(e) => internal(&e),
    }
}

async fn validate(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(id) = presented_id(&state.manager, &headers) else {
        return rejection(StatusCode::UNAUTHORIZED, "a valid session is required");
    };
    match state.manager.get(&id).await {
        Ok(Some(session)) => {
            let mut info = describe(&session);
            info["valid"] = json!(true);
            Json(info).into_response()
        }
        Ok(None) | Err(Error::MalformedId) => {
            rejection(StatusCode::UNAUTHORIZED, "the session is not valid")
        }
        Err(e) => internal(&e),
    }
}
