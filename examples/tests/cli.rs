//! The `session-kit` binary end to end against the demo server: login
//! through the loopback listener (a test client plays the browser), device
//! and client credentials logins, token refresh, requests with retries
//! counted server-side, exit codes, the password never taken from argv,
//! logout revoking.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use session_kit::store::JsonFileStore;
use session_kit::{Expiry, SessionData, SessionStore, StoreRecord};
use session_kit_examples::demo::{Demo, Failure};

static N: AtomicUsize = AtomicUsize::new(0);

/// `target/<profile>/session-kit`, next to this test's own binary, built
/// once per test run (`cargo test` builds the binary only as a test harness).
fn binary() -> PathBuf {
    static BUILT: std::sync::Once = std::sync::Once::new();
    BUILT.call_once(|| {
        let status = Command::new(env!("CARGO"))
            .args([
                "build",
                "--quiet",
                "-p",
                "session-kit",
                "--all-features",
                "--bin",
                "session-kit",
            ])
            .status()
            .expect("cargo");
        assert!(status.success(), "building the session-kit binary failed");
    });
    let me = std::env::current_exe().unwrap();
    me.parent().unwrap().parent().unwrap().join("session-kit")
}

fn store() -> PathBuf {
    std::env::temp_dir()
        .join(format!(
            "session-kit-cli-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ))
        .join("sessions.json")
}

async fn run(store: &Path, args: &[&str]) -> Output {
    run_with_stdin(store, args, None).await
}

async fn run_with_stdin(store: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    run_with_env(store, args, stdin, &[]).await
}

async fn run_with_env(
    store: &Path,
    args: &[&str],
    stdin: Option<&str>,
    env: &[(&str, &str)],
) -> Output {
    let mut command = Command::new(binary());
    for (name, value) in env {
        command.env(name, value);
    }
    command
        .arg("--store")
        .arg(store)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let stdin = stdin.map(str::to_owned);
    tokio::task::spawn_blocking(move || {
        let mut child = command
            .spawn()
            .expect("the session-kit binary (built with the cli feature)");
        if let Some(text) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
        }
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `login` for the public client through the loopback listener, this
/// test playing the browser; returns the URL the browser was sent to.
async fn browser_login(demo: &Demo, store: &Path, extra: &[&str]) -> String {
    let mut child = Command::new(binary())
        .arg("--store")
        .arg(store)
        .args([
            "login",
            "--issuer",
            &demo.issuer,
            "--client-id",
            "quickstart",
            "--no-browser",
            "--profile",
            "web",
        ])
        .args(extra)
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    // Read stderr (to the end, so the pipe stays open) and pass on the URL.
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let drain = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.starts_with("http://") {
                let _ = tx.send(line);
            }
        }
    });
    let url = tokio::task::spawn_blocking(move || rx.recv().expect("a URL on stderr"))
        .await
        .unwrap();
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let back = browser.get(&url).send().await.unwrap();
    let location = back.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("http://127.0.0.1:") && location.contains("/callback?"));
    assert_eq!(browser.get(location).send().await.unwrap().status(), 200);
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    drain.join().unwrap();
    assert!(status.success());
    url
}

