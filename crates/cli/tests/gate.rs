//! `gatepost gate`, `wait` and `status` end to end against a scripted API on loopback: decisions,
//! faults in both phases, the hung-connection timeout, signals and resuming.

mod common;
use common::fake::{EVALUATION_ID, FakeApi, Reply};
use common::*;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `gate` against `api`, with a 60 s timeout so a broken test ends instead of hanging.
fn gate(api: &FakeApi) -> Command {
    gate_with_timeout(api, "60")
}

fn gate_with_timeout(api: &FakeApi, timeout: &str) -> Command {
    let mut cmd = checkout_gate();
    cmd.args(["--timeout", timeout, "--poll-interval", "1", "--api-url"])
        .arg(api.url());
    cmd
}

fn pass() -> Reply {
    Reply::result("pass", false, &[("Service monitors", "pass", None, false)])
}

fn in_progress() -> Reply {
    Reply::result(
        "in_progress",
        false,
        &[("Service monitors", "in_progress", None, false)],
    )
}

#[test]
fn preconfigured_gate_passes_with_keys_only_in_headers() {
    let api = FakeApi::start(vec![Reply::accepted()], vec![in_progress(), pass()]);
    let dir = tempfile::tempdir().unwrap();
    let outputs = dir.path().join("out");
    let r = run(gate(&api).env("GITHUB_OUTPUT", &outputs).args([
        "--version",
        "v2",
        "--output",
        "json",
    ]));
    assert_eq!(r.code, 0, "{r}");
    let v = r.json();
    assert_eq!(v["verdict"], "pass");
    assert_eq!(v["cause"], "gate_passed");
    assert_eq!(v["fail_open"], false);
    assert_eq!(v["evaluation_id"], EVALUATION_ID);
    let errors = schema_errors(&outcome_schema(), &v);
    assert!(errors.is_empty(), "{errors:#?}");

    let seen = api.seen();
    let trigger = &seen[0];
    assert_eq!(trigger.method, "POST");
    assert_eq!(trigger.path, "/api/v2/deployments/gates/evaluation");
    assert_eq!(trigger.header("DD-API-KEY"), Some(API_KEY));
    assert_eq!(trigger.header("DD-APPLICATION-KEY"), Some(APP_KEY));
    let body: serde_json::Value = serde_json::from_str(&trigger.body).unwrap();
    assert_eq!(body["data"]["attributes"]["service"], "checkout");
    assert_eq!(body["data"]["attributes"]["version"], "v2");
    assert!(body["data"]["attributes"].get("configuration").is_none());
    assert!(seen[1..].iter().all(|s| s.method == "GET"
        && s.path.ends_with(EVALUATION_ID)
        && s.header("DD-API-KEY") == Some(API_KEY)));

    let out = std::fs::read_to_string(&outputs).unwrap();
    assert!(out.contains("status=pass\n"), "{out}");
    assert!(out.contains("fail_open=false\n"), "{out}");
    assert!(
        out.contains(&format!("evaluation_id={EVALUATION_ID}\n")),
        "{out}"
    );
    assert!(
        out.contains("evaluation_url=https://app.datadoghq.com/"),
        "{out}"
    );
}

#[test]
fn failed_gate_exits_1_with_rule_reasons() {
    let api = FakeApi::start(
        vec![Reply::accepted()],
        vec![Reply::result(
            "fail",
            false,
            &[
                (
                    "Service monitors",
                    "fail",
                    Some(
                        "One or more monitors in ALERT state: https://app.datadoghq.com/monitors/34330981",
                    ),
                    false,
                ),
                ("APM Faulty Deployment Detection", "pass", None, false),
            ],
        )],
    );
    let r = run(&mut gate(&api));
    assert_eq!(r.code, 1, "{r}");
    assert!(r.stdout.contains("❌"), "{r}");
    assert!(
        r.stdout
            .contains("Reason: One or more monitors in ALERT state"),
        "{r}"
    );
    assert!(r.stdout.contains(EVALUATION_ID), "{r}");
}

fn failed_result() -> Reply {
    Reply::result(
        "fail",
        false,
        &[
            ("Service monitors", "fail", Some("monitors in ALERT"), false),
            ("APM Faulty Deployment Detection", "fail", None, false),
        ],
    )
}

