//! The published Deployment Gates API contract as machine-checked JSON Schemas (`schemas/api/`),
//! shared by the tests that hold request bodies (core's corpus and property tests) and response
//! bodies (the emulator's HTTP suite) to it. `schemas/api/index.json` says which schema checks
//! which body; this file only loads them and answers "does this body fit".

#![allow(dead_code)] // each test binary uses a different part
#![allow(clippy::disallowed_methods)] // tests read the committed schemas from disk

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

pub struct ApiSchemas {
    validators: BTreeMap<String, jsonschema::Validator>,
    operations: Vec<Operation>,
    errors: BTreeMap<u16, String>,
    checked: AtomicUsize,
}

struct Operation {
    method: String,
    segments: Vec<String>,
    request: Option<String>,
    responses: BTreeMap<u16, Option<String>>,
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas/api")
}

fn read(path: &std::path::Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every schema of `schemas/api/`, compiled once per test binary.
pub fn schemas() -> &'static ApiSchemas {
    static SCHEMAS: OnceLock<ApiSchemas> = OnceLock::new();
    SCHEMAS.get_or_init(load)
}

fn load() -> ApiSchemas {
    let mut documents = BTreeMap::new();
    for entry in std::fs::read_dir(dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if let Some(stem) = name.strip_suffix(".schema.json") {
            documents.insert(stem.to_string(), read(&path));
        }
    }
    let mut registry = jsonschema::Registry::new();
    for (stem, document) in &documents {
        assert_eq!(
            document["$id"],
            format!("urn:gatepost:api:{stem}"),
            "{stem}.schema.json: $id must name the file"
        );
        registry = registry
            .add(format!("urn:gatepost:api:{stem}"), document.clone())
            .unwrap_or_else(|e| panic!("{stem}: {e}"));
    }
    let registry = registry.prepare().expect("the API schemas resolve");
    let validators = documents
        .iter()
        .filter(|(stem, _)| stem.as_str() != "common")
        .map(|(stem, document)| {
            let validator = jsonschema::options()
                .with_registry(&registry)
                .build(document)
                .unwrap_or_else(|e| panic!("{stem}.schema.json does not compile: {e}"));
            (stem.clone(), validator)
        })
        .collect();
    let index = read(&dir().join("index.json"));
    let name = |v: &Value| v.as_str().map(str::to_string);
    let operations = index["operations"]
        .as_array()
        .expect("index.json lists operations")
        .iter()
        .map(|op| Operation {
            method: op["method"].as_str().unwrap().to_string(),
            segments: op["path"]
                .as_str()
                .unwrap()
                .split('/')
                .map(str::to_string)
                .collect(),
            request: name(&op["request"]),
            responses: op["responses"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(status, schema)| (status.parse().unwrap(), name(schema)))
                .collect(),
        })
        .collect();
    let errors = index["errors"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(status, schema)| (status.parse().unwrap(), name(schema).unwrap()))
        .collect();
    ApiSchemas {
        validators,
        operations,
        errors,
        checked: AtomicUsize::new(0),
    }
}

impl ApiSchemas {
    /// How many bodies this test binary has validated so far.
    pub fn checked(&self) -> usize {
        self.checked.load(Ordering::Relaxed)
    }

    /// The number of compiled schemas (`common` is only referenced).
    pub fn count(&self) -> usize {
        self.validators.len()
    }

    /// Validate `body` against the schema named `schema` (`trigger-request`, ...).
    pub fn validate(&self, schema: &str, body: &Value) -> Result<(), String> {
        let validator = self
            .validators
            .get(schema)
            .unwrap_or_else(|| panic!("no schema {schema}"));
        let problems: Vec<String> = validator
            .iter_errors(body)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        self.checked.fetch_add(1, Ordering::Relaxed);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "body does not fit schemas/api/{schema}.schema.json:\n  {}\n  body: {body}",
                problems.join("\n  ")
            ))
        }
    }

    /// The operation a request goes to: `path` may carry the `/api/v2` or `/api/unstable`
    /// prefix (or be a whole `/api/v1/...` path) and a query string. Literal segments win over `{placeholders}`.
    fn operation(&self, method: &str, path: &str) -> Option<&Operation> {
        let path = path.split('?').next().unwrap_or_default();
        // v1 operations (the monitor search) and the spans search are listed with their whole path.
        let path = if path.starts_with("/api/v1/") || path.starts_with("/api/v2/spans/") {
            path
        } else {
            path.strip_prefix("/api/v2")
                .or_else(|| path.strip_prefix("/api/unstable"))?
        };
        let segments: Vec<&str> = path.split('/').collect();
        self.operations
            .iter()
            .filter(|op| op.method.eq_ignore_ascii_case(method))
            .filter(|op| {
                op.segments.len() == segments.len()
                    && op
                        .segments
                        .iter()
                        .zip(&segments)
                        .all(|(want, got)| want.starts_with('{') || want == got)
            })
            .max_by_key(|op| op.segments.iter().filter(|s| !s.starts_with('{')).count())
    }

    /// The schema of a request body for `method path`, if the API defines one.
    pub fn request_schema(&self, method: &str, path: &str) -> Option<&str> {
        self.operation(method, path)?.request.as_deref()
    }

    /// The schema of a response body: `Ok(None)` for an answer without a body (204), `Err` for
    /// a status the API does not answer on that operation or a path it does not serve.
    pub fn response_schema(
        &self,
        method: &str,
        path: &str,
        status: u16,
    ) -> Result<Option<&str>, String> {
        let op = self
            .operation(method, path)
            .ok_or_else(|| format!("{method} {path} is not an operation of the API"))?;
        if let Some(schema) = op.responses.get(&status) {
            return Ok(schema.as_deref());
        }
        match self.errors.get(&status) {
            Some(schema) => Ok(Some(schema.as_str())),
            None => Err(format!("{method} {path} never answers {status}")),
        }
    }

    /// Check one exchange against the schemas `index.json` names for it: the response body
    /// always, the request body when the server accepted it (a 2xx: the server must not accept
    /// what the API refuses; refused bodies are the error tests' point).
    pub fn check_exchange(
        &self,
        method: &str,
        path: &str,
        request: Option<&Value>,
        status: u16,
        response: &str,
    ) -> Result<(), String> {
        let context = |e: String| format!("{method} {path} → {status}: {e}");
        if let (true, Some(schema), Some(body)) =
            (status < 300, self.request_schema(method, path), request)
        {
            self.validate(schema, body).map_err(context)?;
        }
        match self
            .response_schema(method, path, status)
            .map_err(context)?
        {
            None if response.is_empty() => Ok(()),
            None => Err(context(format!("expected no body, got {response}"))),
            Some(schema) => {
                let body: Value = serde_json::from_str(response)
                    .map_err(|e| context(format!("not JSON ({e}): {response}")))?;
                self.validate(schema, &body).map_err(context)
            }
        }
    }
}
