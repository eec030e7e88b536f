//! [`PostgresStore`]: sessions in PostgreSQL through sqlx (feature
//! `postgres`).
//!
//! Runtime queries (no compile-time database), the table and indexes created
//! on connect, `jsonb` data, times as `bigint` milliseconds since the epoch
//! (UTC). Conditional writes are single statements.

use std::fmt;

use async_trait::async_trait;
use session_core::time::OffsetDateTime;
use session_core::{SessionStore, SharedClock, StoreRecord};
use sqlx::Row;
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};

use crate::error::{Error, Result};
use crate::record::{from_millis, to_millis};
use crate::sql::{check_table_name, count_live, map_sqlx};

/// Sessions in a PostgreSQL table.
///
/// # Examples
///
/// ```no_run
/// use serde_json::json;
/// use session_core::{SessionStore, StoreRecord};
/// use session_store::PostgresStore;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let store = PostgresStore::connect("postgres://postgres@127.0.0.1:5432/test").await?;
/// store.save("s1", &StoreRecord::new(json!({"user": "ada"}))).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
    table: String,
    clock: SharedClock,
}

impl PostgresStore {
    /// Connects to `url` and uses the table `sessions`, creating it if needed.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`] when the server can't be reached; other
    /// errors when the table can't be created.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), session_store::Error> {
    /// let store = session_store::PostgresStore::connect("postgres://postgres@127.0.0.1/test").await?;
    /// # let _ = store; Ok(()) }
    /// ```
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_table(url, "sessions").await
    }

    /// Like [`connect`](Self::connect), with another table name.
    ///
    /// # Errors
    ///
    /// As [`connect`](Self::connect), and [`Error::InvalidSetting`] for a
    /// table name other than letters, digits and underscores.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), session_store::Error> {
    /// let store = session_store::PostgresStore::connect_table("postgres://postgres@127.0.0.1/test", "client_sessions").await?;
    /// # let _ = store; Ok(()) }
    /// ```
    pub async fn connect_table(url: &str, table: &str) -> Result<Self> {
        use sqlx::Connection as _;
        check_table_name(table)?;
        // One direct attempt first: the pool would retry a refused
        // connection for its whole acquire timeout.
        let probe = sqlx::PgConnection::connect(url)
            .await
            .map_err(|e| match e {
                sqlx::Error::Configuration(_) => {
                    Error::InvalidSetting("the PostgreSQL URL is not valid")
                }
                e => Error::Unavailable(Box::new(e)),
            })?;
        drop(probe);
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .connect(url)
            .await
            .map_err(|e| match e {
                sqlx::Error::Configuration(_) => {
                    Error::InvalidSetting("the PostgreSQL URL is not valid")
                }
                e => Error::Unavailable(Box::new(e)),
            })?;
        Self::from_pool(pool, table).await
    }

    /// Uses an existing pool, creating the table and indexes if needed.
    ///
    /// # Errors
    ///
    /// When creating the table fails, or for an invalid table name.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let pool = sqlx::PgPool::connect("postgres://postgres@127.0.0.1/test").await?;
    /// let store = session_store::PostgresStore::from_pool(pool, "sessions").await?;
    /// # let _ = store; Ok(()) }
    /// ```
    pub async fn from_pool(pool: PgPool, table: &str) -> Result<Self> {
        check_table_name(table)?;
        let t = table;
        let ddl = format!(
            "CREATE TABLE IF NOT EXISTS {t} (key TEXT PRIMARY KEY, data JSONB NOT NULL, expires_at BIGINT, owner TEXT);
             CREATE INDEX IF NOT EXISTS {t}_owner ON {t} (owner);
             CREATE INDEX IF NOT EXISTS {t}_expires_at ON {t} (expires_at);"
        );
        // Concurrent first connects may race on CREATE; the loser's error is harmless.
        if let Err(e) = sqlx::raw_sql(sqlx::AssertSqlSafe(ddl.clone()))
            .execute(&pool)
            .await
        {
            sqlx::raw_sql(sqlx::AssertSqlSafe(ddl))
                .execute(&pool)
                .await
                .map_err(|_| map_sqlx(e))?;
        }
        Ok(Self {
            pool,
            table: table.to_owned(),
            clock: SharedClock::default(),
        })
    }

    /// Decides expiry with `clock` instead of the system clock.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), session_store::Error> {
    /// let store = session_store::PostgresStore::connect("postgres://postgres@127.0.0.1/test").await?
    ///     .with_clock(session_core::SharedClock::default());
    /// # let _ = store; Ok(()) }
    /// ```
    #[must_use]
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// The connection pool.
    ///
    /// ```no_run
    /// # async fn run(store: session_store::PostgresStore) {
    /// let _pool: &sqlx::PgPool = store.pool();
    /// # }
    /// ```
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The table name.
    ///
    /// ```no_run
    /// # fn run(store: session_store::PostgresStore) {
    /// assert_eq!(store.table(), "sessions");
    /// # }
    /// ```
    pub fn table(&self) -> &str {
        &self.table
    }

    fn now_ms(&self) -> i64 {
        to_millis(self.clock.now())
    }

    fn sql(&self, template: &str) -> String {
        template.replace("{t}", &self.table)
    }
}

