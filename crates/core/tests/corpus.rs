//! The conformance corpus runner (docs/architecture.md, "The conformance corpus"): every scenario in
//! `tests/scenarios/` through the Rust engine. The Python, Node and wasm runners apply the same
//! rules, listed in `tests/scenarios/README.md`.

#![allow(clippy::disallowed_methods)] // tests read the committed corpus and schemas from disk

use gatepost_core::{Action, Engine, Input, Options};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

#[path = "support/api_schemas.rs"]
mod api_schemas;

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/scenarios")
}

/// Partial match: objects compare only the expected keys, arrays element by element (same length),
/// scalars exactly. An expected object or array against an actual string is matched against the
/// string parsed as JSON (request bodies).
fn matches(expected: &Value, actual: &Value, path: &str) -> Result<(), String> {
    match (expected, actual) {
        (Value::Object(_) | Value::Array(_), Value::String(text)) => {
            match serde_json::from_str::<Value>(text) {
                Ok(parsed) => matches(expected, &parsed, path),
                Err(_) => Err(format!(
                    "{path}: expected JSON {expected}, got the string {actual}"
                )),
            }
        }
        (Value::Object(want), Value::Object(got)) => {
            for (key, value) in want {
                let sub = format!("{path}.{key}");
                match got.get(key) {
                    Some(actual) => matches(value, actual, &sub)?,
                    None if value.is_null() => {}
                    None => return Err(format!("{sub}: missing (expected {value})")),
                }
            }
            Ok(())
        }
        (Value::Array(want), Value::Array(got)) => {
            if want.len() != got.len() {
                return Err(format!(
                    "{path}: expected {} elements, got {}: {actual}",
                    want.len(),
                    got.len()
                ));
            }
            want.iter()
                .zip(got)
                .enumerate()
                .try_for_each(|(i, (w, g))| matches(w, g, &format!("{path}[{i}]")))
        }
        (Value::Number(a), Value::Number(b)) if a.as_f64() == b.as_f64() => Ok(()),
        _ if expected == actual => Ok(()),
        _ => Err(format!("{path}: expected {expected}, got {actual}")),
    }
}

/// The keys may appear only in `send_request.headers`.
fn assert_no_keys(what: &str, value: &Value, keys: &[String]) -> Result<(), String> {
    let mut value = value.clone();
    if value_type(&value) == Some("send_request")
        && let Some(headers) = value.get_mut("headers")
    {
        *headers = Value::Null;
    }
    let text = value.to_string();
    match keys
        .iter()
        .find(|k| !k.is_empty() && text.contains(k.as_str()))
    {
        Some(_) => Err(format!("a key leaked into {what}")),
        None => Ok(()),
    }
}

fn value_type(value: &Value) -> Option<&str> {
    value.get("type").and_then(Value::as_str)
}

/// The committed `schemas/outcome.schema.json`, compiled once.
fn outcome_validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let path =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas/outcome.schema.json");
        let schema: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        jsonschema::validator_for(&schema).expect("outcome.schema.json compiles")
    })
}

/// How many outcomes of each cause fitted the committed outcome schema.
fn causes_checked() -> &'static Mutex<BTreeMap<String, usize>> {
    static SEEN: OnceLock<Mutex<BTreeMap<String, usize>>> = OnceLock::new();
    SEEN.get_or_init(Default::default)
}

/// Every outcome the engine returns must fit the committed `schemas/outcome.schema.json` (the
/// document every host prints with `--output json`).
fn check_outcome(outcome: &Value) -> Result<(), String> {
    let problems: Vec<String> = outcome_validator()
        .iter_errors(outcome)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    if !problems.is_empty() {
        return Err(format!(
            "outcome does not fit schemas/outcome.schema.json:\n  {}\n  outcome: {outcome}",
            problems.join("\n  ")
        ));
    }
    let cause = outcome["cause"].as_str().unwrap_or("(none)").to_string();
    *causes_checked().lock().unwrap().entry(cause).or_default() += 1;
    Ok(())
}

/// Scenarios whose bodies are known not to fit `schemas/api/`, with the reason. Empty: every
/// request the engine builds fits the published models. An entry that starts fitting fails the
/// run, so the list never goes stale.
const KNOWN_MISFITS: &[(&str, &str)] = &[];

