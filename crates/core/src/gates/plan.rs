//! What exists, what the file asks for, and the changes between them.

use super::file::{GatesFile, Scope};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A gate as the API lists it, with its rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveGate {
    pub id: String,
    pub service: String,
    pub env: String,
    pub identifier: String,
    pub dry_run: bool,
    #[serde(default)]
    pub rules: Vec<LiveRule>,
}

/// A rule as the API lists it. `id` is absent when the API's rule list does not give it (the
/// published list schema has no rule id): such a rule cannot be updated or deleted one by one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub name: String,
    #[serde(rename = "type")]
    pub rule_type: String,
    #[serde(default)]
    pub dry_run: bool,
    #[serde(default = "empty_object")]
    pub options: Value,
}

fn empty_object() -> Value {
    Value::Object(Map::new())
}

impl LiveRule {
    /// The rule as a gates file (and the API) writes it.
    pub fn file_form(&self) -> Value {
        serde_json::json!({
            "type": self.rule_type,
            "name": self.name,
            "dry_run": self.dry_run,
            "options": normalized(&self.options),
        })
    }
}

/// Options as compared: `null` values and empty lists dropped (the API answers `{}` for
/// `{"excluded_resources": []}`), recursively.
pub fn normalized(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null() && !v.as_array().is_some_and(Vec::is_empty))
                .map(|(k, v)| (k.clone(), normalized(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(normalized).collect()),
        other => other.clone(),
    }
}

/// What a change does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeAction {
    Create,
    Update,
    Delete,
    /// Delete the gate (with its rules) and create it again: the rules must change one by one,
    /// but the API did not say their ids.
    Replace,
}

impl ChangeAction {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeAction::Create => "create",
            ChangeAction::Update => "update",
            ChangeAction::Delete => "delete",
            ChangeAction::Replace => "replace",
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            ChangeAction::Create => "+",
            ChangeAction::Update => "~",
            ChangeAction::Delete => "-",
            ChangeAction::Replace => "-/+",
        }
    }
}

/// One change, in the order it is carried out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub action: ChangeAction,
    pub service: String,
    pub env: String,
    pub identifier: String,
    /// The rule's name for a rule change; absent for a gate change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// The gate's id when it exists already.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<String>,
    /// What is there now (gate: `{"dry_run"}`, rule: the rule), for updates and deletes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    /// What will be there (the body's attributes), for creates and updates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
    /// Why, when it is not obvious (a type change, a replaced gate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// For gate creates: the attributes exactly as written in the file (identifier and dry_run
    /// only when given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create: Option<Value>,
}

impl Change {
    fn gate(action: ChangeAction, key: &GateKey) -> Change {
        Change {
            action,
            service: key.0.clone(),
            env: key.1.clone(),
            identifier: key.2.clone(),
            rule: None,
            gate_id: None,
            rule_id: None,
            before: None,
            after: None,
            reason: None,
            create: None,
        }
    }

    fn rule(action: ChangeAction, key: &GateKey, name: &str) -> Change {
        Change {
            rule: Some(name.to_string()),
            ..Change::gate(action, key)
        }
    }

    /// `gate checkout/prod/default` or `rule "Service monitors" of gate checkout/prod/default`.
    pub fn subject(&self) -> String {
        let gate = format!("{}/{}/{}", self.service, self.env, self.identifier);
        match &self.rule {
            Some(rule) => format!("rule {rule:?} of gate {gate}"),
            None => format!("gate {gate}"),
        }
    }

    /// One line for people: `+ create rule "x" of gate a/b/default`.
    pub fn line(&self) -> String {
        let mut line = format!(
            "{} {} {}",
            self.action.symbol(),
            self.action.as_str(),
            self.subject()
        );
        if let Some(reason) = &self.reason {
            line.push_str(&format!(" ({reason})"));
        }
        line
    }

