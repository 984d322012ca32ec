//! # gatepost-wasm: the gatepost engine as a WebAssembly module (npm `@gatepost/wasm`)
//!
//! This crate converts types and maps errors; it decides nothing. Everything the engine needs from
//! the world — the time, the jitter seed, the HTTP responses — is passed in by the JS host (the
//! driver shared with `@gatepost/node`, `crates/node/src-ts/driver.ts`, through `js/gatepost.js`),
//! so the module imports nothing but its own wasm-bindgen glue: no clock, no randomness, no
//! `fetch`. A test (`test/imports.test.mjs`) holds it to that.
//!
//! What crosses the boundary is the engine's own JSON, as text: options (read by
//! [`gatepost_core::Options::from_host_value`], so camelCase names and seconds work as in every
//! binding), inputs, actions, events, outcomes, validations and snapshots. `js/gatepost.js` turns
//! the text into plain JS objects with `JSON.parse`, where every integer is a JS number. JSON text
//! rather than serde-wasm-bindgen because of size: converting through serde-wasm-bindgen
//! instantiates every engine type's serde code a second time (for its serializer and deserializer),
//! which made the optimised `.wasm` 153.5 KB gzipped against 142.8 KB this way; the size budget is
//! 150 KB. Per-step speed is the same either way (measured within 5% in Node).
//!
//! Errors are real JS `Error`s named `GatepostError` with a stable `code` and, for options and
//! config errors, `problems`.

use gatepost_core::{ConfigInput, Error as CoreError, ErrorCode, Input, Options};
use serde::Serialize;
use wasm_bindgen::prelude::*;

/// The engine, with JSON text in and out. `js/gatepost.js` wraps it in the public `Engine` class,
/// which takes and returns objects.
///
/// Contract (the same as in every language): at start and after each `handle`, call `poll` until
/// it returns `wait` or `done`. `now` is Unix-epoch milliseconds (`Date.now()`), supplied by the
/// host on every call.
#[wasm_bindgen]
pub struct RawEngine {
    inner: gatepost_core::Engine,
}

#[wasm_bindgen]
impl RawEngine {
    /// Start a new evaluation from options as JSON text; the first `poll` sends the trigger.
    #[wasm_bindgen(constructor)]
    pub fn new(options: &str, now: f64) -> Result<RawEngine, JsValue> {
        let options = host_options(options)?;
        let inner = gatepost_core::Engine::new(options, millis(now)?).map_err(to_js_error)?;
        Ok(RawEngine { inner })
    }

    /// Poll an evaluation that already exists: no trigger is sent.
    pub fn attach(evaluation_id: &str, options: &str, now: f64) -> Result<RawEngine, JsValue> {
        let options = host_options(options)?;
        let inner = gatepost_core::Engine::attach(evaluation_id, options, millis(now)?)
            .map_err(to_js_error)?;
        Ok(RawEngine { inner })
    }

    /// Feed something that happened (an `Input` as JSON text). Misuse throws a `GatepostError`
    /// and leaves the state untouched.
    pub fn handle(&mut self, input: &str, now: f64) -> Result<(), JsValue> {
        let input = input_from_json(input)?;
        self.inner.handle(input, millis(now)?).map_err(to_js_error)
    }

    /// What to do next, as JSON text: `send_request`, `wait` or `done`.
    pub fn poll(&mut self, now: f64) -> Result<String, JsValue> {
        let action = self.inner.poll(millis(now)?);
        Ok(to_json(&action))
    }

    /// The events queued since the last call, as a JSON array (each with its log line).
    #[wasm_bindgen(js_name = drainEvents)]
    pub fn drain_events(&mut self) -> String {
        to_json(&self.inner.drain_events())
    }

    /// The whole state as JSON text, without keys: store it anywhere and resume it later, in this
    /// package or in any other gatepost binding.
    pub fn snapshot(&self) -> String {
        self.inner.snapshot().to_string()
    }

