//! P6: a JSON file store under 1 000 token updates a second for five
//! seconds, through the client `SessionState` with auto-save. Prints the
//! writes per second the coalescing let through, and checks the file ends up
//! with the last token.

use std::time::{Duration, Instant};

use session_auth::SessionState;
use session_core::{SharedSessionStore, TokenSet};
use session_kit_bench::{report, runtime};
use session_store::JsonFileStore;

const RATE: u64 = 1_000;
const SECONDS: u64 = 5;

fn main() {
    let rt = runtime();
    rt.block_on(async {
        let dir = std::env::temp_dir().join(format!("session-kit-p6-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let path = dir.join("sessions.json");
        let store = SharedSessionStore::new(JsonFileStore::new(&path));
        let manager = SessionState::builder(store.clone(), "p6")
            .auto_save(true)
            .open()
            .await
            .expect("open the session state");
        manager.create_session(TokenSet::new("token-0"), None, None);

        let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / RATE));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let start = Instant::now();
        let updates = RATE * SECONDS;
        for i in 1..=updates {
            tick.tick().await;
            manager.update_tokens(TokenSet::new(format!("token-{i}")));
        }
        let elapsed = start.elapsed();
        let writes = manager.writes();
        manager.close().await.expect("close the session state");

        let reopened = SessionState::builder(store, "p6")
            .open()
            .await
            .expect("reopen");
        let last = reopened.access_token().expect("a saved token");
        assert_eq!(last.expose_secret(), format!("token-{updates}"));
        std::fs::remove_dir_all(&dir).ok();

        let secs = elapsed.as_secs_f64();
        let per_second = writes as f64 / secs;
        println!(
            "P6: {updates} updates in {secs:.2} s ({:.0}/s), {writes} file writes ({per_second:.2}/s)",
            updates as f64 / secs
        );
        report(
            "P6",
            &[
                ("updates", updates.to_string()),
                ("updates_per_s", format!("{:.0}", updates as f64 / secs)),
                ("writes", writes.to_string()),
                ("writes_per_s", format!("{per_second:.2}")),
            ],
        );
    });
}
