//! Leak suite: every tracing event and span field at TRACE and every `log`
//! record is captured while the client signs in, sends, refreshes, meets a
//! 401 and a cross-origin redirect, stores cookies, signs out; while stores
//! load bad data; and while the server creates, validates, extends and
//! deletes sessions; while a DPoP-bound session signs in with a client
//! assertion, exchanges tokens and uses the JWT-bearer grant. No token,
//! refresh token, password, client secret, private key, assertion, proof,
//! cookie value, admin token or raw session id may appear in any event,
//! record, `Display`, `Debug` or error source chain.
//!
//! Its own test binary: the logger and the subscriber are process-wide.

use std::collections::{HashMap, HashSet};
use std::error::Error as StdError;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Json, Redirect, Response};
use axum::routing::{get, post};
use parking_lot::Mutex;
use serde_json::json;
use session_auth::{DpopKey, Session, SessionState, TokenManager};
use session_core::{MemoryStore, SessionStore, SharedSessionStore, StoreRecord};
use session_oauth::{
    Grant, JwtBearer, OAuthClient, OAuthTokenProvider, ProviderMetadata, SigningKey, TokenExchange,
};
use session_server::{SessionConfig, SessionLayer, SessionManager, SessionRoutes};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::Registry;

const PASSWORD: &str = "leak-password-PW-1f3a";
const CLIENT_SECRET: &str = "leak-client-secret-CS-77c2";
const ADMIN_TOKEN: &str = "leak-admin-token-AD-9e41";
const COOKIE_VALUE: &str = "leak-cookie-CK-5d20";

/// Everything said anywhere during the run.
static SAID: Mutex<String> = Mutex::new(String::new());

fn say(text: &str) {
    let mut said = SAID.lock();
    said.push_str(text);
    said.push('\n');
}

struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={:?}", field.name(), value);
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = write!(self.0, " {}={}", field.name(), value);
    }
}

struct TraceCapture;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for TraceCapture {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let mut fields = Fields(format!("event {}", event.metadata().target()));
        event.record(&mut fields);
        say(&fields.0);
    }
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        _: &tracing::span::Id,
        _: Context<'_, S>,
    ) {
        let mut fields = Fields(format!("span {}", attrs.metadata().name()));
        attrs.record(&mut fields);
        say(&fields.0);
    }
    fn on_record(
        &self,
        _: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        _: Context<'_, S>,
    ) {
        let mut fields = Fields("record".to_owned());
        values.record(&mut fields);
        say(&fields.0);
    }
}

struct LogCapture;

impl log::Log for LogCapture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        say(&format!("log {} {}", record.target(), record.args()));
    }
    fn flush(&self) {}
}

/// Says an error's `Display`, `Debug` and its whole source chain.
fn say_error(error: &(dyn StdError + 'static)) {
    let mut next = Some(error);
    while let Some(e) = next {
        say(&format!("error {e} / {e:?}"));
        next = e.source();
    }
}

/// The identity provider and API: every secret it hands out is recorded.
#[derive(Clone, Default)]
struct Idp {
    issued: Arc<Mutex<HashSet<String>>>,
    live: Arc<Mutex<HashSet<String>>>,
    next: Arc<Mutex<u32>>,
}

impl Idp {
    fn issue(&self) -> (String, String) {
        let n = {
            let mut next = self.next.lock();
            *next += 1;
            *next
        };
        let access = format!("leak-at-{n}-a8d1");
        let refresh = format!("leak-rt-{n}-b4c9");
        self.issued.lock().insert(access.clone());
        self.issued.lock().insert(refresh.clone());
        self.live.lock().insert(access.clone());
        (access, refresh)
    }
}

async fn token(
    State(idp): State<Idp>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    // Assertions and proofs are secrets too: each could be replayed.
    for field in ["client_assertion", "assertion"] {
        if let Some(value) = form.get(field) {
            idp.issued.lock().insert(value.clone());
        }
    }
    let proof = headers.get("dpop").and_then(|v| v.to_str().ok());
    if let Some(proof) = proof {
        idp.issued.lock().insert(proof.to_owned());
    }
    let grant = form.get("grant_type").map(String::as_str);
    let ok = match grant {
        Some("password") => form.get("password").map(String::as_str) == Some(PASSWORD),
        Some("refresh_token") => form
            .get("refresh_token")
            .is_some_and(|r| idp.issued.lock().contains(r)),
        Some("client_credentials") => form.contains_key("client_assertion"),
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer") => form
            .get("assertion")
            .is_some_and(|a| a.split('.').count() == 3),
        Some("urn:ietf:params:oauth:grant-type:token-exchange") => form
            .get("subject_token")
            .is_some_and(|t| idp.issued.lock().contains(t)),
        _ => false,
    };
    if !ok {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_grant", "error_description": "no"})),
        )
            .into_response();
    }
    let (access, refresh) = idp.issue();
    Json(json!({
        "access_token": access,
        "refresh_token": refresh,
        "token_type": if proof.is_some() { "DPoP" } else { "Bearer" },
        "expires_in": 3600,
    }))
    .into_response()
}

