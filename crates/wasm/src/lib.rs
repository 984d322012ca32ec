//! # gatepost-wasm: the gatepost engine as a WebAssembly module (npm `@gatepost/wasm`)
//!
//! This crate converts types and maps errors; it decides nothing. Everything the engine needs from
//! the world — the time, the jitter seed, the HTTP responses — is passed in by the JS host (the
//! driver in `js/gatepost.js`), so the module imports nothing but its own wasm-bindgen glue: no
//! clock, no randomness, no `fetch`. A test (`test/imports.test.mjs`) holds it to that.
//!
//! What crosses the boundary:
//! - options: a plain object read by [`gatepost_core::Options::from_host_value`] (camelCase or
//!   snake_case names, durations in seconds), so the JS options are the Node package's;
//! - inputs, actions, events and outcomes: the engine's own JSON (snake_case, a `type` tag) as
//!   plain JS objects, with every integer as a JS number (`Serializer::json_compatible`);
//! - snapshots: JSON text, so they can be stored in a KV store or passed to another language;
//! - errors: real `Error` objects named `GatepostError` with a stable `code` and, for options
//!   and config errors, `problems`.

use gatepost_core::{ConfigInput, Error as CoreError, ErrorCode, Input, Options};
use serde::Serialize;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &str = r#"
import type { Action, Event, EngineOptions, Input, Outcome, Validation } from "./gatepost";
"#;

#[wasm_bindgen]
extern "C" {
    /// Options as the host writes them (`EngineOptions` in the TypeScript types).
    #[wasm_bindgen(typescript_type = "EngineOptions")]
    pub type JsEngineOptions;
    #[wasm_bindgen(typescript_type = "Input")]
    pub type JsInput;
    #[wasm_bindgen(typescript_type = "Action")]
    pub type JsAction;
    #[wasm_bindgen(typescript_type = "Event[]")]
    pub type JsEvents;
    #[wasm_bindgen(typescript_type = "Outcome")]
    pub type JsOutcome;
    #[wasm_bindgen(typescript_type = "string | object")]
    pub type JsConfig;
    #[wasm_bindgen(typescript_type = "Validation")]
    pub type JsValidation;
}

/// The engine: feed it what happened with `handle`, ask it what to do with `poll`.
///
/// Contract (the same as in every language): at start and after each `handle`, call `poll` until
/// it returns `wait` or `done`. `now` is Unix-epoch milliseconds (`Date.now()`), supplied by the
/// host on every call.
#[wasm_bindgen(js_name = Engine)]
pub struct WasmEngine {
    inner: gatepost_core::Engine,
}

#[wasm_bindgen(js_class = Engine)]
impl WasmEngine {
    /// Start a new evaluation; the first `poll` sends the trigger request.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsEngineOptions, now: f64) -> Result<WasmEngine, JsValue> {
        let options = host_options(options.into())?;
        let inner = gatepost_core::Engine::new(options, millis(now)?).map_err(to_js_error)?;
        Ok(WasmEngine { inner })
    }

    /// Poll an evaluation that already exists: no trigger is sent.
    pub fn attach(
        #[wasm_bindgen(js_name = evaluationId)] evaluation_id: &str,
        options: JsEngineOptions,
        now: f64,
    ) -> Result<WasmEngine, JsValue> {
        let options = host_options(options.into())?;
        let inner = gatepost_core::Engine::attach(evaluation_id, options, millis(now)?)
            .map_err(to_js_error)?;
        Ok(WasmEngine { inner })
    }

    /// Feed something that happened (a response, a transport error, a timeout, a cancel).
    /// Misuse throws a `GatepostError` and leaves the state untouched.
    pub fn handle(&mut self, input: JsInput, now: f64) -> Result<(), JsValue> {
        let input: Input = serde_wasm_bindgen::from_value(input.into()).map_err(|e| {
            to_js_error(CoreError::new(
                ErrorCode::InvalidInput,
                format!("invalid input: {e}"),
            ))
        })?;
        self.inner.handle(input, millis(now)?).map_err(to_js_error)
    }

    /// What to do next: `send_request`, `wait` or `done`.
    pub fn poll(&mut self, now: f64) -> Result<JsAction, JsValue> {
        let action = self.inner.poll(millis(now)?);
        Ok(to_js(&action)?.unchecked_into())
    }

    /// Take the events queued since the last call (each carries its rendered log line).
    #[wasm_bindgen(js_name = drainEvents)]
    pub fn drain_events(&mut self) -> Result<JsEvents, JsValue> {
        Ok(to_js(&self.inner.drain_events())?.unchecked_into())
    }

    /// The whole state as JSON text, without keys: store it anywhere and resume it later, in this
    /// package or in any other gatepost binding.
    pub fn snapshot(&self) -> String {
        self.inner.snapshot().to_string()
    }

    /// Continue from a snapshot. Keys are passed again because snapshots never hold them.
    pub fn resume(
        snapshot: &str,
        #[wasm_bindgen(js_name = apiKey)] api_key: Option<String>,
        #[wasm_bindgen(js_name = appKey)] app_key: Option<String>,
        now: f64,
    ) -> Result<WasmEngine, JsValue> {
        let value: serde_json::Value = serde_json::from_str(snapshot).map_err(|e| {
            to_js_error(CoreError::new(
                ErrorCode::InvalidSnapshot,
                format!("invalid snapshot: {e}"),
            ))
        })?;
        let inner = gatepost_core::Engine::resume(value, api_key, app_key, millis(now)?)
            .map_err(to_js_error)?;
        Ok(WasmEngine { inner })
    }

    /// The evaluation id, once the server gave one.
    #[wasm_bindgen(getter, js_name = evaluationId)]
    pub fn evaluation_id(&self) -> Option<String> {
        self.inner.evaluation_id().map(str::to_owned)
    }
}

