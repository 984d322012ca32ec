//! Test support shared by the integration tests of the CLI (`crates/cli/tests/`) and the emulator
//! (`crates/emulator/tests/`): the repository's example worlds, an emulator served in the test's
//! process on a loopback port, a `gatepost emulator` child and the URL it prints, a self-signed
//! certificate, and a raw HTTP/1.1 client ([`http`]) for exchanges a real client would not make.
//!
//! A dev-dependency only (`publish = false`); it holds no tests itself.

pub mod http;

use gatepost_emulator::{EmulatorOptions, RunningEmulator, World};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The repository root (for the example worlds, configs and schemas).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/testkit sits two levels below the root")
        .to_path_buf()
}

/// `examples/worlds/NAME`.
pub fn example_world_path(name: &str) -> PathBuf {
    repo_root().join("examples/worlds").join(name)
}

/// The example world `NAME` as JSON, without its `$schema` key, ready to be edited by a test.
pub fn example_world(name: &str) -> Value {
    let path = example_world_path(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut world: Value = serde_json::from_str(&text).expect("an example world is JSON");
    if let Some(obj) = world.as_object_mut() {
        obj.remove("$schema");
    }
    world
}

/// A temporary folder, removed when dropped.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary folder")
}

/// Write `value` as `dir/name` and return its path.
pub fn write_json(dir: &Path, name: &str, value: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, value.to_string()).unwrap();
    path
}

/// A world from its JSON.
pub fn world(value: &Value) -> World {
    World::from_json(&value.to_string()).expect("valid world")
}

/// `world` served in this process on a free loopback port, at real time (`EmulatorOptions::new`).
pub fn serve_world(world: World) -> RunningEmulator {
    gatepost_emulator::start(EmulatorOptions::new(world)).expect("the emulator starts")
}

/// A child process that serves an emulator (`gatepost emulator ...`) and the URL its first line
/// announced; the child is killed when this is dropped.
pub struct Served {
    pub child: Child,
    pub url: String,
}

impl Served {
    /// Spawn `cmd` (a `gatepost emulator --port 0 ...` command) and read the URL from its first
    /// stdout line, `gatepost emulator listening on URL`, which must be on 127.0.0.1 with `scheme`.
    pub fn spawn(mut cmd: Command, scheme: &str) -> Served {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the emulator command starts");
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        let url = first
            .trim_end()
            .strip_prefix("gatepost emulator listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
            .to_string();
        let origin = format!("{scheme}://127.0.0.1:");
        assert!(url.starts_with(&origin), "{first}");
        assert!(url[origin.len()..].parse::<u16>().is_ok(), "{first}");
        Served { child, url }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A self-signed certificate for `127.0.0.1` and `localhost`, written as `cert.pem` and `key.pem`
/// in `dir`.
pub struct SelfSigned {
    pub certified: rcgen::CertifiedKey<rcgen::KeyPair>,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// See [`SelfSigned`].
pub fn self_signed(dir: &Path) -> SelfSigned {
    let certified =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    SelfSigned {
        certified,
        cert,
        key,
    }
}
