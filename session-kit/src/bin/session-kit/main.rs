//! `session-kit`: log in to an OAuth provider, print a fresh token, make
//! authenticated requests with retries, and serve sessions — from a terminal.
//!
//! Exit codes: 0 success; 1 an HTTP error (after retries), a failed
//! operation, or (`status`) a profile that isn't signed in; 2 bad usage or
//! configuration. With `--json` every command prints exactly one JSON
//! document on stdout, errors included (`{"error": …, "exit_code": …}`).
//!
//! Secrets are never taken from the command line (where `ps` shows them):
//! they come from a prompt, from stdin (`--…-stdin`), or from the
//! environment (`SESSION_KIT_BEARER`, `SESSION_KIT_API_KEY`,
//! `SESSION_KIT_CLIENT_SECRET`).

#![forbid(unsafe_code)]

mod profile;

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use serde_json::json;
use session_kit::auth::{ApiKeyAuth, BasicAuth, BearerAuth, DpopKey, Session, SessionState};
use session_kit::oauth::{
    LoopbackRedirect, OAuthClient, OAuthHttp, ProviderMetadata, TokenExchange,
};
use session_kit::retry::RetryPolicy;
use session_kit::{ExpiryPolicy, SessionData, SharedClock};

use profile::{Profile, Profiles};

/// Authenticated, resilient HTTP sessions from the terminal.
#[derive(Parser, Debug)]
#[command(name = "session-kit", version, about)]
struct Cli {
    /// Show retry and refresh events on stderr.
    #[arg(long, global = true)]
    verbose: bool,
    /// Machine-readable output.
    #[arg(long, global = true)]
    json: bool,
    /// The profile store (default: ~/.config/session-kit/sessions.json).
    #[arg(long, global = true, value_name = "PATH")]
    store: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Sign in and save the session in a profile.
    Login(Login),
    /// Print a valid access token (refreshing first if needed), or with
    /// --exchange one the provider issues for it (token exchange).
    Token(TokenArgs),
    /// Make an authenticated request with retries.
    Request(Request),
    /// Print the profile's summary line.
    Status(ProfileArg),
    /// List profiles and their state: valid, refreshable or expired.
    Profiles,
    /// Revoke the profile's tokens, then forget them.
    Logout(ProfileArg),
    /// Run the session server configured by the SESSION_* environment.
    Serve {
        /// Address to listen on (default: $SESSION_BIND or 127.0.0.1:8000).
        #[arg(long)]
        bind: Option<String>,
    },
}

#[derive(Args, Debug)]
struct ProfileArg {
    /// The profile.
    #[arg(long, default_value = "default")]
    profile: String,
}

#[derive(Args, Debug)]
struct TokenArgs {
    /// The profile.
    #[arg(long, default_value = "default")]
    profile: String,
    /// Trade the profile's access token for another (RFC 8693 token
    /// exchange) and print that one; the profile keeps its own.
    #[arg(long)]
    exchange: bool,
    /// With --exchange: the service the new token is for (repeatable).
    #[arg(long, requires = "exchange")]
    audience: Vec<String>,
    /// With --exchange: a resource URI the new token is for (repeatable).
    #[arg(long, requires = "exchange")]
    resource: Vec<String>,
    /// With --exchange: scopes for the new token (repeatable).
    #[arg(long = "scope", requires = "exchange")]
    scopes: Vec<String>,
}

