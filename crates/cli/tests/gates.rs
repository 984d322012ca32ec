//! `gatepost gates` end to end against the emulator on loopback: export → plan (no changes) →
//! edit → plan (the diff, exit 2) → apply → plan (no changes) → apply (a no-op), an apply
//! interrupted by a dropped connection and resumed by running it again, and `--prune` scoping.
#![cfg(feature = "emulator")]

mod common;
use common::*;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// The healthy example world (one gate, checkout/prod, two rules), with `faults`, served in this
/// process for the whole test (its gates persist across commands).
fn emulator(dir: &Path, faults: Value) -> gatepost_emulator::RunningEmulator {
    let mut w = gatepost_testkit::example_world("healthy.json");
    w["faults"] = faults;
    let path = gatepost_testkit::write_json(dir, "world.json", &w);
    gatepost_testkit::serve_world(gatepost_emulator::World::from_path(&path).unwrap())
}

fn gates(url: &str, args: &[&str]) -> Run {
    let mut cmd = gatepost_with_keys();
    cmd.arg("gates").args(args).args(["--api-url", url]);
    Run::from_output(cmd.output().unwrap())
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn export_plan_edit_plan_apply_plan_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let emu = emulator(dir.path(), json!({}));
    let url = emu.base_url();
    let file: PathBuf = dir.path().join("gates.json");

    let r = gates(
        &url,
        &["export", "--service", "checkout", "-o", path_str(&file)],
    );
    assert_eq!(r.code, 0, "{r}");
    assert!(r.stderr.contains("wrote 1 gate(s)"), "{r}");
    let mut exported: Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(exported["gates"][0]["service"], "checkout");
    assert_eq!(exported["gates"][0]["rules"].as_array().unwrap().len(), 2);

    let r = gates(&url, &["plan", "-f", path_str(&file)]);
    assert_eq!(r.code, 0, "{r}");
    assert!(r.stdout.contains("No changes"), "{r}");

    // Edit: a longer monitor duration, a new dry-run gate with one camelCase rule.
    exported["gates"][0]["rules"][0]["options"]["duration"] = json!(600);
    exported["gates"].as_array_mut().unwrap().push(json!({
        "service": "payments", "env": "prod", "dryRun": true,
        "rules": [{"type": "monitor", "name": "Payments", "options": {"query": "service:payments", "failOnNoData": true}}]
    }));
    std::fs::write(&file, exported.to_string()).unwrap();

    let r = gates(&url, &["plan", "-f", path_str(&file)]);
    assert_eq!(r.code, 2, "{r}");
    assert!(r.stdout.contains("options.duration: 300 → 600"), "{r}");
    assert!(
        r.stdout.contains("+ create gate payments/prod/default"),
        "{r}"
    );
    assert!(r.stdout.contains("Plan: "), "{r}");
    let r = gates(
        &url,
        &["plan", "-f", path_str(&file), "--output", "markdown"],
    );
    assert_eq!(r.code, 2, "{r}");
    assert!(r.stdout.starts_with("### gatepost gates plan"), "{r}");
    assert!(r.stdout.contains("```diff"), "{r}");
    let r = gates(&url, &["plan", "-f", path_str(&file), "--output", "json"]);
    assert_eq!(r.code, 2, "{r}");
    assert_eq!(r.json()["task"], "plan");

    let r = gates(&url, &["apply", "-f", path_str(&file)]);
    assert_eq!(r.code, 0, "{r}");
    assert!(
        r.stdout.contains("[done]") && !r.stdout.contains("not done"),
        "{r}"
    );
    assert!(
        r.stderr.contains("created gate payments/prod/default"),
        "{r}"
    );

    let r = gates(&url, &["plan", "-f", path_str(&file)]);
    assert_eq!(r.code, 0, "{r}");
    let r = gates(&url, &["apply", "-f", path_str(&file)]);
    assert_eq!(r.code, 0, "{r}");
    assert!(r.stdout.contains("already match"), "{r}");

    // The re-exported file holds what was applied, in the API's spelling.
    let r = gates(&url, &["export"]);
    assert_eq!(r.code, 0, "{r}");
    let all = r.json();
    assert_eq!(all["gates"].as_array().unwrap().len(), 2, "{r}");
    assert_eq!(all["gates"][1]["dry_run"], true, "{r}");
    assert_eq!(
        all["gates"][1]["rules"][0]["options"]["fail_on_no_data"], true,
        "{r}"
    );
}

