//! Serve a world on loopback: what the end-to-end suites start (the `gatepost emulator` command
//! of the CLI does the same with more polish).
//!
//! `cargo run -p gatepost-emulator --example serve -- --world W [--port P] [--bind ADDR]
//! [--time-scale N] [--tls-cert C --tls-key K]`

use gatepost_emulator::{EmulatorOptions, TlsFiles, World};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut world = None;
    let mut port = 0u16;
    let mut bind: IpAddr = [127, 0, 0, 1].into();
    let mut time_scale = 1.0;
    let (mut cert, mut key) = (None, None);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--world" => world = Some(PathBuf::from(value()?)),
            "--port" => port = value()?.parse()?,
            "--bind" => bind = value()?.parse()?,
            "--time-scale" => time_scale = value()?.parse()?,
            "--tls-cert" => cert = Some(PathBuf::from(value()?)),
            "--tls-key" => key = Some(PathBuf::from(value()?)),
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let world = World::from_path(&world.ok_or("--world is required")?)?;
    let tls = match (cert, key) {
        (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
        (None, None) => None,
        _ => return Err("--tls-cert and --tls-key go together".into()),
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let options = EmulatorOptions {
        bind: SocketAddr::new(bind, port),
        time_scale,
        tls,
        ..EmulatorOptions::new(world)
    };
    gatepost_emulator::serve_blocking(options, |addr| {
        let shown = if addr.ip().is_unspecified() {
            SocketAddr::new([127, 0, 0, 1].into(), addr.port())
        } else {
            addr
        };
        println!("gatepost emulator listening on {scheme}://{shown}");
    })?;
    Ok(())
}
