//! Resource limits: what a hostile or broken server, host or user can throw at the engine —
//! oversized or deeply nested bodies, huge headers, absurd `Retry-After`, negative or overflowing
//! numbers, huge clock values, very long strings — ends in a clear outcome or error, never a
//! panic, never an unbounded wait, and never an unbounded copy into events or outcomes.

use gatepost_core::{
    Action, Cause, ConfigInput, Engine, Input, Options, TransportErrorKind, Verdict, WaitReason,
    validate,
};
use serde_json::{Value, json};

const EVAL: &str = "e9d2f04f-4f4b-494b-86e5-52f03e10c8e9";
const API_KEY: &str = "limits-secret-api-4b1d";
const APP_KEY: &str = "limits-secret-app-e02f";
const START: u64 = 1_700_000_000_000;
/// What one event message or outcome may grow to, whatever the server sends.
const BOUNDED: usize = 16 * 1024;

fn options(extra: Value) -> Options {
    let mut base = json!({"service": "checkout", "env": "prod", "api_key": API_KEY,
                          "app_key": APP_KEY, "seed": 7});
    for (k, v) in extra.as_object().unwrap() {
        base[k] = v.clone();
    }
    Options::from_host_value(base).expect("valid options")
}

/// Poll until `wait` or `done`.
fn drain(engine: &mut Engine, now: u64) -> Vec<Action> {
    let mut out = Vec::new();
    for _ in 0..32 {
        let action = engine.poll(now);
        let stop = !matches!(action, Action::SendRequest { .. });
        out.push(action);
        if stop {
            return out;
        }
    }
    panic!("poll never settled: {out:?}");
}

fn last(actions: &[Action]) -> &Action {
    actions.last().unwrap()
}

fn sent_id(actions: &[Action]) -> u64 {
    actions
        .iter()
        .find_map(|a| match a {
            Action::SendRequest { request_id, .. } => Some(*request_id),
            _ => None,
        })
        .expect("a request was sent")
}

fn trigger_body() -> String {
    json!({"data": {"id": EVAL, "attributes": {"evaluation_id": EVAL}}}).to_string()
}

fn respond(
    engine: &mut Engine,
    id: u64,
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
    now: u64,
) -> Vec<Action> {
    engine
        .handle(
            Input::Response {
                request_id: id,
                status,
                headers,
                body,
            },
            now,
        )
        .expect("a reply to the request in flight is accepted");
    drain(engine, now)
}

/// An engine that has its evaluation id and has just sent poll number one; returns its id.
fn polling(extra: Value) -> (Engine, u64) {
    let mut engine = Engine::new(options(extra), START).unwrap();
    let id = sent_id(&drain(&mut engine, START));
    let actions = respond(&mut engine, id, 202, vec![], trigger_body(), START + 10);
    (engine, sent_id(&actions))
}

fn outcome(action: &Action) -> &gatepost_core::Outcome {
    match action {
        Action::Done { outcome } => outcome,
        other => panic!("expected done, got {other:?}"),
    }
}

/// Every event and the outcome are bounded in size and free of keys.
fn check_bounded(engine: &mut Engine) {
    for event in engine.drain_events() {
        let text = serde_json::to_string(&event).unwrap();
        assert!(text.len() < BOUNDED, "an event of {} bytes", text.len());
        assert!(!text.contains(API_KEY) && !text.contains(APP_KEY));
    }
    let snapshot = engine.snapshot().to_string();
    assert!(!snapshot.contains(API_KEY) && !snapshot.contains(APP_KEY));
    if let Some(outcome) = engine.outcome() {
        let text = outcome.to_json();
        assert!(text.len() < 64 * 1024, "an outcome of {} bytes", text.len());
    }
}

// ---- bodies -------------------------------------------------------------------------------

