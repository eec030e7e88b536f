//! [`TokenManager`]: holds a token set and keeps it fresh — single-flight
//! refresh before expiry and once after a 401, re-login when the refresh
//! token is dead, change hooks and persistence.
//!
//! # How refresh behaves
//!
//! - Callers whose token is valid never wait. Inside the refresh window they
//!   start a refresh in the background (at most one at a time; after a failed
//!   one, the next try waits 30 seconds) and go on with the current token.
//! - Callers whose token is expired (or who have none) wait for the one
//!   refresh in flight. The refresh runs on its own task: if the caller that
//!   started it is cancelled, the others still get the token.
//! - A failed refresh leaves the current token in place. Transient failures
//!   are retried with the manager's retry policy.
//! - A rejected refresh token (`invalid_grant`) falls back to a fresh sign-in
//!   through the provider; a provider without credentials answers "not
//!   authenticated".
//! - Requests are never sent without credentials: the token is only replaced,
//!   never cleared, until sign-out.
//! - The tokens live in the manager's [`SessionState`], the one owner of the
//!   session's data; the manager keeps only a ready-made view of them (the
//!   header and its expiry instants), rebuilt when the state changes.
//! - With a stored state, a refresh runs under a lease in the store, so
//!   processes sharing it never present the same refresh token twice: the
//!   one that waited re-reads the store and uses the winner's tokens.

use std::fmt;
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use http::HeaderValue;
use parking_lot::Mutex;
use session_core::time::OffsetDateTime;
use session_core::{
    Error as CoreError, ExpiryPolicy, ProvideToken, Replay, SharedClock, SharedTokenProvider,
    TokenSet, TokenStatus,
};
use session_retry::{RetryPolicy, RetryReason, RetryScope, Verdict, retry_with};
use tokio::sync::watch;

use crate::dpop::DpopKey;
use crate::state::SessionState;
use crate::thread_header;

type Shared = Result<Arc<Current>, Arc<CoreError>>;
type Listener = Arc<dyn Fn(&TokenSet) + Send + Sync>;

/// How long to wait after a failed background refresh before trying again.
const PROACTIVE_BACKOFF: Duration = Duration::from_secs(30);

/// How long a refresh lease lives if its holder dies, and how long to wait
/// for another process's refresh.
const LEASE_TTL: Duration = Duration::from_secs(30);
const LEASE_PATIENCE: Duration = Duration::from_secs(45);

/// How long one call to the token provider may take by default.
const FETCH_TIMEOUT: Duration = Duration::from_secs(30);

/// The token's phase, kept by a timer when the manager runs on the system
/// clock, so the read a request makes needs no clock at all.
const UNTIMED: u64 = 0;
const FRESH: u64 = 1;
const DUE: u64 = 2;
const EXPIRED: u64 = 3;

/// The manager's live view and its phase in one word: `id << 2 | phase`,
/// 0 for no view. One load tells a request which copy of the header to send
/// and whether the token is fresh, due or expired.
struct Live(AtomicU64);

impl Live {
    fn get(&self) -> (u64, u64) {
        let word = self.0.load(Ordering::Acquire);
        (word >> 2, word & 3)
    }

    fn set(&self, id: u64, phase: u64) {
        self.0.store(id << 2 | phase, Ordering::Release);
    }

    /// Moves view `id` to `phase`, unless another view is live by now.
    fn advance(&self, id: u64, phase: u64) {
        let _ = self
            .0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |word| {
                (word >> 2 == id).then_some(id << 2 | phase)
            });
    }
}

/// A token set with its ready-made `Authorization` value and the instants
/// (under the manager's policy) at which it is due for a refresh and counts
/// as expired. On the system clock a timer moves the manager's [`Live`]
/// phase at those instants and a read is one atomic load; on an injected
/// clock it reads the clock.
struct Current {
    /// Process-wide unique (see [`thread_header`]).
    id: u64,
    tokens: TokenSet,
    header: HeaderValue,
    /// Unix nanoseconds.
    refresh_at: Option<i128>,
    /// Unix nanoseconds.
    expired_at: Option<i128>,
    timer: OnceLock<tokio::task::AbortHandle>,
}

impl Drop for Current {
    fn drop(&mut self) {
        if let Some(timer) = self.timer.get() {
            timer.abort();
        }
    }
}

impl Current {
    fn new(tokens: TokenSet, policy: &ExpiryPolicy) -> session_core::Result<Self> {
        let expiry = tokens.expiry();
        let threshold = |margin: Duration| {
            let margin =
                session_core::time::Duration::try_from(margin.saturating_add(policy.leeway()))
                    .unwrap_or(session_core::time::Duration::MAX);
            expiry
                .expires_at
                .map(|at| at.checked_sub(margin).unwrap_or(at).unix_timestamp_nanos())
        };
        let refresh_at = threshold(policy.effective_window(expiry.lifetime()));
        let expired_at = threshold(policy.effective_buffer(expiry.lifetime()));
        let header = tokens.authorization_value()?;
        Ok(Self {
            id: thread_header::next_view_id(),
            tokens,
            header,
            refresh_at,
            expired_at,
            timer: OnceLock::new(),
        })
    }

