//! axum extractors: [`RequiredSession`] (401), [`OptionalSession`],
//! [`RequireRole`] and [`RequirePermission`] (403).

use std::marker::PhantomData;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Json, Response};
use http::StatusCode;
use http::request::Parts;
use serde_json::json;

use crate::error::Error;
use crate::id::SessionId;
use crate::layer::presented_id;
use crate::manager::SessionManager;
use crate::session::ServerSession;

/// A JSON error response `{"detail": …}`.
pub(crate) fn rejection(status: StatusCode, detail: &str) -> Response {
    (status, Json(json!({ "detail": detail }))).into_response()
}

/// The request's session, as found by the layer.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CurrentSession {
    /// Its id (the one the client presented).
    pub id: SessionId,
    /// The session (shared with the layer and the session cache).
    pub session: Arc<ServerSession>,
}

impl CurrentSession {
    pub(crate) fn new(id: &str, session: Arc<ServerSession>) -> Self {
        Self {
            id: SessionId::parse(id).expect("validated by the lookup"),
            session,
        }
    }
}

/// Why an extractor refused a request.
#[derive(Debug)]
pub struct SessionRejection {
    status: StatusCode,
    detail: &'static str,
}

impl SessionRejection {
    pub(crate) fn new(status: StatusCode, detail: &'static str) -> Self {
        Self { status, detail }
    }
}

impl IntoResponse for SessionRejection {
    fn into_response(self) -> Response {
        rejection(self.status, self.detail)
    }
}

async fn find<S: Sync>(
    parts: &mut Parts,
    _state: &S,
) -> Result<Option<CurrentSession>, SessionRejection> {
    if let Some(current) = parts.extensions.get::<CurrentSession>() {
        return Ok(Some(current.clone()));
    }
    // Not set by the layer (an unprotected path without a header, or the
    // layer skipped): look it up if we can.
    let Some(manager) = parts.extensions.get::<SessionManager>().cloned() else {
        return Err(SessionRejection {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            detail: "the session layer is not installed",
        });
    };
    let Some(id) = presented_id(&manager, &parts.headers) else {
        return Ok(None);
    };
    match manager.get(&id).await {
        Ok(Some(session)) => Ok(Some(CurrentSession::new(&id, Arc::new(session)))),
        Ok(None) | Err(Error::MalformedId) => Ok(None),
        Err(_) => Err(SessionRejection {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            detail: "internal error",
        }),
    }
}

/// A handler argument that requires a valid session (401 otherwise).
///
/// ```
/// use session_server::RequiredSession;
/// async fn chat(RequiredSession(current): RequiredSession) -> String {
///     format!("Hello {}!", current.session.user_id)
/// }
/// ```
#[derive(Debug, Clone)]
pub struct RequiredSession(pub CurrentSession);

impl<S: Send + Sync> FromRequestParts<S> for RequiredSession {
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        find(parts, state).await?.map(Self).ok_or(SessionRejection {
            status: StatusCode::UNAUTHORIZED,
            detail: "a valid session is required",
        })
    }
}

/// A handler argument with the session if there is a valid one.
///
/// ```
/// use session_server::OptionalSession;
/// async fn info(OptionalSession(current): OptionalSession) -> String {
///     match current {
///         Some(c) => format!("Hello {}!", c.session.user_id),
///         None => "Hello anonymous user!".into(),
///     }
/// }
/// ```
#[derive(Debug, Clone)]
pub struct OptionalSession(pub Option<CurrentSession>);

impl<S: Send + Sync> FromRequestParts<S> for OptionalSession {
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        find(parts, state).await.map(Self)
    }
}

/// A role name for [`RequireRole`].
pub trait RoleName: Send + Sync + 'static {
    /// The value of the metadata's `role`.
    const ROLE: &'static str;
}

/// The `admin` role.
#[derive(Debug, Clone, Copy)]
pub struct Admin;
impl RoleName for Admin {
    const ROLE: &'static str = "admin";
}

/// The `developer` role.
#[derive(Debug, Clone, Copy)]
pub struct Developer;
impl RoleName for Developer {
    const ROLE: &'static str = "developer";
}

/// A handler argument that requires a session with role `R` (401 without a
/// session, 403 with another role).
///
/// ```
/// use session_server::{Admin, RequireRole};
/// async fn admin(RequireRole(current, ..): RequireRole<Admin>) -> String {
///     format!("admin {}", current.session.user_id)
/// }
/// ```
#[derive(Debug, Clone)]
pub struct RequireRole<R>(pub CurrentSession, pub PhantomData<R>);

impl<S: Send + Sync, R: RoleName> FromRequestParts<S> for RequireRole<R> {
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let RequiredSession(current) = RequiredSession::from_request_parts(parts, state).await?;
        if current.session.has_role(R::ROLE) {
            Ok(Self(current, PhantomData))
        } else {
            Err(SessionRejection {
                status: StatusCode::FORBIDDEN,
                detail: "your role does not allow this",
            })
        }
    }
}

/// A permission name for [`RequirePermission`].
pub trait PermissionName: Send + Sync + 'static {
    /// The entry in the metadata's `permissions`.
    const PERMISSION: &'static str;
}

/// The `read` permission.
#[derive(Debug, Clone, Copy)]
pub struct Read;
impl PermissionName for Read {
    const PERMISSION: &'static str = "read";
}

/// The `write` permission.
#[derive(Debug, Clone, Copy)]
pub struct Write;
impl PermissionName for Write {
    const PERMISSION: &'static str = "write";
}

/// A handler argument that requires a session holding permission `P` (401
/// without a session, 403 without the permission).
///
/// ```
/// use session_server::{RequirePermission, Write};
/// async fn write(RequirePermission(current, ..): RequirePermission<Write>) -> &'static str {
///     "Write access granted"
/// }
/// ```
#[derive(Debug, Clone)]
pub struct RequirePermission<P>(pub CurrentSession, pub PhantomData<P>);

impl<S: Send + Sync, P: PermissionName> FromRequestParts<S> for RequirePermission<P> {
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let RequiredSession(current) = RequiredSession::from_request_parts(parts, state).await?;
        if current.session.has_permission(P::PERMISSION) {
            Ok(Self(current, PhantomData))
        } else {
            Err(SessionRejection {
                status: StatusCode::FORBIDDEN,
                detail: "you lack the permission for this",
            })
        }
    }
}