#[test]
fn a_body_at_the_cap_is_read_and_one_above_it_is_retried() {
    let (mut engine, id) = polling(json!({}));
    let max = match engine.snapshot()["max_body_bytes"].as_u64() {
        Some(m) => m as usize,
        None => panic!("snapshot has max_body_bytes"),
    };
    // Exactly the cap: a valid result padded with whitespace.
    let body =
        json!({"data": {"attributes": {"evaluation_id": EVAL, "gate_status": "pass"}}}).to_string();
    let padded = format!("{body}{}", " ".repeat(max - body.len()));
    assert_eq!(padded.len(), max);
    let actions = respond(&mut engine, id, 200, vec![], padded, START + 20);
    assert_eq!(outcome(last(&actions)).cause, Cause::GatePassed);

    // Above the cap the host reports body_too_large: retried like any malformed 2xx body.
    let (mut engine, id) = polling(json!({}));
    engine
        .handle(
            Input::TransportError {
                request_id: id,
                kind: TransportErrorKind::BodyTooLarge,
                message: format!("body above {max} bytes"),
            },
            START + 20,
        )
        .unwrap();
    let actions = drain(&mut engine, START + 20);
    assert!(
        matches!(
            last(&actions),
            Action::Wait {
                reason: WaitReason::RetryBackoff,
                ..
            }
        ),
        "{actions:?}"
    );
    check_bounded(&mut engine);
}

#[test]
fn max_body_bytes_is_bounded_both_ways() {
    for (value, ok) in [
        (1023u64, false),
        (1024, true),
        (1 << 40, true),
        (u64::MAX, false),
    ] {
        let result = Options::from_host_value(json!({"service": "s", "env": "e", "api_key": "a", "app_key": "b", "max_body_bytes": value}))
            .and_then(|o| Engine::new(o, START));
        assert_eq!(
            result.is_ok(),
            ok,
            "max_body_bytes {value}: {:?}",
            result.err()
        );
    }
}

#[test]
fn a_ten_megabyte_garbage_body_is_malformed_and_not_copied() {
    let (mut engine, id) = polling(json!({}));
    let body = "x".repeat(10 * 1024 * 1024);
    let actions = respond(&mut engine, id, 200, vec![], body, START + 20);
    assert!(matches!(
        last(&actions),
        Action::Wait {
            reason: WaitReason::RetryBackoff,
            ..
        }
    ));
    check_bounded(&mut engine);
}

#[test]
fn deeply_nested_response_bodies_are_malformed_not_a_crash() {
    for depth in [127usize, 128, 129, 10_000, 1_000_000] {
        for status in [200u16, 202, 400, 503] {
            let (mut engine, id) = polling(json!({}));
            let nested = format!(
                "{{\"data\":{{\"attributes\":{}{}}}}}",
                "[".repeat(depth),
                "]".repeat(depth)
            );
            let actions = respond(&mut engine, id, status, vec![], nested, START + 20);
            match status {
                400 => assert_eq!(outcome(last(&actions)).cause, Cause::ClientError),
                _ => assert!(
                    matches!(
                        last(&actions),
                        Action::Wait {
                            reason: WaitReason::RetryBackoff,
                            ..
                        }
                    ),
                    "depth {depth} status {status}: {actions:?}"
                ),
            }
            check_bounded(&mut engine);
        }
    }
    // The trigger's body too.
    let mut engine = Engine::new(options(json!({})), START).unwrap();
    let id = sent_id(&drain(&mut engine, START));
    let nested = format!("{}{}", "{\"data\":".repeat(100_000), "}".repeat(100_000));
    let actions = respond(&mut engine, id, 202, vec![], nested, START + 20);
    assert!(matches!(
        last(&actions),
        Action::Wait {
            reason: WaitReason::RetryBackoff,
            ..
        }
    ));
}

