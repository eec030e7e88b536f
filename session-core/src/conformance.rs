//! The [`SessionStore`] conformance suite, run by every backend's tests.
//!
//! Available with the `test-util` feature. Each check gets a fresh, empty
//! store from the caller's factory, built on the [`ManualClock`] it is handed,
//! so expiry is tested without waiting.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde_json::json;

use crate::clock::{Clock, ManualClock};
use crate::store::{SessionStore, SharedSessionStore, StoreRecord};

type Check = fn(SharedSessionStore, ManualClock) -> Pin<Box<dyn Future<Output = ()> + Send>>;

macro_rules! checks {
    ($($name:ident),* $(,)?) => {
        const CHECKS: &[(&str, Check)] = &[
            $((stringify!($name), |s, c| Box::pin($name(s, c)))),*
        ];
    };
}

checks!(
    missing_key_loads_none,
    save_then_load,
    save_replaces,
    delete_reports_existence,
    insert_if_absent_only_where_nothing_lives,
    concurrent_inserts_have_one_winner,
    update_if_exists_never_creates,
    update_if_exists_replaces_live_records,
    deleted_record_is_not_resurrected,
    concurrent_delete_and_update,
    expired_records_are_invisible,
    delete_expired_sweeps_only_expired,
    owner_index,
    owner_change_moves_the_record,
    delete_by_owner_leaves_others,
    owner_counts_count_live_records,
    count_counts_live_records,
    odd_keys_and_large_documents,
);

/// Runs every check. `factory` must return a new, empty store that decides
/// expiry with the given clock; stores on shared servers should isolate
/// themselves (key prefix, table) so checks can run side by side.
///
/// # Panics
///
/// Panics, naming the check, when the store breaks the contract.
///
/// ```
/// use session_core::{MemoryStore, SharedClock, SharedSessionStore};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// session_core::conformance::run(|clock| async move {
///     SharedSessionStore::new(MemoryStore::new().with_clock(SharedClock::new(clock)))
/// }).await;
/// # });
/// ```
pub async fn run<F, Fut>(factory: F)
where
    F: Fn(ManualClock) -> Fut,
    Fut: Future<Output = SharedSessionStore>,
{
    for (name, check) in CHECKS {
        let clock = ManualClock::new(time::macros::datetime!(2030-01-01 12:00 UTC));
        let store = factory(clock.clone()).await;
        let outcome = tokio::spawn(check(store, clock)).await;
        if let Err(panic) = outcome {
            let msg = panic
                .try_into_panic()
                .ok()
                .and_then(|p| {
                    p.downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                })
                .unwrap_or_default();
            panic!("store conformance check `{name}` failed: {msg}");
        }
    }
}

/// The names of the checks [`run`] performs.
///
/// ```
/// assert!(session_core::conformance::check_names().any(|n| n == "deleted_record_is_not_resurrected"));
/// ```
pub fn check_names() -> impl Iterator<Item = &'static str> {
    CHECKS.iter().map(|(name, _)| *name)
}

fn rec(n: i64) -> StoreRecord {
    StoreRecord::new(json!({ "n": n }))
}

async fn missing_key_loads_none(store: SharedSessionStore, _: ManualClock) {
    assert!(store.load("missing").await.unwrap().is_none());
    assert!(!store.delete("missing").await.unwrap());
}

async fn save_then_load(store: SharedSessionStore, clock: ManualClock) {
    let record = rec(1)
        .with_owner("owner-a")
        .with_expires_at(clock.now() + Duration::from_secs(3600));
    store.save("k1", &record).await.unwrap();
    let loaded = store.load("k1").await.unwrap().expect("saved record loads");
    assert_eq!(loaded.data, record.data);
    assert_eq!(loaded.owner, record.owner);
    // Backends may store milliseconds; compare at that precision.
    let ms = |t: time::OffsetDateTime| t.unix_timestamp_nanos() / 1_000_000;
    assert_eq!(loaded.expires_at.map(ms), record.expires_at.map(ms));
}

