//! Runs the quickstart and every example that ends on its own, checking the
//! exit status and the key lines of what they print.

use std::path::PathBuf;
use std::process::Command;

/// `target/<profile>/examples/<name>`, next to this test's own binary
/// (built once per run, in case the test runs on its own).
fn example(name: &str) -> PathBuf {
    static BUILT: std::sync::Once = std::sync::Once::new();
    BUILT.call_once(|| {
        let status = Command::new(env!("CARGO"))
            .args([
                "build",
                "--quiet",
                "-p",
                "session-kit-examples",
                "--all-features",
                "--examples",
            ])
            .status()
            .expect("cargo");
        assert!(status.success(), "building the examples failed");
    });
    let me = std::env::current_exe().expect("the test binary's path");
    let profile_dir = me
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    profile_dir.join("examples").join(name)
}

fn run(name: &str, args: &[&str]) -> String {
    let path = example(name);
    let output = Command::new(&path)
        .args(args)
        .env_remove("SESSION_KIT_CLIENT_SECRET")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "running {}: {e} (cargo test builds the examples)",
                path.display()
            )
        });
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{name} failed with {}:\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn expect_lines(name: &str, output: &str, lines: &[&str]) {
    for line in lines {
        assert!(
            output.contains(line),
            "{name}: missing {line:?} in:\n{output}"
        );
    }
}

#[test]
fn quickstart() {
    let out = run("quickstart", &[]);
    expect_lines(
        "quickstart",
        &out,
        &[
            "token signed in: lives 6s",
            "retrying retry=1 reason=status 503 delay_ms=250",
            "retrying retry=3 reason=status 429 delay_ms=1000",
            "GET /api/orders -> 200 OK after 4 attempts; 2 orders",
            "token refreshed (#1)",
            "Session: VALID | Tokens: VALID",
            "revoked 2 tokens; stored session removed: true",
            "the first session is closed",
            "done in",
        ],
    );
}

#[test]
fn quickstart_help() {
    let out = run("quickstart", &["--help"]);
    expect_lines(
        "quickstart --help",
        &out,
        &["--issuer URL", "--client-id ID"],
    );
}

