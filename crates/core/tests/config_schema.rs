//! The committed `schemas/config.schema.json` must match `config::json_schema()`. Run with
//! `UPDATE_SCHEMAS=1` to rewrite it after a deliberate change.

// A test may read and write the repository's files; the engine itself may not.
#![allow(clippy::disallowed_methods)]

use gatepost_core::config;
use serde_json::json;
use std::path::PathBuf;

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas/config.schema.json")
}

#[test]
fn committed_config_schema_matches_the_types() {
    let path = committed_path();
    let expected = serde_json::to_string_pretty(&config::json_schema()).unwrap() + "\n";
    if std::env::var_os("UPDATE_SCHEMAS").is_some() {
        std::fs::write(&path, &expected).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == expected,
        "{} is stale: run `UPDATE_SCHEMAS=1 cargo test -p gatepost-core --test config_schema`",
        path.display()
    );
}

/// The schema and the validator describe the same file: spot-check the parts editors rely on.
#[test]
fn schema_accepts_both_spellings_and_bounds_durations() {
    let schema = config::json_schema();
    let text = schema.to_string();
    for key in [
        "dryRun",
        "dry_run",
        "failOnNoData",
        "fail_on_no_data",
        "monitorIds",
        "monitor_ids",
        "excludedResources",
        "excluded_resources",
        "includedResources",
        "allowedResources",
        "allowed_resources",
        "faulty_deployment_detection",
    ] {
        assert!(text.contains(&format!("\"{key}\"")), "schema lacks {key}");
    }
    assert!(
        text.contains("\"maximum\":7200"),
        "duration maximum missing"
    );
    assert_eq!(schema["required"], json!(["rules"]));
    assert_eq!(schema["additionalProperties"], json!(false));
}
