//! `gatepost` against the real emulator on loopback: the example worlds through `gate --emulator`,
//! JIT rules, faults from the world's fault plans in both phases, a hung connection, the
//! `gatepost emulator` command with `gate --api-url`, `status`, and resuming after SIGTERM.
#![cfg(feature = "emulator")]

mod common;
use common::*;
use gatepost_testkit::{Served, example_world, example_world_path, http, write_json};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn world(name: &str) -> std::path::PathBuf {
    example_world_path(name)
}

/// `gate --emulator WORLD` for checkout/prod/v2 with a safety timeout.
fn gate_emulated(world: &std::path::Path) -> Command {
    let mut cmd = checkout_gate();
    cmd.args(["--version", "v2", "--timeout", "90", "--emulator"])
        .arg(world);
    cmd
}

/// The healthy world with `faults` replaced, written to a temporary file.
fn healthy_with_faults(dir: &tempfile::TempDir, faults: serde_json::Value) -> std::path::PathBuf {
    let mut w = example_world("healthy.json");
    w["faults"] = faults;
    write_json(dir.path(), "world.json", &w)
}

#[test]
fn healthy_world_passes() {
    let r = run(gate_emulated(&world("healthy.json")).args(["--output", "json"]));
    assert_eq!(r.code, 0, "{r}");
    let v = r.json();
    assert_eq!(v["cause"], "gate_passed", "{r}");
    assert!(
        v["rules"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == "pass"),
        "{r}"
    );
    let errors = schema_errors(&outcome_schema(), &v);
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn with_no_keys_set_the_worlds_own_api_and_app_keys_are_used() {
    // A world that accepts one API key and a different application key: with no keys in the
    // environment, `--emulator` uses the first of each list (not the API key for both).
    let dir = tempfile::tempdir().unwrap();
    let mut w = example_world("healthy.json");
    let obj = w.as_object_mut().unwrap();
    obj.remove("open");
    obj.insert("api_keys".into(), serde_json::json!(["world-api-key"]));
    obj.insert("app_keys".into(), serde_json::json!(["world-app-key"]));
    let path = write_json(dir.path(), "world.json", &w);
    let r = run(gatepost()
        .args([
            "gate",
            "--service",
            "checkout",
            "--env",
            "prod",
            "--version",
            "v2",
        ])
        .args(["--timeout", "90", "--output", "json", "--emulator"])
        .arg(&path));
    assert_eq!(r.code, 0, "{r}");
    assert_eq!(r.json()["cause"], "gate_passed", "{r}");
}

#[test]
fn alerting_world_fails_naming_the_monitor() {
    let r = run(&mut gate_emulated(&world("alerting.json")));
    assert_eq!(r.code, 1, "{r}");
    assert!(r.stdout.contains("Gate failed"), "{r}");
    assert!(r.stdout.contains("Reason: "), "{r}");
    assert!(r.stdout.contains("/monitors/101"), "{r}");
}

#[test]
fn faulty_version_fails_on_the_new_error_type() {
    let r = run(&mut gate_emulated(&world("faulty-version.json")));
    assert_eq!(r.code, 1, "{r}");
    assert!(r.stdout.contains("NullPointerException"), "{r}");
}

#[test]
fn dry_run_world_passes_and_says_it_would_fail() {
    let r = run(gate_emulated(&world("dry-run.json")).args(["--output", "json"]));
    assert_eq!(r.code, 0, "{r}");
    let v = r.json();
    assert_eq!(v["cause"], "dry_run");
    assert_eq!(v["would_fail"], true);
}

#[test]
fn jit_rules_from_a_config_file_are_evaluated() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gate.json");
    std::fs::write(
        &config,
        r#"{"dryRun": false, "rules": [
            {"type": "monitor", "name": "Payments monitors",
             "options": {"query": "team:payments env:prod", "duration": 120}}]}"#,
    )
    .unwrap();
    let r = run(gate_emulated(&world("healthy.json"))
        .args(["--identifier", "jit", "--output", "json", "--config"])
        .arg(&config));
    assert_eq!(r.code, 0, "{r}");
    let v = r.json();
    assert_eq!(v["cause"], "gate_passed", "{r}");
    assert_eq!(v["rules"][0]["name"], "Payments monitors", "{r}");
    // The same inline rules against the alerting world fail.
    let r = run(gate_emulated(&world("alerting.json"))
        .args(["--identifier", "jit", "--config"])
        .arg(&config));
    assert_eq!(r.code, 1, "{r}");
}

