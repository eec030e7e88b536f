//! [`SqliteStore`]: sessions in SQLite through sqlx (feature `sqlite`).
//!
//! Connections use WAL, `synchronous = NORMAL` and a busy timeout; times are
//! integer milliseconds since the epoch (UTC); the owner and expiry columns
//! are indexed. Conditional writes are single SQL statements, so a concurrent
//! update can never bring back a deleted record. A store opened on a file
//! loads single records through connections of its own, on the calling task
//! (see `sqlite_reader`): the lookup is cheaper than sqlx's thread hops.

use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use session_core::time::OffsetDateTime;
use session_core::{SessionStore, SharedClock, StoreRecord};
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::error::{Error, Result};
use crate::record::{from_millis, to_millis};
use crate::sql::{check_table_name, count_live, map_sqlx};
use crate::sqlite_reader::{Miss, Reader};

/// How many expired records one write of a sweep deletes.
const SWEEP_BATCH: i64 = 500;
/// The default table name.
pub(crate) const DEFAULT_TABLE: &str = "sessions";

/// Sessions in a SQLite database.
///
/// # Examples
///
/// ```
/// use serde_json::json;
/// use session_core::{SessionStore, StoreRecord};
/// use session_store::SqliteStore;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let store = SqliteStore::memory().await?;
/// store.save("s1", &StoreRecord::new(json!({"user": "ada"})).with_owner("ada")).await?;
/// assert_eq!(store.list_by_owner("ada").await?.len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
/// ```
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    table: String,
    clock: SharedClock,
    /// The fast read path, for a database file (see [`Reader`]).
    reader: Option<Arc<Reader>>,
}

impl SqliteStore {
    /// Opens (creating if needed, with its folder) the database file at
    /// `path`, using the table `sessions`.
    ///
    /// # Errors
    ///
    /// When the file can't be opened or the table created.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), session_store::Error> {
    /// let store = session_store::SqliteStore::open("data/sessions.db").await?;
    /// # let _ = store; Ok(()) }
    /// ```
    pub async fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_table(path, DEFAULT_TABLE).await
    }

    /// Like [`open`](Self::open), with another table name.
    ///
    /// # Errors
    ///
    /// As [`open`](Self::open), and [`Error::InvalidSetting`] for a table
    /// name other than letters, digits and underscores.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), session_store::Error> {
    /// let store = session_store::SqliteStore::open_table("data/app.db", "client_sessions").await?;
    /// # let _ = store; Ok(()) }
    /// ```
    pub async fn open_table(path: impl AsRef<Path>, table: &str) -> Result<Self> {
        let path = path.as_ref();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .busy_timeout(Duration::from_secs(5));
        let mut store = Self::connect_with(options, 8, table).await?;
        store.reader = Some(Arc::new(Reader::open(path, table)?));
        Ok(store)
    }

    /// A private in-memory database (one connection), for tests.
    ///
    /// # Errors
    ///
    /// When SQLite can't start.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let store = session_store::SqliteStore::memory().await?;
    /// # let _ = store; Ok::<(), session_store::Error>(()) }).unwrap();
    /// ```
    pub async fn memory() -> Result<Self> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:").map_err(map_sqlx)?;
        Self::connect_with(
            options.busy_timeout(Duration::from_secs(5)),
            1,
            DEFAULT_TABLE,
        )
        .await
    }

    /// Connects with explicit options (set the busy timeout there; `open`
    /// uses 5 seconds) and pool size. WAL and `synchronous = NORMAL` are
    /// applied.
    ///
    /// # Errors
    ///
    /// When connecting or creating the table fails.
    ///
    /// ```
    /// use std::str::FromStr;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let options = sqlx::sqlite::SqliteConnectOptions::from_str("sqlite::memory:").unwrap();
    /// let store = session_store::SqliteStore::connect_with(options, 1, "sessions").await?;
    /// # let _ = store; Ok::<(), session_store::Error>(()) }).unwrap();
    /// ```
    pub async fn connect_with(
        options: SqliteConnectOptions,
        max_connections: u32,
        table: &str,
    ) -> Result<Self> {
        check_table_name(table)?;
        let options = options
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal);
        // Switching a new file to WAL needs an exclusive lock; do it with one
        // connection first (the mode persists in the file), so the pool's
        // first connections don't race for it.
        {
            use sqlx::Connection as _;
            let first = sqlx::SqliteConnection::connect_with(&options)
                .await
                .map_err(map_sqlx)?;
            first.close().await.map_err(map_sqlx)?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections.max(1))
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .map_err(map_sqlx)?;
        Self::from_pool(pool, table).await
    }

    /// Uses an existing pool (its PRAGMAs are yours to set), creating the
    /// table and indexes if needed.
    ///
    /// # Errors
    ///
    /// When creating the table fails, or for an invalid table name.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let pool = sqlx::SqlitePool::connect("sqlite::memory:").await.unwrap();
    /// let store = session_store::SqliteStore::from_pool(pool, "sessions").await?;
    /// # let _ = store; Ok::<(), session_store::Error>(()) }).unwrap();
    /// ```
    pub async fn from_pool(pool: SqlitePool, table: &str) -> Result<Self> {
        check_table_name(table)?;
        let t = table;
        let ddl = format!(
            "CREATE TABLE IF NOT EXISTS {t} (key TEXT PRIMARY KEY NOT NULL, data TEXT NOT NULL, expires_at INTEGER, owner TEXT);
             CREATE INDEX IF NOT EXISTS {t}_owner ON {t} (owner);
             CREATE INDEX IF NOT EXISTS {t}_expires_at ON {t} (expires_at);"
        );
        sqlx::raw_sql(sqlx::AssertSqlSafe(ddl))
            .execute(&pool)
            .await
            .map_err(map_sqlx)?;
        Ok(Self {
            pool,
            table: table.to_owned(),
            clock: SharedClock::default(),
            reader: None,
        })
    }

    /// Decides expiry with `clock` instead of the system clock.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let store = session_store::SqliteStore::memory().await?.with_clock(session_core::SharedClock::default());
    /// # let _ = store; Ok::<(), session_store::Error>(()) }).unwrap();
    /// ```
    #[must_use]
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// The connection pool.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let store = session_store::SqliteStore::memory().await?;
    /// let _pool: &sqlx::SqlitePool = store.pool();
    /// # Ok::<(), session_store::Error>(()) }).unwrap();
    /// ```
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    fn now_ms(&self) -> i64 {
        to_millis(self.clock.now())
    }

    fn sql(&self, template: &str) -> String {
        template.replace("{t}", &self.table)
    }
}