#[test]
fn a_result_with_huge_strings_and_many_rules_is_truncated() {
    let (mut engine, id) = polling(json!({}));
    let long = "r".repeat(1_000_000);
    let rules: Vec<Value> = (0..20_000)
        .map(|i| json!({"name": format!("rule {i}"), "status": "fail", "reason": if i == 0 { long.clone() } else { "x".into() }}))
        .collect();
    let body = json!({"data": {"attributes": {"evaluation_id": EVAL, "gate_status": "fail", "gate_id": long,
        "evaluation_url": format!("https://{long}"), "rules": rules}}})
    .to_string();
    let actions = respond(&mut engine, id, 200, vec![], body, START + 20);
    // A failed result: one request for the failure details, also hostile.
    let mut details: Vec<Value> = (1..5_000)
        .map(|i| {
            json!({"attributes": {"name": format!("rule {i}"), "failures": {
            "monitors": [{"id": i, "state": "Alert"}], "faulty_apm_resources": ["GET /x"]}}})
        })
        .collect();
    details.insert(0, json!({"attributes": {"name": "rule 0", "failures": {
        "monitors": (0..500).map(|m| if m == 0 { json!({"id": m, "name": long, "state": long}) } else { json!({"id": m}) }).collect::<Vec<_>>(),
        "faulty_apm_resources": (0..500).map(|r| if r == 0 { long.clone() } else { "GET /y".into() }).collect::<Vec<_>>()}}}));
    let body = json!({"data": details}).to_string();
    let actions = respond(
        &mut engine,
        sent_id(&actions),
        200,
        vec![],
        body,
        START + 30,
    );
    let o = outcome(last(&actions));
    assert_eq!(o.cause, Cause::GateFailed);
    assert!(o.rules.len() <= 1000, "{} rules kept", o.rules.len());
    let f = o.rules[0].failures.as_ref().expect("details attached");
    assert!(f.monitors.len() <= 50 && f.faulty_apm_resources.len() <= 50);
    assert!(f.monitors[0].name.as_ref().unwrap().chars().count() <= 301);
    assert!(
        o.to_json().len() < 4 * 1024 * 1024,
        "{} bytes",
        o.to_json().len()
    );
    assert!(o.rules[0].reason.as_ref().unwrap().chars().count() <= 2001);
    assert!(o.gate_id.as_ref().unwrap().chars().count() <= 2001);
    assert!(o.message.len() < BOUNDED);
}

#[test]
fn huge_error_details_and_messages_are_truncated() {
    let long = "e".repeat(2_000_000);
    let mut errors: Vec<Value> = (0..10_000)
        .map(|_| json!({"detail": "d".repeat(2_000)}))
        .collect();
    errors.insert(0, json!({"detail": long.clone()}));
    let body = json!({"errors": errors}).to_string();
    for status in [403u16, 404, 429, 503] {
        let mut engine = Engine::new(options(json!({})), START).unwrap();
        let id = sent_id(&drain(&mut engine, START));
        let actions = respond(&mut engine, id, status, vec![], body.clone(), START + 5);
        if status == 403 {
            let o = outcome(last(&actions));
            assert_eq!(o.cause, Cause::ClientError);
            assert!(
                o.message.len() < BOUNDED,
                "a {}-byte message",
                o.message.len()
            );
        }
        check_bounded(&mut engine);
    }
    // A transport error's message.
    let (mut engine, id) = polling(json!({}));
    engine
        .handle(
            Input::TransportError {
                request_id: id,
                kind: TransportErrorKind::Reset,
                message: long.clone(),
            },
            START + 20,
        )
        .unwrap();
    drain(&mut engine, START + 20);
    check_bounded(&mut engine);
    // A TLS failure's message ends the run; the outcome stays small.
    let (mut engine, id) = polling(json!({}));
    engine
        .handle(
            Input::TransportError {
                request_id: id,
                kind: TransportErrorKind::Tls,
                message: long,
            },
            START + 20,
        )
        .unwrap();
    let actions = drain(&mut engine, START + 20);
    assert!(outcome(last(&actions)).message.len() < BOUNDED);
    check_bounded(&mut engine);
}

// ---- headers -------------------------------------------------------------------------------

