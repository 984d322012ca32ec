//! Evaluation semantics on a virtual clock: every test steps world time by hand, nothing sleeps.

use gatepost_emulator::World;
use gatepost_emulator::eval::{
    EvaluationRequest, FailedMonitor, GateOutcome, Status, evaluate, gate_finished_after_ms,
    rule_finished_after_ms,
};
use gatepost_emulator::rules::parse_configuration;
use serde_json::{Value, json};

const LINKS: &str = "http://127.0.0.1:9999";

#[path = "../../core/tests/support/api_schemas.rs"]
mod api_schemas;

fn world(value: Value) -> World {
    gatepost_testkit::world(&value)
}

fn request(config: Value, version: Option<&str>, primary_tag: Option<&str>) -> EvaluationRequest {
    let (dry_run, rules) = parse_configuration(&config).expect("valid configuration");
    EvaluationRequest {
        service: "checkout".into(),
        env: "prod".into(),
        identifier: "default".into(),
        version: version.map(str::to_string),
        primary_tag: primary_tag.map(str::to_string),
        dry_run,
        rules,
    }
}

fn monitor_rule(query: &str, duration: u64) -> Value {
    json!({"rules": [{"type": "monitor", "name": "Monitors",
        "options": {"query": query, "duration": duration}}]})
}

/// The outcome `seconds` after the trigger. Every outcome is also held to the published API:
/// its rules as a result body carries them, its failures as a rule evaluation carries them.
fn at(world: &World, request: &EvaluationRequest, seconds: f64) -> GateOutcome {
    let outcome = evaluate(world, request, (seconds * 1000.0) as u64, LINKS);
    let id = "e9d2f04f-4f4b-494b-86e5-52f03e10c8e9";
    let result = json!({"data": {"id": id, "type": "deployment_gates_evaluation_result_response",
        "attributes": {"dry_run": request.dry_run, "evaluation_id": id, "evaluation_url": LINKS,
            "gate_id": null, "gate_status": outcome.api_status, "rules": outcome.rules}}});
    let schemas = api_schemas::schemas();
    schemas
        .validate("result-response", &result)
        .unwrap_or_else(|e| panic!("{e}"));
    for rule in &outcome.rules {
        let item = json!({"data": [{"id": id, "type": "deployment_gate_rule_evaluation",
            "attributes": {"configuration": {}, "dry_run": rule.dry_run, "duration_seconds": null,
                "env": "prod", "evaluation_id": id, "failures": rule.failures,
                "finished_at": null, "gate_dry_run": request.dry_run, "gate_evaluation_id": id,
                "gate_id": null, "identifier": "default", "name": rule.name,
                "reason": rule.reason.clone().unwrap_or_default(), "rule_id": null,
                "service": "checkout", "started_at": "2026-01-01T00:00:00Z",
                "status": rule.status, "type": "monitor", "version": ""}}],
            "meta": {"page": {"size": 50}}});
        schemas
            .validate("rule-evaluations-list-response", &item)
            .unwrap_or_else(|e| panic!("{e}"));
    }
    outcome
}

fn monitors_world() -> World {
    world(json!({"monitors": [
        {"id": 1, "name": "checkout errors", "tags": ["service:checkout", "env:prod", "team:payments"],
         "timeline": [{"at": "120s", "state": "Alert"}]},
        {"id": 2, "name": "checkout latency", "tags": ["service:checkout", "env:prod"]},
        {"id": 3, "name": "checkout by region", "tags": ["service:checkout", "env:prod", "team:regions"],
         "groups": [{"name": "region:eu", "timeline": [{"at": "60s", "state": "No Data"}]},
                    {"name": "region:us"}]},
        {"id": 4, "name": "muted noise", "tags": ["service:checkout", "env:prod"], "muted": true, "state": "Alert"},
        {"id": 5, "name": "search", "tags": ["service:search", "env:prod"], "state": "Alert"}
    ]}))
}