async fn save_replaces(store: SharedSessionStore, _: ManualClock) {
    store.save("k", &rec(1)).await.unwrap();
    store.save("k", &rec(2)).await.unwrap();
    assert_eq!(store.load("k").await.unwrap().unwrap().data["n"], 2);
    assert_eq!(store.count().await.unwrap(), 1);
}

async fn delete_reports_existence(store: SharedSessionStore, _: ManualClock) {
    store.save("k", &rec(1)).await.unwrap();
    assert!(store.delete("k").await.unwrap());
    assert!(!store.delete("k").await.unwrap());
    assert!(store.load("k").await.unwrap().is_none());
}

async fn insert_if_absent_only_where_nothing_lives(store: SharedSessionStore, clock: ManualClock) {
    assert!(
        store
            .insert_if_absent("k", &rec(1).with_owner("o"))
            .await
            .unwrap()
    );
    assert!(!store.insert_if_absent("k", &rec(2)).await.unwrap());
    assert_eq!(
        store.load("k").await.unwrap().unwrap().data["n"],
        1,
        "the first stays"
    );
    // An expired record is no obstacle.
    store
        .save(
            "e",
            &rec(3).with_expires_at(clock.now() + Duration::from_secs(5)),
        )
        .await
        .unwrap();
    assert!(!store.insert_if_absent("e", &rec(4)).await.unwrap());
    clock.advance(Duration::from_secs(5));
    assert!(
        store
            .insert_if_absent("e", &rec(5).with_owner("p"))
            .await
            .unwrap()
    );
    assert_eq!(store.load("e").await.unwrap().unwrap().data["n"], 5);
    assert_eq!(store.list_by_owner("p").await.unwrap().len(), 1);
    assert_eq!(store.list_by_owner("o").await.unwrap().len(), 1);
}

async fn concurrent_inserts_have_one_winner(store: SharedSessionStore, _: ManualClock) {
    for round in 0..10 {
        let key = format!("lease-{round}");
        let mut tasks = Vec::new();
        for n in 0..8 {
            let (store, key) = (store.clone(), key.clone());
            tasks.push(tokio::spawn(async move {
                store.insert_if_absent(&key, &rec(n)).await.unwrap()
            }));
        }
        let mut winners = 0;
        for task in tasks {
            winners += usize::from(task.await.unwrap());
        }
        assert_eq!(winners, 1, "round {round}");
    }
}

async fn update_if_exists_never_creates(store: SharedSessionStore, _: ManualClock) {
    assert!(!store.update_if_exists("k", &rec(1)).await.unwrap());
    assert!(store.load("k").await.unwrap().is_none());
    assert_eq!(store.count().await.unwrap(), 0);
}

async fn update_if_exists_replaces_live_records(store: SharedSessionStore, _: ManualClock) {
    store.save("k", &rec(1).with_owner("o")).await.unwrap();
    assert!(
        store
            .update_if_exists("k", &rec(2).with_owner("o"))
            .await
            .unwrap()
    );
    assert_eq!(store.load("k").await.unwrap().unwrap().data["n"], 2);
    assert_eq!(store.list_by_owner("o").await.unwrap().len(), 1);
}

async fn deleted_record_is_not_resurrected(store: SharedSessionStore, _: ManualClock) {
    store.save("k", &rec(1).with_owner("o")).await.unwrap();
    assert!(store.delete("k").await.unwrap());
    assert!(
        !store
            .update_if_exists("k", &rec(2).with_owner("o"))
            .await
            .unwrap()
    );
    assert!(store.load("k").await.unwrap().is_none());
    assert!(store.list_by_owner("o").await.unwrap().is_empty());
}