    /// Continue from a snapshot. Keys are passed again because snapshots never hold them.
    pub fn resume(
        snapshot: &str,
        api_key: Option<String>,
        app_key: Option<String>,
        now: f64,
    ) -> Result<RawEngine, JsValue> {
        let value: serde_json::Value = serde_json::from_str(snapshot).map_err(|e| {
            to_js_error(CoreError::new(
                ErrorCode::InvalidSnapshot,
                format!("invalid snapshot: {e}"),
            ))
        })?;
        let inner = gatepost_core::Engine::resume(value, api_key, app_key, millis(now)?)
            .map_err(to_js_error)?;
        Ok(RawEngine { inner })
    }

    /// Continue from a snapshot if it belongs to the request `options` (JSON text) describe, with
    /// their policy; otherwise start a new evaluation for them (a `snapshot_not_resumed` warning
    /// event names the differences).
    #[wasm_bindgen(js_name = resumeFor)]
    pub fn resume_for(snapshot: &str, options: &str, now: f64) -> Result<RawEngine, JsValue> {
        let value: serde_json::Value = serde_json::from_str(snapshot).map_err(|e| {
            to_js_error(CoreError::new(
                ErrorCode::InvalidSnapshot,
                format!("invalid snapshot: {e}"),
            ))
        })?;
        let options = host_options(options)?;
        let inner =
            gatepost_core::Engine::resume_for(value, options, millis(now)?).map_err(to_js_error)?;
        Ok(RawEngine { inner })
    }

    /// Whether this engine continues a snapshot's evaluation (rather than a new one).
    #[wasm_bindgen(getter)]
    pub fn resumed(&self) -> bool {
        self.inner.resumed()
    }

    /// The evaluation id, once the server gave one.
    #[wasm_bindgen(getter, js_name = evaluationId)]
    pub fn evaluation_id(&self) -> Option<String> {
        self.inner.evaluation_id().map(str::to_owned)
    }
}

/// Validate a pipeline config (JSON text of the config: a JSON string holding the file's text, or
/// the parsed object) offline and strictly. Returns the validation as JSON text; never throws for a
/// bad config.
#[wasm_bindgen(js_name = validateConfig)]
pub fn validate_config(
    config: &str,
    version: Option<String>,
    allow_unknown_keys: Option<bool>,
) -> Result<String, JsValue> {
    let config: ConfigInput = from_json_text(config).map_err(|e| {
        to_js_error(CoreError::new(
            ErrorCode::InvalidConfig,
            format!("invalid config: expected a JSON text or an object ({e})"),
        ))
    })?;
    // Hints name options as JavaScript users write them (`allowUnknownKeys`), as thrown errors do.
    let validation = gatepost_core::validate(
        &config,
        version.as_deref(),
        allow_unknown_keys.unwrap_or(false),
    )
    .spelled(gatepost_core::options::Spelling::Camel);
    Ok(to_json(&validation))
}

/// The monitors (and groups) a monitor rule with this query selects: core's
/// `query::evaluate_json` over the monitors as JSON text; the matches as JSON text.
#[wasm_bindgen(js_name = matchMonitors)]
pub fn match_monitors(query: &str, monitors: &str) -> Result<String, JsValue> {
    let monitors: serde_json::Value = serde_json::from_str(monitors).map_err(|e| {
        to_js_error(CoreError::new(
            ErrorCode::InvalidInput,
            format!("invalid monitors: {e}"),
        ))
    })?;
    let matches = gatepost_core::query::evaluate_json(query, &monitors).map_err(to_js_error)?;
    Ok(to_json(&matches))
}

/// An environment as JSON text (`{name: value}`) as core reads it: entries whose value is not a
/// string are skipped; text that is not a JSON object is an empty environment.
fn environment(vars: &str) -> gatepost_core::environment::Environment {
    let mut env = gatepost_core::environment::Environment::new();
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(vars) {
        for (name, value) in map {
            if let serde_json::Value::String(text) = value {
                env.set(name, text);
            }
        }
    }
    env
}

