//! N concurrent evaluations from one process: what a Rust service (a deploy orchestrator, a CI
//! runner) embedding `gatepost-core` costs per evaluation. One thread per evaluation, each
//! driving its own engine with a blocking HTTP/1.1 client on `std::net` — the smallest honest
//! host: no async runtime, no TLS (the bench emulator is plain http on loopback).
//!
//! `gatepost-bench-fanout N SERVICE CONFIG_PATH API_URL TIMEOUT_SECONDS` (keys from
//! DD_API_KEY / DD_APP_KEY). Prints `passed=P other=O`; exits 0 only when every evaluation passed.
//! With GATEPOST_FANOUT_DONE=FILE, also writes "EVALUATION_ID DONE_EPOCH_MS" per evaluation to
//! FILE (bench/lib/lateness.py reads it).

use gatepost_core::{Action, Engine, Input, Options, TransportErrorKind};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [n, service, config_path, api_url, timeout] = args.as_slice() else {
        eprintln!("usage: gatepost-bench-fanout N SERVICE CONFIG_PATH API_URL TIMEOUT_SECONDS");
        return ExitCode::from(2);
    };
    let (Ok(n), Ok(timeout)) = (n.parse::<usize>(), timeout.parse::<f64>()) else {
        eprintln!("N must be a count and TIMEOUT_SECONDS a number");
        return ExitCode::from(2);
    };
    let config = match std::fs::read_to_string(config_path) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("cannot read {config_path}: {e}");
            return ExitCode::from(2);
        }
    };
    let threads: Vec<_> = (0..n)
        .map(|i| {
            let options = serde_json::json!({
                "service": service, "env": "bench", "config": config, "api_url": api_url,
                "api_key": std::env::var("DD_API_KEY").ok(),
                "app_key": std::env::var("DD_APP_KEY").ok(),
                "timeout": timeout, "seed": i,
            });
            std::thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn(move || evaluate(options))
                .expect("a thread per evaluation")
        })
        .collect();
    let finished: Vec<Finished> = threads
        .into_iter()
        .filter_map(|t| t.join().ok().and_then(Result::ok))
        .collect();
    let passed = finished.iter().filter(|f| f.exit_code == 0).count();
    println!("passed={passed} other={}", n - passed);
    if let Ok(path) = std::env::var("GATEPOST_FANOUT_DONE") {
        let lines: String = finished
            .iter()
            .map(|f| format!("{} {}\n", f.evaluation_id.as_deref().unwrap_or("-"), f.done_ms))
            .collect();
        if let Err(e) = std::fs::write(&path, lines) {
            eprintln!("cannot write {path}: {e}");
        }
    }
    if passed == n {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// One evaluation's end: its exit code, its id, and when its outcome was in hand (Unix ms).
struct Finished {
    exit_code: i32,
    evaluation_id: Option<String>,
    done_ms: u64,
}

/// Drive one engine to its outcome.
fn evaluate(options: serde_json::Value) -> Result<Finished, String> {
    let options = Options::from_host_value(options).map_err(|e| e.to_string())?;
    let mut engine = Engine::new(options, now_ms()).map_err(|e| e.to_string())?;
    loop {
        match engine.poll(now_ms()) {
            Action::SendRequest {
                request_id,
                method,
                url,
                headers,
                body,
                timeout_ms,
                max_body_bytes,
            } => {
                let input = perform(
                    request_id,
                    &method,
                    &url,
                    &headers,
                    body.as_deref(),
                    timeout_ms,
                    max_body_bytes,
                );
                engine.handle(input, now_ms()).map_err(|e| e.to_string())?;
            }
            Action::Wait { until, .. } => {
                let now = now_ms();
                if until > now {
                    std::thread::sleep(Duration::from_millis(until - now));
                }
                engine
                    .handle(Input::Timeout, now_ms())
                    .map_err(|e| e.to_string())?;
            }
            Action::Done { outcome } => {
                engine.drain_events();
                return Ok(Finished {
                    exit_code: outcome.exit_code,
                    evaluation_id: outcome.evaluation_id,
                    done_ms: now_ms(),
                });
            }
        }
        engine.drain_events();
    }
}

/// One request over a fresh connection (`Connection: close`), never following redirects.
fn perform(
    request_id: u64,
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: Option<&str>,
    timeout_ms: u64,
    max_body_bytes: u64,
) -> Input {
    let error = |kind: TransportErrorKind, message: String| Input::TransportError {
        request_id,
        kind,
        message,
    };
    let Some(rest) = url.strip_prefix("http://") else {
        return error(TransportErrorKind::Other, "only http:// URLs".into());
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let timeout = Duration::from_millis(timeout_ms.max(1));
    let addr = match std::net::ToSocketAddrs::to_socket_addrs(authority)
        .ok()
        .and_then(|mut a| a.next())
    {
        Some(addr) => addr,
        None => {
            return error(
                TransportErrorKind::Connect,
                format!("cannot resolve {authority}"),
            );
        }
    };
    let mut stream = match TcpStream::connect_timeout(&addr, timeout) {
        Ok(s) => s,
        Err(e) => return error(classify(&e, TransportErrorKind::Connect), e.to_string()),
    };
    let _ = stream.set_read_timeout(Some(timeout));
    let _ = stream.set_write_timeout(Some(timeout));
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    let body = body.unwrap_or("");
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    if let Err(e) = stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body.as_bytes()))
    {
        return error(classify(&e, TransportErrorKind::Reset), e.to_string());
    }
    let mut raw = Vec::new();
    let limit = max_body_bytes.saturating_add(64 * 1024);
    if let Err(e) = (&mut stream).take(limit + 1).read_to_end(&mut raw) {
        return error(classify(&e, TransportErrorKind::Reset), e.to_string());
    }
    parse(request_id, &raw, max_body_bytes)
        .unwrap_or_else(|why| error(TransportErrorKind::Reset, why))
}

fn classify(e: &std::io::Error, otherwise: TransportErrorKind) -> TransportErrorKind {
    match e.kind() {
        ErrorKind::TimedOut | ErrorKind::WouldBlock => TransportErrorKind::Timeout,
        ErrorKind::ConnectionRefused => TransportErrorKind::Connect,
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe => {
            TransportErrorKind::Reset
        }
        _ => otherwise,
    }
}

/// Status line, headers, and a body delimited by Content-Length, chunked encoding or the close.
fn parse(request_id: u64, raw: &[u8], max_body_bytes: u64) -> Result<Input, String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("the connection closed before the response head ended")?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or("malformed status line")?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let rest = &raw[end + 4..];
    let body: Vec<u8> =
        if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
            dechunk(rest).ok_or("malformed chunked body")?
        } else if let Some(len) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
            if rest.len() < len {
                return Err("the connection closed mid-body".into());
            }
            rest[..len].to_vec()
        } else {
            rest.to_vec()
        };
    if body.len() as u64 > max_body_bytes {
        return Ok(Input::TransportError {
            request_id,
            kind: TransportErrorKind::BodyTooLarge,
            message: format!("body above {max_body_bytes} bytes"),
        });
    }
    Ok(Input::Response {
        request_id,
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        if data.len() < size + 2 {
            return None;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}