    /// Makes this view the live one. On the system clock, inside a tokio
    /// runtime, it sets the phase for now and starts the timer that moves it
    /// when the token falls due and expires. Elsewhere the phase stays
    /// untimed and reads use the clock.
    fn go_live(&self, live: &Arc<Live>, clock: &SharedClock) {
        let runtime = tokio::runtime::Handle::try_current();
        let (true, Ok(runtime)) = (clock.is_system(), runtime) else {
            live.set(self.id, UNTIMED);
            return;
        };
        let now = clock.unix_nanos();
        let phase = if self.is_expired(now) {
            EXPIRED
        } else if self.needs_refresh(now) {
            DUE
        } else {
            FRESH
        };
        live.set(self.id, phase);
        let after = |at: Option<i128>| {
            at.filter(|&at| at > now).map(|at| {
                let nanos = u64::try_from(at - now).unwrap_or(u64::MAX);
                tokio::time::Instant::now() + Duration::from_nanos(nanos)
            })
        };
        let (due_at, expires_at) = (after(self.refresh_at), after(self.expired_at));
        if due_at.is_none() && expires_at.is_none() {
            return;
        }
        // The timer dies with this view (see `Drop`).
        let (live, id) = (Arc::clone(live), self.id);
        let timer = runtime.spawn(async move {
            for (at, phase) in [(due_at, DUE), (expires_at, EXPIRED)] {
                let Some(at) = at else { continue };
                tokio::time::sleep_until(at).await;
                live.advance(id, phase);
            }
        });
        let _ = self.timer.set(timer.abort_handle());
    }

    /// Whether the token is usable, and whether it is due for a refresh:
    /// from the timer's phase when this view is live and timed, from `clock`
    /// otherwise.
    fn decide(&self, live: &Live, clock: &SharedClock) -> (bool, bool) {
        let (id, phase) = live.get();
        match if id == self.id { phase } else { UNTIMED } {
            FRESH => (true, false),
            DUE => (true, true),
            EXPIRED => (false, true),
            _ => {
                let now = clock.unix_nanos();
                (!self.is_expired(now), self.needs_refresh(now))
            }
        }
    }

    /// `now` in Unix nanoseconds.
    fn is_expired(&self, now: i128) -> bool {
        self.expired_at.is_some_and(|at| now >= at)
    }

    /// `now` in Unix nanoseconds.
    fn needs_refresh(&self, now: i128) -> bool {
        self.refresh_at.is_some_and(|at| now >= at)
    }
}

/// Keeps a token set fresh for every request of a session.
///
/// Cheap to clone; clones share the tokens.
///
/// # Examples
///
/// ```
/// use session_auth::{BearerAuth, Session, TokenManager};
/// use session_core::{ProvideToken, Result, TokenSet};
///
/// #[derive(Debug)]
/// struct Login;
///
/// #[async_trait::async_trait]
/// impl ProvideToken for Login {
///     async fn provide_token(&self) -> Result<TokenSet> {
///         Ok(TokenSet::new("fresh-token"))
///     }
/// }
///
/// let tokens = TokenManager::builder(Login).build();
/// let session = Session::builder()
///     .base_url("https://api.example.com/")
///     .tokens(tokens)
///     .build()?;
/// # Ok::<(), session_auth::Error>(())
/// ```
#[derive(Clone)]
pub struct TokenManager {
    inner: Arc<Inner>,
}

struct Inner {
    provider: SharedTokenProvider,
    current: ArcSwapOption<Current>,
    /// Which view is live and its phase.
    live: Arc<Live>,
    /// Held while the view is rebuilt.
    rebuilding: Mutex<()>,
    inflight: Mutex<Option<watch::Receiver<Option<Shared>>>>,
    policy: ExpiryPolicy,
    clock: SharedClock,
    retry: Option<RetryPolicy>,
    fetch_timeout: Option<Duration>,
    listeners: Mutex<Vec<Listener>>,
    /// The owner of the tokens; set at build, by the session the manager
    /// joins, or (in memory) on first use.
    state: OnceLock<SessionState>,
    /// Tokens given to the builder, put into the state when it is set.
    initial: Mutex<Option<TokenSet>>,
    /// The state version `current` reflects.
    seen_version: AtomicU64,
    /// Set by sign-out; only an explicit sign-in (or `set_tokens`) clears it.
    signed_out: AtomicBool,
    refreshes: AtomicU64,
    epoch: AtomicU64,
    quiet_until: Mutex<Option<OffsetDateTime>>,
    /// The session's DPoP key, when its tokens are sender-constrained.
    dpop: Option<DpopKey>,
}

impl TokenManager {
    /// Starts a builder around `provider`.
    ///
    /// ```
    /// # use session_core::*;
    /// # #[derive(Debug)] struct Login;
    /// # #[async_trait::async_trait] impl ProvideToken for Login {
    /// #     async fn provide_token(&self) -> Result<TokenSet> { Ok(TokenSet::new("t")) }
    /// # }
    /// let tokens = session_auth::TokenManager::builder(Login).build();
    /// # let _ = tokens;
    /// ```
    pub fn builder(provider: impl ProvideToken + 'static) -> TokenManagerBuilder {
        Self::builder_shared(SharedTokenProvider::new(provider))
    }

    /// Starts a builder around an already shared provider.
    ///
    /// ```
    /// # use session_core::*;
    /// # #[derive(Debug)] struct Login;
    /// # #[async_trait::async_trait] impl ProvideToken for Login {
    /// #     async fn provide_token(&self) -> Result<TokenSet> { Ok(TokenSet::new("t")) }
    /// # }
    /// let tokens = session_auth::TokenManager::builder_shared(SharedTokenProvider::new(Login)).build();
    /// # let _ = tokens;
    /// ```
    pub fn builder_shared(provider: SharedTokenProvider) -> TokenManagerBuilder {
        TokenManagerBuilder {
            provider,
            policy: ExpiryPolicy::default(),
            clock: SharedClock::default(),
            retry: Some(TokenManagerBuilder::default_retry()),
            fetch_timeout: Some(FETCH_TIMEOUT),
            initial: None,
            listeners: Vec::new(),
            state: None,
            dpop: None,
        }
    }

