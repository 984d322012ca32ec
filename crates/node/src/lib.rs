//! # gatepost-node: the engine as a Node.js native addon
//!
//! This crate only converts types and maps errors; it decides nothing (every decision lives in
//! `gatepost-core`, so Node makes the same decision as every other host). JS objects cross the
//! boundary as `serde_json::Value` and are then read by the engine's own serde types, so inputs,
//! actions, events and outcomes keep the engine's snake_case JSON shape, and options go through
//! [`Options::from_host_value`], which accepts the idiomatic camelCase names and durations in
//! seconds.
//!
//! Errors become JS `Error`s with the core error's stable `code` and, for option and config errors,
//! its `problems`; the TypeScript wrapper (`src-ts/`) turns them into `GatepostError` instances and
//! drives the engine with `fetch`.

// The `#[napi]` macros expand to the `extern "C"` glue Node calls, which is `unsafe` by nature; the
// code written in this file uses no `unsafe` itself.
#![allow(unsafe_code)]

use gatepost_core::report::{self, TextStyle};
use gatepost_core::{ConfigInput, Engine, Error as CoreError, ErrorCode, Input, Options, Outcome};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde_json::Value;

/// The largest integer a JS number holds exactly; times and seeds stay below it (docs/architecture.md).
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// Throw `error` as a JS `Error` carrying `.code` and, when there are any, `.problems`.
///
/// The returned napi error tells the napi glue that an exception is already pending, so it is not
/// replaced by a generic one.
fn throw(env: &Env, error: CoreError) -> napi::Error {
    let build = || -> Result<()> {
        let mut js_error = env.create_error(napi::Error::new(
            Status::GenericFailure,
            error.message.clone(),
        ))?;
        js_error.set("code", error.code.as_str())?;
        if !error.problems.is_empty() {
            let problems = serde_json::to_value(&error.problems).map_err(internal)?;
            js_error.set("problems", problems)?;
        }
        env.throw(js_error)
    };
    match build() {
        Ok(()) => napi::Error::from_status(Status::PendingException),
        Err(e) => e,
    }
}

/// A serialisation failure of the engine's own types: a bug, reported as such.
fn internal(e: serde_json::Error) -> napi::Error {
    napi::Error::new(
        Status::GenericFailure,
        format!("gatepost internal error: {e}"),
    )
}

/// A JS number as engine time (Unix-epoch milliseconds).
fn millis(env: &Env, now: f64) -> Result<u64> {
    if now.is_finite() && (0.0..=MAX_SAFE_INTEGER).contains(&now) {
        Ok(now as u64)
    } else {
        Err(throw(
            env,
            CoreError::new(
                ErrorCode::InvalidInput,
                format!("now must be a number of milliseconds between 0 and 2^53, got {now}"),
            ),
        ))
    }
}

/// JS has one number type: napi hands every integer above 2^32 over as a float, which the engine's
/// integer fields would refuse. Integral floats go back to integers here, so `seed: 2 ** 52` or a
/// large `timeoutMs` read as the integers the user wrote, and one that is too large reaches the
/// engine's own range check (which names the option) instead of a type error.
fn integral_numbers(value: Value) -> Value {
    /// 2^64 and -2^63: the integers serde_json can hold.
    const U64_END: f64 = 18_446_744_073_709_551_616.0;
    const I64_MIN: f64 = -9_223_372_036_854_775_808.0;
    match value {
        Value::Number(n) => match n.as_f64() {
            Some(f) if !n.is_i64() && !n.is_u64() && f.fract() == 0.0 => {
                if (0.0..U64_END).contains(&f) {
                    Value::from(f as u64)
                } else if (I64_MIN..0.0).contains(&f) {
                    Value::from(f as i64)
                } else {
                    Value::Number(n)
                }
            }
            _ => Value::Number(n),
        },
        Value::Array(items) => Value::Array(items.into_iter().map(integral_numbers).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, integral_numbers(v)))
                .collect(),
        ),
        other => other,
    }
}

