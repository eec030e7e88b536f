//! [`SessionConfig`]: every server session setting, its default, and the
//! `SESSION_*` environment variable that sets it.

use std::path::PathBuf;
use std::time::Duration;

pub use crate::config_builder::SessionConfigBuilder;
use crate::error::{Error, Result};

/// The session cookie's `SameSite` attribute.
///
/// ```
/// use session_server::SameSite;
/// assert_eq!(SameSite::default(), SameSite::Lax);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SameSite {
    /// Sent only with requests from this site.
    Strict,
    /// Also sent on top-level navigations from other sites.
    #[default]
    Lax,
    /// Sent with every request (needs `Secure`).
    None,
}

impl SameSite {
    fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "strict" => Some(Self::Strict),
            "lax" => Some(Self::Lax),
            "none" => Some(Self::None),
            _ => None,
        }
    }
}

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
/// | `secure_cookies` | `SESSION_SECURE_COOKIES` | false (`Secure`, and the `__Host-` or `__Secure-` name prefix) |
/// | `cookie_name` | `SESSION_COOKIE` | none (header only) |
/// | `cookie_path` | `SESSION_COOKIE_PATH` | `/` |
/// | `cookie_domain` | `SESSION_COOKIE_DOMAIN` | none (host only) |
/// | `same_site` | `SESSION_COOKIE_SAMESITE` | `Lax` |
/// | `csrf_allowed_origins` | `SESSION_CSRF_ALLOWED_ORIGINS` | none (same origin only) |
/// | `header` | `SESSION_HEADER` | `X-Session-ID` |
/// | `auto_update` | `SESSION_AUTO_UPDATE` | true |
/// | `activity_throttle` | `SESSION_ACTIVITY_THROTTLE` | 60 s between activity writes |
/// | `protected_paths` | `SESSION_PROTECTED_PATHS` | none: nothing is protected until you say so |
/// | `excluded_paths` | `SESSION_EXCLUDED_PATHS` | none |
/// | `log_level` | `SESSION_LOG_LEVEL` | `INFO` (for the application's subscriber; the `serve` command and the example apply it) |
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
    /// Mark the session cookie `Secure`, and prefix its name: `__Host-`
    /// when the cookie is for this host only at path `/`, `__Secure-`
    /// otherwise.
    pub secure_cookies: bool,
    /// Also read (and set) the session id in this cookie.
    pub cookie_name: Option<String>,
    /// The cookie's `Path`.
    pub cookie_path: String,
    /// The cookie's `Domain` (none: this host only).
    pub cookie_domain: Option<String>,
    /// The cookie's `SameSite`.
    pub same_site: SameSite,
    /// Other origins (`https://app.example.com`) whose pages may send
    /// unsafe requests (POST, PUT, PATCH, DELETE) carrying the session
    /// cookie. The request's own origin always may.
    pub csrf_allowed_origins: Vec<String>,
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
            .field("cookie_name", &self.cookie_name)
            .field("protected_paths", &self.protected_paths)
            .field("require_https", &self.require_https)
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
            cookie_path: "/".to_owned(),
            cookie_domain: None,
            same_site: SameSite::Lax,
            csrf_allowed_origins: Vec::new(),
            header: "X-Session-ID".to_owned(),
            auto_update: true,
            activity_throttle: Duration::from_secs(60),
            protected_paths: Vec::new(),
            excluded_paths: Vec::new(),
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
                "SESSION_HEADER" => c.header = value.to_owned(),
                "SESSION_COOKIE_PATH" => c.cookie_path = value.trim().to_owned(),
                "SESSION_COOKIE_DOMAIN" => {
                    c.cookie_domain = Some(value.trim().to_owned()).filter(|v| !v.is_empty())
                }
                "SESSION_COOKIE_SAMESITE" => {
                    c.same_site = SameSite::parse(value).ok_or(Error::Config {
                        variable: "SESSION_COOKIE_SAMESITE",
                        value: value.to_owned(),
                        expected: "Strict, Lax or None",
                    })?
                }
                "SESSION_CSRF_ALLOWED_ORIGINS" => {
                    c.csrf_allowed_origins = value
                        .split(',')
                        .map(str::trim)
                        .filter(|o| !o.is_empty())
                        .map(str::to_owned)
                        .collect()
                }
                "SESSION_PROTECTED_PATHS" => {
                    c.protected_paths = path_list("SESSION_PROTECTED_PATHS", value)?
                }
                "SESSION_EXCLUDED_PATHS" => {
                    c.excluded_paths = path_list("SESSION_EXCLUDED_PATHS", value)?
                }
                "SESSION_LOG_LEVEL" => c.log_level = value.trim().to_ascii_uppercase(),
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
    /// above zero), the path lists are paths, the header and cookie are
    /// well formed, and the CSRF origins are origins.
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
        if !["TRACE", "DEBUG", "INFO", "WARN", "WARNING", "ERROR"]
            .contains(&self.log_level.as_str())
        {
            return Err(Error::Config {
                variable: "SESSION_LOG_LEVEL",
                value: self.log_level.clone(),
                expected: "one of TRACE, DEBUG, INFO, WARN, ERROR",
            });
        }
        check_paths("SESSION_PROTECTED_PATHS", &self.protected_paths)?;
        check_paths("SESSION_EXCLUDED_PATHS", &self.excluded_paths)?;
        if http::HeaderName::from_bytes(self.header.as_bytes()).is_err() {
            return Err(Error::Config {
                variable: "SESSION_HEADER",
                value: self.header.clone(),
                expected: "a valid HTTP header name",
            });
        }
        if let Some(name) = &self.cookie_name
            && (name.is_empty() || !name.bytes().all(is_token_byte))
        {
            return Err(Error::Config {
                variable: "SESSION_COOKIE",
                value: name.clone(),
                expected: "a cookie name (letters, digits and !#$%&'*+-.^_`|~)",
            });
        }
        if !self.cookie_path.starts_with('/')
            || self
                .cookie_path
                .bytes()
                .any(|b| b == b';' || b.is_ascii_control())
        {
            return Err(Error::Config {
                variable: "SESSION_COOKIE_PATH",
                value: self.cookie_path.clone(),
                expected: "a path starting with /",
            });
        }
        if let Some(domain) = &self.cookie_domain
            && (domain.is_empty()
                || !domain
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-'))
        {
            return Err(Error::Config {
                variable: "SESSION_COOKIE_DOMAIN",
                value: domain.clone(),
                expected: "a domain name",
            });
        }
        if self.same_site == SameSite::None && !self.secure_cookies {
            return Err(Error::Config {
                variable: "SESSION_COOKIE_SAMESITE",
                value: "None".into(),
                expected: "Strict or Lax unless SESSION_SECURE_COOKIES is on (browsers drop SameSite=None cookies that aren't Secure)",
            });
        }
        if let Some(bad) = self
            .csrf_allowed_origins
            .iter()
            .find(|o| crate::csrf::Origin::parse(o).is_none())
        {
            return Err(Error::Config {
                variable: "SESSION_CSRF_ALLOWED_ORIGINS",
                value: bad.clone(),
                expected: "origins such as https://app.example.com, comma-separated",
            });
        }
        Ok(())
    }

    /// [`log_level`](Self::log_level) as a `tracing` level, for the
    /// application's subscriber (the library never installs one).
    ///
    /// ```
    /// let c = session_server::SessionConfig::from_vars([("SESSION_LOG_LEVEL", "warning")])?;
    /// assert_eq!(c.tracing_level(), tracing::Level::WARN);
    /// # Ok::<(), session_server::Error>(())
    /// ```
    pub fn tracing_level(&self) -> tracing::Level {
        match self.log_level.as_str() {
            "TRACE" => tracing::Level::TRACE,
            "DEBUG" => tracing::Level::DEBUG,
            "WARN" | "WARNING" => tracing::Level::WARN,
            "ERROR" => tracing::Level::ERROR,
            _ => tracing::Level::INFO,
        }
    }

    /// A builder starting from the defaults; [`build`](SessionConfigBuilder::build)
    /// validates.
    ///
    /// ```
    /// let config = session_server::SessionConfig::builder().require_https(true).build()?;
    /// assert!(config.require_https);
    /// # Ok::<(), session_server::Error>(())
    /// ```
    pub fn builder() -> SessionConfigBuilder {
        SessionConfigBuilder::new()
    }

    /// Whether `path` needs a session (protected and not excluded).
    ///
    /// ```
    /// let c = session_server::SessionConfig::builder().protected_paths(["/api"]).build()?;
    /// assert!(c.is_protected("/api/chat/42"));
    /// assert!(!c.is_protected("/health"));
    /// assert!(!session_server::SessionConfig::default().is_protected("/api"));
    /// # Ok::<(), session_server::Error>(())
    /// ```
    pub fn is_protected(&self, path: &str) -> bool {
        !self.is_excluded(path) && self.protected_paths.iter().any(|p| prefix_match(path, p))
    }

    /// Whether the layer ignores `path`.
    ///
    /// ```
    /// let c = session_server::SessionConfig::builder().excluded_paths(["/docs"]).build()?;
    /// assert!(c.is_excluded("/docs/index.html"));
    /// # Ok::<(), session_server::Error>(())
    /// ```
    pub fn is_excluded(&self, path: &str) -> bool {
        self.excluded_paths.iter().any(|p| prefix_match(path, p))
    }
}