    /// The current token set, without refreshing.
    ///
    /// ```
    /// # use session_core::*;
    /// # #[derive(Debug)] struct Login;
    /// # #[async_trait::async_trait] impl ProvideToken for Login {
    /// #     async fn provide_token(&self) -> Result<TokenSet> { Ok(TokenSet::new("t")) }
    /// # }
    /// let tokens = session_auth::TokenManager::builder(Login).initial_tokens(TokenSet::new("a")).build();
    /// assert_eq!(tokens.current().unwrap().access_token().expose_secret(), "a");
    /// ```
    pub fn current(&self) -> Option<TokenSet> {
        self.inner.view().map(|c| c.tokens.clone())
    }

    /// The session state holding the tokens (with cookies, user info and
    /// metadata when a session shares it).
    ///
    /// ```
    /// # use session_core::*;
    /// # #[derive(Debug)] struct Login;
    /// # #[async_trait::async_trait] impl ProvideToken for Login {
    /// #     async fn provide_token(&self) -> Result<TokenSet> { Ok(TokenSet::new("t")) }
    /// # }
    /// let m = session_auth::TokenManager::builder(Login).initial_tokens(TokenSet::new("a")).build();
    /// assert_eq!(m.state().access_token().unwrap().expose_secret(), "a");
    /// ```
    pub fn state(&self) -> &SessionState {
        self.inner.state()
    }

    /// The state, if one was set (or created) already.
    pub(crate) fn existing_state(&self) -> Option<&SessionState> {
        self.inner.state.get()
    }

    /// Makes `state` the owner of the tokens, if the manager has none yet.
    /// Returns whether the manager now uses `state`.
    pub(crate) fn attach_state(&self, state: &SessionState) -> bool {
        if self.inner.state.set(state.clone()).is_ok() {
            self.inner.apply_initial(state);
            return true;
        }
        self.inner
            .state
            .get()
            .is_some_and(|own| own.same_session(state))
    }

    /// The `Authorization` value of the cached token when it is still valid
    /// now: never waits, never refreshes, never allocates. `None` when there
    /// is no token yet or it has expired (then [`token`](Self::token) or a
    /// request through the session gets a fresh one).
    ///
    /// ```
    /// # use session_core::*;
    /// # #[derive(Debug)] struct Login;
    /// # #[async_trait::async_trait] impl ProvideToken for Login {
    /// #     async fn provide_token(&self) -> Result<TokenSet> { Ok(TokenSet::new("t")) }
    /// # }
    /// let tokens = session_auth::TokenManager::builder(Login).build();
    /// assert!(tokens.cached_authorization().is_none());
    /// let tokens = session_auth::TokenManager::builder(Login).initial_tokens(TokenSet::new("a")).build();
    /// assert_eq!(tokens.cached_authorization().unwrap(), "Bearer a");
    /// ```
    pub fn cached_authorization(&self) -> Option<HeaderValue> {
        self.cached().map(|(value, _)| value)
    }

    /// The token's status now, or `None` without a token.
    ///
    /// ```
    /// # use session_core::*;
    /// # #[derive(Debug)] struct Login;
    /// # #[async_trait::async_trait] impl ProvideToken for Login {
    /// #     async fn provide_token(&self) -> Result<TokenSet> { Ok(TokenSet::new("t")) }
    /// # }
    /// let tokens = session_auth::TokenManager::builder(Login).build();
    /// assert!(tokens.status().is_none());
    /// ```
    pub fn status(&self) -> Option<TokenStatus> {
        let now = self.inner.clock.now();
        self.inner
            .view()
            .map(|c| c.tokens.status(now, &self.inner.policy))
    }

    /// The session's DPoP key, if its tokens are sender-constrained.
    ///
    /// ```
    /// # use session_core::*;
    /// # #[derive(Debug)] struct Login;
    /// # #[async_trait::async_trait] impl ProvideToken for Login {
    /// #     async fn provide_token(&self) -> Result<TokenSet> { Ok(TokenSet::new("t")) }
    /// # }
    /// assert!(session_auth::TokenManager::builder(Login).build().dpop().is_none());
    /// ```
    pub fn dpop(&self) -> Option<&DpopKey> {
        self.inner.dpop.as_ref()
    }

    /// How many refreshes (and sign-ins) this manager has run.
    ///
    /// ```
    /// # use session_core::*;
    /// # #[derive(Debug)] struct Login;
    /// # #[async_trait::async_trait] impl ProvideToken for Login {
    /// #     async fn provide_token(&self) -> Result<TokenSet> { Ok(TokenSet::new("t")) }
    /// # }
    /// assert_eq!(session_auth::TokenManager::builder(Login).build().refreshes(), 0);
    /// ```
    pub fn refreshes(&self) -> u64 {
        self.inner.refreshes.load(Ordering::Relaxed)
    }

    /// When the tokens were last replaced (refresh, sign-in or `set_tokens`).
    ///
    /// ```
    /// # use session_core::*;
    /// # #[derive(Debug)] struct Login;
    /// # #[async_trait::async_trait] impl ProvideToken for Login {
    /// #     async fn provide_token(&self) -> Result<TokenSet> { Ok(TokenSet::new("t")) }
    /// # }
    /// assert!(session_auth::TokenManager::builder(Login).build().last_refreshed_at().is_none());
    /// ```
    pub fn last_refreshed_at(&self) -> Option<OffsetDateTime> {
        self.inner
            .state()
            .read(|d| d.and_then(|d| d.metadata.last_refreshed_at))
    }

    /// The expiry policy in use.
    ///
    /// ```
    /// # use session_core::*;
    /// # #[derive(Debug)] struct Login;
    /// # #[async_trait::async_trait] impl ProvideToken for Login {
    /// #     async fn provide_token(&self) -> Result<TokenSet> { Ok(TokenSet::new("t")) }
    /// # }
    /// let m = session_auth::TokenManager::builder(Login).build();
    /// assert_eq!(m.expiry_policy(), &ExpiryPolicy::default());
    /// ```
    pub fn expiry_policy(&self) -> &ExpiryPolicy {
        &self.inner.policy
    }

