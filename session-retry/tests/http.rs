//! Retrying real HTTP requests against loopback servers that count the
//! attempts they see. Waits are recorded, not slept.

mod support;

use std::io;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use session_core::{ManualClock, SharedClock};
use session_retry::{ErrorKind, RetryPolicy, Stop};
use support::{Hits, RecordingSleep, closed_port, respond, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A server whose first `failures` answers are `status` (with `headers`),
/// then 200 "ok". Returns its URL and the hit counter.
async fn flaky(
    failures: usize,
    status: u16,
    headers: &'static [(&'static str, &'static str)],
) -> (String, Hits) {
    let hits = Hits::default();
    let counter = hits.clone();
    let url = serve(move |_| {
        if counter.bump() <= failures {
            respond(status, headers, "failing")
        } else {
            respond(200, &[], "ok")
        }
    })
    .await;
    (url, hits)
}

fn policy(sleep: &RecordingSleep) -> session_retry::RetryPolicyBuilder {
    RetryPolicy::builder().sleep(sleep.clone()).no_budget()
}

#[tokio::test]
async fn two_503s_then_200_takes_three_attempts() {
    let (url, hits) = flaky(2, 503, &[]).await;
    let sleep = RecordingSleep::new();
    let policy = policy(&sleep).build().unwrap();
    let client = reqwest::Client::new();
    let request = client.get(format!("{url}/items")).build().unwrap();
    let outcome = session_retry::reqwest::send(&policy, &client, request).await;
    assert_eq!(hits.get(), 3);
    assert_eq!((outcome.attempts, outcome.stop), (3, Stop::Success));
    assert_eq!(sleep.waits(), [2, 4].map(Duration::from_secs));
    assert_eq!(outcome.result.unwrap().text().await.unwrap(), "ok");
}

#[tokio::test]
async fn a_400_is_not_retried() {
    let (url, hits) = flaky(10, 400, &[]).await;
    let sleep = RecordingSleep::new();
    let policy = policy(&sleep).build().unwrap();
    let client = reqwest::Client::new();
    let outcome =
        session_retry::reqwest::send(&policy, &client, client.get(&url).build().unwrap()).await;
    assert_eq!(hits.get(), 1);
    assert_eq!(outcome.stop, Stop::Success);
    assert_eq!(outcome.result.unwrap().status(), 400);
}

#[tokio::test]
async fn a_post_that_got_503_is_not_replayed() {
    let (url, hits) = flaky(10, 503, &[]).await;
    let sleep = RecordingSleep::new();
    let policy = policy(&sleep).build().unwrap();
    let client = reqwest::Client::new();
    let request = client.post(&url).body("order").build().unwrap();
    let outcome = session_retry::reqwest::send(&policy, &client, request).await;
    assert_eq!(hits.get(), 1);
    assert_eq!(outcome.stop, Stop::NotReplayable);
    assert_eq!(outcome.result.unwrap().status(), 503);
}

#[tokio::test]
async fn a_post_with_an_idempotency_key_is_replayed() {
    let (url, hits) = flaky(2, 503, &[]).await;
    let sleep = RecordingSleep::new();
    let policy = policy(&sleep).build().unwrap();
    let client = reqwest::Client::new();
    let request = client
        .post(&url)
        .header("Idempotency-Key", "order-42")
        .body("order")
        .build()
        .unwrap();
    let outcome = session_retry::reqwest::send(&policy, &client, request).await;
    assert_eq!(hits.get(), 3);
    assert_eq!(outcome.stop, Stop::Success);
}

#[tokio::test]
async fn a_generated_idempotency_key_is_the_same_on_every_attempt() {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = seen.clone();
    let url = serve(move |req| {
        let key = req
            .headers()
            .get("idempotency-key")
            .map(|v| v.to_str().unwrap().to_owned());
        let mut log = log.lock();
        log.push(key.unwrap_or_default());
        respond(if log.len() < 3 { 503 } else { 201 }, &[], "")
    })
    .await;
    let sleep = RecordingSleep::new();
    let policy = policy(&sleep).add_idempotency_key(true).build().unwrap();
    let client = reqwest::Client::new();
    let outcome = session_retry::reqwest::send(
        &policy,
        &client,
        client.post(&url).body("x").build().unwrap(),
    )
    .await;
    assert_eq!(outcome.result.unwrap().status(), 201);
    let seen = seen.lock();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[0].len(), 32);
    assert!(seen.iter().all(|k| k == &seen[0]));
}

#[tokio::test]
async fn retry_after_seconds_is_waited_for() {
    let (url, hits) = flaky(1, 429, &[("retry-after", "3")]).await;
    let sleep = RecordingSleep::new();
    let policy = policy(&sleep).build().unwrap();
    let client = reqwest::Client::new();
    let outcome =
        session_retry::reqwest::send(&policy, &client, client.get(&url).build().unwrap()).await;
    assert_eq!(hits.get(), 2);
    assert_eq!(outcome.stop, Stop::Success);
    assert_eq!(sleep.waits(), [Duration::from_secs(3)]);
}

