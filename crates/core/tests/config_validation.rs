//! The config file: translation to the API's snake_case, and every validation rule, with paths,
//! hints and positions.

use gatepost_core::config::{self, ParsedConfig, RuleSummary, ValidateContext};
use gatepost_core::{ConfigInput, Problem};
use serde_json::{Value, json};

const STRICT: ValidateContext<'static> = ValidateContext {
    version: Some("v1.2.3"),
    strict_queries: true,
    allow_unknown_keys: false,
};

fn ok_text(text: &str) -> ParsedConfig {
    config::parse(&ConfigInput::Text(text.to_string()), &STRICT)
        .unwrap_or_else(|p| panic!("should be valid: {p:#?}"))
}

fn ok_value(v: Value) -> ParsedConfig {
    config::parse(&ConfigInput::Value(v), &STRICT)
        .unwrap_or_else(|p| panic!("should be valid: {p:#?}"))
}

fn problems_text(text: &str) -> Vec<Problem> {
    config::parse(&ConfigInput::Text(text.to_string()), &STRICT).expect_err("should be invalid")
}

fn problems(v: Value) -> Vec<Problem> {
    config::parse(&ConfigInput::Value(v), &STRICT).expect_err("should be invalid")
}

fn monitor(options: Value) -> Value {
    json!({"rules": [{"type": "monitor", "name": "m", "options": options}]})
}

fn fdd(options: Value) -> Value {
    json!({"rules": [{"type": "faulty_deployment_detection", "name": "f", "options": options}]})
}

#[track_caller]
fn one_problem(v: Value) -> Problem {
    let mut p = problems(v);
    assert_eq!(p.len(), 1, "{p:#?}");
    p.remove(0)
}

#[test]
fn api_md_example_translates_to_the_api_shape() {
    let parsed = ok_text(
        r#"{"dryRun": false, "rules": [
  {"type": "monitor", "name": "Service monitors",
   "options": {"query": "service:transaction-backend env:production", "duration": 300}},
  {"type": "faulty_deployment_detection", "name": "APM Faulty Deployment Detection",
   "options": {"duration": 900, "excluded_resources": ["GET /healthcheck"]}}]}"#,
    );
    assert_eq!(
        parsed.configuration,
        json!({"dry_run": false, "rules": [
            {"type": "monitor", "name": "Service monitors",
             "options": {"query": "service:transaction-backend env:production", "duration": 300}},
            {"type": "faulty_deployment_detection", "name": "APM Faulty Deployment Detection",
             "options": {"duration": 900, "excluded_resources": ["GET /healthcheck"]}}]})
    );
    assert!(!parsed.dry_run);
    assert!(parsed.warnings.is_empty(), "{:#?}", parsed.warnings);
    assert_eq!(
        parsed.rules,
        vec![
            RuleSummary {
                name: "Service monitors".into(),
                rule_type: "monitor".into(),
                dry_run: false,
                duration_s: 300,
                warmup_s: 0
            },
            RuleSummary {
                name: "APM Faulty Deployment Detection".into(),
                rule_type: "faulty_deployment_detection".into(),
                dry_run: false,
                duration_s: 900,
                warmup_s: 0
            },
        ]
    );
}

