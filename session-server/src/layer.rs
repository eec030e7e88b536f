//! [`SessionLayer`]: the tower middleware — reads the session id from the
//! header (or cookie), enforces it on protected paths, skips excluded ones,
//! records activity, refuses plain http when required and cross-site
//! requests riding on the session cookie, and marks responses that carry an
//! id `Cache-Control: no-store`. Generic over request and response bodies,
//! so it sits over or under other tower layers.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::BoxError;
use axum::body::{Body, Bytes};
use axum::response::Response;
use http::header::{CACHE_CONTROL, COOKIE, SET_COOKIE};
use http::{HeaderMap, HeaderValue, Request, StatusCode};
use tower::{Layer, Service};

use crate::error::Error;
use crate::extract::{CurrentSession, rejection};
use crate::handle::SessionHandle;
use crate::manager::SessionManager;

/// Adds server sessions to an axum or tower service.
///
/// ```
/// use axum::{Router, routing::get};
/// use session_server::{RequiredSession, SessionConfig, SessionLayer, SessionManager};
///
/// let manager = SessionManager::memory(SessionConfig::default())?;
/// let app: Router = Router::new()
///     .route("/api/chat", get(|RequiredSession(s): RequiredSession| async move { format!("hello {}", s.session.user_id) }))
///     .layer(SessionLayer::new(manager));
/// # Ok::<(), session_server::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct SessionLayer {
    manager: SessionManager,
}

impl SessionLayer {
    /// A layer over `manager` (its configuration decides the paths, header,
    /// cookie and https rules).
    ///
    /// ```
    /// let manager = session_server::SessionManager::memory(Default::default())?;
    /// let layer = session_server::SessionLayer::new(manager);
    /// # let _ = layer;
    /// # Ok::<(), session_server::Error>(())
    /// ```
    pub fn new(manager: SessionManager) -> Self {
        Self { manager }
    }
}

impl<S> Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService {
            inner,
            manager: self.manager.clone(),
        }
    }
}

/// The service [`SessionLayer`] produces.
#[derive(Debug, Clone)]
pub struct SessionService<S> {
    inner: S,
    manager: SessionManager,
}

/// How a request carries its session id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Presented {
    /// The id as sent.
    pub(crate) id: String,
    /// Whether it came in the cookie (a browser sends cookies on its own;
    /// a header is set by the page or client that means to).
    pub(crate) by_cookie: bool,
}

/// The session id a request carries: the configured header first, then the
/// configured cookie.
pub(crate) fn presented(manager: &SessionManager, headers: &HeaderMap) -> Option<Presented> {
    let config = manager.config();
    if let Some(value) = headers
        .get(config.header.as_str())
        .and_then(|v| v.to_str().ok())
    {
        return Some(Presented {
            id: value.trim().to_owned(),
            by_cookie: false,
        });
    }
    let name = manager.cookie_name()?;
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(std::result::Result::ok)
        .find(|c| c.name() == name)
        .map(|c| Presented {
            id: c.value().to_owned(),
            by_cookie: true,
        })
}

/// [`presented`]'s id alone.
pub(crate) fn presented_id(manager: &SessionManager, headers: &HeaderMap) -> Option<String> {
    presented(manager, headers).map(|p| p.id)
}

fn is_https<B>(manager: &SessionManager, req: &Request<B>) -> bool {
    if req.uri().scheme_str() == Some("https") {
        return true;
    }
    manager.config().trust_proxy
        && req
            .headers()
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(',')
                    .next()
                    .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"))
            })
}

/// The rules for every request that may read or issue a session id, on
/// every path (excluded ones and the REST routes included): plain http is
/// refused when https is required, and an unsafe request carrying the
/// session cookie must come from this origin or an allowed one.
pub(crate) fn refusal<B>(manager: &SessionManager, req: &Request<B>) -> Option<Response> {
    let config = manager.config();
    let https = is_https(manager, req);
    if config.require_https && !https {
        return Some(rejection(StatusCode::FORBIDDEN, "https is required"));
    }
    if manager.cookie_name().is_some()
        && crate::csrf::is_unsafe(req.method())
        && presented(manager, req.headers()).is_some_and(|p| p.by_cookie)
        && crate::csrf::is_forged(
            req.method(),
            req.uri(),
            req.headers(),
            https,
            &config.csrf_allowed_origins,
        )
    {
        return Some(rejection(
            StatusCode::FORBIDDEN,
            "cross-site requests may not use the session cookie",
        ));
    }
    None
}

