//! Checks that the services the tests talk to answer on loopback.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(3);

/// Commands that start each service on a machine like CI's.
pub(crate) const START_REDIS: &str =
    "redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save \"\" --appendonly no";
pub(crate) const START_POSTGRES: &str =
    "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start";

fn connect(port: u16) -> std::io::Result<TcpStream> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let stream = TcpStream::connect_timeout(&addr, TIMEOUT)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    Ok(stream)
}

/// Redis answers `PING` with `+PONG`.
pub(crate) fn redis_answers() -> Result<(), String> {
    let mut stream = connect(6379).map_err(|e| e.to_string())?;
    stream.write_all(b"PING\r\n").map_err(|e| e.to_string())?;
    let mut buf = [0u8; 7];
    stream.read_exact(&mut buf).map_err(|e| e.to_string())?;
    if &buf == b"+PONG\r\n" {
        Ok(())
    } else {
        Err(format!(
            "unexpected answer {:?}",
            String::from_utf8_lossy(&buf)
        ))
    }
}

/// PostgreSQL answers an `SSLRequest` with `S` or `N`.
pub(crate) fn postgres_answers() -> Result<(), String> {
    let mut stream = connect(5432).map_err(|e| e.to_string())?;
    // Length 8, then the SSLRequest code 80877103.
    stream
        .write_all(&[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])
        .map_err(|e| e.to_string())?;
    let mut buf = [0u8; 1];
    stream.read_exact(&mut buf).map_err(|e| e.to_string())?;
    match buf[0] {
        b'S' | b'N' => Ok(()),
        other => Err(format!("unexpected answer byte {other:#x}")),
    }
}

/// Checks both services, printing how to start any that is down.
pub(crate) fn check_all() -> bool {
    let mut ok = true;
    for (name, check, start) in [
        (
            "Redis on 127.0.0.1:6379",
            redis_answers as fn() -> Result<(), String>,
            START_REDIS,
        ),
        (
            "PostgreSQL on 127.0.0.1:5432",
            postgres_answers,
            START_POSTGRES,
        ),
    ] {
        match check() {
            Ok(()) => println!("{name}: answering"),
            Err(e) => {
                ok = false;
                eprintln!("{name}: not answering ({e})\n  start it with: {start}");
            }
        }
    }
    ok
}