#[derive(Args, Debug)]
struct Login {
    /// The provider's issuer URL (discovery is used).
    #[arg(long)]
    issuer: String,
    /// Your client id.
    #[arg(long)]
    client_id: String,
    /// Refused: a secret on the command line is visible in `ps`. Use
    /// --client-secret-stdin or SESSION_KIT_CLIENT_SECRET.
    #[arg(long, hide = true)]
    client_secret: Option<String>,
    /// Read the client secret (confidential clients) from the first line of
    /// stdin; SESSION_KIT_CLIENT_SECRET works too.
    #[arg(long)]
    client_secret_stdin: bool,
    /// Authenticate the client with a signed assertion (private_key_jwt)
    /// instead of a secret: the key in FILE, PEM or a private JWK. The key
    /// is kept with the profile's session (owner-only file) for refreshes.
    #[arg(long, value_name = "FILE", conflicts_with = "client_secret_stdin")]
    private_key: Option<PathBuf>,
    /// Scopes to request (repeatable).
    #[arg(long = "scope")]
    scopes: Vec<String>,
    /// The profile to save to.
    #[arg(long, default_value = "default")]
    profile: String,
    /// Port for the loopback redirect (default: any free port).
    #[arg(long)]
    port: Option<u16>,
    /// Exact redirect URI registered with the provider (http://127.0.0.1:PORT/PATH).
    #[arg(long)]
    redirect_uri: Option<String>,
    /// Print the URL instead of opening a browser.
    #[arg(long)]
    no_browser: bool,
    /// Sender-constrained tokens (DPoP): a key pair made for this profile
    /// and kept with its session; the tokens are bound to it and every
    /// request proves it.
    #[arg(long)]
    dpop: bool,
    /// Push the authorization request to the provider first (RFC 9126), so
    /// the browser gets only a reference to it; automatic when the provider
    /// requires it.
    #[arg(long, conflicts_with_all = ["device", "client_credentials", "password"])]
    par: bool,
    /// Use the device flow.
    #[arg(long, conflicts_with_all = ["client_credentials", "password"])]
    device: bool,
    /// Use the client credentials grant.
    #[arg(long, conflicts_with = "password")]
    client_credentials: bool,
    /// Use the password grant (the password is prompted for, never taken from arguments).
    #[arg(long)]
    password: bool,
    /// The username for --password.
    #[arg(long)]
    username: Option<String>,
}

#[derive(Args, Debug)]
struct Request {
    /// HTTP method.
    method: String,
    /// URL.
    url: String,
    /// A header, `Name: value` (repeatable).
    #[arg(short = 'H', long = "header")]
    headers: Vec<String>,
    /// The body, or `@file`.
    #[arg(short = 'd', long = "data")]
    data: Option<String>,
    /// Authenticate with this profile's tokens.
    #[arg(long, conflicts_with_all = ["bearer_stdin", "basic", "api_key"])]
    profile: Option<String>,
    /// Refused: a token on the command line is visible in `ps`. Use
    /// --bearer-stdin or SESSION_KIT_BEARER.
    #[arg(long, hide = true)]
    bearer: Option<String>,
    /// Read a bearer token from the first line of stdin (SESSION_KIT_BEARER,
    /// when set, is used without this flag).
    #[arg(long, conflicts_with_all = ["basic", "api_key"])]
    bearer_stdin: bool,
    /// Basic auth as USER; the password is prompted for (or read from stdin).
    #[arg(long, value_name = "USER", conflicts_with = "api_key")]
    basic: Option<String>,
    /// An API key sent in HEADER; the key comes from SESSION_KIT_API_KEY or
    /// the first line of stdin.
    #[arg(long, value_name = "HEADER")]
    api_key: Option<String>,
    /// Retries after the first attempt (default 3; --no-retry sends once).
    #[arg(long, value_name = "N", value_parser = parse_retries, allow_hyphen_values = true)]
    retries: Option<i64>,
    /// Backoff factor in seconds: waits of factor × 2^(n-1) (default 0.5).
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds, allow_hyphen_values = true)]
    backoff_factor: Option<f64>,
    /// Statuses to retry, comma-separated (default 429,500,502,503,504).
    #[arg(long, value_name = "LIST", value_parser = parse_statuses)]
    status_forcelist: Option<Vec<u16>>,
    /// Cap on one wait, in seconds (default 10).
    #[arg(long, value_name = "SECONDS", value_parser = parse_positive_seconds, allow_hyphen_values = true)]
    max_backoff: Option<f64>,
    /// Time limit for each attempt, in seconds (default 30).
    #[arg(long, value_name = "SECONDS", value_parser = parse_positive_seconds, allow_hyphen_values = true, default_value = "30")]
    timeout: f64,
    /// Time limit for the whole request, retries included, in seconds.
    #[arg(long, value_name = "SECONDS", value_parser = parse_positive_seconds, allow_hyphen_values = true)]
    deadline: Option<f64>,
    /// Send once.
    #[arg(long)]
    no_retry: bool,
}

