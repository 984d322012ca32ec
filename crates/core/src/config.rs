//! The pipeline config file (the datadog-ci / GitHub Action / Argo format): parsing, translation
//! to the API's snake_case, and validation.
//!
//! The reference CLI translates only `dryRun`, passes everything else through untouched and drops
//! what it does not know silently. gatepost instead:
//!
//! - accepts every known key in camelCase or snake_case at every level (`dryRun`/`dry_run`,
//!   `failOnNoData`/`fail_on_no_data`, `monitorIds`/`monitor_ids`, `excludedResources`/
//!   `excluded_resources`, and for the include list `includedResources`/`included_resources`/
//!   `allowedResources`/`allowed_resources`) and sends the API's names (`allowed_resources` for the
//!   include list, as the API spec calls it);
//! - sends what the user wrote and nothing else: `dry_run` (for the gate or for a rule) only where
//!   the file gives it, `options` of a faulty deployment detection rule only when written. A rule's
//!   `dry_run` overrides the gate's on the server, so an injected `false` would re-arm the rules of
//!   a gate the user set to dry run;
//! - reports *every* problem and every warning at once, in the order they appear in the file, each
//!   with its JSON path (`rules[1].options.duration`, `""` for the document), a hint where one
//!   helps, and the line and column when the config came as text;
//! - rejects an unknown key at any level (with a "did you mean" hint for typos), as the API does
//!   for stored rules, unless [`ValidateContext::allow_unknown_keys`] is set: then it is a warning
//!   and the key is passed through unchanged, so options Datadog adds later can be used at once;
//! - rejects a key given twice, in one spelling or two;
//! - parses the monitor `query` with [`crate::query`]: a query that does not parse is a problem
//!   for `validate` ([`ValidateContext::strict_queries`]) and a warning when evaluating.
//!
//! The top level may also carry a `"$schema"` string (for editors using
//! `schemas/config.schema.json`); it is not sent.
//!
//! ```
//! use gatepost_core::config::{self, ValidateContext};
//! use gatepost_core::ConfigInput;
//!
//! let text = r#"{"dryRun": true, "rules": [
//!   {"type": "monitor", "name": "Service monitors",
//!    "options": {"query": "service:checkout env:prod", "duration": 300, "failOnNoData": true}},
//!   {"type": "faulty_deployment_detection", "name": "APM",
//!    "options": {"duration": 900, "excludedResources": ["GET /healthcheck"]}}]}"#;
//! let ctx = ValidateContext { version: Some("v1.2.3"), strict_queries: true, ..Default::default() };
//! let parsed = config::parse(&ConfigInput::Text(text.into()), &ctx).unwrap();
//! assert_eq!(parsed.configuration["dry_run"], true);
//! assert_eq!(parsed.configuration["rules"][0]["options"]["fail_on_no_data"], true);
//! assert_eq!(parsed.configuration["rules"][1]["options"]["excluded_resources"][0], "GET /healthcheck");
//! // No rule says `dryRun`, so no rule carries `dry_run`: the gate's dry run applies to all.
//! assert!(parsed.configuration["rules"][1].get("dry_run").is_none());
//!
//! let bad = r#"{"rules": [{"type": "monitor", "name": "m", "dryrun": true,
//!   "options": {"query": "service:\"checkout", "duration": 9000}}]}"#;
//! let problems = config::parse(&ConfigInput::Text(bad.into()), &ctx).unwrap_err();
//! let lines: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
//! assert_eq!(lines, [
//!     "rules[0].dryrun (line 1, column 45): unknown key \"dryrun\" at rules[0]; did you mean \"dryRun\"?",
//!     "rules[0].options.query (line 2, column 33): column 9: unclosed quote; monitor search syntax: \
//!      field:value terms (service:web env:prod), AND / OR / NOT in upper case, parentheses, \
//!      \"quoted values\" for spaces and colons",
//!     "rules[0].options.duration (line 2, column 58): 9000 is above the maximum 7200; durations are in seconds; 7200 is 2 hours",
//! ]);
//! ```

pub(crate) mod json;

use crate::error::Problem;
use crate::options::ConfigInput;
use json::{Member, Node, NodeValue, Pos};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// What validation needs to know besides the file itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct ValidateContext<'a> {
    /// The version being deployed (`faulty_deployment_detection` rules need one).
    pub version: Option<&'a str>,
    /// `true` for `validate`: a monitor query that does not parse is a problem. `false` when
    /// evaluating: it is a warning, because the server has the last word.
    pub strict_queries: bool,
    /// An unknown key is a warning and is passed through unchanged, instead of a problem. For
    /// options the server knows and gatepost does not yet.
    pub allow_unknown_keys: bool,
}

/// A rule as the engine needs to know it (for progress and for timing the polls).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSummary {
    pub name: String,
    pub rule_type: String,
    /// Whether the rule runs as a dry run: its own `dryRun` when the file gives one, else the
    /// gate's.
    pub dry_run: bool,
    /// `options.duration` in seconds (0 when absent).
    pub duration_s: u64,
    /// `options.warmup` in seconds (0 when absent).
    pub warmup_s: u64,
}

/// A valid config, translated.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedConfig {
    /// The `configuration` object to send (`{"rules": [..]}`, plus `dry_run` when the file gives
    /// it), snake_case.
    pub configuration: Value,
    /// The gate's dry run as written (`false` when the file does not say).
    pub dry_run: bool,
    pub rules: Vec<RuleSummary>,
    /// Things worth saying that do not stop the evaluation (unknown keys passed through on
    /// request, a query the local parser could not read when not strict, ...), in file order.
    pub warnings: Vec<Problem>,
}

/// An invalid config: every problem, and the warnings found along the way, each in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub problems: Vec<Problem>,
    pub warnings: Vec<Problem>,
}

