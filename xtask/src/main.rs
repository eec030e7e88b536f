//! session-kit's project tasks, run as `cargo xtask <task>`.
//!
//! Kept dependency-free so it builds in seconds on a fresh clone.

#![forbid(unsafe_code)]

mod bench;
mod ci;
mod fuzz;
mod readme;
mod services;

use std::process::ExitCode;

const HELP: &str = "\
cargo xtask <task>

Tasks:
  ci        everything CI checks: rustfmt, clippy (-D warnings), the duplicate-crate
            check, the tests and the reliability suites at smoke size (needs Redis and
            PostgreSQL on 127.0.0.1), a 5 s run of every fuzz target, rustdoc with
            warnings denied, the facade with no features and with each feature alone,
            everything checked for Windows, and clippy over the benchmark workspaces
  fuzz [TARGET] [--seconds N] [--release]
            build the fuzz targets with libFuzzer instrumentation (stable toolchain)
            and run each (or TARGET) for N seconds (default 60) over fuzz/corpus
  suites    the reliability suites at full size: chaos (1 600 requests), crash
            (200 kills per store), leaks, corpus replay (needs Redis and PostgreSQL)
  soak [REQUESTS] [SESSIONS]
            load/soak run (release; not in CI): 1 000 000 requests through one Session
            with memory sampled, 100 000 server sessions with cleanup running; writes
            its section of BENCHMARKS.md when run with the default sizes
  readme    write each crate's README.md from its crate docs (a test keeps them equal)
  bench     run the benchmarks P1–P7 side by side with raw reqwest, reqwest-middleware
            and tower-sessions (needs wrk) and write BENCHMARKS.md
  services  check that Redis (127.0.0.1:6379) and PostgreSQL (127.0.0.1:5432) answer
  help      this text
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None | Some("help" | "-h" | "--help") => {
            print!("{HELP}");
            ExitCode::SUCCESS
        }
        Some("ci") => ci::run(),
        Some("bench") => bench::run(),
        Some("fuzz") => fuzz::run(&args[1..]),
        Some("readme") => readme::run(),
        Some("suites") => ci::full_suites(),
        Some("soak") => bench::soak(&args[1..]),
        Some("services") => {
            if services::check_all() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Some(other) => {
            eprintln!("unknown task `{other}`\n");
            eprint!("{HELP}");
            ExitCode::from(2)
        }
    }
}
