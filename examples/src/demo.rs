//! An in-process demo identity provider and API on 127.0.0.1, for the
//! examples: nothing to install, no network beyond loopback.
//!
//! Identity provider (OAuth 2.0): discovery, `/oauth/authorize` (code + PKCE
//! S256, loopback redirects, or a pushed request's `request_uri`),
//! `/oauth/par` (pushed authorization requests), `/oauth/token` (password,
//! client credentials, authorization code, refresh with rotation, token
//! exchange), `/oauth/revoke`.
//! User `demo@example.com` / `demo-password`; public client `quickstart`;
//! confidential client `service` / `service-secret`; client `keyed-service`,
//! which proves itself with a signed assertion (`private_key_jwt`) made with
//! [`KEYED_SERVICE_JWK`]. Confidential clients may exchange a live access
//! token for another (RFC 8693 token exchange). A token request with a DPoP
//! proof gets tokens bound to the proof's key, which the API then accepts
//! only as `DPoP` with a proof for the call.
//!
//! API: `/api/orders` and friends want a live bearer token (tokens really
//! expire), `/api/basic` wants Basic `demo:demo-key`, `/api/keyed` wants
//! `X-Api-Key: demo-api-key`. Failures can be queued: each `/api` call takes
//! the next one first.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Json, Redirect, Response};
use axum::routing::{any, get, post};
use base64::Engine as _;
use serde_json::{Value, json};

/// The demo user.
pub const USER: (&str, &str) = ("demo@example.com", "demo-password");
/// The confidential demo client.
pub const SERVICE: (&str, &str) = ("service", "service-secret");
/// The demo client that authenticates with `private_key_jwt`.
pub const KEYED_SERVICE: &str = "keyed-service";
/// `keyed-service`'s private key, a JWK: the Ed25519 example key published
/// in RFC 8037 — for demos and tests only, never for anything real.
pub const KEYED_SERVICE_JWK: &str = r#"{"kty":"OKP","crv":"Ed25519","kid":"demo-1","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
/// The public half the demo provider checks assertions with.
const KEYED_SERVICE_PUBLIC: &str = r#"{"kty":"OKP","crv":"Ed25519","kid":"demo-1","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
/// The API key `/api/keyed` accepts.
pub const API_KEY: &str = "demo-api-key";

/// A failure the API answers with instead of serving a call.
#[derive(Debug, Clone, Copy)]
pub enum Failure {
    /// 503 Service Unavailable.
    Unavailable,
    /// 429 Too Many Requests with `Retry-After: <seconds>`.
    TooManyRequests(u64),
}

#[derive(Default)]
struct Inner {
    expires_in: AtomicU64,
    next: AtomicUsize,
    token_calls: AtomicUsize,
    api_calls: AtomicUsize,
    revocations: AtomicUsize,
    access: parking_lot::Mutex<HashMap<String, Instant>>,
    refresh: parking_lot::Mutex<HashSet<String>>,
    codes: parking_lot::Mutex<HashMap<String, (String, String)>>, // code -> (challenge, redirect)
    failures: parking_lot::Mutex<VecDeque<Failure>>,
    issuer: parking_lot::Mutex<String>,
    /// Client assertion ids seen: each may be used once.
    seen_jti: parking_lot::Mutex<HashSet<String>>,
    /// The `audience` of each token exchange.
    exchange_audiences: parking_lot::Mutex<Vec<String>>,
    /// Pushed authorization requests by `request_uri`, each usable once.
    pushed: parking_lot::Mutex<HashMap<String, HashMap<String, String>>>,
    /// Tokens bound to a DPoP key (by its thumbprint).
    bound: parking_lot::Mutex<HashMap<String, String>>,
}

/// A running demo server. Dropping it does not stop it; it lives as long as
/// the runtime.
#[derive(Clone)]
pub struct Demo {
    inner: Arc<Inner>,
    /// The issuer URL (also the server's base URL).
    pub issuer: String,
    /// The API base URL (`<issuer>/api/`).
    pub api: String,
}