#[test]
fn monitor_rule_is_in_progress_until_the_duration_elapses_then_passes() {
    let w = monitors_world();
    let r = request(
        monitor_rule("service:checkout team:payments", 100),
        None,
        None,
    );
    assert_eq!(at(&w, &r, 0.0).api_status, Status::InProgress);
    assert_eq!(at(&w, &r, 99.9).api_status, Status::InProgress);
    let done = at(&w, &r, 100.0);
    assert_eq!(done.api_status, Status::Pass);
    assert_eq!(done.rules[0].reason, None);
    // Later events are outside the window: the result never changes once final.
    assert_eq!(at(&w, &r, 10_000.0).api_status, Status::Pass);
}

#[test]
fn monitor_rule_fails_as_soon_as_a_matching_monitor_alerts() {
    let w = monitors_world();
    let r = request(
        monitor_rule("service:checkout team:payments", 300),
        None,
        None,
    );
    assert_eq!(at(&w, &r, 119.0).api_status, Status::InProgress);
    let failed = at(&w, &r, 120.0);
    assert_eq!(failed.api_status, Status::Fail);
    assert_eq!(
        failed.rules[0].reason.as_deref(),
        Some("One or more monitors in ALERT state: http://127.0.0.1:9999/monitors/1")
    );
    assert_eq!(
        failed.rules[0].failures.monitors,
        vec![FailedMonitor {
            id: "1".into(),
            name: "checkout errors".into(),
            state: "ALERT".into(),
            url: "http://127.0.0.1:9999/monitors/1".into(),
        }]
    );
    assert!(at(&w, &r, 119.0).rules[0].failures.monitors.is_empty());
    // The moment it became final, found from any later time.
    assert_eq!(gate_finished_after_ms(&w, &r, 119_000, LINKS), None);
    assert_eq!(
        gate_finished_after_ms(&w, &r, 5_000_000, LINKS),
        Some(120_000)
    );
    assert_eq!(
        rule_finished_after_ms(&w, &r, 0, 5_000_000, LINKS),
        Some(120_000)
    );
}

#[test]
fn muted_monitors_never_match() {
    let w = monitors_world();
    let r = request(monitor_rule("\"muted noise\"", 0), None, None);
    let outcome = at(&w, &r, 0.0);
    assert_eq!(outcome.api_status, Status::Fail);
    assert!(
        outcome.rules[0]
            .reason
            .as_deref()
            .unwrap()
            .starts_with("No monitors match the query")
    );
}

#[test]
fn a_query_matching_nothing_fails_at_once() {
    let w = monitors_world();
    let r = request(monitor_rule("service:nothing", 600), None, None);
    let outcome = at(&w, &r, 0.0);
    assert_eq!(outcome.api_status, Status::Fail);
    assert_eq!(
        outcome.rules[0].reason.as_deref(),
        Some("No monitors match the query: service:nothing")
    );
}

#[test]
fn more_than_fifty_matching_monitors_fail() {
    let monitors: Vec<Value> = (1..=51)
        .map(|i| json!({"id": i, "name": format!("m{i}"), "tags": ["service:checkout"]}))
        .collect();
    let w = world(json!({ "monitors": monitors }));
    let r = request(monitor_rule("service:checkout", 60), None, None);
    let outcome = at(&w, &r, 0.0);
    assert_eq!(outcome.api_status, Status::Fail);
    assert!(
        outcome.rules[0]
            .reason
            .as_deref()
            .unwrap()
            .contains("More than 50")
    );
}