/// A snapshot's JSON text as a value (`invalid_snapshot` when it is not JSON).
fn snapshot_value(env: &Env, snapshot: &str) -> Result<Value> {
    serde_json::from_str(snapshot).map_err(|e| {
        throw(
            env,
            CoreError::new(
                ErrorCode::InvalidSnapshot,
                format!("invalid snapshot: not JSON ({e})"),
            ),
        )
    })
}

fn options(env: &Env, value: Value) -> Result<Options> {
    Options::from_host_value(integral_numbers(value)).map_err(|e| throw(env, e))
}

fn input(env: &Env, value: Value) -> Result<Input> {
    serde_json::from_value(integral_numbers(value)).map_err(|e| {
        throw(
            env,
            CoreError::new(ErrorCode::InvalidInput, format!("invalid input: {e}")),
        )
    })
}

fn events(events: Vec<gatepost_core::Event>) -> Result<Vec<Value>> {
    events
        .into_iter()
        .map(|event| serde_json::to_value(event).map_err(internal))
        .collect()
}

fn outcome(env: &Env, value: Value) -> Result<Outcome> {
    serde_json::from_value(integral_numbers(value)).map_err(|e| {
        throw(
            env,
            CoreError::new(ErrorCode::InvalidInput, format!("invalid outcome: {e}")),
        )
    })
}

/// The sans-IO engine. See the crate docs of `gatepost-core` for the run loop: after every
/// `handle`, call `poll` until it returns `wait` or `done`.
#[napi(js_name = "Engine")]
pub struct JsEngine {
    inner: Engine,
}

#[napi]
impl JsEngine {
    /// Start a new evaluation; the first `poll` sends the trigger. `options` use the JS names
    /// (camelCase, durations in seconds) or the engine's snake_case names.
    #[napi(constructor, ts_args_type = "options: object, now: number")]
    pub fn new(env: Env, options: Value, now: f64) -> Result<Self> {
        let now = millis(&env, now)?;
        let options = self::options(&env, options)?;
        let inner = Engine::new(options, now).map_err(|e| throw(&env, e))?;
        Ok(JsEngine { inner })
    }

    /// Poll an evaluation that already exists: no trigger is sent.
    #[napi(
        factory,
        ts_args_type = "evaluationId: string, options: object, now: number"
    )]
    pub fn attach(env: Env, evaluation_id: String, options: Value, now: f64) -> Result<Self> {
        let now = millis(&env, now)?;
        let options = self::options(&env, options)?;
        let inner = Engine::attach(&evaluation_id, options, now).map_err(|e| throw(&env, e))?;
        Ok(JsEngine { inner })
    }

    /// Continue from a `snapshot()` string (taken in any process or language), with the keys.
    #[napi(factory)]
    pub fn resume(
        env: Env,
        snapshot: String,
        api_key: Option<String>,
        app_key: Option<String>,
        now: f64,
    ) -> Result<Self> {
        let now = millis(&env, now)?;
        let value = snapshot_value(&env, &snapshot)?;
        let inner = Engine::resume(value, api_key, app_key, now).map_err(|e| throw(&env, e))?;
        Ok(JsEngine { inner })
    }

    /// Continue from a snapshot if it belongs to the request `options` describe, with their policy;
    /// otherwise start a new evaluation for `options` (a `snapshot_not_resumed` warning event names
    /// the differences). `resumed` tells which happened.
    #[napi(
        factory,
        ts_args_type = "snapshot: string, options: object, now: number"
    )]
    pub fn resume_for(env: Env, snapshot: String, options: Value, now: f64) -> Result<Self> {
        let now = millis(&env, now)?;
        let value = snapshot_value(&env, &snapshot)?;
        let options = self::options(&env, options)?;
        let inner = Engine::resume_for(value, options, now).map_err(|e| throw(&env, e))?;
        Ok(JsEngine { inner })
    }

    /// Whether this engine continues a snapshot's evaluation (rather than a new one).
    #[napi(getter)]
    pub fn resumed(&self) -> bool {
        self.inner.resumed()
    }

    /// Feed something that happened (`response`, `transport_error`, `timeout`, `cancel`). A usage
    /// error throws and leaves the state untouched.
    #[napi(ts_args_type = "input: object, now: number")]
    pub fn handle(&mut self, env: Env, input: Value, now: f64) -> Result<()> {
        let now = millis(&env, now)?;
        let input = self::input(&env, input)?;
        self.inner.handle(input, now).map_err(|e| throw(&env, e))
    }

    /// What to do next: `send_request`, `wait` or `done`.
    #[napi(ts_return_type = "object")]
    pub fn poll(&mut self, env: Env, now: f64) -> Result<Value> {
        let now = millis(&env, now)?;
        serde_json::to_value(self.inner.poll(now)).map_err(internal)
    }

    /// Take the queued events (each with its rendered log line in `message`).
    #[napi(ts_return_type = "Array<object>")]
    pub fn drain_events(&mut self) -> Result<Vec<Value>> {
        events(self.inner.drain_events())
    }

    /// The whole state as JSON text, without keys: resumable with `Engine.resume`.
    #[napi]
    pub fn snapshot(&self) -> Result<String> {
        serde_json::to_string(&self.inner.snapshot()).map_err(internal)
    }

    /// The evaluation id, once the server gave one.
    #[napi(getter)]
    pub fn evaluation_id(&self) -> Option<String> {
        self.inner.evaluation_id().map(str::to_string)
    }
}

