//! `cargo xtask ci`: every check CI runs, with a one-line summary at the end.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use crate::services;

/// Crates that must appear in one version only.
const SINGLE_VERSION: &[&str] = &["reqwest", "hyper", "http"];

/// The only crates allowed in two versions: each pair is forced by our
/// dependencies, not by a version we pick (ours unify with one side). A
/// duplicate not listed here fails CI; one listed that no longer occurs is
/// reported so the list stays true.
const FORCED_DUPLICATES: &[(&str, &str)] = &[
    (
        "base64",
        "jsonwebtoken 11 and oauth2 5 use 0.22, hyper-util 0.1.21 uses 0.23",
    ),
    (
        "sha2",
        "oauth2 5 and sqlx-core 0.9 use 0.10, sqlx-postgres 0.9 uses 0.11",
    ),
    ("digest", "follows sha2 0.10 / 0.11"),
    ("block-buffer", "follows sha2 0.10 / 0.11"),
    ("crypto-common", "follows sha2 0.10 / 0.11"),
    ("cpufeatures", "follows sha2 0.10 / 0.11"),
    ("rand", "oauth2 5 uses 0.8, sqlx-postgres 0.9 uses 0.10"),
    ("rand_core", "follows rand 0.8 / 0.10"),
    (
        "getrandom",
        "rand 0.8 (oauth2) needs 0.2; chacha20poly1305 0.11 needs 0.4",
    ),
    ("thiserror", "oauth2 5 is still on thiserror 1"),
    ("thiserror-impl", "follows thiserror 1 / 2"),
    (
        "syn",
        "async-trait 0.1.92 moved to syn 3; the other proc macros are on syn 2",
    ),
    (
        "hashbrown",
        "rusqlite's hashlink and indexmap pin different versions",
    ),
    ("untrusted", "aws-lc-rs uses 0.7, ring (rustls-webpki) 0.9"),
    (
        "pem",
        "jsonwebtoken 11 uses 3, rcgen 0.14 (test certificates, a dev-dependency) uses 4",
    ),
];

/// Dependencies point one way: each crate, with all its features and its
/// dev-dependencies, must not pull these in.
const LAYERING: &[(&str, &[&str])] = &[
    (
        "session-core",
        &["reqwest", "hyper", "sqlx", "redis", "axum", "tower"],
    ),
    ("session-retry", &["sqlx", "redis", "axum"]),
];

/// With default features, these crates must not build these either
/// (session-retry alone stays small: no URL or cookie crates; the examples'
/// default is the client side only).
const SLIM_DEFAULTS: &[(&str, &[&str])] = &[
    ("session-retry", &["url", "cookie_store", "idna"]),
    // `cargo run --example quickstart` on a fresh clone: client code only.
    (
        "session-kit-examples",
        &["sqlx", "rusqlite", "redis", "session-server"],
    ),
];

/// A facade feature alone must not build these: a memory or Redis server
/// compiles no SQLite, a `Session` user no reqwest-middleware.
const SLIM_FACADE: &[(&str, &[&str])] = &[
    ("server", &["sqlx", "rusqlite", "libsqlite3-sys"]),
    ("auth", &["reqwest-middleware"]),
];

pub(crate) struct Step {
    name: String,
    ok: bool,
    secs: f64,
}

pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace")
        .to_path_buf()
}

pub(crate) fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(workspace_root());
    cmd
}

pub(crate) fn run_step(steps: &mut Vec<Step>, name: &str, mut cmd: Command) -> bool {
    println!("\n--- {name}");
    let start = Instant::now();
    let ok = match cmd.status() {
        Ok(status) => status.success(),
        Err(e) => {
            eprintln!("could not run {name}: {e}");
            false
        }
    };
    let secs = start.elapsed().as_secs_f64();
    println!(
        "--- {name}: {} in {secs:.0}s",
        if ok { "ok" } else { "FAILED" }
    );
    steps.push(Step {
        name: name.to_owned(),
        ok,
        secs,
    });
    ok
}

/// The facade's features, read from its manifest so the list never drifts.
pub(crate) fn facade_features(manifest: &str) -> Vec<String> {
    let mut in_features = false;
    let mut features = Vec::new();
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_features = line == "[features]";
            continue;
        }
        if !in_features || line.starts_with('#') || line.is_empty() {
            continue;
        }
        if let Some((name, _)) = line.split_once('=') {
            let name = name.trim();
            if name != "default" {
                features.push(name.to_owned());
            }
        }
    }
    features
}

