//! `--state-file`: the engine's snapshot kept on disk while a gate runs, so a retried or restarted
//! CI job resumes the evaluation already in flight instead of triggering a second one.
//!
//! Which evaluation a file may resume is decided by core (`Engine::resume_for`): the snapshot
//! records a digest of the request it belongs to (site or URL, service, env, identifier, version,
//! primary tag, configuration), and a run whose request differs starts a new evaluation and
//! replaces the file. The wrapper's service, env, identifier and evaluation id are only for people
//! reading the file. It is written atomically (a temporary file in the same directory, then a
//! rename), so a job killed mid-write leaves either the previous state or the new one, never half
//! a file, and readable by its owner only (mode 0600 on Unix). The snapshot never contains keys:
//! they are read from the environment again on resume.

use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Bumped if the wrapper's meaning changes. 2: the snapshot inside is bound to its request.
const STATE_FORMAT: u32 = 2;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateFile {
    pub gatepost_state: u32,
    pub service: String,
    pub env: String,
    #[serde(default)]
    pub identifier: Option<String>,
    /// The evaluation id, when the server gave one (for people reading the file).
    #[serde(default)]
    pub evaluation_id: Option<String>,
    /// `Engine::snapshot()`, as it is.
    pub snapshot: serde_json::Value,
}

/// What was found at the state file path.
#[derive(Debug)]
pub enum Loaded {
    /// No file: start a new evaluation.
    Missing,
    /// A gatepost state file: core decides whether it resumes.
    Resume(StateFile),
    /// A file that cannot be resumed; the reason is shown and a new evaluation starts (the file
    /// is then overwritten).
    Unusable(String),
}

impl StateFile {
    pub fn new(
        service: &str,
        env: &str,
        identifier: Option<&str>,
        evaluation_id: Option<&str>,
        snapshot: serde_json::Value,
    ) -> StateFile {
        StateFile {
            gatepost_state: STATE_FORMAT,
            service: service.to_string(),
            env: env.to_string(),
            identifier: identifier.map(str::to_string),
            evaluation_id: evaluation_id.map(str::to_string),
            snapshot,
        }
    }
}

/// Read the state file, if any.
pub fn load(path: &Path) -> Loaded {
    let text = match crate::files::read_text(path, crate::files::MAX_FILE_BYTES) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Loaded::Missing,
        Err(e) => return Loaded::Unusable(format!("cannot read it: {e}")),
    };
    let state: StateFile = match serde_json::from_str(&text) {
        Ok(s) => s,
        Err(e) => return Loaded::Unusable(format!("it is not a gatepost state file ({e})")),
    };
    if state.gatepost_state != STATE_FORMAT {
        return Loaded::Unusable(format!(
            "it has format {} (this gatepost reads {STATE_FORMAT}; an older file does not record \
             which request it belongs to)",
            state.gatepost_state
        ));
    }
    Loaded::Resume(state)
}

/// Write the state atomically and owner-only: a new temporary sibling file (mode 0600), flushed
/// to disk, then renamed over the target.
pub fn save(path: &Path, state: &StateFile) -> std::io::Result<()> {
    let tmp = temp_path(path);
    let text = serde_json::to_string_pretty(state).map_err(std::io::Error::other)?;
    // A leftover temporary file from a killed run with this pid: never write through it.
    let _ = std::fs::remove_file(&tmp);
    let result = (|| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut f = options.open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Remove the state file once the evaluation has a final result, so the next run evaluates anew.
pub fn remove(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "state".to_string());
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_state_reads_back_and_is_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gate.state");
        assert!(matches!(load(&path), Loaded::Missing));
        // A world-readable file already there is replaced, not written through.
        std::fs::write(&path, "old").unwrap();
        let state = StateFile::new(
            "checkout",
            "prod",
            None,
            Some("e9d2f04f-4f4b-494b-86e5-52f03e10c8e9"),
            serde_json::json!({"phase": "polling"}),
        );
        save(&path, &state).unwrap();
        match load(&path) {
            Loaded::Resume(s) => assert_eq!(s, state),
            other => panic!("expected a resumable state, got {other:?}"),
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        }
        // Nothing but the state file is left in the directory.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        remove(&path).unwrap();
        remove(&path).unwrap();
        assert!(matches!(load(&path), Loaded::Missing));
    }

    #[test]
    fn a_corrupt_or_old_format_file_is_reported_not_resumed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gate.state");
        std::fs::write(&path, "{ half a fi").unwrap();
        assert!(matches!(load(&path), Loaded::Unusable(_)));
        let old = serde_json::json!({"gatepost_state": 1, "service": "checkout", "env": "prod",
                                     "snapshot": {}});
        std::fs::write(&path, old.to_string()).unwrap();
        match load(&path) {
            Loaded::Unusable(why) => assert!(why.contains("format 1"), "{why}"),
            other => panic!("expected unusable, got {other:?}"),
        }
    }
}