/// Validate a pipeline config (text or object) offline, strictly: every problem with its path.
#[napi(
    ts_args_type = "config: string | object, version?: string | undefined | null, allowUnknownKeys?: boolean | undefined | null",
    ts_return_type = "{ valid: boolean; problems: Array<object>; warnings: Array<object>; configuration: object | null }"
)]
pub fn validate(
    config: Value,
    version: Option<String>,
    allow_unknown_keys: Option<bool>,
) -> Result<Value> {
    let config = match config {
        Value::String(text) => ConfigInput::Text(text),
        other => ConfigInput::Value(integral_numbers(other)),
    };
    // Hints name options as JavaScript users write them (`allowUnknownKeys`), as thrown errors do.
    let validation = gatepost_core::validate(
        &config,
        version.as_deref(),
        allow_unknown_keys.unwrap_or(false),
    )
    .spelled(gatepost_core::options::Spelling::Camel);
    serde_json::to_value(validation).map_err(internal)
}

/// The outcome as text for terminals and CI logs (`color` adds ANSI colours).
#[napi(ts_args_type = "outcome: object, color?: boolean | undefined | null")]
pub fn render_text(env: Env, outcome: Value, color: Option<bool>) -> Result<String> {
    let outcome = self::outcome(&env, outcome)?;
    Ok(report::render_text(
        &outcome,
        TextStyle {
            color: color.unwrap_or(false),
        },
    ))
}

/// The outcome as markdown (CI step summaries).
#[napi(ts_args_type = "outcome: object")]
pub fn render_markdown(env: Env, outcome: Value) -> Result<String> {
    let outcome = self::outcome(&env, outcome)?;
    Ok(report::render_markdown(&outcome))
}

/// The monitors (and their groups) a monitor rule with this query selects: core's
/// `query::evaluate_json`, semantics in `docs/query-semantics.md`.
#[napi(
    ts_args_type = "query: string, monitors: Array<object>",
    ts_return_type = "Array<{ id: number; groups: Array<string> }>"
)]
pub fn match_monitors(env: Env, query: String, monitors: Value) -> Result<Value> {
    let matches = gatepost_core::query::evaluate_json(&query, &integral_numbers(monitors))
        .map_err(|e| throw(&env, e))?;
    serde_json::to_value(matches).map_err(internal)
}

/// An environment object (`process.env`, or any `{name: value}`) as core reads it: entries whose
/// value is not a string are skipped.
fn environment(vars: Value) -> gatepost_core::environment::Environment {
    let mut env = gatepost_core::environment::Environment::new();
    if let Value::Object(map) = vars {
        for (name, value) in map {
            if let Value::String(text) = value {
                env.set(name, text);
            }
        }
    }
    env
}