#[test]
fn camel_case_keys_become_snake_case_at_every_level() {
    let parsed = ok_value(json!({"dryRun": true, "rules": [
        {"type": "monitor", "name": "m", "dryRun": true,
         "options": {"query": "env:prod", "duration": 60, "warmup": 30,
                     "failOnNoData": false, "failOnNoGroupsFound": true}},
        {"type": "monitor", "name": "ids",
         "options": {"monitorIds": [{"id": "12", "groups": ["host:a"]}]}},
        {"type": "faulty_deployment_detection", "name": "f",
         "options": {"duration": 900, "includedResources": ["GET /a"]}},
        {"type": "faulty_deployment_detection", "name": "g",
         "options": {"excludedResources": ["GET /b"]}}]}));
    assert_eq!(
        parsed.configuration,
        json!({"dry_run": true, "rules": [
            {"type": "monitor", "name": "m", "dry_run": true,
             "options": {"query": "env:prod", "duration": 60, "warmup": 30,
                         "fail_on_no_data": false, "fail_on_no_groups_found": true}},
            {"type": "monitor", "name": "ids",
             "options": {"monitor_ids": [{"id": "12", "groups": ["host:a"]}]}},
            {"type": "faulty_deployment_detection", "name": "f",
             "options": {"duration": 900, "allowed_resources": ["GET /a"]}},
            {"type": "faulty_deployment_detection", "name": "g",
             "options": {"excluded_resources": ["GET /b"]}}]})
    );
    assert!(parsed.dry_run);
    assert_eq!(parsed.rules[0].warmup_s, 30);
    assert_eq!(parsed.rules[0].duration_s, 60);
    // Every rule runs dry: the first says so, the others inherit the gate's dry run.
    assert!(parsed.rules.iter().all(|r| r.dry_run));
}

#[test]
fn snake_case_keys_are_accepted_too() {
    let parsed = ok_value(json!({"dry_run": true, "rules": [
        {"type": "monitor", "name": "m", "dry_run": true,
         "options": {"query": "env:prod", "fail_on_no_data": true, "fail_on_no_groups_found": false}},
        {"type": "faulty_deployment_detection", "name": "f",
         "options": {"allowed_resources": ["GET /a"]}},
        {"type": "faulty_deployment_detection", "name": "g",
         "options": {"included_resources": ["GET /a"]}},
        {"type": "faulty_deployment_detection", "name": "h",
         "options": {"allowedResources": ["GET /a"]}}]}));
    let rules = parsed.configuration["rules"].as_array().unwrap();
    assert_eq!(rules[0]["dry_run"], json!(true));
    for rule in &rules[1..] {
        assert_eq!(rule["options"], json!({"allowed_resources": ["GET /a"]}));
    }
}

#[test]
fn dry_run_is_sent_only_where_the_file_gives_it() {
    // Not written anywhere: not sent anywhere (the server's default applies).
    let parsed = ok_value(monitor(json!({"query": "env:prod"})));
    assert_eq!(
        parsed.configuration,
        json!({"rules": [{"type": "monitor", "name": "m", "options": {"query": "env:prod"}}]})
    );
    // A dry-run gate: no rule gets an explicit false that would re-arm it.
    let parsed = ok_value(json!({"dryRun": true, "rules": [
        {"type": "monitor", "name": "a", "options": {"query": "env:prod"}},
        {"type": "monitor", "name": "b", "options": {"query": "env:dev"}}]}));
    assert_eq!(parsed.configuration["dry_run"], json!(true));
    for rule in parsed.configuration["rules"].as_array().unwrap() {
        assert!(rule.get("dry_run").is_none(), "{rule}");
    }
    // One rule at dry run: only that rule carries it.
    let parsed = ok_value(json!({"rules": [
        {"type": "monitor", "name": "a", "dryRun": true, "options": {"query": "env:prod"}},
        {"type": "monitor", "name": "b", "options": {"query": "env:dev"}}]}));
    assert!(parsed.configuration.get("dry_run").is_none());
    assert_eq!(parsed.configuration["rules"][0]["dry_run"], json!(true));
    assert!(parsed.configuration["rules"][1].get("dry_run").is_none());
    assert!(parsed.rules[0].dry_run && !parsed.rules[1].dry_run);
    // An explicit false is the user's choice, and is sent.
    let parsed = ok_value(json!({"dryRun": true, "rules": [
        {"type": "monitor", "name": "a", "dryRun": false, "options": {"query": "env:prod"}}]}));
    assert_eq!(parsed.configuration["rules"][0]["dry_run"], json!(false));
    assert!(!parsed.rules[0].dry_run);
}