#[test]
fn an_interrupted_apply_is_resumed_by_running_it_again() {
    let dir = tempfile::tempdir().unwrap();
    // The third request to a rule endpoint has its connection dropped.
    let emu = emulator(
        dir.path(),
        json!({"rules": [{"kind": "pass", "times": 2}, {"kind": "reset"}]}),
    );
    let url = emu.base_url();
    let file = dir.path().join("gates.json");
    let rule = |name: &str| json!({"type": "monitor", "name": name, "options": {"query": "service:search"}});
    std::fs::write(
        &file,
        json!({"gates": [{"service": "search", "env": "prod",
            "rules": [rule("one"), rule("two"), rule("three"), rule("four")]}]})
        .to_string(),
    )
    .unwrap();
    let r = gates(&url, &["apply", "-f", path_str(&file), "--retries", "0"]);
    assert_eq!(r.code, 1, "{r}");
    assert!(r.stderr.contains("run it again to resume"), "{r}");
    assert!(r.stdout.contains("[not done]"), "{r}");

    let r = gates(&url, &["plan", "-f", path_str(&file)]);
    assert_eq!(r.code, 2, "{r}");
    assert!(
        !r.stdout.contains("create gate"),
        "the gate was created before the drop: {r}"
    );
    let r = gates(&url, &["apply", "-f", path_str(&file)]);
    assert_eq!(r.code, 0, "{r}");
    let r = gates(&url, &["plan", "-f", path_str(&file)]);
    assert_eq!(r.code, 0, "{r}");
}

#[test]
fn prune_needs_a_scope_and_stays_inside_it() {
    let dir = tempfile::tempdir().unwrap();
    let emu = emulator(dir.path(), json!({}));
    let url = emu.base_url();
    let file = dir.path().join("gates.json");
    std::fs::write(
        &file,
        json!({"gates": [{"service": "search", "env": "prod", "rules": []}]}).to_string(),
    )
    .unwrap();
    let r = gates(&url, &["apply", "-f", path_str(&file), "--prune"]);
    assert_eq!(r.code, 1, "{r}");
    assert!(r.stderr.contains("--prune needs a scope"), "{r}");

    // Scoped to search: checkout's gate is not touched.
    let r = gates(
        &url,
        &[
            "apply",
            "-f",
            path_str(&file),
            "--prune",
            "--service",
            "search",
        ],
    );
    assert_eq!(r.code, 0, "{r}");
    let r = gates(&url, &["export"]);
    assert_eq!(r.json()["gates"].as_array().unwrap().len(), 2, "{r}");

    // Scoped to checkout: its gate, absent from the file, is deleted.
    let r = gates(
        &url,
        &[
            "plan",
            "-f",
            path_str(&file),
            "--prune",
            "--service",
            "checkout",
        ],
    );
    assert_eq!(r.code, 2, "{r}");
    assert!(
        r.stdout.contains("- delete gate checkout/prod/default"),
        "{r}"
    );
    let r = gates(
        &url,
        &[
            "apply",
            "-f",
            path_str(&file),
            "--prune",
            "--service",
            "checkout",
        ],
    );
    assert_eq!(r.code, 0, "{r}");
    let r = gates(&url, &["export"]);
    let all = r.json();
    assert_eq!(all["gates"].as_array().unwrap().len(), 1, "{r}");
    assert_eq!(all["gates"][0]["service"], "search", "{r}");
}

#[test]
fn an_invalid_file_lists_every_problem_with_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gates.json");
    std::fs::write(
        &file,
        "{\"gates\": [{\"service\": \"a\", \"env\": \"b\", \"rules\": [\n  {\"type\": \"monitor\", \"name\": \"m\", \"options\": {\"duration\": 10}}]}]}",
    )
    .unwrap();
    // No server is needed: the file is checked before any request.
    let r = gates("http://127.0.0.1:9", &["plan", "-f", path_str(&file)]);
    assert_eq!(r.code, 1, "{r}");
    assert!(
        r.stderr.contains("gates.json:2:") && r.stderr.contains("gates[0].rules[0].options"),
        "{r}"
    );
    assert!(r.stderr.contains("needs a \"query\""), "{r}");
}

#[test]
fn the_example_gates_file_plans_against_the_healthy_world() {
    let root = repo_root();
    let mut cmd = gatepost();
    cmd.args(["gates", "plan", "-f"])
        .arg(root.join("examples/github-actions/gates.json"))
        .arg("--emulator")
        .arg(root.join("examples/worlds/healthy.json"));
    let r = Run::from_output(cmd.output().unwrap());
    assert_eq!(r.code, 2, "{r}");
    assert!(
        r.stdout.contains("+ create gate checkout/staging/default"),
        "{r}"
    );
}