    /// The fields that differ, one line each (`options.duration: 300 → 600`).
    pub fn details(&self) -> Vec<String> {
        let mut out = Vec::new();
        match (&self.before, &self.after) {
            (Some(before), Some(after)) => diff_lines("", before, after, &mut out),
            (None, Some(after)) => flat_lines("", after, &mut out),
            _ => {}
        }
        out
    }
}

fn flat_lines(path: &str, value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                flat_lines(&join(path, k), v, out);
            }
        }
        other => out.push(format!("{path}: {other}")),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn diff_lines(path: &str, before: &Value, after: &Value, out: &mut Vec<String>) {
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            let keys: std::collections::BTreeSet<&String> = b.keys().chain(a.keys()).collect();
            for k in keys {
                let p = join(path, k);
                match (b.get(k), a.get(k)) {
                    (Some(x), Some(y)) if x == y => {}
                    (Some(x), Some(y)) => diff_lines(&p, x, y, out),
                    (Some(x), None) => out.push(format!("{p}: {x} → (removed)")),
                    (None, Some(y)) => out.push(format!("{p}: (none) → {y}")),
                    (None, None) => {}
                }
            }
        }
        (b, a) if b != a => out.push(format!("{path}: {b} → {a}")),
        _ => {}
    }
}

/// The changes that make the live state match the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub changes: Vec<Change>,
    /// Gates of the file that already match.
    pub unchanged: Vec<String>,
    /// The scope `--prune` deleted within, when it was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prune: Option<Scope>,
}

impl Plan {
    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty()
    }

    /// `2 to create, 1 to update, 0 to delete`.
    pub fn summary(&self) -> String {
        let count = |a: ChangeAction| self.changes.iter().filter(|c| c.action == a).count();
        let mut s = format!(
            "{} to create, {} to update, {} to delete",
            count(ChangeAction::Create),
            count(ChangeAction::Update),
            count(ChangeAction::Delete)
        );
        let replaced = count(ChangeAction::Replace);
        if replaced > 0 {
            s.push_str(&format!(", {replaced} gate(s) to replace"));
        }
        s
    }
}

type GateKey = (String, String, String);