#[test]
fn fdd_rule_without_options_sends_no_options() {
    let parsed = ok_value(json!({"rules": [{"type": "faulty_deployment_detection", "name": "f"}]}));
    assert_eq!(
        parsed.configuration,
        json!({"rules": [{"type": "faulty_deployment_detection", "name": "f"}]})
    );
    // Written empty: sent empty.
    let parsed = ok_value(fdd(json!({})));
    assert_eq!(parsed.configuration["rules"][0]["options"], json!({}));
}

#[test]
fn unknown_option_keys_are_problems_with_did_you_mean() {
    let p = problems(monitor(
        json!({"query": "env:prod", "futureOption": {"a": [1]}, "durration": 5}),
    ));
    assert_eq!(p.len(), 2, "{p:#?}");
    let typo = p
        .iter()
        .find(|w| w.path == "rules[0].options.durration")
        .unwrap();
    assert_eq!(typo.hint.as_deref(), Some("did you mean \"duration\"?"));
    let future = p
        .iter()
        .find(|w| w.path == "rules[0].options.futureOption")
        .unwrap();
    // The option is named once, in core's spelling; each host respells it for its users.
    let hint = future.hint.clone().unwrap();
    assert!(hint.contains("use `allow_unknown_keys`"), "{future:#?}");
    let for_cli = future
        .clone()
        .spelled(gatepost_core::options::Spelling::Flag);
    assert!(
        for_cli.hint.unwrap().contains("use --allow-unknown-keys"),
        "{hint}"
    );
    let for_js = future
        .clone()
        .spelled(gatepost_core::options::Spelling::Camel);
    assert!(
        for_js.hint.unwrap().contains("use `allowUnknownKeys`"),
        "{hint}"
    );
    let p = one_problem(fdd(
        json!({"duration": 900, "excludedResource": ["GET /a"]}),
    ));
    assert_eq!(p.path, "rules[0].options.excludedResource");
    assert_eq!(
        p.hint.as_deref(),
        Some("did you mean \"excludedResources\"?")
    );
}

#[test]
fn allow_unknown_keys_makes_them_warnings_passed_through_at_every_level() {
    let ctx = ValidateContext {
        allow_unknown_keys: true,
        ..STRICT
    };
    let config = json!({"gateKnob": 1, "rules": [
        {"type": "monitor", "name": "m", "ruleKnob": "x",
         "options": {"query": "env:prod", "futureOption": {"a": [1]}, "durration": 5,
                     "monitor_ids_unused": null}}]});
    let parsed = config::parse(&ConfigInput::Value(config), &ctx).unwrap();
    assert_eq!(
        parsed.configuration,
        json!({"gateKnob": 1, "rules": [
            {"type": "monitor", "name": "m", "ruleKnob": "x",
             "options": {"query": "env:prod", "futureOption": {"a": [1]}, "durration": 5,
                         "monitor_ids_unused": null}}]})
    );
    assert_eq!(parsed.warnings.len(), 5, "{:#?}", parsed.warnings);
    let typo = parsed
        .warnings
        .iter()
        .find(|w| w.path == "rules[0].options.durration")
        .unwrap();
    assert_eq!(typo.hint.as_deref(), Some("did you mean \"duration\"?"));
    assert!(typo.message.contains("passed through unchanged"));
}

#[test]
fn an_option_of_the_other_rule_type_is_named_specifically() {
    let p = one_problem(fdd(json!({"duration": 900, "query": "env:prod"})));
    assert!(
        p.message
            .contains("it is an option of monitor rules, not of this rule's type"),
        "{p:#?}"
    );
}

