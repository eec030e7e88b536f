//! A strict loopback authorization server for the OAuth tests.
//!
//! Clients: `native-app` (public: PKCE S256 required; redirect
//! `http://127.0.0.1:<any port>/callback`, RFC 8252) and `svc`
//! (confidential, secret with reserved characters). Codes are single-use and
//! bound to their redirect URI and challenge; refresh tokens rotate and a
//! reused one revokes its whole family; ID tokens are ES256 from keys made at
//! start-up, and the signing key can be rotated.

#![allow(dead_code, unreachable_pub)]

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use parking_lot::Mutex;
use serde_json::{Value, json};
use sha2::Digest as _;

pub const SVC_SECRET: &str = "s3cr:t %+ é/=&";
pub const USER: (&str, &str) = ("ada@example.com", "correct horse");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tweak {
    WrongAud,
    WrongIss,
    WrongNonce,
    Expired,
    FutureIat,
}

struct Key {
    kid: String,
    encoding: EncodingKey,
    jwk: Jwk,
}

fn new_key(kid: &str) -> Key {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .unwrap();
    let encoding = EncodingKey::from_ec_der(pkcs8.as_ref());
    let mut jwk = Jwk::from_encoding_key(&encoding, Algorithm::ES256).unwrap();
    jwk.common.key_id = Some(kid.to_owned());
    Key {
        kid: kid.to_owned(),
        encoding,
        jwk,
    }
}

struct CodeGrant {
    client_id: String,
    redirect_uri: String,
    challenge: Option<String>,
    nonce: Option<String>,
    scope: String,
}

struct RefreshInfo {
    family: usize,
    client_id: String,
    sub: String,
    used: bool,
}

#[derive(Default)]
struct Device {
    polls: usize,
}

pub struct AuthState {
    pub issuer: Mutex<String>,
    codes: Mutex<HashMap<String, CodeGrant>>,
    access: Mutex<HashMap<String, (String, String, String)>>, // token -> (client, sub, scope)
    refresh: Mutex<HashMap<String, RefreshInfo>>,
    dead_families: Mutex<HashSet<usize>>,
    devices: Mutex<HashMap<String, Device>>,
    keys: Mutex<Vec<Key>>,
    next: AtomicUsize,
    pub token_calls: AtomicUsize,
    pub jwks_fetches: AtomicUsize,
    pub deny: Mutex<bool>,
    pub tweak: Mutex<Option<Tweak>>,
    /// Device flow: polls answered `authorization_pending` (the second one
    /// `slow_down`) before the outcome.
    pub device_pending_polls: Mutex<usize>,
    /// Device flow outcome: None approve, Some(code) an error.
    pub device_outcome: Mutex<Option<&'static str>>,
    pub last_basic_auth: Mutex<Option<(String, String)>>,
    /// `(endpoint, client id)` of every request whose client authenticated.
    pub authenticated: Mutex<Vec<(&'static str, String)>>,
    /// When set, /token accepts the request and never answers.
    pub stall_token: Mutex<bool>,
}

#[derive(Clone)]
pub struct AuthServer(pub Arc<AuthState>);

impl AuthServer {
    pub async fn start() -> (Self, String) {
        let state = AuthState {
            issuer: Mutex::new(String::new()),
            codes: Mutex::default(),
            access: Mutex::default(),
            refresh: Mutex::default(),
            dead_families: Mutex::default(),
            devices: Mutex::default(),
            keys: Mutex::new(vec![new_key("key-1")]),
            next: AtomicUsize::new(0),
            token_calls: AtomicUsize::new(0),
            jwks_fetches: AtomicUsize::new(0),
            deny: Mutex::new(false),
            tweak: Mutex::new(None),
            device_pending_polls: Mutex::new(3),
            device_outcome: Mutex::new(None),
            last_basic_auth: Mutex::new(None),
            authenticated: Mutex::default(),
            stall_token: Mutex::new(false),
        };
        let server = Self(Arc::new(state));
        let router = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/revoke", post(revoke))
            .route("/introspect", post(introspect))
            .route("/device", post(device))
            .route("/jwks", get(jwks))
            .with_state(server.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        *server.0.issuer.lock() = url.clone();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        (server, url)
    }

    /// Signs new ID tokens with a new key (the old one stays published).
    pub fn rotate_key(&self, kid: &str) {
        self.0.keys.lock().push(new_key(kid));
    }

    pub fn is_active(&self, access: &str) -> bool {
        self.0.access.lock().contains_key(access)
    }

    fn n(&self) -> usize {
        self.0.next.fetch_add(1, Ordering::SeqCst) + 1
    }

    fn issue(
        &self,
        client_id: &str,
        sub: &str,
        scope: &str,
        family: Option<usize>,
        nonce: Option<&str>,
    ) -> Value {
        let n = self.n();
        let access = format!("at-{n}");
        let refresh = format!("rt-{n}");
        self.0
            .access
            .lock()
            .insert(access.clone(), (client_id.into(), sub.into(), scope.into()));
        let family = family.unwrap_or(n);
        self.0.refresh.lock().insert(
            refresh.clone(),
            RefreshInfo {
                family,
                client_id: client_id.into(),
                sub: sub.into(),
                used: false,
            },
        );
        let mut body = json!({
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": 3600,
            "refresh_token": refresh,
            "scope": scope,
        });
        if scope.split(' ').any(|s| s == "openid") {
            body["id_token"] = json!(self.id_token(client_id, sub, nonce));
        }
        body
    }

    pub fn id_token(&self, client_id: &str, sub: &str, nonce: Option<&str>) -> String {
        let now = std::time::SystemTime::UNIX_EPOCH
            .elapsed()
            .unwrap()
            .as_secs() as i64;
        let tweak = *self.0.tweak.lock();
        let issuer = self.0.issuer.lock().clone();
        let mut claims = json!({
            "iss": if tweak == Some(Tweak::WrongIss) { "https://evil.example".to_owned() } else { issuer },
            "sub": sub,
            "aud": if tweak == Some(Tweak::WrongAud) { "someone-else" } else { client_id },
            "iat": if tweak == Some(Tweak::FutureIat) { now + 3600 } else { now },
            "exp": if tweak == Some(Tweak::Expired) { now - 600 } else { now + 300 },
        });
        if let Some(nonce) = nonce {
            claims["nonce"] = json!(if tweak == Some(Tweak::WrongNonce) {
                "not-the-nonce"
            } else {
                nonce
            });
        }
        let keys = self.0.keys.lock();
        let key = keys.last().unwrap();
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(key.kid.clone());
        jsonwebtoken::encode(&header, &claims, &key.encoding).unwrap()
    }
}

fn oauth_error(status: StatusCode, code: &str, description: &str) -> Response {
    (
        status,
        Json(json!({"error": code, "error_description": description})),
    )
        .into_response()
}

async fn discovery(State(s): State<AuthServer>) -> Json<Value> {
    let issuer = s.0.issuer.lock().clone();
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "revocation_endpoint": format!("{issuer}/revoke"),
        "introspection_endpoint": format!("{issuer}/introspect"),
        "device_authorization_endpoint": format!("{issuer}/device"),
        "jwks_uri": format!("{issuer}/jwks"),
        "code_challenge_methods_supported": ["S256"],
    }))
}