#[test]
fn huge_and_many_headers_are_handled() {
    let (mut engine, id) = polling(json!({}));
    let mut headers: Vec<(String, String)> = (0..50_000)
        .map(|i| (format!("X-Junk-{i}"), "v".repeat(64)))
        .collect();
    headers.push(("Location".into(), "https://evil.example/".repeat(100_000)));
    headers.push(("Retry-After".into(), "7".repeat(1_000_000)));
    let actions = respond(&mut engine, id, 301, headers, String::new(), START + 20);
    let o = outcome(last(&actions));
    assert_eq!(o.cause, Cause::ClientError);
    assert!(o.message.len() < BOUNDED, "{}", o.message.len());
}

#[test]
fn absurd_retry_after_ends_the_phase_at_once_instead_of_waiting() {
    for value in [
        "184467440737095516150",
        "99999999999",
        "1e300",
        &"9".repeat(10_000),
        "Fri, 31 Dec 9999 23:59:59 GMT",
    ] {
        for status in [429u16, 503] {
            // Trigger phase: api_unavailable, fail-open.
            let mut engine = Engine::new(options(json!({})), START).unwrap();
            let id = sent_id(&drain(&mut engine, START));
            let headers = vec![
                ("Retry-After".to_string(), value.to_string()),
                (
                    "Date".to_string(),
                    "Sun, 06 Nov 1994 08:49:37 GMT".to_string(),
                ),
            ];
            let actions = respond(
                &mut engine,
                id,
                status,
                headers.clone(),
                String::new(),
                START + 5,
            );
            match last(&actions) {
                Action::Done { outcome } => {
                    assert_eq!(outcome.cause, Cause::ApiUnavailable, "{value}");
                    assert!(outcome.elapsed_ms <= 5);
                }
                // A value that is not a hint (`1e300` is not delta-seconds) falls back to backoff.
                Action::Wait { until, .. } => {
                    assert!(*until <= START + 60_000, "{value}: waits until {until}")
                }
                other => panic!("{other:?}"),
            }
            // Poll phase: timeout, ending now rather than sleeping for centuries.
            let (mut engine, id) = polling(json!({"fail_on_error": true}));
            let actions = respond(&mut engine, id, status, headers, String::new(), START + 20);
            match last(&actions) {
                Action::Done { outcome } => {
                    assert_eq!(
                        (outcome.cause, outcome.verdict),
                        (Cause::Timeout, Verdict::Fail),
                        "{value}"
                    );
                }
                Action::Wait { until, .. } => assert!(*until <= START + 10_800_000, "{value}"),
                other => panic!("{other:?}"),
            }
        }
    }
}

#[test]
fn negative_nan_and_odd_retry_after_values_fall_back_to_backoff() {
    for value in [
        "-5",
        "NaN",
        "inf",
        "",
        " ",
        "1.5.5",
        "0x10",
        "\u{0}",
        "5 s",
        "Sun, 06 Nov 1994 08:49:37 GMT",
    ] {
        let (mut engine, id) = polling(json!({}));
        let actions = respond(
            &mut engine,
            id,
            503,
            vec![("Retry-After".into(), value.into())],
            String::new(),
            START + 20,
        );
        match last(&actions) {
            Action::Wait { until, reason } => {
                assert_eq!(*reason, WaitReason::RetryBackoff, "{value:?}");
                assert!(
                    *until > START + 20 && *until <= START + 20 + 30_000,
                    "{value:?}: {until}"
                );
            }
            other => panic!("{value:?}: {other:?}"),
        }
    }
}

// ---- numbers in options, config and time ---------------------------------------------------