/// The keys and site an environment provides, by core's rules (the same in every host): trimmed,
/// empty and white-space-only values skipped, `DATADOG_*` before `DD_*`.
#[napi(
    ts_args_type = "env: Record<string, string | undefined>",
    ts_return_type = "{ api_key?: string; app_key?: string; site?: string }"
)]
pub fn env_defaults(env: Env, vars: Value) -> Result<Value> {
    let found =
        gatepost_core::environment::defaults(&environment(vars)).map_err(|e| throw(&env, e))?;
    serde_json::to_value(found).map_err(internal)
}

/// The proxy for a request to `url` in an environment, or null to go direct, by core's rules
/// (`HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY`, `NO_PROXY` as curl reads it, loopback always direct).
#[napi(ts_args_type = "url: string, env: Record<string, string | undefined>")]
pub fn proxy_for(url: String, vars: Value) -> Option<String> {
    gatepost_core::environment::proxy_for(&url, &environment(vars))
}

/// An error (`{code, message, problems}`) with its option names as a JavaScript user writes them
/// (`apiUrl`, not `api_url`): core's `options::camel_case_error`, used by the shared driver for the
/// errors of `evaluate`, `start`, `resume` and `check`. The engine's own errors keep the engine's
/// names (the conformance corpus compares them).
#[napi(
    ts_args_type = "error: { code: string; message: string; problems?: Array<object> }",
    ts_return_type = "{ code: string; message: string; problems?: Array<object> }"
)]
pub fn camel_case_error(error: Value) -> Result<Value> {
    let error: CoreError = serde_json::from_value(integral_numbers(error)).map_err(internal)?;
    serde_json::to_value(gatepost_core::options::camel_case_error(error)).map_err(internal)
}

/// The version of the engine inside this addon.
#[napi]
pub fn engine_version() -> &'static str {
    gatepost_core::VERSION
}

fn invalid_gates_value(env: &Env, what: &str, e: serde_json::Error) -> napi::Error {
    throw(
        env,
        CoreError::new(ErrorCode::InvalidOptions, format!("invalid {what}: {e}")),
    )
}

/// A run driven by polling besides `Engine` (`GatesRun`, `OnlineCheck`): the one wrapper both
/// classes delegate to, so building, feeding and polling them cannot drift apart.
struct Polled<R: gatepost_core::Polled> {
    inner: R,
}

impl<R: gatepost_core::Polled> Polled<R> {
    /// Build from JS values: `options` (durations in seconds converted by core) and the run's
    /// subject (`task` / `source`); a bad value throws `invalid_options`.
    fn start(env: &Env, options: Value, subject: Value, now: f64) -> Result<Self> {
        let now = millis(env, now)?;
        R::from_json(integral_numbers(options), integral_numbers(subject), now)
            .map(|inner| Polled { inner })
            .map_err(|e| throw(env, e))
    }

    fn handle(&mut self, env: &Env, input: Value, now: f64) -> Result<()> {
        let now = millis(env, now)?;
        let input = self::input(env, input)?;
        self.inner.handle(input, now).map_err(|e| throw(env, e))
    }

    fn poll(&mut self, env: &Env, now: f64) -> Result<Value> {
        let now = millis(env, now)?;
        serde_json::to_value(self.inner.poll(now)).map_err(internal)
    }

    fn drain_events(&mut self) -> Result<Vec<Value>> {
        events(self.inner.drain_events())
    }
}

/// A gates-as-code run (export, plan or apply of preconfigured gates), driven like `Engine`:
/// `poll` until `wait` or `done` (whose `report` ends it). `options`: `site` / `api_url`, the keys,
/// `requestTimeout` (seconds) or `request_timeout_ms`, `max_retries`, `seed`; `task`: `{task: "export", scope}` or
/// `{task: "plan" | "apply", file, prune}`.
#[napi(js_name = "GatesRun")]
pub struct JsGatesRun(Polled<gatepost_core::gates::Run>);