#[test]
fn faults_in_both_phases_are_survived() {
    let dir = tempfile::tempdir().unwrap();
    let w = healthy_with_faults(
        &dir,
        serde_json::json!({
            "trigger": [{"kind": "rate_limited", "retry_after": 1}, {"kind": "status", "status": 502}],
            "result": [{"kind": "rate_limited", "retry_after": 1}, {"kind": "reset"}, {"kind": "garbage"}],
        }),
    );
    let r = run(gate_emulated(&w).args(["--output", "json"]));
    assert_eq!(r.code, 0, "{r}");
    let v = r.json();
    assert_eq!(v["cause"], "gate_passed", "{r}");
    assert_eq!(v["fail_open"], false, "{r}");
    assert!(r.stderr.contains("retrying"), "retries are logged:\n{r}");
}

#[test]
fn a_hung_result_connection_does_not_outlive_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let w = healthy_with_faults(
        &dir,
        serde_json::json!({"result": [{"kind": "hang", "times": 100}]}),
    );
    let mut cmd = gatepost_with_keys();
    cmd.args([
        "gate",
        "--service",
        "checkout",
        "--env",
        "prod",
        "--version",
        "v2",
        "--timeout",
        "6",
        "--output",
        "json",
        "--emulator",
    ])
    .arg(&w);
    let start = Instant::now();
    let r = run(&mut cmd);
    let took = start.elapsed();
    assert_eq!(r.code, 0, "fail-open by default:\n{r}");
    assert!(took < Duration::from_secs(11), "took {took:?}:\n{r}");
    let v = r.json();
    assert_eq!(v["cause"], "timeout", "{r}");
    assert_eq!(v["fail_open"], true, "{r}");
    assert!(r.stderr.contains("NOT a gate pass"), "{r}");

    let start = Instant::now();
    let r = run(cmd.arg("--fail-on-error"));
    assert_eq!(r.code, 1, "{r}");
    assert!(start.elapsed() < Duration::from_secs(11), "{r}");
}

/// `gatepost emulator` on a free port with `world` at `time_scale`, and the URL it announced.
fn serve(world: &std::path::Path, time_scale: &str) -> Served {
    let mut cmd = gatepost();
    cmd.args([
        "emulator",
        "--port",
        "0",
        "--time-scale",
        time_scale,
        "--world",
    ])
    .arg(world);
    Served::spawn(cmd, "http")
}

#[test]
fn served_emulator_gate_then_status() {
    let served = serve(&world("alerting.json"), "60");
    let r = run(gatepost_with_keys()
        .args([
            "gate",
            "--service",
            "checkout",
            "--env",
            "prod",
            "--version",
            "v2",
            "--timeout",
            "90",
            "--poll-interval",
            "1",
            "--output",
            "json",
            "--api-url",
        ])
        .arg(&served.url));
    assert_eq!(r.code, 1, "{r}");
    let id = r.json()["evaluation_id"].as_str().unwrap().to_string();
    let r = run(gatepost_with_keys()
        .args(["status", &id, "--api-url"])
        .arg(&served.url));
    assert_eq!(r.code, 0, "{r}");
    assert!(r.stdout.contains(&format!("evaluation {id}: fail")), "{r}");
    assert!(r.stdout.contains("Reason: "), "{r}");
}

#[test]
fn sigterm_then_state_file_resumes_the_same_evaluation() {
    // Slow clock: the 300 s rules take 15 s, so the first run is surely interrupted mid-way.
    let served = serve(&world("healthy.json"), "20");
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("gate.state");
    let args = |cmd: &mut Command| {
        cmd.args([
            "gate",
            "--service",
            "checkout",
            "--env",
            "prod",
            "--version",
            "v2",
            "--timeout",
            "120",
            "--poll-interval",
            "1",
            "--log-format",
            "json",
            "--api-url",
        ])
        .arg(&served.url)
        .arg("--state-file")
        .arg(&state);
    };
    let mut cmd = gatepost_with_keys();
    args(&mut cmd);
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut id = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if line.contains("\"type\":\"started\"") {
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            id = v["event"]["evaluation_id"].as_str().map(str::to_string);
            break;
        }
    }
    let id = id.expect("the evaluation started");
    assert!(
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let rest: String = lines.map(|l| l.unwrap() + "\n").collect();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(143), "{rest}");
    assert!(rest.contains(&format!("gatepost wait {id}")), "{rest}");
    assert!(!rest.contains(API_KEY) && !rest.contains(APP_KEY));

    let mut again = gatepost_with_keys();
    args(&mut again);
    let r = run(again.args(["--output", "json"]));
    assert_eq!(r.code, 0, "{r}");
    let v = r.json();
    assert_eq!(
        v["evaluation_id"],
        id.as_str(),
        "the same evaluation was resumed:\n{r}"
    );
    assert_eq!(v["cause"], "gate_passed", "{r}");
    assert!(!state.exists());
}

