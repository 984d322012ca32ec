//! The HTTP API on a real loopback socket: payload shapes, status codes, error bodies, keys,
//! rate limits, faults, pages and TLS. Rules here use `duration: 0` (decided at the
//! trigger), so nothing waits on the clock; time-dependent semantics are in `evaluation.rs`.

use gatepost_emulator::{ENDPOINT_COUNT, EmulatorOptions, RunningEmulator, World, start};
use gatepost_testkit::http::{self, Reply};
use gatepost_testkit::serve_world;
use serde_json::{Value, json};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

#[path = "../../core/tests/support/api_schemas.rs"]
mod api_schemas;

const API_KEY: &str = "fake-api-key-0123456789abcdef";
const APP_KEY: &str = "fake-app-key-fedcba9876543210";

/// One HTTP/1.1 request with `Connection: close`; `Err` when the connection breaks. Every API
/// exchange is held to the published contract (`schemas/api/`): the response body always, the
/// request body when the emulator accepted it.
fn send(
    emulator: &RunningEmulator,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> std::io::Result<Reply> {
    let reply = send_unchecked(emulator, method, path, headers, body)?;
    if path.starts_with("/api/") && method != "OPTIONS" {
        let schemas = api_schemas::schemas();
        if let Err(e) = schemas.check_exchange(method, path, body, reply.status, &reply.body) {
            panic!("{e}");
        }
        eprintln!("schema-checked {method} {path} -> {}", reply.status);
    }
    Ok(reply)
}

/// [`send`] without the contract check, for deliberately broken answers (fault plans).
fn send_unchecked(
    emulator: &RunningEmulator,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> std::io::Result<Reply> {
    http::send(emulator.addr(), method, path, headers, body)
}

fn call(emulator: &RunningEmulator, method: &str, path: &str, body: Option<&Value>) -> Reply {
    send(
        emulator,
        method,
        path,
        &[("DD-API-KEY", API_KEY), ("DD-APPLICATION-KEY", APP_KEY)],
        body,
    )
    .unwrap()
}

/// A world without keys is served open here (keys, CORS and limits: `tests/service.rs`).
fn emulator(mut world: Value) -> RunningEmulator {
    if world.get("api_keys").is_none() {
        world["open"] = json!(true);
    }
    serve_world(gatepost_testkit::world(&world))
}

fn monitors() -> Value {
    json!([
        {"id": 1, "name": "checkout errors", "tags": ["service:checkout", "env:prod"]},
        {"id": 2, "name": "search errors", "tags": ["service:search", "env:prod"], "state": "Alert"}
    ])
}

fn trigger_body(attributes: Value) -> Value {
    json!({"data": {"type": "deployment_gates_evaluation_request", "attributes": attributes}})
}

fn inline(query: &str) -> Value {
    trigger_body(
        json!({"service": "checkout", "env": "prod", "configuration": {"rules": [
        {"type": "monitor", "name": "Service monitors", "options": {"query": query, "duration": 0}}]}}),
    )
}

#[test]
fn inline_evaluation_is_triggered_and_its_result_read() {
    let emu = emulator(json!({ "monitors": monitors() }));
    let reply = call(
        &emu,
        "POST",
        "/api/v2/deployments/gates/evaluation",
        Some(&inline("service:checkout")),
    );
    assert_eq!(reply.status, 202, "{}", reply.body);
    let body = reply.json();
    assert_eq!(body["data"]["type"], "deployment_gates_evaluation_response");
    let id = body["data"]["attributes"]["evaluation_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(body["data"]["id"], id.as_str());

    let result = call(
        &emu,
        "GET",
        &format!("/api/v2/deployments/gates/evaluation/{id}"),
        None,
    );
    assert_eq!(result.status, 200);
    let attrs = &result.json()["data"]["attributes"];
    assert_eq!(
        result.json()["data"]["type"],
        "deployment_gates_evaluation_result_response"
    );
    assert_eq!(attrs["gate_status"], "pass");
    assert_eq!(attrs["evaluation_id"], id.as_str());
    assert_eq!(attrs["gate_id"], Value::Null);
    assert_eq!(
        attrs["evaluation_url"],
        format!("{}/evaluations/{id}", emu.base_url()).as_str()
    );
    assert_eq!(
        attrs["rules"],
        json!([{"name": "Service monitors", "status": "pass", "dry_run": false}])
    );

    let failing = call(
        &emu,
        "POST",
        "/api/unstable/deployments/gates/evaluation",
        Some(&inline("service:search")),
    );
    let id = failing.json()["data"]["id"].as_str().unwrap().to_string();
    let result = call(
        &emu,
        "GET",
        &format!("/api/unstable/deployments/gates/evaluation/{id}"),
        None,
    );
    let rule = &result.json()["data"]["attributes"]["rules"][0];
    assert_eq!(rule["status"], "fail");
    assert_eq!(
        rule["reason"],
        format!(
            "One or more monitors in ALERT state: {}/monitors/2",
            emu.base_url()
        )
        .as_str()
    );
}

#[test]
fn errors_have_the_real_shapes_and_details() {
    let emu = emulator(json!({ "monitors": monitors() }));
    let post = |body: Value| {
        call(
            &emu,
            "POST",
            "/api/v2/deployments/gates/evaluation",
            Some(&body),
        )
    };

    let reply = post(trigger_body(json!({"service": "checkout"})));
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.json(),
        json!({"errors": [{"status": "400", "title": "Bad Request", "detail": "required env field is missing"}]})
    );

    let reply = post(trigger_body(json!({"service": "x", "env": "y"})));
    assert_eq!(reply.status, 404);
    assert_eq!(
        reply.json()["errors"][0]["detail"],
        "no gate found for service x, env y, and identifier default"
    );

    let reply = post(trigger_body(
        json!({"service": "x", "env": "y", "configuration": {"rules": [
        {"type": "moniyor", "name": "m", "options": {}}]}}),
    ));
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.json()["errors"][0]["detail"],
        "invalid configuration: invalid rule at index 0: invalid rule type: moniyor"
    );

    let reply = post(trigger_body(
        json!({"service": "x", "env": "y", "configuration": {"rules": [
        {"type": "faulty_deployment_detection", "name": "f", "options": {"duration": 0}}]}}),
    ));
    assert_eq!(reply.status, 400, "FDD needs a version");

    let reply = call(
        &emu,
        "GET",
        "/api/v2/deployments/gates/evaluation/not-a-uuid",
        None,
    );
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.json()["errors"][0]["detail"],
        "attribute \"id\" Invalid id"
    );

    let missing = "e9d2f04f-4f4b-494b-86e5-52f03e10c8e9";
    let reply = call(
        &emu,
        "GET",
        &format!("/api/v2/deployments/gates/evaluation/{missing}"),
        None,
    );
    assert_eq!(reply.status, 404);
    assert_eq!(
        reply.json()["errors"][0]["detail"],
        format!("gate evaluation with id {missing} not found").as_str()
    );

    let reply = send(
        &emu,
        "POST",
        "/api/v2/deployments/gates/evaluation",
        &[],
        None,
    )
    .unwrap();
    assert_eq!(reply.status, 400, "an empty body is a bad request");
}