#[test]
fn the_quickstart_never_takes_a_secret_from_the_command_line() {
    let output = Command::new(example("quickstart"))
        .args([
            "--issuer",
            "https://id.example.com",
            "--client-secret",
            "s3cret-on-argv",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("SESSION_KIT_CLIENT_SECRET"), "{stderr}");
    assert!(!stderr.contains("s3cret-on-argv"), "{stderr}");
}

#[test]
fn retrying_sessions() {
    let out = run("retrying_sessions", &[]);
    expect_lines(
        "retrying_sessions",
        &out,
        &[
            "default schedule: [2s, 4s, 8s, 16s, 32s]",
            "bearer: 200 OK after 2 retries",
            "basic: 200 OK after 1 retry",
            "api key: 200 OK after 2 retries",
            "invalid retries `0`",
            "invalid backoff factor `-1`",
            "invalid status `700`",
        ],
    );
}

#[test]
fn persistent_sessions() {
    let out = run("persistent_sessions", &[]);
    expect_lines(
        "persistent_sessions",
        &out,
        &[
            "before save: stored = false",
            "after save:  stored = true",
            "trading: Session: VALID",
            "active: \"beta\" with token b",
            "cleaned up: [\"gamma\"]",
            "no session named \"delta\"",
        ],
    );
}

#[test]
fn shared_session() {
    let out = run("shared_session", &[]);
    expect_lines(
        "shared_session",
        &out,
        &[
            "devices: 200, reports: 200",
            "sign-ins: 1 (one, shared)",
            "devices: the session is closed",
            "devices: 200, sign-ins still 1",
        ],
    );
}

#[test]
fn oauth_flows() {
    let out = run("oauth_flows", &[]);
    expect_lines(
        "oauth_flows",
        &out,
        &[
            "new refresh token differs: true",
            "the old refresh token is refused",
            "the browser saw 200 OK; tokens received: true",
            "revoked 2 tokens; signed out: true",
        ],
    );
}

#[test]
fn token_lifecycle() {
    let out = run("token_lifecycle", &[]);
    expect_lines(
        "token_lifecycle",
        &out,
        &[
            "after 45 min: REFRESH DUE",
            "after 55 min: EXPIRED",
            "Session: VALID",
        ],
    );
}

/// Kills the server when the test ends, however it ends.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the server example `command` describes (its stdout is taken),
/// waits for the first line it prints and returns the URL in it. The rest of
/// its output is read on, or its next line dies of a broken pipe.
fn serve(mut command: Command) -> (Running, String) {
    use std::io::BufRead as _;

    let mut child = command
        .env("SESSION_BIND", "127.0.0.1:0")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start the example");
    let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
    let running = Running(child);
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {first:?}"))
        .to_owned();
    (running, url)
}

/// Runs `test` on a fresh single-threaded runtime.
fn block_on<F: std::future::Future>(test: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(test)
}

#[test]
fn session_server_serves_its_contract() {
    let dir = std::env::temp_dir().join(format!("session-server-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut command = Command::new(example("session_server"));
    command
        .env("SESSION_ADMIN_TOKEN", "example-admin")
        .env("SESSION_DB_PATH", dir.join("sessions.db"))
        .env_remove("SESSION_PROTECTED_PATHS")
        .env_remove("SESSION_EXCLUDED_PATHS")
        .stderr(std::process::Stdio::null());
    let (running, url) = serve(command);
    block_on(async {
        let http = reqwest::Client::new();
        let chat = format!("{url}/api/chat");
        let status = |r: reqwest::Response| r.status().as_u16();
        assert_eq!(status(http.get(&chat).send().await.unwrap()), 401);
        assert_eq!(
            status(http.get(format!("{url}/health")).send().await.unwrap()),
            200
        );
        let created: serde_json::Value = http
            .post(format!("{url}/sessions/create"))
            .bearer_auth("example-admin")
            .json(&serde_json::json!({
                "user_id": "user123",
                "timeout": 3600,
                "metadata": {"role": "admin", "permissions": ["read", "write"]}
            }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = created["session_id"].as_str().expect("a session id");
        let answer: serde_json::Value = http
            .get(&chat)
            .header("X-Session-ID", id)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(answer["response"], "Hello user123!");
        for path in ["/admin", "/write", "/public/info"] {
            let response = http
                .get(format!("{url}{path}"))
                .header("X-Session-ID", id)
                .send()
                .await
                .unwrap();
            assert_eq!(status(response), 200, "{path}");
        }
        let developer = http
            .get(format!("{url}/developer"))
            .header("X-Session-ID", id)
            .send()
            .await
            .unwrap();
        assert_eq!(status(developer), 403, "an admin is not a developer");
    });
    drop(running);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn axum_sessions_logs_in_keeps_a_cart_and_logs_out() {
    let mut command = Command::new(example("axum_sessions"));
    command.stderr(std::process::Stdio::null());
    let (_running, url) = serve(command);
    block_on(async {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .unwrap();
        let post = |path: &str| http.post(format!("{url}{path}")).send();
        let text =
            |r: reqwest::Response| async move { (r.status().as_u16(), r.text().await.unwrap()) };
        assert_eq!(
            text(post("/cart").await.unwrap()).await.0,
            401,
            "no session yet"
        );
        assert_eq!(
            text(post("/login").await.unwrap()).await,
            (200, "welcome".into())
        );
        assert_eq!(
            text(post("/cart").await.unwrap()).await,
            (200, "1 items".into())
        );
        assert_eq!(
            text(post("/cart").await.unwrap()).await,
            (200, "2 items".into())
        );
        assert_eq!(
            text(post("/logout").await.unwrap()).await,
            (200, "bye".into())
        );
        assert_eq!(
            text(post("/cart").await.unwrap()).await.0,
            401,
            "the cookie is gone"
        );
    });
}

#[test]
fn the_readme_shows_the_axum_sessions_example_as_it_is() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let example = std::fs::read_to_string(root.join("examples/axum_sessions.rs")).unwrap();
    let code = &example[example.find("use axum::").unwrap()..];
    assert!(
        readme.contains(code),
        "README's \"Sessions in your own axum app\" must be examples/axum_sessions.rs from `use axum::` on"
    );
}

#[test]
fn session_server_logs_at_session_log_level() {
    // One request to a path the layer logs, at two levels.
    let log_of = |level: &str| {
        let dir =
            std::env::temp_dir().join(format!("session-server-log-{level}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("stderr.log");
        let mut command = Command::new(example("session_server"));
        command
            .env("SESSION_ADMIN_TOKEN", "example-admin")
            .env("SESSION_DB_PATH", dir.join("sessions.db"))
            .env("SESSION_LOG_LEVEL", level)
            .stderr(std::fs::File::create(&log).unwrap());
        let (running, url) = serve(command);
        block_on(async {
            let response = reqwest::get(format!("{url}/public/info")).await.unwrap();
            assert_eq!(response.status(), 200);
        });
        drop(running);
        let text = std::fs::read_to_string(&log).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        text
    };
    let info = log_of("INFO");
    assert!(
        info.contains("request"),
        "INFO shows the request line: {info}"
    );
    let warn = log_of("WARN");
    assert!(!warn.contains("request"), "WARN hides it: {warn}");
}
