//! `cargo xtask fuzz [TARGET] [--seconds N] [--release]`: builds the fuzz
//! targets (`fuzz/`, their own workspace) with libFuzzer's coverage
//! instrumentation and runs each for N seconds.
//!
//! No nightly toolchain and no cargo-fuzz are needed: the instrumentation is
//! the stable `-Cpasses=sancov-module` pass with the LLVM options cargo-fuzz
//! passes, and `libfuzzer-sys` builds libFuzzer itself. (Without a nightly
//! there is no AddressSanitizer; our code forbids `unsafe`, so what the
//! targets look for is panics, hangs and broken invariants.)
//!
//! Each target reads the committed corpus (`fuzz/corpus/<target>/`) and
//! writes what it discovers to `target/fuzz/corpus/<target>/`; a failing
//! input lands in `target/fuzz/artifacts/<target>/`. Once the bug is fixed,
//! commit that input to `fuzz/corpus/<target>/`: the corpus replay test runs
//! it on every `cargo test` from then on.

use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Instant;

use crate::ci::{Step, cargo, run_step, summary, workspace_root};

const MANIFEST: &str = "fuzz/Cargo.toml";

/// What cargo-fuzz passes to rustc for libFuzzer's coverage feedback.
const INSTRUMENTATION: &str = "-Cpasses=sancov-module \
     -Cllvm-args=-sanitizer-coverage-level=4 \
     -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
     -Cllvm-args=-sanitizer-coverage-pc-table \
     -Cllvm-args=-sanitizer-coverage-trace-compares \
     --cfg fuzzing -Cdebug-assertions -Coverflow-checks";

/// The seconds each target runs for in `cargo xtask ci`.
pub(crate) const SMOKE_SECONDS: u64 = 5;

/// The targets: the `[[bin]]` names of the fuzz manifest.
pub(crate) fn targets() -> Vec<String> {
    let manifest = std::fs::read_to_string(workspace_root().join(MANIFEST)).unwrap_or_default();
    let mut in_bin = false;
    let mut names = Vec::new();
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_bin = line == "[[bin]]";
        } else if in_bin && let Some(name) = line.strip_prefix("name = ") {
            names.push(name.trim_matches('"').to_owned());
        }
    }
    names
}

fn fuzz_dir() -> PathBuf {
    workspace_root().join("target/fuzz")
}

fn host_triple() -> Option<String> {
    let out = Command::new("rustc").arg("-vV").output().ok()?;
    String::from_utf8(out.stdout)
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
}

/// Builds every target; the folder holding the binaries.
pub(crate) fn build(steps: &mut Vec<Step>, release: bool) -> Option<PathBuf> {
    let triple = host_triple()?;
    let mut build = cargo();
    // `--target` keeps the instrumentation off build scripts and proc macros.
    build
        .args(["build", "--manifest-path", MANIFEST, "--bins", "--target"])
        .arg(&triple)
        .env("CARGO_TARGET_DIR", fuzz_dir())
        .env("RUSTFLAGS", INSTRUMENTATION);
    if release {
        build.arg("--release");
    }
    if !run_step(steps, "fuzz: build the targets", build) {
        return None;
    }
    Some(
        fuzz_dir()
            .join(triple)
            .join(if release { "release" } else { "debug" }),
    )
}

/// Runs `target` for `seconds` over the committed corpus.
pub(crate) fn run_target(
    steps: &mut Vec<Step>,
    bin_dir: &std::path::Path,
    target: &str,
    seconds: u64,
) {
    let found = fuzz_dir().join("corpus").join(target);
    let artifacts = fuzz_dir().join("artifacts").join(target);
    for dir in [&found, &artifacts] {
        if let Err(e) = std::fs::create_dir_all(dir) {
            eprintln!("cannot create {}: {e}", dir.display());
        }
    }
    let mut fuzz = Command::new(bin_dir.join(target));
    fuzz.arg(&found)
        .arg(workspace_root().join("fuzz/corpus").join(target))
        .arg(format!("-max_total_time={seconds}"))
        .arg("-timeout=10")
        .arg("-rss_limit_mb=2048")
        .arg("-print_final_stats=1")
        .arg(format!("-artifact_prefix={}/", artifacts.display()));
    if !run_step(steps, &format!("fuzz: {target} ({seconds} s)"), fuzz) {
        eprintln!(
            "the failing input is in {}; once fixed, commit it to fuzz/corpus/{target}/",
            artifacts.display()
        );
    }
}

/// `cargo xtask fuzz [TARGET] [--seconds N] [--release]`.
pub(crate) fn run(args: &[String]) -> ExitCode {
    let started = Instant::now();
    let mut seconds = 60;
    let mut release = false;
    let mut only = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => match args.next().and_then(|s| s.parse().ok()) {
                Some(s) if s > 0 => seconds = s,
                _ => {
                    eprintln!("--seconds needs a whole number above 0");
                    return ExitCode::from(2);
                }
            },
            "--release" => release = true,
            name if !name.starts_with('-') => only = Some(name.to_owned()),
            other => {
                eprintln!("unknown option {other}");
                return ExitCode::from(2);
            }
        }
    }
    let all = targets();
    let chosen: Vec<String> = match only {
        Some(name) if all.contains(&name) => vec![name],
        Some(name) => {
            eprintln!("no fuzz target `{name}`; the targets: {}", all.join(", "));
            return ExitCode::from(2);
        }
        None => all,
    };
    let mut steps = Vec::new();
    if let Some(bin_dir) = build(&mut steps, release) {
        for target in &chosen {
            run_target(&mut steps, &bin_dir, target, seconds);
        }
    }
    summary(&steps, started)
}