/// Which of `wanted` name a package in `cargo tree --format {p}` output.
pub(crate) fn names_in(tree: &str, wanted: &[&str]) -> Vec<String> {
    let mut found: Vec<String> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| wanted.contains(name))
        .map(str::to_owned)
        .collect();
    found.sort();
    found.dedup();
    found
}

/// Runs `cargo tree <args> --prefix none --format {p}` and returns its output.
fn package_list(args: &[&str]) -> Result<String, String> {
    let out = cargo()
        .arg("tree")
        .args(args)
        .args(["--prefix", "none", "--format", "{p}"])
        .output()
        .map_err(|e| format!("could not run cargo tree: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Runs an in-process check as a step.
fn run_check(steps: &mut Vec<Step>, name: &str, check: impl FnOnce() -> Result<(), String>) {
    println!("\n--- {name}");
    let start = Instant::now();
    let ok = match check() {
        Ok(()) => true,
        Err(problem) => {
            eprintln!("{problem}");
            false
        }
    };
    let secs = start.elapsed().as_secs_f64();
    println!(
        "--- {name}: {} in {secs:.0}s",
        if ok { "ok" } else { "FAILED" }
    );
    steps.push(Step {
        name: name.to_owned(),
        ok,
        secs,
    });
}

fn check_duplicates(steps: &mut Vec<Step>) {
    // One listing of the duplicated crates serves both checks.
    let tree = package_list(&[
        "--workspace",
        "--all-features",
        "--duplicates",
        "--edges",
        "normal,build",
        "--depth",
        "0",
    ]);
    run_check(
        steps,
        "one reqwest, one hyper, one http",
        || match names_in(tree.as_ref()?, SINGLE_VERSION).as_slice() {
            [] => Ok(()),
            dups => Err(format!("more than one version of: {}", dups.join(", "))),
        },
    );
    run_check(steps, "no duplicate crate we could avoid", || {
        let (unexplained, stale) = unexplained_duplicates(tree.as_ref()?);
        for name in &stale {
            println!("note: {name} is no longer duplicated; drop it from FORCED_DUPLICATES");
        }
        if unexplained.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "duplicated, and not forced by a dependency: {} (pick the version our \
                 dependencies use, or explain the pair in FORCED_DUPLICATES)",
                unexplained.join(", ")
            ))
        }
    });
}

/// The duplicated crates of a `cargo tree --duplicates` listing that the
/// allow-list doesn't explain, and the allow-listed ones no longer there.
pub(crate) fn unexplained_duplicates(tree: &str) -> (Vec<String>, Vec<String>) {
    let mut names: Vec<String> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    let unexplained = names
        .iter()
        .filter(|n| !FORCED_DUPLICATES.iter().any(|(f, _)| f == n))
        .cloned()
        .collect();
    let stale = FORCED_DUPLICATES
        .iter()
        .filter(|(f, _)| !names.iter().any(|n| n == f))
        .map(|(f, _)| (*f).to_owned())
        .collect();
    (unexplained, stale)
}

fn check_layering(steps: &mut Vec<Step>) {
    run_check(
        steps,
        "layering (no heavy crates below their layer)",
        || {
            let mut problems = Vec::new();
            for (krate, banned) in LAYERING {
                let tree = package_list(&["-p", krate, "--all-features"])?;
                let found = names_in(&tree, banned);
                if !found.is_empty() {
                    problems.push(format!("{krate} depends on {}", found.join(", ")));
                }
            }
            for (feature, banned) in SLIM_FACADE {
                let tree = package_list(&[
                    "-p",
                    "session-kit",
                    "--no-default-features",
                    "--features",
                    feature,
                    "--edges",
                    "normal",
                ])?;
                let found = names_in(&tree, banned);
                if !found.is_empty() {
                    problems.push(format!(
                        "the facade's `{feature}` feature alone builds {}",
                        found.join(", ")
                    ));
                }
            }
            for (krate, banned) in SLIM_DEFAULTS {
                let tree = package_list(&["-p", krate, "--edges", "normal"])?;
                let found = names_in(&tree, banned);
                if !found.is_empty() {
                    problems.push(format!(
                        "{krate} with its default features depends on {}",
                        found.join(", ")
                    ));
                }
            }
            if problems.is_empty() {
                Ok(())
            } else {
                Err(problems.join("\n"))
            }
        },
    );
}

