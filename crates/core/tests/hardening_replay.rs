//! One decision everywhere, Rust side: records what the engine does for a generated scenario, so
//! the Python, Node and wasm engines can be required to do byte-for-byte the same
//! (`tests/hardening/differential.py`).
//!
//! A generated scenario has `options` (and maybe `attach`) plus a *server script*: what the fake
//! server does with each request (answer after a latency, fail at the transport level, hang), and
//! host events (cancel, snapshot/resume). Recording drives the engine reactively from that script
//! and writes down the concrete run — each step's `now` and input — with the actions and events of
//! every step. Other languages replay the concrete steps (no script logic to re-implement) and
//! must record the same thing.
//!
//! `GATEPOST_RECORD_IN=gen.json GATEPOST_RECORD_OUT=rec.json cargo test -p gatepost-core --test
//! hardening_replay -- --nocapture` records a file; without the variables the test checks that
//! recording is deterministic and that replaying a recording reproduces it, for built-in scripts.

#![allow(clippy::disallowed_methods)] // a test host: it reads and writes scenario files

use gatepost_core::{Action, Engine, Input, Options};
use serde_json::{Value, json};

/// Steps one scenario may take before the recorder gives up (the engine must have ended by then).
const MAX_STEPS: usize = 2_000;

/// One step of a concrete run: `{now, input?, snapshot_resume?}` as in the conformance corpus.
fn step(now: u64, input: Option<Value>, snapshot_resume: bool) -> Value {
    let mut s = json!({ "now": now });
    if let Some(input) = input {
        s["input"] = input;
    }
    if snapshot_resume {
        s["snapshot_resume"] = json!(true);
    }
    s
}

struct Runner {
    engine: Engine,
    api_key: Option<String>,
    app_key: Option<String>,
}

impl Runner {
    fn new(scenario: &Value, now: u64) -> Result<Runner, Value> {
        let options = Options::from_host_value(scenario["options"].clone()).map_err(error_value)?;
        let api_key = options.api_key.clone();
        let app_key = options.app_key.clone();
        let engine = match scenario.get("attach").and_then(Value::as_str) {
            Some(id) => Engine::attach(id, options, now),
            None => Engine::new(options, now),
        }
        .map_err(error_value)?;
        Ok(Runner {
            engine,
            api_key,
            app_key,
        })
    }

    /// Apply one concrete step; returns its record `{actions, events}` (or `{error, ...}`).
    fn apply(&mut self, s: &Value) -> Value {
        let now = s["now"].as_u64().expect("now");
        let mut record = json!({});
        if s.get("snapshot_resume").and_then(Value::as_bool) == Some(true) {
            let text = self.engine.snapshot().to_string();
            let snapshot: Value = serde_json::from_str(&text).expect("a snapshot is JSON");
            // Recorded too: every language must snapshot the same state, byte for byte, so a run
            // started in one can be resumed in any other.
            record["snapshot"] = snapshot.clone();
            self.engine = Engine::resume(snapshot, self.api_key.clone(), self.app_key.clone(), now)
                .expect("a snapshot resumes");
        }
        if let Some(input) = s.get("input") {
            let input: Input = serde_json::from_value(input.clone()).expect("a valid input");
            if let Err(e) = self.engine.handle(input, now) {
                record["error"] = json!(e.code.as_str());
            }
        }
        let mut actions = Vec::new();
        loop {
            let action = self.engine.poll(now);
            let stop = !matches!(action, Action::SendRequest { .. });
            actions.push(serde_json::to_value(&action).unwrap());
            if stop {
                break;
            }
            assert!(actions.len() < 100, "poll never settled");
        }
        record["actions"] = Value::Array(actions);
        record["events"] = serde_json::to_value(self.engine.drain_events()).unwrap();
        record
    }
}

fn error_value(e: gatepost_core::Error) -> Value {
    json!({ "error": e.code.as_str() })
}