#[test]
fn no_data_fails_unless_fail_on_no_data_is_off() {
    let w = monitors_world();
    let r = request(monitor_rule("team:regions", 300), None, None);
    let outcome = at(&w, &r, 60.0);
    assert_eq!(outcome.api_status, Status::Fail);
    assert!(
        outcome.rules[0]
            .reason
            .as_deref()
            .unwrap()
            .contains("NO_DATA state: http://127.0.0.1:9999/monitors/3"),
        "{:?}",
        outcome.rules[0].reason
    );
    let lenient = request(
        json!({"rules": [{"type": "monitor", "name": "m",
            "options": {"query": "team:regions", "duration": 300, "fail_on_no_data": false}}]}),
        None,
        None,
    );
    assert_eq!(at(&w, &lenient, 300.0).api_status, Status::Pass);
}

#[test]
fn group_filters_evaluate_only_matching_groups() {
    let w = monitors_world();
    let us = request(
        monitor_rule("team:regions group:\"region:us\"", 300),
        None,
        None,
    );
    assert_eq!(at(&w, &us, 300.0).api_status, Status::Pass);
    let eu = request(
        monitor_rule("team:regions group:\"region:eu\"", 300),
        None,
        None,
    );
    let outcome = at(&w, &eu, 60.0);
    assert_eq!(outcome.api_status, Status::Fail);
    assert!(
        outcome.rules[0]
            .reason
            .as_deref()
            .unwrap()
            .contains("(group region:eu)")
    );
}

#[test]
fn no_groups_found_fails_only_when_asked() {
    let w = monitors_world();
    let query = "team:regions OR team:payments group:\"region:mars\"";
    let lenient = request(monitor_rule(query, 100), None, None);
    // team:payments (monitor 1) alerts at 120 s, after this 100 s window.
    assert_eq!(at(&w, &lenient, 59.0).api_status, Status::InProgress);
    let strict = request(
        json!({"rules": [{"type": "monitor", "name": "m", "options": {
            "query": "team:payments group:\"region:mars\" OR team:regions group:\"region:mars\"",
            "duration": 100, "fail_on_no_groups_found": true}}]}),
        None,
        None,
    );
    let outcome = at(&w, &strict, 0.0);
    assert_eq!(outcome.api_status, Status::Fail, "{outcome:?}");
}

#[test]
fn not_group_selects_groups_over_time_and_judges_monitors_without_groups_whole() {
    let w = monitors_world();
    // Monitor 3 keeps only region:us (its eu group goes No Data at 60 s); monitor 1 has no groups,
    // so NOT group: holds for it and it is judged whole: it alerts at 120 s.
    let q = "team:(payments OR regions) -group:\"region:eu\"";
    let r = request(monitor_rule(q, 300), None, None);
    assert_eq!(at(&w, &r, 119.0).api_status, Status::InProgress);
    let failed = at(&w, &r, 120.0);
    assert_eq!(
        failed.rules[0].reason.as_deref(),
        Some("One or more monitors in ALERT state: http://127.0.0.1:9999/monitors/1")
    );
    // With fail_on_no_groups_found, that monitor without groups is "no matching groups" at once.
    let strict = request(
        json!({"rules": [{"type": "monitor", "name": "m", "options": {
            "query": q, "duration": 300, "fail_on_no_groups_found": true}}]}),
        None,
        None,
    );
    assert_eq!(
        at(&w, &strict, 0.0).rules[0].reason.as_deref(),
        Some("No matching groups found for monitors: http://127.0.0.1:9999/monitors/1")
    );
    // group_status: reads each group's state at that moment: at the start no group is No Data.
    let r = request(
        monitor_rule("team:regions group_status:\"No Data\"", 300),
        None,
        None,
    );
    assert_eq!(
        at(&w, &r, 30.0).rules[0].reason.as_deref(),
        Some("No monitors match the query: team:regions group_status:\"No Data\"")
    );
}