#[tokio::test]
async fn login_through_the_loopback_listener_then_token_status_profiles() {
    let demo = Demo::start(3600).await;
    let store = store();
    let url = browser_login(&demo, &store, &[]).await;
    assert!(url.contains("code_challenge_method=S256"));

    let out = run(&store, &["token", "--profile", "web"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let token = text(&out.stdout);
    assert!(
        token.starts_with("demo-at-") && token.ends_with('\n') && token.lines().count() == 1,
        "{token:?}"
    );
    assert!(demo.is_live(token.trim()));

    let out = run(&store, &["status", "--profile", "web"]).await;
    assert!(text(&out.stdout).starts_with("Session: VALID | Tokens: VALID"));
    let out = run(&store, &["--json", "profiles"]).await;
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["profile"], "web");
    assert_eq!(list[0]["valid"], true);
    assert_eq!(list[0]["state"], "valid");
}

#[tokio::test]
async fn token_refreshes_an_expired_token_first() {
    let demo = Demo::start(3600).await;
    let store = store();
    let out = run_with_stdin(
        &store,
        &[
            "login",
            "--issuer",
            &demo.issuer,
            "--client-id",
            "service",
            "--client-secret-stdin",
            "--client-credentials",
            "--profile",
            "svc",
        ],
        Some("service-secret\n"),
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Age the stored token past its expiry (no waiting on real time).
    let file = JsonFileStore::new(&store);
    let record = file.load("session:svc").await.unwrap().unwrap();
    let mut data = SessionData::from_value(record.data).unwrap();
    let old = data.tokens.take().unwrap();
    let past = time::OffsetDateTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
    data.tokens = Some(old.clone().with_expiry(Expiry::new(
        Some(past),
        Some(past + std::time::Duration::from_secs(60)),
    )));
    file.save("session:svc", &StoreRecord::new(data.to_value().unwrap()))
        .await
        .unwrap();

    let calls = demo.token_calls();
    let out = run(&store, &["token", "--profile", "svc"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let fresh = text(&out.stdout).trim().to_owned();
    assert_ne!(fresh, old.access_token().expose_secret());
    assert_eq!(demo.token_calls(), calls + 1, "one refresh");
    assert!(demo.is_live(&fresh));
    // The rotated tokens were saved: the next call needs no refresh.
    let out = run(&store, &["token", "--profile", "svc"]).await;
    assert_eq!(text(&out.stdout).trim(), fresh);
    assert_eq!(demo.token_calls(), calls + 1);
}

#[tokio::test]
async fn requests_retry_and_exit_codes_follow_the_outcome() {
    let demo = Demo::start(3600).await;
    let store = store();
    demo.fail_next(&[Failure::Unavailable, Failure::Unavailable]);
    let before = demo.api_calls();
    let url = format!("{}keyed", demo.api);
    let out = run_with_env(
        &store,
        &[
            "request",
            "GET",
            &url,
            "--api-key",
            "X-Api-Key",
            "--retries",
            "3",
            "--backoff-factor",
            "0.01",
        ],
        None,
        &[("SESSION_KIT_API_KEY", "demo-api-key")],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(demo.api_calls() - before, 3, "counted by the server");
    assert!(
        text(&out.stderr).contains("3 attempt(s), 2 retries"),
        "{}",
        text(&out.stderr)
    );
    assert!(text(&out.stdout).contains("\"orders\""));

    // An HTTP error after retries: 1.
    demo.fail_next(&[Failure::Unavailable, Failure::Unavailable]);
    let out = run_with_stdin(
        &store,
        &[
            "--json",
            "request",
            "GET",
            &url,
            "--api-key",
            "X-Api-Key",
            "--retries",
            "1",
            "--backoff-factor",
            "0.01",
        ],
        Some("demo-api-key\n"),
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    // One JSON document on stdout: status, attempts, headers and body.
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (report["status"].as_u64(), report["attempts"].as_u64()),
        (Some(503), Some(2))
    );
    assert!(report["headers"].is_object() && !report["body"].is_null());
    let out = run_with_stdin(
        &store,
        &["request", "GET", &url, "--bearer-stdin", "--no-retry"],
        Some("wrong\n"),
    )
    .await;
    assert_eq!(out.status.code(), Some(1));

    // Bad usage: 2, with the typed error's message.
    for (args, message) in [
        (vec!["--retries", "0"], "use --no-retry"),
        (vec!["--retries", "-1"], "a whole number of retries"),
        (vec!["--retries", "3.5"], "a whole number of retries"),
        (
            vec!["--backoff-factor", "-1"],
            "a number of seconds, 0 or more",
        ),
        (vec!["--max-backoff", "-1"], "a number of seconds above 0"),
        (vec!["--timeout", "0"], "a number of seconds above 0"),
        (
            vec!["--status-forcelist", "503,abc"],
            "`abc` is not an HTTP status",
        ),
        // Secrets on the command line are refused, whatever the flag.
        (vec!["--bearer", "t0k3n"], "visible to every user in `ps`"),
        (vec!["--basic", "ada:pw"], "visible to every user in `ps`"),
        (
            vec!["--api-key", "X-Api-Key=k"],
            "visible to every user in `ps`",
        ),
    ] {
        let mut all = vec!["request", "GET", url.as_str()];
        all.extend(args.iter().copied());
        let out = run(&store, &all).await;
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            text(&out.stderr).contains(message),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    let out = run_with_env(
        &store,
        &["request", "GET", "http://api.example.com/x"],
        None,
        &[("SESSION_KIT_BEARER", "t")],
    )
    .await;
    assert_eq!(
        out.status.code(),
        Some(2),
        "credentials over plain http to another host"
    );
}

#[tokio::test]
async fn the_password_is_prompted_for_never_taken_from_argv() {
    let demo = Demo::start(3600).await;
    let store = store();
    let out = run(
        &store,
        &[
            "login",
            "--issuer",
            &demo.issuer,
            "--client-id",
            "service",
            "--client-secret-stdin",
            "--password",
            "demo-password",
        ],
    )
    .await;
    assert_eq!(
        out.status.code(),
        Some(2),
        "a password value on the command line is refused"
    );
    assert_eq!(demo.token_calls(), 0);
    let out = run_with_stdin(
        &store,
        &[
            "login",
            "--issuer",
            &demo.issuer,
            "--client-id",
            "service",
            "--client-secret-stdin",
            "--password",
            "--username",
            "demo@example.com",
        ],
        Some("service-secret\ndemo-password\n"),
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(&store, &["token"]).await;
    let first = text(&out.stdout).trim().to_owned();
    assert!(first.starts_with("demo-at-"));

    // A confidential client's profile keeps its secret: after expiry the
    // refresh authenticates as `service` and works.
    age_tokens(&store, "default", None).await;
    let calls = demo.token_calls();
    let out = run(&store, &["token"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_ne!(text(&out.stdout).trim(), first);
    assert_eq!(demo.token_calls(), calls + 1);

    // A dead refresh token says which login to run, and status fails.
    age_tokens(&store, "default", Some("not-a-live-refresh-token")).await;
    let out = run(&store, &["token"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("session-kit login --profile default"),
        "{}",
        text(&out.stderr)
    );
    let out = run(&store, &["status"]).await;
    assert_eq!(out.status.code(), Some(1), "not signed in: non-zero");
    // `profiles` doesn't call it valid: it can still try a refresh.
    let out = run(&store, &["--json", "profiles"]).await;
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["valid"], false);
    assert_eq!(list[0]["state"], "refreshable");
}

/// Moves a profile's stored token past its expiry (and replaces its
/// refresh token, if asked): no waiting on real time.
async fn age_tokens(store: &Path, profile: &str, refresh: Option<&str>) {
    let file = JsonFileStore::new(store);
    let key = format!("session:{profile}");
    let record = file.load(&key).await.unwrap().unwrap();
    let mut data = SessionData::from_value(record.data).unwrap();
    let mut tokens = data.tokens.take().unwrap();
    if let Some(refresh) = refresh {
        tokens = tokens.with_refresh_token(refresh);
    }
    let past = time::OffsetDateTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
    data.tokens = Some(tokens.with_expiry(Expiry::new(
        Some(past),
        Some(past + std::time::Duration::from_secs(60)),
    )));
    file.save(&key, &StoreRecord::new(data.to_value().unwrap()))
        .await
        .unwrap();
}

#[tokio::test]
async fn device_login_and_logout_revokes() {
    let demo = Demo::start(3600).await;
    let store = store();
    let out = run_with_stdin(
        &store,
        &[
            "login",
            "--issuer",
            &demo.issuer,
            "--client-id",
            "service",
            "--client-secret-stdin",
            "--device",
        ],
        Some("service-secret\n"),
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("enter the code DEMO-"));
    let token = text(&run(&store, &["token"]).await.stdout)
        .trim()
        .to_owned();
    assert!(demo.is_live(&token));

    let out = run(&store, &["--json", "logout"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["signed_out"], true);
    assert_eq!(demo.revocations(), 2, "refresh and access tokens revoked");
    assert!(!demo.is_live(&token));
    let out = run(&store, &["token"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no profile"));
}

#[tokio::test]
async fn a_scripting_contract_json_exit_codes_and_no_secret_in_argv() {
    let demo = Demo::start(3600).await;
    let store = store();

    // Nothing stored yet: `profiles` says so on stderr, `--json` gives [].
    let out = run(&store, &["profiles"]).await;
    assert!(out.status.success());
    assert!(
        text(&out.stderr).contains("No profiles"),
        "{}",
        text(&out.stderr)
    );
    let out = run(&store, &["--json", "profiles"]).await;
    assert_eq!(text(&out.stdout).trim(), "[]");

    // Errors with --json: one document on stdout, with the exit code.
    let out = run(&store, &["--json", "token", "--profile", "nope"]).await;
    assert_eq!(out.status.code(), Some(2));
    let error: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(error["exit_code"], 2);
    assert!(error["error"].as_str().unwrap().contains("no profile"));

    // A secret on the command line is refused before anything is sent.
    let out = run(
        &store,
        &[
            "login",
            "--issuer",
            &demo.issuer,
            "--client-id",
            "service",
            "--client-secret",
            "service-secret",
            "--client-credentials",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("SESSION_KIT_CLIENT_SECRET"));
    assert!(!text(&out.stderr).contains("service-secret"));
    assert_eq!(demo.token_calls(), 0);
    // … and taken from the environment instead.
    let out = run_with_env(
        &store,
        &[
            "login",
            "--issuer",
            &demo.issuer,
            "--client-id",
            "service",
            "--client-credentials",
        ],
        None,
        &[("SESSION_KIT_CLIENT_SECRET", "service-secret")],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(&store, &["status"]).await;
    assert_eq!(out.status.code(), Some(0));

    // Configuration errors exit 2 without contacting anyone.
    for issuer in ["not-a-url", "http://id.example.com"] {
        let out = run_with_env(
            &store,
            &[
                "login",
                "--issuer",
                issuer,
                "--client-id",
                "x",
                "--client-credentials",
            ],
            None,
            &[("SESSION_KIT_CLIENT_SECRET", "s")],
        )
        .await;
        assert_eq!(
            out.status.code(),
            Some(2),
            "{issuer}: {}",
            text(&out.stderr)
        );
    }

    // A server that accepts and never answers: --timeout ends the wait.
    let stalled = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", stalled.local_addr().unwrap());
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        run(
            &store,
            &["request", "GET", &url, "--timeout", "0.5", "--no-retry"],
        ),
    )
    .await
    .expect("the request gave up on its own");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    drop(stalled);
}

#[tokio::test]
async fn retries_show_a_progress_line_on_a_terminal_only() {
    let demo = Demo::start(3600).await;
    let store = store();
    let url = format!("{}keyed", demo.api);
    let args = [
        "request",
        "GET",
        &url,
        "--api-key",
        "X-Api-Key",
        "--retries",
        "3",
        "--backoff-factor",
        "0.01",
    ];
    // Not a terminal (a pipe): quiet.
    demo.fail_next(&[Failure::Unavailable, Failure::Unavailable]);
    let out = run_with_env(
        &store,
        &args,
        None,
        &[("SESSION_KIT_API_KEY", "demo-api-key")],
    )
    .await;
    assert_eq!(out.status.code(), Some(0));
    assert!(
        !text(&out.stderr).contains("retry 1 in"),
        "{}",
        text(&out.stderr)
    );

    // A terminal: `script` gives the command a pseudo-terminal.
    demo.fail_next(&[Failure::Unavailable, Failure::Unavailable]);
    let command = format!(
        "{} --store {} {}",
        binary().display(),
        store.display(),
        args.join(" ")
    );
    let out = tokio::task::spawn_blocking(move || {
        Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .env("SESSION_KIT_API_KEY", "demo-api-key")
            .stdin(Stdio::null())
            .output()
            .expect("script (util-linux) runs the command on a pseudo-terminal")
    })
    .await
    .unwrap();
    let seen = text(&out.stdout);
    assert!(out.status.success(), "{seen}");
    assert!(seen.contains("retry 1 in 0.0 s (status 503)"), "{seen}");
    assert!(seen.contains("retry 2 in"), "{seen}");
}

#[tokio::test]
async fn a_private_key_login_refreshes_with_the_key_and_tokens_can_be_exchanged() {
    use session_kit_examples::demo::{KEYED_SERVICE, KEYED_SERVICE_JWK};
    let demo = Demo::start(3600).await;
    let store = store();
    std::fs::create_dir_all(store.parent().unwrap()).unwrap();
    let key_file = store.with_file_name("keyed-service.jwk");
    std::fs::write(&key_file, KEYED_SERVICE_JWK).unwrap();
    let login = |key: PathBuf| {
        let (store, issuer) = (store.clone(), demo.issuer.clone());
        async move {
            run(
                &store,
                &[
                    "login",
                    "--issuer",
                    &issuer,
                    "--client-id",
                    KEYED_SERVICE,
                    "--private-key",
                    key.to_str().unwrap(),
                    "--client-credentials",
                    "--profile",
                    "keyed",
                ],
            )
            .await
        }
    };
    // A file that holds no key: usage error, and the file is never quoted.
    let bad = store.with_file_name("not-a-key.pem");
    std::fs::write(
        &bad,
        "-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let out = login(bad).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(!text(&out.stderr).contains("c2VjcmV0"));

    let out = login(key_file).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let token = text(&run(&store, &["token", "--profile", "keyed"]).await.stdout)
        .trim()
        .to_owned();
    assert!(demo.is_live(&token));
    let listing = run(&store, &["--json", "profiles"]).await;
    assert!(
        !text(&listing.stdout).contains("nWGx"),
        "the key never prints"
    );

    // Expired: the refresh authenticates with the key kept for the profile.
    age_tokens(&store, "keyed", None).await;
    let calls = demo.token_calls();
    let out = run(&store, &["token", "--profile", "keyed"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let fresh = text(&out.stdout).trim().to_owned();
    assert!(demo.is_live(&fresh) && fresh != token);
    assert_eq!(demo.token_calls(), calls + 1);

    // Token exchange: a new token for another audience; the profile keeps its own.
    let out = run(
        &store,
        &[
            "--json",
            "token",
            "--profile",
            "keyed",
            "--exchange",
            "--audience",
            "orders",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let exchanged: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let exchanged = exchanged["access_token"].as_str().unwrap().to_owned();
    assert!(demo.is_live(&exchanged) && exchanged != fresh);
    assert_eq!(demo.last_exchange_audience().as_deref(), Some("orders"));
    let out = run(&store, &["token", "--profile", "keyed"]).await;
    assert_eq!(text(&out.stdout).trim(), fresh);
    let out = run(
        &store,
        &["token", "--profile", "keyed", "--audience", "orders"],
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "--audience needs --exchange");
}

#[tokio::test]
async fn login_par_pushes_the_request_and_the_browser_sees_only_its_reference() {
    let demo = Demo::start(3600).await;
    let store = store();
    let url = browser_login(&demo, &store, &["--par"]).await;
    assert!(
        url.contains("request_uri=") && !url.contains("code_challenge"),
        "{url}"
    );
    let out = run(&store, &["token", "--profile", "web"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(demo.is_live(text(&out.stdout).trim()));
}

#[tokio::test]
async fn a_dpop_login_binds_the_tokens_and_requests_prove_the_key() {
    let demo = Demo::start(3600).await;
    let store = store();
    let out = run_with_stdin(
        &store,
        &[
            "login",
            "--issuer",
            &demo.issuer,
            "--client-id",
            "service",
            "--client-secret-stdin",
            "--client-credentials",
            "--dpop",
            "--profile",
            "bound",
        ],
        Some("service-secret\n"),
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let token = text(&run(&store, &["token", "--profile", "bound"]).await.stdout)
        .trim()
        .to_owned();
    assert!(demo.bound_to(&token).is_some(), "the token is DPoP-bound");

    // Each CLI run loads the key kept with the profile and proves it.
    let orders = format!("{}orders", demo.api);
    for _ in 0..2 {
        let out = run(&store, &["request", "GET", &orders, "--profile", "bound"]).await;
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    // The token alone, as a bearer token, is refused.
    let out = run_with_env(
        &store,
        &["request", "GET", &orders, "--no-retry"],
        None,
        &[("SESSION_KIT_BEARER", &token)],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));

    // Refresh after expiry proves the same key.
    age_tokens(&store, "bound", None).await;
    let out = run(&store, &["token", "--profile", "bound"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let fresh = text(&out.stdout).trim().to_owned();
    assert_ne!(fresh, token);
    assert_eq!(demo.bound_to(&fresh), demo.bound_to(&token));
}
