//! `chaos-server [--unavailable 0.3] [--dropped 0.1] [--stalled 0.05]
//! [--revoke-every 200] [--seed 7]`: the chaos suite's fault-injecting API in
//! its own process. Prints `READY http://127.0.0.1:PORT` once it listens.

use std::io::Write;
use std::process::ExitCode;

use session_kit_reliability::chaos::{self, Faults};

#[tokio::main]
async fn main() -> ExitCode {
    let faults = match Faults::from_args(std::env::args().skip(1)) {
        Ok(faults) => faults,
        Err(message) => {
            eprintln!("chaos-server: {message}");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("chaos-server: cannot listen: {e}");
            return ExitCode::FAILURE;
        }
    };
    let addr = listener
        .local_addr()
        .expect("a bound listener has an address");
    println!("READY http://{addr}");
    std::io::stdout().flush().ok();
    match chaos::serve(listener, faults).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chaos-server: {e}");
            ExitCode::FAILURE
        }
    }
}