#[test]
fn warmup_ignores_what_happens_before_the_window() {
    let w = monitors_world();
    // Monitor 3's eu group goes No Data at 60 s and stays there: with a 90 s warmup the window
    // [90 s, 150 s] still sees it at its start.
    let r = request(
        json!({"rules": [{"type": "monitor", "name": "m",
            "options": {"query": "team:regions", "duration": 60, "warmup": 90}}]}),
        None,
        None,
    );
    assert_eq!(at(&w, &r, 89.0).api_status, Status::InProgress);
    assert_eq!(at(&w, &r, 90.0).api_status, Status::Fail);
    // A monitor that recovers before the window opens passes.
    let recovering = world(
        json!({"monitors": [{"id": 9, "name": "flappy", "tags": ["team:x"],
        "timeline": [{"at": "10s", "state": "Alert"}, {"at": "20s", "state": "OK"}]}]}),
    );
    let r = request(
        json!({"rules": [{"type": "monitor", "name": "m",
            "options": {"query": "team:x", "duration": 30, "warmup": 30}}]}),
        None,
        None,
    );
    assert_eq!(at(&recovering, &r, 60.0).api_status, Status::Pass);
}

#[test]
fn monitor_ids_variant_checks_the_named_monitors_and_groups() {
    let w = monitors_world();
    let r = request(
        json!({"rules": [{"type": "monitor", "name": "m",
            "options": {"monitor_ids": [{"id": "3", "groups": ["region:us"]}, {"id": "2", "groups": []}], "duration": 120}}]}),
        None,
        None,
    );
    assert_eq!(at(&w, &r, 120.0).api_status, Status::Pass);
    let missing = request(
        json!({"rules": [{"type": "monitor", "name": "m", "options": {"monitor_ids": [{"id": "77", "groups": []}]}}]}),
        None,
        None,
    );
    assert_eq!(
        at(&w, &missing, 0.0).rules[0].reason.as_deref(),
        Some("Monitor 77 not found")
    );
    assert!(
        at(&w, &missing, 0.0).rules[0].failures.monitors.is_empty(),
        "a missing monitor is not a failing one"
    );
}

#[test]
fn dry_run_rules_do_not_count_and_dry_run_gates_answer_pass() {
    let w = monitors_world();
    let config = json!({"rules": [
        {"type": "monitor", "name": "real", "options": {"query": "team:payments", "duration": 10}},
        {"type": "monitor", "name": "shadow", "dry_run": true, "options": {"query": "service:search"}}]});
    let outcome = at(&w, &request(config, None, None), 10.0);
    assert_eq!(outcome.api_status, Status::Pass);
    assert_eq!(outcome.rules[1].status, Status::Fail);
    assert!(outcome.rules[1].dry_run);

    let gate = request(
        json!({"dry_run": true, "rules": [{"type": "monitor", "name": "m",
            "options": {"query": "service:search"}}]}),
        None,
        None,
    );
    let outcome = at(&w, &gate, 0.0);
    assert_eq!(outcome.api_status, Status::Pass);
    assert_eq!(outcome.real_status, Status::Fail);
    assert_eq!(outcome.rules[0].status, Status::Fail);
}

#[test]
fn a_failed_rule_fails_the_gate_while_others_still_run() {
    let w = monitors_world();
    let config = json!({"rules": [
        {"type": "monitor", "name": "long", "options": {"query": "team:regions group:\"region:us\"", "duration": 3600}},
        {"type": "monitor", "name": "short", "options": {"query": "team:payments", "duration": 300}}]});
    let outcome = at(&w, &request(config, None, None), 120.0);
    assert_eq!(outcome.api_status, Status::Fail);
    assert_eq!(outcome.rules[0].status, Status::InProgress);
}

fn apm_world(live_cart: Value, history_extra: Value) -> World {
    let mut history = vec![
        json!({"version": "v1", "resource": "GET /cart", "requests": 100000, "errors": 100,
               "error_types": {"TimeoutError": 100}}),
        json!({"version": "v1", "resource": "GET /healthcheck", "requests": 5000, "errors": 0}),
    ];
    if let Value::Array(extra) = history_extra {
        history.extend(extra);
    }
    world(
        json!({"apm": [{"service": "checkout", "env": "prod", "history": history, "live": [
            {"version": "v2", "resource": "GET /cart", "timeline": live_cart},
            {"version": "v2", "resource": "GET /healthcheck", "timeline": [
                {"at": 0, "requests_per_minute": 60, "errors_per_minute": 30, "error_types": ["Boom"]}]}
        ]}]}),
    )
}