/// The longest rule duration the API accepts, in seconds (two hours).
pub const MAX_DURATION_S: u64 = 7200;

/// The longest warm-up gatepost accepts, in seconds: our choice, since the published API gives
/// `warmup` a minimum of 0 and no maximum. A day is far longer than any deploy waits, and bounds
/// every number the engine derives from it (far below 2^53 milliseconds). The emulator applies
/// this same constant, so the client and the emulator accept the same configs.
pub const MAX_WARMUP_S: u64 = 86_400;

/// Faulty deployment detection needs enough traffic to compare; the docs recommend at least this.
pub const RECOMMENDED_FDD_DURATION_S: u64 = 900;

/// What a user who wrote an unreadable monitor query most likely needs to be reminded of.
const QUERY_SYNTAX_HINT: &str = "monitor search syntax: field:value terms (service:web env:prod), \
     AND / OR / NOT in upper case, parentheses, \"quoted values\" for spaces and colons";

/// The rule types the API knows.
pub const RULE_TYPES: [&str; 2] = ["monitor", "faulty_deployment_detection"];

/// Parse, translate and validate a config. On failure, returns *every* problem found, in file
/// order ([`check`] also keeps the warnings).
pub fn parse(input: &ConfigInput, ctx: &ValidateContext<'_>) -> Result<ParsedConfig, Vec<Problem>> {
    check(input, ctx).map_err(|invalid| invalid.problems)
}

/// Parse, translate and validate a config; on failure, every problem and every warning.
pub fn check(input: &ConfigInput, ctx: &ValidateContext<'_>) -> Result<ParsedConfig, Invalid> {
    let (root, text) = match input {
        ConfigInput::Text(text) => {
            let text = text.strip_prefix('\u{feff}').unwrap_or(text);
            let value = serde_json::from_str::<Value>(text).map_err(|e| Invalid {
                problems: vec![syntax_problem(&e)],
                warnings: Vec::new(),
            })?;
            let root = json::read(text).unwrap_or_else(|| Node::from_value(&value));
            (root, Some(text))
        }
        ConfigInput::Value(value) => (Node::from_value(value), None),
    };
    let mut checker = Checker {
        text,
        ctx,
        stored: false,
        problems: Vec::new(),
        warnings: Vec::new(),
    };
    let parsed = checker.config(&root);
    let (mut problems, mut warnings) = (checker.problems, checker.warnings);
    // In the order a reader meets them in the file (stable: the order found when positions tie or
    // the config came as data without positions).
    for list in [&mut problems, &mut warnings] {
        list.sort_by_key(|p| (p.line.unwrap_or(0), p.column.unwrap_or(0)));
    }
    match parsed {
        Some((configuration, dry_run, rules)) if problems.is_empty() => Ok(ParsedConfig {
            configuration,
            dry_run,
            rules,
            warnings,
        }),
        _ => Err(Invalid { problems, warnings }),
    }
}

/// The JSON Schema of the config file (committed as `schemas/config.schema.json`).
pub fn json_schema() -> Value {
    schema_without_defaults::<schema::ConfigFile>()
}

/// The draft 2020-12 schema of a schema-only type, without the `default`s schemars derives: they
/// would advertise client-side defaults (`failOnNoData: false`, `query: ""`) that are not the
/// server's.
pub(crate) fn schema_without_defaults<T: schemars::JsonSchema>() -> Value {
    let schema = schemars::generate::SchemaSettings::draft2020_12()
        .with_transform(schemars::transform::RecursiveTransform(
            |s: &mut schemars::Schema| {
                s.remove("default");
            },
        ))
        .into_generator()
        .into_root_schema_for::<T>();
    schema.to_value()
}

/// Check and translate the `rules` array of a gate kept in Datadog (`gates[i].rules` of a gates
/// file, see [`crate::gates`]): the same checks and translation as a config file's rules, with
/// paths under `path`. The list may be empty (a gate can exist before its rules) and a
/// faulty_deployment_detection rule needs no version (it comes with each evaluation). Returns the
/// translated rules (when there is no problem), the problems and the warnings.
pub(crate) fn stored_rules(
    text: Option<&str>,
    node: &Node,
    path: &str,
) -> (Option<Vec<Value>>, Vec<Problem>, Vec<Problem>) {
    let ctx = ValidateContext {
        strict_queries: true,
        ..ValidateContext::default()
    };
    let mut checker = Checker {
        text,
        ctx: &ctx,
        stored: true,
        problems: Vec::new(),
        warnings: Vec::new(),
    };
    let NodeValue::Array(items) = &node.value else {
        checker.problem(
            path,
            node.pos,
            format!("must be an array of rules, not {}", node.kind()),
        );
        return (None, checker.problems, checker.warnings);
    };
    let mut names = BTreeMap::new();
    let mut rules = Vec::new();
    for (i, item) in items.iter().enumerate() {
        // A stored rule's own dry_run is all there is: the gate's applies on the server.
        if let Some((rule, _)) = checker.rule(item, &index_path(path, i), &mut names, false) {
            rules.push(rule);
        }
    }
    let ok = checker.problems.is_empty();
    (ok.then_some(rules), checker.problems, checker.warnings)
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

/// The closest of `candidates` to `word`, if it is close enough to be a plausible typo.
///
/// Case, `_` and `-` are ignored when measuring (`DryRun`, `dry-run` and `dryrun` all suggest
/// `dryRun`); among equally close spellings the first candidate wins, so lists put the
/// spelling to recommend first.
pub fn did_you_mean<'c>(word: &str, candidates: &[&'c str]) -> Option<&'c str> {
    fn squash(s: &str) -> String {
        s.chars()
            .filter(|c| *c != '_' && *c != '-')
            .flat_map(char::to_lowercase)
            .collect()
    }
    let w = squash(word);
    let allowed = match w.chars().count() {
        0..=2 => 0,
        3..=5 => 1,
        _ => 2,
    };
    let mut best: Option<(usize, usize, &'c str)> = None;
    for &c in candidates {
        let squashed = edit_distance(&w, &squash(c));
        if squashed > allowed {
            continue;
        }
        let key = (squashed, edit_distance(word, c));
        if best.is_none_or(|(s, r, _)| key < (s, r)) {
            best = Some((key.0, key.1, c));
        }
    }
    best.map(|(_, _, c)| c)
}

