//! Sessions in an application's own handlers: values in and out, login,
//! id cycling, logout, the cookie each sets, and what concurrent requests
//! and a second process see.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::{get, post};
use http::{Request, StatusCode};
use serde_json::{Value, json};
use session_core::{CountingStore, MemoryStore, SharedSessionStore};
use session_server::{
    Login, RequireRole, RequiredSession, SameSite, SessionConfig, SessionHandle, SessionLayer,
    SessionManager,
};
use tower::ServiceExt as _;

fn config() -> SessionConfig {
    SessionConfig::builder()
        .cookie_name("sid")
        .secure_cookies(true)
        .same_site(SameSite::Strict)
        .protected_paths(["/me", "/admin"])
        .excluded_paths(["/bye"])
        .build()
        .unwrap()
}

async fn login(session: SessionHandle) -> Result<String, session_server::Error> {
    // A real app checks a password here.
    let id = session
        .login(Login::user("ada").role("customer").permission("read"))
        .await?;
    Ok(id.as_str().to_owned())
}

async fn put(
    session: SessionHandle,
    axum::extract::Path((key, value)): axum::extract::Path<(String, String)>,
) -> Result<(), session_server::Error> {
    session.insert(&key, &value).await
}

async fn read(
    session: SessionHandle,
    axum::extract::Path(key): axum::extract::Path<String>,
) -> Result<String, session_server::Error> {
    Ok(session.get::<String>(&key).await?.unwrap_or_default())
}

async fn elevate(session: SessionHandle) -> Result<String, session_server::Error> {
    let id = session.cycle_id(Some(json!({"role": "admin"}))).await?;
    Ok(id.as_str().to_owned())
}

async fn logout(session: SessionHandle) -> Result<String, session_server::Error> {
    Ok(session.logout().await?.to_string())
}

fn app(manager: &SessionManager) -> Router {
    Router::new()
        .route("/login", post(login))
        .route("/put/{key}/{value}", post(put))
        .route("/get/{key}", get(read))
        .route("/elevate", post(elevate))
        .route("/logout", post(logout))
        .route("/bye", post(logout))
        .route(
            "/me",
            get(|RequiredSession(c): RequiredSession| async move { c.session.user_id.clone() }),
        )
        .route(
            "/admin",
            get(|_: RequireRole<session_server::Admin>| async { "admin" }),
        )
        .layer(SessionLayer::new(manager.clone()))
}

/// Sends a request over "https" with the cookie, if any; returns the
/// status, body and `Set-Cookie`.
async fn send(
    app: &Router,
    method: &str,
    uri: &str,
    cookie: Option<&str>,
) -> (StatusCode, String, Option<String>) {
    let mut req = Request::builder()
        .method(method)
        .uri(format!("https://app.example.com{uri}"))
        .header("host", "app.example.com");
    if let Some(id) = cookie {
        req = req.header("cookie", format!("__Host-sid={id}"));
    }
    let response = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let set_cookie = response
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .unwrap();
    (
        status,
        String::from_utf8_lossy(&body).into_owned(),
        set_cookie,
    )
}

fn cookie_value(set_cookie: &str) -> String {
    let cookie = cookie::Cookie::parse(set_cookie.to_owned()).unwrap();
    cookie.value().to_owned()
}

#[tokio::test]
async fn login_sets_the_configured_cookie_and_values_survive_to_the_next_request() {
    let manager = SessionManager::memory(config()).unwrap();
    let app = app(&manager);
    let (status, id, set_cookie) = send(&app, "POST", "/login", None).await;
    assert_eq!(status, 200);
    let set_cookie = set_cookie.expect("the layer sets the cookie");
    let cookie = cookie::Cookie::parse(set_cookie.clone()).unwrap();
    assert_eq!(cookie.name(), "__Host-sid");
    assert_eq!(cookie.value(), id);
    assert_eq!(cookie.path(), Some("/"));
    assert_eq!(cookie.same_site(), Some(cookie::SameSite::Strict));
    assert_eq!(
        (cookie.http_only(), cookie.secure()),
        (Some(true), Some(true))
    );
    let max_age = cookie.max_age().unwrap().whole_seconds();
    assert!(
        (7 * 86_400 - 2..=7 * 86_400).contains(&max_age),
        "as long as the session can live: {max_age}"
    );

    assert_eq!(send(&app, "GET", "/me", Some(&id)).await.1, "ada");
    let (status, _, _) = send(&app, "POST", "/put/cart/book", Some(&id)).await;
    assert_eq!(status, 200);
    assert_eq!(send(&app, "GET", "/get/cart", Some(&id)).await.1, "book");
    let stored = manager.get(&id).await.unwrap().unwrap();
    assert_eq!(stored.data["cart"], "book");
    assert!(
        stored.metadata.get("cart").is_none(),
        "values never land in the metadata the role checks read"
    );
}

