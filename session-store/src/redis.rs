//! [`RedisStore`]: sessions in Redis through redis-rs's `ConnectionManager`
//! (feature `redis`).
//!
//! Layout under a key prefix (default `session-kit:`):
//!
//! - `<prefix>r:<key>`: a hash with `data` (JSON), `exp` (milliseconds since
//!   the epoch, or empty) and `owner`; it carries a Redis expiry (`PEXPIREAT`)
//!   so the server drops it on its own;
//! - `<prefix>o:<owner>`: the owner's index, a sorted set of keys scored by expiry;
//! - `<prefix>all`: every key scored by expiry, for counting and sweeping.
//!
//! Every write of a record and its indexes is one Lua script, so it is atomic,
//! and "update only if it still exists" is a real conditional write. The
//! scripts touch keys they compute, so the store is for standalone Redis (or
//! a cluster with one hash slot per prefix), not a sharded key space.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisError, Script};
use session_core::time::OffsetDateTime;
use session_core::{SessionStore, SharedClock, StoreRecord};

use crate::error::{Error, Result};
use crate::record::{from_millis, to_millis};

const SAVE: &str = r"
local rec, all, prefix = KEYS[1], KEYS[2], ARGV[6]
local key, data, exp, owner, now, mode = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[7]
local live = false
if redis.call('EXISTS', rec) == 1 then
  local old_exp = redis.call('HGET', rec, 'exp')
  live = (not old_exp) or old_exp == '' or tonumber(old_exp) > tonumber(now)
end
if mode == 'live' and not live then return 0 end
if mode == 'absent' and live then return 0 end
local old_owner = redis.call('HGET', rec, 'owner')
if old_owner and old_owner ~= '' and old_owner ~= owner then
  redis.call('ZREM', prefix .. 'o:' .. old_owner, key)
end
redis.call('DEL', rec)
redis.call('HSET', rec, 'data', data, 'exp', exp, 'owner', owner)
local score = '+inf'
if exp ~= '' then
  score = exp
  redis.call('PEXPIREAT', rec, exp)
end
redis.call('ZADD', all, score, key)
if owner ~= '' then redis.call('ZADD', prefix .. 'o:' .. owner, score, key) end
return 1
";

const DELETE: &str = r"
local rec, all, prefix = KEYS[1], KEYS[2], ARGV[3]
local key, now = ARGV[1], ARGV[2]
redis.call('ZREM', all, key)
if redis.call('EXISTS', rec) == 0 then return 0 end
local fields = redis.call('HMGET', rec, 'exp', 'owner')
redis.call('DEL', rec)
if fields[2] and fields[2] ~= '' then redis.call('ZREM', prefix .. 'o:' .. fields[2], key) end
if fields[1] and fields[1] ~= '' and tonumber(fields[1]) <= tonumber(now) then return 0 end
return 1
";

const LIST_BY_OWNER: &str = r"
local index, prefix, owner, now = KEYS[1], ARGV[1], ARGV[2], ARGV[3]
local keys = redis.call('ZRANGEBYSCORE', index, '(' .. now, '+inf')
local out = {}
for _, key in ipairs(keys) do
  local f = redis.call('HMGET', prefix .. 'r:' .. key, 'data', 'exp', 'owner')
  if f[1] and f[3] == owner and (f[2] == '' or tonumber(f[2]) > tonumber(now)) then
    table.insert(out, key); table.insert(out, f[1]); table.insert(out, f[2])
  end
end
return out
";

const DELETE_BY_OWNER: &str = r"
local index, all, prefix, owner, now = KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3]
local keys = redis.call('ZRANGE', index, 0, -1)
local live = 0
for _, key in ipairs(keys) do
  local rec = prefix .. 'r:' .. key
  local f = redis.call('HMGET', rec, 'exp', 'owner')
  if f[2] == owner then
    if f[1] == '' or tonumber(f[1]) > tonumber(now) then live = live + 1 end
    redis.call('DEL', rec)
    redis.call('ZREM', all, key)
  end
end
redis.call('DEL', index)
return live
";

const DELETE_EXPIRED: &str = r"
local all, prefix, now = KEYS[1], ARGV[1], ARGV[2]
local keys = redis.call('ZRANGEBYSCORE', all, '-inf', now)
for _, key in ipairs(keys) do
  local rec = prefix .. 'r:' .. key
  local owner = redis.call('HGET', rec, 'owner')
  redis.call('DEL', rec)
  redis.call('ZREM', all, key)
  if owner and owner ~= '' then redis.call('ZREM', prefix .. 'o:' .. owner, key) end