impl std::fmt::Debug for Demo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Demo")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl Demo {
    /// Starts the server on an ephemeral loopback port; tokens live
    /// `expires_in` seconds.
    ///
    /// # Panics
    ///
    /// If no loopback port can be bound.
    pub async fn start(expires_in: u64) -> Self {
        let inner = Arc::new(Inner::default());
        inner.expires_in.store(expires_in, Ordering::SeqCst);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let issuer = format!("http://{}", listener.local_addr().expect("bound"));
        *inner.issuer.lock() = issuer.clone();
        let router = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/oauth/authorize", get(authorize))
            .route("/oauth/token", post(token))
            .route("/oauth/revoke", post(revoke))
            .route("/oauth/device", post(device))
            .route("/oauth/par", post(par))
            .route("/api/{*rest}", any(api))
            .with_state(inner.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self {
            inner,
            api: format!("{issuer}/api/"),
            issuer,
        }
    }

    /// Queues failures for the next API calls.
    pub fn fail_next(&self, failures: &[Failure]) {
        self.inner.failures.lock().extend(failures.iter().copied());
    }

    /// Calls to the token endpoint so far.
    pub fn token_calls(&self) -> usize {
        self.inner.token_calls.load(Ordering::SeqCst)
    }

    /// Calls to the API so far (failed ones included).
    pub fn api_calls(&self) -> usize {
        self.inner.api_calls.load(Ordering::SeqCst)
    }

    /// Tokens revoked so far.
    pub fn revocations(&self) -> usize {
        self.inner.revocations.load(Ordering::SeqCst)
    }

    /// The `audience` the last token exchange asked for.
    pub fn last_exchange_audience(&self) -> Option<String> {
        self.inner.exchange_audiences.lock().last().cloned()
    }

    /// The thumbprint of the DPoP key `token` is bound to, if any.
    pub fn bound_to(&self, token: &str) -> Option<String> {
        self.inner.bound.lock().get(token).cloned()
    }

    /// Whether `access` is a live access token.
    pub fn is_live(&self, access: &str) -> bool {
        self.inner
            .access
            .lock()
            .get(access)
            .is_some_and(|until| Instant::now() < *until)
    }
}

fn error(status: StatusCode, code: &str) -> Response {
    (status, Json(json!({"error": code}))).into_response()
}

async fn discovery(State(s): State<Arc<Inner>>) -> Json<Value> {
    let i = s.issuer.lock().clone();
    Json(json!({
        "issuer": i,
        "authorization_endpoint": format!("{i}/oauth/authorize"),
        "token_endpoint": format!("{i}/oauth/token"),
        "revocation_endpoint": format!("{i}/oauth/revoke"),
        "device_authorization_endpoint": format!("{i}/oauth/device"),
        "pushed_authorization_request_endpoint": format!("{i}/oauth/par"),
    }))
}

/// The thumbprint of the key that signed the request's DPoP proof, if the
/// proof is good for `method` on `url` (and, for an API call, `token`).
fn dpop_proof(
    s: &Inner,
    headers: &HeaderMap,
    method: &str,
    url: &str,
    token: Option<&str>,
) -> Option<String> {
    let proof = headers.get("dpop")?.to_str().ok()?;
    let header = jsonwebtoken::decode_header(proof).ok()?;
    let jwk = header
        .jwk
        .filter(|_| header.typ.as_deref() == Some("dpop+jwt"))?;
    let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).ok()?;
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_aud = false;
    let claims = jsonwebtoken::decode::<Value>(proof, &key, &validation)
        .ok()?
        .claims;
    let ath = token.map(|t| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(<sha2::Sha256 as sha2::Digest>::digest(t.as_bytes()))
    });
    let fresh = claims["jti"]
        .as_str()
        .is_some_and(|jti| s.seen_jti.lock().insert(jti.to_owned()));
    (claims["htm"] == method
        && claims["htu"] == url
        && claims["ath"].as_str() == ath.as_deref()
        && fresh)
        .then(|| {
            jwk.thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)
                .ok()
        })
        .flatten()
}

/// `issue`, the tokens bound to the DPoP key `jkt` (and typed DPoP) when
/// the request proved one.
fn issue_bound(s: &Inner, scope: &str, jkt: Option<&str>) -> Value {
    let mut body = issue(s, scope);
    if let Some(jkt) = jkt {
        body["token_type"] = json!("DPoP");
        let mut bound = s.bound.lock();
        for field in ["access_token", "refresh_token"] {
            if let Some(token) = body[field].as_str() {
                bound.insert(token.to_owned(), jkt.to_owned());
            }
        }
    }
    body
}

fn issue(s: &Inner, scope: &str) -> Value {
    let n = s.next.fetch_add(1, Ordering::SeqCst) + 1;
    let (access, refresh) = (format!("demo-at-{n}"), format!("demo-rt-{n}"));
    let ttl = s.expires_in.load(Ordering::SeqCst);
    s.access
        .lock()
        .insert(access.clone(), Instant::now() + Duration::from_secs(ttl));
    s.refresh.lock().insert(refresh.clone());
    json!({"access_token": access, "refresh_token": refresh, "token_type": "Bearer", "expires_in": ttl, "scope": scope})
}