#[test]
fn negative_and_overflowing_options_are_invalid_options() {
    let cases = [
        json!({"timeout": -1}),
        json!({"timeout": 1e300}),
        json!({"timeout": "60"}),
        json!({"poll_interval": -0.5}),
        json!({"request_timeout": 1e17}),
        json!({"trigger_budget": f64::MAX}),
        json!({"timeout_ms": -1}),
        json!({"timeout_ms": u64::MAX}),
        json!({"timeout_ms": 0}),
        json!({"poll_interval_ms": 0}),
        json!({"seed": -1}),
        json!({"seed": 9_007_199_254_740_992u64}),
        json!({"seed": 1.5}),
        json!({"max_body_bytes": -1}),
    ];
    for extra in cases {
        let mut base = json!({"service": "s", "env": "e", "api_key": API_KEY, "app_key": APP_KEY});
        for (k, v) in extra.as_object().unwrap() {
            base[k] = v.clone();
        }
        let result = Options::from_host_value(base).and_then(|o| Engine::new(o, START));
        let err = result
            .err()
            .unwrap_or_else(|| panic!("{extra} was accepted"));
        assert_eq!(err.code.as_str(), "invalid_options", "{extra}: {err}");
        assert!(!err.problems.is_empty());
        let text = format!("{err} {err:?}");
        assert!(!text.contains(API_KEY) && !text.contains(APP_KEY));
    }
    // Largest accepted timeout: the deadline stays a JS-safe number.
    let ok = Engine::new(options(json!({"timeout_ms": (1u64 << 52) - 1})), START);
    assert!(ok.is_ok());
}

#[test]
fn negative_and_overflowing_config_numbers_are_config_problems() {
    for duration in [
        json!(-1),
        json!(7201),
        json!(1e300),
        json!(18446744073709551616u128 as f64),
        json!("300"),
        json!(1.5),
        json!(u64::MAX),
    ] {
        for key in ["duration", "warmup"] {
            let config = json!({"rules": [{"type": "monitor", "name": "m", "options": {"query": "env:prod", key: duration}}]});
            for input in [
                ConfigInput::Value(config.clone()),
                ConfigInput::Text(config.to_string()),
            ] {
                let v = validate(&input, None, false);
                let warmup_huge_ok = key == "warmup"
                    && (duration == json!(7201)
                        || duration == json!(u64::MAX)
                        || duration.as_f64().is_some_and(|f| f >= 7201.0));
                if !warmup_huge_ok {
                    assert!(!v.valid, "{key}={duration} accepted");
                    assert!(
                        v.problems.iter().any(|p| p.path.contains(key)),
                        "{key}={duration}: {:?}",
                        v.problems
                    );
                }
                let engine = Engine::new(options(json!({"config": config})), START);
                if !warmup_huge_ok {
                    assert_eq!(engine.err().unwrap().code.as_str(), "invalid_config");
                }
            }
        }
    }
}

#[test]
fn deeply_nested_config_text_is_a_problem_not_a_crash() {
    for depth in [100usize, 127, 128, 129, 500, 100_000] {
        let text = format!(
            "{{\"rules\":[{{\"type\":\"monitor\",\"name\":\"m\",\"options\":{{\"query\":\"env:prod\",\"x\":{}1{}}}}}]}}",
            "[".repeat(depth),
            "]".repeat(depth)
        );
        let v = validate(&ConfigInput::Text(text.clone()), None, false);
        if depth >= 127 {
            assert!(!v.valid, "depth {depth} accepted");
            assert!(!v.problems.is_empty());
        }
        let e = Engine::new(options(json!({"config": text})), START);
        if depth >= 127 {
            assert_eq!(e.err().unwrap().code.as_str(), "invalid_config");
        }
    }
}

#[test]
fn a_deep_config_value_from_a_binding_does_not_crash() {
    // A binding may hand over a value built programmatically, deeper than serde_json would parse
    // (128). Far deeper values (a few thousand levels) overflow the stack in serde_json's own
    // recursive drop, so bindings must bound the depth when they convert host objects.
    let mut value = json!(1);
    for _ in 0..400 {
        value = json!([value]);
    }
    let config = json!({"rules": [{"type": "monitor", "name": "m", "options": {"query": "env:prod", "x": value}}]});
    let v = validate(&ConfigInput::Value(config), None, false);
    // Unknown option keys pass through with a warning; what matters is a clear answer.
    assert_eq!(v.valid, v.problems.is_empty());
    let mut deep = json!({});
    for _ in 0..400 {
        deep = json!({"k": deep});
    }
    // Dropping a deep serde_json value recurses; this depth is well inside the test stack.
    drop(deep);
}

