//! `--state-file`: the engine's snapshot kept on disk while a gate runs, so a retried or restarted
//! CI job resumes the evaluation already in flight instead of triggering a second one.
//!
//! The file wraps the engine snapshot with the gate it belongs to (service, env, identifier), so a
//! file left over from another gate is never resumed by mistake. It is written atomically (a
//! temporary file in the same directory, then a rename), so a job killed mid-write leaves either
//! the previous state or the new one, never half a file. The snapshot never contains keys: they
//! are read from the environment again on resume.

use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Bumped if the wrapper's meaning changes.
const STATE_FORMAT: u32 = 1;

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
    /// A state for this gate: resume it.
    Resume(StateFile),
    /// A file that cannot be resumed for this gate; the reason is shown and a new evaluation
    /// starts (the file is then overwritten).
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

    /// Whether this state belongs to the gate being evaluated.
    pub fn matches(&self, service: &str, env: &str, identifier: Option<&str>) -> bool {
        self.service == service
            && self.env == env
            && self.identifier.as_deref().unwrap_or("default") == identifier.unwrap_or("default")
    }
}

/// Read the state file, if any.
pub fn load(path: &Path, service: &str, env: &str, identifier: Option<&str>) -> Loaded {
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
            "it has format {} (this gatepost reads {STATE_FORMAT})",
            state.gatepost_state
        ));
    }
    if !state.matches(service, env, identifier) {
        return Loaded::Unusable(format!(
            "it belongs to service {:?}, env {:?}, identifier {:?}",
            state.service,
            state.env,
            state.identifier.as_deref().unwrap_or("default")
        ));
    }
    Loaded::Resume(state)
}

/// Write the state atomically: a temporary sibling file, flushed to disk, then renamed over the
/// target.
pub fn save(path: &Path, state: &StateFile) -> std::io::Result<()> {
    let tmp = temp_path(path);
    let text = serde_json::to_string_pretty(state).map_err(std::io::Error::other)?;
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
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
    fn a_saved_state_resumes_only_for_its_gate() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gate.state");
        assert!(matches!(
            load(&path, "checkout", "prod", None),
            Loaded::Missing
        ));
        let state = StateFile::new(
            "checkout",
            "prod",
            None,
            Some("e9d2f04f-4f4b-494b-86e5-52f03e10c8e9"),
            serde_json::json!({"phase": "polling"}),
        );
        save(&path, &state).unwrap();
        match load(&path, "checkout", "prod", Some("default")) {
            Loaded::Resume(s) => assert_eq!(s, state),
            other => panic!("expected a resumable state, got {other:?}"),
        }
        assert!(matches!(
            load(&path, "checkout", "staging", None),
            Loaded::Unusable(_)
        ));
        remove(&path).unwrap();
        remove(&path).unwrap();
        assert!(matches!(
            load(&path, "checkout", "prod", None),
            Loaded::Missing
        ));
    }

    #[test]
    fn a_corrupt_file_is_reported_not_resumed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gate.state");
        std::fs::write(&path, "{ half a fi").unwrap();
        assert!(matches!(
            load(&path, "checkout", "prod", None),
            Loaded::Unusable(_)
        ));
    }
}