/// Compute the plan. `prune`: the scope within which live gates absent from the file are deleted.
///
/// Order: for each gate of the file, in file order, the gate's own change, then its rule deletes,
/// updates and creates (deletes first, so a rule renamed or retyped never collides with itself);
/// a gate leaving dry run is switched after its rules, a gate entering dry run before them. Pruned
/// gates come last.
pub fn plan(file: &GatesFile, live: &[LiveGate], prune: Option<&Scope>) -> Plan {
    let mut changes = Vec::new();
    let mut unchanged = Vec::new();
    for gate in &file.gates {
        let key: GateKey = (
            gate.service.clone(),
            gate.env.clone(),
            gate.identifier_or_default().to_string(),
        );
        let current = live
            .iter()
            .find(|g| g.service == key.0 && g.env == key.1 && g.identifier == key.2);
        let Some(current) = current else {
            let mut create = Map::new();
            create.insert("service".into(), Value::String(gate.service.clone()));
            create.insert("env".into(), Value::String(gate.env.clone()));
            if let Some(identifier) = &gate.identifier {
                create.insert("identifier".into(), Value::String(identifier.clone()));
            }
            if let Some(dry_run) = gate.dry_run {
                create.insert("dry_run".into(), Value::Bool(dry_run));
            }
            let mut change = Change::gate(ChangeAction::Create, &key);
            change.after = Some(serde_json::json!({"dry_run": gate.dry_run.unwrap_or(false)}));
            change.create = Some(Value::Object(create));
            changes.push(change);
            for rule in &gate.rules {
                changes.push(create_rule(&key, rule, None));
            }
            continue;
        };
        let mut rule_changes = Vec::new();
        let mut creates = Vec::new();
        let mut updates = Vec::new();
        for rule in &gate.rules {
            let name = rule["name"].as_str().unwrap_or_default();
            let found = current.rules.iter().find(|r| r.name == name);
            match found {
                None => creates.push(create_rule(&key, rule, Some(&current.id))),
                Some(old) if old.rule_type != rule["type"].as_str().unwrap_or_default() => {
                    let reason = format!(
                        "its type changes from {} to {}: the API cannot change a rule's type",
                        old.rule_type,
                        rule["type"].as_str().unwrap_or_default()
                    );
                    let mut delete = delete_rule(&key, old, &current.id);
                    delete.reason = Some(reason.clone());
                    rule_changes.push(delete);
                    let mut create = create_rule(&key, rule, Some(&current.id));
                    create.reason = Some(reason);
                    creates.push(create);
                }
                Some(old) => {
                    let after_options = normalized(&rule["options"]);
                    let after_dry_run = rule["dry_run"].as_bool().unwrap_or(false);
                    if normalized(&old.options) != after_options || old.dry_run != after_dry_run {
                        let mut change = Change::rule(ChangeAction::Update, &key, name);
                        change.gate_id = Some(current.id.clone());
                        change.rule_id = old.id.clone();
                        change.before = Some(old.file_form());
                        change.after = Some(serde_json::json!({
                            "type": old.rule_type,
                            "name": name,
                            "dry_run": after_dry_run,
                            "options": rule["options"],
                        }));
                        updates.push(change);
                    }
                }
            }
        }
        for old in &current.rules {
            if !gate.rules.iter().any(|r| r["name"] == old.name.as_str()) {
                rule_changes.push(delete_rule(&key, old, &current.id));
            }
        }
        rule_changes.extend(updates);
        let gate_change = gate.dry_run.unwrap_or(false) != current.dry_run;
        let needs_ids = rule_changes
            .iter()
            .any(|c| c.rule_id.is_none() && c.action != ChangeAction::Create);
        if needs_ids {
            // Without rule ids the rules cannot be updated or deleted one by one: replace the gate
            // (its DELETE removes the rules) and create every rule of the file.
            let mut replace = Change::gate(ChangeAction::Replace, &key);
            replace.gate_id = Some(current.id.clone());
            replace.reason = Some(
                "rules change but the API's rule list gives no rule ids, so the gate is deleted \
                 and created again with its rules"
                    .to_string(),
            );
            let mut create = Map::new();
            create.insert("service".into(), Value::String(gate.service.clone()));
            create.insert("env".into(), Value::String(gate.env.clone()));
            if let Some(identifier) = &gate.identifier {
                create.insert("identifier".into(), Value::String(identifier.clone()));
            }
            if let Some(dry_run) = gate.dry_run {
                create.insert("dry_run".into(), Value::Bool(dry_run));
            }
            replace.before = Some(serde_json::json!({
                "dry_run": current.dry_run,
                "rules": by_name(current.rules.iter().map(LiveRule::file_form)),
            }));
            replace.after = Some(serde_json::json!({
                "dry_run": gate.dry_run.unwrap_or(false),
                "rules": by_name(gate.rules.iter().cloned()),
            }));
            replace.create = Some(Value::Object(create));
            changes.push(replace);
            for rule in &gate.rules {
                changes.push(create_rule(&key, rule, None));
            }
            continue;
        }
        rule_changes.extend(creates);
        if rule_changes.is_empty() && !gate_change {
            unchanged.push(format!("{}/{}/{}", key.0, key.1, key.2));
            continue;
        }
        let gate_update = gate_change.then(|| {
            let mut change = Change::gate(ChangeAction::Update, &key);
            change.gate_id = Some(current.id.clone());
            change.before = Some(serde_json::json!({"dry_run": current.dry_run}));
            change.after = Some(serde_json::json!({"dry_run": gate.dry_run.unwrap_or(false)}));
            change
        });
        let entering_dry_run = gate.dry_run.unwrap_or(false);
        if entering_dry_run {
            changes.extend(gate_update.clone());
        }
        changes.extend(rule_changes);
        if !entering_dry_run {
            changes.extend(gate_update);
        }
    }
    if let Some(scope) = prune {
        for gate in live {
            let in_file = file.gates.iter().any(|g| {
                g.service == gate.service
                    && g.env == gate.env
                    && g.identifier_or_default() == gate.identifier
            });
            if !in_file && scope.matches(&gate.service, &gate.env, &gate.identifier) {
                let key = (
                    gate.service.clone(),
                    gate.env.clone(),
                    gate.identifier.clone(),
                );
                let mut change = Change::gate(ChangeAction::Delete, &key);
                change.gate_id = Some(gate.id.clone());
                change.before = Some(serde_json::json!({
                    "dry_run": gate.dry_run,
                    "rules": by_name(gate.rules.iter().map(LiveRule::file_form)),
                }));
                change.reason = Some(format!(
                    "not in the file; pruned within {}",
                    scope.describe()
                ));
                changes.push(change);
            }
        }
    }
    Plan {
        changes,
        unchanged,
        prune: prune.cloned(),
    }
}

