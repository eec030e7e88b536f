//! session-kit in a few seconds, with nothing to install.
//!
//! Starts a demo identity provider and API on 127.0.0.1, then: signs in
//! (OAuth password grant), calls the API through injected 503s and a 429
//! with Retry-After (the retries are shown), lets the short-lived token
//! expire and refreshes it, saves the session to a file, restores it in a
//! second session without signing in, and signs out (revoke, then wipe).
//!
//! `cargo run --example quickstart -- --help` lists the options.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use session_kit::auth::{Session, TokenManager};
use session_kit::oauth::{Grant, OAuthClient, OAuthHttp, OAuthTokenProvider, ProviderMetadata};
use session_kit::retry::RetryPolicy;
use session_kit::store::JsonFileStore;
use session_kit::{SessionStore, SharedSessionStore};
use session_kit_examples::demo::{Demo, Failure, USER};
use session_kit_examples::step;

const HELP: &str = "\
cargo run --example quickstart [-- OPTIONS]

Runs against an in-process demo identity provider and API (default), or a real
OAuth provider with the client credentials grant:

  --issuer URL          the provider's issuer (discovery is used)
  --client-id ID        your client id
  (the client secret comes from SESSION_KIT_CLIENT_SECRET, never from the
   command line, where `ps` shows it)
  --api URL             an API URL to GET with the token
  -h, --help            this text
";

struct Options {
    issuer: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    api: Option<String>,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        issuer: None,
        client_id: None,
        client_secret: std::env::var("SESSION_KIT_CLIENT_SECRET").ok(),
        api: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "-h" | "--help" => {
                print!("{HELP}");
                std::process::exit(0);
            }
            "--issuer" => o.issuer = Some(value()?),
            "--client-id" => o.client_id = Some(value()?),
            "--client-secret" => {
                return Err(
                    "--client-secret is refused: a secret on the command line is visible in `ps`; \
                     set SESSION_KIT_CLIENT_SECRET instead"
                        .into(),
                );
            }
            "--api" => o.api = Some(value()?),
            other => return Err(format!("unknown option {other}\n\n{HELP}")),
        }
    }
    Ok(o)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = match options() {
        Ok(o) => o,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    // Show retry events as they happen.
    tracing_subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_level(false)
        .init();
    if let Some(issuer) = options.issuer {
        return real_provider(
            &issuer,
            options.client_id,
            options.client_secret,
            options.api,
        )
        .await;
    }
    let started = Instant::now();
    println!("session-kit quickstart");

    step("1. A demo identity provider and API start on 127.0.0.1 (tokens live 6 s)");
    let demo = Demo::start(6).await;
    println!("issuer {}", demo.issuer);
    let provider = ProviderMetadata::discover(&OAuthHttp::new()?, &demo.issuer).await?;
    let client = OAuthClient::builder(provider, "service")
        .client_secret("service-secret")
        .build()?;

    step("2. Sign in (OAuth 2.0 password grant); the session will persist to a file");
    let dir = std::env::temp_dir().join(format!("session-kit-quickstart-{}", std::process::id()));
    let path = dir.join("sessions.json");
    let store = SharedSessionStore::new(JsonFileStore::new(&path));
    let refreshes = Arc::new(AtomicUsize::new(0));
    let seen = refreshes.clone();
    let grant = Grant::Password {
        username: USER.0.into(),
        password: USER.1.to_owned().into(),
    };
    let tokens = TokenManager::builder(OAuthTokenProvider::new(client.clone(), grant))
        .on_change(move |t| {
            let n = seen.fetch_add(1, Ordering::SeqCst);
            let what = if n == 0 {
                "signed in".to_owned()
            } else {
                format!("refreshed (#{n})")
            };
            let lifetime = t.expiry().lifetime().unwrap_or_default();
            println!("  token {what}: lives {}s", lifetime.as_secs());
        })
        .build();
    let retry = RetryPolicy::builder()
        .retries(4)
        .backoff_factor(0.25)
        .build()?;
    let session = Session::builder()
        .base_url(&demo.api)
        .tokens(tokens)
        .retry(retry)
        .store(store.clone(), "quickstart")
        .build()?;
    if let Some(tokens) = session.tokens() {
        tokens.token().await?;
    }

    step("3. Call the API; it answers 503, 503, then 429 with Retry-After: 1");
    demo.fail_next(&[
        Failure::Unavailable,
        Failure::Unavailable,
        Failure::TooManyRequests(1),
    ]);
    let response = session.get("orders").send().await?;
    let status = response.status();
    let body: serde_json::Value = response
        .json()
        .await
        .map_err(session_kit::auth::Error::from)?;
    println!(
        "GET /api/orders -> {status} after {} attempts; {} orders",
        session.stats().retries + 1,
        body["orders"].as_array().map_or(0, Vec::len)
    );

    step("4. Time passes: the token expires; the next call refreshes it first");
    // Six-second tokens count as expired in their last 1.5 s.
    tokio::time::sleep(Duration::from_millis(4700)).await;
    let response = session.get("orders").send().await?;
    println!(
        "GET /api/orders -> {} (token refreshes so far: {})",
        response.status(),
        session.stats().refreshes.saturating_sub(1)
    );
    println!("{}", session.summary());

    step("5. The session is saved");
    session.close().await?;
    println!("saved to {} (mode 0600)", path.display());

    step("6. A second session restores it: no sign-in");
    let calls_before = demo.token_calls();
    let tokens =
        TokenManager::builder(OAuthTokenProvider::new(client.clone(), Grant::Interactive)).build();
    let restored = Session::builder()
        .base_url(&demo.api)
        .tokens(tokens)
        .store(store.clone(), "quickstart")
        .build()?;
    let response = restored.get("orders").send().await?;
    println!(
        "GET /api/orders -> {} with the restored token; token endpoint calls: {} -> {}",
        response.status(),
        calls_before,
        demo.token_calls()
    );

    step("7. Sign out: revoke, then wipe memory and store");
    restored.sign_out().await?;
    let gone = store.load("quickstart").await?.is_none();
    println!(
        "revoked {} tokens; stored session removed: {gone}",
        demo.revocations()
    );
    let err = session.get("orders").send().await.unwrap_err();
    println!("the first session is closed: {err}");

    let _ = std::fs::remove_dir_all(dir);
    println!("\ndone in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// The real-provider path: discovery, client credentials, one GET.
async fn real_provider(
    issuer: &str,
    client_id: Option<String>,
    secret: Option<String>,
    api: Option<String>,
) -> Result<(), Box<dyn std::error::Error>> {
    let client_id = client_id.ok_or("--client-id is required with --issuer")?;
    let provider = ProviderMetadata::discover(&OAuthHttp::new()?, issuer).await?;
    let mut builder = OAuthClient::builder(provider, client_id);
    if let Some(secret) = secret {
        builder = builder.client_secret(secret);
    }
    let client = builder.build()?;
    let tokens =
        TokenManager::builder(OAuthTokenProvider::new(client, Grant::ClientCredentials)).build();
    let token = tokens.token().await?;
    println!("token obtained; expires at {:?}", token.expires_at());
    if let Some(api) = api {
        let session = Session::builder().tokens(tokens).build()?;
        let response = session.get(&api).send().await?;
        println!("GET {api} -> {}", response.status());
    }
    Ok(())
}
