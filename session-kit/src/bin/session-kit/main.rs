//! `session-kit`: log in to an OAuth provider, print a fresh token, make
//! authenticated requests with retries, and serve sessions — from a terminal.
//!
//! Exit codes: 0 success; 1 an HTTP error (after retries) or a failed
//! operation; 2 bad usage or configuration.

#![forbid(unsafe_code)]

mod profile;

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use serde_json::json;
use session_kit::auth::{ApiKeyAuth, BasicAuth, BearerAuth, Session};
use session_kit::oauth::{LoopbackRedirect, OAuthClient, OAuthHttp, ProviderMetadata};
use session_kit::retry::{Error as RetryError, RetryPolicy};
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
    /// Print a valid access token (refreshing first if needed).
    Token(ProfileArg),
    /// Make an authenticated request with retries.
    Request(Request),
    /// Print the profile's summary line.
    Status(ProfileArg),
    /// List profiles and whether they are valid.
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
struct Login {
    /// The provider's issuer URL (discovery is used).
    #[arg(long)]
    issuer: String,
    /// Your client id.
    #[arg(long)]
    client_id: String,
    /// Your client secret (confidential clients).
    #[arg(long)]
    client_secret: Option<String>,
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
    #[arg(long, conflicts_with_all = ["bearer", "basic", "api_key"])]
    profile: Option<String>,
    /// A bearer token.
    #[arg(long)]
    bearer: Option<String>,
    /// Basic credentials `user:password`.
    #[arg(long)]
    basic: Option<String>,
    /// An API key header, `Header=Value`.
    #[arg(long)]
    api_key: Option<String>,
    /// Retries (positive integer; default 5).
    #[arg(long, allow_hyphen_values = true)]
    retries: Option<String>,
    /// Backoff factor in seconds (default 2.0).
    #[arg(long, allow_hyphen_values = true)]
    backoff_factor: Option<String>,
    /// Statuses to retry, comma-separated (default 429,500,502,503,504).
    #[arg(long)]
    status_forcelist: Option<String>,
    /// Cap on one wait, in seconds.
    #[arg(long)]
    max_backoff: Option<u64>,
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

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.verbose {
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_target(false)
            .without_time()
            .init();
    }
    let profiles = Profiles::open(cli.store.clone());
    let result = match cli.command {
        Command::Login(login) => run_login(&profiles, login, cli.json).await,
        Command::Token(p) => run_token(&profiles, &p.profile, cli.json).await,
        Command::Request(r) => run_request(&profiles, r, cli.json).await,
        Command::Status(p) => run_status(&profiles, &p.profile, cli.json).await,
        Command::Profiles => run_profiles(&profiles, cli.json).await,
        Command::Logout(p) => run_logout(&profiles, &p.profile).await,
        Command::Serve { bind } => run_serve(bind, cli.verbose).await,
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            eprintln!("session-kit: {}", failure.message);
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
    let http = OAuthHttp::new().map_err(usage)?;
    let metadata = ProviderMetadata::discover(&http, &login.issuer)
        .await
        .map_err(|e| failed(chain(&e)))?;
    let mut builder =
        OAuthClient::builder(metadata.clone(), &login.client_id).scopes(login.scopes.clone());
    if let Some(secret) = &login.client_secret {
        builder = builder.client_secret(secret.clone());
    }
    let client = builder.build().map_err(usage)?;
    let (grant, tokens) = if login.client_credentials {
        if login.client_secret.is_none() {
            return Err(usage("--client-credentials needs --client-secret"));
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
    if grant == "client_credentials"
        && let Some(secret) = &login.client_secret
    {
        data.credentials
            .insert("client_secret".into(), profile::secret_credential(secret));
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

async fn run_token(profiles: &Profiles, name: &str, json_out: bool) -> Result<u8, Failure> {
    let profile = profile_or_fail(profiles, name).await?;
    let manager = profiles.token_manager(&profile).await.map_err(usage)?;
    let tokens = manager.token().await.map_err(|e| failed(chain(&e)))?;
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

fn retry_policy(r: &Request) -> Result<Option<RetryPolicy>, Failure> {
    if r.no_retry {
        return Ok(None);
    }
    let mut builder = RetryPolicy::builder();
    if let Some(text) = &r.retries {
        let n = text.trim().parse::<i64>().map_err(|_| {
            usage(RetryError::InvalidRetry {
                value: text.clone(),
            })
        })?;
        builder = builder.retries(n);
    }
    if let Some(text) = &r.backoff_factor {
        let f = text.trim().parse::<f64>().map_err(|_| {
            usage(RetryError::InvalidBackoffFactor {
                value: text.clone(),
            })
        })?;
        builder = builder.backoff_factor(f);
    }
    if let Some(text) = &r.status_forcelist {
        let mut list = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            list.push(part.parse::<u16>().map_err(|_| {
                usage(RetryError::InvalidStatusForcelist {
                    value: part.to_owned(),
                })
            })?);
        }
        builder = builder.status_forcelist(list);
    }
    if let Some(secs) = r.max_backoff {
        builder = builder.max_backoff(Duration::from_secs(secs));
    }
    builder.build().map(Some).map_err(usage)
}

async fn run_request(profiles: &Profiles, r: Request, json_out: bool) -> Result<u8, Failure> {
    let method = http::Method::from_bytes(r.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| usage("invalid HTTP method"))?;
    let policy = retry_policy(&r)?;
    let mut builder = Session::builder().allow_insecure_http(false);
    builder = match policy {
        Some(policy) => builder.retry(policy),
        None => builder.no_retry(),
    };
    if let Some(name) = &r.profile {
        let profile = profile_or_fail(profiles, name).await?;
        builder = builder.tokens(profiles.token_manager(&profile).await.map_err(usage)?);
    } else if let Some(token) = &r.bearer {
        builder = builder.auth(BearerAuth::new(token));
    } else if let Some(basic) = &r.basic {
        let (user, pass) = basic
            .split_once(':')
            .ok_or_else(|| usage("--basic must be user:password"))?;
        builder = builder.auth(BasicAuth::new(user, pass));
    } else if let Some(key) = &r.api_key {
        let (name, value) = key
            .split_once('=')
            .ok_or_else(|| usage("--api-key must be Header=Value"))?;
        builder = builder.auth(ApiKeyAuth::header(name.trim(), value));
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
        e => failed(chain(&e)),
    })?;
    let status = response.status();
    let stats = session.stats();
    let body = response
        .bytes()
        .await
        .map_err(|e| failed(e.without_url()))?;
    std::io::stdout()
        .write_all(&body)
        .map_err(|e| failed(e.to_string()))?;
    let attempts = stats.retries + 1;
    if json_out {
        eprintln!(
            "{}",
            json!({"status": status.as_u16(), "attempts": attempts, "retries": stats.retries})
        );
    } else {
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
    Ok(0)
}

async fn run_profiles(profiles: &Profiles, json_out: bool) -> Result<u8, Failure> {
    let now = SharedClock::default().now();
    let policy = ExpiryPolicy::default();
    let mut rows = Vec::new();
    for profile in profiles.list().await.map_err(|e| failed(chain(&e)))? {
        let valid = profiles
            .session(&profile.name)
            .await
            .ok()
            .flatten()
            .is_some_and(|d| {
                d.is_valid(now, &policy)
                    || d.tokens.as_ref().and_then(|t| t.refresh_token()).is_some()
            });
        rows.push((profile, valid));
    }
    if json_out {
        let list: Vec<_> = rows
            .iter()
            .map(|(p, v)| json!({"profile": p.name, "issuer": p.issuer, "valid": v}))
            .collect();
        println!("{}", serde_json::Value::Array(list));
    } else {
        for (p, valid) in rows {
            println!(
                "{}\t{}\t{}",
                p.name,
                if valid { "valid" } else { "expired" },
                p.issuer
            );
        }
    }
    Ok(0)
}

async fn run_logout(profiles: &Profiles, name: &str) -> Result<u8, Failure> {
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
            eprintln!("Signed out of profile {name:?}");
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
