//! Property tests: under any sequence of server replies, faults and clock jumps, the engine keeps
//! its promises (docs/architecture.md, "Decision policy"):
//! - it terminates, and never sends after `done`;
//! - no request and no wait goes past the deadline; the run ends by the deadline;
//! - a refused request (400, 401, 403, 413, other 4xx but 404/408/429, 3xx, TLS) is never retried
//!   and never passes fail-open;
//! - fail-open happens only for outages and timeouts, and never with `fail_on_error`;
//! - after a failed result, at most one request for the failure details is made, and whatever it
//!   gets (a refusal, a fault, a hang) the verdict is the gate's;
//! - keys appear only in request headers.

use gatepost_core::{Action, Cause, Engine, Input, Options, TransportErrorKind, Verdict};
use proptest::prelude::*;

const EVAL: &str = "e9d2f04f-4f4b-494b-86e5-52f03e10c8e9";
const API_KEY: &str = "prop-api-key-73ab19";
const APP_KEY: &str = "prop-app-key-c40d82";

#[derive(Debug, Clone)]
enum Reply {
    Status(u16, Body, Option<String>),
    Transport(TransportErrorKind),
    Hang,
}

#[derive(Debug, Clone)]
enum Body {
    Trigger,
    Result(&'static str),
    OtherEvaluation,
    Garbage,
    Empty,
}

fn reply() -> impl Strategy<Value = Reply> {
    let status = prop_oneof![
        Just(200u16),
        Just(202),
        Just(301),
        Just(400),
        Just(401),
        Just(403),
        Just(404),
        Just(408),
        Just(413),
        Just(418),
        Just(429),
        Just(500),
        Just(503),
        Just(599)
    ];
    let body = prop_oneof![
        Just(Body::Trigger),
        Just(Body::Result("pass")),
        Just(Body::Result("fail")),
        Just(Body::Result("in_progress")),
        Just(Body::Result("weird")),
        Just(Body::OtherEvaluation),
        Just(Body::Garbage),
        Just(Body::Empty)
    ];
    let retry_after = prop_oneof![
        Just(None),
        (0u64..200).prop_map(|s| Some(s.to_string())),
        Just(Some("184467440737095516150".to_string())),
        Just(Some("soon".to_string()))
    ];
    prop_oneof![
        6 => (status, body, retry_after).prop_map(|(s, b, r)| Reply::Status(s, b, r)),
        2 => prop_oneof![
            Just(TransportErrorKind::Connect),
            Just(TransportErrorKind::Reset),
            Just(TransportErrorKind::Timeout),
            Just(TransportErrorKind::Tls),
            Just(TransportErrorKind::BodyTooLarge),
            Just(TransportErrorKind::Other)
        ]
        .prop_map(Reply::Transport),
        1 => Just(Reply::Hang),
    ]
}

fn body_text(body: &Body) -> String {
    match body {
        Body::Trigger => format!(r#"{{"data":{{"id":"{EVAL}","attributes":{{"evaluation_id":"{EVAL}"}}}}}}"#),
        Body::Result(status) => format!(
            r#"{{"data":{{"attributes":{{"evaluation_id":"{EVAL}","gate_status":"{status}","dry_run":false,"rules":[{{"name":"r","status":"{status}"}}]}}}}}}"#
        ),
        Body::OtherEvaluation => r#"{"data":{"attributes":{"evaluation_id":"0b6a3c1e-8d7f-4a2b-9c5d-1e2f3a4b5c6d","gate_status":"pass"}}}"#.to_string(),
        Body::Garbage => "<html>502 Bad Gateway</html>".to_string(),
        Body::Empty => String::new(),
    }
}

fn never_retried(reply: &Reply) -> bool {
    match reply {
        Reply::Status(s, _, _) => {
            matches!(s, 300..=399 | 400..=403 | 405..=407 | 409..=428 | 430..=499)
        }
        Reply::Transport(kind) => *kind == TransportErrorKind::Tls,
        Reply::Hang => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn engine_keeps_its_promises(
        replies in proptest::collection::vec(reply(), 0..40),
        latency in proptest::collection::vec(0u64..40_000, 1..8),
        timeout_s in 30u64..600,
        jit in any::<bool>(),
        fail_on_error in any::<bool>(),
        seed in 0u64..(1 << 53),
    ) {
        let mut options = serde_json::json!({
            "service": "checkout", "env": "prod", "api_key": API_KEY, "app_key": APP_KEY,
            "timeout": timeout_s, "fail_on_error": fail_on_error, "seed": seed,
        });
        if jit {
            options["config"] = serde_json::json!({"rules": [{"type": "monitor", "name": "r", "options": {"query": "service:checkout", "duration": 60}}]});
        }
        let start = 1_700_000_000_000u64;
        let deadline = start + timeout_s * 1000;
        let mut engine = Engine::new(Options::from_host_value(options).unwrap(), start).unwrap();
        let mut now = start;
        let mut next_reply = 0usize;
        let mut refused = false;
        let mut last_requests = 0u32;
        let mut details_requests = 0u32;
        for step in 0..10_000 {
            prop_assert!(step < 9_999, "the engine did not terminate");
            match engine.poll(now) {
                Action::Done { outcome } => {
                    prop_assert!(now <= deadline, "ended at {} past the deadline", now - deadline);
                    prop_assert!(outcome.elapsed_ms <= timeout_s * 1000);
                    if details_requests > 0 {
                        prop_assert!(
                            matches!(outcome.cause, Cause::GateFailed | Cause::GatePassed | Cause::DryRun),
                            "after the details request the verdict is the gate's, not {:?}", outcome.cause
                        );
                    } else if refused {
                        prop_assert_eq!(outcome.cause, Cause::ClientError);
                    }
                    if outcome.fail_open {
                        prop_assert!(!fail_on_error);
                        prop_assert!(matches!(outcome.cause, Cause::Timeout | Cause::ApiUnavailable));
                        prop_assert_eq!(outcome.verdict, Verdict::Pass);
                    }
                    if outcome.cause == Cause::ClientError {
                        prop_assert_eq!(outcome.verdict, Verdict::Fail);
                        prop_assert!(!outcome.fail_open);
                    }
                    let text = outcome.to_json() + &engine.snapshot().to_string()
                        + &serde_json::to_string(&engine.drain_events()).unwrap();
                    prop_assert!(!text.contains(API_KEY) && !text.contains(APP_KEY));
                    // Done is final: polling again sends nothing.
                    let still_done = matches!(engine.poll(now + 1_000_000), Action::Done { .. });
                    prop_assert!(still_done, "done is final");
                    break;
                }
                Action::Wait { until, .. } => {
                    prop_assert!(until <= deadline, "wait until {} past the deadline", until - deadline);
                    prop_assert!(until >= now);
                    now = until;
                    engine.handle(Input::Timeout, now).unwrap();
                }
                Action::SendRequest { request_id, timeout_ms, body, url, .. } => {
                    prop_assert!(!refused, "a refused request was retried");
                    let details = url.contains("/deployment_gates/evaluations/rules?");
                    if details {
                        details_requests += 1;
                        prop_assert!(details_requests == 1, "the details are asked for once");
                    }
                    prop_assert!(now + timeout_ms <= deadline, "a request could outlive the deadline");
                    prop_assert!(body.unwrap_or_default().find(API_KEY).is_none());
                    last_requests += 1;
                    let reply = replies.get(next_reply).cloned().unwrap_or(Reply::Status(200, Body::Result("in_progress"), None));
                    next_reply += 1;
                    let lag = latency[next_reply % latency.len()];
                    refused = !details && never_retried(&reply) && lag < timeout_ms;
                    let input = match reply {
                        Reply::Hang => { now += timeout_ms; refused = false; Input::Timeout }
                        _ if lag >= timeout_ms => { now += timeout_ms; Input::Timeout }
                        Reply::Status(status, body, retry_after) => {
                            now += lag;
                            let headers = retry_after.map(|r| vec![("Retry-After".to_string(), r)]).unwrap_or_default();
                            Input::Response { request_id, status, headers, body: body_text(&body) }
                        }
                        Reply::Transport(kind) => { now += lag; Input::TransportError { request_id, kind, message: String::new() } }
                    };
                    engine.handle(input, now).unwrap();
                }
            }
        }
        prop_assert!(last_requests > 0);
    }
}
