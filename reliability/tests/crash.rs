//! Crash suite: a child process saves sessions in a loop, printing an
//! acknowledgement after each save returns, and is SIGKILLed at a random
//! point — 30 times per store at smoke size (200 with `SESSION_KIT_FULL=1`),
//! on the JSON, encrypted, SQLite, PostgreSQL and Redis stores.
//!
//! After every kill a fresh store on the same location must load, every
//! record must be whole, and no record may be older than the last save the
//! child saw acknowledged ("old or new, never less"). File stores must leave
//! no temporary file (which would hold plaintext tokens) once reopened.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::json;
use session_core::{SessionStore, SharedSessionStore, StoreRecord};
use session_kit_reliability::full_size;
use session_store::{
    EncryptedFileStore, EncryptionKey, JsonFileStore, PostgresStore, RedisStore, SqliteStore,
};

const KEYS: u64 = 8;
const PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
const REDIS_URL: &str = "redis://127.0.0.1:6379/";

/// The record the child writes as its `n`-th save: a token-like secret and
/// padding whose length follows from `n`, so a torn record shows.
fn record(n: u64) -> StoreRecord {
    StoreRecord::new(json!({
        "n": n,
        "access_token": format!("crash-secret-{n}"),
        "pad": "x".repeat(((n % 40) * 100) as usize),
    }))
}

async fn open(kind: &str, location: &str) -> SharedSessionStore {
    match kind {
        "json" => SharedSessionStore::new(JsonFileStore::new(location)),
        "encrypted" => SharedSessionStore::new(EncryptedFileStore::new(
            location,
            EncryptionKey::from_bytes([7; 32]),
        )),
        "sqlite" => SharedSessionStore::new(SqliteStore::open(location).await.unwrap()),
        "postgres" => SharedSessionStore::new(
            PostgresStore::connect_table(PG_URL, location)
                .await
                .expect("PostgreSQL on 127.0.0.1:5432, database test"),
        ),
        "redis" => SharedSessionStore::new(
            RedisStore::connect(REDIS_URL)
                .await
                .expect("Redis on 127.0.0.1:6379")
                .with_prefix(location),
        ),
        other => panic!("unknown store {other}"),
    }
}

/// Run in a child process by the tests below: saves until killed.
#[tokio::test]
#[ignore = "the writer the crash tests start and kill"]
async fn crash_child() {
    let kind = std::env::var("CRASH_KIND").unwrap();
    let location = std::env::var("CRASH_LOCATION").unwrap();
    let start: u64 = std::env::var("CRASH_START").unwrap().parse().unwrap();
    let store = open(&kind, &location).await;
    for n in start.. {
        let key = format!("k{}", n % KEYS);
        store.save(&key, &record(n)).await.unwrap();
        // Acknowledged only once the save returned.
        println!("ACK {key} {n}");
    }
}

/// Runs one writer until it has acknowledged `writes` saves, then kills it;
/// the highest acknowledged `n` per key.
fn kill_after(kind: &str, location: &str, start: u64, writes: usize) -> HashMap<String, u64> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash_child",
            "--ignored",
            "--nocapture",
            "--quiet",
        ])
        .env("CRASH_KIND", kind)
        .env("CRASH_LOCATION", location)
        .env("CRASH_START", start.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(rest) = line.strip_prefix("ACK ") {
                let (key, n) = rest.split_once(' ').unwrap();
                if tx
                    .send((key.to_owned(), n.parse::<u64>().unwrap()))
                    .is_err()
                {
                    break;
                }
            }
        }
    });
    let mut acked = HashMap::new();
    let mut seen = 0;
    while seen < writes {
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok((key, n)) => {
                acked.insert(key, n);
                seen += 1;
            }
            Err(e) => panic!("{kind}: the writer stopped acknowledging ({e})"),
        }
    }
    // A few microseconds more so the kill lands at any point of a save.
    std::thread::sleep(Duration::from_micros(fastrand::u64(0..2_000)));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // Acknowledgements already in the pipe count too.
    reader.join().unwrap();
    for (key, n) in rx.try_iter() {
        acked.insert(key, n);
    }
    acked
}

fn temporary_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().contains(".tmp"))
        .collect()
}

async fn crash_rounds(kind: &str, location: &str, dir: Option<&Path>) {
    let rounds = if full_size() { 200 } else { 30 };
    let mut acked: HashMap<String, u64> = HashMap::new();
    let mut next = 0;
    for round in 0..rounds {
        let writes = fastrand::usize(1..40);
        for (key, n) in kill_after(kind, location, next, writes) {
            acked.insert(key, n);
        }
        // A fresh store on the same location, as after a restart.
        let store = open(kind, location).await;
        let mut highest = next;
        for k in 0..KEYS {
            let key = format!("k{k}");
            let loaded = store
                .load(&key)
                .await
                .unwrap_or_else(|e| panic!("{kind} round {round}: {key} does not load: {e:?}"));
            let Some(last) = acked.get(&key) else {
                continue;
            };
            let loaded = loaded.unwrap_or_else(|| {
                panic!("{kind} round {round}: {key} acknowledged at {last} but gone")
            });
            let n = loaded.data["n"].as_u64().expect("a whole record");
            assert!(
                n >= *last,
                "{kind} round {round}: {key} went back from {last} to {n}"
            );
            assert_eq!(
                loaded.data,
                record(n).data,
                "{kind} round {round}: {key} is torn"
            );
            highest = highest.max(n + 1);
        }
        if let Some(dir) = dir {
            let left = temporary_files(dir);
            assert!(
                left.is_empty(),
                "{kind} round {round}: left behind {left:?}"
            );
        }
        next = highest + 1;
    }
    assert!(next > 0);
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("crash-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_file_store_survives_kills() {
    let dir = temp_dir("json");
    let path = dir.join("sessions.json");
    crash_rounds("json", path.to_str().unwrap(), Some(&dir)).await;
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_file_store_survives_kills() {
    let dir = temp_dir("encrypted");
    let path = dir.join("sessions.bin");
    crash_rounds("encrypted", path.to_str().unwrap(), Some(&dir)).await;
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_store_survives_kills() {
    let dir = temp_dir("sqlite");
    let path = dir.join("sessions.db");
    crash_rounds("sqlite", path.to_str().unwrap(), None).await;
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store_survives_kills() {
    let table = format!("crash_{}", std::process::id());
    crash_rounds("postgres", &table, None).await;
    let pool = sqlx::PgPool::connect(PG_URL).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP TABLE IF EXISTS {table}")))
        .execute(&pool)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_store_survives_kills() {
    let prefix = format!("crash_{}:", std::process::id());
    crash_rounds("redis", &prefix, None).await;
    let store = open("redis", &prefix).await;
    for k in 0..KEYS {
        store.delete(&format!("k{k}")).await.unwrap();
    }
}
