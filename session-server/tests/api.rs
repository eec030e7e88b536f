//! Every endpoint and status code through the router, the layer's rules, and
//! the extractors. Every log event of this suite is captured (at TRACE) and
//! checked after each call: no session id the suite has seen may appear.

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, StatusCode};
use serde_json::{Value, json};
use session_server::{
    Admin, OptionalSession, RequirePermission, RequireRole, RequiredSession, SessionConfig,
    SessionLayer, SessionManager, SessionRoutes, Write,
};
use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};
use tower::ServiceExt as _;

const ADMIN: &str = "admin-token-for-tests";

/// Every log line written during the suite, and every session id seen.
struct Capture {
    logs: Mutex<Vec<u8>>,
    ids: Mutex<HashSet<String>>,
}

static CAPTURE: OnceLock<&'static Capture> = OnceLock::new();

#[derive(Clone, Copy)]
struct CaptureWriter(&'static Capture);

impl std::io::Write for CaptureWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.logs.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture() -> &'static Capture {
    CAPTURE.get_or_init(|| {
        let capture: &'static Capture = Box::leak(Box::new(Capture {
            logs: Mutex::new(Vec::new()),
            ids: Mutex::new(HashSet::new()),
        }));
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || CaptureWriter(capture))
            .init();
        capture
    })
}

/// Remembers `id` and fails if any id seen so far is in a log line.
fn no_id_in_logs(seen: impl IntoIterator<Item = String>) {
    let capture = capture();
    let mut ids = capture.ids.lock().unwrap();
    ids.extend(seen.into_iter().filter(|id| id.len() >= 16));
    let logs = String::from_utf8_lossy(&capture.logs.lock().unwrap()).into_owned();
    for id in ids.iter() {
        assert!(
            !logs.contains(id.as_str()),
            "a session id was logged: {logs}"
        );
    }
}

/// The session ids anywhere in a request's headers and URI or a
/// response's body and cookies.
fn ids_in(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .filter(|w| session_server::SessionId::parse(w).is_ok())
        .map(str::to_owned)
        .collect()
}

/// The paths the session service's own example protects and skips.
const SEED_PATHS: [(&str, &str); 2] = [
    ("SESSION_PROTECTED_PATHS", "/api/chat,/developer,/tasks"),
    ("SESSION_EXCLUDED_PATHS", "/docs,/health,/sessions/create"),
];

fn make_app(extra: &[(&str, &str)]) -> (Router, SessionManager) {
    let mut vars = vec![("SESSION_ADMIN_TOKEN", ADMIN)];
    vars.extend_from_slice(&SEED_PATHS);
    vars.extend_from_slice(extra);
    let manager = SessionManager::memory(SessionConfig::from_vars(vars).unwrap()).unwrap();
    let app = Router::new()
        .route(
            "/api/chat",
            get(|RequiredSession(c): RequiredSession| async move {
                format!("Hello {}!", c.session.user_id)
            }),
        )
        .route(
            "/public/info",
            get(|OptionalSession(c): OptionalSession| async move {
                c.map_or("Hello anonymous user!".to_owned(), |c| {
                    format!("Hello {}!", c.session.user_id)
                })
            }),
        )
        .route(
            "/admin",
            get(|RequireRole(c, ..): RequireRole<Admin>| async move { c.session.user_id.clone() }),
        )
        .route(
            "/write",
            get(|_: RequirePermission<Write>| async { "Write access granted" }),
        )
        .route("/health", get(|| async { "ok" }))
        .merge(SessionRoutes::new(manager.clone()).into_router())
        .layer(SessionLayer::new(manager.clone()));
    (app, manager)
}

async fn call(
    app: &Router,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (StatusCode, Value, http::HeaderMap) {
    capture();
    let mut seen = ids_in(uri);
    let mut req = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        seen.extend(ids_in(v));
        req = req.header(*k, *v);
    }
    let req = match body {
        Some(b) => req
            .header("content-type", "application/json")
            .body(Body::from(b.to_string())),
        None => req.body(Body::empty()),
    }
    .unwrap();
    let response = app.clone().oneshot(req).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    seen.extend(ids_in(&String::from_utf8_lossy(&bytes)));
    for cookie in headers.get_all("set-cookie") {
        seen.extend(ids_in(cookie.to_str().unwrap_or_default()));
    }
    no_id_in_logs(seen);
    (status, value, headers)
}

