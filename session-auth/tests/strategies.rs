//! What each strategy puts on the wire, retries for custom strategies, bad
//! input, plain-http refusal, redirects, cookies, and the closed session.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use axum::Router;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use parking_lot::Mutex;
use session_auth::{ApiKeyAuth, BasicAuth, BearerAuth, Error, Session};
use session_core::{AuthRequest, Authenticate, sensitive_header_value};
use session_retry::RetryPolicy;
use support::serve;

/// A server that records the headers and URI of each request.
async fn recorder() -> (String, Arc<Mutex<Vec<(HeaderMap, String)>>>) {
    let log: Arc<Mutex<Vec<(HeaderMap, String)>>> = Arc::default();
    let l = log.clone();
    let router = Router::new().fallback(move |headers: HeaderMap, uri: Uri| {
        let l = l.clone();
        async move {
            l.lock().push((headers, uri.to_string()));
            "ok"
        }
    });
    (serve(router).await, log)
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy::builder()
        .backoff_factor(0.001)
        .no_budget()
        .build()
        .unwrap()
}

#[tokio::test]
async fn each_strategy_puts_its_headers_on_the_wire() {
    let (url, log) = recorder().await;
    let build = |b: session_auth::SessionBuilder| b.base_url(&url).build().unwrap();
    let cases = [
        (
            build(Session::builder().auth(BearerAuth::new("tok-1"))),
            "authorization",
            "Bearer tok-1",
        ),
        (
            build(Session::builder().auth(BasicAuth::new("alice", "s3cret"))),
            "authorization",
            "Basic YWxpY2U6czNjcmV0",
        ),
        (
            build(Session::builder().auth(ApiKeyAuth::header("X-Api-Key", "k-9"))),
            "x-api-key",
            "k-9",
        ),
        (
            build(Session::builder().header("X-Client", "reports/1")),
            "x-client",
            "reports/1",
        ),
    ];
    for (session, name, want) in cases {
        let response = session.get("items").send().await.unwrap();
        assert_eq!(response.status(), 200);
        let (headers, _) = log.lock().pop().unwrap();
        assert_eq!(headers.get(name).unwrap(), want, "{name}");
        assert!(
            headers
                .get("user-agent")
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("session-kit/")
        );
    }

    let session = Session::builder()
        .base_url(&url)
        .auth(ApiKeyAuth::query("api_key", "k 9"))
        .build()
        .unwrap();
    session
        .get("items")
        .query(&[("page", "2")])
        .send()
        .await
        .unwrap();
    let (headers, uri) = log.lock().pop().unwrap();
    assert_eq!(uri, "/items?page=2&api_key=k+9");
    assert!(headers.get("authorization").is_none());
}

#[tokio::test]
async fn a_custom_strategy_keeps_retries() {
    #[derive(Debug)]
    struct Tenant(http::HeaderValue);
    #[async_trait]
    impl Authenticate for Tenant {
        async fn authenticate(&self, request: &mut AuthRequest<'_>) -> session_core::Result<()> {
            request.set_header(
                http::HeaderName::from_static("x-tenant-key"),
                self.0.clone(),
            );
            Ok(())
        }
    }
    let hits = Arc::new(AtomicUsize::new(0));
    let keys: Arc<Mutex<Vec<String>>> = Arc::default();
    let (h, k) = (hits.clone(), keys.clone());
    let router = Router::new().fallback(move |headers: HeaderMap| {
        let (h, k) = (h.clone(), k.clone());
        async move {
            k.lock()
                .push(headers["x-tenant-key"].to_str().unwrap().to_owned());
            if h.fetch_add(1, Ordering::SeqCst) < 2 {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::OK
            }
        }
    });
    let url = serve(router).await;
    let session = Session::builder()
        .base_url(&url)
        .auth(Tenant(sensitive_header_value("tk-1").unwrap()))
        .retry(fast_retry())
        .build()
        .unwrap();
    let response = session.get("x").send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(hits.load(Ordering::SeqCst), 3);
    assert_eq!(*keys.lock(), ["tk-1", "tk-1", "tk-1"]);
    assert_eq!(session.stats().retries, 2);
    assert_eq!(session.stats().requests, 1);
}

