//! [`SessionConfig`]: every server session setting, its default, and the
//! `SESSION_*` environment variable that sets it.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Error, Result};

/// Server session settings.
///
/// | Setting | Variable | Default |
/// |---|---|---|
/// | `db_path` | `SESSION_DB_PATH` | `data/sessions.db` |
/// | `default_timeout` | `SESSION_DEFAULT_TIMEOUT` | 3600 s |
/// | `max_timeout` | `SESSION_MAX_TIMEOUT` | 86400 s |
/// | `min_timeout` | `SESSION_MIN_TIMEOUT` | 300 s |
/// | `absolute_timeout` | `SESSION_ABSOLUTE_TIMEOUT` | 604800 s (7 days), whatever the activity |
/// | `cleanup_interval` | `SESSION_CLEANUP_INTERVAL` | 300 s |
/// | `max_per_user` | `SESSION_MAX_PER_USER` | 10 |
/// | `require_https` | `SESSION_REQUIRE_HTTPS` | false |
/// | `trust_proxy` | `SESSION_TRUST_PROXY` | false (honour `X-Forwarded-Proto`) |
/// | `secure_cookies` | `SESSION_SECURE_COOKIES` | false |
/// | `cookie_name` | `SESSION_COOKIE` | none (header only) |
/// | `header` | `SESSION_HEADER` | `X-Session-ID` |
/// | `auto_update` | `SESSION_AUTO_UPDATE` | true |
/// | `activity_throttle` | `SESSION_ACTIVITY_THROTTLE` | 60 s between activity writes |
/// | `protected_paths` | `SESSION_PROTECTED_PATHS` | `/api/chat,/developer,/tasks` |
/// | `excluded_paths` | `SESSION_EXCLUDED_PATHS` | `/docs,/health,/sessions/create` |
/// | `log_level` | `SESSION_LOG_LEVEL` | `INFO` |
/// | `log_requests` | `SESSION_LOG_REQUESTS` | true |
/// | `admin_token` | `SESSION_ADMIN_TOKEN` | none |
/// | `cache_ttl` | `SESSION_CACHE_TTL` | 1 s (0: off); see below |
///
/// Sessions read from the store are reused by the same process for up to
/// `cache_ttl`, so most requests through the layer don't wait on the store.
/// Whatever this process changes applies at once; a revocation made by
/// another process sharing the store (a second server, the `session-kit`
/// CLI) applies within `cache_ttl`. Set it to 0 if it must apply at once.
///
/// # Examples
///
/// ```
/// let config = session_server::SessionConfig::from_vars([("SESSION_MAX_PER_USER", "3")])?;
/// assert_eq!(config.max_per_user, 3);
/// assert_eq!(config.header, "X-Session-ID");
///
/// let err = session_server::SessionConfig::from_vars([("SESSION_DEFAULT_TIMEOUT", "soon")]).unwrap_err();
/// assert_eq!(err.to_string(), "invalid value \"soon\" for SESSION_DEFAULT_TIMEOUT: expected a whole number of seconds");
/// # Ok::<(), session_server::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionConfig {
    /// Where the SQLite database lives.
    pub db_path: PathBuf,
    /// Idle timeout when none is asked for.
    pub default_timeout: Duration,
    /// Longest idle timeout (and extension) allowed.
    pub max_timeout: Duration,
    /// Shortest idle timeout allowed.
    pub min_timeout: Duration,
    /// Hard limit on a session's life from creation.
    pub absolute_timeout: Duration,
    /// How often expired sessions are swept.
    pub cleanup_interval: Duration,
    /// Most live sessions per user; creating another evicts the oldest.
    pub max_per_user: usize,
    /// Refuse plain http.
    pub require_https: bool,
    /// Believe `X-Forwarded-Proto` (only behind your own proxy).
    pub trust_proxy: bool,
    /// Mark the session cookie `Secure` (and name it `__Host-…`).
    pub secure_cookies: bool,
    /// Also read (and set) the session id in this cookie.
    pub cookie_name: Option<String>,
    /// The request header carrying the session id.
    pub header: String,
    /// Record activity on each request through the layer.
    pub auto_update: bool,
    /// At most one activity write per session per this interval.
    pub activity_throttle: Duration,
    /// Path prefixes that require a session.
    pub protected_paths: Vec<String>,
    /// Path prefixes the layer ignores.
    pub excluded_paths: Vec<String>,
    /// Log level name for the application's subscriber.
    pub log_level: String,
    /// Log each request through the layer.
    pub log_requests: bool,
    /// A bearer token that may create sessions for anyone and use the admin endpoints.
    pub admin_token: Option<String>,
    /// How long a session read from the store may be reused by this process
    /// (`SESSION_CACHE_TTL`, seconds; 0 turns the cache off). Changes made
    /// through this process apply at once; changes made by *other*
    /// processes sharing the store (another server, the CLI) are seen within
    /// this time. Set 0 when those must apply at once.
    pub cache_ttl: Duration,
}