async fn create(app: &Router, user: &str, metadata: Value) -> String {
    let (status, body, headers) = call(
        app,
        "POST",
        "/sessions/create",
        &[("authorization", &format!("Bearer {ADMIN}"))],
        Some(json!({"user_id": user, "metadata": metadata})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["cache-control"], "no-store");
    body["session_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn creating_a_session_needs_the_admin_token_or_the_hook() {
    let (app, _) = make_app(&[]);
    let (status, _, _) = call(
        &app,
        "POST",
        "/sessions/create",
        &[],
        Some(json!({"user_id": "u"})),
    )
    .await;
    assert_eq!(status, 403, "never open to anyone");
    let (status, _, _) = call(
        &app,
        "POST",
        "/sessions/create",
        &[("authorization", "Bearer wrong")],
        Some(json!({"user_id": "u"})),
    )
    .await;
    assert_eq!(status, 403);
    let (status, body, _) = call(
        &app,
        "POST",
        "/sessions/create",
        &[("authorization", &format!("Bearer {ADMIN}"))],
        Some(json!({"user_id": "user123", "timeout": 3600})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["user_id"], "user123");
    assert_eq!(body["session_id"].as_str().unwrap().len(), 43);
    assert!(body["expires_at"].is_string());
    // Bad bodies and bad timeouts: 422.
    for bad in [
        json!({"timeout": 3600}),
        json!({"user_id": 5}),
        json!({"user_id": "u", "timeout": 1}),
    ] {
        let (status, _, _) = call(
            &app,
            "POST",
            "/sessions/create",
            &[("authorization", &format!("Bearer {ADMIN}"))],
            Some(bad),
        )
        .await;
        assert_eq!(status, 422);
    }

    #[derive(Debug, Default, Clone)]
    struct OnlyAda {
        seen: std::sync::Arc<Mutex<Vec<session_server::CreateRequest>>>,
    }
    #[async_trait::async_trait]
    impl session_server::AuthorizeCreate for OnlyAda {
        async fn may_create(
            &self,
            headers: &http::HeaderMap,
            request: &session_server::CreateRequest,
        ) -> bool {
            self.seen.lock().unwrap().push(request.clone());
            request.user_id == "ada"
                && headers
                    .get("x-password")
                    .is_some_and(|p| p == "correct horse")
        }
    }
    let hook = OnlyAda::default();
    let manager = SessionManager::memory(SessionConfig::default()).unwrap();
    let hooked = SessionRoutes::new(manager)
        .authorize_create(hook.clone())
        .into_router();
    let (status, _, _) = call(
        &hooked,
        "POST",
        "/sessions/create",
        &[("x-password", "correct horse")],
        Some(json!({"user_id": "ada"})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _, _) = call(
        &hooked,
        "POST",
        "/sessions/create",
        &[("x-password", "correct horse")],
        Some(json!({"user_id": "bob"})),
    )
    .await;
    assert_eq!(status, 403);

    // The hook sees everything asked for; a caller it admits can't grant
    // itself a role or permissions.
    let asked =
        json!({"user_id": "ada", "timeout": 900, "metadata": {"role": "admin", "theme": "dark"}});
    let (status, body, _) = call(
        &hooked,
        "POST",
        "/sessions/create",
        &[("x-password", "correct horse")],
        Some(asked),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        body["detail"],
        "you may not grant this role or these permissions"
    );
    let seen = hook.seen.lock().unwrap().last().cloned().unwrap();
    assert_eq!(
        (seen.user_id.as_str(), seen.timeout, seen.role()),
        ("ada", Some(900), Some("admin"))
    );
    assert_eq!(seen.metadata["theme"], "dark");
    let (status, _, _) = call(
        &hooked,
        "POST",
        "/sessions/create",
        &[("x-password", "correct horse")],
        Some(json!({"user_id": "ada", "metadata": {"permissions": ["write"]}})),
    )
    .await;
    assert_eq!(status, 403, "permissions are privileges too");
}

#[tokio::test]
async fn a_self_granted_admin_role_never_reaches_the_admin_endpoints() {
    /// Admits anyone for themselves, as a careless hook would.
    #[derive(Debug)]
    struct Anyone;
    #[async_trait::async_trait]
    impl session_server::AuthorizeCreate for Anyone {
        async fn may_create(&self, _: &http::HeaderMap, _: &session_server::CreateRequest) -> bool {
            true
        }
    }
    /// Lets callers be readers, nothing more.
    #[derive(Debug)]
    struct Readers;
    #[async_trait::async_trait]
    impl session_server::AuthorizeCreate for Readers {
        async fn may_create(&self, _: &http::HeaderMap, _: &session_server::CreateRequest) -> bool {
            true
        }
        async fn may_grant(
            &self,
            _: &http::HeaderMap,
            request: &session_server::CreateRequest,
        ) -> bool {
            request.role().is_none_or(|r| r == "reader")
                && request.permissions().iter().all(|p| *p == "read")
        }
    }
    let manager = SessionManager::memory(SessionConfig::default()).unwrap();
    let careless = SessionRoutes::new(manager.clone())
        .authorize_create(Anyone)
        .into_router();
    let (status, _, _) = call(
        &careless,
        "POST",
        "/sessions/create",
        &[],
        Some(json!({"user_id": "mallory", "metadata": {"role": "admin"}})),
    )
    .await;
    assert_eq!(status, 403);
    let (status, body, _) = call(
        &careless,
        "POST",
        "/sessions/create",
        &[],
        Some(json!({"user_id": "mallory"})),
    )
    .await;
    assert_eq!(status, 200);
    let id = body["session_id"].as_str().unwrap().to_owned();
    let (status, _, _) = call(
        &careless,
        "GET",
        "/sessions/stats",
        &[("x-session-id", &id)],
        None,
    )
    .await;
    assert_eq!(status, 403, "no admin role, no stats");

    let readers = SessionRoutes::new(manager)
        .authorize_create(Readers)
        .into_router();
    for (metadata, expected) in [
        (json!({"role": "reader", "permissions": ["read"]}), 200),
        (json!({"role": "admin"}), 403),
        (json!({"permissions": ["read", "write"]}), 403),
    ] {
        let (status, body, _) = call(
            &readers,
            "POST",
            "/sessions/create",
            &[],
            Some(json!({"user_id": "rita", "metadata": metadata})),
        )
        .await;
        assert_eq!(status, expected, "{metadata}: {body}");
    }
}

#[tokio::test]
async fn the_layer_protects_paths_and_the_extractors_check_roles() {
    let (app, _) = make_app(&[]);
    let admin = create(
        &app,
        "alice",
        json!({"role": "admin", "permissions": ["read", "write"]}),
    )
    .await;
    let reader = create(
        &app,
        "bob",
        json!({"role": "user", "permissions": ["read"]}),
    )
    .await;

    assert_eq!(call(&app, "GET", "/api/chat", &[], None).await.0, 401);
    assert_eq!(
        call(
            &app,
            "GET",
            "/api/chat",
            &[("x-session-id", "garbage")],
            None
        )
        .await
        .0,
        401
    );
    let (status, body, headers) =
        call(&app, "GET", "/api/chat", &[("x-session-id", &reader)], None).await;
    assert_eq!((status, body), (StatusCode::OK, json!("Hello bob!")));
    assert_eq!(headers["cache-control"], "no-store");

    assert_eq!(
        call(&app, "GET", "/public/info", &[], None).await.1,
        json!("Hello anonymous user!")
    );
    assert_eq!(
        call(
            &app,
            "GET",
            "/public/info",
            &[("x-session-id", &admin)],
            None
        )
        .await
        .1,
        json!("Hello alice!")
    );

    assert_eq!(call(&app, "GET", "/admin", &[], None).await.0, 401);
    assert_eq!(
        call(&app, "GET", "/admin", &[("x-session-id", &reader)], None)
            .await
            .0,
        403
    );
    assert_eq!(
        call(&app, "GET", "/admin", &[("x-session-id", &admin)], None)
            .await
            .0,
        200
    );
    assert_eq!(
        call(&app, "GET", "/write", &[("x-session-id", &reader)], None)
            .await
            .0,
        403
    );
    assert_eq!(
        call(&app, "GET", "/write", &[("x-session-id", &admin)], None)
            .await
            .0,
        200
    );

    let (status, _, headers) = call(&app, "GET", "/health", &[], None).await;
    assert_eq!(status, 200);
    assert!(
        headers.get("cache-control").is_none(),
        "excluded and id-free: untouched"
    );
}

#[tokio::test]
async fn every_own_session_endpoint_and_its_status_codes() {
    let (app, _) = make_app(&[]);
    let a = create(&app, "ada", json!({})).await;
    let b = create(&app, "bob", json!({})).await;
    let as_a = [("x-session-id", a.as_str())];

    let (status, body, _) = call(&app, "GET", &format!("/sessions/{a}"), &as_a, None).await;
    assert_eq!(
        (status, body["user_id"].clone()),
        (StatusCode::OK, json!("ada"))
    );
    assert_eq!(
        call(
            &app,
            "POST",
            &format!("/sessions/{a}/activity"),
            &as_a,
            None
        )
        .await
        .0,
        200
    );
    let (status, body, _) = call(
        &app,
        "POST",
        &format!("/sessions/{a}/extend"),
        &as_a,
        Some(json!({"additional_seconds": 1800})),
    )
    .await;
    assert_eq!(
        (status, body["timeout"].clone()),
        (StatusCode::OK, json!(5400))
    );
    assert_eq!(
        call(
            &app,
            "POST",
            &format!("/sessions/{a}/extend"),
            &as_a,
            Some(json!({"seconds": 5}))
        )
        .await
        .0,
        422
    );
    let (status, body, _) = call(&app, "GET", "/sessions/validate", &as_a, None).await;
    assert_eq!(
        (status, body["valid"].clone()),
        (StatusCode::OK, json!(true))
    );

    // A can't read, extend or delete B's session.
    assert_eq!(
        call(&app, "GET", &format!("/sessions/{b}"), &as_a, None)
            .await
            .0,
        403
    );
    assert_eq!(
        call(
            &app,
            "POST",
            &format!("/sessions/{b}/extend"),
            &as_a,
            Some(json!({"additional_seconds": 10}))
        )
        .await
        .0,
        403
    );
    assert_eq!(
        call(&app, "DELETE", &format!("/sessions/{b}"), &as_a, None)
            .await
            .0,
        403
    );
    assert_eq!(
        call(&app, "GET", &format!("/sessions/{b}"), &[], None)
            .await
            .0,
        401
    );
    // The admin can; unknown ids are 404.
    let admin = [("authorization", &*format!("Bearer {ADMIN}"))];
    assert_eq!(
        call(&app, "GET", &format!("/sessions/{b}"), &admin, None)
            .await
            .0,
        200
    );
    assert_eq!(
        call(
            &app,
            "GET",
            &format!("/sessions/{}", "A".repeat(43)),
            &admin,
            None
        )
        .await
        .0,
        404
    );
    assert_eq!(
        call(&app, "GET", "/sessions/not-an-id", &admin, None)
            .await
            .0,
        404
    );

    assert_eq!(
        call(&app, "DELETE", &format!("/sessions/{a}"), &as_a, None)
            .await
            .0,
        200
    );
    assert_eq!(
        call(&app, "GET", "/sessions/validate", &as_a, None).await.0,
        401
    );
    assert_eq!(
        call(&app, "GET", "/sessions/validate", &[], None).await.0,
        401
    );
    assert_eq!(
        call(&app, "GET", "/api/chat", &as_a, None).await.0,
        401,
        "logged out"
    );
}

#[tokio::test]
async fn admin_endpoints_need_the_admin_role() {
    let (app, _) = make_app(&[]);
    let user = create(&app, "ada", json!({"role": "user"})).await;
    create(&app, "ada", json!({})).await;
    let boss = create(&app, "root", json!({"role": "admin"})).await;
    let as_user = [("x-session-id", user.as_str())];
    let as_boss = [("x-session-id", boss.as_str())];

    assert_eq!(call(&app, "GET", "/sessions/stats", &[], None).await.0, 401);
    assert_eq!(
        call(&app, "GET", "/sessions/stats", &as_user, None).await.0,
        403
    );
    let (status, stats, _) = call(&app, "GET", "/sessions/stats", &as_boss, None).await;
    assert_eq!(
        (status, stats["active"].clone()),
        (StatusCode::OK, json!(3))
    );

    assert_eq!(
        call(&app, "GET", "/sessions/user/ada/sessions", &as_user, None)
            .await
            .0,
        403
    );
    let (status, list, _) = call(&app, "GET", "/sessions/user/ada/sessions", &as_boss, None).await;
    assert_eq!(
        (status, list["sessions"].as_array().unwrap().len()),
        (StatusCode::OK, 2)
    );
    assert!(!list.to_string().contains(&user), "ids are never listed");

    assert_eq!(
        call(&app, "DELETE", "/sessions/user/ada", &as_user, None)
            .await
            .0,
        403
    );
    let (status, body, _) = call(
        &app,
        "DELETE",
        "/sessions/user/ada",
        &[("authorization", &format!("Bearer {ADMIN}"))],
        None,
    )
    .await;
    assert_eq!(
        (status, body["invalidated"].clone()),
        (StatusCode::OK, json!(2))
    );
}

#[tokio::test]
async fn https_and_cookies() {
    let (app, _) = make_app(&[
        ("SESSION_REQUIRE_HTTPS", "true"),
        ("SESSION_COOKIE", "sid"),
        ("SESSION_SECURE_COOKIES", "true"),
    ]);
    assert_eq!(
        call(&app, "GET", "/api/chat", &[], None).await.0,
        403,
        "plain http refused"
    );
    // X-Forwarded-Proto is not trusted unless configured.
    assert_eq!(
        call(
            &app,
            "GET",
            "/api/chat",
            &[("x-forwarded-proto", "https")],
            None
        )
        .await
        .0,
        403
    );
    let (trusting, _) = make_app(&[
        ("SESSION_REQUIRE_HTTPS", "true"),
        ("SESSION_TRUST_PROXY", "true"),
        ("SESSION_COOKIE", "sid"),
        ("SESSION_SECURE_COOKIES", "true"),
    ]);
    // Every path that reads or issues an id is https-only, creation and
    // excluded paths included.
    for (method, uri) in [("POST", "/sessions/create"), ("GET", "/health")] {
        let (status, body, headers) = call(
            &trusting,
            method,
            uri,
            &[("authorization", &format!("Bearer {ADMIN}"))],
            Some(json!({"user_id": "ada"})),
        )
        .await;
        assert_eq!(status, 403, "plain http {method} {uri}: {body}");
        assert!(headers.get("set-cookie").is_none());
    }
    let routes_alone = SessionRoutes::new(
        SessionManager::memory(
            SessionConfig::from_vars([
                ("SESSION_ADMIN_TOKEN", ADMIN),
                ("SESSION_REQUIRE_HTTPS", "true"),
            ])
            .unwrap(),
        )
        .unwrap(),
    )
    .into_router();
    let (status, _, _) = call(
        &routes_alone,
        "POST",
        "/sessions/create",
        &[("authorization", &format!("Bearer {ADMIN}"))],
        Some(json!({"user_id": "ada"})),
    )
    .await;
    assert_eq!(
        status, 403,
        "the REST routes keep the rule without the layer"
    );
    let (status, body, headers) = call(
        &trusting,
        "POST",
        "/sessions/create",
        &[
            ("authorization", &format!("Bearer {ADMIN}")),
            ("x-forwarded-proto", "https"),
        ],
        Some(json!({"user_id": "ada"})),
    )
    .await;
    assert_eq!(status, 200);
    let cookie = headers["set-cookie"].to_str().unwrap().to_owned();
    let id = body["session_id"].as_str().unwrap();
    assert!(cookie.starts_with(&format!("__Host-sid={id}")), "{cookie}");
    for attr in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    let (status, body, _) = call(
        &trusting,
        "GET",
        "/api/chat",
        &[
            ("x-forwarded-proto", "https"),
            ("cookie", &format!("__Host-sid={id}")),
        ],
        None,
    )
    .await;
    assert_eq!((status, body), (StatusCode::OK, json!("Hello ada!")));
}

#[tokio::test]
async fn a_failing_store_is_a_500_without_internals() {
    use session_core::{SessionStore, StoreRecord};

    #[derive(Debug)]
    struct Down;
    #[async_trait::async_trait]
    impl SessionStore for Down {
        async fn load(&self, _: &str) -> session_core::Result<Option<StoreRecord>> {
            Err(fail())
        }
        async fn save(&self, _: &str, _: &StoreRecord) -> session_core::Result<()> {
            Err(fail())
        }
        async fn insert_if_absent(&self, _: &str, _: &StoreRecord) -> session_core::Result<bool> {
            Err(fail())
        }
        async fn update_if_exists(&self, _: &str, _: &StoreRecord) -> session_core::Result<bool> {
            Err(fail())
        }
        async fn delete(&self, _: &str) -> session_core::Result<bool> {
            Err(fail())
        }
        async fn list_by_owner(&self, _: &str) -> session_core::Result<Vec<(String, StoreRecord)>> {
            Err(fail())
        }
        async fn delete_by_owner(&self, _: &str) -> session_core::Result<u64> {
            Err(fail())
        }
        async fn delete_expired(
            &self,
            _: session_core::time::OffsetDateTime,
        ) -> session_core::Result<u64> {
            Err(fail())
        }
        async fn owner_counts(&self) -> session_core::Result<Vec<(String, u64)>> {
            Err(fail())
        }
        async fn count(&self) -> session_core::Result<u64> {
            Err(fail())
        }
    }
    fn fail() -> session_core::Error {
        session_core::Error::store(
            "reach db.internal:5432",
            true,
            std::io::Error::other("SECRET-INTERNAL"),
        )
    }
    let manager = SessionManager::new(
        session_core::SharedSessionStore::new(Down),
        SessionConfig::from_vars([("SESSION_ADMIN_TOKEN", ADMIN)]).unwrap(),
    )
    .unwrap();
    let app = SessionRoutes::new(manager).into_router();
    let (status, body, _) = call(
        &app,
        "POST",
        "/sessions/create",
        &[("authorization", &format!("Bearer {ADMIN}"))],
        Some(json!({"user_id": "u"})),
    )
    .await;
    assert_eq!(status, 500);
    assert_eq!(body, json!({"detail": "internal error"}));
}

#[tokio::test]
async fn a_nul_in_a_user_id_or_metadata_is_a_422_never_a_500() {
    let (app, _) = make_app(&[]);
    let admin = [("authorization", format!("Bearer {ADMIN}"))];
    let admin: Vec<(&str, &str)> = admin.iter().map(|(k, v)| (*k, v.as_str())).collect();
    for body in [
        json!({"user_id": "a\0b"}),
        json!({"user_id": "ada", "metadata": {"note": "a\0b"}}),
    ] {
        let (status, answer, _) =
            call(&app, "POST", "/sessions/create", &admin, Some(body.clone())).await;
        assert_eq!(status, 422, "{body}: {answer}");
    }
    for (method, uri) in [
        ("GET", "/sessions/user/a%00b/sessions"),
        ("DELETE", "/sessions/user/a%00b"),
    ] {
        let (status, answer, _) = call(&app, method, uri, &admin, None).await;
        assert_eq!(status, 422, "{method} {uri}: {answer}");
    }
}

#[tokio::test]
async fn a_cross_site_request_may_not_ride_on_the_session_cookie() {
    let (app, _) = make_app(&[("SESSION_COOKIE", "sid")]);
    let id = create(&app, "ada", json!({})).await;
    let cookie = format!("sid={id}");
    let activity = format!("/sessions/{id}/activity");
    let host = ("host", "app.example.com");
    let cases: [(&[(&str, &str)], u16); 6] = [
        (&[("origin", "https://evil.example")], 403),
        (&[("sec-fetch-site", "cross-site")], 403),
        (&[("origin", "null")], 403),
        (&[("origin", "http://app.example.com")], 200),
        (&[("sec-fetch-site", "same-origin")], 200),
        (&[], 200),
    ];
    for (extra, expected) in cases {
        let mut headers = vec![("cookie", cookie.as_str()), host];
        headers.extend_from_slice(extra);
        let (status, body, _) = call(&app, "POST", &activity, &headers, None).await;
        assert_eq!(status.as_u16(), expected, "{extra:?}: {body}");
    }
    // The same cross-site request with the id in the header: the page
    // that set it meant to.
    let (status, _, _) = call(
        &app,
        "POST",
        &activity,
        &[
            ("x-session-id", &id),
            ("origin", "https://evil.example"),
            host,
        ],
        None,
    )
    .await;
    assert_eq!(status, 200);
    // A cross-site GET with the cookie is a navigation, not a change.
    let (status, _, _) = call(
        &app,
        "GET",
        "/api/chat",
        &[("cookie", &cookie), ("sec-fetch-site", "cross-site"), host],
        None,
    )
    .await;
    assert_eq!(status, 200);
    // The REST routes keep the rule without the layer.
    let manager = SessionManager::memory(
        SessionConfig::from_vars([("SESSION_ADMIN_TOKEN", ADMIN), ("SESSION_COOKIE", "sid")])
            .unwrap(),
    )
    .unwrap();
    let routes_alone = SessionRoutes::new(manager.clone()).into_router();
    let (own, _) = manager.create("ada", None, json!({})).await.unwrap();
    let (status, _, _) = call(
        &routes_alone,
        "DELETE",
        &format!("/sessions/{}", own.as_str()),
        &[
            ("cookie", &format!("sid={}", own.as_str())),
            ("origin", "https://evil.example"),
            host,
        ],
        None,
    )
    .await;
    assert_eq!(status, 403);
    assert!(manager.get(own.as_str()).await.unwrap().is_some());
    // An allowed origin passes.
    let (allowing, _) = make_app(&[
        ("SESSION_COOKIE", "sid"),
        ("SESSION_CSRF_ALLOWED_ORIGINS", "https://admin.example.com"),
    ]);
    let id = create(&allowing, "ada", json!({})).await;
    let (status, _, _) = call(
        &allowing,
        "DELETE",
        &format!("/sessions/{id}"),
        &[
            ("cookie", &format!("sid={id}")),
            ("origin", "https://admin.example.com"),
            host,
        ],
        None,
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn request_logs_show_the_path_with_the_id_redacted() {
    let (app, _) = make_app(&[]);
    let id = create(&app, "ada", json!({})).await;
    let (status, _, _) = call(
        &app,
        "GET",
        &format!("/sessions/{id}"),
        &[("x-session-id", &id)],
        None,
    )
    .await;
    assert_eq!(status, 200);
    let logs = String::from_utf8_lossy(&capture().logs.lock().unwrap()).into_owned();
    assert!(
        logs.contains("path=/sessions/[session id]"),
        "the request was logged, redacted: {logs}"
    );
}

#[tokio::test]
async fn the_layer_serves_any_body_under_and_over_other_layers() {
    use tower_http::compression::CompressionLayer;
    use tower_http::limit::RequestBodyLimitLayer;

    let manager = SessionManager::memory(
        SessionConfig::builder()
            .protected_paths(["/echo"])
            .build()
            .unwrap(),
    )
    .unwrap();
    let (id, _) = manager.create("ada", None, json!({})).await.unwrap();
    let handler = |RequiredSession(c): RequiredSession, body: String| async move {
        format!("{} sent {} bytes", c.session.user_id, body.len())
    };
    // The session layer outermost, body-changing layers under it…
    let under = Router::new()
        .route("/echo", axum::routing::post(handler))
        .layer(CompressionLayer::new())
        .layer(RequestBodyLimitLayer::new(64))
        .layer(SessionLayer::new(manager.clone()));
    // …and innermost, under them.
    let over = Router::new()
        .route("/echo", axum::routing::post(handler))
        .layer(SessionLayer::new(manager.clone()))
        .layer(RequestBodyLimitLayer::new(64))
        .layer(CompressionLayer::new());
    // And as a plain tower stack around a service with its own body types.
    let stack = tower::ServiceBuilder::new()
        .layer(CompressionLayer::new())
        .layer(SessionLayer::new(manager.clone()))
        .layer(RequestBodyLimitLayer::new(64))
        .service(under.clone());
    for app in [under, over] {
        let ok = Request::post("/echo")
            .header("x-session-id", id.as_str())
            .body(Body::from("hello"))
            .unwrap();
        let response = app.clone().oneshot(ok).await.unwrap();
        assert_eq!(response.status(), 200);
        let bytes = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        assert_eq!(&bytes[..], b"ada sent 5 bytes");
        let anonymous = Request::post("/echo").body(Body::from("hello")).unwrap();
        assert_eq!(app.clone().oneshot(anonymous).await.unwrap().status(), 401);
        let too_big = Request::post("/echo")
            .header("x-session-id", id.as_str())
            .body(Body::from(vec![b'x'; 1000]))
            .unwrap();
        assert_eq!(app.oneshot(too_big).await.unwrap().status(), 413);
    }
    let ok = Request::post("/echo")
        .header("x-session-id", id.as_str())
        .body(Body::from("hello"))
        .unwrap();
    assert_eq!(stack.oneshot(ok).await.unwrap().status(), 200);
}