fn fdd(duration: u64) -> Value {
    json!({"rules": [{"type": "faulty_deployment_detection", "name": "FDD",
        "options": {"duration": duration, "excluded_resources": ["GET /healthcheck"]}}]})
}

#[test]
fn fdd_passes_a_version_that_behaves_like_the_previous_ones() {
    let w = apm_world(
        json!([{"at": "0s", "requests_per_minute": 600, "errors_per_minute": 0.6, "error_types": ["TimeoutError"]}]),
        json!([]),
    );
    let r = request(fdd(900), Some("v2"), None);
    assert_eq!(at(&w, &r, 899.0).api_status, Status::InProgress);
    let done = at(&w, &r, 900.0);
    assert_eq!(done.api_status, Status::Pass, "{done:?}");
    assert_eq!(done.rules[0].reason, None);
}

#[test]
fn fdd_fails_on_a_new_error_type_as_soon_as_it_appears() {
    let w = apm_world(
        json!([{"at": "0s", "requests_per_minute": 600, "errors_per_minute": 0.6, "error_types": ["TimeoutError"]},
               {"at": "5m", "requests_per_minute": 600, "errors_per_minute": 0.9, "error_types": ["TimeoutError", "NullPointerException"]}]),
        json!([]),
    );
    let r = request(fdd(900), Some("v2"), None);
    assert_eq!(at(&w, &r, 299.0).api_status, Status::InProgress);
    let failed = at(&w, &r, 300.0);
    assert_eq!(failed.api_status, Status::Fail);
    assert_eq!(
        failed.rules[0].reason.as_deref(),
        Some(
            "Faulty deployment detected for version v2: new error type NullPointerException on GET /cart"
        )
    );
    assert_eq!(
        failed.rules[0].failures.faulty_apm_resources,
        vec!["GET /cart"]
    );
    assert!(failed.rules[0].failures.monitors.is_empty());
}

#[test]
fn fdd_fails_on_a_significant_error_rate_increase() {
    // 0.1 % before, 2 % now on 9000 requests.
    let w = apm_world(
        json!([{"at": "0s", "requests_per_minute": 600, "errors_per_minute": 12, "error_types": ["TimeoutError"]}]),
        json!([]),
    );
    let r = request(fdd(900), Some("v2"), None);
    let outcome = at(&w, &r, 900.0);
    assert_eq!(outcome.api_status, Status::Fail);
    let reason = outcome.rules[0].reason.clone().unwrap();
    assert!(
        reason.contains("error rate 2.00% on GET /cart vs 0.10% on previous versions"),
        "{reason}"
    );
}

#[test]
fn fdd_ignores_a_tiny_increase_even_on_huge_traffic() {
    // 0.10 % → 0.12 %: significant on this much traffic, but below the minimum effect size.
    let w = apm_world(
        json!([{"at": "0s", "requests_per_minute": 100000, "errors_per_minute": 120, "error_types": ["TimeoutError"]}]),
        json!([]),
    );
    let r = request(fdd(900), Some("v2"), None);
    assert_eq!(at(&w, &r, 900.0).api_status, Status::Pass);
}

#[test]
fn fdd_reports_too_little_baseline_instead_of_guessing() {
    let w = world(json!({"apm": [{"service": "checkout", "env": "prod",
        "history": [{"version": "v1", "resource": "GET /new", "requests": 20, "errors": 0}],
        "live": [{"version": "v2", "resource": "GET /new", "timeline": [
            {"at": 0, "requests_per_minute": 100, "errors_per_minute": 50, "error_types": ["Boom"]}]}]}]}));
    let outcome = at(&w, &request(fdd(60), Some("v2"), None), 60.0);
    assert_eq!(outcome.api_status, Status::Pass);
    assert_eq!(
        outcome.rules[0].reason.as_deref(),
        Some(
            "Not enough data to judge: GET /new: baseline too small (20 requests on previous versions, 1000 needed)"
        )
    );
}