fn row_to_record(row: &PgRow) -> std::result::Result<StoreRecord, Error> {
    let data: String = row.try_get("data").map_err(map_sqlx)?;
    let expires_at: Option<i64> = row.try_get("expires_at").map_err(map_sqlx)?;
    let owner: Option<String> = row.try_get("owner").map_err(map_sqlx)?;
    let mut record =
        StoreRecord::new(serde_json::from_str(&data).map_err(|_| Error::MalformedRecord)?);
    record.expires_at = expires_at.and_then(from_millis);
    record.owner = owner;
    Ok(record)
}

#[async_trait]
impl SessionStore for PostgresStore {
    async fn load(&self, key: &str) -> session_core::Result<Option<StoreRecord>> {
        let op = "load the record";
        let sql = self.sql("SELECT data::text AS data, expires_at, owner FROM {t} WHERE key = $1 AND (expires_at IS NULL OR expires_at > $2)");
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
        let sql = self.sql(
            "INSERT INTO {t} (key, data, expires_at, owner) VALUES ($1, $2::jsonb, $3, $4)
             ON CONFLICT (key) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at, owner = excluded.owner",
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(key)
            .bind(record.data.to_string())
            .bind(record.expires_at.map(to_millis))
            .bind(record.owner.as_deref())
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
        // Inserts, or takes over an expired row; a live row stays as it is.
        let sql = self.sql(
            "INSERT INTO {t} (key, data, expires_at, owner) VALUES ($1, $2::jsonb, $3, $4)
             ON CONFLICT (key) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at, owner = excluded.owner
             WHERE {t}.expires_at IS NOT NULL AND {t}.expires_at <= $5",
        );
        let done = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(key)
            .bind(record.data.to_string())
            .bind(record.expires_at.map(to_millis))
            .bind(record.owner.as_deref())
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
        let sql = self.sql(
            "UPDATE {t} SET data = $1::jsonb, expires_at = $2, owner = $3 WHERE key = $4 AND (expires_at IS NULL OR expires_at > $5)",
        );
        let done = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(record.data.to_string())
            .bind(record.expires_at.map(to_millis))
            .bind(record.owner.as_deref())
            .bind(key)
            .bind(self.now_ms())
            .execute(&self.pool)
            .await
            .map_err(|e| map_sqlx(e).into_core("update the record"))?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete(&self, key: &str) -> session_core::Result<bool> {
        let sql = self.sql("DELETE FROM {t} WHERE key = $1 RETURNING expires_at");
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
        let sql = self.sql("SELECT key, data::text AS data, expires_at, owner FROM {t} WHERE owner = $1 AND (expires_at IS NULL OR expires_at > $2)");
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
        let sql = self.sql("DELETE FROM {t} WHERE owner = $1 RETURNING expires_at");
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
            "SELECT owner, COUNT(*) AS n FROM {t} WHERE owner IS NOT NULL AND (expires_at IS NULL OR expires_at > $1) GROUP BY owner",
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

    async fn delete_expired(&self, now: OffsetDateTime) -> session_core::Result<u64> {
        let sql = self.sql("DELETE FROM {t} WHERE expires_at IS NOT NULL AND expires_at <= $1");
        let done = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(to_millis(now))
            .execute(&self.pool)
            .await
            .map_err(|e| map_sqlx(e).into_core("delete expired records"))?;
        Ok(done.rows_affected())
    }

    async fn count(&self) -> session_core::Result<u64> {
        let sql = self.sql("SELECT COUNT(*) FROM {t} WHERE expires_at IS NULL OR expires_at > $1");
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(self.now_ms())
            .fetch_one(&self.pool)
            .await
            .map_err(|e| map_sqlx(e).into_core("count the records"))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}