/// A failure and the exit code it maps to.
struct Failure {
    code: u8,
    message: String,
}

fn usage(message: impl std::fmt::Display) -> Failure {
    Failure {
        code: 2,
        message: message.to_string(),
    }
}

fn failed(message: impl std::fmt::Display) -> Failure {
    Failure {
        code: 1,
        message: message.to_string(),
    }
}

/// The message of an error with its causes, e.g. `token refresh failed: …`.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// `--retries`: a whole number, 1 or more.
fn parse_retries(text: &str) -> Result<i64, String> {
    match text.trim().parse::<i64>() {
        Ok(0) => Err("0 retries means sending once: use --no-retry".into()),
        Ok(n) if n > 0 => Ok(n),
        _ => Err("a whole number of retries, 1 or more".into()),
    }
}

/// A number of seconds, 0 or more.
fn parse_seconds(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(s) if s.is_finite() && s >= 0.0 => Ok(s),
        _ => Err("a number of seconds, 0 or more".into()),
    }
}

/// A number of seconds above 0.
fn parse_positive_seconds(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 && s < 1e9 => Ok(s),
        _ => Err("a number of seconds above 0".into()),
    }
}

/// `--status-forcelist`: HTTP statuses, comma-separated.
fn parse_statuses(text: &str) -> Result<Vec<u16>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse::<u16>()
                .ok()
                .filter(|s| (100..=599).contains(s))
                .ok_or_else(|| format!("`{p}` is not an HTTP status"))
        })
        .collect()
}

/// Refuses a secret given on the command line, naming the safe ways.
fn refuse_argv_secret(flag: &str, instead: &str) -> Failure {
    usage(format!(
        "{flag} on the command line would be visible to every user in `ps`; {instead}"
    ))
}

/// One line of stdin (the secret-reading flags), without its line end.
fn stdin_line(what: &str) -> Result<String, Failure> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| failed(format!("could not read {what} from stdin: {e}")))?;
    let line = line.trim_end_matches(['\r', '\n']).to_owned();
    if line.is_empty() {
        return Err(usage(format!("stdin held no {what}")));
    }
    Ok(line)
}

/// An environment variable's value, if set and not empty.
fn env_secret(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The failure of a profile whose sign-in can't be renewed: says which
/// login to run.
fn relogin(name: &str, cause: &dyn std::error::Error) -> Failure {
    failed(format!(
        "profile {name:?} can no longer be refreshed ({}); sign in again: session-kit login --profile {name} …",
        chain(cause)
    ))
}

/// A failure to get a profile's token: how to sign in again, unless the
/// provider was only unreachable.
fn token_failure(name: &str, error: &session_kit::Error) -> Failure {
    if error.is_retryable() {
        failed(format!(
            "could not get a token for profile {name:?}: {}",
            chain(error)
        ))
    } else {
        relogin(name, error)
    }
}

/// One line on stderr per retry of `request` — on a terminal, and when
/// `--verbose` (which shows every event) is off — so a slow endpoint is
/// never a silent wait.
struct RetryProgress;

#[derive(Default)]
struct RetryFields {
    message: String,
    retry: u64,
    reason: String,
    delay_ms: u64,
}

impl tracing::field::Visit for RetryFields {
    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        match field.name() {
            "retry" => self.retry = value,
            "delay_ms" => self.delay_ms = value,
            _ => {}
        }
    }
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => self.message = format!("{value:?}"),
            "reason" => self.reason = format!("{value:?}"),
            _ => {}
        }
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for RetryProgress {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() != "session_retry" {
            return;
        }
        let mut fields = RetryFields::default();
        event.record(&mut fields);
        if fields.message == "retrying" {
            eprintln!(
                "retry {} in {:.1} s ({})",
                fields.retry,
                fields.delay_ms as f64 / 1000.0,
                fields.reason
            );
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.verbose {
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_target(false)
            .without_time()
            .init();
    } else if matches!(cli.command, Command::Request(_)) && std::io::stderr().is_terminal() {
        use tracing_subscriber::layer::SubscriberExt as _;
        let _ = tracing::subscriber::set_global_default(
            tracing_subscriber::registry().with(RetryProgress),
        );
    }
    let profiles = Profiles::open(cli.store.clone());
    let result = match cli.command {
        Command::Login(login) => run_login(&profiles, login, cli.json).await,
        Command::Token(t) => run_token(&profiles, &t, cli.json).await,
        Command::Request(r) => run_request(&profiles, r, cli.json).await,
        Command::Status(p) => run_status(&profiles, &p.profile, cli.json).await,
        Command::Profiles => run_profiles(&profiles, cli.json).await,
        Command::Logout(p) => run_logout(&profiles, &p.profile, cli.json).await,
        Command::Serve { bind } => run_serve(bind, cli.verbose).await,
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            eprintln!("session-kit: {}", failure.message);
            if cli.json {
                println!(
                    "{}",
                    json!({"error": failure.message, "exit_code": failure.code})
                );
            }
            ExitCode::from(failure.code)
        }
    }
}