impl std::fmt::Debug for SessionConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionConfig")
            .field("db_path", &self.db_path)
            .field("default_timeout", &self.default_timeout)
            .field("max_per_user", &self.max_per_user)
            .field("header", &self.header)
            .field("cache_ttl", &self.cache_ttl)
            .field(
                "admin_token",
                &self.admin_token.as_ref().map(|_| "[redacted]"),
            )
            .finish_non_exhaustive()
    }
}

impl Default for SessionConfig {
    fn default() -> Self {
        let paths = |s: &str| s.split(',').map(str::to_owned).collect();
        Self {
            db_path: PathBuf::from("data/sessions.db"),
            default_timeout: Duration::from_secs(3600),
            max_timeout: Duration::from_secs(86_400),
            min_timeout: Duration::from_secs(300),
            absolute_timeout: Duration::from_secs(7 * 86_400),
            cleanup_interval: Duration::from_secs(300),
            max_per_user: 10,
            require_https: false,
            trust_proxy: false,
            secure_cookies: false,
            cookie_name: None,
            header: "X-Session-ID".to_owned(),
            auto_update: true,
            activity_throttle: Duration::from_secs(60),
            protected_paths: paths("/api/chat,/developer,/tasks"),
            excluded_paths: paths("/docs,/health,/sessions/create"),
            log_level: "INFO".to_owned(),
            log_requests: true,
            admin_token: None,
            cache_ttl: Duration::from_secs(1),
        }
    }
}

fn secs(variable: &'static str, value: &str) -> Result<Duration> {
    value
        .trim()
        .parse::<u64>()
        .map(Duration::from_secs)
        .map_err(|_| Error::Config {
            variable,
            value: value.to_owned(),
            expected: "a whole number of seconds",
        })
}

fn flag(variable: &'static str, value: &str) -> Result<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(Error::Config {
            variable,
            value: value.to_owned(),
            expected: "true or false",
        }),
    }
}

fn path_list(variable: &'static str, value: &str) -> Result<Vec<String>> {
    let list: Vec<String> = value
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    if list.iter().any(|p| !p.starts_with('/')) {
        return Err(Error::Config {
            variable,
            value: value.to_owned(),
            expected: "comma-separated paths starting with /",
        });
    }
    Ok(list)
}

impl SessionConfig {
    /// Reads the `SESSION_*` environment variables over the defaults.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming the first invalid variable and what it expects.
    ///
    /// ```
    /// let config = session_server::SessionConfig::from_env()?;
    /// # let _ = config;
    /// # Ok::<(), session_server::Error>(())
    /// ```
    pub fn from_env() -> Result<Self> {
        Self::from_vars(std::env::vars().filter(|(k, _)| k.starts_with("SESSION_")))
    }

