//! [`RedisStore`]: sessions in Redis through redis-rs's `ConnectionManager`
//! (feature `redis`).
//!
//! Layout under a key prefix (default `session-kit:`), written as a Redis
//! Cluster hash tag so every key of one store lives in one hash slot:
//!
//! - `{<prefix>}r:<key>`: a hash with `data` (JSON), `exp` (milliseconds
//!   since the epoch, or empty) and `owner`; it carries a Redis expiry
//!   (`PEXPIREAT`) so the server drops it on its own;
//! - `{<prefix>}o:<owner>`: the owner's index, a sorted set of keys scored
//!   by expiry;
//! - `{<prefix>}all`: every key scored by expiry, for counting and sweeping.
//!
//! Every write of a record and its indexes is one Lua script, so it is
//! atomic, and "update only if it still exists" is a real conditional
//! write. Every key a script touches is passed in `KEYS` (none is built
//! inside Lua): where a script needs a key it can only learn from the data
//! (the owner's index of a record), the client reads it first and passes
//! it, and the script refuses (`-1`) if the data changed meanwhile, so the
//! client reads again. The store works on standalone Redis and on Redis
//! Cluster alike.

use std::fmt;
use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisError, Script};
use session_core::time::OffsetDateTime;
use session_core::{SessionStore, SharedClock, StoreRecord};

use crate::error::{Error, Result};
use crate::record::{from_millis, to_millis};

/// The scripts, hashed once (`EVALSHA`, loaded on first use).
static SAVE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(SAVE));
static DELETE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(DELETE));
static DELETE_BY_OWNER_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(DELETE_BY_OWNER));
static DELETE_EXPIRED_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(DELETE_EXPIRED));

/// How often a script refused because the owner it was told was stale is
/// tried again before giving up (each try reads the owner afresh).
const OWNER_RETRIES: usize = 5;

/// Records a sweep or a revocation handles per script call.
const BATCH: usize = 500;

/// KEYS: record, all, the new owner's index, the old owner's index.
/// ARGV: key, data, exp, owner, now, mode, the old owner as the client read it.
const SAVE: &str = r"
local rec, all, new_idx, old_idx = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local key, data, exp, owner, now, mode, told = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local old_owner, live = '', false
if redis.call('EXISTS', rec) == 1 then
  local f = redis.call('HMGET', rec, 'exp', 'owner')
  old_owner = f[2] or ''
  live = (not f[1]) or f[1] == '' or tonumber(f[1]) > tonumber(now)
end
if old_owner ~= told then return -1 end
if mode == 'live' and not live then return 0 end
if mode == 'absent' and live then return 0 end
if old_owner ~= '' and old_owner ~= owner then redis.call('ZREM', old_idx, key) end
redis.call('DEL', rec)
redis.call('HSET', rec, 'data', data, 'exp', exp, 'owner', owner)
local score = '+inf'
if exp ~= '' then
  score = exp
  redis.call('PEXPIREAT', rec, exp)
end
redis.call('ZADD', all, score, key)
if owner ~= '' then redis.call('ZADD', new_idx, score, key) end
return 1
";

/// KEYS: record, all, the owner's index. ARGV: key, now, the owner as read.
const DELETE: &str = r"
local rec, all, idx = KEYS[1], KEYS[2], KEYS[3]
local key, now, told = ARGV[1], ARGV[2], ARGV[3]
if redis.call('EXISTS', rec) == 0 then
  redis.call('ZREM', all, key)
  return 0
end
local f = redis.call('HMGET', rec, 'exp', 'owner')
local owner = f[2] or ''
if owner ~= told then return -1 end
redis.call('DEL', rec)
redis.call('ZREM', all, key)
if owner ~= '' then redis.call('ZREM', idx, key) end
if f[1] and f[1] ~= '' and tonumber(f[1]) <= tonumber(now) then return 0 end
return 1
";

