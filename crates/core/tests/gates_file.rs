//! The gates file: every problem with its path (and line and column for text), rules checked by
//! the config file's own checker, and `export` read back unchanged.

use gatepost_core::ConfigInput;
use gatepost_core::gates::{self, LiveGate, LiveRule, file};
use serde_json::json;

fn problems(text: &str) -> Vec<String> {
    file::parse(&ConfigInput::Text(text.into()))
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn every_problem_has_its_path_line_and_column() {
    let text = r#"{"gates": [
  {"service": "checkout", "env": "prod", "dryrun": true, "rules": [
    {"type": "monitor", "name": "m", "options": {"query": "service:checkout", "duration": 9000}},
    {"type": "moniter", "name": "m2", "options": {}}]},
  {"service": "", "env": "prod", "rules": []},
  {"env": "prod", "rules": "none"}
]}"#;
    assert_eq!(
        problems(text),
        [
            "gates[0].dryrun (line 2, column 42): unknown key \"dryrun\" at gates[0]; did you mean \"dryRun\"?",
            "gates[0].rules[0].options.duration (line 3, column 91): 9000 is above the maximum 7200; durations are in seconds; 7200 is 2 hours",
            "gates[0].rules[1].type (line 4, column 14): unknown rule type \"moniter\"; did you mean \"monitor\"?",
            "gates[1].service (line 5, column 15): must not be empty",
            "gates[2] (line 6, column 3): a gate needs a \"service\"",
            "gates[2].rules (line 6, column 28): must be an array of rules, not a string",
        ]
    );
}

#[test]
fn duplicate_gates_and_keys_are_problems() {
    let text = r#"{"gates": [
  {"service": "a", "env": "prod", "rules": []},
  {"service": "a", "env": "prod", "identifier": "default", "dry_run": true, "dryRun": true, "rules": []}]}"#;
    let p = problems(text);
    assert_eq!(p.len(), 2, "{p:#?}");
    assert!(
        p[0].starts_with(
            "gates[1].dryRun (line 3, column 77): \"dry_run\" and \"dryRun\" are the same key"
        ),
        "{p:#?}"
    );
    assert!(p[1].contains("already declared at gates[0]"), "{p:#?}");
}

#[test]
fn missing_rules_and_empty_scope_are_problems() {
    let p = problems(r#"{"scope": {}, "gates": [{"service": "a", "env": "b"}]}"#);
    assert_eq!(p.len(), 2, "{p:#?}");
    assert!(
        p[0].starts_with("scope (line 1, column 11): an empty scope"),
        "{p:#?}"
    );
    assert!(p[1].contains("a gate needs \"rules\""), "{p:#?}");
    assert!(problems("[]")[0].contains("must be an object"));
    assert!(problems("{\"gates\": [").len() == 1);
}

#[test]
fn fdd_rules_need_no_version_and_camel_case_is_translated() {
    let f = file::parse(&ConfigInput::Value(
        json!({"gates": [{"service": "a", "env": "b", "dryRun": true,
        "rules": [{"type": "faulty_deployment_detection", "name": "apm",
                   "options": {"excludedResources": ["GET /h"]}}]}]}),
    ))
    .unwrap();
    assert_eq!(f.gates[0].dry_run, Some(true));
    assert_eq!(f.gates[0].identifier, None);
    assert_eq!(
        f.gates[0].rules[0]["options"],
        json!({"excluded_resources": ["GET /h"]})
    );
}

#[test]
fn an_export_reads_back_as_the_same_gates() {
    let live = vec![LiveGate {
        id: "11111111-1111-4111-8111-000000000001".into(),
        service: "checkout".into(),
        env: "prod".into(),
        identifier: "default".into(),
        dry_run: true,
        rules: vec![LiveRule {
            id: None,
            name: "m".into(),
            rule_type: "monitor".into(),
            dry_run: false,
            options: json!({"query": "service:checkout", "duration": 300, "monitor_ids": null}),
        }],
    }];
    let exported = file::export(&live);
    let parsed = file::parse(&ConfigInput::Value(exported)).unwrap();
    let plan = gates::plan::plan(&parsed, &live, None);
    assert!(!plan.has_changes(), "{plan:#?}");
    assert_eq!(
        gates::render_text(&plan),
        "No changes: the gates match the file.\n"
    );
}
