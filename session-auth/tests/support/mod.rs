//! A loopback identity provider and API for the session tests.
//!
//! `/token` issues `at-N`/`rt-N` pairs (password and refresh grants), counts
//! its calls, rotates refresh tokens, and can be held shut or made to fail;
//! `/logout` revokes; `/api/...` answers 200 for a live bearer token and 401
//! otherwise, recording the headers it saw.

#![allow(dead_code, unreachable_pub)]

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};

use async_trait::async_trait;
use axum::Router;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{any, post};
use parking_lot::Mutex;
use serde_json::json;
use session_auth::SignIn;
use session_core::{Error as CoreError, SharedClock, TokenSet};
use tokio::sync::{Notify, Semaphore};

pub async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

#[derive(Default)]
pub struct IdpState {
    pub token_calls: AtomicUsize,
    pub password_grants: AtomicUsize,
    pub refresh_grants: AtomicUsize,
    pub revocations: AtomicUsize,
    pub invalid_grants: AtomicUsize,
    pub api_hits: AtomicUsize,
    next: AtomicUsize,
    pub expires_in: AtomicI64,
    live_access: Mutex<HashSet<String>>,
    live_refresh: Mutex<HashSet<String>>,
    /// When set, /token waits for a permit before answering.
    gate: Mutex<Option<Arc<Semaphore>>>,
    pub entered: Notify,
    /// When set, /token answers with this status.
    pub fail_with: Mutex<Option<u16>>,
    /// API answers 401 whatever the token.
    pub always_401: AtomicBool,
    /// Each access token works for this many API calls, then is revoked.
    pub uses_per_token: Mutex<Option<usize>>,
    uses: Mutex<HashMap<String, usize>>,
    pub seen: Mutex<Vec<HeaderMap>>,
    pub seen_uris: Mutex<Vec<String>>,
}

impl IdpState {
    /// Forgets every refresh token (they all become `invalid_grant`).
    pub fn live_refresh_clear(&self) {
        self.live_refresh.lock().clear();
    }
}

#[derive(Clone, Default)]
pub struct Idp(pub Arc<IdpState>);

impl Idp {
    pub fn new() -> Self {
        let idp = Self::default();
        idp.0.expires_in.store(3600, Ordering::SeqCst);
        idp
    }

    /// Registers an access/refresh pair as live (as if issued earlier).
    pub fn issue(&self, access: &str, refresh: Option<&str>) {
        self.0.live_access.lock().insert(access.to_owned());
        if let Some(r) = refresh {
            self.0.live_refresh.lock().insert(r.to_owned());
        }
    }

    pub fn revoke(&self, access: &str) {
        self.0.live_access.lock().remove(access);
    }

    /// Holds /token until `release` is called.
    pub fn close_gate(&self) -> Arc<Semaphore> {
        let gate = Arc::new(Semaphore::new(0));
        *self.0.gate.lock() = Some(gate.clone());
        gate
    }

    pub fn token_calls(&self) -> usize {
        self.0.token_calls.load(Ordering::SeqCst)
    }

    /// Whether `access` is a live access token.
    pub fn is_live(&self, access: &str) -> bool {
        self.0.live_access.lock().contains(access)
    }

    pub fn api_hits(&self) -> usize {
        self.0.api_hits.load(Ordering::SeqCst)
    }

    pub fn router(&self) -> Router {
        Router::new()
            .route("/token", post(token))
            .route("/logout", post(logout))
            .route("/api/{*rest}", any(api))
            .with_state(self.clone())
    }

    pub async fn start(&self) -> String {
        serve(self.router()).await
    }
}

async fn token(State(idp): State<Idp>, Form(form): Form<HashMap<String, String>>) -> Response {
    let s = &idp.0;
    s.token_calls.fetch_add(1, Ordering::SeqCst);
    s.entered.notify_waiters();
    let gate = s.gate.lock().clone();
    if let Some(gate) = gate {
        gate.acquire().await.unwrap().forget();
    }
    if let Some(status) = *s.fail_with.lock() {
        return (StatusCode::from_u16(status).unwrap(), "unavailable").into_response();
    }
    match form.get("grant_type").map(String::as_str) {
        Some("password") => {
            s.password_grants.fetch_add(1, Ordering::SeqCst);
            // A wrong password is `invalid_grant` (RFC 6749 §5.2), the same
            // code as a dead refresh token.
            if form.get("password").map(String::as_str) != Some("correct horse") {
                return (
                    StatusCode::BAD_REQUEST,
                    Json(json!({"error": "invalid_grant"})),
                )
                    .into_response();
            }
        }
        Some("refresh_token") => {
            s.refresh_grants.fetch_add(1, Ordering::SeqCst);
            let presented = form.get("refresh_token").cloned().unwrap_or_default();
            // Rotation with reuse detection: each refresh token works once.
            if !s.live_refresh.lock().remove(&presented) {
                s.invalid_grants.fetch_add(1, Ordering::SeqCst);
                return (
                    StatusCode::BAD_REQUEST,
                    Json(json!({"error": "invalid_grant"})),
                )
                    .into_response();
            }
        }
        _ => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": "unsupported_grant_type"})),
            )
                .into_response();
        }
    }
    let n = s.next.fetch_add(1, Ordering::SeqCst) + 1;
    let (access, refresh) = (format!("at-{n}"), format!("rt-{n}"));
    idp.issue(&access, Some(&refresh));
    Json(json!({
        "access_token": access,
        "refresh_token": refresh,
        "token_type": "bearer",
        "expires_in": s.expires_in.load(Ordering::SeqCst),
    }))
    .into_response()
}

