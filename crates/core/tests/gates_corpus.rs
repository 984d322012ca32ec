//! The gates plan corpus (`tests/gates/*.json`): for each scenario, a fake API holding the
//! scenario's gates answers the run's requests; the plan, the request sequence, the final state
//! and a second run (no changes) are checked. The Python and Node packages run the same corpus
//! with their own copy of this small fake (crates/py/tests/test_gates.py, crates/node/test/gates.test.mjs).
//!
//! Also: the committed `schemas/gates.schema.json` matches `gates::json_schema()` (rewrite it with
//! `UPDATE_SCHEMAS=1`).

#![allow(clippy::disallowed_methods)] // tests read the committed corpus and schemas from disk

use gatepost_core::gates::{self, GatesAction, GatesOptions, Report, Scope, Task};
use gatepost_core::{ConfigInput, Input, TransportErrorKind};
use serde_json::{Value, json};
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn committed_gates_schema_matches_the_types() {
    let path = root().join("schemas/gates.schema.json");
    let expected = serde_json::to_string_pretty(&gates::json_schema()).unwrap() + "\n";
    if std::env::var_os("UPDATE_SCHEMAS").is_some() {
        std::fs::write(&path, &expected).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == expected,
        "{} is stale: run `UPDATE_SCHEMAS=1 cargo test -p gatepost-core --test gates_corpus`",
        path.display()
    );
}

/// The fake API: gates with their rules, ids handed out in order, faults by request number.
struct Fake {
    gates: Vec<Value>,
    rule_ids: bool,
    page_size: usize,
    null_cursor: bool,
    faults: Vec<Value>,
    requests: Vec<String>,
    bodies: Vec<Value>,
    next_id: u64,
}

fn new_id(n: u64) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

fn error(status: u16, detail: &str) -> (u16, String) {
    (
        status,
        json!({"errors": [{"status": status.to_string(), "title": "Error", "detail": detail}]})
            .to_string(),
    )
}

impl Fake {
    fn new(server: &Value) -> Fake {
        Fake {
            gates: server["gates"].as_array().cloned().unwrap_or_default(),
            rule_ids: server["rule_ids"].as_bool().unwrap_or(true),
            page_size: server["page_size"].as_u64().unwrap_or(1000) as usize,
            null_cursor: server["null_cursor"].as_bool().unwrap_or(false),
            faults: server["faults"].as_array().cloned().unwrap_or_default(),
            requests: Vec::new(),
            bodies: Vec::new(),
            next_id: 1,
        }
    }

    fn id(&mut self) -> String {
        let id = new_id(self.next_id);
        self.next_id += 1;
        id
    }

    fn gate_json(g: &Value) -> Value {
        json!({"id": g["id"], "type": "deployment_gate", "attributes": {
            "service": g["service"], "env": g["env"], "identifier": g["identifier"],
            "dry_run": g["dry_run"], "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z"}})
    }

    fn rule_attrs(gate_id: &Value, r: &Value) -> Value {
        json!({"name": r["name"], "type": r["type"], "dry_run": r["dry_run"],
               "options": r["options"], "gate_id": gate_id})
    }

    /// Handle one request: the input to feed back.
    fn handle(&mut self, request_id: u64, method: &str, url: &str, body: Option<&str>) -> Input {
        let path = url.strip_prefix("https://api.datadoghq.com").unwrap_or(url);
        self.requests.push(format!("{method} {path}"));
        if let Some(b) = body {
            self.bodies.push(serde_json::from_str(b).unwrap());
        }
        let n = self.requests.len() as u64;
        let fault = self
            .faults
            .iter()
            .find(|f| f["at"].as_u64() == Some(n))
            .cloned();
        if let Some(f) = &fault
            && !f["after"].as_bool().unwrap_or(false)
        {
            return fault_input(request_id, f);
        }
        let (status, body) = self.route(method, path, body);
        if let Some(f) = &fault {
            return fault_input(request_id, f);
        }
        Input::Response {
            request_id,
            status,
            headers: vec![],
            body,
        }
    }