#[test]
fn failed_gate_names_the_failing_monitors_and_resources() {
    let api = FakeApi::start(vec![Reply::accepted()], vec![failed_result()]);
    api.set_details(vec![Reply::json(
        200,
        serde_json::json!({"data": [
            {"id": "0b6a3c1e-8d7f-4a2b-9c5d-1e2f3a4b5c6d", "type": "deployment_gate_rule_evaluation",
             "attributes": {"name": "Service monitors", "status": "fail", "gate_evaluation_id": EVALUATION_ID,
               "failures": {"monitors": [{"id": "34330981", "state": "Alert",
                 "url": "https://app.datadoghq.com/monitors/34330981"}],
                 "faulty_apm_resources": [], "narratives": []}}},
            {"id": "1c7b4d2f-9e80-4b3c-8d6e-2f3a4b5c6d7e", "type": "deployment_gate_rule_evaluation",
             "attributes": {"name": "APM Faulty Deployment Detection", "status": "fail",
               "failures": {"monitors": [], "faulty_apm_resources": ["GET /checkout"], "narratives": []}}}],
         "meta": {"page": {"size": 50}}}),
    )]);
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.md");
    let r = run(gate(&api).env("GITHUB_STEP_SUMMARY", &summary));
    assert_eq!(r.code, 1, "{r}");
    assert!(
        r.stdout.contains(
            "Failing monitor: 34330981 (Alert) https://app.datadoghq.com/monitors/34330981"
        ),
        "{r}"
    );
    assert!(r.stdout.contains("Faulty resource: GET /checkout"), "{r}");
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.contains("#### What failed"), "{md}");
    assert!(md.contains("Faulty resource: `GET /checkout`"), "{md}");
    let details: Vec<_> = api
        .seen()
        .into_iter()
        .filter(|s| s.path.contains("/evaluations/rules"))
        .collect();
    assert_eq!(details.len(), 1, "one details request");
    assert_eq!(
        details[0].path,
        format!(
            "/api/v2/deployment_gates/evaluations/rules?filter%5Bgate_evaluation_id%5D={EVALUATION_ID}"
        )
    );
    assert!(details[0].header("DD-API-KEY").is_some());

    let r = run(gate(&api).args(["--output", "json"]));
    let v = r.json();
    assert_eq!(v["rules"][0]["failures"]["monitors"][0]["id"], "34330981");
    assert_eq!(
        v["rules"][1]["failures"]["faulty_apm_resources"][0],
        "GET /checkout"
    );
}

#[test]
fn failure_details_missing_changes_nothing() {
    // The fake answers 404 for the details: same exit code, the reasons, no failure lines.
    let api = FakeApi::start(vec![Reply::accepted()], vec![failed_result()]);
    let r = run(&mut gate(&api));
    assert_eq!(r.code, 1, "{r}");
    assert!(r.stdout.contains("Reason: monitors in ALERT"), "{r}");
    assert!(!r.stdout.contains("Failing monitor"), "{r}");
    assert!(
        !r.stderr.contains("failure details"),
        "silent unless verbose:\n{r}"
    );
}

#[test]
fn unknown_config_key_refused_before_sending_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gate.json");
    std::fs::write(
        &config,
        r#"{"rules": [{"type": "monitor", "name": "m",
            "options": {"query": "service:checkout", "durration": 300}}]}"#,
    )
    .unwrap();
    let api = FakeApi::start(vec![Reply::accepted()], vec![pass()]);
    let r = run(gate(&api).arg("--config").arg(&config));
    assert_eq!(r.code, 2, "{r}");
    assert!(
        r.stderr.contains("rules[0].options.durration")
            && r.stderr.contains("did you mean \"duration\"?"),
        "{r}"
    );
    assert!(api.seen().is_empty(), "nothing was sent");

    let r = run(gate(&api)
        .arg("--allow-unknown-keys")
        .arg("--config")
        .arg(&config));
    assert_eq!(r.code, 0, "{r}");
    assert!(r.stderr.contains("passed through unchanged"), "{r}");
    let body: serde_json::Value = serde_json::from_str(&api.seen()[0].body).unwrap();
    assert_eq!(
        body["data"]["attributes"]["configuration"]["rules"][0]["options"]["durration"],
        300
    );
}