fn row_to_record(row: &sqlx::sqlite::SqliteRow) -> std::result::Result<StoreRecord, Error> {
    let data: String = row.try_get("data").map_err(map_sqlx)?;
    let expires_at: Option<i64> = row.try_get("expires_at").map_err(map_sqlx)?;
    let owner: Option<String> = row.try_get("owner").map_err(map_sqlx)?;
    let mut record =
        StoreRecord::new(serde_json::from_str(&data).map_err(|_| Error::MalformedRecord)?);
    record.expires_at = expires_at.and_then(from_millis);
    record.owner = owner;
    Ok(record)
}

fn encode(record: &StoreRecord) -> (String, Option<i64>, Option<String>) {
    (
        record.data.to_string(),
        record.expires_at.map(to_millis),
        record.owner.clone(),
    )
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn load(&self, key: &str) -> session_core::Result<Option<StoreRecord>> {
        let op = "load the record";
        if let Some(reader) = &self.reader {
            match reader.load(key, self.now_ms()) {
                Ok(found) => return Ok(found),
                Err(Miss::Malformed) => return Err(Error::MalformedRecord.into_core(op)),
                Err(Miss::Fallback) => {}
            }
        }
        let sql = self.sql("SELECT data, expires_at, owner FROM {t} WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(key)
            .bind(self.now_ms())
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| map_sqlx(e).into_core(op))?;
        row.map(|r| row_to_record(&r))
            .transpose()
            .map_err(|e| e.into_core(op))
    }

    async fn save(&self, key: &str, record: &StoreRecord) -> session_core::Result<()> {
        let (data, expires_at, owner) = encode(record);
        let sql = self.sql(
            "INSERT INTO {t} (key, data, expires_at, owner) VALUES (?, ?, ?, ?)
             ON CONFLICT (key) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at, owner = excluded.owner",
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(key)
            .bind(data)
            .bind(expires_at)
            .bind(owner)
            .execute(&self.pool)
            .await
            .map_err(|e| map_sqlx(e).into_core("save the record"))?;
        Ok(())
    }

    async fn insert_if_absent(
        &self,
        key: &str,
        record: &StoreRecord,
    ) -> session_core::Result<bool> {
        let (data, expires_at, owner) = encode(record);
        // Inserts, or takes over an expired row; a live row stays as it is.
        let sql = self.sql(
            "INSERT INTO {t} (key, data, expires_at, owner) VALUES (?, ?, ?, ?)
             ON CONFLICT (key) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at, owner = excluded.owner
             WHERE {t}.expires_at IS NOT NULL AND {t}.expires_at <= ?",
        );
        let done = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(key)
            .bind(data)
            .bind(expires_at)
            .bind(owner)
            .bind(self.now_ms())
            .execute(&self.pool)
            .await
            .map_err(|e| map_sqlx(e).into_core("insert the record"))?;
        Ok(done.rows_affected() == 1)
    }

    async fn update_if_exists(
        &self,
        key: &str,
        record: &StoreRecord,
    ) -> session_core::Result<bool> {
        let (data, expires_at, owner) = encode(record);
        let sql = self.sql(
            "UPDATE {t} SET data = ?, expires_at = ?, owner = ? WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)",
        );
        let done = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(data)
            .bind(expires_at)
            .bind(owner)
            .bind(key)
            .bind(self.now_ms())
            .execute(&self.pool)
            .await
            .map_err(|e| map_sqlx(e).into_core("update the record"))?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete(&self, key: &str) -> session_core::Result<bool> {
        let sql = self.sql("DELETE FROM {t} WHERE key = ? RETURNING expires_at");
        let now = self.now_ms();
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(key)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| map_sqlx(e).into_core("delete the record"))?;
        Ok(count_live(&rows, now) > 0)
    }

    async fn list_by_owner(&self, owner: &str) -> session_core::Result<Vec<(String, StoreRecord)>> {
        let op = "list the owner's records";
        let sql = self.sql("SELECT key, data, expires_at, owner FROM {t} WHERE owner = ? AND (expires_at IS NULL OR expires_at > ?)");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(owner)
            .bind(self.now_ms())
            .fetch_all(&self.pool)
            .await
            .map_err(|e| map_sqlx(e).into_core(op))?;
        rows.iter()
            .map(|r| {
                let key: String = r.try_get("key").map_err(map_sqlx)?;
                Ok((key, row_to_record(r)?))
            })
            .collect::<std::result::Result<_, Error>>()
            .map_err(|e| e.into_core(op))
    }

    async fn delete_by_owner(&self, owner: &str) -> session_core::Result<u64> {
        let sql = self.sql("DELETE FROM {t} WHERE owner = ? RETURNING expires_at");
        let now = self.now_ms();
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(owner)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| map_sqlx(e).into_core("delete the owner's records"))?;
        Ok(count_live(&rows, now))
    }

    async fn owner_counts(&self) -> session_core::Result<Vec<(String, u64)>> {
        let sql = self.sql(
            "SELECT owner, COUNT(*) AS n FROM {t} WHERE owner IS NOT NULL AND (expires_at IS NULL OR expires_at > ?) GROUP BY owner",
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(self.now_ms())
            .fetch_all(&self.pool)
            .await
            .map_err(|e| map_sqlx(e).into_core("count records by owner"))?;
        rows.iter()
            .map(|r| {
                let owner: String = r.try_get("owner").map_err(map_sqlx)?;
                let n: i64 = r.try_get("n").map_err(map_sqlx)?;
                Ok((owner, u64::try_from(n).unwrap_or(0)))
            })
            .collect::<std::result::Result<_, Error>>()
            .map_err(|e| e.into_core("count records by owner"))
    }

    /// Deletes in batches of 500, each its own short write, so a
    /// sweep of many expired sessions never holds SQLite's one write lock
    /// for long: requests writing meanwhile wait for one batch, not for all.
    async fn delete_expired(&self, now: OffsetDateTime) -> session_core::Result<u64> {
        let sql = self.sql(
            "DELETE FROM {t} WHERE key IN (SELECT key FROM {t} \
             WHERE expires_at IS NOT NULL AND expires_at <= ? LIMIT ?)",
        );
        let mut deleted = 0;
        loop {
            let done = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .bind(to_millis(now))
                .bind(SWEEP_BATCH)
                .execute(&self.pool)
                .await
                .map_err(|e| map_sqlx(e).into_core("delete expired records"))?;
            deleted += done.rows_affected();
            if done.rows_affected() < SWEEP_BATCH as u64 {
                return Ok(deleted);
            }
            // Let whatever waits for the write lock go first.
            tokio::task::yield_now().await;
        }
    }

    async fn count(&self) -> session_core::Result<u64> {
        let sql = self.sql("SELECT COUNT(*) FROM {t} WHERE expires_at IS NULL OR expires_at > ?");
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(self.now_ms())
            .fetch_one(&self.pool)
            .await
            .map_err(|e| map_sqlx(e).into_core("count the records"))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}
