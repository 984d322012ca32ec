//! Helpers shared by the CLI's integration tests: run the built binary with a controlled
//! environment, and check what it printed.
#![allow(dead_code)]

pub mod fake;

use std::process::{Command, Output, Stdio};

/// Recognisable fake keys: every test asserts they never appear in stdout or stderr.
pub const API_KEY: &str = "FAKEAPIKEY0123456789abcdef0123456";
pub const APP_KEY: &str = "FAKEAPPKEY0123456789abcdef0123456789abcd";

pub use gatepost_testkit::repo_root;

/// A `gatepost` command with a clean environment: no keys, no CI variables, no colour, except
/// what the test adds.
pub fn gatepost() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gatepost"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    cmd
}

/// `gatepost()` with the fake keys set.
pub fn gatepost_with_keys() -> Command {
    let mut cmd = gatepost();
    cmd.env("DD_API_KEY", API_KEY).env("DD_APP_KEY", APP_KEY);
    cmd
}

/// `gate --service checkout --env prod` with the fake keys: the gate most tests evaluate (the
/// example worlds' and the fake API's).
pub fn checkout_gate() -> Command {
    let mut cmd = gatepost_with_keys();
    cmd.args(["gate", "--service", "checkout", "--env", "prod"]);
    cmd
}

/// What a finished run printed.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn from_output(out: Output) -> Run {
        let run = Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        run.assert_no_keys();
        run
    }

    /// Keys never appear in any output.
    pub fn assert_no_keys(&self) {
        for key in [API_KEY, APP_KEY] {
            assert!(
                !self.stdout.contains(key) && !self.stderr.contains(key),
                "a key leaked into the output:\n{self}"
            );
        }
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{self}"))
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Run to completion.
pub fn run(cmd: &mut Command) -> Run {
    Run::from_output(cmd.output().expect("gatepost runs"))
}

/// The outcome JSON Schema: the committed file when the lead has committed it, else the one the
/// engine generates (the same document).
pub fn outcome_schema() -> serde_json::Value {
    let path = repo_root().join("schemas/outcome.schema.json");
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).expect("the committed schema is JSON"),
        Err(_) => gatepost_core::Outcome::json_schema(),
    }
}

/// A small JSON Schema checker covering what schemars emits for the outcome: `type` (one or a
/// list), `required`, `properties`, `additionalProperties: false`, `enum`, `const`, `items`,
/// `$ref` into `$defs`/`definitions`, `anyOf`/`oneOf`/`allOf`, `minimum`. Returns every error.
pub fn schema_errors(schema: &serde_json::Value, value: &serde_json::Value) -> Vec<String> {
    let mut errors = Vec::new();
    check(schema, schema, value, "$", &mut errors);
    errors
}

fn check(
    root: &serde_json::Value,
    schema: &serde_json::Value,
    value: &serde_json::Value,
    path: &str,
    errors: &mut Vec<String>,
) {
    use serde_json::Value;
    let Value::Object(s) = schema else {
        if schema == &Value::Bool(false) {
            errors.push(format!("{path}: not allowed"));
        }
        return;
    };
    if let Some(Value::String(r)) = s.get("$ref") {
        let name = r.rsplit('/').next().unwrap_or_default();
        let target = root
            .get("$defs")
            .and_then(|d| d.get(name))
            .or_else(|| root.get("definitions").and_then(|d| d.get(name)))
            .unwrap_or_else(|| panic!("unresolvable $ref {r}"));
        check(root, target, value, path, errors);
    }
    if let Some(t) = s.get("type") {
        let types: Vec<&str> = match t {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let ok = types.iter().any(|t| match *t {
            "null" => value.is_null(),
            "boolean" => value.is_boolean(),
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "number" => value.is_number(),
            "integer" => value.is_i64() || value.is_u64(),
            _ => false,
        });
        if !ok {
            errors.push(format!("{path}: {value} is not of type {t}"));
            return;
        }
    }
    if let Some(Value::Array(options)) = s.get("enum")
        && !options.contains(value)
    {
        errors.push(format!("{path}: {value} is not one of {options:?}"));
    }
    if let Some(c) = s.get("const")
        && c != value
    {
        errors.push(format!("{path}: {value} is not {c}"));
    }
    if let (Some(min), Some(v)) = (s.get("minimum").and_then(Value::as_f64), value.as_f64())
        && v < min
    {
        errors.push(format!("{path}: {v} is below {min}"));
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(branches)) = s.get(key) {
            let matching = branches
                .iter()
                .filter(|b| {
                    let mut e = Vec::new();
                    check(root, b, value, path, &mut e);
                    e.is_empty()
                })
                .count();
            if matching == 0 || (key == "oneOf" && matching > 1) {
                errors.push(format!(
                    "{path}: {value} matches {matching} branches of {key}"
                ));
            }
        }
    }
    if let Some(Value::Array(all)) = s.get("allOf") {
        for b in all {
            check(root, b, value, path, errors);
        }
    }
    if let Value::Object(obj) = value {
        if let Some(Value::Array(required)) = s.get("required") {
            for r in required.iter().filter_map(Value::as_str) {
                if !obj.contains_key(r) {
                    errors.push(format!("{path}: missing required key {r:?}"));
                }
            }
        }
        let props = s.get("properties").and_then(Value::as_object);
        for (k, v) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(sub) => check(root, sub, v, &format!("{path}.{k}"), errors),
                None => {
                    if s.get("additionalProperties") == Some(&Value::Bool(false)) {
                        errors.push(format!("{path}: unexpected key {k:?}"));
                    }
                }
            }
        }
    }
    if let (Value::Array(items), Some(item_schema)) = (value, s.get("items")) {
        for (i, item) in items.iter().enumerate() {
            check(root, item_schema, item, &format!("{path}[{i}]"), errors);
        }
    }
}