#[test]
fn dry_run_passes_but_reports_the_real_result() {
    let api = FakeApi::start(
        vec![Reply::accepted()],
        vec![Reply::result(
            "pass",
            true,
            &[(
                "Service monitors",
                "fail",
                Some("monitor 7 in ALERT"),
                false,
            )],
        )],
    );
    let r = run(gate(&api).args(["--output", "json"]));
    assert_eq!(r.code, 0, "{r}");
    let v = r.json();
    assert_eq!(v["cause"], "dry_run");
    assert_eq!(v["dry_run"], true);
    assert_eq!(v["would_fail"], true);
    assert_eq!(v["rules"][0]["reason"], "monitor 7 in ALERT");
}

#[test]
fn jit_gate_sends_the_translated_config() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gate.json");
    std::fs::write(
        &config,
        r#"{"dryRun": false, "rules": [
            {"type": "monitor", "name": "Service monitors", "dryRun": true,
             "options": {"query": "service:checkout env:prod", "duration": 0}},
            {"type": "faulty_deployment_detection", "name": "FDD",
             "options": {"duration": 0, "excludedResources": ["GET /health"]}}]}"#,
    )
    .unwrap();
    let api = FakeApi::start(vec![Reply::accepted()], vec![pass()]);
    let r = run(gate(&api)
        .args([
            "--version",
            "v2",
            "--apm-primary-tag",
            "region:eu",
            "--monitors-query-variable",
            "team:payments",
            "--config",
        ])
        .arg(&config));
    assert_eq!(r.code, 0, "{r}");
    let body: serde_json::Value = serde_json::from_str(&api.seen()[0].body).unwrap();
    let attrs = &body["data"]["attributes"];
    assert_eq!(attrs["primary_tag"], "region:eu");
    assert_eq!(attrs["monitors_query_variable"], "team:payments");
    let conf = &attrs["configuration"];
    assert_eq!(conf["dry_run"], false);
    assert_eq!(conf["rules"][0]["dry_run"], true);
    // The second rule says nothing about dry run, so nothing is sent for it.
    assert!(conf["rules"][1].get("dry_run").is_none(), "{conf}");
    assert_eq!(
        conf["rules"][1]["options"]["excluded_resources"][0],
        "GET /health"
    );
}

#[test]
fn invalid_config_exits_2_before_any_request() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gate.json");
    std::fs::write(&config, "{\"rules\": [\n  {\"type\": \"monitor\", \"name\": \"m\", \"options\": {\"duration\": 9000}}\n]}").unwrap();
    let api = FakeApi::start(vec![Reply::accepted()], vec![pass()]);
    let r = run(gate(&api).arg("--config").arg(&config));
    assert_eq!(r.code, 2, "{r}");
    assert!(r.stderr.contains("gate.json:2:"), "located problems:\n{r}");
    assert!(api.seen().is_empty(), "nothing was sent");
}

#[test]
fn survives_429_reset_and_garbage_while_polling() {
    let api = FakeApi::start(
        vec![Reply::accepted()],
        vec![
            Reply::Http(
                429,
                vec![
                    ("Retry-After", "1".into()),
                    ("X-RateLimit-Reset", "1".into()),
                ],
                r#"{"errors": ["Too many requests"]}"#.into(),
            ),
            Reply::Http(200, vec![], "<html>garbage</html>".into()),
            Reply::Reset,
            pass(),
        ],
    );
    let r = run(gate(&api).args(["--output", "json"]));
    assert_eq!(r.code, 0, "{r}");
    let v = r.json();
    assert_eq!(v["cause"], "gate_passed", "{r}");
    assert_eq!(v["fail_open"], false, "{r}");
    assert!(api.seen().len() >= 5, "{r}");
}

#[test]
fn trigger_503_is_retried_then_passes() {
    let api = FakeApi::start(
        vec![
            Reply::Http(503, vec![("Retry-After", "1".into())], "{}".into()),
            Reply::accepted(),
        ],
        vec![pass()],
    );
    let r = run(&mut gate(&api));
    assert_eq!(r.code, 0, "{r}");
    assert_eq!(api.triggers(), 2, "{r}");
}