pub(crate) fn syntax_problem(e: &serde_json::Error) -> Problem {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let message = full.strip_suffix(&suffix).unwrap_or(&full);
    let mut problem = Problem::new("", format!("invalid JSON: {message}"));
    if e.classify() == serde_json::error::Category::Eof {
        problem = problem.with_hint("the file ends too early: check for a missing \"}\" or \"]\"");
    }
    problem.line = Some(u32::try_from(e.line()).unwrap_or(u32::MAX).max(1));
    problem.column = Some(u32::try_from(e.column()).unwrap_or(u32::MAX).max(1));
    problem
}

/// A known key: the API's name and the spellings accepted for it (the one hints suggest first).
#[derive(Clone, Copy)]
struct KeySpec {
    api: &'static str,
    spellings: &'static [&'static str],
}

const fn key(api: &'static str, spellings: &'static [&'static str]) -> KeySpec {
    KeySpec { api, spellings }
}

const TOP_KEYS: &[KeySpec] = &[
    key("$schema", &["$schema"]),
    key("dry_run", &["dryRun", "dry_run"]),
    key("rules", &["rules"]),
];

const RULE_KEYS: &[KeySpec] = &[
    key("type", &["type"]),
    key("name", &["name"]),
    key("dry_run", &["dryRun", "dry_run"]),
    key("options", &["options"]),
];

const MONITOR_OPTION_KEYS: &[KeySpec] = &[
    key("query", &["query"]),
    key("duration", &["duration"]),
    key("warmup", &["warmup"]),
    key("fail_on_no_data", &["failOnNoData", "fail_on_no_data"]),
    key(
        "fail_on_no_groups_found",
        &["failOnNoGroupsFound", "fail_on_no_groups_found"],
    ),
    key("monitor_ids", &["monitorIds", "monitor_ids"]),
];

const FDD_OPTION_KEYS: &[KeySpec] = &[
    key("duration", &["duration"]),
    key(
        "excluded_resources",
        &["excluded_resources", "excludedResources"],
    ),
    key(
        "allowed_resources",
        &[
            "allowed_resources",
            "allowedResources",
            "included_resources",
            "includedResources",
        ],
    ),
];

const MONITOR_ID_KEYS: &[KeySpec] = &[key("id", &["id"]), key("groups", &["groups"])];

/// Keys people put in the config file that are really options of the command.
const COMMAND_OPTIONS: &[(&str, &str)] = &[
    ("service", "--service"),
    ("env", "--env"),
    ("identifier", "--identifier"),
    ("version", "--version"),
    ("primary_tag", "--primary-tag"),
    ("primaryTag", "--primary-tag"),
    ("apm_primary_tag", "--primary-tag"),
    ("apmPrimaryTag", "--primary-tag"),
    ("timeout", "--timeout"),
];

/// `path` + `.key` (or `["key"]` when the key is not a plain name).
fn child_path(path: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$' || c == '-');
    match (plain, path.is_empty()) {
        (true, true) => key.to_string(),
        (true, false) => format!("{path}.{key}"),
        (false, _) => format!("{path}[{}]", Value::String(key.to_string())),
    }
}

fn index_path(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

/// The members of one object, sorted into known keys (by API name) and the rest.
struct Level<'n> {
    known: BTreeMap<&'static str, &'n Member>,
    unknown: Vec<&'n Member>,
}

impl<'n> Level<'n> {
    fn get(&self, api: &str) -> Option<&'n Node> {
        self.known.get(api).map(|m| &m.value)
    }
}

struct Checker<'a, 'c> {
    text: Option<&'a str>,
    ctx: &'c ValidateContext<'c>,
    /// The rules of a gate kept in Datadog (the gates file): the version comes with each
    /// evaluation, not with the rule.
    stored: bool,
    problems: Vec<Problem>,
    warnings: Vec<Problem>,
}

fn at(problem: Problem, pos: Option<Pos>) -> Problem {
    let mut problem = problem;
    if let Some(pos) = pos {
        problem.line = Some(pos.line);
        problem.column = Some(pos.column);
    }
    problem
}

impl Checker<'_, '_> {
    fn problem(&mut self, path: &str, pos: Option<Pos>, message: impl Into<String>) {
        self.problems.push(at(Problem::new(path, message), pos));
    }

    fn problem_hint(
        &mut self,
        path: &str,
        pos: Option<Pos>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        self.problems
            .push(at(Problem::new(path, message).with_hint(hint), pos));
    }

    fn warn(&mut self, problem: Problem, pos: Option<Pos>) {
        self.warnings.push(at(problem, pos));
    }