#[test]
fn huge_now_values_give_clear_results() {
    // Construction refuses a clock that is not milliseconds.
    for now in [u64::MAX, 1 << 60, (1 << 52) + 1] {
        let err = Engine::new(options(json!({})), now).expect_err("refused");
        assert_eq!(err.code.as_str(), "invalid_options");
        assert!(err.problems.iter().any(|p| p.path == "now"));
    }
    // A clock that leaps to the end of time mid-run ends the run (timeout), without a panic.
    for leap in [u64::MAX, u64::MAX / 2, 1 << 53] {
        for phase_is_poll in [false, true] {
            let (mut engine, id) = if phase_is_poll {
                polling(json!({}))
            } else {
                let mut engine = Engine::new(options(json!({})), START).unwrap();
                let id = sent_id(&drain(&mut engine, START));
                (engine, id)
            };
            let body = if phase_is_poll {
                json!({"data": {"attributes": {"evaluation_id": EVAL, "gate_status": "in_progress"}}}).to_string()
            } else {
                trigger_body()
            };
            engine
                .handle(
                    Input::Response {
                        request_id: id,
                        status: 200,
                        headers: vec![],
                        body,
                    },
                    leap,
                )
                .unwrap();
            let actions = drain(&mut engine, leap);
            let o = outcome(last(&actions));
            assert!(
                matches!(o.cause, Cause::Timeout | Cause::ApiUnavailable),
                "{o:?}"
            );
            check_bounded(&mut engine);
        }
    }
}

#[test]
fn a_huge_clock_on_every_input_kind_does_not_panic() {
    let inputs = |id: u64| {
        vec![
            Input::Response {
                request_id: id,
                status: 503,
                headers: vec![],
                body: String::new(),
            },
            Input::Response {
                request_id: id,
                status: 404,
                headers: vec![],
                body: String::new(),
            },
            Input::Response {
                request_id: id,
                status: 429,
                headers: vec![("Retry-After".into(), "5".into())],
                body: String::new(),
            },
            Input::TransportError {
                request_id: id,
                kind: TransportErrorKind::Reset,
                message: String::new(),
            },
            Input::Timeout,
            Input::Cancel,
        ]
    };
    for poll_phase in [false, true] {
        for leap in [u64::MAX, u64::MAX - 1, 1 << 63] {
            let count = inputs(1).len();
            for i in 0..count {
                let (mut engine, id) = if poll_phase {
                    polling(json!({}))
                } else {
                    let mut engine = Engine::new(options(json!({})), START).unwrap();
                    let id = sent_id(&drain(&mut engine, START));
                    (engine, id)
                };
                let input = inputs(id).swap_remove(i);
                engine.handle(input, leap).unwrap();
                let actions = drain(&mut engine, leap);
                assert!(matches!(last(&actions), Action::Done { .. }), "{actions:?}");
                // A snapshot at the end of time resumes (and stays done).
                let snapshot = engine.snapshot();
                let mut again =
                    Engine::resume(snapshot, Some(API_KEY.into()), Some(APP_KEY.into()), leap)
                        .unwrap();
                let actions = drain(&mut again, leap);
                assert!(matches!(
                    last(&actions),
                    Action::Done { .. } | Action::Wait { .. }
                ));
            }
        }
    }
}