#[test]
fn keys_are_checked_and_never_echoed() {
    let emu =
        emulator(json!({"api_keys": [API_KEY], "app_keys": [APP_KEY], "monitors": monitors()}));
    let body = inline("service:checkout");
    let reply = send(
        &emu,
        "POST",
        "/api/v2/deployments/gates/evaluation",
        &[],
        Some(&body),
    )
    .unwrap();
    assert_eq!(reply.status, 403);
    assert_eq!(reply.json(), json!({"errors": ["Forbidden"]}));
    let wrong = send(
        &emu,
        "POST",
        "/api/v2/deployments/gates/evaluation",
        &[("DD-API-KEY", "wrong"), ("DD-APPLICATION-KEY", APP_KEY)],
        Some(&body),
    )
    .unwrap();
    assert_eq!(wrong.status, 403);
    let ok = call(
        &emu,
        "POST",
        "/api/v2/deployments/gates/evaluation",
        Some(&body),
    );
    assert_eq!(ok.status, 202);
    let page = send(&emu, "GET", "/", &[], None).unwrap();
    assert_eq!(page.status, 401, "the pages need the keys too");
    let keyed_page = call(&emu, "GET", "/", None);
    assert_eq!(keyed_page.status, 200);
    for reply in [&reply, &wrong, &ok, &page, &keyed_page] {
        assert!(!reply.body.contains(API_KEY) && !reply.body.contains(APP_KEY));
    }
}

#[test]
fn rate_limits_answer_429_with_datadog_headers() {
    let emu = emulator(json!({"monitors": monitors(),
        "rate_limits": [{"endpoint": "trigger", "limit": 2, "period_seconds": 3600}]}));
    let body = inline("service:checkout");
    for remaining in ["1", "0"] {
        let reply = call(
            &emu,
            "POST",
            "/api/v2/deployments/gates/evaluation",
            Some(&body),
        );
        assert_eq!(reply.status, 202);
        assert_eq!(reply.header("x-ratelimit-remaining"), Some(remaining));
    }
    let limited = call(
        &emu,
        "POST",
        "/api/v2/deployments/gates/evaluation",
        Some(&body),
    );
    assert_eq!(limited.status, 429);
    assert_eq!(limited.json(), json!({"errors": ["Too many requests"]}));
    assert_eq!(limited.header("x-ratelimit-limit"), Some("2"));
    assert_eq!(limited.header("x-ratelimit-period"), Some("3600"));
    assert_eq!(limited.header("x-ratelimit-remaining"), Some("0"));
    assert_eq!(
        limited.header("x-ratelimit-name"),
        Some("deployment_gates_evaluation_trigger")
    );
    let reset: u64 = limited
        .header("x-ratelimit-reset")
        .unwrap()
        .parse()
        .unwrap();
    assert!(reset > 3500 && reset <= 3600, "{reset}");
    // Other endpoints have their own budget.
    assert_eq!(
        call(&emu, "GET", "/api/v2/deployment_gates", None).status,
        200
    );
}

#[test]
fn fault_plans_are_served_in_order() {
    let emu = emulator(json!({"monitors": monitors(), "faults": {"trigger": [
        {"kind": "status", "status": 503, "times": 2},
        {"kind": "garbage"},
        {"kind": "reset"},
        {"kind": "rate_limited", "retry_after": 7},
        {"kind": "hang", "ms": 50},
        {"kind": "delay", "ms": 20},
        {"kind": "not_found"}
    ]}}));
    let body = inline("service:checkout");
    let post = || {
        send_unchecked(
            &emu,
            "POST",
            "/api/v2/deployments/gates/evaluation",
            &[],
            Some(&body),
        )
    };
    for _ in 0..2 {
        let reply = post().unwrap();
        assert_eq!(reply.status, 503);
        assert_eq!(reply.json()["errors"][0]["status"], "503");
    }
    let garbage = post().unwrap();
    assert_eq!(garbage.status, 200);
    assert!(serde_json::from_str::<Value>(&garbage.body).is_err());
    assert!(post().is_err(), "a reset yields no response");
    let limited = post().unwrap();
    assert_eq!(limited.status, 429);
    assert_eq!(limited.header("retry-after"), Some("7"));
    assert!(limited.header("x-ratelimit-reset").is_some());
    assert!(post().is_err(), "a hang ends in a reset");
    assert_eq!(post().unwrap().status, 202, "a delay then answers normally");
    assert_eq!(post().unwrap().status, 404);
    assert_eq!(post().unwrap().status, 202, "the plan is used up");
}

