//! CLI behaviour that needs no server: usage errors, `validate`, `schema`, `--skip`, the GitHub
//! outputs of a skipped gate, and datadog-ci spellings.

mod common;
use common::*;

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn missing_service_and_env_are_usage_errors_listed_together() {
    let r = run(gatepost_with_keys().args(["gate"]));
    assert_eq!(r.code, 2, "{r}");
    assert!(r.stderr.contains("--service is required"), "{r}");
    assert!(r.stderr.contains("--env is required"), "{r}");
}

#[test]
fn deployment_gate_spelling_is_accepted() {
    // The datadog-ci invocation with the binary name swapped parses the same flags.
    let r = run(gatepost_with_keys().args([
        "deployment",
        "gate",
        "--env",
        "prod",
        "--apm-primary-tag",
        "region:us-east-1",
    ]));
    assert_eq!(r.code, 2, "{r}");
    assert!(r.stderr.contains("--service is required"), "{r}");
    assert!(!r.stderr.contains("unexpected argument"), "{r}");
}

#[test]
fn unknown_flag_is_a_usage_error() {
    let r = run(gatepost().args(["gate", "--servce", "x"]));
    assert_eq!(r.code, 2, "{r}");
    assert!(
        r.stderr.contains("--service"),
        "clap suggests the right flag:\n{r}"
    );
}

#[test]
fn missing_keys_name_both_variables() {
    let r = run(gatepost().args(["gate", "--service", "checkout", "--env", "prod"]));
    assert_eq!(r.code, 2, "{r}");
    assert!(r.stderr.contains("DATADOG_API_KEY (or DD_API_KEY)"), "{r}");
    assert!(r.stderr.contains("DATADOG_APP_KEY (or DD_APP_KEY)"), "{r}");
}

#[test]
fn fips_without_ignore_error_exits_2_and_says_why() {
    let r = run(gatepost_with_keys().args(["gate", "--service", "s", "--env", "e", "--fips"]));
    assert_eq!(r.code, 2, "{r}");
    assert!(r.stderr.contains("FIPS"), "{r}");
    let r = run(gatepost_with_keys().env("DATADOG_FIPS", "true").args([
        "gate",
        "--service",
        "s",
        "--env",
        "e",
    ]));
    assert_eq!(r.code, 2, "DATADOG_FIPS is honoured:\n{r}");
}

#[test]
fn unreadable_config_file_is_a_usage_error() {
    let r = run(gatepost_with_keys().args([
        "gate",
        "--service",
        "s",
        "--env",
        "e",
        "--config",
        "/nonexistent/gate.json",
    ]));
    assert_eq!(r.code, 2, "{r}");
    assert!(r.stderr.contains("/nonexistent/gate.json"), "{r}");
}

#[test]
fn negative_timeout_is_a_usage_error() {
    let r =
        run(gatepost_with_keys().args(["gate", "--service", "s", "--env", "e", "--timeout=-5"]));
    assert_eq!(r.code, 2, "{r}");
    assert!(r.stderr.contains("--timeout"), "{r}");
}

#[test]
fn validate_lists_every_problem_with_line_and_column_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        &dir,
        "gate.json",
        r#"{
  "dryrun": false,
  "rules": [
    {"type": "monitor", "name": "m", "options": {"query": "env:prod", "duration": 9000}},
    {"type": "moniyor", "name": "x", "options": {}}
  ]
}
"#,
    );
    let r = run(gatepost().args(["validate", "--config"]).arg(&config));
    assert_eq!(r.code, 2, "{r}");
    let errors: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect();
    assert!(errors.len() >= 3, "every problem is listed:\n{r}");
    assert!(r.stderr.contains("gate.json:"), "{r}");
    assert!(
        errors
            .iter()
            .any(|l| l.contains("rules[0].options.duration")),
        "{r}"
    );
    // Problems carry file:line:column.
    assert!(
        errors.iter().any(|l| {
            let rest = l.split("gate.json:").nth(1).unwrap_or("");
            let mut parts = rest.split(':');
            parts.next().is_some_and(|n| n.parse::<u32>().is_ok())
                && parts.next().is_some_and(|n| n.parse::<u32>().is_ok())
        }),
        "{r}"
    );
}