#[test]
fn fdd_evaluates_each_primary_tag_value_and_the_aggregate_or_just_the_one_named() {
    let w = world(json!({"apm": [{"service": "checkout", "env": "prod",
        "history": [
            {"version": "v1", "resource": "GET /cart", "primary_tag": "region:eu", "requests": 50000, "errors": 50, "error_types": {"TimeoutError": 50}},
            {"version": "v1", "resource": "GET /cart", "primary_tag": "region:us", "requests": 50000, "errors": 50, "error_types": {"TimeoutError": 50}}],
        "live": [
            {"version": "v2", "resource": "GET /cart", "primary_tag": "region:eu", "timeline": [
                {"at": 0, "requests_per_minute": 300, "errors_per_minute": 9, "error_types": ["TimeoutError"]}]},
            {"version": "v2", "resource": "GET /cart", "primary_tag": "region:us", "timeline": [
                {"at": 0, "requests_per_minute": 300, "errors_per_minute": 0.3, "error_types": ["TimeoutError"]}]}]}]}));
    let all = at(&w, &request(fdd(600), Some("v2"), None), 600.0);
    assert_eq!(all.api_status, Status::Fail);
    assert!(
        all.rules[0]
            .reason
            .as_deref()
            .unwrap()
            .contains("on GET /cart (region:eu)")
    );
    let us_only = at(&w, &request(fdd(600), Some("v2"), Some("region:us")), 600.0);
    assert_eq!(us_only.api_status, Status::Pass, "{us_only:?}");
}

#[test]
fn fdd_says_so_when_the_named_primary_tag_has_no_traffic() {
    let w = apm_world(
        json!([{"at": "0s", "requests_per_minute": 600, "errors_per_minute": 0.6, "error_types": ["TimeoutError"]}]),
        json!([]),
    );
    let outcome = at(&w, &request(fdd(60), Some("v2"), Some("region:mars")), 60.0);
    assert_eq!(outcome.api_status, Status::Pass);
    assert_eq!(
        outcome.rules[0].reason.as_deref(),
        Some("No APM traffic for version v2 of checkout in prod (region:mars): nothing to compare")
    );
}

#[test]
fn fdd_honours_allowed_and_excluded_resources() {
    let w = apm_world(
        json!([{"at": "0s", "requests_per_minute": 600, "errors_per_minute": 0.6, "error_types": ["TimeoutError"]}]),
        json!([]),
    );
    // GET /healthcheck has a new error type; excluded in `fdd`, so it passes.
    assert_eq!(
        at(&w, &request(fdd(60), Some("v2"), None), 60.0).api_status,
        Status::Pass
    );
    let only_health = request(
        json!({"rules": [{"type": "faulty_deployment_detection", "name": "FDD",
            "options": {"duration": 60, "allowed_resources": ["GET /healthcheck"]}}]}),
        Some("v2"),
        None,
    );
    assert_eq!(at(&w, &only_health, 0.0).api_status, Status::Fail);
}

#[test]
fn fdd_is_not_available_for_database_services() {
    let w =
        world(json!({"apm": [{"service": "checkout", "env": "prod", "service_type": "database"}]}));
    let outcome = at(&w, &request(fdd(60), Some("v2"), None), 0.0);
    assert_eq!(outcome.api_status, Status::Fail);
}

