//! `gatepost validate --online` end to end against the emulator: the example world
//! (`examples/worlds/validate-online.json`) has a rule that is fine, one whose monitor alerts now,
//! one that matches 60 monitors, one that matches none, and a muted alerting monitor that must be
//! left out; APM data for checkout (none for payments) for the Faulty Deployment Detection check;
//! a preconfigured gate; and, with fault plans, a monitor search that keeps failing and a spans
//! search refused for want of a scope.
#![cfg(feature = "emulator")]

mod common;
use common::*;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

fn world() -> PathBuf {
    repo_root().join("examples/worlds/validate-online.json")
}

fn config() -> PathBuf {
    repo_root().join("examples/validate-online/gate-config.json")
}

fn validate(args: &[&str]) -> Run {
    let mut cmd = gatepost_with_keys();
    cmd.arg("validate").args(args);
    run(&mut cmd)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn the_example_catches_zero_matches_over_fifty_and_alerting_now() {
    let r = validate(&[
        "--online",
        "--config",
        s(&config()),
        "--emulator",
        s(&world()),
    ]);
    assert_eq!(r.code, 2, "{r}");
    // Problems and warnings on stderr, located in the file (file:line:column: path: message).
    assert!(
        r.stderr.contains("error: ")
            && r.stderr.contains("gate-config.json:")
            && r.stderr
                .contains("rules[2].options.query: 60 monitors match this query"),
        "{r}"
    );
    assert!(
        r.stderr
            .contains("rules[3].options.query: no monitor matches this query"),
        "{r}"
    );
    assert!(
        r.stderr.contains("warning: ")
            && r.stderr.contains("rules[1].options.query: would fail now")
            && r.stderr
                .contains("211 \"[payments] card declines above 5%\" (Alert)"),
        "{r}"
    );
    // No Data does not fail a rule without fail_on_no_data.
    assert!(!r.stderr.contains("ledger lag"), "{r}");
    // The report: the muted, alerting monitor 203 is left out of the checkout rule.
    assert!(
        r.stdout
            .contains("rules[0] monitor \"Checkout monitors\": 2 monitors match\n"),
        "{r}"
    );
    assert!(!r.stdout.contains("203"), "{r}");
    assert!(r.stdout.contains("WOULD FAIL NOW"), "{r}");
    assert!(
        r.stdout.contains("Online check: 2 problems, 1 warning"),
        "{r}"
    );
}

#[test]
fn json_and_markdown_reports() {
    let r = validate(&[
        "--online",
        "--config",
        s(&config()),
        "--emulator",
        s(&world()),
        "--output",
        "json",
    ]);
    assert_eq!(r.code, 2, "{r}");
    let report = r.json();
    assert_eq!(report["ok"], false);
    assert_eq!(report["source"], "config");
    let matched: Vec<Value> = report["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["matched"].clone())
        .collect();
    assert_eq!(matched, [json!(2), json!(2), json!(60), json!(0)]);
    assert_eq!(report["rules"][1]["would_fail_now"], true);
    assert_eq!(report["rules"][2]["monitors"].as_array().unwrap().len(), 50);
    assert_eq!(report["problems"].as_array().unwrap().len(), 2);
    // 60 monitors fit one page of 100: one search per rule.
    assert_eq!(report["requests"], 4);

    let r = validate(&[
        "--online",
        "--config",
        s(&config()),
        "--emulator",
        s(&world()),
        "--output",
        "markdown",
    ]);
    assert_eq!(r.code, 2, "{r}");
    assert!(
        r.stdout
            .contains("| `rules[1]` Payments monitors | monitor | 2 | **yes** |"),
        "{r}"
    );
    assert!(r.stdout.contains("- :x: rules[2].options.query"), "{r}");
}

#[test]
fn a_preconfigured_gate_is_read_then_checked() {
    let r = validate(&[
        "--online",
        "--service",
        "payments",
        "--env",
        "prod",
        "--emulator",
        s(&world()),
    ]);
    assert_eq!(r.code, 2, "{r}");
    assert!(r.stdout.starts_with("Gate payments/prod/default"), "{r}");
    // fail_on_no_data: the No Data monitor fails the rule now too.
    assert!(
        r.stderr.contains("gate payments/prod/default: rules[0].options.query: would fail now: 2 matching monitors"),
        "{r}"
    );
    assert!(
        r.stderr
            .contains("rules[1].options.query: 60 monitors match"),
        "{r}"
    );

    let r = validate(&[
        "--online",
        "--service",
        "ghost",
        "--env",
        "prod",
        "--emulator",
        s(&world()),
    ]);
    assert_eq!(r.code, 2, "{r}");
    assert!(
        r.stderr.contains("no gate exists for service \"ghost\""),
        "{r}"
    );
}

#[test]
fn a_clean_config_exits_zero_and_skips_what_it_cannot_check() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ok.json");
    std::fs::write(
        &file,
        json!({"rules": [
            {"type": "monitor", "name": "Checkout", "options": {"query": "service:checkout env:prod", "duration": 300}},
            {"type": "faulty_deployment_detection", "name": "APM", "options": {"duration": 900, "excludedResources": ["GET /health"]}}
        ]})
        .to_string(),
    )
    .unwrap();
    let r = validate(&[
        "--online",
        "--config",
        s(&file),
        "--version",
        "v2",
        "--emulator",
        s(&world()),
    ]);
    assert_eq!(r.code, 0, "{r}");
    assert!(
        r.stdout
            .contains("Online check passed: 0 warnings (1 request(s))"),
        "{r}"
    );
    // No --service/--env: a config names no service, so the FDD rule's APM data is not searched.
    assert!(
        r.stdout
            .contains("APM data not checked: pass the service and env"),
        "{r}"
    );

    // Offline validation comes first: an invalid file never goes online.
    std::fs::write(
        &file,
        r#"{"rules": [{"type": "monitor", "name": "x", "options": {}}]}"#,
    )
    .unwrap();
    let r = validate(&["--online", "--config", s(&file), "--emulator", s(&world())]);
    assert_eq!(r.code, 2, "{r}");
    assert!(r.stderr.contains("needs a \"query\""), "{r}");
}

#[test]
fn a_failing_search_is_exit_one_after_the_retries() {
    let (_dir, emu) = emulator_with_faults(
        json!({"monitor_search": [{"kind": "status", "status": 503, "times": 5}]}),
    );
    let r = validate(&[
        "--online",
        "--config",
        s(&config()),
        "--api-url",
        &emu.base_url(),
        "--retries",
        "0",
    ]);
    assert_eq!(r.code, 1, "{r}");
    assert!(
        r.stderr
            .contains("failed after 1 attempt(s): HTTP 503: injected fault"),
        "{r}"
    );
    assert!(r.stdout.contains("Online check incomplete"), "{r}");
}

#[test]
fn network_flags_need_online() {
    let r = validate(&["--config", s(&config()), "--emulator", s(&world())]);
    assert_eq!(r.code, 2, "{r}");
    assert!(r.stderr.contains("go with --online"), "{r}");
    // Offline, the example is valid: the online problems need the monitors.
    let r = validate(&["--config", s(&config())]);
    assert_eq!(r.code, 0, "{r}");
}

fn fdd_config() -> PathBuf {
    repo_root().join("examples/validate-online/fdd-config.json")
}

/// A copy of the example world with `faults`, served by an emulator this test starts.
fn emulator_with_faults(faults: Value) -> (tempfile::TempDir, gatepost_emulator::RunningEmulator) {
    let dir = tempfile::tempdir().unwrap();
    let mut w = gatepost_testkit::example_world("validate-online.json");
    w["faults"] = faults;
    let path = gatepost_testkit::write_json(dir.path(), "world.json", &w);
    let emu = gatepost_testkit::serve_world(gatepost_emulator::World::from_path(&path).unwrap());
    (dir, emu)
}

#[test]
fn fdd_rules_report_the_services_apm_data_and_warn_without_it() {
    let fdd = fdd_config();
    let args = |service: &'static str, version: &'static str, output: &'static str| {
        validate(&[
            "--online",
            "--config",
            s(&fdd),
            "--service",
            service,
            "--env",
            "prod",
            "--version",
            version,
            "--output",
            output,
            "--emulator",
            s(&world()),
        ])
    };
    // checkout has APM data in prod (v1 ran); v2 is about to be deployed and has none yet.
    let r = args("checkout", "v2", "text");
    assert_eq!(r.code, 0, "{r}");
    assert!(
        r.stdout.contains("rules[1] faulty_deployment_detection \"APM Faulty Deployment Detection\": APM data for service checkout in env prod in the last 24h; none yet for version v2 (expected before its first deploy)\n"),
        "{r}"
    );
    assert!(
        r.stdout
            .contains("Online check passed: 0 warnings (3 request(s))"),
        "{r}"
    );
    let r = args("checkout", "v1", "json");
    assert_eq!(r.code, 0, "{r}");
    let apm = &r.json()["rules"][1]["apm"];
    assert_eq!(
        *apm,
        json!({"service": "checkout", "env": "prod", "window": "24h", "service_data": true, "version": "v1", "version_data": true})
    );
    // payments has no APM data at all: FDD would compare nothing. A warning, located in the file.
    let r = args("payments", "v2", "text");
    assert_eq!(r.code, 0, "{r}");
    assert!(
        r.stderr.contains("warning: ")
            && r.stderr.contains("fdd-config.json:12:5: rules[1]: no APM data for service payments in env prod in the last 24h (nor for version v2): Faulty Deployment Detection has nothing to compare"),
        "{r}"
    );
    assert!(r.stdout.contains("Online check passed: 1 warning"), "{r}");
    let r = args("payments", "v2", "markdown");
    assert!(
        r.stdout.contains("| `rules[1]` APM Faulty Deployment Detection | faulty_deployment_detection | — | — | no APM data for service payments in env prod"),
        "{r}"
    );
    assert!(
        r.stdout
            .contains("- :warning: rules[1] (line 12, column 5): no APM data"),
        "{r}"
    );

    // A preconfigured gate's FDD rule is checked for the gate's own service and env.
    let r = validate(&[
        "--online",
        "--service",
        "checkout",
        "--env",
        "prod",
        "--emulator",
        s(&world()),
    ]);
    assert_eq!(r.code, 0, "{r}");
    assert!(
        r.stdout.contains("rules[1] faulty_deployment_detection \"APM Faulty Deployment Detection\": APM data for service checkout in env prod in the last 24h\n"),
        "{r}"
    );
}