async fn logout(State(idp): State<Idp>, headers: HeaderMap) -> StatusCode {
    idp.0.revocations.fetch_add(1, Ordering::SeqCst);
    if let Some(token) = bearer(&headers) {
        idp.revoke(&token);
    }
    StatusCode::NO_CONTENT
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::to_owned)
}

async fn api(State(idp): State<Idp>, uri: Uri, headers: HeaderMap) -> Response {
    let s = &idp.0;
    s.api_hits.fetch_add(1, Ordering::SeqCst);
    s.seen.lock().push(headers.clone());
    s.seen_uris.lock().push(uri.to_string());
    let token = bearer(&headers).unwrap_or_default();
    let live = s.live_access.lock().contains(&token);
    if s.always_401.load(Ordering::SeqCst) || !live {
        return (StatusCode::UNAUTHORIZED, "unauthorized").into_response();
    }
    if let Some(limit) = *s.uses_per_token.lock() {
        let mut uses = s.uses.lock();
        let n = uses.entry(token.clone()).or_default();
        *n += 1;
        if *n >= limit {
            idp.revoke(&token);
        }
    }
    Json(json!({"token": token, "path": uri.path()})).into_response()
}

/// A [`SignIn`] for the loopback identity provider.
#[derive(Debug, Clone)]
pub struct IdpLogin {
    pub base: String,
    pub http: reqwest::Client,
}

impl IdpLogin {
    pub fn new(base: &str) -> Self {
        Self {
            base: base.to_owned(),
            http: reqwest::Client::new(),
        }
    }

    async fn grant(&self, form: &[(&str, &str)]) -> session_core::Result<TokenSet> {
        let sent_at = SharedClock::default().now();
        let response = self
            .http
            .post(format!("{}/token", self.base))
            .form(form)
            .send()
            .await
            .map_err(|e| {
                CoreError::token_provider(
                    "token endpoint unreachable",
                    true,
                    Some(e.without_url().into()),
                )
            })?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| {
            CoreError::token_provider(
                "token response unreadable",
                true,
                Some(e.without_url().into()),
            )
        })?;
        if status.is_success() {
            return TokenSet::from_json_response(&body, sent_at);
        }
        let error = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_owned));
        match (status.as_u16(), error.as_deref()) {
            (_, Some("invalid_grant")) => Err(CoreError::InvalidGrant { description: None }),
            (401, _) => Err(CoreError::NotAuthenticated {
                reason: "the credentials were rejected",
            }),
            (s, _) if s >= 500 => Err(CoreError::token_provider(
                "token endpoint unavailable",
                true,
                None,
            )),
            _ => Err(CoreError::token_provider(
                "token request refused",
                false,
                None,
            )),
        }
    }
}

#[async_trait]
impl SignIn for IdpLogin {
    async fn sign_in_with_password(
        &self,
        username: &str,
        password: &str,
    ) -> session_core::Result<TokenSet> {
        self.grant(&[
            ("grant_type", "password"),
            ("username", username),
            ("password", password),
        ])
        .await
    }

    async fn refresh(&self, tokens: &TokenSet) -> session_core::Result<TokenSet> {
        let refresh = tokens
            .refresh_token()
            .ok_or(CoreError::InvalidGrant { description: None })?;
        self.grant(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.expose_secret()),
        ])
        .await
    }

    async fn sign_out(&self, tokens: &TokenSet) -> session_core::Result<()> {
        self.http
            .post(format!("{}/logout", self.base))
            .bearer_auth(tokens.access_token().expose_secret())
            .send()
            .await
            .map_err(|e| {
                CoreError::token_provider("logout failed", true, Some(e.without_url().into()))
            })?;
        Ok(())
    }
}