#[test]
fn results_404_until_the_evaluation_has_started() {
    let emu = emulator(json!({"monitors": monitors(), "faults": {"result_not_found_for": "1h"}}));
    let id = call(
        &emu,
        "POST",
        "/api/v2/deployments/gates/evaluation",
        Some(&inline("service:checkout")),
    )
    .json()["data"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let reply = call(
        &emu,
        "GET",
        &format!("/api/v2/deployments/gates/evaluation/{id}"),
        None,
    );
    assert_eq!(reply.status, 404);
}

#[test]
fn a_late_result_is_in_progress_until_its_lateness_has_passed() {
    // A 0 s rule is final at once; reported 1 h late, it is still in progress (the list shows
    // the real state).
    for (faults, expected) in [
        (json!({}), "pass"),
        (json!({"result_late_by": "1h"}), "in_progress"),
    ] {
        let emu = emulator(json!({"monitors": monitors(), "faults": faults}));
        let id = call(
            &emu,
            "POST",
            "/api/v2/deployments/gates/evaluation",
            Some(&inline("service:checkout")),
        )
        .json()["data"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let reply = call(
            &emu,
            "GET",
            &format!("/api/v2/deployments/gates/evaluation/{id}"),
            None,
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(
            reply.json()["data"]["attributes"]["gate_status"],
            expected,
            "{}",
            reply.body
        );
    }
}

#[test]
fn gates_and_rules_can_be_created_read_updated_and_deleted() {
    let emu = emulator(json!({ "monitors": monitors() }));
    let gate = call(
        &emu,
        "POST",
        "/api/v2/deployment_gates",
        Some(&json!({"data": {
        "type": "deployment_gate", "attributes": {"service": "checkout", "env": "prod"}}})),
    );
    assert_eq!(gate.status, 200, "{}", gate.body);
    let gate = gate.json();
    assert_eq!(gate["data"]["type"], "deployment_gate");
    let attrs = &gate["data"]["attributes"];
    assert_eq!(
        (attrs["identifier"].as_str(), attrs["dry_run"].as_bool()),
        (Some("default"), Some(false))
    );
    assert!(attrs["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(attrs["created_by"]["id"].is_string());
    // As recorded: the update fields are there from the start.
    assert_eq!(attrs["updated_at"], attrs["created_at"]);
    assert_eq!(attrs["updated_by"], attrs["created_by"]);
    let gate_id = gate["data"]["id"].as_str().unwrap().to_string();

    let duplicate = call(
        &emu,
        "POST",
        "/api/v2/deployment_gates",
        Some(&json!({"data": {
        "type": "deployment_gate", "attributes": {"service": "checkout", "env": "prod"}}})),
    );
    assert_eq!(duplicate.status, 400);
    assert_eq!(
        duplicate.json()["errors"][0]["detail"],
        "Gate already exists with the given env, service and identifier"
    );
    let no_env = call(
        &emu,
        "POST",
        "/api/v2/deployment_gates",
        Some(&json!({"data": {
        "type": "deployment_gate", "attributes": {"service": "checkout", "env": ""}}})),
    );
    assert_eq!(
        (no_env.status, no_env.json()["errors"][0]["detail"].clone()),
        (400, json!("attribute \"env\" is required"))
    );

    // A gate without rules is "no gate found" for the trigger.
    let trigger = trigger_body(json!({"service": "checkout", "env": "prod"}));
    assert_eq!(
        call(
            &emu,
            "POST",
            "/api/v2/deployments/gates/evaluation",
            Some(&trigger)
        )
        .status,
        404
    );

    let rules_path = format!("/api/v2/deployment_gates/{gate_id}/rules");
    let rule = call(
        &emu,
        "POST",
        &rules_path,
        Some(&json!({"data": {"type": "deployment_rule",
        "attributes": {"name": "Service monitors", "type": "monitor",
                       "options": {"query": "service:checkout", "duration": 0}}}})),
    );
    assert_eq!(rule.status, 200, "{}", rule.body);
    let rule = rule.json();
    assert_eq!(rule["data"]["type"], "deployment_rule");
    assert_eq!(rule["data"]["attributes"]["gate_id"], gate_id.as_str());
    let rule_id = rule["data"]["id"].as_str().unwrap().to_string();

    let same_name = call(
        &emu,
        "POST",
        &rules_path,
        Some(&json!({"data": {"type": "deployment_rule",
        "attributes": {"name": "Service monitors", "type": "monitor", "options": {"query": "x"}}}})),
    );
    assert_eq!(same_name.status, 400);
    let unknown_option = call(
        &emu,
        "POST",
        &rules_path,
        Some(&json!({"data": {"type": "deployment_rule",
        "attributes": {"name": "other", "type": "monitor", "options": {"query": "x", "bogus": 1}}}})),
    );
    assert_eq!(unknown_option.status, 400);
    let detail = |reply: Reply| reply.json()["errors"][0]["detail"].clone();
    let no_options = call(
        &emu,
        "POST",
        &rules_path,
        Some(&json!({"data": {"type": "deployment_rule",
        "attributes": {"name": "other", "type": "monitor"}}})),
    );
    assert_eq!(no_options.status, 400);
    assert_eq!(detail(no_options), "attribute \"options\" is required");
    let bad_type = call(
        &emu,
        "POST",
        &rules_path,
        Some(&json!({"data": {"type": "deployment_rule",
        "attributes": {"name": "other", "type": "fdd", "options": {"excluded_resources": []}}}})),
    );
    assert_eq!(
        detail(bad_type),
        "attribute \"type\" must be one of \"monitor faulty_deployment_detection\""
    );
    let number_id = call(
        &emu,
        "POST",
        &rules_path,
        Some(&json!({"data": {"type": "deployment_rule",
        "attributes": {"name": "ids", "type": "monitor", "options": {"monitor_ids": [{"id": 1}]}}}})),
    );
    assert_eq!(
        number_id.status, 400,
        "monitor ids are strings, groups required"
    );
    let fdd = call(
        &emu,
        "POST",
        &rules_path,
        Some(&json!({"data": {"type": "deployment_rule",
        "attributes": {"name": "APM", "type": "faulty_deployment_detection", "options": {}}}})),
    );
    assert_eq!(fdd.status, 200, "{}", fdd.body);
    assert_eq!(
        fdd.json()["data"]["attributes"]["options"],
        json!({"excluded_resources": []}),
        "FDD options always carry excluded_resources in responses"
    );
    let fdd_id = fdd.json()["data"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        call(&emu, "DELETE", &format!("{rules_path}/{fdd_id}"), None).status,
        204
    );

    let list = call(&emu, "GET", &rules_path, None).json();
    assert_eq!(list["data"]["type"], "list_deployment_rules");
    assert_eq!(
        list["data"]["attributes"]["rules"][0]["name"],
        "Service monitors"
    );

    let started = call(
        &emu,
        "POST",
        "/api/v2/deployments/gates/evaluation",
        Some(&trigger),
    );
    assert_eq!(started.status, 202);
    let id = started.json()["data"]["id"].as_str().unwrap().to_string();
    let result = call(
        &emu,
        "GET",
        &format!("/api/v2/deployments/gates/evaluation/{id}"),
        None,
    )
    .json();
    assert_eq!(result["data"]["attributes"]["gate_id"], gate_id.as_str());
    assert_eq!(result["data"]["attributes"]["gate_status"], "pass");

    // An update replaces the rule: name, options and dry_run are required, the type stays.
    let partial = call(
        &emu,
        "PUT",
        &format!("{rules_path}/{rule_id}"),
        Some(&json!({"data": {
        "type": "deployment_rule", "attributes": {"dry_run": true, "options": {"query": "service:search"}}}})),
    );
    assert_eq!(partial.status, 400);
    assert_eq!(detail(partial), "attribute \"name\" is required");
    let updated = call(
        &emu,
        "PUT",
        &format!("{rules_path}/{rule_id}"),
        Some(&json!({"data": {
        "type": "deployment_rule", "attributes": {"name": "Search monitors", "dry_run": true,
            "options": {"query": "service:search"}}}})),
    );
    assert_eq!(updated.status, 200, "{}", updated.body);
    let updated = updated.json();
    assert_eq!(updated["data"]["attributes"]["dry_run"], true);
    assert_eq!(updated["data"]["attributes"]["name"], "Search monitors");
    assert_eq!(updated["data"]["attributes"]["type"], "monitor");
    assert_eq!(
        updated["data"]["attributes"]["options"],
        json!({"query": "service:search"}),
        "replaced, not merged: the old duration is gone"
    );

    let gate_path = format!("/api/v2/deployment_gates/{gate_id}");
    let put = call(
        &emu,
        "PUT",
        &gate_path,
        Some(
            &json!({"data": {"type": "deployment_gate", "id": "12345678-1234-1234-1234-123456789012",
        "attributes": {"dry_run": true}}}),
        ),
    );
    assert_eq!(put.json()["data"]["attributes"]["dry_run"], true);
    assert_eq!(
        put.json()["data"]["id"],
        gate_id.as_str(),
        "data.id is ignored"
    );
    let no_id = call(
        &emu,
        "PUT",
        &gate_path,
        Some(&json!({"data": {"type": "deployment_gate", "attributes": {"dry_run": true}}})),
    );
    assert_eq!(no_id.status, 400, "the update model requires data.id");
    assert_eq!(
        call(&emu, "GET", &gate_path, None).json()["data"]["attributes"]["dry_run"],
        true
    );

    assert_eq!(
        call(&emu, "DELETE", &format!("{rules_path}/{rule_id}"), None).status,
        204
    );
    let gone = call(&emu, "GET", &format!("{rules_path}/{rule_id}"), None);
    assert_eq!(
        (gone.status, detail(gone)),
        (404, json!("Rule does not exist"))
    );
    assert_eq!(call(&emu, "DELETE", &gate_path, None).status, 204);
    let gone = call(&emu, "GET", &gate_path, None);
    assert_eq!(
        (gone.status, detail(gone)),
        (404, json!("Gate does not exist"))
    );
    // As recorded: a rule of a missing gate is a missing rule.
    let gone = call(&emu, "GET", &format!("{rules_path}/{rule_id}"), None);
    assert_eq!(
        (gone.status, detail(gone)),
        (404, json!("Rule does not exist"))
    );
    let bad = call(&emu, "GET", "/api/v2/deployment_gates/nope", None);
    assert_eq!(
        (bad.status, detail(bad)),
        (400, json!("attribute \"id\" Invalid id"))
    );
    let bad = call(
        &emu,
        "GET",
        "/api/v2/deployment_gates/nope/rules/nope",
        None,
    );
    assert_eq!(detail(bad), "attribute \"gate_id\" Invalid id");
    let bad = call(
        &emu,
        "DELETE",
        &format!("/api/v2/deployment_gates/{gate_id}/rules/nope"),
        None,
    );
    assert_eq!(detail(bad), "attribute \"id\" Invalid id");
}

#[test]
fn gate_lists_page_with_cursors_and_filter() {
    let emu = emulator(json!({}));
    for (service, env, dry_run) in [
        ("a", "prod", false),
        ("b", "prod", true),
        ("c", "staging", false),
    ] {
        let reply = call(
            &emu,
            "POST",
            "/api/v2/deployment_gates",
            Some(&json!({"data": {"type": "deployment_gate",
                "attributes": {"service": service, "env": env, "dry_run": dry_run}}})),
        );
        assert_eq!(reply.status, 200);
    }
    let services = |reply: &Value| -> Vec<String> {
        reply["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["attributes"]["service"].as_str().unwrap().to_string())
            .collect()
    };
    let all = call(&emu, "GET", "/api/v2/deployment_gates", None).json();
    assert_eq!(services(&all), ["a", "b", "c"]);
    assert_eq!(
        all["meta"]["page"],
        json!({"size": 50}),
        "no next_cursor, no total"
    );
    let first = call(&emu, "GET", "/api/v2/deployment_gates?page[size]=2", None).json();
    assert_eq!(services(&first), ["a", "b"]);
    let cursor = first["meta"]["page"]["next_cursor"]
        .as_str()
        .unwrap()
        .to_string();
    let last = call(
        &emu,
        "GET",
        &format!("/api/v2/deployment_gates?page[size]=2&page[cursor]={cursor}"),
        None,
    )
    .json();
    assert_eq!(services(&last), ["c"]);
    assert_eq!(last["meta"]["page"], json!({"cursor": cursor, "size": 2}));
    for (query, expected) in [
        ("filter[env]=prod", vec!["a", "b"]),
        ("filter[dry_run]=true", vec!["b"]),
        ("filter[service]=c&filter[env]=staging", vec!["c"]),
        ("filter[identifier]=other", vec![]),
    ] {
        let reply = call(
            &emu,
            "GET",
            &format!("/api/v2/deployment_gates?{query}"),
            None,
        );
        assert_eq!(services(&reply.json()), expected, "{query}");
    }
    for bad in [
        "page[size]=0",
        "page[size]=1001",
        "page[cursor]=zz",
        "filter[dry_run]=maybe",
    ] {
        let reply = call(
            &emu,
            "GET",
            &format!("/api/v2/deployment_gates?{bad}"),
            None,
        );
        assert_eq!(reply.status, 400, "{bad}");
    }
}

#[test]
fn evaluations_list_filters_and_pages_newest_first() {
    let emu = emulator(json!({ "monitors": monitors() }));
    let mut ids = Vec::new();
    for query in ["service:checkout", "service:search", "service:checkout"] {
        let reply = call(
            &emu,
            "POST",
            "/api/v2/deployments/gates/evaluation",
            Some(&inline(query)),
        );
        ids.push(reply.json()["data"]["id"].as_str().unwrap().to_string());
    }
    let all = call(&emu, "GET", "/api/v2/deployment_gates/evaluations", None).json();
    let listed: Vec<&str> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["attributes"]["evaluation_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        listed,
        vec![ids[2].as_str(), ids[1].as_str(), ids[0].as_str()]
    );

    let failed = call(
        &emu,
        "GET",
        "/api/v2/deployment_gates/evaluations?filter%5Bstatus%5D=fail",
        None,
    )
    .json();
    assert_eq!(failed["data"].as_array().unwrap().len(), 1);
    assert_eq!(failed["data"][0]["id"], ids[1].as_str());

    let page = call(
        &emu,
        "GET",
        "/api/v2/deployment_gates/evaluations?page[size]=2",
        None,
    )
    .json();
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    let cursor = page["meta"]["page"]["next_cursor"]
        .as_str()
        .unwrap()
        .to_string();
    let next = call(
        &emu,
        "GET",
        &format!("/api/v2/deployment_gates/evaluations?page[size]=2&page[cursor]={cursor}"),
        None,
    )
    .json();
    assert_eq!(next["data"][0]["id"], ids[0].as_str());
    assert!(
        next["meta"]["page"].get("next_cursor").is_none(),
        "absent on the last page"
    );

    // The published item: type and fields.
    let item = &all["data"][1];
    assert_eq!(item["type"], "deployment_gate_evaluation");
    let attrs = &item["attributes"];
    assert_eq!(attrs["status"], "fail");
    assert_eq!(attrs["version"], "", "empty when no version was given");
    assert_eq!(attrs["gate_id"], Value::Null, "just-in-time");
    assert!(attrs["finished_at"].is_string() && attrs["duration_seconds"].is_u64());
    assert_eq!(
        attrs["started_at"], attrs["finished_at"],
        "decided at the trigger"
    );

    // Several values, repeated or comma-separated, OR-ed; status is the recorded result.
    for query in [
        "filter[status]=fail&filter[status]=pass",
        "filter[status]=fail,pass",
        "filter[env]=prod,staging&filter[service]=checkout",
    ] {
        let reply = call(
            &emu,
            "GET",
            &format!("/api/v2/deployment_gates/evaluations?{query}"),
            None,
        );
        assert_eq!(reply.json()["data"].as_array().unwrap().len(), 3, "{query}");
    }
    // `filter[to]` is exclusive; the window is 30 days at most and must not be empty.
    let started = attrs["started_at"].as_str().unwrap().to_string();
    let until = call(
        &emu,
        "GET",
        &format!(
            "/api/v2/deployment_gates/evaluations?filter[to]={started}&filter[evaluation_id]={}",
            ids[1]
        ),
        None,
    );
    assert_eq!(until.json()["data"], json!([]));
    let from = call(
        &emu,
        "GET",
        &format!(
            "/api/v2/deployment_gates/evaluations?filter[from]={started}&filter[evaluation_id]={}",
            ids[1]
        ),
        None,
    );
    assert_eq!(
        from.json()["data"].as_array().unwrap().len(),
        1,
        "filter[from] is inclusive"
    );
    for bad in [
        "filter[from]=2026-01-01T00:00:00Z&filter[to]=2026-03-01T00:00:00Z",
        "filter[from]=2026-01-02T00:00:00Z&filter[to]=2026-01-01T00:00:00Z",
        "filter[status]=done",
    ] {
        let reply = call(
            &emu,
            "GET",
            &format!("/api/v2/deployment_gates/evaluations?{bad}"),
            None,
        );
        assert_eq!(reply.status, 400, "{bad}");
    }
    let old = call(
        &emu,
        "GET",
        "/api/v2/deployment_gates/evaluations?filter[from]=2026-01-01T00:00:00Z&filter[to]=2026-01-02T00:00:00Z",
        None,
    );
    assert_eq!(old.json()["data"], json!([]), "outside the window");

    assert_eq!(
        call(
            &emu,
            "GET",
            "/api/v2/deployment_gates/evaluations?page[size]=101",
            None
        )
        .status,
        400
    );
    let other = call(
        &emu,
        "GET",
        "/api/v2/deployment_gates/evaluations?filter[service]=other",
        None,
    )
    .json();
    assert_eq!(other["data"], json!([]));
}

#[test]
fn rule_evaluations_carry_structured_failures() {
    let emu = emulator(json!({"monitors": [
        {"id": 1, "name": "checkout errors", "tags": ["service:checkout", "env:prod"], "state": "Alert"},
        {"id": 2, "name": "checkout latency", "tags": ["service:checkout", "env:prod"]}
    ]}));
    let gate = call(
        &emu,
        "POST",
        "/api/v2/deployment_gates",
        Some(&json!({"data": {"type": "deployment_gate",
            "attributes": {"service": "checkout", "env": "prod", "dry_run": true}}})),
    )
    .json();
    let gate_id = gate["data"]["id"].as_str().unwrap().to_string();
    let rule = call(
        &emu,
        "POST",
        &format!("/api/v2/deployment_gates/{gate_id}/rules"),
        Some(&json!({"data": {"type": "deployment_rule", "attributes": {
            "name": "Checkout monitors", "type": "monitor",
            "options": {"monitor_ids": [{"id": "1", "groups": []}, {"id": "2", "groups": []}], "warmup": 0}}}})),
    )
    .json();
    let rule_id = rule["data"]["id"].as_str().unwrap().to_string();
    let stored = call(
        &emu,
        "POST",
        "/api/v2/deployments/gates/evaluation",
        Some(&trigger_body(json!({"service": "checkout", "env": "prod"}))),
    )
    .json()["data"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let inline_id = call(
        &emu,
        "POST",
        "/api/v2/deployments/gates/evaluation",
        Some(&trigger_body(
            json!({"service": "checkout", "env": "prod", "version": "v7",
            "configuration": {"rules": [
                {"type": "monitor", "name": "Latency", "dry_run": true,
                 "options": {"query": "\"checkout latency\"", "duration": 0}}]}}),
        )),
    )
    .json()["data"]["id"]
        .as_str()
        .unwrap()
        .to_string();

    let all = call(
        &emu,
        "GET",
        "/api/v2/deployment_gates/evaluations/rules",
        None,
    )
    .json();
    assert_eq!(all["data"].as_array().unwrap().len(), 2, "{all}");
    assert!(all["meta"]["page"].get("next_cursor").is_none());

    let failed = call(
        &emu,
        "GET",
        &format!("/api/v2/deployment_gates/evaluations/rules?filter[gate_evaluation_id]={stored}"),
        None,
    )
    .json();
    let item = &failed["data"][0];
    assert_eq!(item["type"], "deployment_gate_rule_evaluation");
    let attrs = &item["attributes"];
    assert_eq!(attrs["evaluation_id"], item["id"]);
    assert_eq!(attrs["gate_evaluation_id"], stored.as_str());
    assert_eq!(attrs["gate_id"], gate_id.as_str());
    assert_eq!(attrs["rule_id"], rule_id.as_str());
    assert_eq!(attrs["status"], "fail");
    assert_eq!(attrs["gate_dry_run"], true);
    assert_eq!(attrs["dry_run"], false);
    assert_eq!(attrs["version"], "");
    assert_eq!(
        attrs["configuration"],
        json!({"monitor_ids": ["1", "2"]}),
        "ids as evaluated, warmup 0 omitted"
    );
    assert_eq!(
        attrs["failures"],
        json!({"faulty_apm_resources": [], "narratives": [], "monitors": [
            {"id": "1", "name": "checkout errors", "state": "ALERT",
             "url": format!("{}/monitors/1", emu.base_url())}]})
    );
    assert!(attrs["reason"].as_str().unwrap().contains("ALERT"));

    let passed = call(
        &emu,
        "GET",
        &format!(
            "/api/v2/deployment_gates/evaluations/rules?filter[gate_evaluation_id]={inline_id}"
        ),
        None,
    )
    .json();
    let attrs = &passed["data"][0]["attributes"];
    assert_eq!(attrs["status"], "pass");
    assert_eq!(
        (attrs["rule_id"].clone(), attrs["gate_id"].clone()),
        (Value::Null, Value::Null)
    );
    assert_eq!(attrs["dry_run"], true);
    assert_eq!(attrs["reason"], "");
    assert_eq!(attrs["version"], "v7");
    assert_eq!(
        attrs["failures"],
        json!({"faulty_apm_resources": [], "monitors": [], "narratives": []})
    );

    for (query, expected) in [
        (format!("filter[rule_id]={rule_id}"), 1),
        ("filter[status]=pass,fail".to_string(), 2),
        ("filter[status]=in_progress".to_string(), 0),
        ("filter[type]=faulty_deployment_detection".to_string(), 0),
        ("filter[name]=Latency&filter[name]=Other".to_string(), 1),
        ("filter[dry_run]=true".to_string(), 1),
        ("filter[gate_dry_run]=true".to_string(), 1),
        ("filter[version]=v7".to_string(), 1),
        ("page[size]=1".to_string(), 1),
    ] {
        let reply = call(
            &emu,
            "GET",
            &format!("/api/v2/deployment_gates/evaluations/rules?{query}"),
            None,
        );
        assert_eq!(
            reply.json()["data"].as_array().unwrap().len(),
            expected,
            "{query}"
        );
    }
    let first = call(
        &emu,
        "GET",
        "/api/v2/deployment_gates/evaluations/rules?page[size]=1",
        None,
    )
    .json();
    let cursor = first["meta"]["page"]["next_cursor"]
        .as_str()
        .unwrap()
        .to_string();
    let second = call(
        &emu,
        "GET",
        &format!("/api/v2/deployment_gates/evaluations/rules?page[size]=1&page[cursor]={cursor}"),
        None,
    )
    .json();
    assert_ne!(second["data"][0]["id"], first["data"][0]["id"]);
    assert!(second["meta"]["page"].get("next_cursor").is_none());
}

#[test]
fn the_pages_show_evaluations_and_the_real_status_of_dry_runs() {
    let emu = emulator(json!({ "monitors": monitors() }));
    let body = trigger_body(
        json!({"service": "checkout", "env": "prod", "version": "v2",
        "configuration": {"dry_run": true, "rules": [
            {"type": "monitor", "name": "Search <monitors>", "options": {"query": "service:search"}}]}}),
    );
    let reply = call(
        &emu,
        "POST",
        "/api/v2/deployments/gates/evaluation",
        Some(&body),
    );
    let id = reply.json()["data"]["id"].as_str().unwrap().to_string();
    let api = call(
        &emu,
        "GET",
        &format!("/api/v2/deployments/gates/evaluation/{id}"),
        None,
    )
    .json();
    assert_eq!(api["data"]["attributes"]["gate_status"], "pass");
    assert_eq!(api["data"]["attributes"]["dry_run"], true);
    assert_eq!(api["data"]["attributes"]["rules"][0]["status"], "fail");

    let index = send(&emu, "GET", "/", &[], None).unwrap();
    assert_eq!(index.status, 200);
    assert!(
        index
            .header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(index.body.contains(&format!("data-evaluation-id=\"{id}\"")));
    assert!(index.body.contains("data-real-status=\"fail\""));
    assert!(
        index.body.contains("Search &lt;monitors&gt;"),
        "names are escaped"
    );
    assert!(!index.body.contains("<script"));

    let page = send(&emu, "GET", &format!("/evaluations/{id}"), &[], None).unwrap();
    assert_eq!(page.status, 200);
    assert!(page.body.contains("real status"));
    let monitor = send(&emu, "GET", "/monitors/2", &[], None).unwrap();
    assert!(monitor.body.contains("search errors"));
    assert_eq!(
        send(&emu, "GET", "/monitors/99", &[], None).unwrap().status,
        404
    );
    assert_eq!(
        send(&emu, "GET", "/healthz", &[], None).unwrap().status,
        200
    );
}

#[test]
fn links_use_the_host_header_when_serving_every_interface() {
    let mut options = EmulatorOptions::new(
        World::from_json(&json!({"open": true, "monitors": monitors()}).to_string()).unwrap(),
    );
    options.bind = "0.0.0.0:0".parse().unwrap();
    let emu = start(options).unwrap();
    assert!(emu.base_url().starts_with("http://127.0.0.1:"));
    let loopback = SocketAddr::from(([127, 0, 0, 1], emu.addr().port()));
    let body = inline("service:search").to_string();
    let request = format!(
        "POST /api/v2/deployments/gates/evaluation HTTP/1.1\r\nHost: emulator.ci:8127\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let (raw, _) = http::exchange(loopback, request.as_bytes());
    let id = http::parse_reply(raw.as_bytes()).unwrap().json()["data"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let request = format!(
        "GET /api/v2/deployments/gates/evaluation/{id} HTTP/1.1\r\nHost: emulator.ci:8127\r\nConnection: close\r\n\r\n"
    );
    let (raw, _) = http::exchange(loopback, request.as_bytes());
    let attrs = http::parse_reply(raw.as_bytes()).unwrap().json()["data"]["attributes"].clone();
    assert_eq!(
        attrs["evaluation_url"],
        format!("http://emulator.ci:8127/evaluations/{id}").as_str()
    );
    assert_eq!(
        attrs["rules"][0]["reason"],
        "One or more monitors in ALERT state: http://emulator.ci:8127/monitors/2"
    );
}

#[test]
fn shutdown_stops_listening() {
    let emu = emulator(json!({}));
    let addr = emu.addr();
    emu.shutdown();
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err());
}

/// Every endpoint the docs count answers (no 404 from the router, no 405) under both prefixes.
#[test]
fn every_counted_endpoint_is_served() {
    let emu = emulator(json!({ "monitors": monitors() }));
    let mut served = 0;
    for prefix in ["/api/v2", "/api/unstable"] {
        let gate = call(
            &emu,
            "POST",
            &format!("{prefix}/deployment_gates"),
            Some(&json!({"data": {
            "type": "deployment_gate", "attributes": {"service": prefix, "env": "prod"}}})),
        );
        assert_eq!(gate.status, 200, "{}", gate.body);
        served += 1;
        let gate_id = gate.json()["data"]["id"].as_str().unwrap().to_string();
        let rules = format!("{prefix}/deployment_gates/{gate_id}/rules");
        let rule = call(
            &emu,
            "POST",
            &rules,
            Some(&json!({"data": {"type": "deployment_rule",
            "attributes": {"name": "m", "type": "monitor", "options": {"query": "service:checkout"}}}})),
        );
        assert_eq!(rule.status, 200, "{}", rule.body);
        served += 1;
        let rule_id = rule.json()["data"]["id"].as_str().unwrap().to_string();
        let trigger = call(
            &emu,
            "POST",
            &format!("{prefix}/deployments/gates/evaluation"),
            Some(&inline("service:checkout")),
        );
        assert_eq!(trigger.status, 202);
        served += 1;
        let id = trigger.json()["data"]["id"].as_str().unwrap().to_string();
        let put_rule = json!({"data": {"type": "deployment_rule", "attributes": {
            "name": "m", "dry_run": true, "options": {"query": "service:checkout"}}}});
        let put_gate = json!({"data": {"type": "deployment_gate", "id": gate_id,
            "attributes": {"dry_run": true}}});
        let checks: Vec<(&str, String, Option<&Value>, u16)> = vec![
            (
                "GET",
                format!("{prefix}/deployments/gates/evaluation/{id}"),
                None,
                200,
            ),
            ("GET", format!("{prefix}/deployment_gates"), None, 200),
            (
                "GET",
                format!("{prefix}/deployment_gates/evaluations"),
                None,
                200,
            ),
            (
                "GET",
                format!("{prefix}/deployment_gates/evaluations/rules"),
                None,
                200,
            ),
            (
                "GET",
                format!("{prefix}/deployment_gates/{gate_id}"),
                None,
                200,
            ),
            (
                "PUT",
                format!("{prefix}/deployment_gates/{gate_id}"),
                Some(&put_gate),
                200,
            ),
            ("GET", rules.clone(), None, 200),
            ("GET", format!("{rules}/{rule_id}"), None, 200),
            ("PUT", format!("{rules}/{rule_id}"), Some(&put_rule), 200),
            ("DELETE", format!("{rules}/{rule_id}"), None, 204),
            (
                "DELETE",
                format!("{prefix}/deployment_gates/{gate_id}"),
                None,
                204,
            ),
        ];
        for (method, path, body, expected) in checks {
            let reply = call(&emu, method, &path, body);
            assert_eq!(reply.status, expected, "{method} {path}: {}", reply.body);
            served += 1;
        }
    }
    let search = call(&emu, "GET", "/api/v1/monitor/search?query=env:prod", None);
    assert_eq!(search.status, 200, "{}", search.body);
    served += 1;
    let spans = call(
        &emu,
        "GET",
        "/api/v2/spans/events?filter[query]=env:prod",
        None,
    );
    assert_eq!(spans.status, 200, "{}", spans.body);
    served += 1;
    for path in [
        "/",
        "/evaluations",
        "/evaluations/00000000-0000-4000-8000-000000000000",
        "/monitors/1",
        "/healthz",
    ] {
        let reply = send(&emu, "GET", path, &[], None).unwrap();
        assert!(
            reply
                .header("content-type")
                .is_some_and(|t| t.starts_with("text/")),
            "{path}"
        );
        served += 1;
    }
    assert_eq!(served, ENDPOINT_COUNT);
}

/// Trigger, then read the one result (rules use `duration: 0`, so it is final at once).
fn evaluate_once(emu: &RunningEmulator, body: &Value) -> Value {
    let reply = call(
        emu,
        "POST",
        "/api/v2/deployments/gates/evaluation",
        Some(body),
    );
    assert_eq!(reply.status, 202, "{}", reply.body);
    let id = reply.json()["data"]["id"].as_str().unwrap().to_string();
    let result = call(
        emu,
        "GET",
        &format!("/api/v2/deployments/gates/evaluation/{id}"),
        None,
    );
    assert_eq!(result.status, 200, "{}", result.body);
    result.json()["data"]["attributes"].clone()
}

const DOCS_NOT_GROUP: &str = r#"tag:"use_deployment_gates" AND (NOT group:("team:frontend"))"#;

#[test]
fn the_docs_not_group_example_evaluates_only_the_other_groups() {
    let world = json!({
        "monitors": [{"id": 7, "name": "errors by team", "tags": ["use_deployment_gates"],
            "groups": [{"name": "team:frontend", "state": "Alert"},
                       {"name": "team:backend", "state": "OK"}]}],
        "gates": [{"id": "9d6a4c1e-1f2b-4c3d-8e4f-5a6b7c8d9e0f", "service": "checkout", "env": "prod",
            "rules": [{"name": "Docs example", "type": "monitor",
                "options": {"query": DOCS_NOT_GROUP, "duration": 0}}]}]
    });
    let emu = emulator(world);
    // Just in time.
    let attrs = evaluate_once(&emu, &inline(DOCS_NOT_GROUP));
    assert_eq!(attrs["gate_status"], "pass", "{attrs}");
    // Preconfigured.
    let attrs = evaluate_once(
        &emu,
        &trigger_body(json!({"service": "checkout", "env": "prod"})),
    );
    assert_eq!(attrs["gate_status"], "pass", "{attrs}");
    // The same monitor fails through its frontend group, and as a whole.
    let attrs = evaluate_once(
        &emu,
        &inline(r#"tag:"use_deployment_gates" group:"team:frontend""#),
    );
    assert_eq!(attrs["gate_status"], "fail");
    let reason = attrs["rules"][0]["reason"].as_str().unwrap();
    assert!(
        reason.ends_with("/monitors/7 (group team:frontend)"),
        "{reason}"
    );
    let attrs = evaluate_once(&emu, &inline(r#"tag:"use_deployment_gates""#));
    assert_eq!(attrs["gate_status"], "fail");
}

#[test]
fn service_matches_static_tags_not_the_query_scope() {
    let emu = emulator(json!({"monitors": [
        {"id": 1, "name": "scoped only", "scope": ["service:checkout"], "state": "Alert"},
        {"id": 2, "name": "tagged", "tags": ["service:checkout"]}
    ]}));
    // Monitor 1 (in Alert) has service:checkout only in its query scope: not selected.
    let attrs = evaluate_once(&emu, &inline("service:checkout"));
    assert_eq!(attrs["gate_status"], "pass", "{attrs}");
    // scope: selects it.
    let attrs = evaluate_once(&emu, &inline(r#"scope:"service:checkout""#));
    assert_eq!(attrs["gate_status"], "fail");
    assert!(
        attrs["rules"][0]["reason"]
            .as_str()
            .unwrap()
            .ends_with("/monitors/1"),
        "{attrs}"
    );
    // With nothing statically tagged, service: matches no monitor at all.
    let attrs = evaluate_once(&emu, &inline("service:checkout -tagged"));
    assert_eq!(attrs["gate_status"], "fail");
    assert_eq!(
        attrs["rules"][0]["reason"],
        "No monitors match the query: service:checkout -tagged"
    );
}

/// `%`-encode a query parameter value.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The monitor search (`validate --online`) matches with core's matcher, leaves muted monitors
/// in unless the query says `muted:false`, reports each monitor's state at an evaluation's start,
/// and pages 0-based; every answer fits `schemas/api/monitor-search-response.schema.json`.
#[test]
fn monitor_search_matches_pages_and_reports_states() {
    let many: Vec<Value> = (10..=14)
        .map(|i| {
            json!({"id": i, "name": format!("web {i}"), "tags": ["service:web"], "muted": i == 14,
            "state": if i == 12 { "No Data" } else { "OK" },
            "timeline": [{"at": "1m", "state": "Alert"}]})
        })
        .collect();
    let mut world = monitors();
    world.as_array_mut().unwrap().extend(many);
    let emu = emulator(json!({ "monitors": world }));
    let search = |query: &str, extra: &str| {
        call(
            &emu,
            "GET",
            &format!("/api/v1/monitor/search?query={}{extra}", encode(query)),
            None,
        )
    };
    let all = search("service:web", "").json();
    assert_eq!(
        all["metadata"]["total_count"], 5,
        "muted monitors are found by the search"
    );
    assert_eq!(all["metadata"]["page"], 0);
    assert_eq!(all["metadata"]["per_page"], 30);
    let unmuted = search("(service:web) muted:false", "").json();
    assert_eq!(unmuted["metadata"]["total_count"], 4);
    let states: Vec<&str> = unmuted["monitors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["status"].as_str().unwrap())
        .collect();
    // The state before the timeline's first point: the world's "now".
    assert_eq!(states, ["OK", "OK", "No Data", "OK"]);
    assert!(
        unmuted["counts"]["status"]
            .as_array()
            .unwrap()
            .contains(&json!({"name": "No Data", "count": 1}))
    );

    let first = search("service:web", "&page=0&per_page=2").json();
    let third = search("service:web", "&page=2&per_page=2").json();
    let past = search("service:web", "&page=3&per_page=2").json();
    assert_eq!(first["metadata"]["page_count"], 3);
    let ids = |v: &Value| -> Vec<u64> {
        v["monitors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(ids(&first), [10, 11]);
    assert_eq!(ids(&third), [14]);
    assert!(ids(&past).is_empty());

    assert_eq!(
        search("service:nothing", "").json()["metadata"]["total_count"],
        0
    );
    assert_eq!(search("status:Alert", "").json()["monitors"][0]["id"], 2);

    let bad = search("service:\"web", "");
    assert_eq!(bad.status, 400);
    assert!(
        bad.json()["errors"][0]
            .as_str()
            .unwrap()
            .contains("invalid query")
    );
    assert_eq!(search("env:prod", "&per_page=0").status, 400);
    assert_eq!(search("env:prod", "&page=x").status, 400);
}

#[test]
fn monitor_search_needs_the_worlds_keys() {
    let emu = serve_world(gatepost_testkit::world(
        &json!({"api_keys": [API_KEY], "monitors": monitors()}),
    ));
    let denied = send(
        &emu,
        "GET",
        "/api/v1/monitor/search?query=env:prod",
        &[],
        None,
    )
    .unwrap();
    assert_eq!(denied.status, 403);
    let ok = call(&emu, "GET", "/api/v1/monitor/search?query=env:prod", None);
    assert_eq!(ok.status, 200);
    assert_eq!(ok.json()["metadata"]["total_count"], 2);
}

/// The spans search (`validate --online`'s FDD check) finds one span per APM history entry the
/// query selects (service, env, version, quoted or not), pages with `page[cursor]`, refuses what
/// it cannot search, and every answer fits `schemas/api/spans-list-response.schema.json`.
#[test]
fn spans_search_finds_the_worlds_apm_history() {
    let apm = json!([{"service": "checkout", "env": "prod", "history": [
        {"version": "v1", "resource": "GET /cart", "requests": 10, "errors": 0},
        {"version": "v1", "resource": "POST /pay", "requests": 10, "errors": 1},
        {"version": "v0", "resource": "GET /cart", "requests": 5, "errors": 0},
        {"version": "v9", "resource": "GET /cart", "requests": 0, "errors": 0}
    ], "live": [{"version": "v2", "resource": "GET /cart", "timeline": [{"at": "0s", "requests_per_minute": 10}]}]}]);
    let emu = emulator(json!({ "apm": apm }));
    let search = |query: &str, extra: &str| {
        call(
            &emu,
            "GET",
            &format!(
                "/api/v2/spans/events?filter[query]={}&filter[from]=now-24h&filter[to]=now{extra}",
                encode(query)
            ),
            None,
        )
    };
    let count = |query: &str| {
        search(query, "&page[limit]=100").json()["data"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(count("service:\"checkout\" env:\"prod\""), 3);
    assert_eq!(count("service:checkout env:prod version:v1"), 2);
    // A version that only runs after the deploy (live) or had no requests has no spans yet.
    assert_eq!(count("service:checkout env:prod version:\"v2\""), 0);
    assert_eq!(count("service:checkout env:prod version:v9"), 0);
    assert_eq!(count("service:checkout env:staging"), 0);
    assert_eq!(count("service:search"), 0);

    let first = search("service:checkout", "&page[limit]=2").json();
    assert_eq!(first["data"].as_array().unwrap().len(), 2);
    assert_eq!(first["data"][0]["attributes"]["version"], "v1");
    let after = first["meta"]["page"]["after"].as_str().unwrap().to_string();
    let second = search(
        "service:checkout",
        &format!("&page[limit]=2&page[cursor]={after}"),
    )
    .json();
    assert_eq!(second["data"].as_array().unwrap().len(), 1);
    assert!(second["meta"].get("page").is_none());
    assert_eq!(
        search("service:checkout", "").json()["data"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    let bad = search("host:web-1", "");
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("not \\\"host\\\""), "{}", bad.body);
    assert_eq!(search("service:checkout", "&page[limit]=0").status, 400);
    assert_eq!(search("service:\"checkout", "").status, 400);
}