fn read_password() -> Result<String, Failure> {
    if std::io::stdin().is_terminal() {
        rpassword::prompt_password("Password: ")
            .map_err(|e| failed(format!("could not read the password: {e}")))
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| failed(format!("could not read the password: {e}")))?;
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    }
}

/// Animates a spinner on stderr until dropped (only on a terminal).
struct Spinner(Option<tokio::task::JoinHandle<()>>);

impl Spinner {
    fn start(message: &'static str) -> Self {
        if !std::io::stderr().is_terminal() {
            eprintln!("{message}");
            return Self(None);
        }
        Self(Some(tokio::spawn(async move {
            const FRAMES: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
            for frame in FRAMES.iter().cycle() {
                eprint!("\r{frame} {message}");
                let _ = std::io::stderr().flush();
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })))
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
            eprint!("\r\x1b[2K");
        }
    }
}

fn open_browser(url: &str) {
    for opener in ["xdg-open", "open"] {
        if std::process::Command::new(opener)
            .arg(url)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .is_ok()
        {
            return;
        }
    }
}

async fn run_login(profiles: &Profiles, login: Login, json_out: bool) -> Result<u8, Failure> {
    if login.client_secret.is_some() {
        return Err(refuse_argv_secret(
            "--client-secret",
            "use --client-secret-stdin or SESSION_KIT_CLIENT_SECRET",
        ));
    }
    let client_secret = if login.client_secret_stdin {
        Some(stdin_line("client secret")?)
    } else {
        env_secret("SESSION_KIT_CLIENT_SECRET")
    };
    let private_key = match &login.private_key {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| usage(format!("--private-key {}: {e}", path.display())))?;
            let key = profile::signing_key(&text)
                .map_err(|e| usage(format!("--private-key {}: {e}", path.display())))?;
            Some((text, key))
        }
        None => None,
    };
    if private_key.is_some() && client_secret.is_some() {
        return Err(usage(
            "--private-key replaces the client secret: unset SESSION_KIT_CLIENT_SECRET",
        ));
    }
    let http = OAuthHttp::new().map_err(usage)?;
    let metadata = ProviderMetadata::discover(&http, &login.issuer)
        .await
        .map_err(|e| match e {
            session_kit::oauth::Error::Configuration { .. }
            | session_kit::oauth::Error::InsecureTransport { .. } => usage(chain(&e)),
            e => failed(chain(&e)),
        })?;
    // DPoP: the key is made in a scratch state, whose copy of it is saved
    // with the profile's session below.
    let dpop = if login.dpop {
        let scratch = SessionState::in_memory();
        let key = DpopKey::for_state(&scratch)
            .await
            .map_err(|e| failed(chain(&e)))?;
        Some((key, scratch))
    } else {
        None
    };
    let mut builder = OAuthClient::builder(metadata.clone(), &login.client_id)
        .scopes(login.scopes.clone())
        .pushed_authorization_requests(login.par);
    if let Some((key, _)) = &dpop {
        builder = builder.dpop(key.clone());
    }
    if let Some(secret) = &client_secret {
        builder = builder.client_secret(secret.clone());
    }
    if let Some((_, key)) = &private_key {
        builder = builder.private_key_jwt(key.clone());
    }
    let client = builder.build().map_err(usage)?;
    let (grant, tokens) = if login.client_credentials {
        if client_secret.is_none() && private_key.is_none() {
            return Err(usage(
                "--client-credentials needs the client secret (--client-secret-stdin or SESSION_KIT_CLIENT_SECRET) or --private-key",
            ));
        }
        ("client_credentials", client.client_credentials().await)
    } else if login.password {
        let username = match login.username.clone() {
            Some(u) => u,
            None => {
                eprint!("Username: ");
                let _ = std::io::stderr().flush();
                let mut u = String::new();
                std::io::stdin()
                    .lock()
                    .read_line(&mut u)
                    .map_err(|e| failed(e.to_string()))?;
                u.trim().to_owned()
            }
        };
        let password = read_password()?;
        (
            "password",
            client.password(&username, &password.into()).await,
        )
    } else if login.device {
        let device = client
            .device_authorization()
            .await
            .map_err(|e| failed(chain(&e)))?;
        eprintln!(
            "Open {} and enter the code {}",
            device.verification_uri(),
            device.user_code()
        );
        let _spinner = Spinner::start("Waiting for approval…");
        ("interactive", client.poll_device(&device).await)
    } else {
        let (port, path) = match &login.redirect_uri {
            Some(uri) => {
                let url = url::Url::parse(uri).map_err(|_| usage("--redirect-uri is not a URL"))?;
                if url.scheme() != "http"
                    || !matches!(url.host_str(), Some("127.0.0.1" | "localhost"))
                {
                    return Err(usage(
                        "--redirect-uri must be http://127.0.0.1:PORT/PATH (a loopback address)",
                    ));
                }
                (url.port().or(login.port), url.path().to_owned())
            }
            None => (login.port, "/callback".to_owned()),
        };
        let listener = LoopbackRedirect::bind(port, &path)
            .await
            .map_err(|e| failed(chain(&e)))?;
        let no_browser = login.no_browser;
        let mut spinner = None;
        let tokens = client
            .authorize_with_loopback(listener, Duration::from_secs(300), |url| {
                eprintln!("Open this URL to sign in:\n{url}");
                if !no_browser {
                    open_browser(url.as_str());
                }
                spinner = Some(Spinner::start("Waiting for the browser…"));
            })
            .await;
        drop(spinner);
        ("interactive", tokens)
    };
    let tokens = tokens.map_err(|e| failed(chain(&e)))?;
    let now = SharedClock::default().now();
    let mut data = SessionData::with_tokens(tokens, now);
    // Whatever the grant, a confidential client needs its secret to refresh:
    // it is kept with the session, in the same owner-only store.
    if let Some(secret) = &client_secret {
        data.credentials
            .insert("client_secret".into(), profile::secret_credential(secret));
    }
    if let Some(kept) = dpop.and_then(|(_, scratch)| scratch.session()) {
        data.credentials.extend(kept.credentials);
    }
    if let Some((text, _)) = &private_key {
        data.credentials.insert(
            profile::PRIVATE_KEY.into(),
            profile::secret_credential(text),
        );
    }
    let profile = Profile {
        name: login.profile.clone(),
        issuer: login.issuer.clone(),
        client_id: login.client_id.clone(),
        token_endpoint: metadata.token_endpoint.to_string(),
        revocation_endpoint: metadata
            .revocation_endpoint
            .as_ref()
            .map(ToString::to_string),
        scopes: login.scopes.clone(),
        grant: grant.to_owned(),
    };
    profiles
        .save(&profile, &data)
        .await
        .map_err(|e| failed(chain(&e)))?;
    if json_out {
        println!(
            "{}",
            json!({"profile": profile.name, "store": profiles.path})
        );
    } else {
        eprintln!(
            "Signed in; profile {:?} saved in {}",
            profile.name,
            profiles.path.display()
        );
    }
    Ok(0)
}