/// The keys and site an environment (JSON text) provides, by core's rules (the same in every
/// host), as JSON text `{api_key?, app_key?, site?}`.
#[wasm_bindgen(js_name = envDefaults)]
pub fn env_defaults(vars: &str) -> Result<String, JsValue> {
    let found = gatepost_core::environment::defaults(&environment(vars)).map_err(to_js_error)?;
    Ok(to_json(&found))
}

/// The proxy for a request to `url` in an environment (JSON text), or undefined to go direct, by
/// core's rules.
#[wasm_bindgen(js_name = proxyFor)]
pub fn proxy_for(url: &str, vars: &str) -> Option<String> {
    gatepost_core::environment::proxy_for(url, &environment(vars))
}

/// An error (JSON text `{code, message, problems}`) with its option names as a JavaScript user
/// writes them (`apiUrl`, not `api_url`): core's `options::camel_case_error`, used by the shared
/// driver for the errors of `evaluate`, `start`, `resume` and `check`. The engine's own errors keep
/// the engine's names (the conformance corpus compares them).
#[wasm_bindgen(js_name = camelCaseError)]
pub fn camel_case_error(error: &str) -> Result<String, JsValue> {
    let error: CoreError = from_json_text(error).map_err(|e| {
        to_js_error(CoreError::new(
            ErrorCode::InvalidInput,
            format!("not an error: {e}"),
        ))
    })?;
    Ok(to_json(&gatepost_core::options::camel_case_error(error)))
}

/// The outcome (JSON text) as text for terminals and logs, the same as every other gatepost host.
#[wasm_bindgen(js_name = renderText)]
pub fn render_text(outcome: &str, color: bool) -> Result<String, JsValue> {
    let outcome = outcome_from_json(outcome)?;
    Ok(gatepost_core::report::render_text(
        &outcome,
        gatepost_core::report::TextStyle { color },
    ))
}

/// The outcome (JSON text) as markdown, for CI step summaries.
#[wasm_bindgen(js_name = renderMarkdown)]
pub fn render_markdown(outcome: &str) -> Result<String, JsValue> {
    let outcome = outcome_from_json(outcome)?;
    Ok(gatepost_core::report::render_markdown(&outcome))
}

fn outcome_from_json(outcome: &str) -> Result<gatepost_core::Outcome, JsValue> {
    from_json_text(outcome).map_err(|e| {
        to_js_error(CoreError::new(
            ErrorCode::InvalidInput,
            format!("not an outcome: {e}"),
        ))
    })
}

/// A `validate --online` check (core's `online::Check`), with JSON text in and out like
/// [`RawEngine`]; `js/gatepost.js` hands it to the shared driver (`validateOnlineWith`).
#[wasm_bindgen]
pub struct RawOnlineCheck {
    inner: gatepost_core::online::Check,
}

#[wasm_bindgen]
impl RawOnlineCheck {
    /// Start from run options and a source (both JSON text; durations in seconds converted by
    /// core). Bad options or a bad config throw a `GatepostError`.
    #[wasm_bindgen(constructor)]
    pub fn new(options: &str, source: &str, now: f64) -> Result<RawOnlineCheck, JsValue> {
        let parse = |text: &str, what: &str| {
            serde_json::from_str(text).map_err(|e| {
                to_js_error(CoreError::new(
                    ErrorCode::InvalidOptions,
                    format!("invalid {what}: {e}"),
                ))
            })
        };
        let (options, source) = (parse(options, "options")?, parse(source, "source")?);
        let inner = <gatepost_core::online::Check as gatepost_core::Polled>::from_json(
            options,
            source,
            millis(now)?,
        )
        .map_err(to_js_error)?;
        Ok(RawOnlineCheck { inner })
    }