    fn route(&mut self, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        let rest = path.strip_prefix("/api/v2/deployment_gates").unwrap();
        let parts: Vec<&str> = rest.split('/').filter(|p| !p.is_empty()).collect();
        let attrs = body
            .map(|b| serde_json::from_str::<Value>(b).unwrap()["data"]["attributes"].clone())
            .unwrap_or(Value::Null);
        match (method, parts.as_slice()) {
            ("GET", []) => {
                let mut size = 50;
                let mut offset = 0;
                for kv in query.split('&') {
                    if let Some(v) = kv.strip_prefix("page[size]=") {
                        size = v.parse().unwrap();
                    }
                    if let Some(v) = kv.strip_prefix("page[cursor]=") {
                        offset = v.parse().unwrap();
                    }
                }
                let size = size.min(self.page_size);
                let data: Vec<Value> = self
                    .gates
                    .iter()
                    .skip(offset)
                    .take(size)
                    .map(Fake::gate_json)
                    .collect();
                let mut page = json!({"cursor": offset.to_string(), "size": size});
                if offset + size < self.gates.len() {
                    page["next_cursor"] = json!((offset + size).to_string());
                } else if self.null_cursor {
                    page["next_cursor"] = Value::Null;
                }
                (
                    200,
                    json!({"data": data, "meta": {"page": page}}).to_string(),
                )
            }
            ("POST", []) => {
                let identifier = attrs["identifier"].as_str().unwrap_or("default");
                if self.gates.iter().any(|g| {
                    g["service"] == attrs["service"]
                        && g["env"] == attrs["env"]
                        && g["identifier"] == identifier
                }) {
                    return error(
                        400,
                        "Gate already exists with the given env, service and identifier",
                    );
                }
                let gate = json!({"id": self.id(), "service": attrs["service"], "env": attrs["env"],
                    "identifier": identifier, "dry_run": attrs["dry_run"].as_bool().unwrap_or(false),
                    "rules": []});
                let out = json!({"data": Fake::gate_json(&gate)});
                self.gates.push(gate);
                (200, out.to_string())
            }
            (_, [gate_id, rest @ ..]) => {
                let Some(gi) = self.gates.iter().position(|g| g["id"] == *gate_id) else {
                    return error(404, "Gate does not exist");
                };
                match (method, rest) {
                    ("PUT", []) => {
                        self.gates[gi]["dry_run"] = attrs["dry_run"].clone();
                        (
                            200,
                            json!({"data": Fake::gate_json(&self.gates[gi])}).to_string(),
                        )
                    }
                    ("DELETE", []) => {
                        self.gates.remove(gi);
                        (204, String::new())
                    }
                    ("GET", ["rules"]) => {
                        let gid = self.gates[gi]["id"].clone();
                        let rules: Vec<Value> = self.gates[gi]["rules"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|r| {
                                let a = Fake::rule_attrs(&gid, r);
                                if self.rule_ids {
                                    json!({"id": r["id"], "type": "deployment_rule", "attributes": a})
                                } else {
                                    a
                                }
                            })
                            .collect();
                        (
                            200,
                            json!({"data": {"id": gid, "type": "list_deployment_rules",
                                "attributes": {"rules": rules}}})
                            .to_string(),
                        )
                    }
                    ("POST", ["rules"]) => {
                        let rules = self.gates[gi]["rules"].as_array().unwrap();
                        if rules.iter().any(|r| r["name"] == attrs["name"]) {
                            return error(400, "Rule name already exists");
                        }
                        let rule = json!({"id": self.id(), "name": attrs["name"], "type": attrs["type"],
                            "dry_run": attrs["dry_run"].as_bool().unwrap_or(false), "options": attrs["options"]});
                        let gid = self.gates[gi]["id"].clone();
                        let out = json!({"data": {"id": rule["id"], "type": "deployment_rule",
                            "attributes": Fake::rule_attrs(&gid, &rule)}});
                        self.gates[gi]["rules"].as_array_mut().unwrap().push(rule);
                        (200, out.to_string())
                    }
                    (_, ["rules", rule_id]) => {
                        let rules = self.gates[gi]["rules"].as_array_mut().unwrap();
                        let Some(ri) = rules.iter().position(|r| r["id"] == *rule_id) else {
                            return error(404, "Rule does not exist");
                        };
                        match method {
                            "PUT" => {
                                for k in ["name", "options", "dry_run"] {
                                    if attrs.get(k).is_none() {
                                        return error(
                                            400,
                                            &format!("attribute \"{k}\" is required"),
                                        );
                                    }
                                }
                                if attrs.get("type").is_some() {
                                    return error(400, "attribute \"type\" is not allowed");
                                }
                                for k in ["name", "options", "dry_run"] {
                                    rules[ri][k] = attrs[k].clone();
                                }
                                (200, json!({"data": {"id": rule_id}}).to_string())
                            }
                            "DELETE" => {
                                rules.remove(ri);
                                (204, String::new())
                            }
                            _ => error(405, "method not allowed"),
                        }
                    }
                    _ => error(405, "method not allowed"),
                }
            }
            _ => error(405, "method not allowed"),
        }
    }
}

fn fault_input(request_id: u64, f: &Value) -> Input {
    if let Some(status) = f["status"].as_u64() {
        let mut headers = Vec::new();
        if let Some(ra) = f["retry_after"].as_str() {
            headers.push(("Retry-After".to_string(), ra.to_string()));
        }
        let (status, body) = error(status as u16, f["detail"].as_str().unwrap_or("fault"));
        return Input::Response {
            request_id,
            status,
            headers,
            body,
        };
    }
    Input::TransportError {
        request_id,
        kind: TransportErrorKind::Reset,
        message: "connection reset".into(),
    }
}