/// KEYS: the owner's index, all, then each listed record.
/// ARGV: owner, now, then each listed record's key.
const DELETE_BY_OWNER: &str = r"
local idx, all = KEYS[1], KEYS[2]
local owner, now = ARGV[1], ARGV[2]
local live = 0
for i = 3, #KEYS do
  local key = ARGV[i]
  local f = redis.call('HMGET', KEYS[i], 'exp', 'owner')
  if f[2] == owner then
    if f[1] == '' or (f[1] and tonumber(f[1]) > tonumber(now)) then live = live + 1 end
    redis.call('DEL', KEYS[i])
    redis.call('ZREM', all, key)
  end
  redis.call('ZREM', idx, key)
end
return live
";

/// KEYS: all, then n records, then their owners' indexes (as read).
/// ARGV: now, n, then the n keys, then the n owners (as read).
const DELETE_EXPIRED: &str = r"
local all = KEYS[1]
local now, n = ARGV[1], tonumber(ARGV[2])
local removed = 0
for i = 1, n do
  local rec, idx, key, told = KEYS[1 + i], KEYS[1 + n + i], ARGV[2 + i], ARGV[2 + n + i]
  local score = redis.call('ZSCORE', all, key)
  if score and tonumber(score) <= tonumber(now) then
    local owner = redis.call('HGET', rec, 'owner') or ''
    if owner == told then
      redis.call('DEL', rec)
      redis.call('ZREM', all, key)
      if owner ~= '' then redis.call('ZREM', idx, key) end
      removed = removed + 1
    end
  end
end
return removed
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
    /// The prefix as a hash tag (`{prefix}`), or the prefix itself when
    /// it already holds one.
    keyspace: String,
    clock: SharedClock,
}

/// `prefix` as the start of every key: wrapped in braces, so Redis Cluster
/// hashes only it, unless it already names its own hash tag.
fn keyspace(prefix: &str) -> String {
    let has_tag = prefix
        .find('{')
        .is_some_and(|open| prefix[open + 1..].find('}').is_some_and(|len| len > 0));
    if has_tag {
        prefix.to_owned()
    } else {
        format!("{{{prefix}}}")
    }
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
        let prefix = "session-kit:".to_owned();
        Ok(Self {
            conn,
            keyspace: keyspace(&prefix),
            prefix,
            clock: SharedClock::default(),
        })
    }

    /// Keeps this store's keys under `prefix` (default `session-kit:`),
    /// written as a hash tag: `{app:}r:…`. A prefix holding its own hash tag
    /// (`app:{sessions}:`) is used as it is.
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
        self.keyspace = keyspace(&self.prefix);
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
        format!("{}r:{key}", self.keyspace)
    }

    fn index(&self, owner: &str) -> String {
        format!("{}o:{owner}", self.keyspace)
    }

    fn all(&self) -> String {
        format!("{}all", self.keyspace)
    }

    fn now_ms(&self) -> i64 {
        to_millis(self.clock.now())
    }

    /// The owner a stored record names now (`""` for none or no record).
    async fn owner_of(&self, key: &str, op: &'static str) -> session_core::Result<String> {
        let owner: Option<String> = redis::cmd("HGET")
            .arg(self.rec(key))
            .arg("owner")
            .query_async(&mut self.conn.clone())
            .await
            .map_err(|e| map_redis(e).into_core(op))?;
        Ok(owner.unwrap_or_default())
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
        let owner = record.owner.as_deref().unwrap_or("");
        let data = record.data.to_string();
        // Most writes keep the owner: guess that, and learn otherwise.
        let mut told = owner.to_owned();
        for _ in 0..OWNER_RETRIES {
            let done: i64 = SAVE_SCRIPT
                .key(self.rec(key))
                .key(self.all())
                .key(self.index(owner))
                .key(self.index(&told))
                .arg(key)
                .arg(&data)
                .arg(&exp)
                .arg(owner)
                .arg(self.now_ms())
                .arg(mode)
                .arg(&told)
                .invoke_async(&mut self.conn.clone())
                .await
                .map_err(|e| map_redis(e).into_core(op))?;
            if done >= 0 {
                return Ok(done == 1);
            }
            told = self.owner_of(key, op).await?;
        }
        Err(Error::Busy("the record kept changing during the write".into()).into_core(op))
    }
}

