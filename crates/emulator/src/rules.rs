//! Rule definitions as the API accepts them: parsing and validation of a rule's JSON (inline
//! configurations, the rules CRUD and preconfigured gates all go through [`parse_rule`]), with the
//! real service's error wording where it is known (`invalid rule type: moniyor`).

use gatepost_core::config::{MAX_DURATION_S, MAX_WARMUP_S};
use gatepost_core::query::{self, Query};
use serde_json::{Map, Value};

/// A validated rule.
#[derive(Debug, Clone)]
pub struct RuleDef {
    pub name: String,
    pub dry_run: bool,
    pub kind: RuleKind,
}

#[derive(Debug, Clone)]
pub enum RuleKind {
    Monitor(MonitorRule),
    FaultyDeploymentDetection(FddRule),
}

/// A monitor rule: which monitors, and for how long they must stay healthy.
#[derive(Debug, Clone)]
pub struct MonitorRule {
    /// The query text and its parse; `None` for the `monitor_ids` variant.
    pub query: Option<(String, Query)>,
    pub monitor_ids: Vec<MonitorRef>,
    pub duration_s: u64,
    pub warmup_s: u64,
    pub fail_on_no_data: bool,
    pub fail_on_no_groups_found: bool,
}

/// One entry of the `monitor_ids` variant: a monitor id (the API spells it as a decimal string)
/// and the groups to evaluate (empty: every group).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorRef {
    pub id: u64,
    pub groups: Vec<String>,
}

/// A Faulty Deployment Detection rule.
#[derive(Debug, Clone)]
pub struct FddRule {
    pub duration_s: u64,
    pub excluded_resources: Vec<String>,
    /// The include list (`allowed_resources`, or `included_resources` as the docs call it).
    pub allowed_resources: Option<Vec<String>>,
}

impl RuleDef {
    /// The API's `type` value.
    pub fn rule_type(&self) -> &'static str {
        match self.kind {
            RuleKind::Monitor(_) => "monitor",
            RuleKind::FaultyDeploymentDetection(_) => "faulty_deployment_detection",
        }
    }

    /// World milliseconds after the trigger at which this rule can first pass.
    pub fn completes_after_ms(&self) -> u64 {
        match &self.kind {
            RuleKind::Monitor(m) => (m.warmup_s + m.duration_s) * 1000,
            RuleKind::FaultyDeploymentDetection(f) => f.duration_s * 1000,
        }
    }
}

/// Parse one rule object (`{"name", "type", "options", "dry_run"}`). The error is the part after
/// `invalid rule at index N: `.
pub fn parse_rule(value: &Value) -> Result<RuleDef, String> {
    let obj = value
        .as_object()
        .ok_or_else(|| "a rule must be an object".to_string())?;
    for key in obj.keys() {
        if !matches!(key.as_str(), "name" | "type" | "options" | "dry_run") {
            return Err(format!("unknown rule property: {key}"));
        }
    }
    let rule_type = match obj.get("type") {
        Some(Value::String(t)) => t.as_str(),
        Some(_) => return Err("rule type must be a string".into()),
        None => return Err("required type field is missing".into()),
    };
    let name = match obj.get("name") {
        Some(Value::String(n)) if !n.trim().is_empty() => n.clone(),
        Some(Value::String(_)) => return Err("rule name must not be empty".into()),
        Some(_) => return Err("rule name must be a string".into()),
        None => return Err("required name field is missing".into()),
    };
    let dry_run = match obj.get("dry_run") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err("dry_run must be a boolean".into()),
    };
    let empty = Map::new();
    let options = match obj.get("options") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(o)) => o,
        Some(_) => return Err("options must be an object".into()),
    };
    let kind = match rule_type {
        "monitor" => RuleKind::Monitor(parse_monitor_options(options)?),
        "faulty_deployment_detection" => {
            RuleKind::FaultyDeploymentDetection(parse_fdd_options(options)?)
        }
        other => return Err(format!("invalid rule type: {other}")),
    };
    Ok(RuleDef {
        name,
        dry_run,
        kind,
    })
}

