//! The emulator, hosted by the CLI: `gatepost emulator` serves it, `gatepost gate --emulator` starts
//! it in-process on loopback for one evaluation. Behind the default-on `emulator` cargo feature,
//! because it brings an async runtime that the rest of the CLI does not need.

use crate::cli::EmulatorArgs;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;

/// The key used against an emulator whose world is open, when none is set.
const ANY_KEY: &str = "gatepost-emulator-key";

/// Load a world file, checked for serving: it lists its keys or says `"open": true`.
fn load_world(path: &Path) -> Result<gatepost_emulator::World, String> {
    gatepost_emulator::World::from_path(path)
        .and_then(|world| world.check_keys().map(|()| world))
        .map_err(|e| {
            let e = gatepost_emulator::WorldError { file: None, ..e };
            format!("cannot load the world {}: {e}", path.display())
        })
}

/// An emulator running in this process for `gate --emulator`; stops when dropped.
pub struct InProcess {
    running: gatepost_emulator::RunningEmulator,
    /// The API and application keys to use when the user set none: the world's first of each
    /// list, or a placeholder where it accepts any.
    pub default_keys: (String, String),
}

impl InProcess {
    pub fn base_url(&self) -> String {
        self.running.base_url()
    }
}

/// Start the emulator for `world` on a free loopback port.
pub fn start_in_process(world: &Path, time_scale: f64) -> Result<InProcess, String> {
    let world = load_world(world)?;
    let first = |keys: &[String]| keys.first().cloned().unwrap_or_else(|| ANY_KEY.to_string());
    let default_keys = (first(world.api_keys()), first(world.app_keys()));
    let running = gatepost_emulator::start(gatepost_emulator::EmulatorOptions {
        time_scale,
        ..gatepost_emulator::EmulatorOptions::new(world)
    })
    .map_err(|e| format!("cannot start the emulator: {e}"))?;
    Ok(InProcess {
        running,
        default_keys,
    })
}

/// `gatepost emulator`: serve until killed. The first line on stdout is exactly
/// `gatepost emulator listening on http://ADDR:PORT` (https with TLS), flushed at once: scripts and
/// tests wait for it to learn the port.
pub fn serve(args: &EmulatorArgs) -> Result<(), String> {
    let world = load_world(&args.world)?;
    let seconds = |value: f64, flag: &str| {
        if value.is_finite() && value > 0.0 && value <= 86_400.0 {
            Ok(std::time::Duration::from_secs_f64(value))
        } else {
            Err(format!(
                "{flag} must be a number of seconds above 0 and at most 86400, not {value}"
            ))
        }
    };
    if !(args.time_scale.is_finite() && args.time_scale > 0.0) {
        return Err(format!(
            "--time-scale must be a positive number, not {}",
            args.time_scale
        ));
    }
    if args.max_connections == 0 {
        return Err("--max-connections must be at least 1".to_string());
    }
    let limits = gatepost_emulator::Limits {
        header_timeout: seconds(args.header_timeout, "--header-timeout")?,
        body_timeout: seconds(args.body_timeout, "--body-timeout")?,
        max_connections: args.max_connections,
    };
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(gatepost_emulator::TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
        }),
        _ => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let options = gatepost_emulator::EmulatorOptions {
        bind: SocketAddr::new(args.bind, args.port),
        time_scale: args.time_scale,
        tls,
        limits,
        cors_origins: args.cors_origins.clone(),
        ..gatepost_emulator::EmulatorOptions::new(world)
    };
    let mut listening = false;
    gatepost_emulator::serve_blocking(options, |addr| {
        listening = true;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "gatepost emulator listening on {scheme}://{addr}");
        let _ = out.flush();
    })
    .map_err(|e| {
        if listening {
            format!("the emulator stopped: {e}")
        } else {
            format!("cannot start the emulator: {e}")
        }
    })
}
