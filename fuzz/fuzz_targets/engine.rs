//! Response parsing and the engine's whole input sequence: an arbitrary run of responses
//! (statuses, headers, bodies), transport errors, timeouts, cancels, late replies, clock jumps and
//! snapshot/resume round trips. The engine must never panic, must terminate, must keep every
//! request and wait inside the deadline, must keep `done` final, and must never put a key anywhere
//! but the request headers.
#![no_main]

use arbitrary::Arbitrary;
use gatepost_core::{Action, Engine, Input, Options, TransportErrorKind, WaitReason};
use libfuzzer_sys::fuzz_target;

const EVAL: &str = "e9d2f04f-4f4b-494b-86e5-52f03e10c8e9";
const OTHER: &str = "0b6a3c1e-8d7f-4a2b-9c5d-1e2f3a4b5c6d";
const API_KEY: &str = "fuzz-secret-api-5b1e";
const APP_KEY: &str = "fuzz-secret-app-93c4";
const START: u64 = 1_700_000_000_000;

#[derive(Arbitrary, Debug)]
struct Run {
    jit: bool,
    attach: bool,
    fail_on_error: bool,
    dry_run: bool,
    timeout_s: u16,
    poll_interval_s: u8,
    request_timeout_s: u8,
    trigger_budget_s: u8,
    seed: u32,
    durations: Vec<u16>,
    steps: Vec<Step>,
}

#[derive(Arbitrary, Debug)]
enum Step {
    /// Answer the request in flight (or a made-up id) after `after_ms`.
    Respond {
        after_ms: u32,
        stale_id: Option<u8>,
        status: Status,
        headers: Vec<Header>,
        body: Body,
    },
    Transport {
        after_ms: u32,
        kind: u8,
        message: String,
    },
    /// The host's wait ended: feed `timeout` at `until` (or early / late by `skew_ms`).
    Timeout {
        skew_ms: i32,
    },
    Cancel,
    SnapshotResume {
        after_ms: u32,
    },
    /// The clock jumps (a laptop wakes up) — possibly absurdly far.
    Jump {
        ms: u64,
    },
    /// The clock goes backwards.
    Back {
        ms: u32,
    },
}

#[derive(Arbitrary, Debug)]
enum Status {
    Common(u8),
    Any(u16),
}

#[derive(Arbitrary, Debug)]
enum Header {
    RetryAfter(String),
    RetryAfterSecs(u64),
    Date(String),
    RateLimitReset(String),
    Other(String, String),
}

#[derive(Arbitrary, Debug)]
enum Body {
    Trigger {
        other_id: bool,
        raw_id: Option<String>,
    },
    Result {
        other_id: bool,
        gate_status: u8,
        rules: Vec<(String, u8, Option<String>, bool)>,
        dry_run: bool,
        url: Option<String>,
    },
    Errors(Vec<String>),
    Nested(u16),
    Raw(String),
    Empty,
}

const COMMON: [u16; 16] = [
    200, 202, 301, 307, 400, 401, 403, 404, 408, 413, 418, 429, 500, 502, 503, 599,
];
const STATUSES: [&str; 5] = ["pass", "fail", "in_progress", "weird", ""];

fn body_text(body: &Body) -> String {
    match body {
        Body::Trigger { other_id, raw_id } => {
            let id = raw_id
                .clone()
                .unwrap_or_else(|| if *other_id { OTHER } else { EVAL }.to_string());
            serde_json::json!({"data": {"id": id, "attributes": {"evaluation_id": id}}}).to_string()
        }
        Body::Result {
            other_id,
            gate_status,
            rules,
            dry_run,
            url,
        } => {
            let rules: Vec<_> = rules
                .iter()
                .map(|(name, s, reason, dry)| {
                    serde_json::json!({"name": name, "status": STATUSES[usize::from(*s) % 5],
                        "reason": reason, "dry_run": dry})
                })
                .collect();
            serde_json::json!({"data": {"attributes": {
                "evaluation_id": if *other_id { OTHER } else { EVAL },
                "gate_status": STATUSES[usize::from(*gate_status) % 5],
                "dry_run": dry_run, "rules": rules, "evaluation_url": url}}})
            .to_string()
        }
        Body::Errors(errors) => serde_json::json!({ "errors": errors }).to_string(),
        Body::Nested(depth) => {
            let depth = usize::from(*depth % 4096);
            format!("{{\"data\":{}{}}}", "[".repeat(depth), "]".repeat(depth))
        }
        Body::Raw(text) => text.clone(),
        Body::Empty => String::new(),
    }
}