#[test]
fn trigger_403_fails_even_without_fail_on_error() {
    let api = FakeApi::start(
        vec![Reply::Http(
            403,
            vec![],
            r#"{"errors": ["Forbidden"]}"#.into(),
        )],
        vec![pass()],
    );
    let r = run(gate(&api).args(["--output", "json"]));
    assert_eq!(r.code, 1, "{r}");
    let v = r.json();
    assert_eq!(v["cause"], "client_error");
    assert_eq!(v["fail_open"], false);
    assert_eq!(api.triggers(), 1, "a 403 is never retried");
}

#[test]
fn hung_connection_honours_timeout_and_says_fail_open() {
    let api = FakeApi::start(vec![Reply::accepted()], vec![Reply::Hang]);
    let start = Instant::now();
    let r = run(gate_with_timeout(&api, "4").args(["--output", "json"]));
    let took = start.elapsed();
    assert_eq!(r.code, 0, "{r}");
    assert!(took < Duration::from_secs(9), "took {took:?}:\n{r}");
    let v = r.json();
    assert_eq!(v["cause"], "timeout");
    assert_eq!(v["fail_open"], true);
    assert!(r.stderr.contains("NOT a gate pass"), "{r}");
    assert!(r.stderr.contains("fail-open"), "{r}");
}

#[test]
fn hung_connection_with_fail_on_error_exits_1() {
    let api = FakeApi::start(vec![Reply::accepted()], vec![Reply::Hang]);
    let start = Instant::now();
    let r = run(gate_with_timeout(&api, "3").arg("--fail-on-error"));
    assert_eq!(r.code, 1, "{r}");
    assert!(start.elapsed() < Duration::from_secs(8), "{r}");
}

#[test]
fn json_logs_are_one_object_per_line() {
    let api = FakeApi::start(vec![Reply::accepted()], vec![in_progress(), pass()]);
    let r = run(gate(&api).args(["--log-format", "json", "--verbose", "--output", "json"]));
    assert_eq!(r.code, 0, "{r}");
    assert!(!r.stderr.trim().is_empty());
    for line in r.stderr.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
        assert!(v["message"].is_string(), "{line}");
        assert!(v["level"].is_string(), "{line}");
    }
    assert!(r.stderr.contains("\"type\":\"started\""), "{r}");
}

#[test]
fn quiet_prints_only_the_report() {
    let api = FakeApi::start(vec![Reply::accepted()], vec![pass()]);
    let r = run(gate(&api).arg("--quiet"));
    assert_eq!(r.code, 0, "{r}");
    assert!(r.stderr.trim().is_empty(), "{r}");
    assert!(r.stdout.contains("✅"), "{r}");
}

/// Start `gate`, wait until the API has given the evaluation id, then send `signal`.
fn interrupt(cmd: &mut Command, signal: &str) -> Run {
    let mut child = cmd
        .args(["--log-format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if line.contains("\"type\":\"started\"") {
            break;
        }
    }
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    for line in lines {
        seen.push_str(&line.unwrap());
        seen.push('\n');
    }
    let out = child.wait_with_output().unwrap();
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: seen,
    };
    run.assert_no_keys();
    run
}

#[test]
fn sigterm_prints_the_wait_command_and_the_state_file_resumes() {
    let api = FakeApi::start(vec![Reply::accepted()], vec![in_progress()]);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("gate.state");
    let r = interrupt(gate(&api).arg("--state-file").arg(&state), "-TERM");
    assert_eq!(r.code, 143, "{r}");
    assert!(
        r.stderr.contains(&format!(
            "gatepost wait {EVALUATION_ID} --service checkout --env prod --api-url {}",
            api.url()
        )),
        "{r}"
    );
    let saved = std::fs::read_to_string(&state).expect("the state file is kept");
    assert!(saved.contains(EVALUATION_ID));
    assert!(
        !saved.contains(API_KEY) && !saved.contains(APP_KEY),
        "no keys in the state file"
    );

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&state).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "the state file is owner-only: {mode:o}"
        );
    }

    // The retried job resumes: no second trigger, and the state file is gone once it is decided.
    api.set_result(vec![pass()]);
    let r = run(gate(&api).arg("--state-file").arg(&state));
    assert_eq!(r.code, 0, "{r}");
    assert!(r.stderr.contains("Resuming evaluation"), "{r}");
    // The resumed run keeps the first run's deadline, and says so.
    assert!(r.stderr.contains("from the first run"), "{r}");
    assert_eq!(api.triggers(), 1, "{r}");
    assert!(
        !state.exists(),
        "a decided evaluation removes its state file"
    );
}