fn parse_monitor_options(options: &Map<String, Value>) -> Result<MonitorRule, String> {
    for key in options.keys() {
        if !matches!(
            key.as_str(),
            "query"
                | "duration"
                | "warmup"
                | "fail_on_no_data"
                | "fail_on_no_groups_found"
                | "monitor_ids"
        ) {
            return Err(format!("invalid monitor options: unknown property {key}"));
        }
    }
    let query = match options.get("query") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => {
            let parsed = query::parse(text)
                .map_err(|e| format!("invalid monitor options: invalid query: {e}"))?;
            Some((text.clone(), parsed))
        }
        Some(_) => return Err("invalid monitor options: query must be a string".into()),
    };
    let monitor_ids = match options.get("monitor_ids") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(parse_monitor_ref)
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => return Err("invalid monitor options: monitor_ids must be an array".into()),
    };
    match (&query, monitor_ids.is_empty()) {
        (None, true) => {
            return Err("invalid monitor options: query is required".into());
        }
        (Some(_), false) => {
            return Err(
                "invalid monitor options: query and monitor_ids are mutually exclusive".into(),
            );
        }
        _ => {}
    }
    Ok(MonitorRule {
        query,
        monitor_ids,
        duration_s: seconds(options, "duration", 0, MAX_DURATION_S)?,
        warmup_s: seconds(options, "warmup", 0, MAX_WARMUP_S)?,
        fail_on_no_data: boolean(options, "fail_on_no_data", true)?,
        fail_on_no_groups_found: boolean(options, "fail_on_no_groups_found", false)?,
    })
}

fn parse_monitor_ref(value: &Value) -> Result<MonitorRef, String> {
    let bad = || {
        "invalid monitor options: monitor_ids entries are {\"id\": \"<decimal id>\", \"groups\": [..]}"
            .to_string()
    };
    let obj = value.as_object().ok_or_else(bad)?;
    if obj.keys().any(|k| k != "id" && k != "groups") {
        return Err(bad());
    }
    let id = obj
        .get("id")
        .and_then(Value::as_str)
        .and_then(|id| id.parse::<u64>().ok())
        .ok_or_else(bad)?;
    let groups = match obj.get("groups") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|g| g.as_str().map(str::to_string).ok_or_else(bad))
            .collect::<Result<Vec<_>, _>>()?,
        _ => return Err(bad()),
    };
    Ok(MonitorRef { id, groups })
}

fn parse_fdd_options(options: &Map<String, Value>) -> Result<FddRule, String> {
    for key in options.keys() {
        if !matches!(
            key.as_str(),
            "duration" | "excluded_resources" | "allowed_resources" | "included_resources"
        ) {
            return Err(format!(
                "invalid faulty deployment detection options: unknown property {key}"
            ));
        }
    }
    let excluded = string_list(options, "excluded_resources")?;
    let allowed = string_list(options, "allowed_resources")?;
    let included = string_list(options, "included_resources")?;
    if allowed.is_some() && included.is_some() {
        return Err("invalid faulty deployment detection options: allowed_resources and included_resources are the same list; give one".into());
    }
    let allowed = allowed.or(included);
    if excluded.is_some() && allowed.is_some() {
        return Err("invalid faulty deployment detection options: excluded_resources and allowed_resources are mutually exclusive".into());
    }
    Ok(FddRule {
        duration_s: seconds(options, "duration", 0, MAX_DURATION_S)?,
        excluded_resources: excluded.unwrap_or_default(),
        allowed_resources: allowed,
    })
}

fn seconds(options: &Map<String, Value>, key: &str, default: u64, max: u64) -> Result<u64, String> {
    match options.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => match v.as_u64() {
            Some(n) if n <= max => Ok(n),
            Some(n) => Err(format!("{key} {n} is above the maximum {max}")),
            None => Err(format!(
                "{key} must be a non-negative integer number of seconds"
            )),
        },
    }
}

fn boolean(options: &Map<String, Value>, key: &str, default: bool) -> Result<bool, String> {
    match options.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(format!("{key} must be a boolean")),
    }
}

fn string_list(options: &Map<String, Value>, key: &str) -> Result<Option<Vec<String>>, String> {
    match options.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("{key} must be a list of strings"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(format!("{key} must be a list of strings")),
    }
}