/// `path` as it may be logged: any segment that is, or stands where the
/// REST routes put, a session id becomes `[session id]`.
pub(crate) fn loggable_path(path: &str) -> std::borrow::Cow<'_, str> {
    const ROUTE_WORDS: [&str; 4] = ["create", "stats", "validate", "user"];
    let segments: Vec<&str> = path.split('/').collect();
    let secret = |i: usize, segment: &str| {
        crate::id::SessionId::parse(segment).is_ok()
            || (i > 0
                && segments[i - 1] == "sessions"
                && !segment.is_empty()
                && !ROUTE_WORDS.contains(&segment))
    };
    if !segments.iter().enumerate().any(|(i, s)| secret(i, s)) {
        return std::borrow::Cow::Borrowed(path);
    }
    let redacted: Vec<&str> = segments
        .iter()
        .enumerate()
        .map(|(i, s)| if secret(i, s) { "[session id]" } else { s })
        .collect();
    std::borrow::Cow::Owned(redacted.join("/"))
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for SessionService<S>
where
    S: Service<Request<ReqBody>, Response = http::Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        // Take the service that was driven to readiness; leave a clone.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let manager = self.manager.clone();
        Box::pin(async move {
            let config = manager.config();
            let path = req.uri().path().to_owned();
            req.extensions_mut().insert(manager.clone());
            if let Some(refused) = refusal(&manager, &req) {
                return Ok(refused);
            }
            if config.is_excluded(&path) {
                // Not looked up here; a handler that asks gets it looked up.
                let handle = SessionHandle::new(
                    manager.clone(),
                    presented_id(&manager, req.headers()),
                    false,
                    None,
                );
                req.extensions_mut().insert(handle.clone());
                let response = into_axum(inner.call(req).await?);
                return Ok(finish(&handle, response).await);
            }
            let presented = presented_id(&manager, req.headers());
            let current = match &presented {
                Some(id) => match manager.lookup(id).await {
                    Ok(Some((key, session))) => Some((key, CurrentSession::new(id, session))),
                    Ok(None) | Err(Error::MalformedId) => None,
                    Err(error) => {
                        tracing::error!(target: "session_server", error = %error, "session lookup failed");
                        return Ok(rejection(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "internal error",
                        ));
                    }
                },
                None => None,
            };
            if config.log_requests {
                tracing::info!(target: "session_server", method = %req.method(), path = %loggable_path(&path), session = current.is_some(), "request");
            }
            if config.is_protected(&path) && current.is_none() {
                let mut response =
                    rejection(StatusCode::UNAUTHORIZED, "a valid session is required");
                if presented.is_some() {
                    response
                        .headers_mut()
                        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
                }
                return Ok(response);
            }
            let current = match current {
                Some((key, mut current))
                    if config.auto_update && manager.due_for_touch(&current.session) =>
                {
                    match manager
                        .touch_loaded(key, Arc::clone(&current.session))
                        .await
                    {
                        Ok(session) => current.session = session,
                        Err(Error::NotFound) => {
                            return Ok(rejection(StatusCode::UNAUTHORIZED, "the session ended"));
                        }
                        Err(error) => {
                            tracing::warn!(target: "session_server", error = %error, "activity update failed")
                        }
                    }
                    Some(current)
                }
                other => other.map(|(_, current)| current),
            };
            let handle = SessionHandle::new(
                manager.clone(),
                None,
                true,
                current.as_ref().map(|c| (c.id.clone(), c.session.clone())),
            );
            req.extensions_mut().insert(handle.clone());
            if let Some(current) = current {
                req.extensions_mut().insert(current);
            }
            let response = into_axum(inner.call(req).await?);
            let mut response = finish(&handle, response).await;
            if presented.is_some() || response.headers().contains_key(http::header::SET_COOKIE) {
                response
                    .headers_mut()
                    .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            }
            Ok(response)
        })
    }
}

/// Writes what the handler changed in the session and sets or clears the
/// cookie; a failed write turns the response into a 500 (the handler
/// believed its change was kept).
async fn finish(handle: &SessionHandle, mut response: Response) -> Response {
    match handle.finish().await {
        Ok(Some(cookie)) => {
            response.headers_mut().append(SET_COOKIE, cookie);
            response
                .headers_mut()
                .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Ok(None) => response,
        Err(error) => {
            tracing::error!(target: "session_server", error = %error, "saving the session failed");
            rejection(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }
    }
}

/// The inner service's response with its body boxed, whatever its type.
fn into_axum<B>(response: http::Response<B>) -> Response
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    response.map(Body::new)
}