async fn jwks(State(s): State<AuthServer>) -> Json<JwkSet> {
    s.0.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    Json(JwkSet {
        keys: s.0.keys.lock().iter().map(|k| k.jwk.clone()).collect(),
    })
}

fn loopback_callback(uri: &str) -> bool {
    url::Url::parse(uri).is_ok_and(|u| {
        u.scheme() == "http"
            && u.host_str() == Some("127.0.0.1")
            && u.path() == "/callback"
            && u.query().is_none()
    })
}

async fn authorize(
    State(s): State<AuthServer>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    if get("client_id") != "native-app" {
        return (StatusCode::BAD_REQUEST, "unknown client").into_response();
    }
    let redirect = get("redirect_uri");
    if !loopback_callback(&redirect) {
        // Never redirect to an unregistered URI.
        return (StatusCode::BAD_REQUEST, "redirect_uri is not registered").into_response();
    }
    let state = get("state");
    let back = |params: &[(&str, &str)]| {
        let mut url = url::Url::parse(&redirect).unwrap();
        url.query_pairs_mut()
            .extend_pairs(params)
            .append_pair("state", &state);
        Redirect::to(url.as_str()).into_response()
    };
    if get("response_type") != "code" {
        return back(&[("error", "unsupported_response_type")]);
    }
    if get("code_challenge_method") != "S256" || get("code_challenge").is_empty() {
        return back(&[
            ("error", "invalid_request"),
            ("error_description", "PKCE S256 is required"),
        ]);
    }
    if *s.0.deny.lock() {
        return back(&[
            ("error", "access_denied"),
            ("error_description", "the user said no"),
        ]);
    }
    let code = format!("code-{}", s.n());
    s.0.codes.lock().insert(
        code.clone(),
        CodeGrant {
            client_id: get("client_id"),
            redirect_uri: redirect.clone(),
            challenge: Some(get("code_challenge")),
            nonce: q.get("nonce").cloned(),
            scope: get("scope"),
        },
    );
    back(&[("code", &code)])
}