/// Which CRUD request a stored rule comes from: a create names the rule's type, an update keeps
/// the stored rule's (the published update model has no `type`).
#[derive(Debug, Clone, Copy)]
pub enum StoredRequest<'a> {
    Create,
    Update { rule_type: &'a str },
}

/// Parse the attributes of a rule create or update (`POST`/`PUT .../rules`) as the published
/// models have them: a create needs `name`, `type` and `options`; an update replaces the rule and
/// needs `name`, `options` and `dry_run`. Stored options take no key outside the published
/// option models (so no `included_resources`, which only inline rules accept). Returns the rule
/// and its options as stored; errors use the service's wording (`attribute "name" is required`).
pub fn parse_stored_rule(
    attrs: &Map<String, Value>,
    request: StoredRequest<'_>,
) -> Result<(RuleDef, Value), String> {
    let required: &[&str] = match request {
        StoredRequest::Create => &["name", "type", "options"],
        StoredRequest::Update { .. } => &["name", "options", "dry_run"],
    };
    for key in required {
        if attrs.get(*key).is_none_or(Value::is_null) {
            return Err(format!("attribute \"{key}\" is required"));
        }
    }
    let rule_type = match request {
        StoredRequest::Create => match attrs.get("type").and_then(Value::as_str) {
            Some(t @ ("monitor" | "faulty_deployment_detection")) => t,
            _ => {
                return Err(
                    "attribute \"type\" must be one of \"monitor faulty_deployment_detection\""
                        .into(),
                );
            }
        },
        StoredRequest::Update { rule_type } => rule_type,
    };
    let options = attrs.get("options").cloned().unwrap_or(Value::Null);
    if rule_type == "faulty_deployment_detection" && options.get("included_resources").is_some() {
        return Err(
            "invalid faulty deployment detection options: unknown property included_resources"
                .into(),
        );
    }
    let mut rule = Map::new();
    rule.insert("type".into(), Value::from(rule_type));
    for key in ["name", "options", "dry_run"] {
        if let Some(v) = attrs.get(key) {
            rule.insert(key.into(), v.clone());
        }
    }
    let def = parse_rule(&Value::Object(rule))?;
    Ok((def, options))
}