/// Drive one run against the fake with a virtual clock: (report, waits).
fn drive(fake: &mut Fake, task: Task, options: &Value) -> (Report, Vec<u64>) {
    let mut opts: GatesOptions = serde_json::from_value(options.clone()).unwrap();
    opts.api_key = Some("k".into());
    opts.app_key = Some("a".into());
    let mut now = 1_000;
    let mut run = gates::Run::new(opts, task, now).unwrap();
    let mut waits = Vec::new();
    for _ in 0..10_000 {
        match run.poll(now) {
            GatesAction::SendRequest {
                request_id,
                method,
                url,
                body,
                headers,
                ..
            } => {
                assert!(headers.iter().any(|(k, v)| k == "DD-API-KEY" && v == "k"));
                let input = fake.handle(request_id, &method, &url, body.as_deref());
                now += 1;
                run.handle(input, now).unwrap();
            }
            GatesAction::Wait { until, .. } => {
                waits.push(until - now);
                now = until;
                run.handle(Input::Timeout, now).unwrap();
            }
            GatesAction::Done { report } => return (report, waits),
        }
    }
    panic!("the run did not end");
}

fn lines(report: &Report) -> Vec<String> {
    report
        .plan
        .as_ref()
        .map(|p| {
            p.changes
                .iter()
                .map(|c| format!("{} {}", c.action.as_str(), c.subject()))
                .collect()
        })
        .unwrap_or_default()
}

fn task(kind: &str, s: &Value) -> Task {
    let file = ConfigInput::Value(s["file"].clone());
    let prune: Option<Scope> = serde_json::from_value(s["prune"].clone()).unwrap();
    match kind {
        "plan" => Task::Plan { file, prune },
        _ => Task::Apply { file, prune },
    }
}

#[test]
fn gates_corpus() {
    let dir = root().join("tests/gates");
    let mut count = 0;
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    for path in files {
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for s in doc["scenarios"].as_array().unwrap() {
            count += 1;
            let name = s["name"].as_str().unwrap();
            let expect = &s["expect"];
            let options = s.get("options").cloned().unwrap_or(json!({}));

            // plan: no request changes anything, and the plan is as expected.
            let mut fake = Fake::new(&s["server"]);
            let before = fake.gates.clone();
            let (report, _) = drive(&mut fake, task("plan", s), &json!({}));
            assert!(report.ok, "{name}: plan failed: {:?}", report.error);
            assert_eq!(fake.gates, before, "{name}: plan changed the server");
            assert_eq!(
                lines(&report),
                expect["plan"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str().unwrap().to_string())
                    .collect::<Vec<_>>(),
                "{name}: plan"
            );
            if let Some(text) = expect["text_contains"].as_array() {
                let rendered = gates::render_text(report.plan.as_ref().unwrap());
                for t in text {
                    assert!(
                        rendered.contains(t.as_str().unwrap()),
                        "{name}: text lacks {t}:\n{rendered}"
                    );
                }
            }

            // apply: the request sequence, then a second apply changes nothing.
            let mut fake = Fake::new(&s["server"]);
            let (report, waits) = drive(&mut fake, task("apply", s), &options);
            if let Some(err) = expect["error"].as_str() {
                assert!(!report.ok, "{name}: apply should fail");
                let got = report.error.clone().unwrap();
                assert!(got.contains(err), "{name}: error {got:?} lacks {err:?}");
            } else {
                assert!(report.ok, "{name}: apply failed: {:?}", report.error);
            }
            let want: Vec<String> = expect["requests"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect();
            assert_eq!(fake.requests, want, "{name}: requests");
            if let Some(bodies) = expect.get("bodies") {
                assert_eq!(&Value::Array(fake.bodies.clone()), bodies, "{name}: bodies");
            }
            if let Some(w) = expect.get("waits") {
                assert_eq!(&json!(waits), w, "{name}: waits");
            }
            if expect["error"].is_string() && expect.get("resume").is_none() {
                continue;
            }
            if let Some(resume) = expect.get("resume") {
                fake.requests.clear();
                fake.faults.clear();
                let (report, _) = drive(&mut fake, task("apply", s), &json!({}));
                assert!(
                    report.ok,
                    "{name}: resumed apply failed: {:?}",
                    report.error
                );
                let want: Vec<String> = resume
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str().unwrap().to_string())
                    .collect();
                assert_eq!(fake.requests, want, "{name}: resumed requests");
            }
            fake.requests.clear();
            fake.faults.clear();
            let (report, _) = drive(&mut fake, task("apply", s), &json!({}));
            assert!(report.ok, "{name}: second apply failed: {:?}", report.error);
            assert!(
                lines(&report).is_empty(),
                "{name}: second apply is not a no-op: {:?}",
                lines(&report)
            );
            assert!(
                fake.requests.iter().all(|r| r.starts_with("GET ")),
                "{name}: second apply wrote: {:?}",
                fake.requests
            );
        }
    }
    assert!(
        count >= 20,
        "the corpus has {count} scenarios, fewer than 20"
    );
}
