//! [`SessionLayer`]: the tower middleware — reads the session id from the
//! header (or cookie), enforces it on protected paths, skips excluded ones,
//! records activity, refuses plain http when required, and marks responses
//! that carry an id `Cache-Control: no-store`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::header::{CACHE_CONTROL, COOKIE};
use http::{HeaderMap, HeaderValue, Request, StatusCode};
use tower::{Layer, Service};

use crate::error::Error;
use crate::extract::{CurrentSession, rejection};
use crate::manager::SessionManager;

/// Adds server sessions to an axum or tower service.
///
/// ```
/// use axum::{Router, routing::get};
/// use session_server::{RequiredSession, SessionConfig, SessionLayer, SessionManager};
///
/// let manager = SessionManager::memory(SessionConfig::default());
/// let app: Router = Router::new()
///     .route("/api/chat", get(|RequiredSession(s): RequiredSession| async move { format!("hello {}", s.session.user_id) }))
///     .layer(SessionLayer::new(manager));
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
    /// let manager = session_server::SessionManager::memory(Default::default());
    /// let layer = session_server::SessionLayer::new(manager);
    /// # let _ = layer;
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

/// The session id a request carries: the configured header first, then the
/// configured cookie.
pub(crate) fn presented_id(manager: &SessionManager, headers: &HeaderMap) -> Option<String> {
    let config = manager.config();
    if let Some(value) = headers
        .get(config.header.as_str())
        .and_then(|v| v.to_str().ok())
    {
        return Some(value.trim().to_owned());
    }
    let name = manager.cookie_name()?;
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
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

impl<S> Service<Request<Body>> for SessionService<S>
where
    S: Service<Request<Body>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<Body>) -> Self::Future {
        // Take the service that was driven to readiness; leave a clone.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let manager = self.manager.clone();
        Box::pin(async move {
            let config = manager.config();
            let path = req.uri().path().to_owned();
            req.extensions_mut().insert(manager.clone());
            if config.is_excluded(&path) {
                return inner.call(req).await;
            }
            if config.require_https && !is_https(&manager, &req) {
                return Ok(rejection(StatusCode::FORBIDDEN, "https is required"));
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
                tracing::info!(target: "session_server", method = %req.method(), path = %path, session = current.is_some(), "request");
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
                    match manager.touch_loaded(key, current.session.clone()).await {
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
            if let Some(current) = current {
                req.extensions_mut().insert(current);
            }
            let mut response = inner.call(req).await?;
            if presented.is_some() || response.headers().contains_key(http::header::SET_COOKIE) {
                response
                    .headers_mut()
                    .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            }
            Ok(response.into_response())
        })
    }
}