#[test]
fn validate_says_everything_at_once_in_line_order_and_keeps_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        &dir,
        "gate.json",
        r#"{"rules": [
  {"type": "monitor", "name": "m",
   "options": {"query": "env:prod", "durration": 300,
               "duration": 9000,
               "failOnNoDatta": true}},
  {"type": "faulty_deployment_detection", "name": "f", "options": {"duration": 60}}
]}
"#,
    );
    let r = run(gatepost()
        .args(["validate", "--version", "v1", "--config"])
        .arg(&config));
    assert_eq!(r.code, 2, "{r}");
    let lines: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:") || l.starts_with("warning:"))
        .collect();
    assert_eq!(lines.len(), 4, "{r}");
    for (line, (level, what)) in lines.iter().zip([
        ("error", "gate.json:3:37: rules[0].options.durration"),
        ("error", "gate.json:4:28: rules[0].options.duration"),
        ("error", "gate.json:5:16: rules[0].options.failOnNoDatta"),
        ("warning", "gate.json:6:80: rules[1].options.duration"),
    ]) {
        assert!(
            line.starts_with(&format!("{level}: ")) && line.contains(what),
            "{line}\n{r}"
        );
    }
    assert!(r.stderr.contains("3 problems found"), "{r}");

    // Opting in: the unknown keys are warnings, the duration is still a problem.
    let r = run(gatepost()
        .args([
            "validate",
            "--allow-unknown-keys",
            "--version",
            "v1",
            "--config",
        ])
        .arg(&config));
    assert_eq!(r.code, 2, "{r}");
    assert!(r.stderr.contains("1 problem found"), "{r}");
    assert_eq!(r.stderr.matches("warning:").count(), 3, "{r}");
}

#[test]
fn validate_accepts_a_good_config() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        &dir,
        "gate.json",
        r#"{"dryRun": false, "rules": [
          {"type": "monitor", "name": "Service monitors",
           "options": {"query": "service:checkout env:prod", "duration": 300}}]}"#,
    );
    let r = run(gatepost().args(["validate", "--config"]).arg(&config));
    assert_eq!(r.code, 0, "{r}");
    assert!(r.stdout.contains("is valid: 1 rule"), "{r}");
    let r = run(gatepost()
        .args(["validate", "--output", "json", "--config"])
        .arg(&config));
    assert_eq!(r.code, 0, "{r}");
    let v = r.json();
    assert_eq!(v["valid"], true);
    assert_eq!(v["configuration"]["rules"][0]["options"]["duration"], 300);
}

#[test]
fn validate_of_invalid_json_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(&dir, "gate.json", "{\"rules\": [\n  {\"type\": }\n]}");
    let r = run(gatepost().args(["validate", "--config"]).arg(&config));
    assert_eq!(r.code, 2, "{r}");
    assert!(
        r.stderr.contains("gate.json:2:"),
        "the JSON error is located:\n{r}"
    );
}

#[test]
fn schema_prints_the_config_json_schema() {
    let r = run(gatepost().arg("schema"));
    assert_eq!(r.code, 0, "{r}");
    let v = r.json();
    assert!(v.is_object(), "{r}");
}

#[test]
fn skip_exits_0_and_reports_the_reason_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let outputs = dir.path().join("github_output");
    let summary = dir.path().join("step_summary");
    let r = run(gatepost()
        .env("GITHUB_OUTPUT", &outputs)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .args([
            "gate",
            "--service",
            "checkout",
            "--env",
            "prod",
            "--skip",
            "hotfix for INC-42",
            "--output",
            "json",
        ]));
    assert_eq!(r.code, 0, "{r}");
    assert!(r.stderr.contains("SKIPPED"), "skipping is loud:\n{r}");
    assert!(r.stderr.contains("hotfix for INC-42"), "{r}");
    let v = r.json();
    assert_eq!(v["cause"], "skipped");
    assert_eq!(v["skip_reason"], "hotfix for INC-42");
    assert_eq!(v["exit_code"], 0);
    let errors = schema_errors(&outcome_schema(), &v);
    assert!(errors.is_empty(), "{errors:#?}");
    let out = std::fs::read_to_string(&outputs).unwrap();
    assert!(out.contains("status=pass\n"), "{out}");
    assert!(out.contains("cause=skipped\n"), "{out}");
    assert!(out.contains("fail_open=false\n"), "{out}");
    assert!(out.contains("evaluation_id=\n"), "{out}");
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.contains("hotfix for INC-42"), "{md}");
}