    /// Reads settings from `(name, value)` pairs over the defaults; unknown
    /// names are ignored.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming the first invalid variable and what it expects.
    ///
    /// ```
    /// let c = session_server::SessionConfig::from_vars([("SESSION_REQUIRE_HTTPS", "true")])?;
    /// assert!(c.require_https);
    /// # Ok::<(), session_server::Error>(())
    /// ```
    pub fn from_vars<I, K, V>(vars: I) -> Result<Self>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut c = Self::default();
        for (name, value) in vars {
            let value = value.as_ref();
            match name.as_ref() {
                "SESSION_DB_PATH" => c.db_path = PathBuf::from(value),
                "SESSION_DEFAULT_TIMEOUT" => {
                    c.default_timeout = secs("SESSION_DEFAULT_TIMEOUT", value)?
                }
                "SESSION_MAX_TIMEOUT" => c.max_timeout = secs("SESSION_MAX_TIMEOUT", value)?,
                "SESSION_MIN_TIMEOUT" => c.min_timeout = secs("SESSION_MIN_TIMEOUT", value)?,
                "SESSION_ABSOLUTE_TIMEOUT" => {
                    c.absolute_timeout = secs("SESSION_ABSOLUTE_TIMEOUT", value)?
                }
                "SESSION_CLEANUP_INTERVAL" => {
                    c.cleanup_interval = secs("SESSION_CLEANUP_INTERVAL", value)?
                }
                "SESSION_ACTIVITY_THROTTLE" => {
                    c.activity_throttle = secs("SESSION_ACTIVITY_THROTTLE", value)?
                }
                "SESSION_MAX_PER_USER" => {
                    c.max_per_user =
                        value
                            .trim()
                            .parse()
                            .ok()
                            .filter(|n| *n > 0)
                            .ok_or(Error::Config {
                                variable: "SESSION_MAX_PER_USER",
                                value: value.to_owned(),
                                expected: "a positive whole number",
                            })?;
                }
                "SESSION_REQUIRE_HTTPS" => c.require_https = flag("SESSION_REQUIRE_HTTPS", value)?,
                "SESSION_TRUST_PROXY" => c.trust_proxy = flag("SESSION_TRUST_PROXY", value)?,
                "SESSION_SECURE_COOKIES" => {
                    c.secure_cookies = flag("SESSION_SECURE_COOKIES", value)?
                }
                "SESSION_AUTO_UPDATE" => c.auto_update = flag("SESSION_AUTO_UPDATE", value)?,
                "SESSION_LOG_REQUESTS" => c.log_requests = flag("SESSION_LOG_REQUESTS", value)?,
                "SESSION_COOKIE" => {
                    c.cookie_name = Some(value.to_owned()).filter(|v| !v.is_empty())
                }
                "SESSION_HEADER" => {
                    if http::HeaderName::from_bytes(value.as_bytes()).is_err() {
                        return Err(Error::Config {
                            variable: "SESSION_HEADER",
                            value: value.to_owned(),
                            expected: "a valid HTTP header name",
                        });
                    }
                    c.header = value.to_owned();
                }
                "SESSION_PROTECTED_PATHS" => {
                    c.protected_paths = path_list("SESSION_PROTECTED_PATHS", value)?
                }
                "SESSION_EXCLUDED_PATHS" => {
                    c.excluded_paths = path_list("SESSION_EXCLUDED_PATHS", value)?
                }
                "SESSION_LOG_LEVEL" => {
                    let level = value.trim().to_ascii_uppercase();
                    if !["TRACE", "DEBUG", "INFO", "WARN", "WARNING", "ERROR"]
                        .contains(&level.as_str())
                    {
                        return Err(Error::Config {
                            variable: "SESSION_LOG_LEVEL",
                            value: value.to_owned(),
                            expected: "one of TRACE, DEBUG, INFO, WARN, ERROR",
                        });
                    }
                    c.log_level = level;
                }
                "SESSION_CACHE_TTL" => c.cache_ttl = secs("SESSION_CACHE_TTL", value)?,
                "SESSION_ADMIN_TOKEN" => {
                    c.admin_token = Some(value.to_owned()).filter(|v| !v.is_empty())
                }
                _ => {}
            }
        }
        c.validate()?;
        Ok(c)
    }

    /// Checks that the timeouts are consistent (`min ≤ default ≤ max`, all
    /// above zero) and the path lists are paths.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming the setting.
    ///
    /// ```
    /// assert!(session_server::SessionConfig::default().validate().is_ok());
    /// ```
    pub fn validate(&self) -> Result<()> {
        let s = |d: Duration| d.as_secs().to_string();
        if self.min_timeout.is_zero() {
            return Err(Error::Config {
                variable: "SESSION_MIN_TIMEOUT",
                value: s(self.min_timeout),
                expected: "more than 0 seconds",
            });
        }
        if self.max_timeout < self.min_timeout {
            return Err(Error::Config {
                variable: "SESSION_MAX_TIMEOUT",
                value: s(self.max_timeout),
                expected: "at least SESSION_MIN_TIMEOUT",
            });
        }
        if self.default_timeout < self.min_timeout || self.default_timeout > self.max_timeout {
            return Err(Error::Config {
                variable: "SESSION_DEFAULT_TIMEOUT",
                value: s(self.default_timeout),
                expected: "between SESSION_MIN_TIMEOUT and SESSION_MAX_TIMEOUT",
            });
        }
        if self.absolute_timeout < self.min_timeout {
            return Err(Error::Config {
                variable: "SESSION_ABSOLUTE_TIMEOUT",
                value: s(self.absolute_timeout),
                expected: "at least SESSION_MIN_TIMEOUT",
            });
        }
        if self.cleanup_interval.is_zero() {
            return Err(Error::Config {
                variable: "SESSION_CLEANUP_INTERVAL",
                value: "0".into(),
                expected: "more than 0 seconds",
            });
        }
        if self.max_per_user == 0 {
            return Err(Error::Config {
                variable: "SESSION_MAX_PER_USER",
                value: "0".into(),
                expected: "a positive whole number",
            });
        }
        Ok(())
    }

    /// Whether `path` needs a session (protected and not excluded).
    ///
    /// ```
    /// let c = session_server::SessionConfig::default();
    /// assert!(c.is_protected("/api/chat/42"));
    /// assert!(!c.is_protected("/health"));
    /// ```
    pub fn is_protected(&self, path: &str) -> bool {
        !self.is_excluded(path) && self.protected_paths.iter().any(|p| prefix_match(path, p))
    }

    /// Whether the layer ignores `path`.
    ///
    /// ```
    /// assert!(session_server::SessionConfig::default().is_excluded("/docs/index.html"));
    /// ```
    pub fn is_excluded(&self, path: &str) -> bool {
        self.excluded_paths.iter().any(|p| prefix_match(path, p))
    }
}