#[test]
fn resume_refuses_snapshots_with_impossible_numbers() {
    let (engine, _) = polling(json!({}));
    let good = engine.snapshot();
    let resume = |snapshot: Value| {
        Engine::resume(
            snapshot,
            Some(API_KEY.into()),
            Some(APP_KEY.into()),
            START + 100,
        )
    };
    // Each impossible number is refused as an invalid snapshot whose message names the field.
    for (field, value, names) in [
        (
            "poll_interval_ms",
            json!(0),
            "poll_interval_ms 0 is out of range",
        ),
        (
            "poll_interval_ms",
            json!(999),
            "poll_interval_ms 999 is out of range",
        ),
        ("poll_interval_ms", json!(-1), "poll_interval_ms"),
        ("poll_interval_ms", json!(1.5), "poll_interval_ms"),
        (
            "request_timeout_ms",
            json!(0),
            "request_timeout_ms 0 is out of range",
        ),
        (
            "trigger_budget_ms",
            json!(0),
            "trigger_budget_ms 0 is out of range",
        ),
        (
            "max_body_bytes",
            json!(0),
            "max_body_bytes 0 is out of range",
        ),
        (
            "timeout_ms",
            json!(u64::MAX),
            "timeout_ms 18446744073709551615 is out of range",
        ),
        (
            "started_at",
            json!(u64::MAX),
            "started_at 18446744073709551615 is out of range",
        ),
        (
            "next_request_id",
            json!(u64::MAX),
            "next_request_id 18446744073709551615 is out of range",
        ),
        (
            "next_request_id",
            json!(0),
            "its times or counters do not add up",
        ),
        (
            "deadline",
            json!(u64::MAX),
            "its times or counters do not add up",
        ),
        (
            "deadline",
            json!(START),
            "its times or counters do not add up",
        ),
        (
            "trigger_deadline",
            json!(u64::MAX),
            "its times or counters do not add up",
        ),
        ("seed", json!(u64::MAX), "seed"),
        ("seed", json!(-1), "seed"),
    ] {
        let mut bad = good.clone();
        bad[field] = value.clone();
        let err = resume(bad).expect_err(&format!("{field} = {value} was resumed"));
        assert_eq!(err.code.as_str(), "invalid_snapshot", "{field} = {value}");
        assert!(
            err.message.starts_with("invalid snapshot") && err.message.contains(names),
            "{field} = {value}: {}",
            err.message
        );
    }
    // A clock past the end of time is not refused: it is clamped to what a JavaScript number
    // holds, and the evaluation, long past its deadline, ends as a timeout (fail-open) at once.
    let mut late = good.clone();
    late["clock"] = json!(u64::MAX);
    let mut engine = resume(late).expect("a clock far ahead is clamped, not refused");
    assert_eq!(engine.snapshot()["clock"], json!((1u64 << 53) - 1));
    let actions = drain(&mut engine, START + 100);
    let done = outcome(last(&actions));
    assert_eq!(done.cause, Cause::Timeout);
    assert_eq!(done.verdict, Verdict::Pass);
    assert!(done.fail_open);
    // The untouched snapshot resumes where it was: the poll in flight is asked again.
    let mut engine = resume(good).unwrap();
    assert_eq!(engine.evaluation_id(), Some(EVAL));
    let actions = drain(&mut engine, START + 100);
    assert!(
        actions.iter().all(|a| !matches!(a, Action::Done { .. })),
        "{actions:?}"
    );
}

// ---- long strings --------------------------------------------------------------------------