async fn concurrent_delete_and_update(store: SharedSessionStore, _: ManualClock) {
    for round in 0..25 {
        let key = format!("race-{round}");
        store.save(&key, &rec(0).with_owner("o")).await.unwrap();
        let (a, b) = (store.clone(), store.clone());
        let (k1, k2) = (key.clone(), key.clone());
        let del = tokio::spawn(async move { a.delete(&k1).await.unwrap() });
        let upd = tokio::spawn(async move {
            b.update_if_exists(&k2, &rec(1).with_owner("o"))
                .await
                .unwrap()
        });
        let (deleted, _) = (del.await.unwrap(), upd.await.unwrap());
        assert!(deleted, "round {round}: delete saw the record");
        assert!(
            store.load(&key).await.unwrap().is_none(),
            "round {round}: record came back"
        );
    }
    assert!(store.list_by_owner("o").await.unwrap().is_empty());
}

async fn expired_records_are_invisible(store: SharedSessionStore, clock: ManualClock) {
    let ttl = Duration::from_secs(60);
    store
        .save(
            "k",
            &rec(1).with_owner("o").with_expires_at(clock.now() + ttl),
        )
        .await
        .unwrap();
    clock.advance(ttl - Duration::from_secs(1));
    assert!(
        store.load("k").await.unwrap().is_some(),
        "live one second before expiry"
    );
    clock.advance(Duration::from_secs(1));
    assert!(store.load("k").await.unwrap().is_none(), "gone at expiry");
    assert!(store.list_by_owner("o").await.unwrap().is_empty());
    assert_eq!(store.count().await.unwrap(), 0);
    assert!(!store.update_if_exists("k", &rec(2)).await.unwrap());
    assert!(store.load("k").await.unwrap().is_none());
}

async fn delete_expired_sweeps_only_expired(store: SharedSessionStore, clock: ManualClock) {
    let now = clock.now();
    store
        .save(
            "old-1",
            &rec(1).with_expires_at(now + Duration::from_secs(10)),
        )
        .await
        .unwrap();
    store
        .save(
            "old-2",
            &rec(2)
                .with_owner("o")
                .with_expires_at(now + Duration::from_secs(20)),
        )
        .await
        .unwrap();
    store
        .save(
            "new",
            &rec(3).with_expires_at(now + Duration::from_secs(3600)),
        )
        .await
        .unwrap();
    store.save("forever", &rec(4)).await.unwrap();
    clock.advance(Duration::from_secs(30));
    assert_eq!(store.delete_expired(clock.now()).await.unwrap(), 2);
    assert_eq!(store.delete_expired(clock.now()).await.unwrap(), 0);
    assert!(store.load("new").await.unwrap().is_some());
    assert!(store.load("forever").await.unwrap().is_some());
    assert_eq!(store.count().await.unwrap(), 2);
}

async fn owner_index(store: SharedSessionStore, _: ManualClock) {
    for i in 0..3 {
        store
            .save(&format!("a-{i}"), &rec(i).with_owner("alice"))
            .await
            .unwrap();
    }
    store.save("b-0", &rec(9).with_owner("bob")).await.unwrap();
    store.save("nobody", &rec(0)).await.unwrap();
    let mut alice: Vec<String> = store
        .list_by_owner("alice")
        .await
        .unwrap()
        .into_iter()
        .map(|(k, r)| {
            assert_eq!(r.owner.as_deref(), Some("alice"));
            k
        })
        .collect();
    alice.sort();
    assert_eq!(alice, ["a-0", "a-1", "a-2"]);
    assert_eq!(store.list_by_owner("bob").await.unwrap().len(), 1);
    assert!(store.list_by_owner("carol").await.unwrap().is_empty());
}

async fn owner_change_moves_the_record(store: SharedSessionStore, _: ManualClock) {
    store.save("k", &rec(1).with_owner("alice")).await.unwrap();
    store.save("k", &rec(1).with_owner("bob")).await.unwrap();
    assert!(store.list_by_owner("alice").await.unwrap().is_empty());
    assert_eq!(store.list_by_owner("bob").await.unwrap().len(), 1);
    store.save("k", &rec(1)).await.unwrap();
    assert!(store.list_by_owner("bob").await.unwrap().is_empty());
}

