//! What each fuzz target feeds untrusted bytes into, and what must hold
//! afterwards. The targets in `fuzz/fuzz_targets/` call these under
//! libFuzzer (`cargo xtask fuzz`); `tests/corpus.rs` replays the committed
//! corpus (`fuzz/corpus/<target>/`) through the same functions on every
//! test run.
//!
//! Every function drives a public entry point that meets outside input in
//! real use — a header, a stored file, a token, a request body, an
//! environment value, a provider's answer — and checks more than "no
//! panic": errors are typed, and nothing marked secret in the input comes
//! back in an error's text.

use std::error::Error as StdError;
use std::path::PathBuf;
use std::sync::LazyLock;

use axum::Router;
use axum::body::Body;
use http::{Request, StatusCode};
use session_core::time::{Duration as TimeDuration, OffsetDateTime};
use session_core::{Claims, SessionStore, TokenSet};
use session_oauth::ProviderMetadata;
use session_retry::RetryAfter;
use session_server::{SessionConfig, SessionLayer, SessionManager, SessionRoutes};
use session_store::{EncryptedFileStore, EncryptionKey, JsonFileStore};
use tower::ServiceExt;

/// What the seeds mark as secret: it may be in the input, never in an error.
pub const SECRET: &str = "FUZZSECRET";

/// A fixed instant, so a run depends on its input only.
fn now() -> OffsetDateTime {
    OffsetDateTime::UNIX_EPOCH + TimeDuration::days(20_000)
}

/// Panics if `error`, its `Debug` or any error in its source chain shows
/// the secret.
fn assert_quiet(error: &(dyn StdError + 'static)) {
    let mut next = Some(error);
    while let Some(e) = next {
        let text = format!("{e} {e:?}");
        assert!(!text.contains(SECRET), "an error shows the secret: {text}");
        next = e.source();
    }
}

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime")
});

/// A file of this process's own for the file-store targets.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("session-kit-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch folder");
    dir.join(name)
}

/// `Retry-After` header values: only delay-seconds can ask for no wait at
/// all (an HTTP-date that has passed is no wait, not a zero one).
pub fn retry_after(data: &[u8]) {
    if let RetryAfter::Wait(wait) = RetryAfter::parse_bytes(data, now())
        && wait.is_zero()
    {
        let text = std::str::from_utf8(data).expect("a wait came from text");
        assert!(
            text.trim().bytes().all(|b| b.is_ascii_digit()),
            "a zero wait from a date"
        );
    }
}

/// Loads a store file holding `data` and checks what must hold: a typed
/// error or records, and a file that is never lost (a corrupted one is
/// moved aside, not overwritten).
fn load_file(store: &dyn SessionStore, path: &std::path::Path, data: &[u8]) {
    std::fs::write(path, data).expect("the scratch file is writable");
    RUNTIME.block_on(async {
        match store.load("k").await {
            Ok(_) => {}
            Err(e) => assert_quiet(&e),
        }
        if let Err(e) = store.count().await {
            assert_quiet(&e);
        }
    });
    let kept = std::fs::read(path).is_ok_and(|now| now == data)
        || std::fs::read_dir(path.parent().expect("a scratch folder"))
            .expect("the scratch folder")
            .flatten()
            .any(|e| std::fs::read(e.path()).is_ok_and(|bytes| bytes == data));
    assert!(kept, "the stored bytes were lost");
    // Leave only the file itself for the next input.
    for entry in std::fs::read_dir(path.parent().expect("a scratch folder"))
        .expect("the scratch folder")
        .flatten()
    {
        let _ = std::fs::remove_file(entry.path());
    }
}

/// JSON session files.
pub fn session_file(data: &[u8]) {
    let path = scratch("json/sessions.json");
    std::fs::create_dir_all(path.parent().expect("a folder")).expect("a scratch folder");
    load_file(&JsonFileStore::new(&path), &path, data);
}

/// Encrypted session files (envelope, nonce, ciphertext).
pub fn encrypted_file(data: &[u8]) {
    let path = scratch("sealed/sessions.bin");
    std::fs::create_dir_all(path.parent().expect("a folder")).expect("a scratch folder");
    let store = EncryptedFileStore::new(&path, EncryptionKey::from_bytes([7; 32]));
    load_file(&store, &path, data);
}

/// Peeking at a JWT's claims without verifying it.
pub fn jwt_claims(data: &[u8]) {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    match Claims::decode_unverified(token) {
        Ok(claims) => {
            let _ = claims.expires_at();
            let _ = claims.issued_at();
        }
        Err(e) => assert_quiet(&e),
    }
}

const ADMIN: &str = "fuzz-admin-token";

static SERVER: LazyLock<Router> = LazyLock::new(|| {
    RUNTIME.block_on(async {
        let config = SessionConfig::from_vars([
            ("SESSION_ADMIN_TOKEN", ADMIN),
            ("SESSION_PROTECTED_PATHS", "/app"),
            ("SESSION_COOKIE", "sid"),
        ])
        .expect("a valid configuration");
        let manager = SessionManager::memory(config).expect("a memory manager");
        Router::new()
            .route("/app", axum::routing::get(|| async { "inside" }))
            .merge(SessionRoutes::new(manager.clone()).into_router())
            .layer(SessionLayer::new(manager))
    })
});

fn call(request: Request<Body>) -> StatusCode {
    let app = SERVER.clone();
    RUNTIME.block_on(async {
        app.oneshot(request)
            .await
            .expect("the router is infallible")
            .status()
    })
}

