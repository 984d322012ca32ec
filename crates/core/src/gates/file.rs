//! The gates file: which gates should exist, with which rules.
//!
//! ```json
//! {"scope": {"service": "checkout"},
//!  "gates": [
//!    {"service": "checkout", "env": "prod", "identifier": "default", "dryRun": false,
//!     "rules": [{"type": "monitor", "name": "Service monitors",
//!                "options": {"query": "service:checkout env:prod", "duration": 300}}]}]}
//! ```
//!
//! Rules are checked and translated by [`crate::config`], exactly as a config file's rules
//! (camelCase or snake_case keys, every problem with its JSON path, line and column). The gate
//! keys are checked here the same way: unknown keys with a "did you mean" hint, a key given twice
//! (in one spelling or two), wrong types.

use crate::config::json::{self, Member, Node, NodeValue, Pos};
use crate::config::{self, did_you_mean};
use crate::error::Problem;
use crate::options::ConfigInput;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// What the file asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct GatesFile {
    pub gates: Vec<DesiredGate>,
    /// What `--prune` may delete, when the file says (`"scope"`).
    pub scope: Option<Scope>,
    /// What is worth saying but does not stop a plan (from the rule checks).
    pub warnings: Vec<Problem>,
}

/// One gate of the file.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredGate {
    pub service: String,
    pub env: String,
    /// As written; `None` means the API's `default`.
    pub identifier: Option<String>,
    /// As written; `None` means the API's default (`false`).
    pub dry_run: Option<bool>,
    /// Translated rules (`{"type", "name", "dry_run", "options"}`, the API's spelling).
    pub rules: Vec<Value>,
    /// Where the gate is in the file (`gates[0]`).
    pub path: String,
}

impl DesiredGate {
    /// The identifier the API uses for this gate.
    pub fn identifier_or_default(&self) -> &str {
        self.identifier
            .as_deref()
            .unwrap_or(super::DEFAULT_IDENTIFIER)
    }
}

/// Which gates `--prune` may delete: every gate matching all the given fields.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
}

impl Scope {
    /// Whether the scope names anything (an empty scope would mean "every gate").
    pub fn is_empty(&self) -> bool {
        self.service.is_none() && self.env.is_none() && self.identifier.is_none()
    }

    pub fn matches(&self, service: &str, env: &str, identifier: &str) -> bool {
        self.service.as_deref().is_none_or(|s| s == service)
            && self.env.as_deref().is_none_or(|e| e == env)
            && self.identifier.as_deref().is_none_or(|i| i == identifier)
    }

    /// `service=checkout env=prod`.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = [
            ("service", &self.service),
            ("env", &self.env),
            ("identifier", &self.identifier),
        ]
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
        .collect();
        if parts.is_empty() {
            "every gate".to_string()
        } else {
            parts.join(" ")
        }
    }
}

const TOP_KEYS: &[(&str, &[&str])] = &[
    ("$schema", &["$schema"]),
    ("scope", &["scope"]),
    ("gates", &["gates"]),
];
const GATE_KEYS: &[(&str, &[&str])] = &[
    ("service", &["service"]),
    ("env", &["env"]),
    ("identifier", &["identifier"]),
    ("dry_run", &["dryRun", "dry_run"]),
    ("rules", &["rules"]),
];
const SCOPE_KEYS: &[(&str, &[&str])] = &[
    ("service", &["service"]),
    ("env", &["env"]),
    ("identifier", &["identifier"]),
];

/// Parse and check a gates file. On failure, returns *every* problem found.
pub fn parse(input: &ConfigInput) -> Result<GatesFile, Vec<Problem>> {
    let (root, text) = match input {
        ConfigInput::Text(text) => {
            let text = text.strip_prefix('\u{feff}').unwrap_or(text);
            let value = serde_json::from_str::<Value>(text)
                .map_err(|e| vec![config::syntax_problem(&e)])?;
            let root = json::read(text).unwrap_or_else(|| Node::from_value(&value));
            (root, Some(text))
        }
        ConfigInput::Value(value) => (Node::from_value(value), None),
    };
    let mut c = FileChecker {
        text,
        problems: Vec::new(),
        warnings: Vec::new(),
    };
    let file = c.file(&root);
    match file {
        Some(file) if c.problems.is_empty() => Ok(GatesFile {
            warnings: c.warnings,
            ..file
        }),
        _ => Err(c.problems),
    }
}

struct FileChecker<'a> {
    text: Option<&'a str>,
    problems: Vec<Problem>,
    warnings: Vec<Problem>,
}