async fn delete_by_owner_leaves_others(store: SharedSessionStore, clock: ManualClock) {
    for i in 0..4 {
        store
            .save(&format!("a-{i}"), &rec(i).with_owner("alice"))
            .await
            .unwrap();
    }
    store
        .save(
            "a-exp",
            &rec(5)
                .with_owner("alice")
                .with_expires_at(clock.now() + Duration::from_secs(1)),
        )
        .await
        .unwrap();
    store.save("b", &rec(0).with_owner("bob")).await.unwrap();
    clock.advance(Duration::from_secs(2));
    assert_eq!(store.delete_by_owner("alice").await.unwrap(), 4);
    assert!(store.list_by_owner("alice").await.unwrap().is_empty());
    assert!(store.load("a-0").await.unwrap().is_none());
    assert!(store.load("b").await.unwrap().is_some());
    assert_eq!(store.delete_by_owner("alice").await.unwrap(), 0);
}

async fn owner_counts_count_live_records(store: SharedSessionStore, clock: ManualClock) {
    assert!(store.owner_counts().await.unwrap().is_empty());
    for i in 0..3 {
        store
            .save(&format!("a{i}"), &rec(i).with_owner("alice"))
            .await
            .unwrap();
    }
    store.save("b", &rec(0).with_owner("bob")).await.unwrap();
    store
        .save(
            "b-exp",
            &rec(1)
                .with_owner("bob")
                .with_expires_at(clock.now() + Duration::from_secs(1)),
        )
        .await
        .unwrap();
    store
        .save(
            "c-exp",
            &rec(1)
                .with_owner("carol")
                .with_expires_at(clock.now() + Duration::from_secs(1)),
        )
        .await
        .unwrap();
    store.save("nobody", &rec(0)).await.unwrap();
    clock.advance(Duration::from_secs(1));
    let mut counts = store.owner_counts().await.unwrap();
    counts.sort();
    assert_eq!(counts, [("alice".to_owned(), 3), ("bob".to_owned(), 1)]);
}

async fn count_counts_live_records(store: SharedSessionStore, clock: ManualClock) {
    assert_eq!(store.count().await.unwrap(), 0);
    store.save("a", &rec(1)).await.unwrap();
    store
        .save(
            "b",
            &rec(1).with_expires_at(clock.now() + Duration::from_secs(5)),
        )
        .await
        .unwrap();
    assert_eq!(store.count().await.unwrap(), 2);
    clock.advance(Duration::from_secs(5));
    assert_eq!(store.count().await.unwrap(), 1);
    store.delete("a").await.unwrap();
    assert_eq!(store.count().await.unwrap(), 0);
}

async fn odd_keys_and_large_documents(store: SharedSessionStore, _: ManualClock) {
    let keys = [
        "with space",
        "colon:and/slash",
        "ünïcødé-🔑",
        "quote'\"",
        "%2F*?[]",
    ];
    for (i, key) in keys.iter().enumerate() {
        store
            .save(key, &rec(i as i64).with_owner("owner with space"))
            .await
            .unwrap();
    }
    for (i, key) in keys.iter().enumerate() {
        assert_eq!(
            store.load(key).await.unwrap().unwrap().data["n"],
            i as i64,
            "{key}"
        );
    }
    assert_eq!(
        store.list_by_owner("owner with space").await.unwrap().len(),
        keys.len()
    );
    let big = "x".repeat(256 * 1024);
    store
        .save("big", &StoreRecord::new(json!({ "blob": big })))
        .await
        .unwrap();
    assert_eq!(
        store.load("big").await.unwrap().unwrap().data["blob"]
            .as_str()
            .unwrap()
            .len(),
        big.len()
    );
}
