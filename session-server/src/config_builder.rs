//! [`SessionConfigBuilder`]: a [`SessionConfig`] made in code, validated
//! once by [`build`](SessionConfigBuilder::build).

use std::path::PathBuf;
use std::time::Duration;

use crate::config::{SameSite, SessionConfig};
use crate::error::Result;

/// Builds a [`SessionConfig`] from the defaults; [`build`](Self::build)
/// checks it (the same checks as the environment gets).
///
/// ```
/// use std::time::Duration;
/// use session_server::{SameSite, SessionConfig};
///
/// let config = SessionConfig::builder()
///     .cookie_name("sid")
///     .secure_cookies(true)
///     .same_site(SameSite::Strict)
///     .default_timeout(Duration::from_secs(900))
///     .min_timeout(Duration::from_secs(60))
///     .build()?;
/// assert_eq!(config.cookie_name.as_deref(), Some("sid"));
///
/// // An inconsistent setting is refused at `build()`.
/// let err = SessionConfig::builder().max_per_user(0).build().unwrap_err();
/// assert!(err.to_string().contains("SESSION_MAX_PER_USER"));
/// # Ok::<(), session_server::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct SessionConfigBuilder {
    config: SessionConfig,
}

macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident: $ty:ty;)*) => {
        $(
            $(#[$doc])*
            pub fn $name(mut self, value: $ty) -> Self {
                self.config.$name = value;
                self
            }
        )*
    };
}

impl SessionConfigBuilder {
    /// The defaults (see [`SessionConfig`]).
    ///
    /// ```
    /// let config = session_server::SessionConfigBuilder::new().build()?;
    /// assert_eq!(config, session_server::SessionConfig::default());
    /// # Ok::<(), session_server::Error>(())
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    setters! {
        /// Idle timeout when none is asked for.
        default_timeout: Duration;
        /// Longest idle timeout (and extension) allowed.
        max_timeout: Duration;
        /// Shortest idle timeout allowed.
        min_timeout: Duration;
        /// Hard limit on a session's life from creation.
        absolute_timeout: Duration;
        /// How often expired sessions are swept.
        cleanup_interval: Duration;
        /// Most live sessions per user.
        max_per_user: usize;
        /// Refuse plain http on every path the layer and the REST routes serve.
        require_https: bool;
        /// Believe `X-Forwarded-Proto` (only behind your own proxy).
        trust_proxy: bool;
        /// Mark the cookie `Secure` and prefix its name.
        secure_cookies: bool;
        /// The cookie's `SameSite`.
        same_site: SameSite;
        /// Record activity on each request through the layer.
        auto_update: bool;
        /// At most one activity write per session per this interval.
        activity_throttle: Duration;
        /// Log each request through the layer (session ids redacted).
        log_requests: bool;
        /// How long this process may reuse a session it read (zero: off).
        cache_ttl: Duration;
    }