#[tokio::test]
async fn a_value_needs_a_session_and_a_bad_value_is_a_typed_error() {
    let manager = SessionManager::memory(config()).unwrap();
    let app = app(&manager);
    let (status, body, _) = send(&app, "POST", "/put/cart/book", None).await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("log in first"));

    let id = send(&app, "POST", "/login", None).await.1;
    let handle_with_bad_value = Router::new()
        .route(
            "/nul",
            post(|session: SessionHandle| async move { session.insert("k", "a\0b").await }),
        )
        .route(
            "/wrong-type",
            get(|session: SessionHandle| async move {
                session.insert("n", &5).await?;
                session.get::<Vec<String>>("n").await.map(|_| ())
            }),
        )
        .layer(SessionLayer::new(manager.clone()));
    let (status, body, _) = send(&handle_with_bad_value, "POST", "/nul", Some(&id)).await;
    assert_eq!(status, 500, "{body}");
    let (status, body, _) = send(&handle_with_bad_value, "GET", "/wrong-type", Some(&id)).await;
    assert_eq!(
        (status.as_u16(), body.as_str()),
        (500, r#"{"detail":"internal error"}"#)
    );

    let no_layer = Router::new().route("/x", get(|_: SessionHandle| async { "unreachable" }));
    let (status, body, _) = send(&no_layer, "GET", "/x", None).await;
    assert_eq!(status, 500);
    assert!(body.contains("session layer is not installed"));
}

#[tokio::test]
async fn a_read_only_request_writes_nothing() {
    let store = CountingStore::new();
    let manager = SessionManager::new(SharedSessionStore::new(store.clone()), config()).unwrap();
    let app = app(&manager);
    let id = send(&app, "POST", "/login", None).await.1;
    send(&app, "POST", "/put/theme/dark", Some(&id)).await;
    let before = store.writes();
    for _ in 0..5 {
        assert_eq!(send(&app, "GET", "/get/theme", Some(&id)).await.1, "dark");
        assert_eq!(send(&app, "GET", "/me", Some(&id)).await.1, "ada");
    }
    assert_eq!(
        store.writes(),
        before,
        "reads within the activity throttle write nothing"
    );
    send(&app, "POST", "/put/theme/light", Some(&id)).await;
    assert_eq!(store.writes(), before + 1, "one write per changing request");
}

#[tokio::test]
async fn concurrent_requests_keep_each_others_keys() {
    let manager = SessionManager::memory(
        SessionConfig::builder()
            .cookie_name("sid")
            .secure_cookies(true)
            // Every request also records activity: that write must not
            // undo a value either.
            .activity_throttle(Duration::ZERO)
            .build()
            .unwrap(),
    )
    .unwrap();
    let barrier = Arc::new(tokio::sync::Barrier::new(2));
    let writer = {
        let barrier = barrier.clone();
        move |session: SessionHandle,
              axum::extract::Path((key, value)): axum::extract::Path<(String, String)>| {
            let barrier = barrier.clone();
            async move {
                // Both requests have loaded the session before either writes.
                let _ = session.get::<String>(&key).await;
                barrier.wait().await;
                session.insert(&key, &value).await
            }
        }
    };
    let app = Router::new()
        .route("/login", post(login))
        .route("/together/{key}/{value}", post(writer))
        .layer(SessionLayer::new(manager.clone()));
    let id = send(&app, "POST", "/login", None).await.1;
    let (a, b) = tokio::join!(
        send(&app, "POST", "/together/cart/book", Some(&id)),
        send(&app, "POST", "/together/theme/dark", Some(&id)),
    );
    assert_eq!((a.0, b.0), (StatusCode::OK, StatusCode::OK));
    let data = manager.get(&id).await.unwrap().unwrap().data;
    assert_eq!(
        Value::Object(data),
        json!({"cart": "book", "theme": "dark"})
    );
}

#[tokio::test]
async fn a_second_process_writing_other_keys_keeps_ours() {
    // Two managers on one store stand for two server processes. Each write
    // applies only its own keys to what the store holds, so sequential
    // writes of different keys from both survive; the later write wins a
    // key both changed.
    let store = SharedSessionStore::new(MemoryStore::new());
    let a = SessionManager::new(store.clone(), config()).unwrap();
    let b = SessionManager::new(store, config()).unwrap();
    let (app_a, app_b) = (app(&a), app(&b));
    let id = send(&app_a, "POST", "/login", None).await.1;
    assert_eq!(send(&app_b, "GET", "/me", Some(&id)).await.1, "ada");
    send(&app_a, "POST", "/put/cart/book", Some(&id)).await;
    send(&app_b, "POST", "/put/theme/dark", Some(&id)).await;
    send(&app_a, "POST", "/put/theme/light", Some(&id)).await;
    let data = a.get(&id).await.unwrap().unwrap().data;
    assert_eq!(
        Value::Object(data),
        json!({"cart": "book", "theme": "light"})
    );
}