end
return #keys
";

/// Sessions in Redis.
///
/// # Examples
///
/// ```no_run
/// use serde_json::json;
/// use session_core::{SessionStore, StoreRecord};
/// use session_store::RedisStore;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let store = RedisStore::connect("redis://127.0.0.1:6379/").await?.with_prefix("myapp:sessions:");
/// store.save("s1", &StoreRecord::new(json!({"user": "ada"})).with_owner("ada")).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    prefix: String,
    clock: SharedClock,
}

fn map_redis(error: RedisError) -> Error {
    if error.is_io_error()
        || error.is_connection_refusal()
        || error.is_timeout()
        || error.is_connection_dropped()
    {
        Error::Unavailable(Box::new(error))
    } else {
        Error::Backend(Box::new(error))
    }
}

impl RedisStore {
    /// Connects to `url` (e.g. `redis://127.0.0.1:6379/`).
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`] (retryable) when Redis can't be reached
    /// within a few seconds; [`Error::InvalidSetting`] for a bad URL.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), session_store::Error> {
    /// let store = session_store::RedisStore::connect("redis://127.0.0.1:6379/").await?;
    /// # let _ = store; Ok(()) }
    /// ```
    pub async fn connect(url: &str) -> Result<Self> {
        let client = redis::Client::open(url)
            .map_err(|_| Error::InvalidSetting("the Redis URL is not valid"))?;
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(1)
            .set_connection_timeout(Some(Duration::from_secs(3)))
            .set_response_timeout(Some(Duration::from_secs(5)));
        let conn = client
            .get_connection_manager_with_config(config)
            .await
            .map_err(map_redis)?;
        Ok(Self {
            conn,
            prefix: "session-kit:".to_owned(),
            clock: SharedClock::default(),
        })
    }

    /// Keeps this store's keys under `prefix` (default `session-kit:`).
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), session_store::Error> {
    /// let store = session_store::RedisStore::connect("redis://127.0.0.1/").await?.with_prefix("app:");
    /// assert_eq!(store.prefix(), "app:");
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Decides expiry with `clock` instead of the system clock.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), session_store::Error> {
    /// let store = session_store::RedisStore::connect("redis://127.0.0.1/").await?
    ///     .with_clock(session_core::SharedClock::default());
    /// # let _ = store; Ok(()) }
    /// ```
    #[must_use]
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// The key prefix.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), session_store::Error> {
    /// let store = session_store::RedisStore::connect("redis://127.0.0.1/").await?;
    /// assert_eq!(store.prefix(), "session-kit:");
    /// # Ok(()) }
    /// ```
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A connection, e.g. for a lock key or cleanup in tests.
    ///
    /// ```no_run
    /// # async fn run(store: session_store::RedisStore) {
    /// let _conn: redis::aio::ConnectionManager = store.connection();
    /// # }
    /// ```
    pub fn connection(&self) -> ConnectionManager {
        self.conn.clone()
    }

    fn rec(&self, key: &str) -> String {
        format!("{}r:{key}", self.prefix)
    }

    fn all(&self) -> String {
        format!("{}all", self.prefix)
    }

    fn now_ms(&self) -> i64 {
        to_millis(self.clock.now())
    }

    async fn write(
        &self,
        key: &str,
        record: &StoreRecord,
        mode: &str,
        op: &'static str,
    ) -> session_core::Result<bool> {
        let exp = record
            .expires_at
            .map(|t| to_millis(t).to_string())
            .unwrap_or_default();
        let done: i64 = Script::new(SAVE)
            .key(self.rec(key))
            .key(self.all())
            .arg(key)
            .arg(record.data.to_string())
            .arg(exp)
            .arg(record.owner.as_deref().unwrap_or(""))
            .arg(self.now_ms())
            .arg(&self.prefix)
            .arg(mode)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(|e| map_redis(e).into_core(op))?;
        Ok(done == 1)
    }
}

fn parse_record(
    data: &str,
    exp: &str,
    owner: Option<String>,
) -> std::result::Result<StoreRecord, Error> {
    let mut record =
        StoreRecord::new(serde_json::from_str(data).map_err(|_| Error::MalformedRecord)?);
    record.expires_at = if exp.is_empty() {
        None
    } else {
        Some(
            exp.parse::<i64>()
                .ok()
                .and_then(from_millis)
                .ok_or(Error::MalformedRecord)?,
        )
    };
    record.owner = owner.filter(|o| !o.is_empty());
    Ok(record)
}

