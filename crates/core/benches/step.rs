//! What one engine step costs in Rust, the baseline of the bindings' overhead in bench/RESULTS.md.
//!
//! One step is the loop of `crates/wasm/bench/step.mjs` (which measures the wasm and Node
//! packages) and `bench/drivers/step.py` (Python), so the numbers compare: one `handle` (an
//! `in_progress` result while a request is awaited, else the `timeout` that ends the wait for the
//! next poll) plus the `poll`s until `wait`, and the events drained — the steady state of a long
//! evaluation. Inputs are built inside the step, as a host builds them from each response.
//!
//! `cargo bench -p gatepost-core --bench step` (bench/run does it and reads criterion's estimates).

use criterion::{Criterion, criterion_group, criterion_main};
use gatepost_core::{Action, Engine, Input, Options, WaitReason};
use std::hint::black_box;

const ID: &str = "e9d2f04f-4f4b-494b-86e5-52f03e10c8e9";

fn triggered() -> String {
    format!(
        r#"{{"data":{{"id":"{ID}","type":"deployment_gates_evaluation_response","attributes":{{"evaluation_id":"{ID}"}}}}}}"#
    )
}

fn in_progress() -> String {
    format!(
        r#"{{"data":{{"id":"{ID}","type":"deployment_gates_evaluation_result_response","attributes":{{"dry_run":false,"evaluation_id":"{ID}","gate_status":"in_progress","rules":[{{"name":"Service monitors","status":"in_progress","dry_run":false}}]}}}}}}"#
    )
}

fn headers() -> Vec<(String, String)> {
    vec![
        ("content-type".into(), "application/json".into()),
        ("date".into(), "Sun, 22 Nov 2026 00:00:00 GMT".into()),
    ]
}

/// An engine that has triggered its evaluation and is polling it, never reaching its deadline
/// within a benchmark.
struct Polling {
    engine: Engine,
    now: u64,
    pending: u64,
    wait: Action,
}

impl Polling {
    fn new() -> Polling {
        let options = Options::from_host_value(serde_json::json!({
            "service": "checkout", "env": "prod",
            "api_key": "bench-api-key", "app_key": "bench-app-key",
            "seed": 1, "timeout": 1e9,
        }))
        .expect("bench options are valid");
        let engine = Engine::new(options, 0).expect("engine starts");
        let mut me = Polling {
            pending: 0,
            now: 0,
            wait: Action::Wait {
                until: 0,
                reason: WaitReason::AwaitingResponse,
            },
            engine,
        };
        me.drain();
        me.now += 10;
        me.engine
            .handle(
                Input::Response {
                    request_id: me.pending,
                    status: 202,
                    headers: headers(),
                    body: triggered(),
                },
                me.now,
            )
            .expect("trigger response accepted");
        me.drain();
        me.engine.drain_events();
        me
    }

    /// Poll until `wait` (or `done`), remembering the request to answer.
    fn drain(&mut self) {
        loop {
            match self.engine.poll(self.now) {
                Action::SendRequest { request_id, .. } => self.pending = request_id,
                other => {
                    self.wait = other;
                    return;
                }
            }
        }
    }

    fn step(&mut self, body: &str) {
        let input = match self.wait {
            Action::Wait {
                reason: WaitReason::AwaitingResponse,
                ..
            } => {
                self.now += 20;
                Input::Response {
                    request_id: self.pending,
                    status: 200,
                    headers: headers(),
                    body: body.to_owned(),
                }
            }
            Action::Wait { until, .. } => {
                self.now = until;
                Input::Timeout
            }
            _ => panic!("the evaluation ended during the benchmark"),
        };
        self.engine.handle(input, self.now).expect("input accepted");
        self.drain();
        black_box(self.engine.drain_events());
    }
}

fn step(c: &mut Criterion) {
    let body = in_progress();
    // One engine for every iteration: its deadline is ~30 years of simulated polling away.
    let mut polling = Polling::new();
    c.bench_function("engine step (handle + polls until wait)", |b| {
        b.iter(|| polling.step(&body));
    });
    c.bench_function("engine new + trigger + first response", |b| {
        b.iter(|| black_box(Polling::new()));
    });
}

criterion_group!(benches, step);
criterion_main!(benches);