/// Client authentication: Basic (id and secret form-urlencoded, then
/// base64) or the body. Returns the client id, or an error response.
#[allow(clippy::result_large_err)]
fn authenticate_client(
    s: &AuthServer,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<String, Response> {
    let (id, secret) = if let Some(basic) = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(basic)
            .unwrap_or_default();
        let decoded = String::from_utf8(decoded).unwrap_or_default();
        let (id, secret) = decoded.split_once(':').unwrap_or((&decoded, ""));
        let unescape = |v: &str| {
            url::form_urlencoded::parse(format!("x={v}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        let pair = (unescape(id), Some(unescape(secret)));
        *s.0.last_basic_auth.lock() = Some((pair.0.clone(), pair.1.clone().unwrap_or_default()));
        pair
    } else {
        (
            form.get("client_id").cloned().unwrap_or_default(),
            form.get("client_secret").cloned(),
        )
    };
    match id.as_str() {
        "native-app" if secret.as_deref().unwrap_or("").is_empty() => Ok(id),
        "svc" if secret.as_deref() == Some(SVC_SECRET) => Ok(id),
        _ => Err(oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        )),
    }
}

async fn token(
    State(s): State<AuthServer>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    s.0.token_calls.fetch_add(1, Ordering::SeqCst);
    if *s.0.stall_token.lock() {
        std::future::pending::<()>().await;
    }
    let client = match authenticate_client(&s, &headers, &form) {
        Ok(c) => c,
        Err(r) => return r,
    };
    s.0.authenticated.lock().push(("token", client.clone()));
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    match get("grant_type").as_str() {
        "authorization_code" => {
            let Some(grant) = s.0.codes.lock().remove(&get("code")) else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "unknown or used code",
                );
            };
            if grant.client_id != client || grant.redirect_uri != get("redirect_uri") {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "redirect_uri mismatch",
                );
            }
            let verifier = get("code_verifier");
            let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(sha2::Sha256::digest(verifier.as_bytes()));
            if grant.challenge.as_deref() != Some(computed.as_str()) {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "PKCE verification failed",
                );
            }
            Json(s.issue(&client, USER.0, &grant.scope, None, grant.nonce.as_deref()))
                .into_response()
        }
        "client_credentials" if client == "svc" => {
            Json(s.issue(&client, "svc", &get("scope"), None, None)).into_response()
        }
        "password" => {
            if (get("username").as_str(), get("password").as_str()) != USER {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "wrong username or password",
                );
            }
            Json(s.issue(&client, USER.0, &get("scope"), None, None)).into_response()
        }
        "refresh_token" => {
            let presented = get("refresh_token");
            let mut refresh = s.0.refresh.lock();
            let Some(info) = refresh.get_mut(&presented) else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "unknown refresh token",
                );
            };
            if info.used || s.0.dead_families.lock().contains(&info.family) {
                // Reuse: revoke the whole family.
                s.0.dead_families.lock().insert(info.family);
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "refresh token reuse detected",
                );
            }
            info.used = true;
            let (family, client_id, sub) = (info.family, info.client_id.clone(), info.sub.clone());
            drop(refresh);
            Json(s.issue(&client_id, &sub, "", Some(family), None)).into_response()
        }
        "urn:ietf:params:oauth:grant-type:device_code" => {
            let mut devices = s.0.devices.lock();
            let Some(device) = devices.get_mut(&get("device_code")) else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "unknown device code",
                );
            };
            device.polls += 1;
            let pending = *s.0.device_pending_polls.lock();
            if device.polls <= pending {
                let code = if device.polls == 2 {
                    "slow_down"
                } else {
                    "authorization_pending"
                };
                return oauth_error(StatusCode::BAD_REQUEST, code, "");
            }
            if let Some(error) = *s.0.device_outcome.lock() {
                return oauth_error(StatusCode::BAD_REQUEST, error, "");
            }
            drop(devices);
            Json(s.issue(&client, USER.0, "", None, None)).into_response()
        }
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "not supported",
        ),
    }
}

async fn revoke(
    State(s): State<AuthServer>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    match authenticate_client(&s, &headers, &form) {
        Ok(client) => s.0.authenticated.lock().push(("revoke", client)),
        Err(r) => return r,
    }
    let token = form.get("token").cloned().unwrap_or_default();
    s.0.access.lock().remove(&token);
    if let Some(info) = s.0.refresh.lock().get(&token) {
        s.0.dead_families.lock().insert(info.family);
    }
    StatusCode::OK.into_response()
}

async fn introspect(
    State(s): State<AuthServer>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    if let Err(r) = authenticate_client(&s, &headers, &form) {
        return r;
    }
    let token = form.get("token").cloned().unwrap_or_default();
    match s.0.access.lock().get(&token) {
        Some((client, sub, scope)) => Json(json!({"active": true, "client_id": client, "sub": sub, "scope": scope, "username": sub})).into_response(),
        None => Json(json!({"active": false})).into_response(),
    }
}

async fn device(
    State(s): State<AuthServer>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    if let Err(r) = authenticate_client(&s, &headers, &form) {
        return r;
    }
    let n = s.n();
    let code = format!("dev-{n}");
    s.0.devices.lock().insert(code.clone(), Device::default());
    let issuer = s.0.issuer.lock().clone();
    Json(json!({
        "device_code": code,
        "user_code": format!("WDJB-MJ{n:02}"),
        "verification_uri": format!("{issuer}/activate"),
        "expires_in": 600,
        "interval": 1,
    }))
    .into_response()
}