#[tokio::test]
async fn your_own_client_keeps_auth_and_retries() {
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let router = Router::new().fallback(move |headers: HeaderMap| {
        let h = h.clone();
        async move {
            assert_eq!(headers["authorization"], "Bearer own");
            if h.fetch_add(1, Ordering::SeqCst) < 1 {
                StatusCode::BAD_GATEWAY
            } else {
                StatusCode::OK
            }
        }
    });
    let url = serve(router).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let session = Session::builder()
        .client(client)
        .base_url(&url)
        .auth(BearerAuth::new("own"))
        .retry(fast_retry())
        .build()
        .unwrap();
    assert_eq!(session.get("x").send().await.unwrap().status(), 200);
    assert_eq!(hits.load(Ordering::SeqCst), 2);
}

#[test]
fn bad_input_is_an_error_at_build_never_a_panic() {
    let cases: Vec<Result<Session, Error>> = vec![
        Session::builder().auth(BearerAuth::new("")).build(),
        Session::builder()
            .auth(BearerAuth::new("line\nbreak"))
            .build(),
        Session::builder().auth(BasicAuth::new("", "pw")).build(),
        Session::builder().auth(BasicAuth::new("a:b", "pw")).build(),
        Session::builder()
            .auth(ApiKeyAuth::header("X-Api-Key", ""))
            .build(),
        Session::builder()
            .auth(ApiKeyAuth::header("bad header", "k"))
            .build(),
        Session::builder()
            .auth(ApiKeyAuth::header("X-Api-Key", "k\r\n"))
            .build(),
        Session::builder().auth(ApiKeyAuth::query("", "k")).build(),
        Session::builder()
            .auth(ApiKeyAuth::query("api_key", ""))
            .build(),
    ];
    for result in cases {
        let err = result.unwrap_err();
        assert!(matches!(err, Error::UnusableCredential(_)), "{err:?}");
    }
    assert!(matches!(
        Session::builder().base_url("::nonsense").build(),
        Err(Error::InvalidUrl { .. })
    ));
    assert!(matches!(
        Session::builder().header("X", "a\nb").build(),
        Err(Error::InvalidSetting { .. })
    ));
    // Errors and Debug never show the secret.
    let err = Session::builder()
        .auth(BasicAuth::new("a:b", "TOPSECRET"))
        .build()
        .unwrap_err();
    assert!(!format!("{err} {err:?}").contains("TOPSECRET"));
    let session = Session::builder()
        .auth(BearerAuth::new("TOPSECRET"))
        .build()
        .unwrap();
    assert!(!format!("{session:?}").contains("TOPSECRET"));
}

#[tokio::test]
async fn credentials_are_refused_over_plain_http_to_other_hosts() {
    let err = Session::builder()
        .base_url("http://api.example.com/")
        .auth(BearerAuth::new("t"))
        .build()
        .unwrap_err();
    assert!(matches!(&err, Error::InsecureTransport { host } if host == "api.example.com"));
    assert!(!err.to_string().contains('t') || !err.to_string().contains("Bearer"));

    // An absolute URL at send time is refused before anything is sent.
    let session = Session::builder()
        .auth(BearerAuth::new("t"))
        .build()
        .unwrap();
    let err = session
        .get("http://api.example.com/x")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InsecureTransport { .. }));

    // Allowed explicitly; and always to loopback.
    assert!(
        Session::builder()
            .base_url("http://api.example.com/")
            .auth(BearerAuth::new("t"))
            .allow_insecure_http(true)
            .build()
            .is_ok()
    );
    assert!(
        Session::builder()
            .base_url("http://127.0.0.1:1/")
            .auth(BearerAuth::new("t"))
            .build()
            .is_ok()
    );
    // Without credentials plain http is fine.
    assert!(
        Session::builder()
            .base_url("http://api.example.com/")
            .build()
            .is_ok()
    );
}

#[tokio::test]
async fn a_cross_origin_redirect_drops_credentials() {
    let (other, log) = recorder().await;
    let target = other.clone();
    let router = Router::new()
        .route(
            "/away",
            get(move || {
                let t = target.clone();
                async move { Redirect::temporary(&format!("{t}/landed")) }
            }),
        )
        .route("/here", get(|| async { Redirect::to("/home") }))
        .route(
            "/home",
            get(|headers: HeaderMap| async move {
                // Same origin: the credential is still there.
                assert_eq!(headers["x-api-key"], "k-1");
                assert_eq!(headers["authorization"], "Bearer b-1");
                "home"
            }),
        );
    let origin = serve(router).await;

    #[derive(Debug)]
    struct Both;
    #[async_trait]
    impl Authenticate for Both {
        async fn authenticate(&self, request: &mut AuthRequest<'_>) -> session_core::Result<()> {
            request.set_header(
                http::HeaderName::from_static("x-api-key"),
                sensitive_header_value("k-1")?,
            );
            request.set_header(
                http::header::AUTHORIZATION,
                sensitive_header_value("Bearer b-1")?,
            );
            request.append_query_pair("key", "q-1");
            Ok(())
        }
    }
    let session = Session::builder()
        .base_url(&origin)
        .auth(Both)
        .header("X-Trace", "keep-me")
        .build()
        .unwrap();
    let response = session.get("away").send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "ok");
    let (headers, uri) = log.lock().pop().unwrap();
    assert!(headers.get("authorization").is_none());
    assert!(headers.get("x-api-key").is_none());
    assert_eq!(uri, "/landed", "the query credential stays behind");
    assert_eq!(headers["x-trace"], "keep-me", "ordinary headers follow");

    assert_eq!(
        session
            .get("here")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "home"
    );
}

