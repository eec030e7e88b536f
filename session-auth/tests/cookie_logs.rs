//! Cookie values never reach a log: every `log` record and every tracing
//! event at the most verbose level is captured while a session stores and
//! sends cookies. Its own test binary: the logger is process-wide.

mod support;

use std::sync::Mutex;

use axum::Router;
use axum::http::{HeaderMap, header};
use axum::response::{AppendHeaders, IntoResponse};
use axum::routing::get;
use session_auth::Session;

static RECORDS: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        RECORDS
            .lock()
            .unwrap()
            .push(format!("{} {}", record.target(), record.args()));
    }

    fn flush(&self) {}
}

#[tokio::test]
async fn cookie_values_never_reach_a_log() {
    log::set_logger(&Capture).unwrap();
    log::set_max_level(log::LevelFilter::Trace);

    let url = support::serve(
        Router::new()
            .route(
                "/login",
                get(|| async {
                    (
                        AppendHeaders([
                            (header::SET_COOKIE, "sid=COOKIE-SECRET-PLAIN; Path=/"),
                            (
                                header::SET_COOKIE,
                                "pref=COOKIE-SECRET-TWO; Path=/; HttpOnly",
                            ),
                        ]),
                        "ok",
                    )
                        .into_response()
                }),
            )
            .route(
                "/echo",
                get(|headers: HeaderMap| async move {
                    headers
                        .get(header::COOKIE)
                        .map(|v| v.to_str().unwrap().to_owned())
                        .unwrap_or_default()
                }),
            ),
    )
    .await;
    let session = Session::builder().base_url(&url).build().unwrap();
    session.get("login").send().await.unwrap();
    let echoed = session
        .get("echo")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        echoed.contains("sid=COOKIE-SECRET-PLAIN"),
        "the jar works: {echoed}"
    );
    assert!(echoed.contains("pref=COOKIE-SECRET-TWO"), "{echoed}");
    let saved = session.cookie_jar().unwrap();
    assert_eq!(saved.len(), 2);

    let records = RECORDS.lock().unwrap().clone();
    let leaked: Vec<_> = records
        .iter()
        .filter(|r| r.contains("COOKIE-SECRET"))
        .collect();
    assert!(leaked.is_empty(), "cookie values in the log: {leaked:?}");
}