/// One record's `data`, `exp` and `owner` fields as Redis returned them.
/// The bytes are taken as they are (no text conversion first), so damage
/// of any kind — bad JSON, bytes that aren't UTF-8, a bad expiry — is
/// [`Error::MalformedRecord`].
type Fields = (Option<Vec<u8>>, Option<Vec<u8>>, Option<Vec<u8>>);

/// A record from its fields; `None` when it has no data (no record).
fn parse_record((data, exp, owner): Fields) -> std::result::Result<Option<StoreRecord>, Error> {
    let Some(data) = data else {
        return Ok(None);
    };
    let mut record =
        StoreRecord::new(serde_json::from_slice(&data).map_err(|_| Error::MalformedRecord)?);
    record.expires_at = match exp.as_deref() {
        None | Some(b"") => None,
        Some(exp) => Some(
            std::str::from_utf8(exp)
                .ok()
                .and_then(|exp| exp.parse::<i64>().ok())
                .and_then(from_millis)
                .ok_or(Error::MalformedRecord)?,
        ),
    };
    record.owner = match owner {
        None => None,
        Some(owner) => Some(String::from_utf8(owner).map_err(|_| Error::MalformedRecord)?),
    }
    .filter(|o| !o.is_empty());
    Ok(Some(record))
}

#[async_trait]
impl SessionStore for RedisStore {
    async fn load(&self, key: &str) -> session_core::Result<Option<StoreRecord>> {
        let op = "load the record";
        let fields: Fields = redis::cmd("HMGET")
            .arg(self.rec(key))
            .arg("data")
            .arg("exp")
            .arg("owner")
            .query_async(&mut self.conn.clone())
            .await
            .map_err(|e| map_redis(e).into_core(op))?;
        let record = parse_record(fields).map_err(|e| e.into_core(op))?;
        Ok(record.filter(|record| !record.is_expired(self.clock.now())))
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
        let op = "delete the record";
        for _ in 0..OWNER_RETRIES {
            let told = self.owner_of(key, op).await?;
            let live: i64 = DELETE_SCRIPT
                .key(self.rec(key))
                .key(self.all())
                .key(self.index(&told))
                .arg(key)
                .arg(self.now_ms())
                .arg(&told)
                .invoke_async(&mut self.conn.clone())
                .await
                .map_err(|e| map_redis(e).into_core(op))?;
            if live >= 0 {
                return Ok(live == 1);
            }
        }
        Err(Error::Busy("the record kept changing during the write".into()).into_core(op))
    }

    async fn list_by_owner(&self, owner: &str) -> session_core::Result<Vec<(String, StoreRecord)>> {
        let op = "list the owner's records";
        let index = self.index(owner);
        let now = self.now_ms();
        let mut conn = self.conn.clone();
        // Entries whose record expired (and Redis dropped) go first.
        let (_, keys): (i64, Vec<String>) = redis::pipe()
            .cmd("ZREMRANGEBYSCORE")
            .arg(&index)
            .arg("-inf")
            .arg(now)
            .cmd("ZRANGEBYSCORE")
            .arg(&index)
            .arg(format!("({now}"))
            .arg("+inf")
            .query_async(&mut conn)
            .await
            .map_err(|e| map_redis(e).into_core(op))?;
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for key in &keys {
            pipe.cmd("HMGET")
                .arg(self.rec(key))
                .arg("data")
                .arg("exp")
                .arg("owner");
        }
        let rows: Vec<Fields> = pipe
            .query_async(&mut conn)
            .await
            .map_err(|e| map_redis(e).into_core(op))?;
        let mut out = Vec::new();
        for (key, fields) in keys.into_iter().zip(rows) {
            // A stale index entry may point at another owner's record now:
            // not ours to read (or to find damaged).
            if fields.2.as_deref() != Some(owner.as_bytes()) {
                continue;
            }
            let Some(record) = parse_record(fields).map_err(|e| e.into_core(op))? else {
                continue;
            };
            if !record.is_expired(self.clock.now()) {
                out.push((key, record));
            }
        }
        Ok(out)
    }