#[test]
fn every_problem_and_warning_of_a_file_in_one_run_in_line_order() {
    let text = r#"{"rules": [
  {"type": "monitor", "name": "m",
   "options": {"query": "env:prod", "durration": 300,
               "duration": 9000,
               "warmupp": 5}},
  {"name": "untyped",
   "options": {"duration": 7201, "excludedResourcez": []}},
  {"type": "faulty_deployment_detection", "name": "f", "options": {"duration": 60}}]}"#;
    let invalid = config::check(&ConfigInput::Text(text.into()), &STRICT).unwrap_err();
    let paths: Vec<&str> = invalid.problems.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "rules[0].options.durration",
            "rules[0].options.duration",
            "rules[0].options.warmupp",
            "rules[1]",
            "rules[1].options.duration",
            "rules[1].options.excludedResourcez",
        ],
        "{:#?}",
        invalid.problems
    );
    let lines: Vec<u32> = invalid.problems.iter().map(|p| p.line.unwrap()).collect();
    assert!(lines.is_sorted(), "{lines:?}");
    // The warning (a short FDD window) is kept although the file is invalid.
    assert_eq!(invalid.warnings.len(), 1, "{:#?}", invalid.warnings);
    assert_eq!(invalid.warnings[0].path, "rules[2].options.duration");
    let v = gatepost_core::validate(&ConfigInput::Text(text.into()), Some("v1"), false);
    assert!(!v.valid);
    assert_eq!(v.problems.len(), 6);
    assert_eq!(v.warnings.len(), 1);
}

#[test]
fn unknown_top_and_rule_keys_are_problems_with_did_you_mean() {
    let p = problems(json!({"dryrun": true, "rules": [
        {"type": "monitor", "name": "m", "dryrun": true, "options": {"query": "a"}}]}));
    assert_eq!(p.len(), 2, "{p:#?}");
    assert_eq!(p[0].path, "dryrun");
    assert_eq!(p[0].message, "unknown key \"dryrun\" at the top level");
    assert_eq!(p[1].path, "rules[0].dryrun");
    assert_eq!(p[1].message, "unknown key \"dryrun\" at rules[0]");
    assert_eq!(p[1].hint.as_deref(), Some("did you mean \"dryRun\"?"));
    assert_eq!(
        format!("{}", p[1]),
        "rules[0].dryrun: unknown key \"dryrun\" at rules[0]; did you mean \"dryRun\"?"
    );
}

#[test]
fn misplaced_keys_get_a_hint_where_they_belong() {
    let p = problems(json!({"service": "web", "rules": [
        {"type": "monitor", "name": "m", "query": "env:prod", "options": {"query": "a"}}]}));
    assert_eq!(p.len(), 2, "{p:#?}");
    assert!(
        p[0].hint.as_deref().unwrap().contains("--service"),
        "{p:#?}"
    );
    assert_eq!(
        p[1].hint.as_deref(),
        Some("\"query\" belongs inside \"options\"")
    );
}

#[test]
fn unknown_key_far_from_any_known_key_lists_the_known_keys() {
    let p = one_problem(json!({"rules": [
        {"type": "monitor", "name": "m", "zzzzzz": 1, "options": {"query": "a"}}]}));
    assert!(p.hint.unwrap().starts_with("known keys here:"));
}

#[test]
fn the_same_key_in_two_spellings_is_a_problem() {
    let p = one_problem(json!({"dryRun": true, "dry_run": true, "rules": [
        {"type": "monitor", "name": "m", "options": {"query": "a"}}]}));
    assert!(
        p.message
            .contains("\"dryRun\" and \"dry_run\" are the same key"),
        "{p}"
    );
    let p = one_problem(fdd(
        json!({"includedResources": ["a"], "allowedResources": ["b"]}),
    ));
    assert!(p.message.contains("same key"), "{p}");
    let p = one_problem(monitor(
        json!({"query": "a", "failOnNoData": true, "fail_on_no_data": false}),
    ));
    assert_eq!(p.path, "rules[0].options.fail_on_no_data");
}

#[test]
fn a_key_written_twice_in_text_is_a_problem() {
    let p = problems_text(
        r#"{"rules": [{"type": "monitor", "name": "a", "name": "b", "options": {"query": "x"}}]}"#,
    );
    assert_eq!(p.len(), 1, "{p:#?}");
    assert_eq!(p[0].message, "key \"name\" appears twice at rules[0]");
    assert_eq!((p[0].line, p[0].column), (Some(1), Some(45)));
}

