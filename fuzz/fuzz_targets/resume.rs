//! Snapshots from disk are untrusted (a CI cache, a hand-edited `--state-file`): any JSON given
//! to `Engine::resume` must give an `invalid_snapshot` error or an engine that keeps its promises —
//! no panic, every wait and request bounded, and it finishes when only timeouts arrive.
#![no_main]

use arbitrary::Arbitrary;
use gatepost_core::{Action, Engine, Input, Options};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

const EVAL: &str = "e9d2f04f-4f4b-494b-86e5-52f03e10c8e9";
const START: u64 = 1_700_000_000_000;

#[derive(Arbitrary, Debug)]
struct Tamper {
    /// Which state to start from: just started, polling, cancelled, finished.
    stage: u8,
    edits: Vec<(u8, Edit)>,
    now_offset: u32,
}

#[derive(Arbitrary, Debug)]
enum Edit {
    Number(u64),
    Small(u16),
    Signed(i64),
    Float(f64),
    Text(String),
    Null,
    Bool(bool),
    Remove,
}

fn snapshot(stage: u8) -> Value {
    let options = Options::from_host_value(json!({
        "service": "checkout", "env": "prod", "api_key": "k", "app_key": "a", "seed": 9, "timeout": 600,
        "config": {"rules": [{"type": "monitor", "name": "m", "options": {"query": "a:b", "duration": 60}}]},
    }))
    .unwrap();
    let mut engine = Engine::new(options, START).unwrap();
    let _ = engine.poll(START);
    if stage % 4 >= 1 {
        let body = json!({"data": {"id": EVAL, "attributes": {"evaluation_id": EVAL}}}).to_string();
        let input = Input::Response {
            request_id: 1,
            status: 202,
            headers: vec![],
            body,
        };
        engine.handle(input, START + 10).unwrap();
        let _ = engine.poll(START + 10);
    }
    match stage % 4 {
        2 => engine.handle(Input::Cancel, START + 20).unwrap(),
        3 => engine.handle(Input::Timeout, START + 700_000).unwrap(),
        _ => {}
    }
    let _ = engine.poll(START + 20);
    engine.snapshot()
}

fuzz_target!(|t: Tamper| {
    let mut snap = snapshot(t.stage);
    let keys: Vec<String> = snap.as_object().unwrap().keys().cloned().collect();
    for (which, edit) in t.edits.iter().take(8) {
        let key = &keys[usize::from(*which) % keys.len()];
        let value = match edit {
            Edit::Number(n) => json!(n),
            Edit::Small(n) => json!(n),
            Edit::Signed(n) => json!(n),
            Edit::Float(f) => json!(f),
            Edit::Text(s) => json!(s),
            Edit::Null => Value::Null,
            Edit::Bool(b) => json!(b),
            Edit::Remove => {
                snap.as_object_mut().unwrap().remove(key);
                continue;
            }
        };
        snap[key.as_str()] = value;
    }
    let now = START + u64::from(t.now_offset);
    let Ok(mut engine) = Engine::resume(snap, Some("k".into()), Some("a".into()), now) else {
        return;
    };
    let mut now = now;
    let mut in_flight = None;
    for _ in 0..5_000 {
        match engine.poll(now) {
            Action::Done { outcome } => {
                let _ = outcome.to_json();
                assert!(matches!(engine.poll(now), Action::Done { .. }));
                return;
            }
            Action::SendRequest { request_id, .. } => in_flight = Some(request_id),
            Action::Wait { until, .. } => {
                assert!(until >= now, "a wait into the past");
                // Answer every other request with in_progress, otherwise let the wait expire.
                match in_flight.take() {
                    Some(id) if id % 2 == 0 => {
                        let body = json!({"data": {"attributes": {"evaluation_id": EVAL, "gate_status": "in_progress"}}});
                        let input = Input::Response {
                            request_id: id,
                            status: 200,
                            headers: vec![],
                            body: body.to_string(),
                        };
                        let _ = engine.handle(input, now);
                    }
                    _ => {
                        now = until;
                        let _ = engine.handle(Input::Timeout, now);
                    }
                }
            }
        }
        let _ = engine.drain_events();
    }
    // A tampered snapshot may carry a deadline centuries away; it must still not spin: five
    // thousand steps without finishing is acceptable only if time actually advances.
    assert!(now > START, "the engine made no progress in 5000 steps");
});