/// Rules keyed by name (without the name), so a diff reads `rules.NAME.options.duration: a → b`.
fn by_name(rules: impl Iterator<Item = Value>) -> Value {
    Value::Object(
        rules
            .map(|mut r| {
                let name = r["name"].as_str().unwrap_or_default().to_string();
                if let Some(map) = r.as_object_mut() {
                    map.remove("name");
                    if let Some(options) = map.get("options") {
                        let options = normalized(options);
                        map.insert("options".into(), options);
                    }
                }
                (name, r)
            })
            .collect(),
    )
}

fn create_rule(key: &GateKey, rule: &Value, gate_id: Option<&str>) -> Change {
    let mut change = Change::rule(
        ChangeAction::Create,
        key,
        rule["name"].as_str().unwrap_or_default(),
    );
    change.gate_id = gate_id.map(str::to_string);
    change.after = Some(rule.clone());
    change
}

fn delete_rule(key: &GateKey, old: &LiveRule, gate_id: &str) -> Change {
    let mut change = Change::rule(ChangeAction::Delete, key, &old.name);
    change.gate_id = Some(gate_id.to_string());
    change.rule_id = old.id.clone();
    change.before = Some(old.file_form());
    change
}

/// The plan for people: one line per change, its fields indented, then the summary.
pub fn render_text(plan: &Plan) -> String {
    let mut out = String::new();
    if !plan.has_changes() {
        out.push_str("No changes: the gates match the file.\n");
        return out;
    }
    for change in &plan.changes {
        out.push_str(&change.line());
        out.push('\n');
        for detail in change.details() {
            out.push_str(&format!("    {detail}\n"));
        }
    }
    out.push_str(&format!("\nPlan: {}.\n", plan.summary()));
    out
}

/// The plan as a pull-request comment.
pub fn render_markdown(plan: &Plan) -> String {
    let mut out = String::from("### gatepost gates plan\n\n");
    if !plan.has_changes() {
        out.push_str("No changes: the gates match the file.\n");
        return out;
    }
    out.push_str(&format!("**Plan: {}.**\n\n```diff\n", plan.summary()));
    for change in &plan.changes {
        let sign = match change.action {
            ChangeAction::Create => "+",
            ChangeAction::Delete => "-",
            ChangeAction::Update | ChangeAction::Replace => "!",
        };
        out.push_str(&format!(
            "{sign} {} {}",
            change.action.as_str(),
            change.subject()
        ));
        if let Some(reason) = &change.reason {
            out.push_str(&format!(" ({reason})"));
        }
        out.push('\n');
        for detail in change.details() {
            out.push_str(&format!("#     {detail}\n"));
        }
    }
    out.push_str("```\n");
    if !plan.unchanged.is_empty() {
        out.push_str(&format!(
            "\nUnchanged: {}\n",
            plan.unchanged
                .iter()
                .map(|g| format!("`{g}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    out
}