/// A session id presented in the header and in the cookie: refused with a
/// 4xx, never a 5xx.
pub fn server_session_id(data: &[u8]) {
    let mut cookie = b"sid=".to_vec();
    cookie.extend_from_slice(data);
    for (name, value) in [("x-session-id", data.to_vec()), ("cookie", cookie)] {
        let Ok(value) = http::HeaderValue::from_bytes(&value) else {
            continue;
        };
        let request = Request::get("/app")
            .header(name, value)
            .body(Body::empty())
            .expect("a valid request");
        let status = call(request);
        assert!(
            status == StatusCode::UNAUTHORIZED || status == StatusCode::BAD_REQUEST,
            "{name}: {status}"
        );
    }
}

/// Request bodies of the REST routes: a 2xx or a 4xx, never a 5xx.
pub fn rest_body(data: &[u8]) {
    let (route, body) = match data.split_first() {
        Some((selector, rest)) => (selector % 3, rest),
        None => (0, data),
    };
    let path = match route {
        0 => "/sessions/create",
        1 => "/sessions/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/extend",
        _ => "/sessions/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/activity",
    };
    let request = Request::post(path)
        .header("authorization", format!("Bearer {ADMIN}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_vec()))
        .expect("a valid request");
    let status = call(request);
    assert!(!status.is_server_error(), "{path}: {status}");
}

/// The names `SessionConfig::from_vars` reads.
const SETTINGS: &[&str] = &[
    "SESSION_ABSOLUTE_TIMEOUT",
    "SESSION_ACTIVITY_THROTTLE",
    "SESSION_ADMIN_TOKEN",
    "SESSION_AUTO_UPDATE",
    "SESSION_CACHE_TTL",
    "SESSION_CLEANUP_INTERVAL",
    "SESSION_COOKIE",
    "SESSION_COOKIE_DOMAIN",
    "SESSION_COOKIE_PATH",
    "SESSION_COOKIE_SAMESITE",
    "SESSION_CSRF_ALLOWED_ORIGINS",
    "SESSION_DB_PATH",
    "SESSION_DEFAULT_TIMEOUT",
    "SESSION_EXCLUDED_PATHS",
    "SESSION_HEADER",
    "SESSION_LOG_LEVEL",
    "SESSION_LOG_REQUESTS",
    "SESSION_MAX_PER_USER",
    "SESSION_MAX_TIMEOUT",
    "SESSION_MIN_TIMEOUT",
    "SESSION_PROTECTED_PATHS",
    "SESSION_REQUIRE_HTTPS",
    "SESSION_SECURE_COOKIES",
    "SESSION_TRUST_PROXY",
];

/// `SESSION_*` environment values: lines of `index=value`, the index naming
/// a setting. A valid configuration (which passes `validate` again) or a
/// typed error that never quotes the admin token.
pub fn session_env(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let vars: Vec<(&str, &str)> = text
        .lines()
        .filter_map(|line| {
            let (index, value) = line.split_once('=')?;
            let index: usize = index.trim().parse().ok()?;
            Some((SETTINGS[index % SETTINGS.len()], value))
        })
        .collect();
    // Errors quote a bad value to help (`"abc" for SESSION_MAX_PER_USER`,
    // upper-cased for the log level); the admin token is the one secret and
    // is never quoted.
    let quotable = vars.iter().any(|(name, value)| {
        *name != "SESSION_ADMIN_TOKEN" && value.to_ascii_uppercase().contains(SECRET)
    });
    match SessionConfig::from_vars(vars) {
        Ok(config) => {
            assert!(
                config.validate().is_ok(),
                "from_vars returned an invalid configuration"
            );
        }
        Err(e) if !quotable => assert_quiet(&e),
        Err(_) => {}
    }
}

/// Token endpoint answers: a token set whose `Debug` renders every token
/// through its redacting wrapper, or a typed error that quotes nothing of
/// the answer.
pub fn token_response(data: &[u8]) {
    match TokenSet::from_json_response(data, now()) {
        Ok(tokens) => {
            assert!(!tokens.access_token().expose_secret().is_empty());
            // Structural, so a token equal to a field name can't fool it.
            let shown = format!("{tokens:?}");
            assert!(
                shown.contains("access_token: AccessToken([redacted])"),
                "{shown}"
            );
            if tokens.refresh_token().is_some() {
                assert!(shown.contains("RefreshToken([redacted])"), "{shown}");
            }
            if tokens.id_token().is_some() {
                assert!(shown.contains("IdToken([redacted])"), "{shown}");
            }
        }
        Err(e) => assert_quiet(&e),
    }
}

/// Discovery documents for a fixed issuer.
pub fn discovery_document(data: &[u8]) {
    match ProviderMetadata::from_discovery_document("https://id.example.com", data) {
        Ok(provider) => {
            assert_eq!(
                provider.issuer.as_deref().map(|i| i.trim_end_matches('/')),
                Some("https://id.example.com")
            );
        }
        Err(e) => assert_quiet(&e),
    }
}

/// What a target does with one input (panics when an invariant breaks).
pub type Drive = fn(&[u8]);

/// Every target by name, for the corpus replay.
pub const TARGETS: &[(&str, Drive)] = &[
    ("retry_after", retry_after),
    ("session_file", session_file),
    ("encrypted_file", encrypted_file),
    ("jwt_claims", jwt_claims),
    ("server_session_id", server_session_id),
    ("rest_body", rest_body),
    ("session_env", session_env),
    ("token_response", token_response),
    ("discovery_document", discovery_document),
];