    async fn delete_by_owner(&self, owner: &str) -> session_core::Result<u64> {
        let op = "delete the owner's records";
        let index = self.index(owner);
        let mut conn = self.conn.clone();
        let mut live = 0u64;
        // Rounds until the index is empty, so a record added meanwhile goes too.
        for _ in 0..100 {
            let keys: Vec<String> = redis::cmd("ZRANGE")
                .arg(&index)
                .arg(0)
                .arg(BATCH as i64 - 1)
                .query_async(&mut conn)
                .await
                .map_err(|e| map_redis(e).into_core(op))?;
            if keys.is_empty() {
                break;
            }
            let mut invocation = DELETE_BY_OWNER_SCRIPT.prepare_invoke();
            invocation
                .key(&index)
                .key(self.all())
                .arg(owner)
                .arg(self.now_ms());
            for key in &keys {
                invocation.key(self.rec(key)).arg(key);
            }
            let n: i64 = invocation
                .invoke_async(&mut conn)
                .await
                .map_err(|e| map_redis(e).into_core(op))?;
            live += u64::try_from(n).unwrap_or(0);
        }
        Ok(live)
    }

    async fn owner_counts(&self) -> session_core::Result<Vec<(String, u64)>> {
        let op = "count records by owner";
        let pattern = format!("{}o:*", self.keyspace);
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
                let owner = key[self.keyspace.len() + 2..].to_owned();
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
        let op = "delete expired records";
        let now = to_millis(now);
        let mut conn = self.conn.clone();
        let mut removed = 0u64;
        loop {
            let keys: Vec<String> = redis::cmd("ZRANGEBYSCORE")
                .arg(self.all())
                .arg("-inf")
                .arg(now)
                .arg("LIMIT")
                .arg(0)
                .arg(BATCH)
                .query_async(&mut conn)
                .await
                .map_err(|e| map_redis(e).into_core(op))?;
            if keys.is_empty() {
                break;
            }
            let mut pipe = redis::pipe();
            for key in &keys {
                pipe.cmd("HGET").arg(self.rec(key)).arg("owner");
            }
            let owners: Vec<Option<String>> = pipe
                .query_async(&mut conn)
                .await
                .map_err(|e| map_redis(e).into_core(op))?;
            let owners: Vec<String> = owners.into_iter().map(Option::unwrap_or_default).collect();
            let mut invocation = DELETE_EXPIRED_SCRIPT.prepare_invoke();
            invocation.key(self.all()).arg(now).arg(keys.len());
            for key in &keys {
                invocation.key(self.rec(key)).arg(key);
            }
            for owner in &owners {
                invocation.key(self.index(owner)).arg(owner);
            }
            let n: i64 = invocation
                .invoke_async(&mut conn)
                .await
                .map_err(|e| map_redis(e).into_core(op))?;
            if n <= 0 {
                // Everything left changed under us; the next sweep sees it.
                break;
            }
            removed += u64::try_from(n).unwrap_or(0);
        }
        Ok(removed)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_shares_one_hash_tag() {
        assert_eq!(keyspace("session-kit:"), "{session-kit:}");
        assert_eq!(keyspace("app:{sessions}:"), "app:{sessions}:");
        assert_eq!(keyspace("odd{}:"), "{odd{}:}", "an empty tag is no tag");
    }

    #[test]
    fn scripts_only_touch_the_keys_they_are_given() {
        // A key built inside Lua (`prefix .. 'r:' .. key`) is what Redis
        // Cluster can't route: no script concatenates strings at all, and
        // every redis.call names its key through KEYS or a local bound to it.
        for script in [SAVE, DELETE, DELETE_BY_OWNER, DELETE_EXPIRED] {
            assert!(!script.contains(".."), "{script}");
            assert!(!script.contains("prefix"), "{script}");
        }
    }
}