/// Drive a generated scenario through its server script; returns the concrete run and records.
fn record(scenario: &Value) -> Value {
    let start = scenario
        .get("start")
        .and_then(Value::as_u64)
        .unwrap_or(1_700_000_000_000);
    let mut out = json!({
        "name": scenario["name"], "options": scenario["options"], "start": start,
    });
    if let Some(id) = scenario.get("attach") {
        out["attach"] = id.clone();
    }
    let mut runner = match Runner::new(scenario, start) {
        Ok(r) => r,
        Err(e) => {
            out["construction"] = e;
            out["steps"] = json!([]);
            out["records"] = json!([]);
            return out;
        }
    };
    let script: Vec<Value> = scenario["script"].as_array().cloned().unwrap_or_default();
    let mut next = 0usize;
    let mut steps = vec![step(start, None, false)];
    let mut records = vec![runner.apply(&steps[0])];
    let mut now = start;
    let mut issued: Vec<u64> = Vec::new();
    while steps.len() < MAX_STEPS {
        let last = records.last().unwrap()["actions"]
            .as_array()
            .unwrap()
            .clone();
        for a in &last {
            if a["type"] == "send_request" {
                issued.push(a["request_id"].as_u64().unwrap());
            }
        }
        let action = last.last().unwrap();
        if action["type"] == "done" {
            // A cancelled run can be resumed from its snapshot, if the script says so.
            let resume = script.get(next).filter(|i| i["host"] == "snapshot_resume");
            match resume {
                Some(i) if action["outcome"]["cause"] == "cancelled" => {
                    next += 1;
                    now += i.get("latency_ms").and_then(Value::as_u64).unwrap_or(0);
                    let s = step(now, None, true);
                    records.push(runner.apply(&s));
                    steps.push(s);
                    continue;
                }
                _ => break,
            }
        }
        let until = action["until"].as_u64().unwrap();
        let in_flight = action["reason"] == "awaiting_response";
        let item = if in_flight || script.get(next).is_some_and(|i| i.get("host").is_some()) {
            let item = script.get(next).cloned();
            next += 1;
            item
        } else {
            None
        };
        let latency = item
            .as_ref()
            .and_then(|i| i.get("latency_ms"))
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let at = now + latency;
        let id = issued.last().copied().unwrap_or(0);
        let s = match item {
            // Host events: cancel, snapshot/resume, a late duplicate of the previous reply.
            Some(i) if i.get("host").is_some() && at < until => match i["host"].as_str() {
                Some("cancel") => step(at, Some(json!({"type": "cancel"})), false),
                Some("snapshot_resume") => step(at, None, true),
                Some("stale_reply") if issued.len() >= 2 => step(
                    at,
                    Some(
                        json!({"type": "response", "request_id": issued[issued.len() - 2], "status": 200, "body": ""}),
                    ),
                    false,
                ),
                _ => step(at, Some(json!({"type": "timeout"})), false),
            },
            Some(i) if in_flight && at < until => {
                if let Some(reply) = i.get("reply") {
                    let mut input = reply.clone();
                    input["type"] = json!("response");
                    input["request_id"] = json!(id);
                    step(at, Some(input), false)
                } else if let Some(kind) = i.get("transport") {
                    step(
                        at,
                        Some(
                            json!({"type": "transport_error", "request_id": id, "kind": kind,
                                    "message": i.get("message").cloned().unwrap_or(json!(""))}),
                        ),
                        false,
                    )
                } else {
                    // A hang: nothing arrives before the request's timeout.
                    step(until, Some(json!({"type": "timeout"})), false)
                }
            }
            // Nothing (more) in the script, or the reply comes too late: the wait ends.
            _ => step(until.max(now), Some(json!({"type": "timeout"})), false),
        };
        now = s["now"].as_u64().unwrap();
        records.push(runner.apply(&s));
        steps.push(s);
    }
    assert!(
        steps.len() < MAX_STEPS,
        "{}: the engine did not finish",
        scenario["name"]
    );
    out["steps"] = Value::Array(steps);
    out["records"] = Value::Array(records);
    out
}