/// `/api` matches `/api` and `/api/x`, not `/apiary`.
fn prefix_match(path: &str, prefix: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    prefix.is_empty()
        || path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_seed() {
        let c = SessionConfig::from_vars(Vec::<(String, String)>::new()).unwrap();
        assert_eq!(c.db_path, PathBuf::from("data/sessions.db"));
        assert_eq!(c.default_timeout.as_secs(), 3600);
        assert_eq!(c.max_timeout.as_secs(), 86_400);
        assert_eq!(c.min_timeout.as_secs(), 300);
        assert_eq!(c.cleanup_interval.as_secs(), 300);
        assert_eq!(c.max_per_user, 10);
        assert!(!c.require_https && !c.secure_cookies && c.auto_update && c.log_requests);
        assert_eq!(c.header, "X-Session-ID");
        assert_eq!(c.protected_paths, ["/api/chat", "/developer", "/tasks"]);
        assert_eq!(c.excluded_paths, ["/docs", "/health", "/sessions/create"]);
        assert_eq!(c.log_level, "INFO");
    }

    #[test]
    fn every_variable_is_read() {
        let c = SessionConfig::from_vars([
            ("SESSION_DB_PATH", "/tmp/s.db"),
            ("SESSION_DEFAULT_TIMEOUT", "600"),
            ("SESSION_MAX_TIMEOUT", "7200"),
            ("SESSION_MIN_TIMEOUT", "60"),
            ("SESSION_CLEANUP_INTERVAL", "30"),
            ("SESSION_MAX_PER_USER", "2"),
            ("SESSION_REQUIRE_HTTPS", "true"),
            ("SESSION_SECURE_COOKIES", "yes"),
            ("SESSION_HEADER", "X-Sid"),
            ("SESSION_AUTO_UPDATE", "false"),
            ("SESSION_PROTECTED_PATHS", "/api, /admin"),
            ("SESSION_EXCLUDED_PATHS", "/health"),
            ("SESSION_LOG_LEVEL", "debug"),
            ("SESSION_LOG_REQUESTS", "0"),
            ("SESSION_ADMIN_TOKEN", "adm"),
        ])
        .unwrap();
        assert_eq!(c.db_path, PathBuf::from("/tmp/s.db"));
        assert_eq!(
            (
                c.default_timeout.as_secs(),
                c.max_timeout.as_secs(),
                c.min_timeout.as_secs()
            ),
            (600, 7200, 60)
        );
        assert_eq!((c.cleanup_interval.as_secs(), c.max_per_user), (30, 2));
        assert!(c.require_https && c.secure_cookies && !c.auto_update && !c.log_requests);
        assert_eq!(c.header, "X-Sid");
        assert_eq!(c.protected_paths, ["/api", "/admin"]);
        assert_eq!(c.log_level, "DEBUG");
        assert_eq!(c.admin_token.as_deref(), Some("adm"));
        assert!(!format!("{c:?}").contains("adm\""));
    }

    #[test]
    fn invalid_values_name_the_variable_and_what_is_expected() {
        let cases = [
            ("SESSION_DEFAULT_TIMEOUT", "-5", "a whole number of seconds"),
            ("SESSION_MAX_PER_USER", "0", "a positive whole number"),
            ("SESSION_REQUIRE_HTTPS", "maybe", "true or false"),
            ("SESSION_HEADER", "bad header", "a valid HTTP header name"),
            (
                "SESSION_PROTECTED_PATHS",
                "api",
                "comma-separated paths starting with /",
            ),
            (
                "SESSION_LOG_LEVEL",
                "LOUD",
                "one of TRACE, DEBUG, INFO, WARN, ERROR",
            ),
            (
                "SESSION_DEFAULT_TIMEOUT",
                "100",
                "between SESSION_MIN_TIMEOUT and SESSION_MAX_TIMEOUT",
            ),
        ];
        for (var, value, expected) in cases {
            match SessionConfig::from_vars([(var, value)]) {
                Err(Error::Config {
                    variable,
                    value: v,
                    expected: e,
                }) => {
                    assert_eq!((variable, e), (var, expected), "{var}={value}");
                    assert!(!v.is_empty());
                }
                other => panic!("{var}={value}: {other:?}"),
            }
        }
    }

    #[test]
    fn path_matching() {
        let c = SessionConfig::default();
        assert!(c.is_protected("/api/chat"));
        assert!(c.is_protected("/developer/tools"));
        assert!(!c.is_protected("/api/chatter"));
        assert!(!c.is_protected("/public/info"));
        assert!(c.is_excluded("/sessions/create"));
    }
}