#[test]
fn very_long_evaluation_ids_and_strings() {
    // attach with a 1 MB id: refused, and the error does not echo a megabyte.
    let long = "a".repeat(1_000_000);
    let err = Engine::attach(&long, options(json!({})), START)
        .err()
        .unwrap();
    assert_eq!(err.code.as_str(), "invalid_options");
    assert!(err.to_string().len() < 1_000);
    // Path tricks are not UUIDs.
    for id in [
        "../../../etc/passwd",
        "e9d2f04f-4f4b-494b-86e5-52f03e10c8e9/../x",
        "e9d2f04f-4f4b-494b-86e5-52f03e10c8e%",
        "E9D2F04F-4F4B-494B-86E5-52F03E10C8E9?x=1",
    ] {
        assert!(
            Engine::attach(id, options(json!({})), START).is_err(),
            "{id}"
        );
    }
    // A trigger answering a 1 MB or hostile id: malformed, retried, never polled.
    for id in [
        long.as_str(),
        "../../v1/validate",
        "e9d2f04f-4f4b-494b-86e5-52f03e10c8e9/../../x",
        "https://evil.example/x",
    ] {
        let mut engine = Engine::new(options(json!({})), START).unwrap();
        let rid = sent_id(&drain(&mut engine, START));
        let body = json!({"data": {"id": id, "attributes": {"evaluation_id": id}}}).to_string();
        let actions = respond(&mut engine, rid, 202, vec![], body, START + 5);
        assert!(matches!(
            last(&actions),
            Action::Wait {
                reason: WaitReason::RetryBackoff,
                ..
            }
        ));
        assert!(engine.evaluation_id().is_none());
        check_bounded(&mut engine);
    }
    // 1 MB service/env/identifier: accepted and sent (the server decides); no panic.
    let big = "s".repeat(1_000_000);
    let mut engine = Engine::new(
        options(json!({"service": big, "identifier": big, "version": big})),
        START,
    )
    .unwrap();
    let actions = drain(&mut engine, START);
    assert!(matches!(actions[0], Action::SendRequest { .. }));
    // A 1 MB config rule name and query: a clear answer.
    let config = json!({"rules": [{"type": "monitor", "name": big, "options": {"query": format!("service:{big}")}}]});
    let v = validate(&ConfigInput::Value(config), None, false);
    assert_eq!(v.valid, v.problems.is_empty());
    let deep_query = format!("{}env:prod{}", "(".repeat(100_000), ")".repeat(100_000));
    let config =
        json!({"rules": [{"type": "monitor", "name": "m", "options": {"query": deep_query}}]});
    let v = validate(&ConfigInput::Value(config), None, false);
    assert_eq!(v.valid, v.problems.is_empty());
    let not_query = format!("{}env:prod", "NOT ".repeat(100_000));
    let config =
        json!({"rules": [{"type": "monitor", "name": "m", "options": {"query": not_query}}]});
    let v = validate(&ConfigInput::Value(config), None, false);
    assert_eq!(v.valid, v.problems.is_empty());
}

#[test]
fn tampered_counters_in_a_snapshot_neither_spin_nor_overflow() {
    // Found by the `resume` fuzz target: `failures` near u32::MAX made the backoff loop run
    // billions of times; counters at their maximum overflowed on the next increment.
    assert_eq!(
        gatepost_core::backoff::delay_ms(u32::MAX, 1, 1),
        gatepost_core::backoff::delay_ms(40, 1, 1)
    );
    for phase_is_poll in [false, true] {
        let engine = if phase_is_poll {
            polling(json!({})).0
        } else {
            let mut engine = Engine::new(options(json!({})), START).unwrap();
            drain(&mut engine, START);
            engine
        };
        let mut snapshot = engine.snapshot();
        let in_flight = snapshot["in_flight"]["request_id"]
            .as_u64()
            .expect("a request in flight");
        for (field, max) in [
            ("failures", json!(u32::MAX)),
            ("requests", json!(u32::MAX)),
            ("polls", json!(u32::MAX)),
            ("trigger_not_found", json!(u32::MAX)),
            ("draws", json!(u64::MAX)),
        ] {
            snapshot[field] = max;
        }
        let mut engine = Engine::resume(
            snapshot,
            Some(API_KEY.into()),
            Some(APP_KEY.into()),
            START + 50,
        )
        .unwrap();
        let id = in_flight;
        let _ = engine.handle(
            Input::Response {
                request_id: id,
                status: 503,
                headers: vec![],
                body: String::new(),
            },
            START + 60,
        );
        let actions = drain(&mut engine, START + 60);
        assert!(
            matches!(last(&actions), Action::Wait { .. } | Action::Done { .. }),
            "{actions:?}"
        );
    }
}