/// Every request body the engine builds must fit the published API's schema for its operation
/// (`schemas/api/`).
fn check_request_body(action: &Value) -> Result<(), String> {
    if value_type(action) != Some("send_request") {
        return Ok(());
    }
    let method = action["method"].as_str().unwrap_or_default();
    let url = action["url"].as_str().unwrap_or_default();
    let path = url.find("/api/").map_or(url, |i| &url[i..]);
    let schemas = api_schemas::schemas();
    let (Some(schema), Some(body)) = (schemas.request_schema(method, path), action.get("body"))
    else {
        return Ok(());
    };
    let body: Value = match body {
        Value::String(text) => serde_json::from_str(text)
            .map_err(|e| format!("{method} {path}: body is not JSON: {e}"))?,
        other => other.clone(),
    };
    schemas.validate(schema, &body)
}

fn run_scenario(scenario: &Value) -> Result<(), String> {
    let options = scenario.get("options").cloned().unwrap_or(Value::Null);
    let keys: Vec<String> = ["api_key", "app_key"]
        .iter()
        .filter_map(|k| options.get(k).and_then(Value::as_str).map(str::to_string))
        .collect();
    let steps = scenario
        .get("steps")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut now = steps
        .first()
        .and_then(|s| s.get("now"))
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let built = Options::from_host_value(options.clone()).and_then(|o| {
        match scenario.get("attach").and_then(Value::as_str) {
            Some(id) => Engine::attach(id, o, now),
            None => Engine::new(o, now),
        }
    });
    if let Some(expected) = scenario.get("expect_error") {
        return match built {
            Ok(_) => Err(format!("expected error {expected}, construction succeeded")),
            Err(e) => {
                let actual = serde_json::to_value(&e).unwrap();
                assert_no_keys("the error", &actual, &keys)?;
                matches(expected, &actual, "error")
            }
        };
    }
    let mut engine = built.map_err(|e| format!("construction failed: {e}"))?;
    for (i, step) in steps.iter().enumerate() {
        let at = format!("step {i}");
        if let Some(t) = step.get("now").and_then(Value::as_u64) {
            now = t;
        }
        if step.get("snapshot_resume").and_then(Value::as_bool) == Some(true) {
            let snapshot = engine.snapshot();
            assert_no_keys("the snapshot", &snapshot, &keys)?;
            let text = snapshot.to_string();
            let api_key = options
                .get("api_key")
                .and_then(Value::as_str)
                .map(str::to_string);
            let app_key = options
                .get("app_key")
                .and_then(Value::as_str)
                .map(str::to_string);
            engine = Engine::resume(serde_json::from_str(&text).unwrap(), api_key, app_key, now)
                .map_err(|e| format!("{at}: resume failed: {e}"))?;
        }
        if let Some(input) = step.get("input") {
            let input: Input = serde_json::from_value(input.clone())
                .map_err(|e| format!("{at}: bad input: {e}"))?;
            match (engine.handle(input, now), step.get("expect_error")) {
                (Ok(()), None) => {}
                (Ok(()), Some(expected)) => {
                    return Err(format!("{at}: expected error {expected}, input accepted"));
                }
                (Err(e), Some(expected)) => {
                    matches(
                        expected,
                        &serde_json::to_value(&e).unwrap(),
                        &format!("{at}.error"),
                    )?;
                }
                (Err(e), None) => return Err(format!("{at}: input refused: {e}")),
            }
        }
        let mut actions = Vec::new();
        loop {
            let action = engine.poll(now);
            let stop = !matches!(action, Action::SendRequest { .. });
            actions.push(serde_json::to_value(&action).unwrap());
            if stop {
                break;
            }
            if actions.len() > 100 {
                return Err(format!("{at}: poll never returned wait or done"));
            }
        }
        let events: Vec<Value> = engine
            .drain_events()
            .iter()
            .map(|e| serde_json::to_value(e).unwrap())
            .collect();
        for (n, action) in actions.iter().enumerate() {
            assert_no_keys(&format!("{at} action {n}"), action, &keys)?;
            check_request_body(action).map_err(|e| format!("{at} action {n}: {e}"))?;
            if value_type(action) == Some("done") {
                check_outcome(&action["outcome"]).map_err(|e| format!("{at} action {n}: {e}"))?;
            }
        }
        assert_no_keys(
            &format!("{at} events"),
            &Value::Array(events.clone()),
            &keys,
        )?;
        if let Some(expected) = step.get("expect") {
            matches(
                expected,
                &Value::Array(actions.clone()),
                &format!("{at}.actions"),
            )
            .map_err(|e| format!("{e}\n  actions: {}", Value::Array(actions.clone())))?;
        }
        if let Some(expected) = step.get("events") {
            matches(
                expected,
                &Value::Array(events.clone()),
                &format!("{at}.events"),
            )
            .map_err(|e| format!("{e}\n  events: {}", Value::Array(events.clone())))?;
        }
    }
    Ok(())
}