#[tokio::test]
async fn too_many_redirects_is_a_typed_error() {
    let router = Router::new().route("/loop", get(|| async { Redirect::to("/loop") }));
    let url = serve(router).await;
    let session = Session::builder()
        .base_url(&url)
        .max_redirects(3)
        .build()
        .unwrap();
    let err = session.get("loop").send().await.unwrap_err();
    assert!(matches!(err, Error::TooManyRedirects { limit: 3 }));
    let session = Session::builder()
        .base_url(&url)
        .max_redirects(0)
        .build()
        .unwrap();
    assert_eq!(session.get("loop").send().await.unwrap().status(), 303);
}

#[tokio::test]
async fn cookies_are_kept_per_session() {
    let router = Router::new()
        .route(
            "/login",
            get(|| async { ([("set-cookie", "sid=abc; Path=/")], "in") }),
        )
        .route(
            "/me",
            get(|headers: HeaderMap| async move {
                headers
                    .get("cookie")
                    .map(|c| c.to_str().unwrap().to_owned())
                    .unwrap_or_default()
                    .into_response()
            }),
        );
    let url = serve(router).await;
    let a = Session::builder().base_url(&url).build().unwrap();
    let b = Session::builder().base_url(&url).build().unwrap();
    a.get("login").send().await.unwrap();
    assert_eq!(
        a.get("me").send().await.unwrap().text().await.unwrap(),
        "sid=abc"
    );
    assert_eq!(
        a.clone()
            .get("me")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "sid=abc",
        "clones share the jar"
    );
    assert_eq!(
        b.get("me").send().await.unwrap().text().await.unwrap(),
        "",
        "another session has its own jar"
    );
    assert_eq!(a.cookie_jar().unwrap().len(), 1);
    assert!(a.summary().contains("Cookies: PRESENT"));
    assert!(b.summary().contains("Cookies: NONE"));
}

#[tokio::test]
async fn a_server_cannot_grow_the_jar_without_bound() {
    // Sets `sid` first, then a new 4 000-byte cookie with every answer,
    // and one cookie too big to keep.
    let served = Arc::new(AtomicUsize::new(0));
    let router = Router::new().route(
        "/",
        get({
            let served = served.clone();
            move |headers: HeaderMap| {
                let n = served.fetch_add(1, Ordering::SeqCst);
                async move {
                    let cookie = match n {
                        0 => "sid=keep-me; Path=/".to_owned(),
                        1 => format!("huge={}; Path=/", "h".repeat(5_000)),
                        n => format!("junk{n}={}; Path=/", "j".repeat(4_000)),
                    };
                    let sent = headers
                        .get("cookie")
                        .map(|c| c.to_str().unwrap().to_owned())
                        .unwrap_or_default();
                    ([("set-cookie", cookie)], sent).into_response()
                }
            }
        }),
    );
    let url = serve(router).await;
    let session = Session::builder().base_url(&url).build().unwrap();
    let mut sent = String::new();
    for _ in 0..80 {
        sent = session.get("").send().await.unwrap().text().await.unwrap();
    }
    let names: Vec<&str> = sent
        .split("; ")
        .map(|c| c.split('=').next().unwrap())
        .collect();
    assert_eq!(
        names.len(),
        session_core::CookieJar::MAX_PER_DOMAIN,
        "{names:?}"
    );
    assert!(names.contains(&"sid"), "the first cookie stays: {names:?}");
    assert!(
        !names.contains(&"huge"),
        "a cookie over 4 096 bytes is refused"
    );
    let jar = session.cookie_jar().unwrap();
    assert_eq!(jar.len(), session_core::CookieJar::MAX_PER_DOMAIN);
    // Replacing a cookie the jar holds still works when it is full.
    assert!(
        jar.clone()
            .insert_set_cookie("sid=new", &url::Url::parse(&url).unwrap())
    );
}

