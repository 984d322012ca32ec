//! `gatepost validate --online` end to end against the emulator: the example world
//! (`examples/worlds/validate-online.json`) has a rule that is fine, one whose monitor alerts now,
//! one that matches 60 monitors, one that matches none, and a muted alerting monitor that must be
//! left out; a preconfigured gate; and, with a fault plan, a monitor search that keeps failing.
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
    assert!(r.stdout.contains("no public Datadog API"), "{r}");

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
    let dir = tempfile::tempdir().unwrap();
    let mut w = gatepost_testkit::example_world("validate-online.json");
    w["faults"] = json!({"monitor_search": [{"kind": "status", "status": 503, "times": 5}]});
    let path = gatepost_testkit::write_json(dir.path(), "world.json", &w);
    let emu = gatepost_testkit::serve_world(gatepost_emulator::World::from_path(&path).unwrap());
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