#[test]
fn sigint_exits_130_and_wait_picks_it_up() {
    let api = FakeApi::start(
        vec![Reply::accepted()],
        vec![in_progress(), in_progress(), in_progress(), pass()],
    );
    let r = interrupt(&mut gate(&api), "-INT");
    assert_eq!(r.code, 130, "{r}");
    assert!(
        r.stderr.contains(&format!("gatepost wait {EVALUATION_ID}")),
        "{r}"
    );
    let r = run(gatepost_with_keys()
        .args([
            "wait",
            EVALUATION_ID,
            "--timeout",
            "60",
            "--poll-interval",
            "1",
            "--api-url",
        ])
        .arg(api.url()));
    assert_eq!(r.code, 0, "{r}");
    assert_eq!(api.triggers(), 1, "wait never triggers");
}

/// A state file left by a cancelled run for another version (or API, or config) never decides
/// this run: it says why and evaluates this request, replacing the file.
#[test]
fn a_leftover_state_file_for_another_request_is_not_resumed() {
    let api = FakeApi::start(vec![Reply::accepted()], vec![in_progress()]);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("gate.state");
    let r = interrupt(
        gate(&api)
            .args(["--version", "v1", "--state-file"])
            .arg(&state),
        "-TERM",
    );
    assert_eq!(r.code, 143, "{r}");
    // v1's evaluation would pass; v2 evaluated on its own fails.
    api.set_result(vec![Reply::result(
        "fail",
        false,
        &[(
            "Service monitors",
            "fail",
            Some("monitor 9 in ALERT"),
            false,
        )],
    )]);
    let r = run(gate(&api)
        .args(["--version", "v2", "--state-file"])
        .arg(&state));
    assert_eq!(r.code, 1, "{r}");
    assert!(
        r.stderr.contains(
            "it belongs to another request (version: \"v1\" in the snapshot, \"v2\" now)"
        ),
        "{r}"
    );
    assert!(!r.stderr.contains("Resuming evaluation"), "{r}");
    assert_eq!(api.triggers(), 2, "v2 gets its own evaluation: {r}");
    assert!(
        !state.exists(),
        "the decided v2 evaluation removes the file"
    );
}

#[test]
fn state_file_for_another_gate_is_not_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("gate.state");
    std::fs::write(
        &state,
        r#"{"gatepost_state": 1, "service": "other", "env": "prod", "snapshot": {}}"#,
    )
    .unwrap();
    let api = FakeApi::start(vec![Reply::accepted()], vec![pass()]);
    let r = run(gate(&api).arg("--state-file").arg(&state));
    assert_eq!(r.code, 0, "{r}");
    assert!(r.stderr.contains("ignoring the state file"), "{r}");
    assert_eq!(api.triggers(), 1);
}

#[test]
fn status_prints_one_result() {
    let api = FakeApi::start(
        vec![Reply::accepted()],
        vec![Reply::result(
            "fail",
            false,
            &[(
                "Service monitors",
                "fail",
                Some("monitor 9 in ALERT"),
                false,
            )],
        )],
    );
    let r = run(gatepost_with_keys()
        .args(["status", EVALUATION_ID, "--api-url"])
        .arg(api.url()));
    assert_eq!(r.code, 0, "{r}");
    assert!(r.stdout.contains("fail"), "{r}");
    assert!(r.stdout.contains("monitor 9 in ALERT"), "{r}");
    assert_eq!(api.seen().len(), 1);
    let r = run(gatepost_with_keys()
        .args(["status", EVALUATION_ID, "--output", "json", "--api-url"])
        .arg(api.url()));
    assert_eq!(r.json()["data"]["attributes"]["gate_status"], "fail");
}

#[test]
fn keys_from_files_are_used_and_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let api_file = dir.path().join("api");
    let app_file = dir.path().join("app");
    std::fs::write(&api_file, format!("{API_KEY}\n")).unwrap();
    std::fs::write(&app_file, APP_KEY).unwrap();
    let api = FakeApi::start(vec![Reply::accepted()], vec![pass()]);
    let r = run(gatepost()
        .args([
            "gate",
            "--service",
            "checkout",
            "--env",
            "prod",
            "--verbose",
            "--api-url",
        ])
        .arg(api.url())
        .arg("--api-key-file")
        .arg(&api_file)
        .arg("--app-key-file")
        .arg(&app_file));
    assert_eq!(r.code, 0, "{r}");
    assert_eq!(api.seen()[0].header("DD-API-KEY"), Some(API_KEY));
    assert_eq!(api.seen()[0].header("DD-APPLICATION-KEY"), Some(APP_KEY));
}