fn check_paths(variable: &'static str, paths: &[String]) -> Result<()> {
    match paths.iter().find(|p| !p.starts_with('/')) {
        Some(bad) => Err(Error::Config {
            variable,
            value: bad.clone(),
            expected: "comma-separated paths starting with /",
        }),
        None => Ok(()),
    }
}

/// A byte allowed in an HTTP token (a cookie name).
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
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
        assert!(
            c.protected_paths.is_empty() && c.excluded_paths.is_empty(),
            "the library protects nothing until told"
        );
        assert_eq!((c.cookie_path.as_str(), c.same_site), ("/", SameSite::Lax));
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
    fn cookie_and_csrf_settings_are_validated() {
        let cases = [
            ("SESSION_COOKIE", "bad;name", "a cookie name"),
            ("SESSION_COOKIE_PATH", "app", "a path starting with /"),
            ("SESSION_COOKIE_DOMAIN", "ex ample.com", "a domain name"),
            (
                "SESSION_COOKIE_SAMESITE",
                "sometimes",
                "Strict, Lax or None",
            ),
            ("SESSION_COOKIE_SAMESITE", "none", "Strict or Lax unless"),
            (
                "SESSION_CSRF_ALLOWED_ORIGINS",
                "app.example.com",
                "origins such as",
            ),
        ];
        for (var, value, expected) in cases {
            match SessionConfig::from_vars([(var, value)]) {
                Err(Error::Config {
                    variable,
                    expected: e,
                    ..
                }) => {
                    assert_eq!(variable, var, "{var}={value}");
                    assert!(e.starts_with(expected), "{var}={value}: {e}");
                }
                other => panic!("{var}={value}: {other:?}"),
            }
        }
        let c = SessionConfig::from_vars([
            ("SESSION_COOKIE", "sid"),
            ("SESSION_SECURE_COOKIES", "true"),
            ("SESSION_COOKIE_SAMESITE", "None"),
            ("SESSION_COOKIE_DOMAIN", "example.com"),
            ("SESSION_COOKIE_PATH", "/app"),
            (
                "SESSION_CSRF_ALLOWED_ORIGINS",
                "https://a.example.com, http://localhost:3000",
            ),
        ])
        .unwrap();
        assert_eq!(c.same_site, SameSite::None);
        assert_eq!(c.cookie_domain.as_deref(), Some("example.com"));
        assert_eq!(c.csrf_allowed_origins.len(), 2);
    }

    #[test]
    fn path_matching() {
        let c = SessionConfig::builder()
            .protected_paths(["/api/chat", "/developer", "/tasks"])
            .excluded_paths(["/docs", "/health", "/sessions/create"])
            .build()
            .unwrap();
        assert!(c.is_protected("/api/chat"));
        assert!(c.is_protected("/developer/tools"));
        assert!(!c.is_protected("/api/chatter"));
        assert!(!c.is_protected("/public/info"));
        assert!(c.is_excluded("/sessions/create"));
    }
}