/// Parse a whole `configuration` (`{"dry_run", "rules"}`) of an inline evaluation request.
/// Errors read like the real service's: `invalid configuration: invalid rule at index 0: ...`.
pub fn parse_configuration(value: &Value) -> Result<(bool, Vec<RuleDef>), String> {
    let obj = value
        .as_object()
        .ok_or_else(|| "invalid configuration: must be an object".to_string())?;
    let dry_run = match obj.get("dry_run") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err("invalid configuration: dry_run must be a boolean".into()),
    };
    let rules = match obj.get("rules") {
        Some(Value::Array(rules)) if !rules.is_empty() => rules,
        _ => return Err("invalid configuration: at least one rule is required".into()),
    };
    let mut defs = Vec::with_capacity(rules.len());
    for (i, rule) in rules.iter().enumerate() {
        let def = parse_rule(rule)
            .map_err(|e| format!("invalid configuration: invalid rule at index {i}: {e}"))?;
        if defs.iter().any(|d: &RuleDef| d.name == def.name) {
            return Err(format!(
                "invalid configuration: invalid rule at index {i}: duplicate rule name: {}",
                def.name
            ));
        }
        defs.push(def);
    }
    Ok((dry_run, defs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn misspelt_rule_type_is_reported_like_the_service() {
        let err =
            parse_configuration(&json!({"rules": [{"type": "moniyor", "name": "x"}]})).unwrap_err();
        assert_eq!(
            err,
            "invalid configuration: invalid rule at index 0: invalid rule type: moniyor"
        );
    }

    #[test]
    fn monitor_rules_need_a_query_or_ids_and_respect_bounds() {
        assert!(parse_rule(&json!({"type": "monitor", "name": "m"})).is_err());
        let err = parse_rule(
            &json!({"type": "monitor", "name": "m", "options": {"query": "env:prod", "duration": 9000}}),
        )
        .unwrap_err();
        assert!(err.contains("9000 is above the maximum 7200"), "{err}");
        let err = parse_rule(&json!({"type": "monitor", "name": "m",
            "options": {"monitor_ids": [{"id": 3, "groups": []}]}}))
        .unwrap_err();
        assert!(
            err.contains("monitor_ids entries"),
            "a number id is refused: {err}"
        );
        let err = parse_rule(&json!({"type": "monitor", "name": "m",
            "options": {"monitor_ids": [{"id": "3"}]}}))
        .unwrap_err();
        assert!(
            err.contains("monitor_ids entries"),
            "groups are required: {err}"
        );
        let warmup = MAX_WARMUP_S + 1;
        let err = parse_rule(&json!({"type": "monitor", "name": "m",
            "options": {"query": "a", "warmup": warmup}}))
        .unwrap_err();
        assert!(
            err.contains(&format!("above the maximum {MAX_WARMUP_S}")),
            "{err}"
        );
        assert!(
            parse_rule(&json!({"type": "monitor", "name": "m",
            "options": {"query": "a", "warmup": MAX_WARMUP_S}}))
            .is_ok()
        );
        let ok = parse_rule(&json!({"type": "monitor", "name": "m",
            "options": {"monitor_ids": [{"id": "3", "groups": ["region:eu"]}], "warmup": 30}}))
        .unwrap();
        assert_eq!(ok.completes_after_ms(), 30_000);
    }

    #[test]
    fn unknown_options_are_rejected() {
        let err = parse_rule(
            &json!({"type": "monitor", "name": "m", "options": {"query": "a", "durration": 5}}),
        )
        .unwrap_err();
        assert!(err.contains("unknown property durration"), "{err}");
    }

    #[test]
    fn fdd_include_and_exclude_lists_are_exclusive() {
        let err = parse_rule(&json!({"type": "faulty_deployment_detection", "name": "f",
            "options": {"excluded_resources": ["a"], "allowed_resources": ["b"]}}))
        .unwrap_err();
        assert!(err.contains("mutually exclusive"), "{err}");
        let ok = parse_rule(&json!({"type": "faulty_deployment_detection", "name": "f",
            "options": {"included_resources": ["b"], "duration": 900}}))
        .unwrap();
        match ok.kind {
            RuleKind::FaultyDeploymentDetection(f) => {
                assert_eq!(f.allowed_resources, Some(vec!["b".to_string()]))
            }
            RuleKind::Monitor(_) => panic!("wrong kind"),
        }
    }

    #[test]
    fn stored_rules_follow_the_published_create_and_update_models() {
        let attrs = |v: Value| v.as_object().unwrap().clone();
        let create = StoredRequest::Create;
        let err =
            parse_stored_rule(&attrs(json!({"name": "m", "type": "monitor"})), create).unwrap_err();
        assert_eq!(err, "attribute \"options\" is required");
        let err = parse_stored_rule(
            &attrs(json!({"name": "m", "type": "fdd", "options": {}})),
            create,
        )
        .unwrap_err();
        assert_eq!(
            err,
            "attribute \"type\" must be one of \"monitor faulty_deployment_detection\""
        );
        let err = parse_stored_rule(
            &attrs(json!({"name": "f", "type": "faulty_deployment_detection",
                "options": {"included_resources": ["a"]}})),
            create,
        )
        .unwrap_err();
        assert!(err.contains("unknown property included_resources"), "{err}");
        let update = StoredRequest::Update {
            rule_type: "monitor",
        };
        let err = parse_stored_rule(
            &attrs(json!({"name": "m", "options": {"query": "a"}})),
            update,
        )
        .unwrap_err();
        assert_eq!(err, "attribute \"dry_run\" is required");
        let (def, options) = parse_stored_rule(
            &attrs(
                json!({"name": "m", "options": {"query": "a"}, "dry_run": true,
                "type": "faulty_deployment_detection"}),
            ),
            update,
        )
        .unwrap();
        assert_eq!(
            def.rule_type(),
            "monitor",
            "an update never changes the type"
        );
        assert!(def.dry_run);
        assert_eq!(options, json!({"query": "a"}));
    }

    #[test]
    fn duplicate_rule_names_are_rejected() {
        let rule = json!({"type": "monitor", "name": "m", "options": {"query": "a"}});
        let err = parse_configuration(&json!({"rules": [rule.clone(), rule]})).unwrap_err();
        assert!(err.contains("duplicate rule name"), "{err}");
    }
}