/// The healthy world with `key: value` set at the top level.
fn healthy_with(
    dir: &tempfile::TempDir,
    key: &str,
    value: serde_json::Value,
) -> std::path::PathBuf {
    let mut w = example_world("healthy.json");
    w[key] = value;
    write_json(dir.path(), "world-keys.json", &w)
}

#[test]
fn emulator_uses_the_worlds_key_when_none_is_set_and_refuses_a_wrong_one() {
    let dir = tempfile::tempdir().unwrap();
    let w = healthy_with(&dir, "api_keys", serde_json::json!(["world-api-key-1"]));
    // No keys in the environment: the world's first key is used.
    let r = run(gatepost()
        .args([
            "gate",
            "--service",
            "checkout",
            "--env",
            "prod",
            "--version",
            "v2",
            "--timeout",
            "90",
            "--emulator",
        ])
        .arg(&w));
    assert_eq!(r.code, 0, "{r}");
    // A key the world does not accept: 403, a client error, never fail-open.
    let r = run(gate_emulated(&w).args(["--output", "json"]));
    assert_eq!(r.code, 1, "{r}");
    let v = r.json();
    assert_eq!(v["cause"], "client_error", "{r}");
    assert_eq!(v["fail_open"], false, "{r}");
    assert!(
        r.stdout.contains("Forbidden"),
        "the API's words are shown:\n{r}"
    );
}

#[test]
fn a_gate_that_does_not_exist_fails_with_the_apis_reason() {
    let mut cmd = gatepost_with_keys();
    cmd.args([
        "gate",
        "--service",
        "no-such-service",
        "--env",
        "prod",
        "--timeout",
        "90",
        "--output",
        "json",
        "--emulator",
    ])
    .arg(world("healthy.json"));
    let r = run(&mut cmd);
    assert_eq!(r.code, 1, "{r}");
    let v = r.json();
    assert_eq!(v["cause"], "client_error", "{r}");
    assert!(r.stdout.contains("no gate found"), "{r}");
}

