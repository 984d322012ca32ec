//! The query-semantics corpus (`tests/queries/`, rules in its README): every case through
//! `query::evaluate_json`, the function every binding exposes.

#![allow(clippy::disallowed_methods)] // tests read the committed corpus from disk

use gatepost_core::query;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::PathBuf;

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/queries")
}

fn read(name: &str) -> Value {
    let path = corpus_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

#[test]
fn every_case_selects_the_expected_monitors_and_groups() {
    let index = read("index.json");
    assert_eq!(index["schema_version"], 1);
    let mut names = BTreeSet::new();
    let mut failures = Vec::new();
    let mut count = 0;
    for file in index["files"].as_array().expect("files") {
        let file = file.as_str().expect("file name");
        let topic = read(file);
        for case in topic["cases"].as_array().expect("cases") {
            let name = case["name"].as_str().expect("name");
            assert!(names.insert(name.to_string()), "duplicate case {name}");
            assert!(case["description"].is_string(), "{name}: description");
            let monitors = case.get("monitors").unwrap_or(&topic["monitors"]);
            let query = case["query"].as_str().expect("query");
            count += 1;
            match query::evaluate_json(query, monitors) {
                Ok(matches) => {
                    let got = serde_json::to_value(&matches).unwrap();
                    if got != case["expect"] {
                        failures.push(format!(
                            "{file} {name}: {query}\n  expected {}\n  got      {got}",
                            case["expect"]
                        ));
                    }
                }
                Err(e) => failures.push(format!("{file} {name}: {e}")),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(count >= 40, "the corpus has only {count} cases");
}
