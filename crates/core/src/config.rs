//! The pipeline config file (the datadog-ci / GitHub Action / Argo format): parsing, translation
//! from camelCase to the API's snake_case, and validation.
//!
//! PLACEHOLDER IMPLEMENTATION: the public signatures below are the contract the engine relies on;
//! the full parser/validator replaces the bodies.

use crate::error::Problem;
use crate::options::ConfigInput;
use serde_json::Value;

/// What validation needs to know besides the file itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct ValidateContext<'a> {
    /// The version being deployed (`faulty_deployment_detection` rules need one).
    pub version: Option<&'a str>,
    /// `true` for `validate`: a monitor query that does not parse is a problem. `false` when
    /// evaluating: it is a warning, because the server has the last word.
    pub strict_queries: bool,
}

/// A rule as the engine needs to know it (for progress and for timing the polls).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSummary {
    pub name: String,
    pub rule_type: String,
    pub dry_run: bool,
    /// `options.duration` in seconds (0 when absent).
    pub duration_s: u64,
    /// `options.warmup` in seconds (0 when absent).
    pub warmup_s: u64,
}

/// A valid config, translated.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedConfig {
    /// The `configuration` object to send (`{"dry_run": .., "rules": [..]}`), snake_case.
    pub configuration: Value,
    pub dry_run: bool,
    pub rules: Vec<RuleSummary>,
    /// Things worth saying that do not stop the evaluation (unknown option keys passed through,
    /// a query the local parser could not read when not strict, ...).
    pub warnings: Vec<Problem>,
}

/// Parse, translate and validate a config. On failure, returns *every* problem found.
pub fn parse(
    input: &ConfigInput,
    _ctx: &ValidateContext<'_>,
) -> Result<ParsedConfig, Vec<Problem>> {
    let value = match input {
        ConfigInput::Text(text) => serde_json::from_str::<Value>(text)
            .map_err(|e| vec![Problem::new("", format!("invalid JSON: {e}"))])?,
        ConfigInput::Value(v) => v.clone(),
    };
    let dry_run = value
        .get("dryRun")
        .or_else(|| value.get("dry_run"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let Some(rules) = value
        .get("rules")
        .and_then(Value::as_array)
        .filter(|r| !r.is_empty())
    else {
        return Err(vec![Problem::new(
            "rules",
            "must be a non-empty array of rules",
        )]);
    };
    let mut out_rules = Vec::new();
    let mut summaries = Vec::new();
    for rule in rules {
        let rule_dry = rule
            .get("dryRun")
            .or_else(|| rule.get("dry_run"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let options = rule
            .get("options")
            .cloned()
            .unwrap_or(Value::Object(Default::default()));
        let name = rule
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let rule_type = rule
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        summaries.push(RuleSummary {
            name: name.clone(),
            rule_type: rule_type.clone(),
            dry_run: rule_dry,
            duration_s: options.get("duration").and_then(Value::as_u64).unwrap_or(0),
            warmup_s: options.get("warmup").and_then(Value::as_u64).unwrap_or(0),
        });
        out_rules.push(serde_json::json!({
            "type": rule_type, "name": name, "dry_run": rule_dry, "options": options
        }));
    }
    Ok(ParsedConfig {
        configuration: serde_json::json!({ "dry_run": dry_run, "rules": out_rules }),
        dry_run,
        rules: summaries,
        warnings: Vec::new(),
    })
}

/// The JSON Schema of the config file (committed as `schemas/config.schema.json`).
pub fn json_schema() -> Value {
    serde_json::json!({})
}

/// Levenshtein distance, for "did you mean" hints.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}