#[async_trait]
impl SessionStore for RedisStore {
    async fn load(&self, key: &str) -> session_core::Result<Option<StoreRecord>> {
        let op = "load the record";
        let fields: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(self.rec(key))
            .arg("data")
            .arg("exp")
            .arg("owner")
            .query_async(&mut self.conn.clone())
            .await
            .map_err(|e| map_redis(e).into_core(op))?;
        let (Some(Some(data)), Some(exp), owner) = (fields.first(), fields.get(1), fields.get(2))
        else {
            return Ok(None);
        };
        let exp = exp.clone().unwrap_or_default();
        let record =
            parse_record(data, &exp, owner.cloned().flatten()).map_err(|e| e.into_core(op))?;
        Ok((!record.is_expired(self.clock.now())).then_some(record))
    }

    async fn save(&self, key: &str, record: &StoreRecord) -> session_core::Result<()> {
        self.write(key, record, "always", "save the record")
            .await
            .map(|_| ())
    }

    async fn insert_if_absent(
        &self,
        key: &str,
        record: &StoreRecord,
    ) -> session_core::Result<bool> {
        self.write(key, record, "absent", "insert the record").await
    }

    async fn update_if_exists(
        &self,
        key: &str,
        record: &StoreRecord,
    ) -> session_core::Result<bool> {
        self.write(key, record, "live", "update the record").await
    }

    async fn delete(&self, key: &str) -> session_core::Result<bool> {
        let live: i64 = Script::new(DELETE)
            .key(self.rec(key))
            .key(self.all())
            .arg(key)
            .arg(self.now_ms())
            .arg(&self.prefix)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(|e| map_redis(e).into_core("delete the record"))?;
        Ok(live == 1)
    }

    async fn list_by_owner(&self, owner: &str) -> session_core::Result<Vec<(String, StoreRecord)>> {
        let op = "list the owner's records";
        let flat: Vec<String> = Script::new(LIST_BY_OWNER)
            .key(format!("{}o:{owner}", self.prefix))
            .arg(&self.prefix)
            .arg(owner)
            .arg(self.now_ms())
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(|e| map_redis(e).into_core(op))?;
        flat.chunks_exact(3)
            .map(|c| {
                Ok((
                    c[0].clone(),
                    parse_record(&c[1], &c[2], Some(owner.to_owned()))?,
                ))
            })
            .collect::<std::result::Result<_, Error>>()
            .map_err(|e| e.into_core(op))
    }

    async fn delete_by_owner(&self, owner: &str) -> session_core::Result<u64> {
        let live: i64 = Script::new(DELETE_BY_OWNER)
            .key(format!("{}o:{owner}", self.prefix))
            .key(self.all())
            .arg(&self.prefix)
            .arg(owner)
            .arg(self.now_ms())
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(|e| map_redis(e).into_core("delete the owner's records"))?;
        Ok(u64::try_from(live).unwrap_or(0))
    }

    async fn owner_counts(&self) -> session_core::Result<Vec<(String, u64)>> {
        let op = "count records by owner";
        let pattern = format!("{}o:*", self.prefix);
        let mut conn = self.conn.clone();
        let mut cursor: u64 = 0;
        let mut counts = Vec::new();
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(200)
                .query_async(&mut conn)
                .await
                .map_err(|e| map_redis(e).into_core(op))?;
            for key in keys {
                let owner = key[self.prefix.len() + 2..].to_owned();
                let live = self.list_by_owner(&owner).await?.len() as u64;
                if live > 0 {
                    counts.push((owner, live));
                }
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
        Ok(counts)
    }

    async fn delete_expired(&self, now: OffsetDateTime) -> session_core::Result<u64> {
        let removed: i64 = Script::new(DELETE_EXPIRED)
            .key(self.all())
            .arg(&self.prefix)
            .arg(to_millis(now))
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(|e| map_redis(e).into_core("delete expired records"))?;
        Ok(u64::try_from(removed).unwrap_or(0))
    }

    async fn count(&self) -> session_core::Result<u64> {
        let n: i64 = redis::cmd("ZCOUNT")
            .arg(self.all())
            .arg(format!("({}", self.now_ms()))
            .arg("+inf")
            .query_async(&mut self.conn.clone())
            .await
            .map_err(|e| map_redis(e).into_core("count the records"))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}