async fn revoke(State(idp): State<Idp>, Form(form): Form<HashMap<String, String>>) -> StatusCode {
    if let Some(token) = form.get("token") {
        idp.live.lock().remove(token);
    }
    StatusCode::OK
}

fn bearer(headers: &HeaderMap) -> String {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("DPoP "))
        })
        .unwrap_or_default()
        .to_owned()
}

async fn data(State(idp): State<Idp>, headers: HeaderMap) -> Response {
    if let Some(proof) = headers.get("dpop").and_then(|v| v.to_str().ok()) {
        idp.issued.lock().insert(proof.to_owned());
    }
    if idp.live.lock().contains(&bearer(&headers)) {
        Json(json!({"ok": true})).into_response()
    } else {
        (StatusCode::UNAUTHORIZED, "who are you").into_response()
    }
}

async fn revoke_all(State(idp): State<Idp>) -> StatusCode {
    idp.live.lock().clear();
    StatusCode::OK
}

async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

async fn start_idp(idp: &Idp) -> String {
    // A second origin: redirected to, answers 401 to whatever it gets.
    let foreign = serve(Router::new().route(
        "/elsewhere",
        get(|| async { (StatusCode::UNAUTHORIZED, "not here") }),
    ))
    .await;
    let to_foreign = format!("{foreign}/elsewhere");
    serve(
        Router::new()
            .route("/token", post(token))
            .route("/revoke", post(revoke))
            .route("/api/data", get(data))
            .route("/admin/revoke-all", post(revoke_all))
            .route(
                "/api/cookie",
                get(|| async {
                    (
                        [(
                            header::SET_COOKIE,
                            format!("sid={COOKIE_VALUE}; Path=/; HttpOnly"),
                        )],
                        "set",
                    )
                }),
            )
            .route(
                "/api/away",
                get(move || {
                    let to = to_foreign.clone();
                    async move { Redirect::temporary(&to) }
                }),
            )
            .with_state(idp.clone()),
    )
    .await
}

fn oauth(url: &str, password: &str) -> OAuthTokenProvider {
    let metadata = ProviderMetadata::new(&format!("{url}/token"))
        .unwrap()
        .with_revocation_endpoint(&format!("{url}/revoke"))
        .unwrap();
    let client = OAuthClient::builder(metadata, "leak-client")
        .client_secret(CLIENT_SECRET)
        .build()
        .unwrap();
    OAuthTokenProvider::new(
        client,
        Grant::Password {
            username: "leak-user".into(),
            password: password.to_owned().into(),
        },
    )
}

async fn client_side(url: &str, dir: &std::path::Path) {
    let store = SharedSessionStore::new(session_store::JsonFileStore::new(dir.join("s.json")));
    let state = SessionState::builder(store.clone(), "leak").build();
    let tokens = TokenManager::builder(oauth(url, PASSWORD))
        .state(state.clone())
        .build();
    let session = Session::builder()
        .base_url(url)
        .tokens(tokens.clone())
        .state(state.clone())
        .build()
        .unwrap();

    // Sign-in, a request, a refresh after a 401, cookies, a redirect away.
    assert_eq!(session.get("api/data").send().await.unwrap().status(), 200);
    reqwest::Client::new()
        .post(format!("{url}/admin/revoke-all"))
        .send()
        .await
        .unwrap();
    assert_eq!(session.get("api/data").send().await.unwrap().status(), 200);
    session.get("api/cookie").send().await.unwrap();
    assert_eq!(session.get("api/data").send().await.unwrap().status(), 200);
    let away = session.get("api/away").send().await.unwrap();
    assert_eq!(away.status(), 401, "the foreign origin's answer");
    state.save().await.unwrap();
    say(&format!(
        "{session:?} {state:?} {tokens:?} {}",
        session.summary()
    ));
    say(&format!("{:?}", state.session()));
    say(&format!("{:?} {}", state.tokens(), state.summary()));
    say(&format!("{:?}", session.cookie_jar()));

    // Sign-out ends the session: the next request is a typed error.
    session.sign_out().await.unwrap();
    let err = session.get("api/data").send().await.unwrap_err();
    assert!(err.is_signed_out(), "{err:?}");
    say_error(&err);

    // A wrong password.
    let wrong = Session::builder()
        .base_url(url)
        .tokens(TokenManager::builder(oauth(url, "not-the-password")).build())
        .build()
        .unwrap();
    let err = wrong.get("api/data").send().await.unwrap_err();
    assert!(err.is_invalid_credentials(), "{err:?}");
    say_error(&err);
}