fn at(mut problem: Problem, pos: Option<Pos>) -> Problem {
    if let Some(pos) = pos {
        problem.line = Some(pos.line);
        problem.column = Some(pos.column);
    }
    problem
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

impl FileChecker<'_> {
    fn problem(&mut self, path: &str, pos: Option<Pos>, message: impl Into<String>) {
        self.problems.push(at(Problem::new(path, message), pos));
    }

    /// Sort an object's members by known key; unknown keys and keys given twice are problems.
    fn members<'n>(
        &mut self,
        node: &'n Node,
        path: &str,
        what: &str,
        keys: &[(&'static str, &[&str])],
    ) -> Option<BTreeMap<&'static str, &'n Member>> {
        let NodeValue::Object(members) = &node.value else {
            self.problem(
                path,
                node.pos,
                format!("{what} must be an object, not {}", node.kind()),
            );
            return None;
        };
        let spellings: Vec<&str> = keys.iter().flat_map(|(_, s)| s.iter().copied()).collect();
        let mut known: BTreeMap<&'static str, &'n Member> = BTreeMap::new();
        for member in members {
            let member_path = child(path, &member.key);
            let Some((api, _)) = keys.iter().find(|(_, s)| s.contains(&member.key.as_str())) else {
                let where_ = if path.is_empty() {
                    "the top level"
                } else {
                    path
                };
                let hint = match did_you_mean(&member.key, &spellings) {
                    Some(s) => format!("did you mean \"{s}\"?"),
                    None => format!(
                        "known keys here: {}",
                        spellings
                            .iter()
                            .map(|s| format!("\"{s}\""))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                self.problems.push(at(
                    Problem::new(
                        member_path,
                        format!("unknown key \"{}\" at {where_}", member.key),
                    )
                    .with_hint(hint),
                    member.key_pos,
                ));
                continue;
            };
            if let Some(first) = known.get(api) {
                let message = if first.key == member.key {
                    format!("key \"{}\" appears twice", member.key)
                } else {
                    format!(
                        "\"{}\" and \"{}\" are the same key, given twice",
                        first.key, member.key
                    )
                };
                self.problems.push(at(
                    Problem::new(member_path, message).with_hint("keep only one of them"),
                    member.key_pos,
                ));
                continue;
            }
            known.insert(api, member);
        }
        Some(known)
    }

    /// A non-empty string at `key`; `required` says whether a missing one is a problem.
    fn string(
        &mut self,
        members: &BTreeMap<&'static str, &Member>,
        key: &str,
        path: &str,
        pos: Option<Pos>,
        required: bool,
    ) -> Option<String> {
        let Some(member) = members.get(key) else {
            if required {
                self.problem(path, pos, format!("a gate needs a \"{key}\""));
            }
            return None;
        };
        let p = child(path, &member.key);
        match &member.value.value {
            NodeValue::String(s) if !s.trim().is_empty() => Some(s.clone()),
            NodeValue::String(_) => {
                self.problem(&p, member.value.pos, "must not be empty");
                None
            }
            _ => {
                self.problem(
                    &p,
                    member.value.pos,
                    format!("must be a string, not {}", member.value.kind()),
                );
                None
            }
        }
    }

    fn file(&mut self, root: &Node) -> Option<GatesFile> {
        let top = self.members(root, "", "the gates file", TOP_KEYS)?;
        if let Some(schema) = top.get("$schema")
            && !matches!(schema.value.value, NodeValue::String(_))
        {
            self.problem(
                "$schema",
                schema.value.pos,
                format!("must be a string, not {}", schema.value.kind()),
            );
        }
        let scope = top.get("scope").and_then(|m| {
            let fields = self.members(&m.value, "scope", "\"scope\"", SCOPE_KEYS)?;
            let scope = Scope {
                service: self.string(&fields, "service", "scope", m.value.pos, false),
                env: self.string(&fields, "env", "scope", m.value.pos, false),
                identifier: self.string(&fields, "identifier", "scope", m.value.pos, false),
            };
            if scope.is_empty() {
                self.problems.push(at(
                    Problem::new(
                        "scope",
                        "an empty scope would let --prune delete every gate",
                    )
                    .with_hint("name a service, an env or an identifier"),
                    m.value.pos,
                ));
            }
            Some(scope)
        });
        let Some(gates) = top.get("gates") else {
            self.problems.push(at(
                Problem::new("", "missing \"gates\": the file needs an array of gates").with_hint(
                    "write {\"gates\": [{\"service\": ..., \"env\": ..., \"rules\": [...]}]}",
                ),
                root.pos,
            ));
            return None;
        };
        let NodeValue::Array(items) = &gates.value.value else {
            self.problem(
                "gates",
                gates.value.pos,
                format!("must be an array of gates, not {}", gates.value.kind()),
            );
            return None;
        };
        let mut seen: BTreeMap<(String, String, String), String> = BTreeMap::new();
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let path = format!("gates[{i}]");
            let Some(gate) = self.gate(item, &path) else {
                continue;
            };
            let key = (
                gate.service.clone(),
                gate.env.clone(),
                gate.identifier_or_default().to_string(),
            );
            if let Some(first) = seen.get(&key) {
                self.problems.push(at(
                    Problem::new(
                        &path,
                        format!(
                            "gate service={} env={} identifier={} is already declared at {first}",
                            key.0, key.1, key.2
                        ),
                    )
                    .with_hint("a gate is identified by service, env and identifier"),
                    item.pos,
                ));
                continue;
            }
            seen.insert(key, path);
            out.push(gate);
        }
        Some(GatesFile {
            gates: out,
            scope,
            warnings: Vec::new(),
        })
    }

    fn gate(&mut self, node: &Node, path: &str) -> Option<DesiredGate> {
        let fields = self.members(node, path, "a gate", GATE_KEYS)?;
        let service = self.string(&fields, "service", path, node.pos, true);
        let env = self.string(&fields, "env", path, node.pos, true);
        let identifier = self.string(&fields, "identifier", path, node.pos, false);
        let dry_run = match fields.get("dry_run") {
            Some(m) => match m.value.value {
                NodeValue::Bool(b) => Some(b),
                _ => {
                    self.problem(
                        &child(path, &m.key),
                        m.value.pos,
                        format!("must be true or false, not {}", m.value.kind()),
                    );
                    None
                }
            },
            None => None,
        };
        let rules = match fields.get("rules") {
            Some(m) => {
                let (rules, problems, warnings) =
                    config::stored_rules(self.text, &m.value, &child(path, "rules"));
                self.problems.extend(problems);
                self.warnings.extend(warnings);
                rules
            }
            None => {
                self.problems.push(at(
                    Problem::new(path, "a gate needs \"rules\" (an empty array for none)")
                        .with_hint("rules not listed would be deleted from the gate"),
                    node.pos,
                ));
                None
            }
        };
        Some(DesiredGate {
            service: service?,
            env: env?,
            identifier,
            dry_run,
            rules: rules?,
            path: path.to_string(),
        })
    }
}

/// The file form of gates read from the API (what `export` writes): the API's spelling, which
/// [`parse`] reads back unchanged.
pub fn export(gates: &[super::LiveGate]) -> Value {
    let mut sorted: Vec<&super::LiveGate> = gates.iter().collect();
    sorted.sort_by(|a, b| {
        (&a.service, &a.env, &a.identifier).cmp(&(&b.service, &b.env, &b.identifier))
    });
    let gates: Vec<Value> = sorted
        .iter()
        .map(|g| {
            let mut gate = Map::new();
            gate.insert("service".into(), Value::String(g.service.clone()));
            gate.insert("env".into(), Value::String(g.env.clone()));
            gate.insert("identifier".into(), Value::String(g.identifier.clone()));
            gate.insert("dry_run".into(), Value::Bool(g.dry_run));
            let rules = g.rules.iter().map(super::LiveRule::file_form).collect();
            gate.insert("rules".into(), Value::Array(rules));
            Value::Object(gate)
        })
        .collect();
    serde_json::json!({ "gates": gates })
}

/// Types that describe the gates file for the JSON Schema only (validation is by hand, above).
#[allow(dead_code, reason = "these types exist to generate the JSON Schema")]
mod schema {
    use crate::config::schema::Rule;
    use schemars::JsonSchema;

    /// A gatepost gates file: the preconfigured gates of `gatepost gates plan / apply / export`.
    #[derive(JsonSchema)]
    #[schemars(title = "gatepost gates file", deny_unknown_fields)]
    pub(super) struct GatesFile {
        /// The JSON Schema this file follows (for editors).
        #[serde(rename = "$schema", default)]
        schema: String,
        /// Which gates `--prune` may delete (those matching every given field).
        #[serde(default)]
        scope: Option<Scope>,
        /// The gates. Gates not listed are never touched, unless `--prune` is given.
        gates: Vec<Gate>,
    }

    /// What `--prune` may delete.
    #[derive(JsonSchema)]
    #[schemars(deny_unknown_fields)]
    pub(super) struct Scope {
        #[serde(default)]
        #[schemars(length(min = 1))]
        service: String,
        #[serde(default)]
        #[schemars(length(min = 1))]
        env: String,
        #[serde(default)]
        #[schemars(length(min = 1))]
        identifier: String,
    }

    /// One gate, identified by service, env and identifier. Its rules are exactly the ones
    /// listed: rules not listed are deleted.
    #[derive(JsonSchema)]
    #[schemars(deny_unknown_fields)]
    pub(super) struct Gate {
        #[schemars(length(min = 1))]
        service: String,
        #[schemars(length(min = 1))]
        env: String,
        /// The API uses `default` when absent.
        #[serde(default)]
        #[schemars(length(min = 1))]
        identifier: String,
        /// Dry-run the whole gate (the API answers `pass`; the real result is recorded).
        #[serde(rename = "dryRun", default)]
        dry_run_camel: bool,
        /// Same as `dryRun`.
        #[serde(rename = "dry_run", default)]
        dry_run_snake: bool,
        /// The gate's rules, in the config file's format; names are unique within a gate.
        rules: Vec<Rule>,
    }
}

/// The JSON Schema of the gates file (committed as `schemas/gates.schema.json`).
pub fn json_schema() -> Value {
    config::schema_without_defaults::<schema::GatesFile>()
}
