//! Trust boundaries in core: a snapshot resumes only for the request it belongs to, with the
//! current run's policy and checks; server text reaches events inert; a `Retry-After` past the
//! deadline says so; `*.localhost` is not loopback; keys an HTTP header cannot carry are refused.

use gatepost_core::machine::compare_snapshot;
use gatepost_core::{Action, Cause, Engine, ErrorCode, EventKind, Input, Options, Verdict};
use serde_json::{Value, json};

const EVAL: &str = "e9d2f04f-4f4b-494b-86e5-52f03e10c8e9";
const START: u64 = 1_700_000_000_000;

fn options(extra: Value) -> Options {
    let mut base = json!({"service": "checkout", "env": "prod", "api_key": "k-api",
                          "app_key": "k-app", "seed": 7, "version": "v1"});
    for (k, v) in extra.as_object().unwrap() {
        base[k] = v.clone();
    }
    Options::from_host_value(base).expect("valid options")
}

fn send(engine: &mut Engine, now: u64) -> (u64, String, String) {
    match engine.poll(now) {
        Action::SendRequest {
            request_id,
            method,
            url,
            ..
        } => (request_id, method, url),
        other => panic!("expected a request, got {other:?}"),
    }
}

fn reply(engine: &mut Engine, id: u64, status: u16, body: Value, now: u64) {
    engine
        .handle(
            Input::Response {
                request_id: id,
                status,
                headers: Vec::new(),
                body: body.to_string(),
            },
            now,
        )
        .unwrap();
}

/// An engine whose trigger the server accepted (evaluation id `EVAL`).
fn started(opts: Options) -> Engine {
    let mut engine = Engine::new(opts, START).unwrap();
    let (id, _, _) = send(&mut engine, START);
    reply(
        &mut engine,
        id,
        202,
        json!({"data": {"id": EVAL, "attributes": {"evaluation_id": EVAL}}}),
        START + 10,
    );
    engine
}

/// A snapshot of an evaluation that has an id and was cancelled (what a SIGTERM leaves).
fn cancelled_snapshot(opts: Options) -> Value {
    let mut engine = started(opts);
    engine.handle(Input::Cancel, START + 200).unwrap();
    engine.snapshot()
}

fn warnings(engine: &mut Engine) -> Vec<(String, String)> {
    engine
        .drain_events()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::Warning { code, .. } => Some((code, e.message)),
            _ => None,
        })
        .collect()
}

#[test]
fn the_same_request_resumes_without_a_new_trigger() {
    let snapshot = cancelled_snapshot(options(json!({})));
    let mut engine = Engine::resume_for(snapshot, options(json!({})), START + 1_000).unwrap();
    assert!(engine.resumed());
    let (_, method, url) = send(&mut engine, START + 1_000);
    assert_eq!(method, "GET");
    assert!(url.ends_with(EVAL), "{url}");
    assert!(warnings(&mut engine).is_empty());
}

#[test]
fn another_request_never_resumes_and_the_difference_is_named() {
    let snapshot = cancelled_snapshot(options(json!({})));
    let config = json!({"rules": [{"name": "m", "type": "monitor",
                                   "options": {"query": "env:prod", "duration": 60}}]});
    for (change, field) in [
        (json!({"version": "v2"}), "version"),
        (json!({"env": "staging"}), "env"),
        (json!({"identifier": "pre"}), "identifier"),
        (json!({"primary_tag": "region:eu"}), "primary_tag"),
        (json!({"config": config}), "configuration"),
        (json!({"site": "datadoghq.eu"}), "api"),
        (json!({"api_url": "http://127.0.0.1:9"}), "api"),
    ] {
        let current = options(change.clone());
        let comparison =
            compare_snapshot(snapshot.clone(), current.clone(), START + 1_000).unwrap();
        assert_eq!(
            comparison
                .request
                .iter()
                .map(|d| d.field.as_str())
                .collect::<Vec<_>>(),
            [field],
            "{change}"
        );
        let mut engine = Engine::resume_for(snapshot.clone(), current, START + 1_000).unwrap();
        assert!(!engine.resumed(), "{change}");
        let (_, method, _) = send(&mut engine, START + 1_000);
        assert_eq!(method, "POST", "{change}: a new evaluation is triggered");
        let warned = warnings(&mut engine);
        assert_eq!(warned.len(), 1, "{warned:?}");
        assert_eq!(warned[0].0, "snapshot_not_resumed");
        assert!(
            warned[0].1.contains("another request") && warned[0].1.contains(field),
            "{}",
            warned[0].1
        );
    }
}

#[test]
fn a_tampered_snapshot_never_passes_for_this_request() {
    let good = cancelled_snapshot(options(json!({})));
    // The endpoint edited to a name over plain HTTP, the digest left alone: another request.
    let mut edited = good.clone();
    edited["endpoint"] = json!({"base_url": "http://api.gates.test:8080", "site": null});
    let mut engine = Engine::resume_for(edited.clone(), options(json!({})), START + 1_000).unwrap();
    assert!(!engine.resumed());
    let (_, method, url) = send(&mut engine, START + 1_000);
    assert_eq!(method, "POST");
    assert!(url.starts_with("https://api.datadoghq.com/"), "{url}");
    // Resumed on its own, the edit is caught too.
    let err = Engine::resume(edited.clone(), None, None, START + 1_000).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidSnapshot);
    assert!(err.message.contains("edited"), "{}", err.message);
    // Even with a recomputed digest, a snapshot on its own gets the plain-HTTP refusal.
    let forged = Engine::new(
        options(json!({"api_url": "http://api.gates.test:8080", "allow_insecure_http": true})),
        START,
    )
    .unwrap()
    .snapshot();
    let err = Engine::resume(forged, Some("k".into()), Some("k".into()), START).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidSnapshot);
    assert!(err.message.contains("plain http"), "{}", err.message);

    // A planted passing outcome is not believed: the server is asked again.
    let mut engine = started(options(json!({})));
    let (id, _, _) = send(&mut engine, START + 10);
    reply(
        &mut engine,
        id,
        200,
        json!({"data": {"attributes": {"evaluation_id": EVAL, "gate_status": "pass"}}}),
        START + 20,
    );
    let done = engine.snapshot();
    assert_eq!(done["outcome"]["cause"], "gate_passed");
    let mut engine = Engine::resume_for(done, options(json!({})), START + 1_000).unwrap();
    let (_, method, url) = send(&mut engine, START + 1_000);
    assert_eq!((method.as_str(), url.ends_with(EVAL)), ("GET", true));
}