    /// A valid token set, refreshing or signing in first when needed.
    ///
    /// # Errors
    ///
    /// The provider's error when no valid token can be had.
    ///
    /// ```
    /// # use session_core::*;
    /// # #[derive(Debug)] struct Login;
    /// # #[async_trait::async_trait] impl ProvideToken for Login {
    /// #     async fn provide_token(&self) -> Result<TokenSet> { Ok(TokenSet::new("t")) }
    /// # }
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let m = session_auth::TokenManager::builder(Login).build();
    /// assert_eq!(m.token().await?.access_token().expose_secret(), "t");
    /// # Ok::<(), session_core::Error>(()) }).unwrap();
    /// ```
    pub async fn token(&self) -> session_core::Result<TokenSet> {
        Ok(self.access().await?.tokens.clone())
    }

    /// The `Authorization` header value for the current token.
    pub(crate) async fn authorization(&self) -> session_core::Result<HeaderValue> {
        if let Some(value) = self.authorization_now() {
            return Ok(value);
        }
        let current = self.access().await?;
        Ok(thread_header::get_or_copy(current.id, &current.header))
    }

    /// The `Authorization` value when it can be had without waiting: the
    /// cached token is restored and still valid. Starts a background refresh
    /// when the token is due for one.
    pub(crate) fn authorization_now(&self) -> Option<HeaderValue> {
        if !self.inner.state().is_restored() {
            return None;
        }
        let (value, due) = self.cached()?;
        if due {
            self.refresh_in_background();
        }
        Some(value)
    }

    /// The cached value if not expired, and whether it is due for a refresh.
    ///
    /// The common case — the view is live, timed and fresh or due, and this
    /// thread has sent it before — is a few loads and this thread's copy of
    /// the header: no clock, no lock, no shared count.
    #[inline]
    fn cached(&self) -> Option<(HeaderValue, bool)> {
        self.inner.sync_view();
        let (id, phase) = self.inner.live.get();
        if (phase == FRESH || phase == DUE)
            && let Some(value) = thread_header::get(id)
        {
            return Some((value, phase == DUE));
        }
        let current = self.inner.current.load();
        let current = current.as_ref()?;
        let (usable, due) = current.decide(&self.inner.live, &self.inner.clock);
        usable.then(|| (thread_header::get_or_copy(current.id, &current.header), due))
    }

    /// Starts a refresh that no caller waits for, unless a recent one failed.
    fn refresh_in_background(&self) {
        if self.background_allowed(self.inner.clock.now()) {
            drop(self.start_refresh(self.inner.view(), false));
        }
    }

    /// Refreshes now, whatever the expiry says (joining a refresh in flight).
    ///
    /// # Errors
    ///
    /// The provider's error.
    ///
    /// ```
    /// # use session_core::*;
    /// # #[derive(Debug)] struct Login;
    /// # #[async_trait::async_trait] impl ProvideToken for Login {
    /// #     async fn provide_token(&self) -> Result<TokenSet> { Ok(TokenSet::new("t")) }
    /// # }
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let m = session_auth::TokenManager::builder(Login).build();
    /// m.refresh().await?;
    /// assert_eq!(m.refreshes(), 1);
    /// # Ok::<(), session_core::Error>(()) }).unwrap();
    /// ```
    pub async fn refresh(&self) -> session_core::Result<TokenSet> {
        self.ensure_signed_in()?;
        self.ensure_restored().await?;
        let seen = self.inner.view();
        let rx = self.start_refresh(seen, true);
        Ok(wait(rx).await?.tokens.clone())
    }

    /// Replaces the tokens (after a sign-in done elsewhere), notifying hooks
    /// and persisting them.
    ///
    /// # Errors
    ///
    /// When the access token can't be sent in a header, or persisting fails.
    ///
    /// ```
    /// # use session_core::*;
    /// # #[derive(Debug)] struct Login;
    /// # #[async_trait::async_trait] impl ProvideToken for Login {
    /// #     async fn provide_token(&self) -> Result<TokenSet> { Ok(TokenSet::new("t")) }
    /// # }
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let m = session_auth::TokenManager::builder(Login).build();
    /// m.set_tokens(TokenSet::new("signed-in")).await?;
    /// assert_eq!(m.current().unwrap().access_token().expose_secret(), "signed-in");
    /// # Ok::<(), session_core::Error>(()) }).unwrap();
    /// ```
    pub async fn set_tokens(&self, tokens: TokenSet) -> session_core::Result<()> {
        // Refuse what can't be sent before it replaces anything.
        Current::new(tokens.clone(), &self.inner.policy)?;
        self.inner.signed_out.store(false, Ordering::Release);
        let current = self.inner.store_tokens(tokens)?;
        self.inner.notify(&current);
        Ok(())
    }

    /// Signs in now with the provider (its credentials, or its prompt),
    /// whatever tokens are held — the explicit way back after
    /// [`sign_out`](Self::sign_out).
    ///
    /// # Errors
    ///
    /// The provider's error: `InvalidCredentials` for wrong credentials, a
    /// retryable error when it can't be reached, `Timeout` when it doesn't
    /// answer within the fetch timeout.
    ///
    /// ```
    /// # use session_core::*;
    /// # #[derive(Debug)] struct Login;
    /// # #[async_trait::async_trait] impl ProvideToken for Login {
    /// #     async fn provide_token(&self) -> Result<TokenSet> { Ok(TokenSet::new("t")) }
    /// # }
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let m = session_auth::TokenManager::builder(Login).initial_tokens(TokenSet::new("a")).build();
    /// m.sign_out().await?;
    /// assert!(m.token().await.unwrap_err().is_signed_out());
    /// m.sign_in().await?;
    /// assert_eq!(m.token().await?.access_token().expose_secret(), "t");
    /// # Ok::<(), session_core::Error>(()) }).unwrap();
    /// ```
    pub async fn sign_in(&self) -> session_core::Result<TokenSet> {
        self.inner.refreshes.fetch_add(1, Ordering::Relaxed);
        let tokens = self
            .inner
            .with_retry(|| self.inner.provider.provide_token())
            .await?;
        self.set_tokens(tokens.clone()).await?;
        Ok(tokens)
    }