async fn profile_or_fail(profiles: &Profiles, name: &str) -> Result<Profile, Failure> {
    profiles
        .load(name)
        .await
        .map_err(|e| failed(chain(&e)))?
        .ok_or_else(|| {
            usage(format!(
                "no profile {name:?}; run `session-kit login` first"
            ))
        })
}

async fn run_token(profiles: &Profiles, args: &TokenArgs, json_out: bool) -> Result<u8, Failure> {
    let name = args.profile.as_str();
    let profile = profile_or_fail(profiles, name).await?;
    let manager = profiles.token_manager(&profile).await.map_err(usage)?;
    let mut tokens = manager.token().await.map_err(|e| token_failure(name, &e))?;
    if args.exchange {
        let mut request = TokenExchange::new(tokens.access_token().expose_secret());
        for audience in &args.audience {
            request = request.audience(audience);
        }
        for resource in &args.resource {
            request = request.resource(resource);
        }
        if !args.scopes.is_empty() {
            request = request.scopes(args.scopes.clone());
        }
        let client = profiles.client(&profile).await.map_err(usage)?;
        tokens = client
            .exchange_token(&request)
            .await
            .map_err(|e| failed(chain(&e)))?;
    }
    if json_out {
        let expires = tokens.expires_at().map(|t| t.unix_timestamp());
        println!(
            "{}",
            json!({"access_token": tokens.access_token().expose_secret(), "token_type": tokens.token_type(), "expires_at": expires})
        );
    } else {
        println!("{}", tokens.access_token().expose_secret());
    }
    Ok(0)
}