/// The private key of RFC 8037's example JWK, which `keyed_flows` signs with.
const PRIVATE_KEY_D: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
const ACTOR_TOKEN: &str = "leak-actor-token-AC-31b7";

/// `private_key_jwt`, a DPoP-bound session, token exchange with an actor
/// token, the JWT-bearer grant and their failures. Returns the secrets the
/// run held that the provider never saw.
async fn keyed_flows(url: &str) -> Vec<String> {
    let key = SigningKey::from_jwk(&format!(
        r#"{{"kty":"OKP","crv":"Ed25519","kid":"leak-1","d":"{PRIVATE_KEY_D}","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}}"#
    ))
    .unwrap();
    let state = SessionState::in_memory();
    let dpop = DpopKey::for_state(&state).await.unwrap();
    let kept_key = state.session().unwrap().credentials["dpop_key"]
        .expose_secret()
        .to_owned();
    let metadata = ProviderMetadata::new(&format!("{url}/token")).unwrap();
    let client = OAuthClient::builder(metadata, "leak-keyed")
        .private_key_jwt(key.clone())
        .dpop(dpop.clone())
        .build()
        .unwrap();
    let tokens = TokenManager::builder(OAuthTokenProvider::new(
        client.clone(),
        Grant::ClientCredentials,
    ))
    .state(state.clone())
    .dpop(dpop.clone())
    .build();
    let session = Session::builder()
        .base_url(url)
        .tokens(tokens.clone())
        .build()
        .unwrap();
    assert_eq!(session.get("api/data").send().await.unwrap().status(), 200);
    let subject = tokens.current().unwrap();
    assert_eq!(subject.token_type(), "DPoP");

    let exchange = TokenExchange::new(subject.access_token().expose_secret())
        .actor_token(ACTOR_TOKEN, TokenExchange::ACCESS_TOKEN);
    let exchanged = client.exchange_token(&exchange).await.unwrap();
    let bearer = JwtBearer::new(key.clone(), "leak-svc").subject("leak-user");
    let granted = client.jwt_bearer(&bearer).await.unwrap();
    say(&format!(
        "{key:?} {dpop:?} {exchange:?} {bearer:?} {client:?} {exchanged:?} {granted:?} {:?} {:?}",
        Grant::TokenExchange(exchange.clone()),
        Grant::JwtBearer(bearer.clone()),
    ));
    say(&format!("{:?} {}", state.session(), state.summary()));

    // Refusals: a subject token the provider doesn't know, an assertion
    // that isn't a JWT, a key that isn't one.
    let refused = client
        .exchange_token(&TokenExchange::new("leak-unknown-subject-US-0c4e"))
        .await
        .unwrap_err();
    say_error(&refused);
    let refused = client
        .jwt_bearer(&JwtBearer::from_fn(|| {
            Ok("leak-bad-assertion-BA-6f12".to_owned())
        }))
        .await
        .unwrap_err();
    say_error(&refused);
    let bad_key = SigningKey::from_jwk(
        r#"{"kty":"OKP","crv":"Ed25519","d":"bGVhay1iYWQta2V5LUJLLTQ0","x":"eA"}"#,
    )
    .unwrap_err();
    say_error(&bad_key);
    vec![
        PRIVATE_KEY_D.to_owned(),
        kept_key,
        ACTOR_TOKEN.to_owned(),
        "leak-unknown-subject-US-0c4e".to_owned(),
        "leak-bad-assertion-BA-6f12".to_owned(),
        "bGVhay1iYWQta2V5LUJLLTQ0".to_owned(),
    ]
}

async fn stores_with_bad_data(secret: &str, dir: &std::path::Path) {
    // A string where an object belongs — the string being a token.
    let memory = SharedSessionStore::new(MemoryStore::new());
    for bad in [
        json!({"tokens": secret}),
        json!({"tokens": {"access_token": {"oops": secret}}}),
        json!(secret),
        json!({"cookies": secret, "metadata": [secret]}),
    ] {
        memory.save("bad", &StoreRecord::new(bad)).await.unwrap();
        let state = SessionState::builder(memory.clone(), "bad").build();
        if let Err(err) = state.restore().await {
            say_error(&err);
        }
    }
    // A session file whose bytes are broken around a token.
    let path = dir.join("broken.json");
    std::fs::write(&path, format!("{{\"sessions\": {{\"k\": \"{secret}")).unwrap();
    let file = SharedSessionStore::new(session_store::JsonFileStore::new(&path));
    if let Err(err) = file.load("k").await {
        say_error(&err);
    }
    std::fs::write(&path, format!("{{\"schema_version\": 1, \"sessions\": {{\"k\": {{\"data\": {{\"tokens\": \"{secret}\"}}}}}}}}")).unwrap();
    let state = SessionState::builder(file, "k").build();
    if let Err(err) = state.restore().await {
        say_error(&err);
    }
    // An encrypted file under a wrong key.
    let sealed = dir.join("sealed.bin");
    let right = session_store::EncryptedFileStore::new(
        &sealed,
        session_store::EncryptionKey::from_bytes([1; 32]),
    );
    SessionStore::save(&right, "k", &StoreRecord::new(json!({"t": secret})))
        .await
        .unwrap();
    let wrong = session_store::EncryptedFileStore::new(
        &sealed,
        session_store::EncryptionKey::from_bytes([2; 32]),
    );
    let err = SessionStore::load(&wrong, "k").await.unwrap_err();
    say_error(&err);
}

