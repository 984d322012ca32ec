//! Snapshots written by an earlier gatepost still resume, and the resumed engine does exactly what
//! the engine that wrote them did. `tests/fixtures/snapshots/*.json` were taken from the engine as
//! it was before the decision policy was reorganised (snapshot schema 2), each at a different
//! point of an evaluation: triggering, retrying the trigger, polling, reading a preconfigured
//! gate's stored rules, fetching failure details, cancelled, finished. Each records what the
//! engine of that time did after resuming and after the next input. They are never regenerated:
//! a change that breaks one breaks real snapshots in users' stores.

#![allow(clippy::disallowed_methods)] // tests read the committed fixtures from disk

use gatepost_core::machine::SNAPSHOT_SCHEMA_VERSION;
use gatepost_core::{Action, Engine, Input};
use serde_json::Value;
use std::path::PathBuf;

const API_KEY: &str = "fixture-api-key";
const APP_KEY: &str = "fixture-app-key";

fn drain(engine: &mut Engine, now: u64) -> Vec<Value> {
    let mut out = Vec::new();
    for _ in 0..32 {
        let action = engine.poll(now);
        let stop = !matches!(action, Action::SendRequest { .. });
        out.push(serde_json::to_value(&action).unwrap());
        if stop {
            return out;
        }
    }
    panic!("poll never settled: {out:?}");
}

fn events(engine: &mut Engine) -> Vec<Value> {
    engine
        .drain_events()
        .iter()
        .map(|e| serde_json::to_value(e).unwrap())
        .collect()
}

#[test]
fn snapshots_from_before_the_policy_refactor_resume_identically() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/snapshots");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 8, "{names:?}");
    for path in names {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let snapshot = doc["snapshot"].clone();
        assert_eq!(
            snapshot["schema_version"], SNAPSHOT_SCHEMA_VERSION,
            "{name}"
        );
        let text = snapshot.to_string();
        assert!(!text.contains(API_KEY) && !text.contains(APP_KEY), "{name}");
        let now = doc["resume_at"].as_u64().unwrap();
        let mut engine = Engine::resume(snapshot, Some(API_KEY.into()), Some(APP_KEY.into()), now)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        // Written back in the same shape: the same top-level fields, none nested or renamed.
        let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(
            keys(&engine.snapshot()),
            keys(&doc["snapshot"]),
            "{name}: snapshot shape"
        );
        assert_eq!(
            drain(&mut engine, now),
            doc["expect"]["actions"].as_array().unwrap().clone(),
            "{name}: actions"
        );
        assert_eq!(
            events(&mut engine),
            doc["expect"]["events"].as_array().unwrap().clone(),
            "{name}: events"
        );
        let then = &doc["then"];
        if then.is_null() {
            continue;
        }
        let at = then["now"].as_u64().unwrap();
        let input: Input = serde_json::from_value(then["input"].clone()).unwrap();
        engine
            .handle(input, at)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            drain(&mut engine, at),
            then["expect"]["actions"].as_array().unwrap().clone(),
            "{name}: then, actions"
        );
        assert_eq!(
            events(&mut engine),
            then["expect"]["events"].as_array().unwrap().clone(),
            "{name}: then, events"
        );
    }
}