#[test]
fn rules_must_be_a_non_empty_array() {
    assert_eq!(
        one_problem(json!({})).message,
        "missing \"rules\": the config needs a non-empty array of rules"
    );
    let p = one_problem(json!({"rules": []}));
    assert_eq!(
        (p.path.as_str(), p.message.as_str()),
        ("rules", "must hold at least one rule")
    );
    assert_eq!(
        one_problem(json!({"rules": {}})).message,
        "must be an array of rules, not an object"
    );
    let p = one_problem(json!([1]));
    assert_eq!(p.path, "");
    assert!(p.message.contains("must be a JSON object"));
}

#[test]
fn rules_need_a_name_and_a_known_type() {
    let p = problems(json!({"rules": [
        {"type": "monitor", "options": {"query": "a"}},
        {"type": "monitor", "name": "", "options": {"query": "a"}},
        {"type": "monitor", "name": 3, "options": {"query": "a"}},
        {"name": "n", "options": {}},
        {"type": "moniyor", "name": "t", "options": {}},
        {"type": "apm", "name": "u", "options": {}},
        "rule"]}));
    let got: Vec<(&str, &str)> = p
        .iter()
        .map(|p| (p.path.as_str(), p.message.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("rules[0]", "a rule needs a \"name\""),
            ("rules[1].name", "must not be empty"),
            ("rules[2].name", "must be a string, not a number"),
            ("rules[3]", "a rule needs a \"type\""),
            ("rules[4].type", "unknown rule type \"moniyor\""),
            ("rules[5].type", "unknown rule type \"apm\""),
            ("rules[6]", "a rule must be an object, not a string"),
        ]
    );
    assert_eq!(p[4].hint.as_deref(), Some("did you mean \"monitor\"?"));
    assert_eq!(
        p[5].hint.as_deref(),
        Some("use \"monitor\" or \"faulty_deployment_detection\"")
    );
}

#[test]
fn rule_names_are_unique() {
    let p = one_problem(json!({"rules": [
        {"type": "monitor", "name": "same", "options": {"query": "a"}},
        {"type": "faulty_deployment_detection", "name": "same"}]}));
    assert_eq!(p.path, "rules[1].name");
    assert_eq!(p.message, "rule name \"same\" is already used by rules[0]");
}

#[test]
fn monitor_rules_need_exactly_one_of_query_and_monitor_ids() {
    let p = one_problem(monitor(json!({"duration": 5})));
    assert_eq!(p.path, "rules[0].options");
    assert!(p.message.contains("needs a \"query\""));
    let p = one_problem(monitor(json!({"query": "a", "monitorIds": [{"id": 1}]})));
    assert!(p.message.contains("not both"));
    let p = one_problem(json!({"rules": [{"type": "monitor", "name": "m"}]}));
    assert_eq!(p.path, "rules[0]");
    assert!(p.message.contains("needs \"options\""));
}

#[test]
fn monitor_ids_entries_are_checked() {
    let p = problems(monitor(json!({"monitor_ids": [
        {"id": 12, "groups": []},
        {"groups": ["a"]},
        {"id": "5", "groups": [""]},
        7,
        {"id": "12"},
        {"id": "abc", "groups": [], "group": []}]})));
    let got: Vec<(&str, &str)> = p
        .iter()
        .map(|p| (p.path.as_str(), p.message.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "rules[0].options.monitor_ids[0].id",
                "must be a string: the API takes monitor ids as strings"
            ),
            (
                "rules[0].options.monitor_ids[1]",
                "a monitor entry needs an \"id\""
            ),
            (
                "rules[0].options.monitor_ids[2].groups[0]",
                "must not be empty"
            ),
            (
                "rules[0].options.monitor_ids[3]",
                "a monitor entry must be an object, not a number"
            ),
            (
                "rules[0].options.monitor_ids[4]",
                "a monitor entry needs \"groups\""
            ),
            (
                "rules[0].options.monitor_ids[5].id",
                "must be a monitor's decimal id, not \"abc\""
            ),
            (
                "rules[0].options.monitor_ids[5].group",
                "unknown key \"group\" at rules[0].options.monitor_ids[5]"
            ),
        ]
    );
    assert_eq!(p[0].hint.as_deref(), Some("write \"12\" in quotes"));
    assert_eq!(
        p[4].hint.as_deref(),
        Some("\"groups\": [] evaluates every group of the monitor")
    );
    assert_eq!(
        one_problem(monitor(json!({"monitor_ids": []}))).message,
        "must hold at least one monitor"
    );
    // The published shape is sent as written.
    let parsed = ok_value(monitor(
        json!({"monitorIds": [{"id": "12", "groups": []}, {"id": "7", "groups": ["host:a"]}]}),
    ));
    assert_eq!(
        parsed.configuration["rules"][0]["options"],
        json!({"monitor_ids": [{"id": "12", "groups": []}, {"id": "7", "groups": ["host:a"]}]})
    );
}