#[test]
fn on_resume_this_runs_policy_wins() {
    // Saved fail-open with a long timeout; this run says fail-on-error and a short timeout.
    let snapshot = cancelled_snapshot(options(json!({"timeout": 3600})));
    let current = options(json!({"fail_on_error": true, "timeout": 30}));
    let mut engine = Engine::resume_for(snapshot, current, START + 1_000).unwrap();
    assert!(engine.resumed());
    assert!(engine.fail_on_error());
    assert_eq!(engine.deadline(), START + 30_000);
    let warned = warnings(&mut engine);
    assert_eq!(warned[0].0, "policy_changed");
    assert!(
        warned[0]
            .1
            .contains("fail_on_error: false in the snapshot, true now")
            && warned[0]
                .1
                .contains("timeout_ms: 3600000 in the snapshot, 30000 now"),
        "{}",
        warned[0].1
    );
    // The server stays down: the gate fails, it does not pass fail-open.
    let mut now = START + 1_000;
    let outcome = loop {
        match engine.poll(now) {
            Action::SendRequest { request_id, .. } => {
                reply(&mut engine, request_id, 503, json!({}), now)
            }
            Action::Wait { until, .. } => {
                now = until;
                engine.handle(Input::Timeout, now).unwrap();
            }
            Action::Done { outcome } => break outcome,
        }
    };
    assert_eq!(
        (outcome.verdict, outcome.cause),
        (Verdict::Fail, Cause::Timeout)
    );
}

#[test]
fn an_old_or_expired_snapshot_is_not_resumed() {
    let mut old = cancelled_snapshot(options(json!({})));
    old["schema_version"] = json!(1);
    old.as_object_mut().unwrap().remove("request_digest");
    let err = Engine::resume_for(old.clone(), options(json!({})), START).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidSnapshot);
    assert!(err.message.contains("older gatepost"), "{}", err.message);
    assert!(Engine::resume(old, None, None, START).is_err());

    let snapshot = cancelled_snapshot(options(json!({"timeout": 60})));
    let mut engine =
        Engine::resume_for(snapshot, options(json!({"timeout": 60})), START + 61_000).unwrap();
    assert!(!engine.resumed());
    let warned = warnings(&mut engine);
    assert!(
        warned[0].1.contains("beyond this run's 1 min timeout"),
        "{:?}",
        warned
    );
}

#[test]
fn retry_after_past_the_deadline_says_so() {
    let mut engine = Engine::new(
        options(json!({"timeout": 15, "fail_on_error": true})),
        START,
    )
    .unwrap();
    let (id, _, _) = send(&mut engine, START);
    engine
        .handle(
            Input::Response {
                request_id: id,
                status: 429,
                headers: vec![("Retry-After".into(), "120".into())],
                body: r#"{"errors": ["Too many requests"]}"#.into(),
            },
            START + 50,
        )
        .unwrap();
    let Action::Done { outcome } = engine.poll(START + 50) else {
        panic!("the run ends at once")
    };
    assert_eq!(outcome.verdict, Verdict::Fail);
    assert!(
        outcome
            .message
            .starts_with("rate-limited (HTTP 429): the server asked to retry in 2 min"),
        "{}",
        outcome.message
    );
    assert!(
        outcome.message.contains("past the end of the 15 s"),
        "{}",
        outcome.message
    );
    assert!(
        !outcome.message.contains("no result within"),
        "{}",
        outcome.message
    );
}

#[test]
fn server_text_in_events_is_inert() {
    let mut engine = Engine::new(options(json!({})), START).unwrap();
    let (id, _, _) = send(&mut engine, START);
    reply(
        &mut engine,
        id,
        503,
        json!({"errors": ["down\n::warning title=forged::x \u{1b}[2K\u{202e}"]}),
        START + 10,
    );
    for event in engine.drain_events() {
        assert!(!event.message.contains('\n'), "{}", event.message);
        assert!(!event.message.contains('\u{1b}') && !event.message.contains('\u{202e}'));
    }
}

#[test]
fn only_real_loopback_names_may_use_plain_http() {
    for url in [
        "http://localhost:8080",
        "http://127.0.0.1:1",
        "http://[::1]:2",
    ] {
        assert!(
            Engine::new(options(json!({"api_url": url})), START).is_ok(),
            "{url}"
        );
    }
    for url in [
        "http://gates.localhost:8080",
        "http://localhost.example.com",
    ] {
        let err = Engine::new(options(json!({"api_url": url})), START).unwrap_err();
        assert!(err.message.contains("plain http"), "{url}: {}", err.message);
    }
}

#[test]
fn keys_a_header_cannot_carry_are_refused_without_showing_them() {
    for key in ["caf\u{e9}-key", "two words", "\u{fffd}bad"] {
        let err = Engine::new(options(json!({"api_key": key})), START).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidOptions);
        assert!(
            err.message.contains("api_key") && !err.message.contains(key),
            "{}",
            err.message
        );
    }
}
