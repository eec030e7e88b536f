//! The in-memory store against the store conformance suite.

use session_core::{MemoryStore, SharedClock, SharedSessionStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_conforms() {
    session_core::conformance::run(|clock| async move {
        SharedSessionStore::new(MemoryStore::new().with_clock(SharedClock::new(clock)))
    })
    .await;
}