async fn authorize(
    State(s): State<Arc<Inner>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let q = match q.get("request_uri") {
        Some(uri) => match s.pushed.lock().remove(uri) {
            Some(pushed) if pushed.get("client_id") == q.get("client_id") => pushed,
            _ => return (StatusCode::BAD_REQUEST, "unknown or used request_uri").into_response(),
        },
        None => q,
    };
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    let redirect = get("redirect_uri");
    let loopback = redirect.starts_with("http://127.0.0.1:");
    if get("client_id") != "quickstart" || !loopback || get("code_challenge_method") != "S256" {
        return (StatusCode::BAD_REQUEST, "bad authorization request").into_response();
    }
    let code = format!("demo-code-{}", s.next.fetch_add(1, Ordering::SeqCst));
    s.codes
        .lock()
        .insert(code.clone(), (get("code_challenge"), redirect.clone()));
    let mut url = url::Url::parse(&redirect).expect("checked");
    url.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &get("state"));
    Redirect::to(url.as_str()).into_response()
}

/// Whether `assertion` is a fresh one `keyed-service` signed for this
/// provider.
fn assertion_ok(s: &Inner, assertion: &str) -> bool {
    let Ok(jwk) = serde_json::from_str(KEYED_SERVICE_PUBLIC) else {
        return false;
    };
    let Ok(key) = jsonwebtoken::DecodingKey::from_jwk(&jwk) else {
        return false;
    };
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.set_audience(&[s.issuer.lock().clone()]);
    validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
    let Ok(data) = jsonwebtoken::decode::<Value>(assertion, &key, &validation) else {
        return false;
    };
    let claims = data.claims;
    claims["iss"] == KEYED_SERVICE
        && claims["sub"] == KEYED_SERVICE
        && claims["jti"]
            .as_str()
            .is_some_and(|jti| s.seen_jti.lock().insert(jti.to_owned()))
}

fn client_of(s: &Inner, headers: &HeaderMap, form: &HashMap<String, String>) -> Option<String> {
    if form.get("client_assertion_type").map(String::as_str)
        == Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    {
        let ok = form.get("client_id").map(String::as_str) == Some(KEYED_SERVICE)
            && assertion_ok(s, form.get("client_assertion")?);
        return ok.then(|| KEYED_SERVICE.to_owned());
    }
    if let Some(basic) = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(basic)
            .ok()?;
        let raw = String::from_utf8(raw).ok()?;
        let (id, secret) = raw.split_once(':')?;
        return (id == SERVICE.0 && secret == SERVICE.1).then(|| id.to_owned());
    }
    match (
        form.get("client_id").map(String::as_str),
        form.get("client_secret").map(String::as_str),
    ) {
        (Some("quickstart"), None) => Some("quickstart".into()),
        (Some(id), Some(secret)) if (id, secret) == SERVICE => Some(id.into()),
        _ => None,
    }
}

async fn token(
    State(s): State<Arc<Inner>>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    s.token_calls.fetch_add(1, Ordering::SeqCst);
    let Some(client) = client_of(&s, &headers, &form) else {
        return error(StatusCode::UNAUTHORIZED, "invalid_client");
    };
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    let jkt = if headers.contains_key("dpop") {
        let endpoint = format!("{}/oauth/token", s.issuer.lock());
        match dpop_proof(&s, &headers, "POST", &endpoint, None) {
            Some(jkt) => Some(jkt),
            None => return error(StatusCode::BAD_REQUEST, "invalid_dpop_proof"),
        }
    } else {
        None
    };
    let jkt = jkt.as_deref();
    match get("grant_type").as_str() {
        "password" if (get("username").as_str(), get("password").as_str()) == USER => {
            Json(issue_bound(&s, "orders", jkt)).into_response()
        }
        "password" => error(StatusCode::BAD_REQUEST, "invalid_grant"),
        "client_credentials" if client == SERVICE.0 || client == KEYED_SERVICE => {
            Json(issue_bound(&s, "orders", jkt)).into_response()
        }
        "urn:ietf:params:oauth:grant-type:token-exchange" if client != "quickstart" => {
            let live = s
                .access
                .lock()
                .get(&get("subject_token"))
                .is_some_and(|until| Instant::now() < *until);
            if !live {
                return error(StatusCode::BAD_REQUEST, "invalid_grant");
            }
            s.exchange_audiences.lock().push(get("audience"));
            let mut body = issue_bound(&s, "orders", jkt);
            body["issued_token_type"] = json!("urn:ietf:params:oauth:token-type:access_token");
            Json(body).into_response()
        }
        "refresh_token" => {
            let presented = get("refresh_token");
            if s.bound
                .lock()
                .get(&presented)
                .is_some_and(|b| Some(b.as_str()) != jkt)
            {
                return error(StatusCode::BAD_REQUEST, "invalid_grant");
            }
            if s.refresh.lock().remove(&presented) {
                Json(issue_bound(&s, "orders", jkt)).into_response()
            } else {
                error(StatusCode::BAD_REQUEST, "invalid_grant")
            }
        }
        "urn:ietf:params:oauth:grant-type:device_code"
            if get("device_code").starts_with("demo-device-") =>
        {
            Json(issue_bound(&s, "orders", jkt)).into_response()
        }
        "authorization_code" => {
            let Some((challenge, redirect)) = s.codes.lock().remove(&get("code")) else {
                return error(StatusCode::BAD_REQUEST, "invalid_grant");
            };
            let digest = <sha2::Sha256 as sha2::Digest>::digest(get("code_verifier").as_bytes());
            let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
            if computed != challenge || redirect != get("redirect_uri") {
                return error(StatusCode::BAD_REQUEST, "invalid_grant");
            }
            Json(issue_bound(&s, "orders", jkt)).into_response()
        }
        _ => error(StatusCode::BAD_REQUEST, "unsupported_grant_type"),
    }
}