#[test]
fn skip_reason_from_the_environment() {
    let r = run(gatepost().env("GATEPOST_SKIP_REASON", "incident 7").args([
        "gate",
        "--service",
        "checkout",
        "--env",
        "prod",
    ]));
    assert_eq!(r.code, 0, "{r}");
    assert!(
        r.stdout.contains("incident 7"),
        "the report names the reason:\n{r}"
    );
}

#[test]
fn status_rejects_an_id_that_is_not_a_uuid() {
    let r = run(gatepost_with_keys().args(["status", "../../evil"]));
    assert_eq!(r.code, 2, "{r}");
}

#[test]
fn help_teaches_keys_exit_codes_and_the_emulator() {
    let r = run(gatepost().arg("--help"));
    assert_eq!(r.code, 0, "{r}");
    for needle in ["DATADOG_API_KEY", "Exit codes", "--emulator", "gate"] {
        assert!(
            r.stdout.contains(needle),
            "{needle} missing from --help:\n{r}"
        );
    }
}

#[test]
fn the_schema_checker_rejects_a_wrong_outcome() {
    // Guards the checker used by every JSON-output test: it must not accept anything.
    let schema = outcome_schema();
    let good = serde_json::to_value(gatepost_core::Outcome::skipped("x")).unwrap();
    assert!(schema_errors(&schema, &good).is_empty());
    let mut wrong_enum = good.clone();
    wrong_enum["verdict"] = serde_json::json!("maybe");
    assert!(!schema_errors(&schema, &wrong_enum).is_empty());
    let mut wrong_type = good.clone();
    wrong_type["exit_code"] = serde_json::json!("0");
    assert!(!schema_errors(&schema, &wrong_type).is_empty());
    let mut missing = good;
    missing.as_object_mut().unwrap().remove("cause");
    assert!(!schema_errors(&schema, &missing).is_empty());
}

