//! Crash safety, file modes and bad input: every failure is a typed error and
//! nothing persisted is lost.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::json;
use session_core::{SessionStore, StoreRecord};
use session_store::{EncryptedFileStore, EncryptionKey, Error, JsonFileStore};

static N: AtomicUsize = AtomicUsize::new(0);

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "session-kit-bad-input-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn store_error(err: &session_core::Error) -> &Error {
    Error::find(err).unwrap_or_else(|| panic!("no Error in {err:?}"))
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn every_write_leaves_mode_0600_and_creates_the_folder() {
    let dir = temp_dir();
    let path = dir.join("nested/deeper/sessions.json");
    let store = JsonFileStore::new(&path);
    store.save("a", &StoreRecord::new(json!(1))).await.unwrap();
    assert_eq!(mode(&path), 0o600);
    // Someone loosens the mode; the next write tightens it again.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    store.save("b", &StoreRecord::new(json!(2))).await.unwrap();
    assert_eq!(mode(&path), 0o600);
    store.delete("a").await.unwrap();
    assert_eq!(mode(&path), 0o600);
    let enc = dir.join("sealed.bin");
    EncryptedFileStore::new(&enc, EncryptionKey::passphrase("pw"))
        .save("a", &StoreRecord::new(json!(1)))
        .await
        .unwrap();
    assert_eq!(mode(&enc), 0o600);
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn a_new_file_says_which_schema_it_is_written_in() {
    let dir = temp_dir();
    let path = dir.join("sessions.json");
    JsonFileStore::new(&path)
        .save("a", &StoreRecord::new(json!(1)))
        .await
        .unwrap();
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(written["schema_version"], 1, "{written}");
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn unfinished_writes_of_a_crashed_process_are_removed_on_open() {
    let dir = temp_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("sessions.json");
    // What a writer killed between writing and renaming leaves behind.
    let left = [
        dir.join(".sessions.json.tmp-99999-0"),
        dir.join(".sessions.json.tmp-99999-1"),
    ];
    for file in &left {
        std::fs::write(
            file,
            r#"{"records":{"a":{"data":{"access_token":"at-SECRET"}}}}"#,
        )
        .unwrap();
    }
    let unrelated = dir.join(".other.json.tmp-99999-0");
    std::fs::write(&unrelated, "not ours").unwrap();

    let store = JsonFileStore::new(&path);
    assert!(store.load("a").await.unwrap().is_none());
    for file in &left {
        assert!(!file.exists(), "{} survived", file.display());
    }
    assert!(unrelated.exists(), "another store's files are left alone");
    store.save("a", &StoreRecord::new(json!(1))).await.unwrap();
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert_eq!(names, [".other.json.tmp-99999-0"]);
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn a_missing_file_is_an_empty_store() {
    let dir = temp_dir();
    let store = JsonFileStore::new(dir.join("none.json"));
    assert!(store.load("a").await.unwrap().is_none());
    assert_eq!(store.count().await.unwrap(), 0);
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn corrupted_files_are_moved_aside_not_overwritten() {
    let cases: [(&str, &[u8]); 4] = [
        ("truncated", br#"{"schema_version":1,"records":{"a":{"da"#),
        (
            "wrong types",
            br#"{"schema_version":"one","records":[1,2]}"#,
        ),
        ("empty", b""),
        ("not json", b"\x00\x01binary"),
    ];
    for (name, bytes) in cases {
        let dir = temp_dir();
        let path = dir.join("sessions.json");
        std::fs::write(&path, bytes).unwrap();
        let store = JsonFileStore::new(&path);
        let err = store.load("a").await.unwrap_err();
        let moved_to = match store_error(&err) {
            Error::Corrupted { moved_to } => moved_to.clone(),
            other => panic!("{name}: {other:?}"),
        };
        assert_eq!(
            std::fs::read(&moved_to).unwrap(),
            bytes,
            "{name}: the bad file is kept intact"
        );
        assert!(!path.exists(), "{name}: moved, not left in place");
        // The store starts afresh; the next corruption goes to a new name.
        store.save("a", &StoreRecord::new(json!(1))).await.unwrap();
        std::fs::write(&path, bytes).unwrap();
        let err = store.load("a").await.unwrap_err();
        let second = match store_error(&err) {
            Error::Corrupted { moved_to } => moved_to.clone(),
            other => panic!("{other:?}"),
        };
        assert_ne!(second, moved_to);
        assert!(moved_to.exists() && second.exists());
        std::fs::remove_dir_all(dir).ok();
    }
}

#[tokio::test]
async fn a_directory_where_the_file_should_be() {
    let dir = temp_dir();
    let path = dir.join("sessions.json");
    std::fs::create_dir(&path).unwrap();
    let err = JsonFileStore::new(&path).load("a").await.unwrap_err();
    assert!(
        matches!(store_error(&err), Error::NotAFile { .. }),
        "{err:?}"
    );
    assert!(path.is_dir(), "left alone");
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn a_newer_file_format_is_refused_and_kept() {
    let dir = temp_dir();
    let path = dir.join("sessions.json");
    std::fs::write(&path, br#"{"schema_version": 7, "records": {}}"#).unwrap();
    let err = JsonFileStore::new(&path)
        .save("a", &StoreRecord::new(json!(1)))
        .await
        .unwrap_err();
    assert!(matches!(store_error(&err), Error::NewerFormat { found: 7 }));
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        r#"{"schema_version": 7, "records": {}}"#
    );
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn a_wrong_key_is_a_typed_error_and_the_file_is_untouched() {
    let dir = temp_dir();
    let path = dir.join("sealed.bin");
    let right = EncryptedFileStore::new(&path, EncryptionKey::passphrase("right horse"));
    right
        .save("a", &StoreRecord::new(json!({"token": "SECRET"})))
        .await
        .unwrap();
    let before = std::fs::read(&path).unwrap();
    assert!(
        !before.windows(6).any(|w| w == b"SECRET"),
        "encrypted on disk"
    );

    for wrong in [
        EncryptedFileStore::new(&path, EncryptionKey::passphrase("wrong horse")),
        EncryptedFileStore::new(&path, EncryptionKey::from_bytes([0; 32])),
    ] {
        for result in [
            wrong.load("a").await.map(|_| ()),
            wrong.save("b", &StoreRecord::new(json!(2))).await,
        ] {
            let err = result.unwrap_err();
            assert!(matches!(store_error(&err), Error::WrongKey), "{err:?}");
            assert!(!err.to_string().contains("horse"));
        }
    }
    assert_eq!(std::fs::read(&path).unwrap(), before, "untouched");
    assert_eq!(
        right.load("a").await.unwrap().unwrap().data["token"],
        "SECRET"
    );

    // A flipped byte is caught by authentication, and the file is kept.
    let mut tampered = before.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    std::fs::write(&path, &tampered).unwrap();
    let err = right.load("a").await.unwrap_err();
    assert!(matches!(store_error(&err), Error::WrongKey));
    assert_eq!(std::fs::read(&path).unwrap(), tampered);
    std::fs::remove_dir_all(dir).ok();
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// Helper run in a child process: loads the file named by the environment
/// and checks the error is PermissionDenied.
#[tokio::test]
#[ignore = "run by permission_denied_is_a_typed_error in a child process"]
async fn permission_child() {
    let path = std::env::var("SESSION_KIT_TEST_FILE").unwrap();
    let err = JsonFileStore::new(&path).load("a").await.unwrap_err();
    assert!(
        matches!(store_error(&err), Error::PermissionDenied { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn permission_denied_is_a_typed_error() {
    let dir = temp_dir();
    let path = dir.join("sessions.json");
    JsonFileStore::new(&path)
        .save("a", &StoreRecord::new(json!(1)))
        .await
        .unwrap();
    let me = std::env::current_exe().unwrap();
    let mut child = if running_as_root() {
        // Root reads anything: ask an unprivileged user instead.
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&me);
        c
    } else {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o500)).unwrap();
        Command::new(&me)
    };
    let status = child
        .args(["--exact", "permission_child", "--ignored", "--quiet"])
        .env("SESSION_KIT_TEST_FILE", &path)
        .status()
        .unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).ok();
    assert!(status.success(), "the child saw PermissionDenied");
    // Nothing was lost.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).ok();
    assert_eq!(
        JsonFileStore::new(&path)
            .load("a")
            .await
            .unwrap()
            .unwrap()
            .data,
        json!(1)
    );
    std::fs::remove_dir_all(dir).ok();
}

/// Helper run in a child process: writes forever until killed.
#[tokio::test]
#[ignore = "run by a_killed_writer_never_leaves_a_torn_file in a child process"]
async fn crash_writer() {
    let path = std::env::var("SESSION_KIT_TEST_FILE").unwrap();
    let store = JsonFileStore::new(&path);
    for n in 0u64.. {
        let big = "x".repeat(((n % 50) as usize) * 1000);
        store
            .save(
                &format!("k{}", n % 20),
                &StoreRecord::new(json!({ "n": n, "pad": big })),
            )
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_killed_writer_never_leaves_a_torn_file() {
    let dir = temp_dir();
    let path = dir.join("sessions.json");
    let me = std::env::current_exe().unwrap();
    let reader = JsonFileStore::new(&path);
    let mut seen_max = 0;
    for round in 0..5 {
        let mut child = Command::new(&me)
            .args(["--exact", "crash_writer", "--ignored", "--quiet"])
            .env("SESSION_KIT_TEST_FILE", &path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Let it get well into its write loop (watch the records grow).
        let start_count = reader.count().await.unwrap_or(0);
        let mut waited = 0;
        while reader.count().await.unwrap() < 20.min(start_count + 5) || waited < 3 {
            waited += 1;
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            assert!(waited < 1500, "round {round}: the writer never wrote");
        }
        child.kill().unwrap(); // SIGKILL, mid-write
        child.wait().unwrap();
        // The file always loads, with whole records.
        let count = reader
            .count()
            .await
            .unwrap_or_else(|e| panic!("round {round}: {e:?}"));
        assert!(count > 0);
        for k in 0..20 {
            if let Some(r) = reader.load(&format!("k{k}")).await.unwrap() {
                let n = r.data["n"].as_u64().unwrap();
                assert_eq!(
                    r.data["pad"].as_str().unwrap().len() as u64,
                    (n % 50) * 1000
                );
                seen_max = seen_max.max(n);
            }
        }
    }
    assert!(seen_max > 0);
    std::fs::remove_dir_all(dir).ok();
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn redis_unreachable_is_retryable() {
    let err = session_store::RedisStore::connect("redis://127.0.0.1:1/")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unavailable(_)), "{err:?}");
    assert!(err.is_retryable());
    let err = session_store::RedisStore::connect("not a url")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidSetting(_)));
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_unreachable_is_retryable() {
    let err = session_store::PostgresStore::connect("postgres://postgres@127.0.0.1:1/test")
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    let err = session_store::PostgresStore::connect_table(
        "postgres://postgres@127.0.0.1:5432/test",
        "bad-name",
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::InvalidSetting(_)));
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn a_locked_sqlite_database_is_a_retryable_error_and_loses_nothing() {
    use sqlx::Connection as _;
    use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};

    let dir = temp_dir();
    let path = dir.join("sessions.db");
    let options = SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true)
        .busy_timeout(std::time::Duration::from_millis(50));
    let store = session_store::SqliteStore::connect_with(options.clone(), 2, "sessions")
        .await
        .unwrap();
    store.save("a", &StoreRecord::new(json!(1))).await.unwrap();

    let mut other = SqliteConnection::connect_with(&options).await.unwrap();
    sqlx::raw_sql("BEGIN EXCLUSIVE")
        .execute(&mut other)
        .await
        .unwrap();
    let err = store
        .save("b", &StoreRecord::new(json!(2)))
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    assert!(matches!(store_error(&err), Error::Busy(_)));
    sqlx::raw_sql("ROLLBACK").execute(&mut other).await.unwrap();

    store.save("b", &StoreRecord::new(json!(2))).await.unwrap();
    assert_eq!(store.load("a").await.unwrap().unwrap().data, json!(1));
    assert_eq!(store.count().await.unwrap(), 2);
    std::fs::remove_dir_all(dir).ok();
}

/// The record the damage tests keep beside the one they damage.
#[cfg(any(feature = "redis", feature = "sqlite"))]
async fn save_good(store: &dyn SessionStore) {
    let good = StoreRecord::new(json!({"user": "ada"})).with_owner("ada");
    store.save("good", &good).await.unwrap();
}

/// Loading the damaged record (`victim`) is `MalformedRecord`; the good one
/// still loads as it was saved.
#[cfg(any(feature = "redis", feature = "sqlite"))]
async fn only_the_damaged_record_fails(store: &dyn SessionStore, damage: &str) {
    let err = store.load("victim").await.unwrap_err();
    assert!(
        matches!(store_error(&err), Error::MalformedRecord),
        "{damage}: {err:?}"
    );
    let good = store.load("good").await.unwrap().unwrap();
    assert_eq!(good.data, json!({"user": "ada"}), "{damage}");
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn damaged_redis_records_are_a_typed_error_and_leave_the_others_alone() {
    let prefix = format!("bad-input-{}:", std::process::id());
    let store = session_store::RedisStore::connect("redis://127.0.0.1:6379/")
        .await
        .unwrap()
        .with_prefix(prefix.as_str());
    save_good(&store).await;
    store
        .save("victim", &StoreRecord::new(json!(1)).with_owner("ada"))
        .await
        .unwrap();
    let mut conn = store.connection();
    let rec = format!("{{{prefix}}}r:victim");
    let damage: [(&str, &[u8]); 4] = [
        ("data", b"{\"user\": \"ad"),
        ("data", b"{\"user\": \"\xff\xfe\"}"),
        ("exp", b"soon"),
        ("exp", b"99999999999999999999999"),
    ];
    for (field, bytes) in damage {
        let _: () = redis::cmd("HSET")
            .arg(&rec)
            .arg("data")
            .arg("1")
            .arg("exp")
            .arg("")
            .arg(field)
            .arg(bytes)
            .query_async(&mut conn)
            .await
            .unwrap();
        let damage = format!("{field} = {bytes:?}");
        only_the_damaged_record_fails(&store, &damage).await;
        let err = store.list_by_owner("ada").await.unwrap_err();
        assert!(
            matches!(store_error(&err), Error::MalformedRecord),
            "{damage}: {err:?}"
        );
    }
    assert!(store.delete("victim").await.unwrap());
    assert!(store.delete("good").await.unwrap());
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn damaged_sqlite_rows_are_a_typed_error_and_leave_the_others_alone() {
    let dir = temp_dir();
    let store = session_store::SqliteStore::open(dir.join("sessions.db"))
        .await
        .unwrap();
    save_good(&store).await;
    // What another program (or a damaged disk) may leave in the table.
    let damage = [
        "data = 'not json'",
        "data = X'7B7D'",
        "data = CAST(X'22FF22' AS TEXT)",
        "expires_at = 'soon'",
        "owner = X'FF'",
    ];
    for set in damage {
        store
            .save("victim", &StoreRecord::new(json!(1)).with_owner("ada"))
            .await
            .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE sessions SET {set} WHERE key = 'victim'"
        )))
        .execute(store.pool())
        .await
        .unwrap();
        only_the_damaged_record_fails(&store, set).await;
    }
    std::fs::remove_dir_all(dir).ok();
}