    /// Whether [`sign_out`](Self::sign_out) ended the session (and no
    /// sign-in has happened since).
    ///
    /// ```
    /// # use session_core::*;
    /// # #[derive(Debug)] struct Login;
    /// # #[async_trait::async_trait] impl ProvideToken for Login {
    /// #     async fn provide_token(&self) -> Result<TokenSet> { Ok(TokenSet::new("t")) }
    /// # }
    /// assert!(!session_auth::TokenManager::builder(Login).build().is_signed_out());
    /// ```
    pub fn is_signed_out(&self) -> bool {
        self.inner.signed_out.load(Ordering::Acquire)
    }

    fn ensure_signed_in(&self) -> session_core::Result<()> {
        if self.is_signed_out() {
            return Err(CoreError::SignedOut);
        }
        Ok(())
    }

    /// Signs out: asks the provider to revoke the tokens, then forgets them
    /// in memory and deletes the stored session — even if revocation failed.
    /// The session is over: until [`sign_in`](Self::sign_in) (or
    /// [`set_tokens`](Self::set_tokens)), every request for a token fails
    /// with `SignedOut` and the provider is never asked to sign in.
    ///
    /// # Errors
    ///
    /// The revocation or store error, after the local wipe.
    ///
    /// ```
    /// # use session_core::*;
    /// # #[derive(Debug)] struct Login;
    /// # #[async_trait::async_trait] impl ProvideToken for Login {
    /// #     async fn provide_token(&self) -> Result<TokenSet> { Ok(TokenSet::new("t")) }
    /// # }
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let m = session_auth::TokenManager::builder(Login).initial_tokens(TokenSet::new("a")).build();
    /// m.sign_out().await?;
    /// assert!(m.current().is_none());
    /// # Ok::<(), session_core::Error>(()) }).unwrap();
    /// ```
    pub async fn sign_out(&self) -> session_core::Result<()> {
        self.inner.signed_out.store(true, Ordering::Release);
        self.inner.epoch.fetch_add(1, Ordering::SeqCst);
        // Stored tokens are revoked too, even if no request restored them.
        if let Err(error) = self.ensure_restored().await {
            tracing::warn!(target: "session_auth", error = %error, "could not load the stored tokens to revoke them");
        }
        let previous = self.inner.view();
        let state = self.inner.state();
        let cleared = state.clear().await;
        self.inner.sync_view();
        let revoked = match &previous {
            Some(current) => self.inner.provider.revoke_token(&current.tokens).await,
            None => Ok(()),
        };
        cleared?;
        revoked
    }

    /// After a 401: refresh if the rejected token is still the current one,
    /// and ask for one replay either way.
    pub(crate) async fn after_unauthorized(
        &self,
        rejected: Option<&HeaderValue>,
    ) -> session_core::Result<Replay> {
        self.ensure_signed_in()?;
        self.ensure_restored().await?;
        let seen = self.inner.view();
        if let (Some(current), Some(rejected)) = (&seen, rejected)
            && current.header != rejected
        {
            return Ok(Replay::Yes); // someone refreshed meanwhile
        }
        let rx = self.start_refresh(seen, true);
        wait(rx).await?;
        Ok(Replay::Yes)
    }

    /// After the replay's token was rejected too: if it is still the
    /// current one, start a refresh now (nobody waits for it), so the next
    /// request doesn't pay for finding out.
    pub(crate) fn after_rejected_replay(&self, rejected: Option<&HeaderValue>) {
        if self.is_signed_out() {
            return;
        }
        let seen = self.inner.view();
        if let (Some(current), Some(rejected)) = (&seen, rejected)
            && current.header != rejected
        {
            return; // someone refreshed meanwhile
        }
        drop(self.start_refresh(seen, true));
    }

    async fn access(&self) -> session_core::Result<Arc<Current>> {
        self.ensure_signed_in()?;
        self.ensure_restored().await?;
        let now = self.inner.clock.now();
        let nanos = now.unix_timestamp_nanos();
        let seen = self.inner.view();
        if let Some(current) = &seen
            && !current.is_expired(nanos)
        {
            if current.needs_refresh(nanos) && self.background_allowed(now) {
                drop(self.start_refresh(seen.clone(), false));
            }
            return Ok(current.clone());
        }
        let rx = self.start_refresh(seen, false);
        wait(rx).await
    }

    fn background_allowed(&self, now: OffsetDateTime) -> bool {
        self.inner
            .quiet_until
            .lock()
            .is_none_or(|until| now >= until)
    }

    async fn ensure_restored(&self) -> session_core::Result<()> {
        self.inner.state().restore().await
    }