#[napi]
impl JsGatesRun {
    #[napi(
        constructor,
        ts_args_type = "options: object, task: object, now: number"
    )]
    pub fn new(env: Env, options: Value, task: Value, now: f64) -> Result<Self> {
        Polled::start(&env, options, task, now).map(JsGatesRun)
    }

    /// Feed a `response`, `transport_error`, `timeout` or `cancel`.
    #[napi(ts_args_type = "input: object, now: number")]
    pub fn handle(&mut self, env: Env, input: Value, now: f64) -> Result<()> {
        self.0.handle(&env, input, now)
    }

    /// What to do next: `send_request`, `wait` or `done` (with `report`).
    #[napi(ts_return_type = "object")]
    pub fn poll(&mut self, env: Env, now: f64) -> Result<Value> {
        self.0.poll(&env, now)
    }

    /// Take the queued events (`progress` of an apply, `warning` for a retry).
    #[napi(ts_return_type = "Array<object>")]
    pub fn drain_events(&mut self) -> Result<Vec<Value>> {
        self.0.drain_events()
    }
}

/// A `validate(config, {online: true})` check, driven like `Engine`: `poll` until `wait` or
/// `done` (whose `report` ends it). `options`: `site` / `api_url`, the keys,
/// `requestTimeout` / `timeout` (seconds) or their `_ms` forms, `max_retries`, `seed`; `source`:
/// `{source: "config", config, version, allow_unknown_keys, service, env}` (`service` and `env`
/// let Faulty Deployment Detection rules be checked for APM data) or
/// `{source: "gate", service, env, identifier, version}`.
#[napi(js_name = "OnlineCheck")]
pub struct JsOnlineCheck(Polled<gatepost_core::online::Check>);

#[napi]
impl JsOnlineCheck {
    #[napi(
        constructor,
        ts_args_type = "options: object, source: object, now: number"
    )]
    pub fn new(env: Env, options: Value, source: Value, now: f64) -> Result<Self> {
        Polled::start(&env, options, source, now).map(JsOnlineCheck)
    }

    /// Feed a `response`, `transport_error`, `timeout` or `cancel`.
    #[napi(ts_args_type = "input: object, now: number")]
    pub fn handle(&mut self, env: Env, input: Value, now: f64) -> Result<()> {
        self.0.handle(&env, input, now)
    }

    /// What to do next: `send_request`, `wait` or `done` (with `report`).
    #[napi(ts_return_type = "object")]
    pub fn poll(&mut self, env: Env, now: f64) -> Result<Value> {
        self.0.poll(&env, now)
    }

    /// Take the queued events (`warning` for a retry).
    #[napi(ts_return_type = "Array<object>")]
    pub fn drain_events(&mut self) -> Result<Vec<Value>> {
        self.0.drain_events()
    }
}

/// An online report (the `report` of a `done` action) as `text` or `markdown`.
#[napi(ts_args_type = "report: object, format: 'text' | 'markdown'")]
pub fn render_online_report(env: Env, report: Value, format: String) -> Result<String> {
    let report: gatepost_core::online::OnlineReport =
        serde_json::from_value(integral_numbers(report))
            .map_err(|e| invalid_gates_value(&env, "report", e))?;
    Ok(match format.as_str() {
        "markdown" => gatepost_core::online::render_markdown(&report),
        _ => gatepost_core::online::render_text(&report),
    })
}

/// A gates plan (a report's `plan`) as `text` or `markdown`.
#[napi(ts_args_type = "plan: object, format: 'text' | 'markdown'")]
pub fn render_gates_plan(env: Env, plan: Value, format: String) -> Result<String> {
    let plan: gatepost_core::gates::Plan = serde_json::from_value(integral_numbers(plan))
        .map_err(|e| invalid_gates_value(&env, "plan", e))?;
    Ok(match format.as_str() {
        "markdown" => gatepost_core::gates::render_markdown(&plan),
        _ => gatepost_core::gates::render_text(&plan),
    })
}