    /// Sort an object's members by the known keys, reporting a key given twice (in the same or
    /// in another spelling). The first occurrence is the one kept for further checks.
    fn level<'n>(&mut self, members: &'n [Member], specs: &[KeySpec], path: &str) -> Level<'n> {
        let mut level = Level {
            known: BTreeMap::new(),
            unknown: Vec::new(),
        };
        for member in members {
            let Some(spec) = specs
                .iter()
                .find(|s| s.spellings.contains(&member.key.as_str()))
            else {
                level.unknown.push(member);
                continue;
            };
            if let Some(first) = level.known.get(spec.api) {
                let where_ = if path.is_empty() {
                    "the top level".to_string()
                } else {
                    path.to_string()
                };
                let message = if first.key == member.key {
                    format!("key \"{}\" appears twice at {where_}", member.key)
                } else {
                    format!(
                        "\"{}\" and \"{}\" are the same key, given twice at {where_}",
                        first.key, member.key
                    )
                };
                self.problem_hint(
                    &child_path(path, &member.key),
                    member.key_pos,
                    message,
                    "keep only one of them",
                );
                continue;
            }
            level.known.insert(spec.api, member);
        }
        level
    }

    /// Unknown keys, at any level: a problem (the API refuses them), or, with
    /// [`ValidateContext::allow_unknown_keys`], a warning and the key passed through into `out`.
    ///
    /// `misplaced`: keys that belong inside `"options"`; `elsewhere`: the option keys of the other
    /// rule type and its name, for a specific message.
    fn unknown_keys(
        &mut self,
        level: &Level<'_>,
        specs: &[KeySpec],
        path: &str,
        misplaced: &[&str],
        elsewhere: Option<(&[KeySpec], &str)>,
        mut out: Option<&mut Map<String, Value>>,
    ) {
        let spellings: Vec<&str> = specs
            .iter()
            .flat_map(|s| s.spellings.iter().copied())
            .collect();
        let allow = self.ctx.allow_unknown_keys;
        for member in &level.unknown {
            let where_ = if path.is_empty() {
                "the top level".to_string()
            } else {
                path.to_string()
            };
            let mut message = format!("unknown key \"{}\" at {where_}", member.key);
            if let Some((other, kind)) = elsewhere
                && other
                    .iter()
                    .any(|s| s.spellings.contains(&member.key.as_str()))
            {
                message.push_str(&format!(
                    ": it is an option of {kind} rules, not of this rule's type"
                ));
            }
            let key_path = child_path(path, &member.key);
            let hint = if let Some((_, flag)) = COMMAND_OPTIONS
                .iter()
                .find(|(k, _)| *k == member.key && path.is_empty())
            {
                format!(
                    "\"{}\" is not part of the config file; pass it as {flag}",
                    member.key
                )
            } else if misplaced.contains(&member.key.as_str()) {
                format!("\"{}\" belongs inside \"options\"", member.key)
            } else if let Some(s) = did_you_mean(&member.key, &spellings) {
                format!("did you mean \"{s}\"?")
            } else {
                let known = spellings
                    .iter()
                    .map(|s| format!("\"{s}\""))
                    .collect::<Vec<_>>()
                    .join(", ");
                if allow {
                    format!("known keys here: {known}")
                } else {
                    format!(
                        "known keys here: {known}; to pass a key newer than gatepost through, \
                         use `allow_unknown_keys`"
                    )
                }
            };
            if allow {
                message.push_str("; passed through unchanged (allow_unknown_keys)");
                self.warn(
                    Problem::new(key_path, message).with_hint(hint),
                    member.key_pos,
                );
                if let Some(out) = out.as_deref_mut() {
                    out.insert(member.key.clone(), member.value.to_value());
                }
            } else {
                self.problem_hint(&key_path, member.key_pos, message, hint);
            }
        }
    }

    fn boolean(&mut self, node: &Node, path: &str) -> Option<bool> {
        match &node.value {
            NodeValue::Bool(b) => Some(*b),
            NodeValue::String(s) if s == "true" || s == "false" => {
                self.problem_hint(
                    path,
                    node.pos,
                    "must be true or false, not a string",
                    format!("write {s} without quotes"),
                );
                None
            }
            _ => {
                self.problem(
                    path,
                    node.pos,
                    format!("must be true or false, not {}", node.kind()),
                );
                None
            }
        }
    }

    fn object<'n>(&mut self, node: &'n Node, path: &str, what: &str) -> Option<&'n [Member]> {
        match &node.value {
            NodeValue::Object(members) => Some(members),
            _ => {
                self.problem(
                    path,
                    node.pos,
                    format!("{what} must be an object, not {}", node.kind()),
                );
                None
            }
        }
    }

    /// A whole number of seconds in `0..=max` (no maximum when `max` is `None`).
    fn seconds(&mut self, node: &Node, path: &str, max: Option<u64>) -> Option<u64> {
        let n = match &node.value {
            NodeValue::Number(n) => n,
            NodeValue::String(s) => {
                let hint = if s.trim().parse::<u64>().is_ok() {
                    format!("write {} without quotes", s.trim())
                } else {
                    "durations are whole seconds: 300 for five minutes".to_string()
                };
                self.problem_hint(
                    path,
                    node.pos,
                    "must be a number of seconds, not a string",
                    hint,
                );
                return None;
            }
            _ => {
                self.problem(
                    path,
                    node.pos,
                    format!("must be a number of seconds, not {}", node.kind()),
                );
                return None;
            }
        };
        // `300.0` (some YAML-to-JSON tools write whole numbers that way) means 300.
        let whole = n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite() && *f >= 0.0 && f.fract() == 0.0 && *f <= u64::MAX as f64)
                .map(|f| f as u64)
        });
        if let Some(v) = whole {
            if let Some(max) = max.filter(|m| v > *m) {
                self.problem_hint(
                    path,
                    node.pos,
                    format!("{v} is above the maximum {max}"),
                    format!("durations are in seconds; {max} is {} hours", max / 3600),
                );
                return None;
            }
            return Some(v);
        }
        if n.as_i64().is_some() || n.as_f64().is_some_and(|f| f < 0.0) {
            self.problem(path, node.pos, format!("{n} is below the minimum 0"));
        } else {
            self.problem(
                path,
                node.pos,
                format!("{n} is not a whole number of seconds"),
            );
        }
        None
    }

    /// An array of non-empty strings (resource names).
    fn string_list(&mut self, node: &Node, path: &str) -> bool {
        let NodeValue::Array(items) = &node.value else {
            self.problem(
                path,
                node.pos,
                format!("must be an array of strings, not {}", node.kind()),
            );
            return false;
        };
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let item_path = index_path(path, i);
            match &item.value {
                NodeValue::String(s) if !s.trim().is_empty() => {}
                NodeValue::String(_) => {
                    self.problem(&item_path, item.pos, "must not be empty");
                    ok = false;
                }
                _ => {
                    self.problem(
                        &item_path,
                        item.pos,
                        format!("must be a string, not {}", item.kind()),
                    );
                    ok = false;
                }
            }
        }
        ok
    }

    /// A boolean written at `level`'s `api` key, if any (checked, `None` when not a boolean).
    fn flag(&mut self, level: &Level<'_>, api: &str, path: &str) -> Option<bool> {
        let node = level.get(api)?;
        let p = child_path(path, &level.known[api].key);
        self.boolean(node, &p)
    }

    fn config(&mut self, root: &Node) -> Option<(Value, bool, Vec<RuleSummary>)> {
        let NodeValue::Object(members) = &root.value else {
            self.problem_hint(
                "",
                root.pos,
                format!("the config must be a JSON object, not {}", root.kind()),
                "write {\"rules\": [{\"type\": \"monitor\", \"name\": ..., \"options\": {...}}]}",
            );
            return None;
        };
        let level = self.level(members, TOP_KEYS, "");
        let mut configuration = Map::new();
        self.unknown_keys(&level, TOP_KEYS, "", &[], None, Some(&mut configuration));
        if let Some(schema) = level.get("$schema")
            && !matches!(schema.value, NodeValue::String(_))
        {
            self.problem(
                "$schema",
                schema.pos,
                format!("must be a string, not {}", schema.kind()),
            );
        }
        // Sent only when written: the server's default applies otherwise.
        let dry_run = self.flag(&level, "dry_run", "");
        let Some(rules_node) = level.get("rules") else {
            self.problem_hint(
                "",
                root.pos,
                "missing \"rules\": the config needs a non-empty array of rules",
                "add \"rules\": [{\"type\": \"monitor\", \"name\": ..., \"options\": {\"query\": ...}}]",
            );
            return None;
        };
        let NodeValue::Array(rule_nodes) = &rules_node.value else {
            self.problem(
                "rules",
                rules_node.pos,
                format!("must be an array of rules, not {}", rules_node.kind()),
            );
            return None;
        };
        if rule_nodes.is_empty() {
            self.problem_hint(
                "rules",
                rules_node.pos,
                "must hold at least one rule",
                "the API rejects an empty rule list",
            );
            return None;
        }
        let mut names: BTreeMap<String, String> = BTreeMap::new();
        let mut rules = Vec::new();
        let mut summaries = Vec::new();
        let gate_dry_run = dry_run.unwrap_or(false);
        for (i, rule_node) in rule_nodes.iter().enumerate() {
            let path = index_path("rules", i);
            if let Some((rule, summary)) = self.rule(rule_node, &path, &mut names, gate_dry_run) {
                rules.push(rule);
                summaries.push(summary);
            }
        }
        if let Some(d) = dry_run {
            configuration.insert("dry_run".into(), Value::Bool(d));
        }
        configuration.insert("rules".into(), Value::Array(rules));
        Some((Value::Object(configuration), gate_dry_run, summaries))
    }

    fn rule(
        &mut self,
        node: &Node,
        path: &str,
        names: &mut BTreeMap<String, String>,
        gate_dry_run: bool,
    ) -> Option<(Value, RuleSummary)> {
        let members = self.object(node, path, "a rule")?;
        let level = self.level(members, RULE_KEYS, path);
        let option_keys: Vec<&str> = MONITOR_OPTION_KEYS
            .iter()
            .chain(FDD_OPTION_KEYS)
            .flat_map(|s| s.spellings.iter().copied())
            .collect();
        let mut rule = Map::new();
        self.unknown_keys(&level, RULE_KEYS, path, &option_keys, None, Some(&mut rule));

        let name = self.rule_name(&level, node, path, names);
        let rule_type = self.rule_type(&level, node, path);
        // A rule's `dry_run` overrides the gate's on the server: sent only when written.
        let dry_run = self.flag(&level, "dry_run", path);
        let options_path = child_path(path, "options");
        let options_node = level.get("options");
        let options_members: Option<&[Member]> = match options_node {
            Some(n) => self.object(n, &options_path, "\"options\""),
            None => Some(&[]),
        };
        let options_pos = options_node.and_then(|n| n.pos).or(node.pos);

        let Some(rule_type) = rule_type else {
            // The type is missing or unknown: still check what the options say, against the keys
            // of every rule type, so one run reports everything.
            if options_node.is_some()
                && let Some(members) = options_members
            {
                self.rule_options(members, &options_path, options_pos, None);
            }
            return None;
        };
        if rule_type == "monitor" && options_node.is_none() {
            self.problem_hint(
                path,
                node.pos,
                "a monitor rule needs \"options\" with a \"query\"",
                "add \"options\": {\"query\": \"service:my-service env:prod\"}",
            );
            return None;
        }
        if rule_type == "faulty_deployment_detection"
            && !self.stored
            && self.ctx.version.is_none_or(|v| v.trim().is_empty())
        {
            self.problem_hint(
                path,
                node.pos,
                "a faulty_deployment_detection rule needs the version being deployed",
                "pass the version being deployed with `version`",
            );
        }
        // Options not written (allowed for faulty_deployment_detection) are not sent with an
        // evaluation; a stored rule must carry the field (the API refuses a rule without it), and
        // empty options mean the same as none.
        let (options, duration_s, warmup_s) = match options_node {
            None if self.stored => (Some(Map::new()), 0, 0),
            None => (None, 0, 0),
            Some(_) => {
                let (options, d, w) = self.rule_options(
                    options_members?,
                    &options_path,
                    options_pos,
                    Some(rule_type),
                )?;
                (Some(options), d, w)
            }
        };
        let name = name?;
        rule.insert("type".into(), Value::String(rule_type.to_string()));
        rule.insert("name".into(), Value::String(name.clone()));
        if let Some(d) = dry_run {
            rule.insert("dry_run".into(), Value::Bool(d));
        }
        if let Some(options) = options {
            rule.insert("options".into(), Value::Object(options));
        }
        let summary = RuleSummary {
            name,
            rule_type: rule_type.to_string(),
            dry_run: dry_run.unwrap_or(gate_dry_run),
            duration_s,
            warmup_s,
        };
        Some((Value::Object(rule), summary))
    }

    /// A rule's required string field `key`: a missing one is a problem at the rule (with
    /// `missing_hint`), a value of another kind a problem at the field.
    fn required_string<'n>(
        &mut self,
        level: &Level<'n>,
        node: &Node,
        path: &str,
        key: &str,
        missing_hint: &str,
    ) -> Option<(&'n String, &'n Node)> {
        let Some(field) = level.get(key) else {
            self.problem_hint(
                path,
                node.pos,
                format!("a rule needs a \"{key}\""),
                missing_hint,
            );
            return None;
        };
        let NodeValue::String(text) = &field.value else {
            self.problem(
                &child_path(path, key),
                field.pos,
                format!("must be a string, not {}", field.kind()),
            );
            return None;
        };
        Some((text, field))
    }

    fn rule_name(
        &mut self,
        level: &Level<'_>,
        node: &Node,
        path: &str,
        names: &mut BTreeMap<String, String>,
    ) -> Option<String> {
        let name_path = child_path(path, "name");
        let (name, name_node) = self.required_string(
            level,
            node,
            path,
            "name",
            "names identify rules in results and must be unique",
        )?;
        if name.trim().is_empty() {
            self.problem(&name_path, name_node.pos, "must not be empty");
            return None;
        }
        if let Some(first) = names.get(name) {
            self.problem_hint(
                &name_path,
                name_node.pos,
                format!("rule name \"{name}\" is already used by {first}"),
                "rule names must be unique within a gate",
            );
            return None;
        }
        names.insert(name.clone(), path.to_string());
        Some(name.clone())
    }

    fn rule_type(&mut self, level: &Level<'_>, node: &Node, path: &str) -> Option<&'static str> {
        let type_path = child_path(path, "type");
        let (t, type_node) = self.required_string(
            level,
            node,
            path,
            "type",
            "use \"monitor\" or \"faulty_deployment_detection\"",
        )?;
        if let Some(known) = RULE_TYPES.iter().find(|k| **k == t) {
            return Some(known);
        }
        let hint = match did_you_mean(t, &RULE_TYPES) {
            Some(s) => format!("did you mean \"{s}\"?"),
            None => "use \"monitor\" or \"faulty_deployment_detection\"".to_string(),
        };
        self.problem_hint(
            &type_path,
            type_node.pos,
            format!("unknown rule type \"{t}\""),
            hint,
        );
        None
    }

    fn duration(
        &mut self,
        level: &Level<'_>,
        path: &str,
        out: &mut Map<String, Value>,
    ) -> Option<u64> {
        let node = level.get("duration")?;
        let v = self.seconds(node, &child_path(path, "duration"), Some(MAX_DURATION_S))?;
        out.insert("duration".into(), Value::from(v));
        Some(v)
    }

    /// A rule's options, for a rule of type `kind` (`None` when the type is missing or unknown:
    /// then every option of every type is checked, and nothing is built to be sent).
    fn rule_options(
        &mut self,
        members: &[Member],
        path: &str,
        pos: Option<Pos>,
        kind: Option<&str>,
    ) -> Option<(Map<String, Value>, u64, u64)> {
        let before = self.problems.len();
        let any_type: Vec<KeySpec> = MONITOR_OPTION_KEYS
            .iter()
            .chain(FDD_OPTION_KEYS.iter().filter(|k| k.api != "duration"))
            .copied()
            .collect();
        let (specs, elsewhere): (&[KeySpec], Option<(&[KeySpec], &str)>) = match kind {
            Some("monitor") => (
                MONITOR_OPTION_KEYS,
                Some((FDD_OPTION_KEYS, "faulty_deployment_detection")),
            ),
            Some(_) => (FDD_OPTION_KEYS, Some((MONITOR_OPTION_KEYS, "monitor"))),
            None => (&any_type, None),
        };
        let level = self.level(members, specs, path);
        let mut out = Map::new();
        let duration_s = self.duration(&level, path, &mut out).unwrap_or(0);
        let mut warmup_s = 0;
        if let Some(node) = level.get("warmup")
            && let Some(v) = self.seconds(node, &child_path(path, "warmup"), Some(MAX_WARMUP_S))
        {
            warmup_s = v;
            out.insert("warmup".into(), Value::from(v));
        }
        for flag in ["fail_on_no_data", "fail_on_no_groups_found"] {
            if let Some(b) = self.flag(&level, flag, path) {
                out.insert(flag.into(), Value::Bool(b));
            }
        }
        match (level.get("query"), level.get("monitor_ids")) {
            (Some(_), Some(_)) => self.problem_hint(
                path,
                pos,
                "give either \"query\" or \"monitor_ids\", not both",
                "a monitor rule selects its monitors one way",
            ),
            (None, None) if kind == Some("monitor") => self.problem_hint(
                path,
                pos,
                "a monitor rule needs a \"query\" (or \"monitor_ids\")",
                "for example \"query\": \"service:my-service env:prod\"",
            ),
            (None, None) => {}
            (Some(query), None) => {
                if self.query(query, &child_path(path, "query")) {
                    out.insert("query".into(), query.to_value());
                }
            }
            (None, Some(ids)) => {
                let p = child_path(path, &level.known["monitor_ids"].key);
                if let Some(v) = self.monitor_ids(ids, &p) {
                    out.insert("monitor_ids".into(), v);
                }
            }
        }
        if kind == Some("faulty_deployment_detection")
            && let Some(node) = level.get("duration")
            && (1..RECOMMENDED_FDD_DURATION_S).contains(&duration_s)
        {
            self.warn(
                Problem::new(
                    child_path(path, "duration"),
                    format!(
                        "{duration_s} s is shorter than the {RECOMMENDED_FDD_DURATION_S} s \
                         recommended for faulty deployment detection"
                    ),
                )
                .with_hint("short windows may not see enough traffic to compare versions"),
                node.pos,
            );
        }
        for list in ["excluded_resources", "allowed_resources"] {
            if let Some(node) = level.get(list) {
                let p = child_path(path, &level.known[list].key);
                if self.string_list(node, &p) {
                    out.insert(list.into(), node.to_value());
                }
            }
        }
        if let (Some(ex), Some(al)) = (
            level.known.get("excluded_resources"),
            level.known.get("allowed_resources"),
        ) {
            self.problem_hint(
                path,
                pos,
                format!("\"{}\" and \"{}\" cannot both be given", ex.key, al.key),
                "list the resources to exclude or the ones to include, not both",
            );
        }
        self.unknown_keys(&level, specs, path, &[], elsewhere, Some(&mut out));
        (self.problems.len() == before).then_some((out, duration_s, warmup_s))
    }

    /// Check a monitor query; `false` when it is not even a string (a parse failure is a
    /// problem or a warning, but the query is still sent when it is only a warning).
    fn query(&mut self, node: &Node, path: &str) -> bool {
        let NodeValue::String(text) = &node.value else {
            self.problem(
                path,
                node.pos,
                format!("must be a string, not {}", node.kind()),
            );
            return false;
        };
        if text.trim().is_empty() {
            self.problem_hint(
                path,
                node.pos,
                "must not be empty",
                "for example \"service:my-service env:prod\"",
            );
            return false;
        }
        let Err(e) = crate::query::parse(text) else {
            return true;
        };
        let pos = self
            .text
            .and_then(|t| json::string_char_pos(t, node, e.column.saturating_sub(1)))
            .or(node.pos);
        let problem = Problem::new(path, e.to_string());
        if self.ctx.strict_queries {
            self.problems
                .push(at(problem.with_hint(QUERY_SYNTAX_HINT), pos));
        } else {
            self.warn(
                problem.with_hint("sent anyway: the server has the last word on queries"),
                pos,
            );
        }
        true
    }

    /// `monitor_ids`: entries `{"id": "<decimal id>", "groups": [...]}`, both required, as the
    /// published API defines them. A number id is a problem (with a hint to quote it): gatepost
    /// sends what the user wrote, and the API takes a string.
    fn monitor_ids(&mut self, node: &Node, path: &str) -> Option<Value> {
        let NodeValue::Array(items) = &node.value else {
            self.problem(
                path,
                node.pos,
                format!(
                    "must be an array of {{\"id\": \"...\", \"groups\": [...]}}, not {}",
                    node.kind()
                ),
            );
            return None;
        };
        if items.is_empty() {
            self.problem(path, node.pos, "must hold at least one monitor");
            return None;
        }
        let before = self.problems.len();
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let item_path = index_path(path, i);
            let Some(members) = self.object(item, &item_path, "a monitor entry") else {
                continue;
            };
            let level = self.level(members, MONITOR_ID_KEYS, &item_path);
            let mut entry = Map::new();
            match level.get("id") {
                Some(id) => {
                    let id_path = child_path(&item_path, "id");
                    match &id.value {
                        NodeValue::String(s)
                            if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) =>
                        {
                            entry.insert("id".into(), id.to_value());
                        }
                        NodeValue::Number(n) => self.problem_hint(
                            &id_path,
                            id.pos,
                            "must be a string: the API takes monitor ids as strings",
                            format!("write \"{n}\" in quotes"),
                        ),
                        _ => self.problem_hint(
                            &id_path,
                            id.pos,
                            format!("must be a monitor's decimal id, not {}", id.to_value()),
                            "for example \"id\": \"12345\"",
                        ),
                    }
                }
                None => self.problem_hint(
                    &item_path,
                    item.pos,
                    "a monitor entry needs an \"id\"",
                    "for example {\"id\": \"12345\", \"groups\": []}",
                ),
            }
            match level.get("groups") {
                Some(groups) => {
                    if self.string_list(groups, &child_path(&item_path, "groups")) {
                        entry.insert("groups".into(), groups.to_value());
                    }
                }
                None => self.problem_hint(
                    &item_path,
                    item.pos,
                    "a monitor entry needs \"groups\"",
                    "\"groups\": [] evaluates every group of the monitor",
                ),
            }
            self.unknown_keys(
                &level,
                MONITOR_ID_KEYS,
                &item_path,
                &[],
                None,
                Some(&mut entry),
            );
            out.push(Value::Object(entry));
        }
        (self.problems.len() == before).then_some(Value::Array(out))
    }
}