    /// Joins the refresh in flight, or starts one. Unless `force`d, a token
    /// that changed since `seen` and is not expired is used as it is.
    fn start_refresh(
        &self,
        seen: Option<Arc<Current>>,
        force: bool,
    ) -> watch::Receiver<Option<Shared>> {
        let mut inflight = self.inner.inflight.lock();
        if let Some(rx) = inflight.as_ref() {
            return rx.clone();
        }
        let latest = self.inner.view();
        let changed = match (&latest, &seen) {
            (Some(a), Some(b)) => !Arc::ptr_eq(a, b),
            (Some(_), None) => true,
            _ => false,
        };
        if let Some(latest) = &latest
            && changed
            && (force || !latest.is_expired(self.inner.clock.unix_nanos()))
        {
            return watch::channel(Some(Ok(latest.clone()))).1;
        }
        let (tx, rx) = watch::channel(None);
        *inflight = Some(rx.clone());
        drop(inflight);

        let inner = self.inner.clone();
        let epoch = inner.epoch.load(Ordering::SeqCst);
        tokio::spawn(async move {
            let result = inner.run_refresh(latest).await;
            let result: Shared = match result {
                Ok(current) if inner.epoch.load(Ordering::SeqCst) == epoch => {
                    *inner.quiet_until.lock() = None;
                    Ok(current)
                }
                Ok(_) => Err(Arc::new(CoreError::NotAuthenticated {
                    reason: "the session was signed out during the refresh",
                })),
                Err(error) => {
                    *inner.quiet_until.lock() = Some(inner.clock.now() + PROACTIVE_BACKOFF);
                    tracing::warn!(target: "session_auth", error = %error, "token refresh failed");
                    Err(Arc::new(error))
                }
            };
            *inner.inflight.lock() = None;
            let _ = tx.send(Some(result.clone()));
            if let Ok(current) = result {
                inner.notify(&current);
            }
        });
        rx
    }
}

async fn wait(mut rx: watch::Receiver<Option<Shared>>) -> session_core::Result<Arc<Current>> {
    let outcome = match rx.wait_for(Option::is_some).await {
        Ok(value) => value.clone(),
        Err(_) => None,
    };
    match outcome {
        Some(Ok(current)) => Ok(current),
        Some(Err(error)) => Err(CoreError::Shared(error)),
        None => Err(CoreError::token_provider(
            "the refresh task ended unexpectedly",
            true,
            None,
        )),
    }
}

impl Inner {
    /// Refreshes under the state's lease (granted at once without a
    /// store), writes the new tokens through to the store before the lease
    /// is released, and returns them as the new view.
    async fn run_refresh(
        &self,
        latest: Option<Arc<Current>>,
    ) -> session_core::Result<Arc<Current>> {
        let state = self.state().clone();
        let lease = state.lease(LEASE_TTL, LEASE_PATIENCE).await?;
        let result = self.refresh_leased(latest, &state).await;
        if let Err(error) = lease.release().await {
            tracing::warn!(target: "session_auth", error = %error, "could not release the refresh lease");
        }
        result
    }

    async fn refresh_leased(
        &self,
        latest: Option<Arc<Current>>,
        state: &SessionState,
    ) -> session_core::Result<Arc<Current>> {
        let mut previous = latest.map(|c| c.tokens.clone());
        if state.is_persisted()
            && let Some(stored) = state.stored_tokens().await?
        {
            let newer = previous
                .as_ref()
                .is_none_or(|p| p.access_token() != stored.access_token());
            if newer {
                if !stored.is_expired(self.clock.now(), &self.policy) {
                    // Another process refreshed while we waited: use its tokens.
                    return self.store_tokens(stored);
                }
                // Its refresh token is the live one.
                previous = Some(stored);
            }
        }
        let fresh = self.refresh_from(previous).await?;
        let current = self.store_tokens(fresh)?;
        // Other processes must see the rotated refresh token before the
        // lease is given back, whatever the state's auto-save setting.
        if state.is_persisted() {
            state.save().await?;
        }
        Ok(current)
    }

    async fn refresh_from(&self, previous: Option<TokenSet>) -> session_core::Result<TokenSet> {
        self.refreshes.fetch_add(1, Ordering::Relaxed);
        let can_refresh = previous
            .as_ref()
            .is_some_and(|t| t.refresh_token().is_some());
        let result = self
            .with_retry(|| async {
                match &previous {
                    Some(tokens) if can_refresh => self
                        .provider
                        .refresh_token(tokens)
                        .await
                        .map(|new| new.inherit_refresh_token(tokens)),
                    _ => self.provider.provide_token().await,
                }
            })
            .await;
        let tokens = match result {
            Err(error) if can_refresh && error.is_invalid_grant() => {
                tracing::info!(target: "session_auth", "refresh token rejected; signing in again");
                match self.with_retry(|| self.provider.provide_token()).await {
                    // Nothing to sign in with: the dead refresh token is the news.
                    Err(again) if again.is_not_authenticated() => return Err(error),
                    other => other?,
                }
            }
            other => other?,
        };
        // Refuse what can't be sent before it replaces anything.
        Current::new(tokens.clone(), &self.policy)?;
        Ok(tokens)
    }

    /// Calls the provider, each call bounded by the fetch timeout, retrying
    /// transient failures (timeouts included) with the manager's policy.
    async fn with_retry<F, Fut>(&self, mut op: F) -> session_core::Result<TokenSet>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = session_core::Result<TokenSet>>,
    {
        let limit = self.fetch_timeout;
        let mut op =
            move || {
                let call = op();
                async move {
                    match limit {
                        Some(limit) => tokio::time::timeout(limit, call).await.unwrap_or(Err(
                            CoreError::Timeout {
                                waiting_for: "the token provider",
                            },
                        )),
                        None => call.await,
                    }
                }
            };
        let Some(policy) = &self.retry else {
            return op().await;
        };
        let classify = |r: &session_core::Result<TokenSet>| match r {
            Ok(_) => Verdict::Success,
            Err(e) if e.is_retryable() => Verdict::Retry {
                reason: RetryReason::Custom("token endpoint unavailable"),
                may_have_reached_server: false,
                retry_after: None,
            },
            Err(_) => Verdict::Fatal,
        };
        retry_with(policy, RetryScope::new("token endpoint"), &classify, |_| {
            op()
        })
        .await
        .result
    }

    /// Calls the change hooks.
    fn notify(&self, current: &Current) {
        let listeners = self.listeners.lock().clone();
        for listener in listeners {
            listener(&current.tokens);
        }
    }