#[tokio::test]
async fn cycling_the_id_keeps_the_values_and_kills_the_old_id() {
    let manager = SessionManager::memory(config()).unwrap();
    let app = app(&manager);
    let old = send(&app, "POST", "/login", None).await.1;
    send(&app, "POST", "/put/cart/book", Some(&old)).await;
    assert_eq!(send(&app, "GET", "/admin", Some(&old)).await.0, 403);
    let (status, new, set_cookie) = send(&app, "POST", "/elevate", Some(&old)).await;
    assert_eq!(status, 200);
    assert_ne!(new, old);
    assert_eq!(cookie_value(&set_cookie.unwrap()), new);
    assert_eq!(send(&app, "GET", "/admin", Some(&new)).await.0, 200);
    assert_eq!(send(&app, "GET", "/get/cart", Some(&new)).await.1, "book");
    assert_eq!(
        send(&app, "GET", "/me", Some(&old)).await.0,
        401,
        "the old id is dead"
    );
}

#[tokio::test]
async fn logging_in_over_a_planted_session_gives_a_new_id() {
    let manager = SessionManager::memory(config()).unwrap();
    let app = app(&manager);
    let planted = send(&app, "POST", "/login", None).await.1;
    let (status, fresh, _) = send(&app, "POST", "/login", Some(&planted)).await;
    assert_eq!(status, 200);
    assert_ne!(fresh, planted);
    assert_eq!(send(&app, "GET", "/me", Some(&planted)).await.0, 401);
    assert_eq!(send(&app, "GET", "/me", Some(&fresh)).await.0, 200);
}

#[tokio::test]
async fn logout_expires_the_cookie_and_the_id_is_dead() {
    let manager = SessionManager::memory(config()).unwrap();
    let app = app(&manager);
    // On a path the layer looks up, and on an excluded one it doesn't.
    for path in ["/logout", "/bye"] {
        let id = send(&app, "POST", "/login", None).await.1;
        let (status, body, set_cookie) = send(&app, "POST", path, Some(&id)).await;
        assert_eq!((status.as_u16(), body.as_str()), (200, "true"), "{path}");
        let gone = cookie::Cookie::parse(set_cookie.expect("the cookie is cleared")).unwrap();
        assert_eq!((gone.name(), gone.value()), ("__Host-sid", ""));
        assert_eq!(gone.max_age(), Some(cookie::time::Duration::ZERO));
        assert_eq!(send(&app, "GET", "/me", Some(&id)).await.0, 401);
        assert!(manager.get(&id).await.unwrap().is_none());
    }
    // Logging out without a session still clears whatever cookie is there.
    let (status, body, set_cookie) = send(&app, "POST", "/logout", Some("not-a-session")).await;
    assert_eq!((status.as_u16(), body.as_str()), (200, "false"));
    assert!(set_cookie.is_some());
}

#[tokio::test]
async fn writes_queued_behind_one_in_flight_go_to_the_store_together() {
    // Updates take turns of the scheduler, as a store across a network does.
    let store = CountingStore::new().slow_updates(10);
    let manager = SessionManager::new(SharedSessionStore::new(store.clone()), config()).unwrap();
    let app = app(&manager);
    let id = send(&app, "POST", "/login", None).await.1;
    let before = store.writes();
    let puts: Vec<_> = (0..20)
        .map(|i| {
            let app = app.clone();
            let id = id.clone();
            tokio::spawn(
                async move { send(&app, "POST", &format!("/put/k{i}/v{i}"), Some(&id)).await },
            )
        })
        .collect();
    for put in puts {
        assert_eq!(put.await.unwrap().0, StatusCode::OK);
    }
    let writes = store.writes() - before;
    assert!(writes < 5, "20 requests, {writes} writes");
    let data = manager.get(&id).await.unwrap().unwrap().data;
    assert!((0..20).all(|i| data[&format!("k{i}")] == format!("v{i}")));
}

#[tokio::test(flavor = "current_thread")]
async fn what_a_request_wrote_is_read_back_from_the_cache_but_never_after_an_invalidation() {
    let store = CountingStore::new().slow_updates(3);
    let manager = SessionManager::new(SharedSessionStore::new(store.clone()), config()).unwrap();
    let app = app(&manager);
    let id = send(&app, "POST", "/login", None).await.1;
    assert_eq!(send(&app, "POST", "/put/k/v1", Some(&id)).await.0, 200);
    let loads = store.loads();
    let (status, body, _) = send(&app, "GET", "/get/k", Some(&id)).await;
    assert_eq!((status.as_u16(), body.as_str()), (200, "v1"));
    assert_eq!(store.loads(), loads, "read from what the write cached");

    // The session is invalidated after a write reached the store but
    // before its answer came back: what the write wrote is not cached, so
    // the next request is refused.
    let updated = store.updated();
    let write = tokio::spawn({
        let (app, id) = (app.clone(), id.clone());
        async move { send(&app, "POST", "/put/k/v2", Some(&id)).await }
    });
    while store.updated() == updated {
        tokio::task::yield_now().await;
    }
    assert!(!write.is_finished());
    assert!(manager.invalidate(&id).await.unwrap());
    write.await.unwrap();
    assert_eq!(send(&app, "GET", "/me", Some(&id)).await.0, 401);
    let (_, body, _) = send(&app, "GET", "/get/k", Some(&id)).await;
    assert_eq!(body, "", "nothing of the invalidated session is read");
    assert!(manager.get(&id).await.unwrap().is_none());
}