#[test]
fn validate_reads_stdin_with_a_dash() {
    use std::io::Write;
    let mut child = gatepost()
        .args(["validate", "--config", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(
            br#"{"rules": [{"type": "monitor", "name": "m", "options": {"query": "env:prod"}}]}"#,
        )
        .unwrap();
    let r = Run::from_output(child.wait_with_output().unwrap());
    assert_eq!(r.code, 0, "{r}");
    assert!(
        r.stdout.contains("-: valid") || r.stdout.contains("is valid"),
        "{r}"
    );
}

#[test]
fn color_always_colours_even_in_a_pipe_and_never_by_default() {
    let r = run(gatepost().args([
        "gate",
        "--service",
        "s",
        "--env",
        "e",
        "--skip",
        "why",
        "--color",
        "always",
    ]));
    assert!(r.stdout.contains('\x1b'), "{r}");
    // Log lines too, styled through anstream: the warning in yellow, reset at the end of the line.
    assert!(
        r.stderr
            .contains("\x1b[33mwarning: GATE SKIPPED ON PURPOSE"),
        "{r}"
    );
    assert!(
        r.stderr
            .lines()
            .all(|l| !l.contains('\x1b') || l.ends_with("\x1b[0m")),
        "{r}"
    );
    let r = run(gatepost().env_remove("NO_COLOR").args([
        "gate",
        "--service",
        "s",
        "--env",
        "e",
        "--skip",
        "why",
    ]));
    assert!(
        !r.stdout.contains('\x1b') && !r.stderr.contains('\x1b'),
        "{r}"
    );
}

#[test]
fn output_json_prints_a_document_for_usage_errors_too() {
    // `jq` must never read empty input as success: exit 2 prints an error document on stdout.
    let r = run(gatepost_with_keys().args(["gate", "--output", "json"]));
    assert_eq!(r.code, 2, "{r}");
    let v = r.json();
    assert_eq!(v["exit_code"], 2, "{r}");
    assert_eq!(v["error"]["code"], "invalid_options", "{r}");
    let problems = v["error"]["problems"].to_string();
    assert!(problems.contains("--service is required"), "{r}");
    assert!(r.stderr.contains("--service is required"), "{r}");

    // A flag clap refuses.
    let r = run(gatepost_with_keys().args(["gate", "--output=json", "--servce", "x"]));
    assert_eq!(r.code, 2, "{r}");
    assert_eq!(r.json()["error"]["code"], "invalid_options", "{r}");

    // An invalid config names the file.
    let dir = tempfile::tempdir().unwrap();
    let config = write(&dir, "gate.json", r#"{"rules": [{"type": "monitor"}]}"#);
    let r = run(gatepost_with_keys()
        .args([
            "gate",
            "--service",
            "s",
            "--env",
            "e",
            "--output",
            "json",
            "--config",
        ])
        .arg(&config));
    assert_eq!(r.code, 2, "{r}");
    let v = r.json();
    assert_eq!(v["error"]["code"], "invalid_config", "{r}");
    assert_eq!(v["error"]["config"], config.display().to_string(), "{r}");
    assert!(
        v["error"]["problems"]
            .as_array()
            .is_some_and(|p| !p.is_empty()),
        "{r}"
    );

    // Durations are bounded by core, in the flag's seconds.
    let r = run(gatepost_with_keys().args([
        "gate",
        "--service",
        "s",
        "--env",
        "e",
        "--poll-interval",
        "0.1",
        "--output",
        "json",
    ]));
    assert_eq!(r.code, 2, "{r}");
    assert!(
        r.stderr
            .contains("--poll-interval: 0.1 is below the minimum 1 s"),
        "{r}"
    );
    assert_eq!(r.json()["exit_code"], 2, "{r}");

    // Without --output json stdout stays empty.
    let r = run(gatepost_with_keys().args(["gate"]));
    assert_eq!((r.code, r.stdout.as_str()), (2, ""), "{r}");
}

#[test]
fn hints_name_options_as_this_cli_spells_them() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        &dir,
        "gate.json",
        r#"{"rules": [{"type": "faulty_deployment_detection", "name": "f", "options": {"duration": 60, "newerOption": 1}}]}"#,
    );
    let r = run(gatepost().args(["validate", "--config"]).arg(&config));
    assert_eq!(r.code, 2, "{r}");
    assert!(
        r.stderr
            .contains("(hint: pass the version being deployed with --version)"),
        "{r}"
    );
    assert!(r.stderr.contains("use --allow-unknown-keys)"), "{r}");
    assert!(!r.stderr.contains("in the libraries"), "{r}");
    assert!(!r.stderr.contains('`'), "no core spelling left: {r}");
    // The JSON validation result speaks the same way.
    let r = run(gatepost()
        .args(["validate", "--output", "json", "--config"])
        .arg(&config));
    let hints: Vec<String> = r.json()["problems"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["hint"].as_str().map(str::to_string))
        .collect();
    assert!(
        hints
            .iter()
            .any(|h| h == "pass the version being deployed with --version"),
        "{hints:?}"
    );
}

#[test]
fn status_json_is_a_document_even_for_a_usage_error() {
    let r = run(gatepost_with_keys().args(["status", "../../evil", "--output", "json"]));
    assert_eq!(r.code, 2, "{r}");
    let doc = r.json();
    assert_eq!(doc["exit_code"], 2, "{r}");
    assert_eq!(doc["error"]["code"], "invalid_options", "{r}");
    let r = run(gatepost().args([
        "status",
        "0f4c5b36-4b1e-4a58-9c1f-3a9a1b2c3d4e",
        "--output",
        "json",
    ]));
    assert_eq!(r.code, 2, "{r}");
    let doc = r.json();
    assert_eq!(doc["error"]["code"], "invalid_options", "{r}");
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no API key"),
        "{r}"
    );
}