/// The request's retry policy: the flags over interactive defaults (3
/// retries, waits of 0.5 s, 1 s, 2 s, at most 10 s each), so a dead
/// endpoint is reported in seconds, not after a minute of silence.
fn retry_policy(r: &Request) -> Result<Option<RetryPolicy>, Failure> {
    if r.no_retry {
        return Ok(None);
    }
    let mut builder = RetryPolicy::builder()
        .retries(r.retries.unwrap_or(3))
        .backoff_factor(r.backoff_factor.unwrap_or(0.5))
        .max_backoff(Duration::from_secs_f64(r.max_backoff.unwrap_or(10.0)));
    if let Some(list) = &r.status_forcelist {
        builder = builder.status_forcelist(list.iter().copied());
    }
    if let Some(deadline) = r.deadline {
        builder = builder.deadline(Duration::from_secs_f64(deadline));
    }
    builder.build().map(Some).map_err(usage)
}

async fn run_request(profiles: &Profiles, r: Request, json_out: bool) -> Result<u8, Failure> {
    let method = http::Method::from_bytes(r.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| usage("invalid HTTP method"))?;
    let policy = retry_policy(&r)?;
    if r.bearer.is_some() {
        return Err(refuse_argv_secret(
            "--bearer",
            "use --bearer-stdin or SESSION_KIT_BEARER",
        ));
    }
    if r.basic.as_deref().is_some_and(|b| b.contains(':')) {
        return Err(refuse_argv_secret(
            "a password in --basic",
            "give --basic USER and type the password when asked (or pipe it)",
        ));
    }
    if r.api_key.as_deref().is_some_and(|k| k.contains('=')) {
        return Err(refuse_argv_secret(
            "an API key in --api-key",
            "give --api-key HEADER and the key in SESSION_KIT_API_KEY (or pipe it)",
        ));
    }
    let mut builder = Session::builder()
        .allow_insecure_http(false)
        .timeout(Duration::from_secs_f64(r.timeout));
    builder = match policy {
        Some(policy) => builder.retry(policy),
        None => builder.no_retry(),
    };
    if let Some(name) = &r.profile {
        let profile = profile_or_fail(profiles, name).await?;
        builder = builder.tokens(profiles.token_manager(&profile).await.map_err(usage)?);
    } else if r.bearer_stdin {
        builder = builder.auth(BearerAuth::new(stdin_line("bearer token")?));
    } else if let Some(user) = &r.basic {
        let password = read_password()?;
        builder = builder.auth(BasicAuth::new(user, password));
    } else if let Some(header) = &r.api_key {
        let key = match env_secret("SESSION_KIT_API_KEY") {
            Some(key) => key,
            None => stdin_line("API key")?,
        };
        builder = builder.auth(ApiKeyAuth::header(header.trim(), key));
    } else if let Some(token) = env_secret("SESSION_KIT_BEARER") {
        builder = builder.auth(BearerAuth::new(token));
    }
    let session = builder.build().map_err(|e| usage(chain(&e)))?;
    let mut request = session.request(method, &r.url);
    for header in &r.headers {
        let (name, value) = header
            .split_once(':')
            .ok_or_else(|| usage(format!("header {header:?} must be `Name: value`")))?;
        request = request.header(name.trim(), value.trim());
    }
    if let Some(data) = &r.data {
        let body = match data.strip_prefix('@') {
            Some(path) => {
                std::fs::read(path).map_err(|e| usage(format!("could not read {path}: {e}")))?
            }
            None => data.clone().into_bytes(),
        };
        request = request.body(body);
    }
    let response = request.send().await.map_err(|e| match e {
        session_kit::auth::Error::InvalidUrl { .. }
        | session_kit::auth::Error::InsecureTransport { .. }
        | session_kit::auth::Error::UnusableCredential(_) => usage(chain(&e)),
        e if r.profile.is_some()
            && (e.is_refresh_token_dead()
                || e.is_invalid_credentials()
                || e.is_not_authenticated()) =>
        {
            relogin(r.profile.as_deref().unwrap_or_default(), &e)
        }
        e => failed(chain(&e)),
    })?;
    let status = response.status();
    let headers: serde_json::Map<String, serde_json::Value> = response
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                json!(String::from_utf8_lossy(value.as_bytes())),
            )
        })
        .collect();
    let stats = session.stats();
    let body = response
        .bytes()
        .await
        .map_err(|e| failed(e.without_url()))?;
    let attempts = stats.retries + 1;
    if json_out {
        // One document: the body as JSON when it is JSON, else as text.
        let body = serde_json::from_slice::<serde_json::Value>(&body)
            .unwrap_or_else(|_| json!(String::from_utf8_lossy(&body)));
        println!(
            "{}",
            json!({
                "status": status.as_u16(),
                "attempts": attempts,
                "retries": stats.retries,
                "headers": headers,
                "body": body,
            })
        );
    } else {
        std::io::stdout()
            .write_all(&body)
            .map_err(|e| failed(e.to_string()))?;
        eprintln!(
            "HTTP {status} · {attempts} attempt(s), {} retr{}",
            stats.retries,
            if stats.retries == 1 { "y" } else { "ies" }
        );
    }
    Ok(if status.is_success() { 0 } else { 1 })
}