#[test]
fn the_example_worlds_tell_their_stories() {
    let root = gatepost_testkit::repo_root().join("examples/worlds");
    let load = |name: &str| World::from_path(&root.join(name)).expect(name);
    let gate_request = |w: &World| {
        let gate = &w.gates[0];
        let rules: Vec<Value> = gate
            .rules
            .iter()
            .map(|r| json!({"name": r.name, "type": r.rule_type, "options": r.options, "dry_run": r.dry_run}))
            .collect();
        request(
            json!({"dry_run": gate.dry_run, "rules": rules}),
            Some("v2"),
            None,
        )
    };
    let healthy = load("healthy.json");
    let outcome = at(&healthy, &gate_request(&healthy), 300.0);
    assert_eq!(outcome.api_status, Status::Pass, "{outcome:?}");
    assert!(outcome.rules.iter().all(|r| r.status == Status::Pass));

    let alerting = load("alerting.json");
    let outcome = at(&alerting, &gate_request(&alerting), 300.0);
    assert_eq!(outcome.api_status, Status::Fail);
    assert_eq!(outcome.rules[0].status, Status::Fail);
    assert_eq!(
        at(&alerting, &gate_request(&alerting), 119.0).api_status,
        Status::InProgress
    );

    let faulty = load("faulty-version.json");
    let outcome = at(&faulty, &gate_request(&faulty), 300.0);
    assert_eq!(outcome.api_status, Status::Fail);
    assert_eq!(outcome.rules[0].status, Status::Pass);
    assert!(
        outcome.rules[1]
            .reason
            .as_deref()
            .unwrap()
            .contains("new error type NullPointerException on POST /checkout")
    );

    let dry = load("dry-run.json");
    let outcome = at(&dry, &gate_request(&dry), 300.0);
    assert_eq!(outcome.api_status, Status::Pass);
    assert_eq!(outcome.real_status, Status::Fail);
}

/// Once a gate's result is final it never changes, whatever happens in the world afterwards: the
/// property that lets the server compute results lazily instead of storing them.
#[test]
fn final_results_never_change() {
    let root = gatepost_testkit::repo_root().join("examples/worlds");
    for name in ["healthy", "alerting", "faulty-version", "dry-run", "flaky"] {
        let w = World::from_path(&root.join(format!("{name}.json"))).unwrap();
        let gate = &w.gates[0];
        let rules: Vec<Value> = gate
            .rules
            .iter()
            .map(|r| json!({"name": r.name, "type": r.rule_type, "options": r.options, "dry_run": r.dry_run}))
            .collect();
        let r = request(
            json!({"dry_run": gate.dry_run, "rules": rules}),
            Some("v2"),
            None,
        );
        let mut settled: Option<GateOutcome> = None;
        for second in 0..=3600u64 {
            // `evaluate` directly: 3601 steps; the settled outcome is held to the API below.
            let outcome = evaluate(&w, &r, second * 1000, LINKS);
            if let Some(done) = &settled {
                assert_eq!(&outcome, done, "{name} changed at {second} s");
            } else if outcome.api_status != Status::InProgress
                && outcome
                    .rules
                    .iter()
                    .all(|rule| rule.status != Status::InProgress)
            {
                settled = Some(outcome);
            }
        }
        assert!(settled.is_some(), "{name} never settled");
        assert_eq!(settled, Some(at(&w, &r, 3600.0)));
    }
}

#[test]
fn world_file_errors_name_the_file() {
    let dir = std::env::temp_dir().join(format!("gatepost-world-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("broken.json");
    std::fs::write(&path, "{\n  \"monitors\": [{\"id\": \"one\"}]\n}\n").unwrap();
    let err = World::from_path(&path).unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with(&path.display().to_string()), "{text}");
    assert!(text.contains("monitors[0].id"), "{text}");
    assert!(text.contains("line 2"), "{text}");
    let missing = World::from_path(&dir.join("missing.json")).unwrap_err();
    assert!(missing.message.contains("cannot read"), "{missing}");
    let _ = std::fs::remove_dir_all(&dir);
}