fn header(h: &Header) -> (String, String) {
    match h {
        Header::RetryAfter(v) => ("Retry-After".into(), v.clone()),
        Header::RetryAfterSecs(v) => ("retry-after".into(), v.to_string()),
        Header::Date(v) => ("Date".into(), v.clone()),
        Header::RateLimitReset(v) => ("X-RateLimit-Reset".into(), v.clone()),
        Header::Other(n, v) => (n.clone(), v.clone()),
    }
}

fn kind(k: u8) -> TransportErrorKind {
    [
        TransportErrorKind::Connect,
        TransportErrorKind::Timeout,
        TransportErrorKind::Reset,
        TransportErrorKind::Tls,
        TransportErrorKind::BodyTooLarge,
        TransportErrorKind::Other,
    ][usize::from(k % 6)]
}

fn no_keys(text: &str) {
    assert!(
        !text.contains(API_KEY) && !text.contains(APP_KEY),
        "a key leaked: {text}"
    );
}

struct Driver {
    engine: Engine,
    now: u64,
    deadline: u64,
    in_flight: Option<u64>,
    wait_until: Option<u64>,
    done: Option<String>,
    issued: u64,
    /// Serialise every action and event to look for keys (off in the final timeout-only loop,
    /// where nothing new reaches the engine, to keep executions fast).
    deep_checks: bool,
}

impl Driver {
    /// Poll until `wait` or `done`, checking every action.
    fn drain(&mut self) {
        for _ in 0..64 {
            let action = self.engine.poll(self.now);
            if self.deep_checks && matches!(action, Action::SendRequest { .. }) {
                let mut rest = serde_json::to_value(&action).unwrap();
                rest["headers"] = serde_json::Value::Null;
                no_keys(&rest.to_string());
            }
            match action {
                Action::SendRequest {
                    request_id,
                    headers,
                    timeout_ms,
                    url,
                    ..
                } => {
                    assert!(self.done.is_none(), "a request after done");
                    assert!(timeout_ms >= 1);
                    assert!(
                        self.now + timeout_ms <= self.deadline,
                        "request {request_id} outlives the deadline by {} ms",
                        self.now + timeout_ms - self.deadline
                    );
                    assert!(url.starts_with(
                        "https://api.datadoghq.com/api/v2/deployments/gates/evaluation"
                    ));
                    // A poll goes to the evaluation id the engine accepted, and nowhere else.
                    if let Some(id) = self.engine.evaluation_id() {
                        assert!(
                            url.ends_with(&format!("/evaluation/{id}")),
                            "polled {url} for {id}"
                        );
                    }
                    assert!(headers.iter().filter(|(n, _)| n == "DD-API-KEY").count() == 1);
                    self.in_flight = Some(request_id);
                    self.issued = self.issued.max(request_id);
                }
                Action::Wait { until, reason } => {
                    assert!(
                        until > self.now
                            || reason == WaitReason::AwaitingResponse && until >= self.now,
                        "wait until {until} at now {}",
                        self.now
                    );
                    assert!(
                        until <= self.deadline,
                        "wait past the deadline by {} ms",
                        until - self.deadline
                    );
                    self.wait_until = Some(until);
                    return;
                }
                Action::Done { outcome } => {
                    let text = outcome.to_json();
                    no_keys(&text);
                    assert!(matches!(outcome.exit_code, 0 | 1 | 130));
                    if outcome.fail_open {
                        assert_eq!(outcome.exit_code, 0);
                    }
                    if let Some(before) = &self.done {
                        assert_eq!(before, &text, "done is not final");
                    }
                    self.done = Some(text);
                    self.in_flight = None;
                    return;
                }
            }
        }
        panic!("poll did not reach wait or done in 64 calls");
    }

    fn feed(&mut self, input: Input) {
        let input_json = serde_json::to_string(&input).unwrap();
        if let Err(e) = self.engine.handle(input, self.now) {
            no_keys(&format!("{e} {e:?}"));
            assert!(
                matches!(e.code.as_str(), "unknown_request" | "invalid_input"),
                "{input_json}: {e}"
            );
        }
        let events = self.engine.drain_events();
        if self.deep_checks {
            for event in events {
                no_keys(&serde_json::to_string(&event).unwrap());
            }
        }
        self.drain();
    }
}