/// A pushed authorization request (RFC 9126): kept under a `request_uri`
/// that `/oauth/authorize` accepts once.
async fn par(
    State(s): State<Arc<Inner>>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    let Some(client) = client_of(&s, &headers, &form) else {
        return error(StatusCode::UNAUTHORIZED, "invalid_client");
    };
    let uri = format!(
        "urn:ietf:params:oauth:request_uri:demo-{}",
        s.next.fetch_add(1, Ordering::SeqCst)
    );
    let mut pushed = form;
    pushed.insert("client_id".into(), client);
    pushed.remove("client_secret");
    s.pushed.lock().insert(uri.clone(), pushed);
    (
        StatusCode::CREATED,
        Json(json!({"request_uri": uri, "expires_in": 60})),
    )
        .into_response()
}

async fn device(State(s): State<Arc<Inner>>) -> Json<Value> {
    let n = s.next.fetch_add(1, Ordering::SeqCst);
    let i = s.issuer.lock().clone();
    Json(json!({
        "device_code": format!("demo-device-{n}"),
        "user_code": format!("DEMO-{n:04}"),
        "verification_uri": format!("{i}/activate"),
        "expires_in": 300,
        "interval": 1,
    }))
}

async fn revoke(
    State(s): State<Arc<Inner>>,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> StatusCode {
    let token = form.get("token").cloned().unwrap_or_default();
    let removed = s.access.lock().remove(&token).is_some() | s.refresh.lock().remove(&token);
    if removed {
        s.revocations.fetch_add(1, Ordering::SeqCst);
    }
    StatusCode::OK
}

async fn api(
    State(s): State<Arc<Inner>>,
    method: axum::http::Method,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    s.api_calls.fetch_add(1, Ordering::SeqCst);
    if let Some(failure) = s.failures.lock().pop_front() {
        return match failure {
            Failure::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "try again").into_response(),
            Failure::TooManyRequests(after) => (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", after.to_string())],
                "slow down",
            )
                .into_response(),
        };
    }
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let allowed = match uri.path() {
        "/api/basic" => {
            auth == format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode("demo:demo-key")
            )
        }
        "/api/keyed" => headers.get("x-api-key").is_some_and(|k| k == API_KEY),
        _ => {
            let (scheme, token) = auth.split_once(' ').unwrap_or_default();
            let live = s
                .access
                .lock()
                .get(token)
                .is_some_and(|until| Instant::now() < *until);
            // A DPoP-bound token needs the DPoP scheme and a proof for this
            // call by the key it is bound to.
            let bound = s.bound.lock().get(token).cloned();
            live && match bound {
                None => scheme == "Bearer",
                Some(jkt) => {
                    let url = format!("{}{}", s.issuer.lock(), uri.path());
                    scheme == "DPoP"
                        && dpop_proof(&s, &headers, method.as_str(), &url, Some(token))
                            .is_some_and(|proved| proved == jkt)
                }
            }
        }
    };
    if !allowed {
        return (StatusCode::UNAUTHORIZED, "unauthorized").into_response();
    }
    Json(json!({"path": uri.path(), "orders": [{"id": 1, "item": "coffee"}, {"id": 2, "item": "tea"}]})).into_response()
}