/// Types that describe the config file for the JSON Schema only; validation above is by hand
/// because it must report every problem with a path and a hint, which derive-based parsing
/// cannot. Both spellings of a key are separate optional properties.
#[allow(dead_code, reason = "these types exist to generate the JSON Schema")]
pub(crate) mod schema {
    use schemars::JsonSchema;

    /// A gatepost / datadog-ci Deployment Gates config file. Keys are accepted in camelCase or
    /// snake_case (not both for the same key).
    #[derive(JsonSchema)]
    #[schemars(title = "gatepost config file", deny_unknown_fields)]
    pub(super) struct ConfigFile {
        /// The JSON Schema this file follows (for editors); not sent.
        #[serde(rename = "$schema", default)]
        schema: String,
        /// Dry-run the whole gate: the API answers `pass`, the real result is still recorded.
        #[serde(rename = "dryRun", default)]
        dry_run_camel: bool,
        /// Same as `dryRun`.
        #[serde(rename = "dry_run", default)]
        dry_run_snake: bool,
        /// The rules; all non-dry-run rules must pass for the gate to pass.
        #[schemars(length(min = 1))]
        rules: Vec<Rule>,
    }

    /// One rule.
    #[derive(JsonSchema)]
    #[serde(tag = "type", deny_unknown_fields)]
    pub(crate) enum Rule {
        /// Fails if, during `duration`, no monitor matches, more than 50 match, or any matching
        /// monitor is in ALERT or NO_DATA.
        #[serde(rename = "monitor")]
        Monitor {
            /// Unique within the gate.
            #[schemars(length(min = 1))]
            name: String,
            /// A dry-run rule's failure does not count.
            #[serde(rename = "dryRun", default)]
            dry_run_camel: bool,
            /// Same as `dryRun`.
            #[serde(rename = "dry_run", default)]
            dry_run_snake: bool,
            options: MonitorOptions,
        },
        /// APM Faulty Deployment Detection: compares the deployed version with previous ones.
        /// Needs the version being deployed (`--version`).
        #[serde(rename = "faulty_deployment_detection")]
        FaultyDeploymentDetection {
            /// Unique within the gate.
            #[schemars(length(min = 1))]
            name: String,
            /// A dry-run rule's failure does not count.
            #[serde(rename = "dryRun", default)]
            dry_run_camel: bool,
            /// Same as `dryRun`.
            #[serde(rename = "dry_run", default)]
            dry_run_snake: bool,
            #[serde(default)]
            options: FddOptions,
        },
    }