/// The server side; the session ids it handed out.
async fn server_side() -> Vec<String> {
    let config = SessionConfig::from_vars([
        ("SESSION_ADMIN_TOKEN", ADMIN_TOKEN),
        ("SESSION_LOG_REQUESTS", "true"),
        ("SESSION_PROTECTED_PATHS", "/app"),
    ])
    .unwrap();
    let manager = SessionManager::memory(config).unwrap();
    let app = Router::new()
        .route("/app", get(|| async { "inside" }))
        .merge(SessionRoutes::new(manager.clone()).into_router())
        .layer(SessionLayer::new(manager.clone()));
    let url = serve(app).await;
    let http = reqwest::Client::new();
    let mut ids = Vec::new();
    for user in ["alice", "bob"] {
        let created: serde_json::Value = http
            .post(format!("{url}/sessions/create"))
            .bearer_auth(ADMIN_TOKEN)
            .json(&json!({"user_id": user, "metadata": {"role": "user"}}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = created["session_id"].as_str().unwrap().to_owned();
        ids.push(id.clone());
        for (method, path) in [
            ("GET", "/app".to_owned()),
            ("GET", "/sessions/validate".to_owned()),
            ("GET", format!("/sessions/{id}")),
            ("POST", format!("/sessions/{id}/activity")),
            ("POST", format!("/sessions/{id}/extend")),
        ] {
            let response = http
                .request(method.parse().unwrap(), format!("{url}{path}"))
                .header("X-Session-ID", &id)
                .json(&json!({"additional_seconds": 60}))
                .send()
                .await
                .unwrap();
            assert!(response.status().is_success(), "{method} {path}");
        }
        // Someone else's id, a malformed one, a deleted one.
        let response = http
            .get(format!("{url}/app"))
            .header("X-Session-ID", format!("{id}x"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
        let response = http
            .delete(format!("{url}/sessions/{id}"))
            .header("X-Session-ID", &id)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
        let response = http
            .get(format!("{url}/app"))
            .header("X-Session-ID", &id)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
    }
    // The manager's own errors for a deleted id.
    if let Err(err) = manager.extend(&ids[0], 60).await {
        say_error(&err);
    }
    say(&format!("{manager:?} {:?}", manager.config()));
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_a_log_a_display_a_debug_or_an_error_chain() {
    log::set_logger(&LogCapture).unwrap();
    log::set_max_level(log::LevelFilter::Trace);
    tracing::subscriber::set_global_default(Registry::default().with(TraceCapture)).unwrap();

    let dir = std::env::temp_dir().join(format!("leaks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let idp = Idp::default();
    let url = start_idp(&idp).await;
    client_side(&url, &dir).await;
    let held = keyed_flows(&url).await;
    let one_token = idp.issued.lock().iter().next().unwrap().clone();
    stores_with_bad_data(&one_token, &dir).await;
    let ids = server_side().await;
    std::fs::remove_dir_all(&dir).ok();

    let mut secrets: Vec<String> = idp.issued.lock().iter().cloned().collect();
    assert!(secrets.len() >= 4, "a sign-in and a refresh issued tokens");
    secrets.extend(
        [PASSWORD, CLIENT_SECRET, ADMIN_TOKEN, COOKIE_VALUE]
            .iter()
            .map(|s| (*s).to_owned()),
    );
    secrets.extend(ids);
    secrets.extend(held);
    let said = SAID.lock().clone();
    assert!(
        said.lines().count() > 100,
        "the capture saw the run ({} lines)",
        said.lines().count()
    );
    for secret in &secrets {
        let leaks: Vec<&str> = said
            .lines()
            .filter(|l| l.contains(secret.as_str()))
            .collect();
        assert!(leaks.is_empty(), "{secret} leaked: {leaks:#?}");
    }
}