pub(crate) fn run() -> ExitCode {
    let started = Instant::now();
    let mut steps = Vec::new();

    let mut fmt = cargo();
    fmt.args(["fmt", "--all", "--check"]);
    run_step(&mut steps, "rustfmt", fmt);

    let mut clippy = cargo();
    clippy.args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--all-features",
        "--",
        "-D",
        "warnings",
    ]);
    run_step(&mut steps, "clippy", clippy);

    check_duplicates(&mut steps);
    check_layering(&mut steps);

    println!("\n--- services");
    if !services::check_all() {
        eprintln!(
            "\nThe tests need Redis and PostgreSQL; start them and run `cargo xtask ci` again."
        );
        summary(&steps, started);
        return ExitCode::FAILURE;
    }

    let mut test = cargo();
    test.args(["test", "--workspace", "--all-features"]);
    run_step(&mut steps, "tests", test);

    fuzz_smoke(&mut steps);

    let mut doc = cargo();
    doc.args(["doc", "--workspace", "--all-features", "--no-deps"])
        .env("RUSTDOCFLAGS", "-D warnings");
    run_step(&mut steps, "rustdoc", doc);

    let mut bare = cargo();
    bare.args(["check", "-p", "session-kit", "--no-default-features"]);
    run_step(&mut steps, "facade without features", bare);

    let manifest = std::fs::read_to_string(workspace_root().join("session-kit/Cargo.toml"))
        .unwrap_or_default();
    for feature in facade_features(&manifest) {
        let mut check = cargo();
        check.args([
            "check",
            "-p",
            "session-kit",
            "--no-default-features",
            "--features",
            &feature,
        ]);
        run_step(&mut steps, &format!("facade with `{feature}` alone"), check);
    }

    windows_check(&mut steps);

    bench_steps(&mut steps);

    summary(&steps, started)
}

/// The Windows target (`.ci/run` installs it with rustup, and mingw-w64).
const WINDOWS: &str = "x86_64-pc-windows-gnu";

/// Everything must build on Windows: the facade with every feature (so
/// every crate and the CLI) is checked for it. The C code underneath (TLS,
/// SQLite) is cross-compiled with mingw-w64; the file stores use Unix
/// permissions only under `cfg(unix)`.
fn windows_check(steps: &mut Vec<Step>) {
    let mut check = cargo();
    check
        .args(["check", "--target", WINDOWS, "-p", "session-kit"])
        .args(["--features", "full"])
        .env("CARGO_TARGET_DIR", workspace_root().join("target/windows"));
    run_step(steps, &format!("everything builds for {WINDOWS}"), check);
}

/// The fuzz targets: formatted, built with instrumentation, and each run for
/// a few seconds over the committed corpus (which `cargo test` also replays).
fn fuzz_smoke(steps: &mut Vec<Step>) {
    let mut fmt = cargo();
    fmt.args(["fmt", "--check", "--manifest-path", "fuzz/Cargo.toml"]);
    run_step(steps, "fuzz: rustfmt", fmt);
    if let Some(bin_dir) = crate::fuzz::build(steps, false) {
        for target in crate::fuzz::targets() {
            crate::fuzz::run_target(steps, &bin_dir, &target, crate::fuzz::SMOKE_SECONDS);
        }
    }
}

/// `cargo xtask suites`: the reliability suites at full size.
pub(crate) fn full_suites() -> ExitCode {
    let started = Instant::now();
    let mut steps = Vec::new();
    if !services::check_all() {
        eprintln!("\nThe suites need Redis and PostgreSQL; start them and run again.");
        return ExitCode::FAILURE;
    }
    let mut suites = cargo();
    suites
        .args(["test", "-p", "session-kit-reliability", "--", "--nocapture"])
        .env("SESSION_KIT_FULL", "1");
    run_step(&mut steps, "reliability suites (full size)", suites);
    summary(&steps, started)
}

/// The benchmark workspaces: formatted and clippy-clean over all their
/// targets, which type-checks every bench and server (CI never runs them,
/// and doesn't spend minutes on their release builds: `cargo xtask bench`
/// and `cargo xtask soak` build what they run).
fn bench_steps(steps: &mut Vec<Step>) {
    for (name, manifest) in crate::bench::MANIFESTS {
        let mut fmt = cargo();
        fmt.args(["fmt", "--check", "--manifest-path", manifest]);
        run_step(steps, &format!("{name}: rustfmt"), fmt);

        let mut clippy = crate::bench::cargo_in_bench_target();
        clippy.args([
            "clippy",
            "--manifest-path",
            manifest,
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]);
        run_step(steps, &format!("{name}: clippy"), clippy);
    }
}