    /// Feed what happened (an `Input` as JSON text).
    pub fn handle(&mut self, input: &str, now: f64) -> Result<(), JsValue> {
        let input = input_from_json(input)?;
        self.inner.handle(input, millis(now)?).map_err(to_js_error)
    }

    /// What to do next, as JSON text: `send_request`, `wait` or `done` (with `report`).
    pub fn poll(&mut self, now: f64) -> Result<String, JsValue> {
        Ok(to_json(&self.inner.poll(millis(now)?)))
    }

    /// Take the queued events (retries), as JSON text.
    #[wasm_bindgen(js_name = drainEvents)]
    pub fn drain_events(&mut self) -> String {
        to_json(&self.inner.drain_events())
    }
}

/// An online report (JSON text) as `text` or `markdown`, the same as every other host.
#[wasm_bindgen(js_name = renderOnlineReport)]
pub fn render_online_report(report: &str, format: &str) -> Result<String, JsValue> {
    let report: gatepost_core::online::OnlineReport = from_json_text(report).map_err(|e| {
        to_js_error(CoreError::new(
            ErrorCode::InvalidInput,
            format!("not an online report: {e}"),
        ))
    })?;
    Ok(match format {
        "markdown" => gatepost_core::online::render_markdown(&report),
        _ => gatepost_core::online::render_text(&report),
    })
}

/// An `Input` from JSON text; misuse is an `invalid_input` error.
fn input_from_json(input: &str) -> Result<Input, JsValue> {
    from_json_text(input).map_err(|e| {
        to_js_error(CoreError::new(
            ErrorCode::InvalidInput,
            format!("invalid input: {e}"),
        ))
    })
}

/// JSON text → `T`, through `serde_json::Value`. The detour is for size: the engine already
/// deserialises its options, config and snapshots (which hold outcomes) from `Value`s, so this
/// reuses that code instead of instantiating a second, text-driven deserializer for each type.
fn from_json_text<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, serde_json::Error> {
    serde_json::from_str::<serde_json::Value>(text).and_then(serde_json::from_value)
}

/// Options as the host wrote them → engine options, through the one mapping every binding uses.
fn host_options(options: &str) -> Result<Options, JsValue> {
    Options::from_host_json(options).map_err(to_js_error)
}

/// A JS time (a double) → the engine's integer milliseconds. NaN, negative or unsafe values are a
/// usage error rather than a silent 0.
fn millis(now: f64) -> Result<u64, JsValue> {
    const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;
    if now.is_finite() && (0.0..=MAX_SAFE_INTEGER).contains(&now) {
        Ok(now.floor() as u64)
    } else {
        Err(to_js_error(CoreError::new(
            ErrorCode::InvalidInput,
            "now must be Unix-epoch milliseconds (a finite number, 0 or more)",
        )))
    }
}

/// Engine data → JSON text. The engine's types always serialise (string keys, no maps with other
/// keys), so this cannot fail; `null` would be the answer if it ever did.
fn to_json<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

/// A core error → a real JS `Error` (with a stack) named `GatepostError`, with `.code` and, when
/// there are any, `.problems` (plain objects). The JS side's `GatepostError` class recognises these
/// objects with `instanceof`. Core messages never contain keys, so nothing here can leak one.
fn to_js_error(error: CoreError) -> JsValue {
    let js = js_sys::Error::new(&error.message);
    js.set_name("GatepostError");
    let object: &JsValue = js.as_ref();
    // Setting a property on a fresh Error object cannot fail, so the results are ignored.
    let _ = js_sys::Reflect::set(
        object,
        &JsValue::from_str("code"),
        &JsValue::from_str(error.code.as_str()),
    );
    if !error.problems.is_empty()
        && let Ok(problems) = js_sys::JSON::parse(&to_json(&error.problems))
    {
        let _ = js_sys::Reflect::set(object, &JsValue::from_str("problems"), &problems);
    }
    js.into()
}
