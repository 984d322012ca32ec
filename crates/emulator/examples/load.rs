//! A quick loopback load test: starts an emulator in-process on the healthy example world and
//! hammers the result endpoint (the one clients poll) over keep-alive connections.
//!
//! `cargo run --release -p gatepost-emulator --example load -- [SECONDS] [CONNECTIONS]`

use gatepost_emulator::{EmulatorOptions, World, start};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let seconds: f64 = args.next().map_or(Ok(5.0), |s| s.parse())?;
    let connections: usize = args.next().map_or(Ok(4), |s| s.parse())?;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/worlds");
    let world = World::from_path(&root.join("healthy.json"))?;
    let emulator = start(EmulatorOptions::new(world))?;
    let addr = emulator.addr();

    let body = r#"{"data":{"type":"deployment_gates_evaluation_request","attributes":{"service":"checkout","env":"prod","version":"v2"}}}"#;
    let (status, reply) = exchange(
        &mut connect(addr)?,
        &format!(
            "POST /api/v2/deployments/gates/evaluation HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    )?;
    assert_eq!(status, 202, "{reply}");
    let id = reply
        .split("\"evaluation_id\":\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .ok_or("no evaluation id")?
        .to_string();
    let request =
        format!("GET /api/v2/deployments/gates/evaluation/{id} HTTP/1.1\r\nHost: x\r\n\r\n");

    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let request = request.clone();
            std::thread::spawn(move || -> std::io::Result<u64> {
                let mut stream = connect(addr)?;
                let mut done = 0;
                while Instant::now() < deadline {
                    let (status, _) = exchange(&mut stream, &request)?;
                    assert_eq!(status, 200);
                    done += 1;
                }
                Ok(done)
            })
        })
        .collect();
    let mut total = 0;
    for worker in workers {
        total += worker.join().map_err(|_| "worker panicked")??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "{total} result requests in {elapsed:.1} s over {connections} keep-alive connections: {:.0} requests/s",
        total as f64 / elapsed
    );
    emulator.shutdown();
    Ok(())
}

fn connect(addr: SocketAddr) -> std::io::Result<BufReader<TcpStream>> {
    let stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    Ok(BufReader::new(stream))
}

/// Send one request and read one response (headers, then `Content-Length` bytes).
fn exchange(stream: &mut BufReader<TcpStream>, request: &str) -> std::io::Result<(u16, String)> {
    stream.get_mut().write_all(request.as_bytes())?;
    let mut line = String::new();
    stream.read_line(&mut line)?;
    let status = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut length = 0;
    loop {
        line.clear();
        stream.read_line(&mut line)?;
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body)?;
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}