#[tokio::test]
async fn a_url_with_credentials_in_it_is_refused_before_anything_is_sent() {
    let (url, log) = recorder().await;
    let with_password = url.replace("http://", "http://ada:pw-123@");
    let err = Session::builder()
        .base_url(&with_password)
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::InvalidUrl { .. }), "{err:?}");
    let session = Session::builder().base_url(&url).build().unwrap();
    let err = session
        .get(&format!("{with_password}x"))
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidUrl { .. }), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("pw-123"));
    session.get("x").send().await.unwrap();
    assert_eq!(log.lock().len(), 1, "only the plain request arrived");
}

#[tokio::test]
async fn a_closed_session_refuses_every_clone() {
    let (url, log) = recorder().await;
    let session = Session::builder().base_url(&url).build().unwrap();
    let api_a = session.clone();
    let api_b = session.clone();
    api_a.get("x").send().await.unwrap();
    session.close().await.unwrap();
    for client in [&api_a, &api_b, &session] {
        let err = client.get("x").send().await.unwrap_err();
        assert!(err.is_closed());
        assert!(err.to_string().contains("session is closed"));
    }
    assert_eq!(log.lock().len(), 1);
}

#[tokio::test]
async fn metadata_and_stats_follow_calls() {
    let (url, _) = recorder().await;
    let session = Session::builder().base_url(&url).build().unwrap();
    assert!(session.metadata().last_api_call_at.is_none());
    session.get("a").send().await.unwrap();
    session.get("b").send().await.unwrap();
    let meta = session.metadata();
    assert!(meta.last_api_call_at.is_some());
    assert_eq!(meta.current_api_server.as_deref(), Some("127.0.0.1"));
    assert_eq!(session.stats().requests, 2);
    assert!(session.summary().contains("Last API: 0s ago"));
}

#[tokio::test]
async fn a_request_that_cannot_be_built_sends_nothing_and_says_why() {
    let (url, log) = recorder().await;
    let session = Session::builder()
        .base_url(&url)
        .auth(BearerAuth::new("tok-1"))
        .retry(fast_retry())
        .build()
        .unwrap();
    let attempts = [
        session.get("a").header("X-Key", "SECRET\r\nX-Evil: 1"),
        session.get("a").header("Bad Name", "v"),
        session.get("a").query(&7),
        session.post("a").form(&"not a map"),
    ];
    for request in attempts {
        let err = request.send().await.unwrap_err();
        assert!(matches!(err, Error::InvalidRequest { .. }), "{err:?}");
        assert!(!err.is_retryable());
        assert!(!format!("{err} {err:?}").contains("SECRET"));
    }
    assert!(log.lock().is_empty(), "nothing reached the server");
    assert_eq!(session.stats().requests, 0);

    // The same builder, well fed, puts what it was given on the wire.
    session
        .post("orders?src=app")
        .header("X-Trace", "t-1")
        .query(&[("page", "2")])
        .json(&serde_json::json!({"sku": "A-1"}))
        .send()
        .await
        .unwrap();
    let (headers, uri) = log.lock().pop().unwrap();
    assert_eq!(uri, "/orders?src=app&page=2");
    assert_eq!(headers["x-trace"], "t-1");
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["authorization"], "Bearer tok-1");
}

#[tokio::test]
async fn targets_sent_again_reach_where_they_point() {
    // A session keeps the targets it resolved lately; sending to several,
    // back and forth, each request still goes where its own target points.
    let (url, log) = recorder().await;
    let (other, other_log) = recorder().await;
    let session = Session::builder()
        .base_url(format!("{url}/v2"))
        .build()
        .unwrap();
    let absolute = format!("{other}/elsewhere?x=1");
    let targets = ["customers", "/orders/7?expand=1", absolute.as_str(), ""];
    for _ in 0..3 {
        for target in targets {
            session.get(target).send().await.unwrap();
        }
        let err = session.get("ftp://example.com/x").send().await.unwrap_err();
        assert!(matches!(err, Error::InvalidUrl { .. }), "{err:?}");
    }
    let paths: Vec<String> = log.lock().iter().map(|(_, uri)| uri.clone()).collect();
    let expected = ["/v2/customers", "/v2/orders/7?expand=1", "/v2/"];
    assert_eq!(paths, expected.repeat(3));
    let elsewhere: Vec<String> = other_log.lock().iter().map(|(_, u)| u.clone()).collect();
    assert_eq!(elsewhere, ["/elsewhere?x=1"].repeat(3));
}