    /// Monitor rule options: `query` or `monitorIds`. Unknown options are refused (passed
    /// through only with `--allow-unknown-keys`).
    #[derive(JsonSchema, Default)]
    #[schemars(deny_unknown_fields)]
    #[schemars(extend("oneOf" = [
        {"required": ["query"]},
        {"required": ["monitorIds"]},
        {"required": ["monitor_ids"]}
    ]))]
    pub(crate) struct MonitorOptions {
        /// Monitor search query, e.g. `service:checkout env:prod`.
        #[serde(default)]
        #[schemars(length(min = 1))]
        query: String,
        /// Seconds the monitors must stay OK (0 = instant check).
        #[serde(default)]
        #[schemars(range(max = 7200))]
        duration: u64,
        /// Seconds to wait before evaluating (gatepost's bound: one day; the API sets none).
        #[serde(default)]
        #[schemars(range(max = super::MAX_WARMUP_S))]
        warmup: u64,
        /// Fail when a matching monitor has no data (server default true).
        #[serde(rename = "failOnNoData", default)]
        fail_on_no_data_camel: bool,
        /// Same as `failOnNoData`.
        #[serde(rename = "fail_on_no_data", default)]
        fail_on_no_data_snake: bool,
        /// Fail when a `group:` filter finds no groups (server default false).
        #[serde(rename = "failOnNoGroupsFound", default)]
        fail_on_no_groups_found_camel: bool,
        /// Same as `failOnNoGroupsFound`.
        #[serde(rename = "fail_on_no_groups_found", default)]
        fail_on_no_groups_found_snake: bool,
        /// Monitors by id instead of a query.
        #[serde(rename = "monitorIds", default)]
        #[schemars(length(min = 1))]
        monitor_ids_camel: Vec<MonitorId>,
        /// Same as `monitorIds`.
        #[serde(rename = "monitor_ids", default)]
        #[schemars(length(min = 1))]
        monitor_ids_snake: Vec<MonitorId>,
    }

    /// One monitor and the groups of it to evaluate.
    #[derive(JsonSchema)]
    #[schemars(deny_unknown_fields)]
    pub(crate) struct MonitorId {
        /// The monitor's decimal id, as a string (`"12345"`).
        #[schemars(regex(pattern = r"^[0-9]+$"))]
        id: String,
        /// The exact group names to evaluate (`k:v` or `k:v,k2:v2`); `[]` evaluates every group.
        #[schemars(inner(length(min = 1)))]
        groups: Vec<String>,
    }

    /// Faulty Deployment Detection options. Give either an exclude list or an include list.
    /// Unknown options are refused (passed through only with `--allow-unknown-keys`).
    #[derive(JsonSchema, Default)]
    #[schemars(deny_unknown_fields)]
    pub(crate) struct FddOptions {
        /// Seconds to observe (900 or more recommended).
        #[serde(default)]
        #[schemars(range(max = 7200))]
        duration: u64,
        /// Resources to ignore (`GET /healthcheck`).
        #[serde(default)]
        #[schemars(inner(length(min = 1)))]
        excluded_resources: Vec<String>,
        /// Same as `excluded_resources`.
        #[serde(rename = "excludedResources", default)]
        #[schemars(inner(length(min = 1)))]
        excluded_resources_camel: Vec<String>,
        /// The only resources to consider (sent as `allowed_resources`).
        #[serde(default)]
        #[schemars(inner(length(min = 1)))]
        allowed_resources: Vec<String>,
        /// Same as `allowed_resources`.
        #[serde(rename = "allowedResources", default)]
        #[schemars(inner(length(min = 1)))]
        allowed_resources_camel: Vec<String>,
        /// Same as `allowed_resources` (the name the docs use).
        #[serde(default)]
        #[schemars(inner(length(min = 1)))]
        included_resources: Vec<String>,
        /// Same as `allowed_resources`.
        #[serde(rename = "includedResources", default)]
        #[schemars(inner(length(min = 1)))]
        included_resources_camel: Vec<String>,
    }
}