#[test]
fn duration_bounds_and_types() {
    let p = one_problem(monitor(json!({"query": "a", "duration": 9000})));
    assert_eq!(p.path, "rules[0].options.duration");
    assert_eq!(p.message, "9000 is above the maximum 7200");
    assert_eq!(
        format!("{p}"),
        "rules[0].options.duration: 9000 is above the maximum 7200; durations are in seconds; 7200 is 2 hours"
    );
    assert_eq!(
        one_problem(monitor(json!({"query": "a", "duration": -1}))).message,
        "-1 is below the minimum 0"
    );
    assert_eq!(
        one_problem(monitor(json!({"query": "a", "duration": 1.5}))).message,
        "1.5 is not a whole number of seconds"
    );
    let p = one_problem(monitor(json!({"query": "a", "duration": "300"})));
    assert_eq!(p.message, "must be a number of seconds, not a string");
    assert_eq!(p.hint.as_deref(), Some("write 300 without quotes"));
    assert_eq!(
        one_problem(fdd(json!({"duration": 7201}))).message,
        "7201 is above the maximum 7200"
    );
    ok_value(monitor(json!({"query": "a", "duration": 0})));
    ok_value(monitor(json!({"query": "a", "duration": 7200})));
}

#[test]
fn whole_float_durations_are_sent_as_integers() {
    let parsed = ok_value(monitor(
        json!({"query": "a", "duration": 300.0, "warmup": 1e2}),
    ));
    assert_eq!(
        parsed.configuration["rules"][0]["options"],
        json!({"query": "a", "duration": 300, "warmup": 100})
    );
    assert_eq!(parsed.rules[0].duration_s, 300);
}

#[test]
fn warmup_is_a_bounded_non_negative_number() {
    assert_eq!(
        one_problem(monitor(json!({"query": "a", "warmup": -5}))).message,
        "-5 is below the minimum 0"
    );
    assert_eq!(
        ok_value(monitor(json!({"query": "a", "warmup": 86400}))).rules[0].warmup_s,
        86400
    );
    // Found by the hardening suite: u64::MAX was accepted, breaking the "below 2^53" rule.
    assert_eq!(
        one_problem(monitor(json!({"query": "a", "warmup": u64::MAX}))).message,
        "18446744073709551615 is above the maximum 86400"
    );
}

#[test]
fn booleans_must_be_booleans() {
    let p = problems(json!({"dryRun": "true", "rules": [
        {"type": "monitor", "name": "m", "dry_run": 1,
         "options": {"query": "a", "failOnNoData": "no", "fail_on_no_groups_found": null}}]}));
    let got: Vec<(&str, &str)> = p
        .iter()
        .map(|p| (p.path.as_str(), p.message.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("dryRun", "must be true or false, not a string"),
            ("rules[0].dry_run", "must be true or false, not a number"),
            (
                "rules[0].options.failOnNoData",
                "must be true or false, not a string"
            ),
            (
                "rules[0].options.fail_on_no_groups_found",
                "must be true or false, not null"
            ),
        ]
    );
    assert_eq!(p[0].hint.as_deref(), Some("write true without quotes"));
}