#[test]
fn conformance_corpus() {
    let dir = corpus_dir();
    let index: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("index.json")).unwrap()).unwrap();
    let mut failures = Vec::new();
    let mut count = 0;
    let mut names = std::collections::BTreeSet::new();
    for file in index["files"].as_array().expect("index.json lists files") {
        let file = file.as_str().unwrap();
        let topic: Value = serde_json::from_str(&std::fs::read_to_string(dir.join(file)).unwrap())
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        for scenario in topic["scenarios"]
            .as_array()
            .unwrap_or_else(|| panic!("{file}: no scenarios"))
        {
            let name = scenario["name"].as_str().unwrap_or("(unnamed)").to_string();
            assert!(names.insert(name.clone()), "duplicate scenario name {name}");
            count += 1;
            let known = KNOWN_MISFITS.iter().find(|(n, _)| *n == name);
            match (run_scenario(scenario), known) {
                (Ok(()), None) => {}
                (Ok(()), Some(_)) => failures.push(format!(
                    "{file} / {name} now fits schemas/api: remove it from KNOWN_MISFITS"
                )),
                (Err(e), Some((_, why))) if e.contains("does not fit schemas/api") => {
                    eprintln!("known misfit {name}: {why}")
                }
                (Err(e), _) => failures.push(format!("{file} / {name}: {e}")),
            }
        }
    }
    eprintln!(
        "{count} scenarios run, {} failed; {} request bodies checked against schemas/api",
        failures.len(),
        api_schemas::schemas().checked()
    );
    assert!(
        failures.is_empty(),
        "{} of {count} scenarios failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    assert!(count > 0);
    // Every cause the engine can reach is among the checked outcomes (`skipped` is made by
    // `Outcome::skipped`, never by the engine: checked on its own below).
    let seen = causes_checked().lock().unwrap().clone();
    eprintln!("outcomes checked against schemas/outcome.schema.json: {seen:?}");
    for cause in [
        "gate_passed",
        "gate_failed",
        "dry_run",
        "timeout",
        "api_unavailable",
        "client_error",
        "cancelled",
    ] {
        assert!(
            seen.contains_key(cause),
            "no corpus outcome with cause {cause}: {seen:?}"
        );
    }
}

#[test]
fn outcome_schema_accepts_real_outcomes_and_refuses_wrong_ones() {
    let skipped: Value =
        serde_json::from_str(&gatepost_core::Outcome::skipped("break-glass").to_json()).unwrap();
    check_outcome(&skipped).unwrap();
    // The schema is not vacuous: each of these breaks a real outcome.
    for (what, change) in [
        ("unknown verdict", ("verdict", serde_json::json!("maybe"))),
        ("unknown cause", ("cause", serde_json::json!("because"))),
        ("exit code as text", ("exit_code", serde_json::json!("0"))),
        ("no verdict", ("verdict", Value::Null)),
    ] {
        let mut wrong = skipped.clone();
        if change.1.is_null() {
            wrong.as_object_mut().unwrap().remove(change.0);
        } else {
            wrong[change.0] = change.1;
        }
        assert!(
            check_outcome(&wrong).is_err(),
            "{what} was accepted: {wrong}"
        );
    }
}