async fn run_status(profiles: &Profiles, name: &str, json_out: bool) -> Result<u8, Failure> {
    profile_or_fail(profiles, name).await?;
    let data = profiles
        .session(name)
        .await
        .map_err(|e| failed(chain(&e)))?;
    let now = SharedClock::default().now();
    let policy = ExpiryPolicy::default();
    let (valid, summary) = match &data {
        Some(d) => (d.is_valid(now, &policy), d.summary(now, &policy)),
        None => (false, "Session: NONE".to_owned()),
    };
    if json_out {
        println!(
            "{}",
            json!({"profile": name, "valid": valid, "summary": summary})
        );
    } else {
        println!("{summary}");
    }
    // Like `gh auth status`: scripts can test it.
    Ok(if valid { 0 } else { 1 })
}

async fn run_profiles(profiles: &Profiles, json_out: bool) -> Result<u8, Failure> {
    let now = SharedClock::default().now();
    let policy = ExpiryPolicy::default();
    let mut rows = Vec::new();
    for profile in profiles.list().await.map_err(|e| failed(chain(&e)))? {
        let data = profiles.session(&profile.name).await.ok().flatten();
        // "valid": the stored access token serves now; "refreshable": it
        // doesn't, but a refresh token (or a saved client secret) can get
        // another — whether the provider still accepts it shows on use.
        let state = match &data {
            Some(d) if d.is_valid(now, &policy) => "valid",
            Some(d)
                if d.tokens.as_ref().and_then(|t| t.refresh_token()).is_some()
                    || d.credentials.contains_key("client_secret") =>
            {
                "refreshable"
            }
            _ => "expired",
        };
        rows.push((profile, state));
    }
    if rows.is_empty() && !json_out {
        eprintln!(
            "No profiles in {}; sign in with `session-kit login`.",
            profiles.path.display()
        );
    }
    if json_out {
        let list: Vec<_> = rows
            .iter()
            .map(|(p, state)| {
                json!({"profile": p.name, "issuer": p.issuer, "valid": *state == "valid", "state": state})
            })
            .collect();
        println!("{}", serde_json::Value::Array(list));
    } else {
        for (p, state) in rows {
            println!("{}\t{state}\t{}", p.name, p.issuer);
        }
    }
    Ok(0)
}