#[test]
fn resources_are_arrays_of_non_empty_strings_and_exclusive() {
    let p = problems(fdd(
        json!({"excluded_resources": "GET /a", "allowedResources": ["", 3]}),
    ));
    let got: Vec<(&str, &str)> = p
        .iter()
        .map(|p| (p.path.as_str(), p.message.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "rules[0].options.excluded_resources",
                "must be an array of strings, not a string"
            ),
            ("rules[0].options.allowedResources[0]", "must not be empty"),
            (
                "rules[0].options.allowedResources[1]",
                "must be a string, not a number"
            ),
            (
                "rules[0].options",
                "\"excluded_resources\" and \"allowedResources\" cannot both be given"
            ),
        ]
    );
}

#[test]
fn fdd_rules_need_a_version() {
    let cfg = json!({"rules": [{"type": "faulty_deployment_detection", "name": "f", "options": {"duration": 900}}]});
    for version in [None, Some(""), Some("  ")] {
        let ctx = ValidateContext {
            version,
            strict_queries: true,
            allow_unknown_keys: false,
        };
        let p = config::parse(&ConfigInput::Value(cfg.clone()), &ctx).unwrap_err();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].path, "rules[0]");
        assert_eq!(
            p[0].hint.as_deref(),
            Some("pass the version being deployed with `version`"),
            "{p:#?}"
        );
        let for_cli = p[0].clone().spelled(gatepost_core::options::Spelling::Flag);
        assert_eq!(
            for_cli.hint.as_deref(),
            Some("pass the version being deployed with --version")
        );
    }
    let ctx = ValidateContext {
        version: None,
        strict_queries: true,
        allow_unknown_keys: false,
    };
    config::parse(&ConfigInput::Value(monitor(json!({"query": "a"}))), &ctx)
        .expect("monitor rules need no version");
}

#[test]
fn short_fdd_duration_warns() {
    let parsed = ok_value(fdd(json!({"duration": 300})));
    assert_eq!(parsed.warnings.len(), 1);
    assert_eq!(parsed.warnings[0].path, "rules[0].options.duration");
}

#[test]
fn a_bad_query_is_a_problem_when_strict_and_a_warning_otherwise() {
    let text = "{\"rules\": [{\"type\": \"monitor\", \"name\": \"m\",\n  \"options\": {\"query\": \"env:prod service:\\\"checkout\"}}]}";
    let p = problems_text(text);
    assert_eq!(p.len(), 1, "{p:#?}");
    assert_eq!(p[0].path, "rules[0].options.query");
    assert_eq!(p[0].message, "column 18: unclosed quote");
    // The query string starts at column 24 of line 2; its 18th character, the quote, was written
    // as `\"`, at column 24 + 1 + 17.
    assert_eq!((p[0].line, p[0].column), (Some(2), Some(42)));
    assert!(
        format!("{}", p[0])
            .starts_with("rules[0].options.query (line 2, column 42): column 18: unclosed quote")
    );

    let lenient = ValidateContext {
        version: Some("v1"),
        strict_queries: false,
        allow_unknown_keys: false,
    };
    let parsed = config::parse(&ConfigInput::Text(text.into()), &lenient).unwrap();
    assert_eq!(parsed.warnings.len(), 1);
    assert_eq!(parsed.warnings[0].message, "column 18: unclosed quote");
    assert_eq!(
        parsed.configuration["rules"][0]["options"]["query"],
        json!("env:prod service:\"checkout")
    );
}

#[test]
fn empty_or_non_string_query_is_always_a_problem() {
    let lenient = ValidateContext {
        version: Some("v1"),
        strict_queries: false,
        allow_unknown_keys: false,
    };
    for q in [json!(""), json!(5)] {
        assert!(
            config::parse(&ConfigInput::Value(monitor(json!({"query": q}))), &lenient).is_err()
        );
    }
}