#[test]
fn a_key_without_apm_read_leaves_fdd_unchecked_with_a_warning() {
    let (_dir, emu) = emulator_with_faults(
        json!({"spans_search": [{"kind": "status", "status": 403, "body": "{\"errors\": [\"Forbidden\"]}"}]}),
    );
    let r = validate(&[
        "--online",
        "--config",
        s(&fdd_config()),
        "--service",
        "checkout",
        "--env",
        "prod",
        "--version",
        "v2",
        "--api-url",
        &emu.base_url(),
    ]);
    assert_eq!(r.code, 0, "{r}");
    assert!(
        r.stderr.contains("rules[1]: APM data not checked: the spans search was refused (HTTP 403): the application key needs the apm_read scope"),
        "{r}"
    );
    // Any other refusal makes the check incomplete.
    let (_dir, emu) =
        emulator_with_faults(json!({"spans_search": [{"kind": "status", "status": 404}]}));
    let r = validate(&[
        "--online",
        "--config",
        s(&fdd_config()),
        "--service",
        "checkout",
        "--env",
        "prod",
        "--version",
        "v2",
        "--api-url",
        &emu.base_url(),
    ]);
    assert_eq!(r.code, 1, "{r}");
    assert!(
        r.stderr
            .contains("searching the spans of service checkout in env prod: HTTP 404"),
        "{r}"
    );
}