    /// The session state, created in memory on first use when none was set.
    #[inline]
    fn state(&self) -> &SessionState {
        if let Some(state) = self.state.get() {
            return state;
        }
        self.state.get_or_init(|| {
            let state = SessionState::memory(self.clock.clone(), self.policy);
            self.apply_initial(&state);
            state
        })
    }

    /// Puts the builder's initial tokens into `state`.
    fn apply_initial(&self, state: &SessionState) {
        if let Some(tokens) = self.initial.lock().take() {
            state.update(|data| data.tokens = Some(tokens));
        }
    }

    /// Writes `tokens` to the state and returns the view of what it now
    /// holds (a refresh token the server didn't rotate is kept).
    fn store_tokens(&self, tokens: TokenSet) -> session_core::Result<Arc<Current>> {
        let state = self.state();
        let now = self.clock.now();
        state.update(|data| data.update_tokens(tokens, now));
        self.sync_view();
        self.current.load_full().ok_or(CoreError::NotAuthenticated {
            reason: "the session was cleared during the refresh",
        })
    }

    /// The view of the state's tokens, rebuilt first if the state changed.
    fn view(&self) -> Option<Arc<Current>> {
        self.sync_view();
        self.current.load_full()
    }

    /// Rebuilds the view when the state has changed since it was built.
    #[inline]
    fn sync_view(&self) {
        let state = self.state();
        if self.seen_version.load(Ordering::Acquire) != state.version() {
            self.rebuild_view(state);
        }
    }

    /// Builds the view of the state's tokens as they are now; one rebuild at
    /// a time, so an older view never replaces a newer one.
    #[cold]
    fn rebuild_view(&self, state: &SessionState) {
        let _rebuilding = self.rebuilding.lock();
        let version = state.version();
        if self.seen_version.load(Ordering::Acquire) == version {
            return;
        }
        let current = state
            .tokens()
            .and_then(|t| Current::new(t, &self.policy).ok())
            .map(Arc::new);
        self.current.store(current.clone());
        match &current {
            Some(current) => current.go_live(&self.live, &self.clock),
            None => self.live.set(0, UNTIMED),
        }
        self.seen_version.store(version, Ordering::Release);
    }
}

impl fmt::Debug for TokenManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenManager")
            .field("provider", &self.inner.provider)
            .field("has_token", &self.inner.current.load().is_some())
            .field("policy", &self.inner.policy)
            .field("refreshes", &self.refreshes())
            .finish_non_exhaustive()
    }
}

/// Builds a [`TokenManager`].
///
/// ```
/// use std::time::Duration;
/// use session_core::*;
/// # #[derive(Debug)] struct Login;
/// # #[async_trait::async_trait] impl ProvideToken for Login {
/// #     async fn provide_token(&self) -> Result<TokenSet> { Ok(TokenSet::new("t")) }
/// # }
/// let tokens = session_auth::TokenManager::builder(Login)
///     .expiry_policy(ExpiryPolicy::default().with_refresh_window(Duration::from_secs(600)))
///     .on_change(|tokens| println!("new token, expires {:?}", tokens.expires_at()))
///     .build();
/// # let _ = tokens;
/// ```
#[must_use]
pub struct TokenManagerBuilder {
    provider: SharedTokenProvider,
    policy: ExpiryPolicy,
    clock: SharedClock,
    retry: Option<RetryPolicy>,
    fetch_timeout: Option<Duration>,
    initial: Option<TokenSet>,
    listeners: Vec<Listener>,
    state: Option<SessionState>,
    dpop: Option<DpopKey>,
}

impl TokenManagerBuilder {
    fn default_retry() -> RetryPolicy {
        RetryPolicy::builder()
            .retries(3)
            .backoff_factor(0.5)
            .no_budget()
            .build()
            .expect("valid constant settings")
    }

    /// When tokens count as expired and due for refresh.
    ///
    /// ```
    /// # use session_core::*;
    /// # #[derive(Debug)] struct Login;
    /// # #[async_trait::async_trait] impl ProvideToken for Login {
    /// #     async fn provide_token(&self) -> Result<TokenSet> { Ok(TokenSet::new("t")) }
    /// # }
    /// let _ = session_auth::TokenManager::builder(Login).expiry_policy(ExpiryPolicy::default()).build();
    /// ```
    pub fn expiry_policy(mut self, policy: ExpiryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The clock used for expiry.
    ///
    /// ```
    /// # use session_core::*;
    /// # #[derive(Debug)] struct Login;
    /// # #[async_trait::async_trait] impl ProvideToken for Login {
    /// #     async fn provide_token(&self) -> Result<TokenSet> { Ok(TokenSet::new("t")) }
    /// # }
    /// let _ = session_auth::TokenManager::builder(Login).clock(SharedClock::default()).build();
    /// ```
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// How transient token-endpoint failures are retried (default: 3 retries
    /// after 0.5, 1 and 2 seconds).
    ///
    /// ```
    /// # use session_core::*;
    /// # #[derive(Debug)] struct Login;
    /// # #[async_trait::async_trait] impl ProvideToken for Login {
    /// #     async fn provide_token(&self) -> Result<TokenSet> { Ok(TokenSet::new("t")) }
    /// # }
    /// let retry = session_retry::RetryPolicy::builder().retries(1).build().unwrap();
    /// let _ = session_auth::TokenManager::builder(Login).retry(retry).build();
    /// ```
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// How long one call to the provider (a sign-in, a refresh) may take
    /// before it counts as a failed, retryable attempt (default 30 seconds).
    /// A provider that accepts the connection and never answers can't hold
    /// the refresh forever; waiting requests are bounded by their own
    /// timeout as well.
    ///
    /// ```
    /// # use session_core::*;
    /// # #[derive(Debug)] struct Login;
    /// # #[async_trait::async_trait] impl ProvideToken for Login {
    /// #     async fn provide_token(&self) -> Result<TokenSet> { Ok(TokenSet::new("t")) }
    /// # }
    /// # use std::time::Duration;
    /// let _ = session_auth::TokenManager::builder(Login).fetch_timeout(Duration::from_secs(10)).build();
    /// ```
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        self.fetch_timeout = Some(timeout);
        self
    }