#[test]
fn every_problem_is_reported_at_once() {
    let p = problems(json!({"dryrun": 1, "rules": [
        {"type": "moniyor", "name": ""},
        {"type": "monitor", "name": "m", "options": {"query": "(a", "duration": 9000}},
        {"type": "faulty_deployment_detection", "name": "m",
         "options": {"excludedResources": [], "includedResources": []}}]}));
    assert_eq!(p.len(), 7, "{p:#?}");
}

#[test]
fn problems_carry_line_and_column_from_text() {
    let text = r#"{
  "rules": [
    {
      "type": "monitor",
      "name": "m",
      "dryrun": true,
      "options": {"query": "env:prod", "duration": 9000}
    }
  ]
}"#;
    let p = problems_text(text);
    assert_eq!(p.len(), 2, "{p:#?}");
    assert_eq!(
        (p[0].path.as_str(), p[0].line, p[0].column),
        ("rules[0].dryrun", Some(6), Some(7))
    );
    assert_eq!(
        (p[1].path.as_str(), p[1].line, p[1].column),
        ("rules[0].options.duration", Some(7), Some(52))
    );
    // The same document as a value: the same problems without positions.
    let v: Value = serde_json::from_str(text).unwrap();
    let without: Vec<Problem> = problems(v);
    assert_eq!(without.len(), 2);
    assert!(
        without
            .iter()
            .all(|p| p.line.is_none() && p.column.is_none())
    );
    assert_eq!(without[1].message, p[1].message);
}

#[test]
fn syntax_errors_have_line_and_column() {
    let p = problems_text("{\"rules\": [\n  {\"type\": \"monitor\",}\n]}");
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].path, "");
    assert!(
        p[0].message.starts_with("invalid JSON: trailing comma"),
        "{p:#?}"
    );
    assert_eq!(p[0].line, Some(2));
    assert!(p[0].column.is_some());
    let p = problems_text("{\"rules\": [");
    assert!(p[0].hint.as_deref().unwrap().contains("ends too early"));
    let p = problems_text("");
    assert_eq!((p[0].line, p[0].column), (Some(1), Some(1)));
}

#[test]
fn a_byte_order_mark_is_ignored() {
    ok_text(
        "\u{feff}{\"rules\": [{\"type\": \"monitor\", \"name\": \"m\", \"options\": {\"query\": \"a\"}}]}",
    );
}

#[test]
fn schema_key_is_allowed_and_not_sent() {
    let parsed = ok_value(json!({"$schema": "./config.schema.json", "rules": [
        {"type": "monitor", "name": "m", "options": {"query": "a"}}]}));
    assert!(parsed.configuration.get("$schema").is_none());
}

#[test]
fn odd_keys_get_bracketed_paths() {
    let p = one_problem(
        json!({"rules": [{"type": "monitor", "name": "m", "a b": 1, "options": {"query": "a"}}]}),
    );
    assert_eq!(p.path, "rules[0][\"a b\"]");
}

#[test]
fn did_you_mean_ignores_case_and_separators() {
    let keys = ["dryRun", "dry_run", "rules"];
    assert_eq!(config::did_you_mean("DryRun", &keys), Some("dryRun"));
    assert_eq!(config::did_you_mean("dry-run", &keys), Some("dry_run"));
    assert_eq!(config::did_you_mean("dry_rn", &keys), Some("dry_run"));
    assert_eq!(config::did_you_mean("rule", &keys), Some("rules"));
    assert_eq!(config::did_you_mean("options", &keys), None);
}

#[test]
fn validate_reports_the_configuration_or_the_problems() {
    let v = gatepost_core::validate(
        &ConfigInput::Value(monitor(json!({"query": "a"}))),
        None,
        false,
    );
    assert!(v.valid);
    assert_eq!(
        v.configuration.unwrap()["rules"][0]["type"],
        json!("monitor")
    );
    let v = gatepost_core::validate(
        &ConfigInput::Value(monitor(json!({"query": "(a"}))),
        None,
        false,
    );
    assert!(!v.valid);
    assert_eq!(
        v.problems[0].message,
        "column 1: unbalanced parenthesis: this \"(\" is never closed"
    );
}