fuzz_target!(|run: Run| {
    // Up to half an hour: with a 1 s poll interval that is at most a few thousand polls, so the
    // termination loop below stays fast.
    let timeout_s = u64::from(run.timeout_s % 1800) + 1;
    let mut options = serde_json::json!({
        "service": "checkout", "env": "prod", "api_key": API_KEY, "app_key": APP_KEY,
        "timeout": timeout_s, "fail_on_error": run.fail_on_error, "seed": run.seed,
        "poll_interval": u64::from(run.poll_interval_s.max(1)),
        "request_timeout": u64::from(run.request_timeout_s.max(1)),
        "trigger_budget": u64::from(run.trigger_budget_s.max(1)),
    });
    if run.jit {
        let rules: Vec<_> = run.durations.iter().take(8).enumerate().map(|(i, d)| serde_json::json!(
            {"type": "monitor", "name": format!("r{i}"), "options": {"query": "service:checkout", "duration": d % 7201}}
        )).collect();
        if !rules.is_empty() {
            options["config"] = serde_json::json!({"dryRun": run.dry_run, "rules": rules});
        }
    }
    let options = Options::from_host_value(options).expect("valid options");
    let engine = if run.attach {
        Engine::attach(EVAL, options, START)
    } else {
        Engine::new(options, START)
    }
    .expect("valid options build an engine");
    let mut d = Driver {
        engine,
        now: START,
        deadline: START + timeout_s * 1000,
        in_flight: None,
        wait_until: None,
        done: None,
        issued: 0,
        deep_checks: true,
    };
    d.drain();
    for step in run.steps.iter().take(200) {
        match step {
            Step::Respond {
                after_ms,
                stale_id,
                status,
                headers,
                body,
            } => {
                d.now = d.now.saturating_add(u64::from(*after_ms));
                let request_id = match (stale_id, d.in_flight) {
                    (None, Some(id)) => id,
                    (Some(id), _) => u64::from(*id),
                    (None, None) => d.issued,
                };
                let status = match status {
                    Status::Common(i) => COMMON[usize::from(*i) % COMMON.len()],
                    Status::Any(s) => *s,
                };
                d.feed(Input::Response {
                    request_id,
                    status,
                    headers: headers.iter().take(16).map(header).collect(),
                    body: body_text(body),
                });
            }
            Step::Transport {
                after_ms,
                kind: k,
                message,
            } => {
                d.now = d.now.saturating_add(u64::from(*after_ms));
                let request_id = d.in_flight.unwrap_or(d.issued);
                d.feed(Input::TransportError {
                    request_id,
                    kind: kind(*k),
                    message: message.clone(),
                });
            }
            Step::Timeout { skew_ms } => {
                if let Some(until) = d.wait_until {
                    d.now = d.now.max(until.saturating_add_signed(i64::from(*skew_ms)));
                }
                d.feed(Input::Timeout);
            }
            Step::Cancel => d.feed(Input::Cancel),
            Step::SnapshotResume { after_ms } => {
                for event in d.engine.drain_events() {
                    no_keys(&serde_json::to_string(&event).unwrap());
                }
                let text = d.engine.snapshot().to_string();
                no_keys(&text);
                let before_done = d.engine.outcome().map(|o| o.cause);
                d.now = d.now.saturating_add(u64::from(*after_ms));
                let snapshot = serde_json::from_str(&text).unwrap();
                d.engine =
                    Engine::resume(snapshot, Some(API_KEY.into()), Some(APP_KEY.into()), d.now)
                        .expect("a snapshot resumes");
                // A cancelled run resumes; any other finished run stays finished.
                if before_done.is_some_and(|c| c.as_str() == "cancelled") {
                    d.done = None;
                }
                d.in_flight = None;
                d.drain();
            }
            // No poll here: the next input arrives at the new time before the host polls again.
            Step::Jump { ms } => d.now = d.now.saturating_add(*ms),
            Step::Back { ms } => {
                d.now = d.now.saturating_sub(u64::from(*ms));
                d.drain();
            }
        }
    }
    // Termination: a host that keeps feeding `timeout` at each wait's end reaches done.
    d.deep_checks = false;
    for _ in 0..10_000 {
        if d.done.is_some() {
            return;
        }
        if let Some(until) = d.wait_until {
            d.now = d.now.max(until);
        }
        d.feed(Input::Timeout);
    }
    panic!("the engine did not finish when only timeouts arrived");
});