#[test]
fn keys_from_the_environment_are_trimmed_by_core_rules() {
    // A key read from a mounted secret file ends in a newline; a blank DATADOG_* falls through.
    let api = FakeApi::start(vec![Reply::accepted()], vec![pass()]);
    let mut cmd = gate(&api);
    cmd.env_remove("DD_API_KEY")
        .env_remove("DD_APP_KEY")
        .env("DATADOG_API_KEY", " \n")
        .env("DD_API_KEY", format!("{API_KEY}\n"))
        .env("DD_APPLICATION_KEY", format!("  {APP_KEY}\n"));
    let r = run(&mut cmd);
    assert_eq!(r.code, 0, "{r}");
    let seen = api.seen();
    assert_eq!(seen[0].header("DD-API-KEY"), Some(API_KEY));
    assert_eq!(seen[0].header("DD-APPLICATION-KEY"), Some(APP_KEY));
}

#[test]
fn config_warnings_are_printed_once_prefixed() {
    let api = FakeApi::start(vec![Reply::accepted()], vec![pass()]);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gate.json");
    std::fs::write(
        &config,
        r#"{"rules": [{"type": "monitor", "name": "m", "options": {"query": "env:prod", "duration": 0, "newer_option": 1}}]}"#,
    )
    .unwrap();
    let r = run(gate(&api)
        .arg("--allow-unknown-keys")
        .arg("--config")
        .arg(&config));
    assert_eq!(r.code, 0, "{r}");
    assert!(r.stderr.contains("newer_option"), "{r}");
    assert!(!r.stderr.contains("config warning:"), "{r}");
}

#[test]
fn status_reads_a_refusal_through_the_engine() {
    let api = FakeApi::start(
        vec![Reply::accepted()],
        vec![Reply::json(
            404,
            serde_json::json!({"errors": ["evaluation not found"]}),
        )],
    );
    let r = run(gatepost_with_keys()
        .args(["status", EVALUATION_ID, "--api-url"])
        .arg(api.url()));
    assert_eq!(r.code, 1, "{r}");
    assert!(
        r.stderr.contains(&format!(
            "error: the API answered 404 for evaluation {EVALUATION_ID}: evaluation not found"
        )),
        "{r}"
    );
    assert!(r.stderr.contains("has not started yet"), "{r}");
}

#[test]
fn status_json_is_a_document_on_every_exit() {
    // A refusal: the engine's reading, as a document.
    let api = FakeApi::start(
        vec![Reply::accepted()],
        vec![Reply::json(
            404,
            serde_json::json!({"errors": ["evaluation not found"]}),
        )],
    );
    let r = run(gatepost_with_keys()
        .args(["status", EVALUATION_ID, "--output", "json", "--api-url"])
        .arg(api.url()));
    assert_eq!(r.code, 1, "{r}");
    let doc = r.json();
    assert_eq!(doc["exit_code"], 1, "{r}");
    assert_eq!(doc["error"]["code"], "api_error", "{r}");
    assert_eq!(doc["error"]["status"], 404, "{r}");
    assert!(
        doc["error"]["note"]
            .as_str()
            .unwrap()
            .contains("not started yet"),
        "{r}"
    );
    // Nothing listening: a transport error, as a document.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}", closed.local_addr().unwrap().port());
    drop(closed);
    let r = run(gatepost_with_keys().args([
        "status",
        EVALUATION_ID,
        "--output",
        "json",
        "--allow-insecure-http",
        "--api-url",
        &url,
    ]));
    assert_eq!(r.code, 1, "{r}");
    let doc = r.json();
    assert_eq!(doc["error"]["code"], "transport_error", "{r}");
    assert_eq!(doc["exit_code"], 1, "{r}");
    for key in [API_KEY, APP_KEY] {
        assert!(!r.stdout.contains(key) && !r.stderr.contains(key), "{r}");
    }
}