#[test]
fn world_files_that_never_end_or_accept_no_keys_are_refused_at_once() {
    // `/dev/zero` is stopped by the size cap, not by memory running out.
    let started = Instant::now();
    let r = run(gatepost().args(["emulator", "--port", "0", "--world", "/dev/zero"]));
    assert_eq!(r.code, 2, "{r}");
    assert!(
        r.stderr.contains(
            "cannot load the world /dev/zero: cannot read the world file: larger than 16 MiB"
        ),
        "{r}"
    );
    assert!(started.elapsed() < Duration::from_secs(30));

    // A world that lists no keys must say `"open": true`, for the service and in-process alike.
    let dir = tempfile::tempdir().unwrap();
    let keyless = dir.path().join("keyless.json");
    std::fs::write(&keyless, r#"{"monitors": []}"#).unwrap();
    let served = run(gatepost()
        .args(["emulator", "--port", "0", "--world"])
        .arg(&keyless));
    let in_process = run(&mut gate_emulated(&keyless));
    for r in [served, in_process] {
        assert_eq!(r.code, 2, "{r}");
        assert!(
            r.stderr.contains("api_keys: the world accepts no keys")
                && r.stderr.contains("\"open\": true"),
            "{r}"
        );
    }
}

#[test]
fn emulator_service_flags_are_checked() {
    let healthy = world("healthy.json");
    for (flags, expected) in [
        (
            &["--header-timeout", "0"][..],
            "--header-timeout must be a number of seconds above 0",
        ),
        (
            &["--body-timeout", "nan"][..],
            "--body-timeout must be a number of seconds above 0",
        ),
        (
            &["--max-connections", "0"][..],
            "--max-connections must be at least 1",
        ),
        (
            &["--cors-origin", "dash.example.com"][..],
            "CORS origin \"dash.example.com\" is not an origin",
        ),
    ] {
        let r = run(gatepost()
            .args(["emulator", "--port", "0"])
            .args(flags)
            .arg("--world")
            .arg(&healthy));
        assert_eq!(r.code, 2, "{flags:?}: {r}");
        assert!(r.stderr.contains(expected), "{flags:?}: {r}");
    }
}

/// The healthy world's preconfigured gate with one monitor rule of `duration` seconds, huge rate
/// limits on the endpoints a gate run uses (their `X-RateLimit-Remaining` counts its requests), and
/// `faults`.
fn preconfigured_world(
    dir: &tempfile::TempDir,
    duration: u64,
    faults: serde_json::Value,
) -> std::path::PathBuf {
    let mut w = example_world("healthy.json");
    let gate = &mut w["gates"][0];
    gate["rules"] = serde_json::json!([{
        "name": "Checkout monitors",
        "type": "monitor",
        "options": {"query": "service:checkout env:prod", "duration": duration},
    }]);
    w["rate_limits"] = serde_json::json!(["trigger", "result", "rules"]
        .iter()
        .map(|e| serde_json::json!({"endpoint": e, "limit": COUNTING_LIMIT, "period_seconds": 86400}))
        .collect::<Vec<_>>());
    w["faults"] = faults;
    write_json(dir.path(), "preconfigured.json", &w)
}

const COUNTING_LIMIT: u64 = 1_000_000_000;

/// How many requests the emulator at `url` has answered on the endpoint of `path` (`GET`), from
/// the `X-RateLimit-Remaining` of [`COUNTING_LIMIT`]; the probe itself is not counted.
fn requests_answered(url: &str, path: &str) -> u64 {
    let addr = url.strip_prefix("http://").unwrap().parse().unwrap();
    let reply = http::send(addr, "GET", path, &[], None).unwrap();
    let remaining: u64 = reply
        .header("x-ratelimit-remaining")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no X-RateLimit-Remaining in {reply:?}"));
    COUNTING_LIMIT - remaining - 1
}

fn preconfigured_gate(url: &str, extra: &[&str]) -> Run {
    run(gatepost_with_keys()
        .args([
            "gate",
            "--service",
            "checkout",
            "--env",
            "prod",
            "--version",
            "v2",
            "--timeout",
            "60",
            "--output",
            "json",
            "-v",
        ])
        .args(extra)
        .args(["--api-url", url]))
}

const GATE_RULES: &str = "/api/v2/deployment_gates/5b7e1f0a-3c2d-4e8f-9a10-2b3c4d5e6f70/rules";
const A_RESULT: &str = "/api/v2/deployments/gates/evaluation/00000000-0000-4000-8000-000000000000";

#[test]
fn preconfigured_gate_reads_its_rules_and_polls_when_they_are_due() {
    // Real time: the 3 s rule passes 3 s after the trigger. Without the rules' duration the engine
    // would poll at once and then 15 s later; with it, at once, then when the rule is due.
    let dir = tempfile::tempdir().unwrap();
    let served = serve(&preconfigured_world(&dir, 3, serde_json::json!({})), "1");
    let r = preconfigured_gate(&served.url, &[]);
    assert_eq!(r.code, 0, "{r}");
    let v = r.json();
    assert_eq!(v["cause"], "gate_passed", "{r}");
    assert!(
        r.stderr
            .contains("read the gate's stored rules: the longest can finish 3 s after the trigger"),
        "{r}"
    );
    // Trigger, the first poll (in progress, naming the gate), the rules read, the due poll: as
    // many as datadog-ci makes for a result 3 s after the trigger (trigger, polls at 0 and 15 s).
    assert_eq!(requests_answered(&served.url, GATE_RULES), 1, "{r}");
    assert_eq!(requests_answered(&served.url, A_RESULT), 2, "{r}");
    assert_eq!(v["requests"], 4, "{r}");
    r.assert_no_keys();
}

#[test]
fn preconfigured_gate_whose_rules_are_forbidden_keeps_the_grid() {
    // A key without read scope: the rules read is refused; the grid (3 s here: a read needs a
    // second before the next poll) goes on and the verdict is the same.
    let dir = tempfile::tempdir().unwrap();
    let faults = serde_json::json!({"rules": [{"kind": "status", "status": 403}]});
    let served = serve(&preconfigured_world(&dir, 2, faults), "1");
    let r = preconfigured_gate(&served.url, &["--poll-interval", "3"]);
    assert_eq!(r.code, 0, "{r}");
    assert_eq!(r.json()["cause"], "gate_passed", "{r}");
    assert!(
        r.stderr
            .contains("the gate's stored rules could not be read (HTTP 403)"),
        "{r}"
    );
    r.assert_no_keys();
}