/// Replay a recorded run's concrete steps (what the other languages do) and return the records.
fn replay(recorded: &Value) -> Value {
    let start = recorded["start"].as_u64().unwrap();
    let mut runner = match Runner::new(recorded, start) {
        Ok(r) => r,
        Err(e) => return json!({ "construction": e }),
    };
    let records: Vec<Value> = recorded["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| runner.apply(s))
        .collect();
    json!({ "records": records })
}

fn builtin_scenarios() -> Vec<Value> {
    let eval = "e9d2f04f-4f4b-494b-86e5-52f03e10c8e9";
    let trigger = json!({"status": 202, "body": json!({"data": {"id": eval, "attributes": {"evaluation_id": eval}}}).to_string()});
    let result = |s: &str| json!({"status": 200, "body": json!({"data": {"attributes": {"evaluation_id": eval, "gate_status": s, "rules": [{"name": "r", "status": s}]}}}).to_string()});
    let opts = json!({"service": "checkout", "env": "prod", "api_key": "rec-api-key", "app_key": "rec-app-key", "seed": 11, "timeout": 120});
    vec![
        json!({"name": "builtin_pass_after_retries", "options": opts, "script": [
            {"latency_ms": 50, "reply": {"status": 503, "headers": [["Retry-After", "2"]]}},
            {"latency_ms": 50, "transport": "reset"},
            {"latency_ms": 80, "reply": trigger},
            {"latency_ms": 30, "reply": {"status": 404}},
            {"host": "snapshot_resume", "latency_ms": 100},
            {"latency_ms": 30, "reply": result("in_progress")},
            {"latency_ms": 30, "reply": result("pass")}]}),
        json!({"name": "builtin_hang_then_timeout", "options": opts, "script": [
            {"latency_ms": 10, "reply": trigger}, {"hang": true}, {"hang": true}]}),
        json!({"name": "builtin_cancel_then_resume", "options": opts, "script": [
            {"latency_ms": 10, "reply": trigger}, {"latency_ms": 10, "reply": result("in_progress")},
            {"host": "cancel", "latency_ms": 500}, {"host": "snapshot_resume", "latency_ms": 100},
            {"latency_ms": 10, "reply": result("fail")}]}),
    ]
}

#[test]
fn record_or_check_determinism() {
    let input = std::env::var("GATEPOST_RECORD_IN").ok();
    let scenarios: Vec<Value> = match &input {
        Some(path) => {
            let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
            doc["scenarios"].as_array().cloned().unwrap_or_default()
        }
        None => builtin_scenarios(),
    };
    let recorded: Vec<Value> = scenarios.iter().map(record).collect();
    for (scenario, rec) in scenarios.iter().zip(&recorded) {
        // Deterministic: recording again and replaying the concrete steps give the same records.
        assert_eq!(
            rec,
            &record(scenario),
            "{}: recording is not deterministic",
            scenario["name"]
        );
        let again = replay(rec);
        let same = match rec.get("construction") {
            Some(c) => again["construction"] == *c,
            None => again["records"] == rec["records"],
        };
        assert!(
            same,
            "{}: replaying the recorded steps differs",
            scenario["name"]
        );
    }
    if input.is_none() {
        let last = &recorded[0]["records"].as_array().unwrap().last().unwrap()["actions"];
        assert_eq!(last[0]["outcome"]["cause"], "gate_passed", "{last}");
        let cancelled = &recorded[2]["records"].as_array().unwrap().last().unwrap()["actions"][0];
        assert_eq!(cancelled["outcome"]["cause"], "gate_failed", "{cancelled}");
    }
    if let Ok(path) = std::env::var("GATEPOST_RECORD_OUT") {
        std::fs::write(
            path,
            serde_json::to_string(&json!({ "recorded": recorded })).unwrap(),
        )
        .unwrap();
    }
}
