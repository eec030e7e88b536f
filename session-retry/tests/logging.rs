//! Retry logging: one event per retry, never a query string or header.
//!
//! Kept in its own test binary: it installs a subscriber, and tracing's
//! per-callsite cache is shared by every thread of a process.

mod support;

use std::io;
use std::sync::Arc;

use parking_lot::Mutex;
use session_retry::RetryPolicy;
use support::{Hits, RecordingSleep, respond, serve};

#[tokio::test]
async fn one_log_event_per_retry_without_query_strings() {
    let hits = Hits::default();
    let counter = hits.clone();
    let url = serve(move |_| {
        if counter.bump() <= 2 {
            respond(503, &[], "")
        } else {
            respond(200, &[], "ok")
        }
    })
    .await;
    let sleep = RecordingSleep::new();
    let policy = RetryPolicy::builder()
        .sleep(sleep.clone())
        .no_budget()
        .build()
        .unwrap();
    let client = reqwest::Client::new();

    let buffer = Arc::new(Mutex::new(Vec::<u8>::new()));
    let writer = {
        let buffer = buffer.clone();
        move || BufferWriter(buffer.clone())
    };
    let subscriber = tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let request = client
        .get(format!("{url}/search?api_key=SECRET-KEY"))
        .header("authorization", "Bearer SECRET-TOKEN")
        .build()
        .unwrap();
    session_retry::reqwest::send(&policy, &client, request).await;

    let text = String::from_utf8(buffer.lock().clone()).unwrap();
    let events: Vec<&str> = text.lines().filter(|l| l.contains("retrying")).collect();
    assert_eq!(events.len(), 2, "{text}");
    assert!(
        events[0].contains("retry=1") && events[0].contains("reason=status 503"),
        "{text}"
    );
    assert!(events[0].contains("delay_ms=2000"), "{text}");
    assert!(!text.contains("SECRET"), "{text}");
}

struct BufferWriter(Arc<Mutex<Vec<u8>>>);

impl io::Write for BufferWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