    /// Never retries the token endpoint.
    ///
    /// ```
    /// # use session_core::*;
    /// # #[derive(Debug)] struct Login;
    /// # #[async_trait::async_trait] impl ProvideToken for Login {
    /// #     async fn provide_token(&self) -> Result<TokenSet> { Ok(TokenSet::new("t")) }
    /// # }
    /// let _ = session_auth::TokenManager::builder(Login).no_retry().build();
    /// ```
    pub fn no_retry(mut self) -> Self {
        self.retry = None;
        self
    }

    /// Starts with these tokens (restored from elsewhere): no sign-in while
    /// they are valid.
    ///
    /// ```
    /// # use session_core::*;
    /// # #[derive(Debug)] struct Login;
    /// # #[async_trait::async_trait] impl ProvideToken for Login {
    /// #     async fn provide_token(&self) -> Result<TokenSet> { Ok(TokenSet::new("t")) }
    /// # }
    /// let m = session_auth::TokenManager::builder(Login).initial_tokens(TokenSet::new("saved")).build();
    /// assert!(m.current().is_some());
    /// ```
    pub fn initial_tokens(mut self, tokens: TokenSet) -> Self {
        self.initial = Some(tokens);
        self
    }

    /// Calls `hook` with every new token set (never called with secrets in
    /// anything but the `TokenSet` itself).
    ///
    /// ```
    /// # use session_core::*;
    /// # #[derive(Debug)] struct Login;
    /// # #[async_trait::async_trait] impl ProvideToken for Login {
    /// #     async fn provide_token(&self) -> Result<TokenSet> { Ok(TokenSet::new("t")) }
    /// # }
    /// let _ = session_auth::TokenManager::builder(Login).on_change(|_| {}).build();
    /// ```
    pub fn on_change(mut self, hook: impl Fn(&TokenSet) + Send + Sync + 'static) -> Self {
        self.listeners.push(Arc::new(hook));
        self
    }

    /// Keeps the tokens in `state` (and so in its store): restored from it
    /// on first use, saved to it on every change. Without this, the state
    /// is the one of the [`Session`](crate::Session) the manager is given
    /// to, or one in memory.
    ///
    /// ```
    /// # use session_core::*;
    /// # #[derive(Debug)] struct Login;
    /// # #[async_trait::async_trait] impl ProvideToken for Login {
    /// #     async fn provide_token(&self) -> Result<TokenSet> { Ok(TokenSet::new("t")) }
    /// # }
    /// let store = SharedSessionStore::new(MemoryStore::new());
    /// let state = session_auth::SessionState::builder(store, "default").build();
    /// let _ = session_auth::TokenManager::builder(Login).state(state).build();
    /// ```
    pub fn state(mut self, state: SessionState) -> Self {
        self.state = Some(state);
        self
    }

    /// Sender-constrained tokens (DPoP): when the provider issues
    /// `token_type=DPoP` tokens, every request sends
    /// `Authorization: DPoP …` with a fresh proof signed with `key`, and a
    /// 401 asking for a nonce is answered once with it. Give the same key to
    /// the OAuth client, which binds the tokens it gets to it (see
    /// [`DpopKey::for_state`] to keep it with the session).
    ///
    /// ```
    /// # use session_core::*;
    /// # #[derive(Debug)] struct Login;
    /// # #[async_trait::async_trait] impl ProvideToken for Login {
    /// #     async fn provide_token(&self) -> Result<TokenSet> { Ok(TokenSet::new("t")) }
    /// # }
    /// let key = session_auth::DpopKey::generate()?;
    /// let tokens = session_auth::TokenManager::builder(Login).dpop(key).build();
    /// assert!(tokens.dpop().is_some());
    /// # Ok::<(), session_core::Error>(())
    /// ```
    pub fn dpop(mut self, key: DpopKey) -> Self {
        self.dpop = Some(key);
        self
    }

    /// Builds the manager. An initial token that can't be sent in a header
    /// is dropped (the manager then signs in on first use).
    ///
    /// ```
    /// # use session_core::*;
    /// # #[derive(Debug)] struct Login;
    /// # #[async_trait::async_trait] impl ProvideToken for Login {
    /// #     async fn provide_token(&self) -> Result<TokenSet> { Ok(TokenSet::new("t")) }
    /// # }
    /// let _ = session_auth::TokenManager::builder(Login).build();
    /// ```
    pub fn build(self) -> TokenManager {
        let initial = self
            .initial
            .filter(|t| Current::new(t.clone(), &self.policy).is_ok());
        let manager = TokenManager {
            inner: Arc::new(Inner {
                provider: self.provider,
                current: ArcSwapOption::empty(),
                live: Arc::new(Live(AtomicU64::new(0))),
                rebuilding: Mutex::new(()),
                inflight: Mutex::new(None),
                policy: self.policy,
                clock: self.clock,
                retry: self.retry,
                fetch_timeout: self.fetch_timeout,
                listeners: Mutex::new(self.listeners),
                state: OnceLock::new(),
                initial: Mutex::new(initial),
                // No view yet: the first read builds one.
                seen_version: AtomicU64::new(u64::MAX),
                signed_out: AtomicBool::new(false),
                refreshes: AtomicU64::new(0),
                epoch: AtomicU64::new(0),
                quiet_until: Mutex::new(None),
                dpop: self.dpop,
            }),
        };
        if let Some(state) = self.state {
            manager.attach_state(&state);
        }
        manager
    }
}

impl fmt::Debug for TokenManagerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenManagerBuilder")
            .field("provider", &self.provider)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}