async fn run_logout(profiles: &Profiles, name: &str, json_out: bool) -> Result<u8, Failure> {
    let profile = profile_or_fail(profiles, name).await?;
    let manager = profiles.token_manager(&profile).await.map_err(usage)?;
    // Load the stored tokens, then revoke and wipe.
    if let Some(tokens) = profiles
        .session(name)
        .await
        .ok()
        .flatten()
        .and_then(|d| d.tokens)
    {
        manager
            .set_tokens(tokens)
            .await
            .map_err(|e| failed(chain(&e)))?;
    }
    let revoked = manager.sign_out().await;
    profiles.remove(name).await.map_err(|e| failed(chain(&e)))?;
    match revoked {
        Ok(()) => {
            if json_out {
                println!("{}", json!({"profile": name, "signed_out": true}));
            } else {
                eprintln!("Signed out of profile {name:?}");
            }
            Ok(0)
        }
        Err(e) => Err(failed(format!(
            "the profile was removed, but revocation failed: {}",
            chain(&e)
        ))),
    }
}

async fn run_serve(bind: Option<String>, verbose: bool) -> Result<u8, Failure> {
    use session_kit::server::{SessionConfig, SessionLayer, SessionManager, SessionRoutes};
    let config = SessionConfig::from_env().map_err(usage)?;
    if !verbose {
        // `--verbose` installed a subscriber already; otherwise
        // SESSION_LOG_LEVEL decides.
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_max_level(config.tracing_level())
            .init();
    }
    let bind = bind
        .or_else(|| std::env::var("SESSION_BIND").ok())
        .unwrap_or_else(|| "127.0.0.1:8000".to_owned());
    let manager = SessionManager::sqlite(config)
        .await
        .map_err(|e| failed(chain(&e)))?;
    manager.start_cleanup();
    let app = SessionRoutes::new(manager.clone())
        .into_router()
        .route(
            "/health",
            axum::routing::get(|| async { axum::Json(json!({"status": "ok"})) }),
        )
        .layer(SessionLayer::new(manager));
    let listener = tokio::net::TcpListener::bind(&bind)
        .await
        .map_err(|e| usage(format!("cannot listen on {bind}: {e}")))?;
    eprintln!(
        "session server on http://{}",
        listener.local_addr().map_err(|e| failed(e.to_string()))?
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| failed(e.to_string()))?;
    Ok(0)
}