/// Validate a pipeline config offline (strictly: a monitor query that does not parse is a
/// problem). Returns `{ valid, problems, warnings, configuration }`; never throws for a bad config.
#[wasm_bindgen(js_name = validateConfig)]
pub fn validate_config(config: JsConfig, version: Option<String>) -> Result<JsValidation, JsValue> {
    let config: ConfigInput = json_from_js(config.into())
        .and_then(|v| serde_json::from_value(v).map_err(|e| e.to_string()))
        .map_err(|e| {
            to_js_error(CoreError::new(
                ErrorCode::InvalidConfig,
                format!("invalid config: expected a JSON text or an object ({e})"),
            ))
        })?;
    let validation = gatepost_core::validate(&config, version.as_deref());
    Ok(to_js(&validation)?.unchecked_into())
}

/// The outcome as text for terminals and logs (the same text as every other gatepost host).
#[wasm_bindgen(js_name = renderTextRaw)]
pub fn render_text(outcome: JsOutcome, color: bool) -> Result<String, JsValue> {
    let outcome = outcome_from_js(outcome)?;
    Ok(gatepost_core::report::render_text(
        &outcome,
        gatepost_core::report::TextStyle { color },
    ))
}

/// The outcome as markdown (CI step summaries).
#[wasm_bindgen(js_name = renderMarkdown)]
pub fn render_markdown(outcome: JsOutcome) -> Result<String, JsValue> {
    let outcome = outcome_from_js(outcome)?;
    Ok(gatepost_core::report::render_markdown(&outcome))
}

fn outcome_from_js(outcome: JsOutcome) -> Result<gatepost_core::Outcome, JsValue> {
    serde_wasm_bindgen::from_value(outcome.into()).map_err(|e| {
        to_js_error(CoreError::new(
            ErrorCode::InvalidInput,
            format!("not an outcome: {e}"),
        ))
    })
}

/// Options as the host wrote them → engine options, through the one mapping every binding uses.
fn host_options(value: JsValue) -> Result<Options, JsValue> {
    let value = json_from_js(value).map_err(|e| {
        to_js_error(CoreError::new(
            ErrorCode::InvalidOptions,
            format!("invalid options: {e}"),
        ))
    })?;
    Options::from_host_value(value).map_err(to_js_error)
}

/// A JS value → JSON. JS has one number type: serde-wasm-bindgen turns safe integers into JSON
/// integers and everything else into floats, so an integral number beyond 2^53 (a seed that is too
/// large, say) would reach the engine as a float and be refused for its type rather than for its
/// value. Integral floats are therefore handed over as the integers they are, and the engine's own
/// range checks name the field.
fn json_from_js(value: JsValue) -> Result<serde_json::Value, String> {
    let mut json: serde_json::Value =
        serde_wasm_bindgen::from_value(value).map_err(|e| e.to_string())?;
    integral_floats_to_integers(&mut json);
    Ok(json)
}

fn integral_floats_to_integers(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            // 2^64 and -2^63 are exactly representable; the casts below are exact inside them.
            if f.fract() == 0.0 && (0.0..18_446_744_073_709_551_616.0).contains(&f) {
                *value = serde_json::Value::from(f as u64);
            } else if f.fract() == 0.0 && (-9_223_372_036_854_775_808.0..0.0).contains(&f) {
                *value = serde_json::Value::from(f as i64);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(integral_floats_to_integers),
        serde_json::Value::Object(map) => map.values_mut().for_each(integral_floats_to_integers),
        _ => {}
    }
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

/// Engine data → a plain JS object: objects (not `Map`s), `null` for `None`, integers as numbers.
fn to_js<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| {
            to_js_error(CoreError::new(
                ErrorCode::InvalidInput,
                format!("cannot convert to JS: {e}"),
            ))
        })
}

/// A core error → a real JS `Error` (with a stack) named `GatepostError`, with `.code` and, when
/// there are any, `.problems`. The JS side's `GatepostError` class recognises these objects with
/// `instanceof`. Core messages never contain keys, so nothing here can leak one.
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
        && let Ok(problems) = to_js(&error.problems)
    {
        let _ = js_sys::Reflect::set(object, &JsValue::from_str("problems"), &problems);
    }
    js.into()
}
