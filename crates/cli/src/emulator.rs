//! The emulator, hosted by the CLI: `gatepost emulator` serves it, `gatepost gate --emulator` starts
//! it in-process on loopback for one evaluation. Behind the default-on `emulator` cargo feature,
//! because it brings an async runtime that the rest of the CLI does not need.

use crate::cli::EmulatorArgs;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;

/// The key used against an emulator whose world accepts any key, when none is set.
const ANY_KEY: &str = "gatepost-emulator-key";

/// An emulator running in this process for `gate --emulator`; stops when dropped.
pub struct InProcess {
    running: gatepost_emulator::RunningEmulator,
    /// The key to use when the user set none: the world's first, or a placeholder.
    pub default_key: String,
}

impl InProcess {
    pub fn base_url(&self) -> String {
        self.running.base_url()
    }
}

/// Start the emulator for `world` on a free loopback port.
pub fn start_in_process(world: &Path, time_scale: f64) -> Result<InProcess, String> {
    let world = gatepost_emulator::World::from_path(world)
        .map_err(|e| format!("cannot load the world {}: {e}", world.display()))?;
    let default_key = world
        .api_keys()
        .first()
        .cloned()
        .unwrap_or_else(|| ANY_KEY.to_string());
    let running = gatepost_emulator::start(gatepost_emulator::EmulatorOptions {
        world,
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        time_scale,
        tls: None,
    })
    .map_err(|e| format!("cannot start the emulator: {e}"))?;
    Ok(InProcess {
        running,
        default_key,
    })
}

/// `gatepost emulator`: serve until killed. The first line on stdout is exactly
/// `gatepost emulator listening on http://ADDR:PORT` (https with TLS), flushed at once: scripts and
/// tests wait for it to learn the port.
pub fn serve(args: &EmulatorArgs) -> Result<(), String> {
    let world = gatepost_emulator::World::from_path(&args.world)
        .map_err(|e| format!("cannot load the world {}: {e}", args.world.display()))?;
    if !(args.time_scale.is_finite() && args.time_scale > 0.0) {
        return Err(format!(
            "--time-scale must be a positive number, not {}",
            args.time_scale
        ));
    }
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(gatepost_emulator::TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
        }),
        _ => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let options = gatepost_emulator::EmulatorOptions {
        world,
        bind: SocketAddr::new(args.bind, args.port),
        time_scale: args.time_scale,
        tls,
    };
    gatepost_emulator::serve_blocking(options, |addr| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "gatepost emulator listening on {scheme}://{addr}");
        let _ = out.flush();
    })
    .map_err(|e| format!("the emulator stopped: {e}"))
}