pub(crate) fn summary(steps: &[Step], started: Instant) -> ExitCode {
    let failed: Vec<&str> = steps
        .iter()
        .filter(|s| !s.ok)
        .map(|s| s.name.as_str())
        .collect();
    let passed = steps.len() - failed.len();
    println!();
    for step in steps {
        println!(
            "  {:<6} {:>5.0}s  {}",
            if step.ok { "ok" } else { "FAILED" },
            step.secs,
            step.name
        );
    }
    println!(
        "(total {:.0}s{})",
        started.elapsed().as_secs_f64(),
        if failed.is_empty() {
            String::new()
        } else {
            format!("; failed: {}", failed.join(", "))
        }
    );
    println!("ci: {passed} passed, {} failed", failed.len());
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_facade_features() {
        let manifest = "[package]\nname = \"x\"\n\n[features]\ndefault = []\n## doc\nretry = [\"dep:a\"]\nfull = [\"retry\"]\n\n[dependencies]\na = \"1\"\n";
        assert_eq!(facade_features(manifest), ["retry", "full"]);
    }

    #[test]
    fn the_real_facade_has_every_documented_feature() {
        let manifest =
            std::fs::read_to_string(workspace_root().join("session-kit/Cargo.toml")).unwrap();
        let features = facade_features(&manifest);
        for f in [
            "retry",
            "auth",
            "store",
            "file",
            "encrypted",
            "sqlite",
            "postgres",
            "redis",
            "oauth",
            "server",
            "cli",
            "full",
        ] {
            assert!(features.iter().any(|x| x == f), "missing feature {f}");
        }
        // Every feature is in the facade's documentation table.
        let lib = std::fs::read_to_string(workspace_root().join("session-kit/src/lib.rs")).unwrap();
        for f in &features {
            assert!(
                lib.contains(&format!("| `{f}` |")),
                "feature {f} missing from the facade docs table"
            );
        }
    }

    #[test]
    fn spots_banned_crates() {
        let tree = "session-retry v0.1.0\naxum v0.8.9\naxum-core v0.5.6\n";
        assert_eq!(names_in(tree, &["axum", "sqlx"]), ["axum"]);
    }

    #[test]
    fn duplicates_must_be_explained() {
        let tree = "base64 v0.22.1\nbase64 v0.23.1\nserde v1.0.0\nserde v1.0.1\n";
        let (unexplained, stale) = unexplained_duplicates(tree);
        assert_eq!(unexplained, ["serde"]);
        assert!(stale.contains(&"syn".to_owned()));
        assert!(!stale.contains(&"base64".to_owned()));
    }

    #[test]
    fn spots_duplicates() {
        let tree = "http v0.2.12\nhttp v1.3.1\nbase64 v0.21.7\nbase64 v0.22.1\nhttp-body v1.0.0\n";
        assert_eq!(names_in(tree, SINGLE_VERSION), ["http"]);
        assert!(names_in("base64 v0.21.7\nbase64 v0.22.1\n", SINGLE_VERSION).is_empty());
    }

    #[test]
    fn no_system_time_outside_the_clock_module() {
        // Wall-clock reads go through session_core::Clock (clippy.toml bans
        // them too; this also covers code clippy doesn't lint, like examples).
        let root = workspace_root();
        let mut offenders = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                let path = entry.path();
                let name = entry.file_name();
                if path.is_dir() {
                    if name != "target" && name != ".git" && name != "xtask" {
                        stack.push(path);
                    }
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    let is_clock = path.ends_with("session-core/src/clock.rs");
                    if !is_clock && (text.contains("SystemTime::now") || text.contains("now_utc()"))
                    {
                        offenders.push(path.display().to_string());
                    }
                }
            }
        }
        assert!(
            offenders.is_empty(),
            "system time read outside the clock module: {offenders:?}"
        );
    }

    #[test]
    fn every_source_file_opens_with_module_docs() {
        let root = workspace_root();
        let mut missing = Vec::new();
        let mut stack = vec![root];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                let path = entry.path();
                let name = entry.file_name();
                if path.is_dir() {
                    if name != "target" && name != ".git" {
                        stack.push(path);
                    }
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    if !text.trim_start().starts_with("//!") {
                        missing.push(path.display().to_string());
                    }
                }
            }
        }
        assert!(
            missing.is_empty(),
            "files without a //! header: {missing:?}"
        );
    }
}