#[tokio::test]
async fn retry_after_date_is_read_on_the_policy_clock() {
    let (url, _) = flaky(1, 503, &[("retry-after", "Sun, 06 Nov 1994 08:49:37 GMT")]).await;
    let sleep = RecordingSleep::new();
    let clock = ManualClock::new(time::macros::datetime!(1994-11-06 08:49:30 UTC));
    let policy = policy(&sleep)
        .clock(SharedClock::new(clock))
        .build()
        .unwrap();
    let client = reqwest::Client::new();
    let outcome =
        session_retry::reqwest::send(&policy, &client, client.get(&url).build().unwrap()).await;
    assert_eq!(outcome.stop, Stop::Success);
    assert_eq!(sleep.waits(), [Duration::from_secs(7)]);
}

#[tokio::test]
async fn a_retry_after_above_the_cap_hands_the_response_back() {
    let (url, hits) = flaky(10, 503, &[("retry-after", "3600")]).await;
    let sleep = RecordingSleep::new();
    let policy = policy(&sleep).build().unwrap();
    let client = reqwest::Client::new();
    let outcome =
        session_retry::reqwest::send(&policy, &client, client.get(&url).build().unwrap()).await;
    assert_eq!(hits.get(), 1);
    assert_eq!(outcome.stop, Stop::RetryAfterTooLong);
    assert!(sleep.waits().is_empty());
    assert_eq!(outcome.result.unwrap().status(), 503);
}

#[tokio::test]
async fn garbage_retry_after_falls_back_to_backoff() {
    let (url, _) = flaky(1, 503, &[("retry-after", "whenever")]).await;
    let sleep = RecordingSleep::new();
    let policy = policy(&sleep).build().unwrap();
    let client = reqwest::Client::new();
    session_retry::reqwest::send(&policy, &client, client.get(&url).build().unwrap()).await;
    assert_eq!(sleep.waits(), [Duration::from_secs(2)]);
}

#[tokio::test]
async fn a_streaming_body_gets_one_attempt_and_no_error() {
    let (url, hits) = flaky(10, 503, &[]).await;
    let sleep = RecordingSleep::new();
    let policy = policy(&sleep).retry_non_idempotent(true).build().unwrap();
    let client = reqwest::Client::new();
    let chunks: Vec<Result<bytes::Bytes, io::Error>> = vec![Ok("part".into())];
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let request = client.post(&url).body(body).build().unwrap();
    assert!(request.try_clone().is_none());
    let outcome = session_retry::reqwest::send(&policy, &client, request).await;
    assert_eq!(hits.get(), 1);
    assert_eq!((outcome.attempts, outcome.stop), (1, Stop::NotCloneable));
    assert_eq!(outcome.result.unwrap().status(), 503);
}

#[tokio::test]
async fn connection_refused_is_retried_even_for_post() {
    let url = closed_port().await;
    let sleep = RecordingSleep::new();
    let policy = policy(&sleep).retries(2).build().unwrap();
    let client = reqwest::Client::new();
    let outcome = session_retry::reqwest::send(
        &policy,
        &client,
        client.post(&url).body("x").build().unwrap(),
    )
    .await;
    assert_eq!((outcome.attempts, outcome.stop), (3, Stop::Exhausted));
    let err = outcome.result.unwrap_err();
    assert_eq!(session_retry::reqwest::error_kind(&err), ErrorKind::Connect);
}

/// Reads one request, then closes without answering, `drops` times; then
/// answers 200.
async fn hang_up_server(drops: usize) -> (String, Hits) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let hits = Hits::default();
    let counter = hits.clone();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            let _ = socket.read(&mut buf).await;
            if counter.bump() <= drops {
                drop(socket);
            } else {
                let _ = socket
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    )
                    .await;
            }
        }
    });
    (url, hits)
}

#[tokio::test]
async fn a_connection_closed_mid_request_is_retried_for_get_only() {
    let (url, hits) = hang_up_server(2).await;
    let sleep = RecordingSleep::new();
    let policy = policy(&sleep).build().unwrap();
    let client = reqwest::Client::new();
    let outcome =
        session_retry::reqwest::send(&policy, &client, client.get(&url).build().unwrap()).await;
    assert_eq!((hits.get(), outcome.stop), (3, Stop::Success));
    assert_eq!(
        outcome.last_retry_reason,
        Some(session_retry::RetryReason::Error(
            ErrorKind::IncompleteMessage
        ))
    );

    let (url, hits) = hang_up_server(2).await;
    let outcome = session_retry::reqwest::send(
        &policy,
        &client,
        client.post(&url).body("x").build().unwrap(),
    )
    .await;
    assert_eq!((hits.get(), outcome.stop), (1, Stop::NotReplayable));
    let kind = session_retry::reqwest::error_kind(&outcome.result.unwrap_err());
    assert_eq!(kind, ErrorKind::IncompleteMessage);
}