    /// Where the SQLite database lives.
    ///
    /// ```
    /// let c = session_server::SessionConfig::builder().db_path("/var/lib/app/sessions.db").build()?;
    /// assert_eq!(c.db_path, std::path::PathBuf::from("/var/lib/app/sessions.db"));
    /// # Ok::<(), session_server::Error>(())
    /// ```
    pub fn db_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.config.db_path = path.into();
        self
    }

    /// Also read (and set) the session id in the cookie `name`.
    ///
    /// ```
    /// let c = session_server::SessionConfig::builder().cookie_name("sid").build()?;
    /// assert_eq!(c.cookie_name.as_deref(), Some("sid"));
    /// # Ok::<(), session_server::Error>(())
    /// ```
    pub fn cookie_name(mut self, name: impl Into<String>) -> Self {
        self.config.cookie_name = Some(name.into());
        self
    }

    /// The cookie's `Path` (`/` by default).
    ///
    /// ```
    /// let c = session_server::SessionConfig::builder().cookie_path("/app").build()?;
    /// assert_eq!(c.cookie_path, "/app");
    /// # Ok::<(), session_server::Error>(())
    /// ```
    pub fn cookie_path(mut self, path: impl Into<String>) -> Self {
        self.config.cookie_path = path.into();
        self
    }

    /// The cookie's `Domain` (by default the cookie is for this host only).
    ///
    /// ```
    /// let c = session_server::SessionConfig::builder().cookie_domain("example.com").build()?;
    /// assert_eq!(c.cookie_domain.as_deref(), Some("example.com"));
    /// # Ok::<(), session_server::Error>(())
    /// ```
    pub fn cookie_domain(mut self, domain: impl Into<String>) -> Self {
        self.config.cookie_domain = Some(domain.into());
        self
    }

    /// The request header carrying the session id (`X-Session-ID`).
    ///
    /// ```
    /// let err = session_server::SessionConfig::builder().header("bad header").build().unwrap_err();
    /// assert!(err.to_string().contains("SESSION_HEADER"));
    /// ```
    pub fn header(mut self, name: impl Into<String>) -> Self {
        self.config.header = name.into();
        self
    }

    /// Path prefixes that require a session.
    ///
    /// ```
    /// let c = session_server::SessionConfig::builder().protected_paths(["/app", "/admin"]).build()?;
    /// assert!(c.is_protected("/admin/users"));
    /// # Ok::<(), session_server::Error>(())
    /// ```
    pub fn protected_paths<I, P>(mut self, paths: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<String>,
    {
        self.config.protected_paths = paths.into_iter().map(Into::into).collect();
        self
    }

    /// Path prefixes the layer doesn't look up sessions for.
    ///
    /// ```
    /// let c = session_server::SessionConfig::builder().excluded_paths(["/health"]).build()?;
    /// assert!(c.is_excluded("/health"));
    /// # Ok::<(), session_server::Error>(())
    /// ```
    pub fn excluded_paths<I, P>(mut self, paths: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<String>,
    {
        self.config.excluded_paths = paths.into_iter().map(Into::into).collect();
        self
    }

    /// Other origins whose pages may send unsafe requests with the cookie.
    ///
    /// ```
    /// let c = session_server::SessionConfig::builder()
    ///     .csrf_allowed_origins(["https://app.example.com"])
    ///     .build()?;
    /// assert_eq!(c.csrf_allowed_origins.len(), 1);
    /// # Ok::<(), session_server::Error>(())
    /// ```
    pub fn csrf_allowed_origins<I, P>(mut self, origins: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<String>,
    {
        self.config.csrf_allowed_origins = origins.into_iter().map(Into::into).collect();
        self
    }

    /// A bearer token that may create sessions for anyone and use the admin
    /// endpoints.
    ///
    /// ```
    /// let c = session_server::SessionConfig::builder().admin_token("s3cret").build()?;
    /// assert!(!format!("{c:?}").contains("s3cret"));
    /// # Ok::<(), session_server::Error>(())
    /// ```
    pub fn admin_token(mut self, token: impl Into<String>) -> Self {
        self.config.admin_token = Some(token.into());
        self
    }

    /// The log level name for the application's subscriber (`INFO`).
    ///
    /// ```
    /// let c = session_server::SessionConfig::builder().log_level("debug").build()?;
    /// assert_eq!(c.log_level, "DEBUG");
    /// # Ok::<(), session_server::Error>(())
    /// ```
    pub fn log_level(mut self, level: impl AsRef<str>) -> Self {
        self.config.log_level = level.as_ref().trim().to_ascii_uppercase();
        self
    }

    /// The configuration, checked.
    ///
    /// # Errors
    ///
    /// [`Error::Config`](crate::Error::Config) naming the first inconsistent
    /// setting by its environment variable.
    ///
    /// ```
    /// use std::time::Duration;
    /// let err = session_server::SessionConfig::builder()
    ///     .default_timeout(Duration::from_secs(10))
    ///     .build()
    ///     .unwrap_err();
    /// assert!(err.to_string().contains("SESSION_DEFAULT_TIMEOUT"));
    /// ```
    pub fn build(self) -> Result<SessionConfig> {
        self.config.validate()?;
        Ok(self.config)
    }
}
