//! # gatepost-py: the native part of the `gatepost` Python package (`gatepost._core`)
//!
//! This crate converts types and maps errors; it decides nothing. Every decision (what to send,
//! when to retry, what a status code means) is made by [`gatepost_core`]; the Python package
//! around this module (`crates/py/python/gatepost`) holds the drivers that perform HTTP and sleep.
//!
//! Data crosses the boundary as plain Python objects (`dict`, `list`, `str`, `int`, `float`,
//! `bool`, `None`) with the engine's snake_case field names, converted directly to and from
//! [`serde_json::Value`]; that keeps the engine's serde types the single definition of every
//! shape, and the Python side free to wrap them in dataclasses.
//!
//! Errors become the exception hierarchy of `gatepost.errors` (`GatepostError` and one subclass per
//! [`gatepost_core::ErrorCode`]), built by that module's `_from_native` so that the classes, their
//! bases and their attributes are defined once, in Python, next to their type stubs.
//!
//! There is no async runtime here: the engine is sans-IO and the asyncio driver lives in Python.

use gatepost_core::environment::Environment;
use gatepost_core::{ConfigInput, Error, Input, Options, Outcome};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::Value;

/// A snapshot given as JSON text or as the dict ``snapshot()`` returned.
fn snapshot_from_py(py: Python<'_>, snapshot: &Bound<'_, PyAny>) -> PyResult<Value> {
    if snapshot.is_instance_of::<PyString>() {
        let text: String = snapshot.extract()?;
        serde_json::from_str(&text).map_err(|e| {
            raise(
                py,
                Error::new(
                    gatepost_core::ErrorCode::InvalidSnapshot,
                    format!("invalid snapshot: not JSON ({e})"),
                ),
            )
        })
    } else {
        to_json_as(
            py,
            snapshot,
            gatepost_core::ErrorCode::InvalidSnapshot,
            "snapshot",
        )
    }
}

/// Unix-epoch milliseconds: the clock every shipped driver passes, so that a snapshot means the
/// same in another process. Used when the caller passes no `now`.
fn unix_now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// `now` as the engine takes it: Unix-epoch milliseconds, the current time when absent. An `int`
/// or a `float` (`time.time() * 1000`) is accepted; every time stays below 2^53, where a float is
/// still exact.
fn resolve_now(py: Python<'_>, now: Option<f64>) -> PyResult<u64> {
    match now {
        None => Ok(unix_now_ms()),
        Some(t) if t.is_finite() && (0.0..9_007_199_254_740_992.0).contains(&t) => Ok(t as u64),
        Some(_) => Err(raise(
            py,
            Error::new(
                gatepost_core::ErrorCode::InvalidInput,
                "now must be Unix-epoch milliseconds: a number from 0 to 2**53",
            ),
        )),
    }
}

/// A Python object to JSON; a value that has no JSON form (too deep, a NaN, an int beyond 64 bits)
/// raises the coded gatepost error `code`, as the other bindings do.
fn to_json_as(
    py: Python<'_>,
    obj: &Bound<'_, PyAny>,
    code: gatepost_core::ErrorCode,
    what: &str,
) -> PyResult<Value> {
    to_value(obj).map_err(|e| {
        // A type with no JSON form stays a TypeError, as Python code expects.
        if e.is_instance_of::<PyTypeError>(py) {
            return e;
        }
        let reason = e.value(py).to_string();
        raise(py, Error::new(code, format!("invalid {what}: {reason}")))
    })
}

/// How deeply nested a Python object may be: serde_json's own limit for JSON text. Deeper (or
/// self-referencing) objects are refused instead of overflowing the stack.
const MAX_DEPTH: usize = 128;

/// A Python object (as produced by `json.loads`, or tuples/lists/dicts built by hand) to JSON.
fn to_value(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    to_value_at(obj, 0)
}

fn to_value_at(obj: &Bound<'_, PyAny>, depth: usize) -> PyResult<Value> {
    if depth > MAX_DEPTH {
        return Err(PyValueError::new_err(format!(
            "nested more than {MAX_DEPTH} levels deep (or refers to itself)"
        )));
    }
    let to_value = |v: &Bound<'_, PyAny>| to_value_at(v, depth + 1);
    if obj.is_none() {
        return Ok(Value::Null);
    }
    // `bool` is a subclass of `int` in Python: test it first.
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if obj.is_instance_of::<PyInt>() {
        if let Ok(i) = obj.extract::<i64>() {
            return Ok(Value::from(i));
        }
        if let Ok(u) = obj.extract::<u64>() {
            return Ok(Value::from(u));
        }
        return Err(PyValueError::new_err("integer out of range for JSON"));
    }
    if obj.is_instance_of::<PyFloat>() {
        let f: f64 = obj.extract()?;
        return serde_json::Number::from_f64(f)
            .map(Value::Number)
            .ok_or_else(|| PyValueError::new_err("NaN and infinity are not JSON numbers"));
    }
    if obj.is_instance_of::<PyString>() {
        return Ok(Value::String(obj.extract()?));
    }
    if let Ok(dict) = obj.cast::<PyDict>() {
        let mut map = serde_json::Map::new();
        for (k, v) in dict.iter() {
            let key: String = k
                .extract()
                .map_err(|_| PyTypeError::new_err("dictionary keys must be strings"))?;
            map.insert(key, to_value(&v)?);
        }
        return Ok(Value::Object(map));
    }
    if let Ok(list) = obj.cast::<PyList>() {
        return list.iter().map(|v| to_value(&v)).collect();
    }
    if let Ok(tuple) = obj.cast::<PyTuple>() {
        return tuple.iter().map(|v| to_value(&v)).collect();
    }
    // Any other mapping (a MappingProxy, a custom Mapping): through its items, as a dict.
    let mapping = obj.py().import("collections.abc")?.getattr("Mapping")?;
    if obj.is_instance(&mapping)? {
        let dict = PyDict::new(obj.py());
        for item in obj.call_method0("items")?.try_iter()? {
            let (k, v): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item?.extract()?;
            dict.set_item(k, v)?;
        }
        return to_value_at(dict.as_any(), depth);
    }
    Err(PyTypeError::new_err(format!(
        "cannot convert a {} to JSON (expected dict, list, tuple, str, int, float, bool or None)",
        obj.get_type().name()?
    )))
}

/// JSON to plain Python objects (the same shapes `json.loads` gives).
fn to_py<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any()
            } else {
                n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any()
            }
        }
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_py(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (k, v) in map {
                dict.set_item(k, to_py(py, v)?)?;
            }
            dict.into_any()
        }
    })
}

/// A serde value to Python objects.
fn ser_to_py<'py, T: serde::Serialize>(py: Python<'py>, value: &T) -> PyResult<Bound<'py, PyAny>> {
    let value = serde_json::to_value(value)
        .map_err(|e| PyValueError::new_err(format!("cannot serialise: {e}")))?;
    to_py(py, &value)
}

/// A core error as the matching `gatepost.errors` exception (`ConfigError`, `OptionsError`, ...).
///
/// The classes live in Python so that they can have the right bases (`ValueError`) and carry
/// `.code`, `.message` and `.problems`. Core guarantees messages never contain keys.
fn raise(py: Python<'_>, error: Error) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let problems = ser_to_py(py, &error.problems)?;
        let exception = py
            .import("gatepost.errors")?
            .getattr("_from_native")?
            .call1((error.code.as_str(), error.message.as_str(), problems))?;
        Ok(PyErr::from_value(exception))
    };
    build().unwrap_or_else(|import_failure| import_failure)
}

/// Engine options from what the Python user wrote: snake_case names, durations in seconds
/// (`timeout=60`) or the engine's `_ms` names. The mapping is core's, shared with every binding.
fn options_from_py(py: Python<'_>, options: &Bound<'_, PyAny>) -> PyResult<Options> {
    let value = to_json_as(
        py,
        options,
        gatepost_core::ErrorCode::InvalidOptions,
        "options",
    )?;
    Options::from_host_value(value).map_err(|e| raise(py, e))
}

/// An engine input (`response`, `transport_error`, `timeout`, `cancel`) from a Python dict.
fn input_from_py(py: Python<'_>, input: &Bound<'_, PyAny>) -> PyResult<Input> {
    let value = to_json_as(py, input, gatepost_core::ErrorCode::InvalidInput, "input")?;
    serde_json::from_value(value).map_err(|e| {
        raise(
            py,
            Error::new(
                gatepost_core::ErrorCode::InvalidInput,
                format!("invalid input: {e}"),
            ),
        )
    })
}

/// The sans-IO Deployment Gates engine: hand it what happened, ask it what to do next.
///
/// The loop: call ``poll(now)`` until it returns an action of type ``wait`` or ``done``;
/// perform each ``send_request`` (never follow redirects, abort after ``timeout_ms``, cap the
/// body at ``max_body_bytes``) and feed the ``response`` or ``transport_error`` to ``handle``;
/// when a ``wait`` ends with nothing else having happened, feed ``{"type": "timeout"}``.
/// ``now`` is Unix-epoch milliseconds and defaults to the current time.
///
/// Options are snake_case with durations in seconds (``timeout=60``), as in ``gatepost.evaluate``.
/// Actions, inputs, events and snapshots are plain dicts with the engine's snake_case names.
#[pyclass(module = "gatepost._core", name = "Engine")]
struct PyEngine {
    inner: gatepost_core::Engine,
}

#[pymethods]
impl PyEngine {
    /// Start a new evaluation; the first ``poll`` sends the trigger request.
    #[new]
    #[pyo3(signature = (options, now = None))]
    fn new(py: Python<'_>, options: &Bound<'_, PyAny>, now: Option<f64>) -> PyResult<Self> {
        let options = options_from_py(py, options)?;
        let inner =
            gatepost_core::Engine::new(options, resolve_now(py, now)?).map_err(|e| raise(py, e))?;
        Ok(PyEngine { inner })
    }

    /// Poll an evaluation that already exists (no trigger request is sent).
    #[staticmethod]
    #[pyo3(signature = (evaluation_id, options, now = None))]
    fn attach(
        py: Python<'_>,
        evaluation_id: &str,
        options: &Bound<'_, PyAny>,
        now: Option<f64>,
    ) -> PyResult<Self> {
        let options = options_from_py(py, options)?;
        let inner = gatepost_core::Engine::attach(evaluation_id, options, resolve_now(py, now)?)
            .map_err(|e| raise(py, e))?;
        Ok(PyEngine { inner })
    }

    /// Continue from a ``snapshot()`` taken in any process or language. Snapshots hold no keys,
    /// so they are passed again here.
    #[staticmethod]
    #[pyo3(signature = (snapshot, api_key = None, app_key = None, now = None))]
    fn resume(
        py: Python<'_>,
        snapshot: &Bound<'_, PyAny>,
        api_key: Option<String>,
        app_key: Option<String>,
        now: Option<f64>,
    ) -> PyResult<Self> {
        let snapshot = snapshot_from_py(py, snapshot)?;
        let inner =
            gatepost_core::Engine::resume(snapshot, api_key, app_key, resolve_now(py, now)?)
                .map_err(|e| raise(py, e))?;
        Ok(PyEngine { inner })
    }

    /// Continue from a snapshot if it belongs to the request ``options`` describe, with their
    /// policy; otherwise start a new evaluation for ``options`` (a ``snapshot_not_resumed``
    /// warning event names the differences). ``resumed`` tells which happened.
    #[staticmethod]
    #[pyo3(signature = (snapshot, options, now = None))]
    fn resume_for(
        py: Python<'_>,
        snapshot: &Bound<'_, PyAny>,
        options: &Bound<'_, PyAny>,
        now: Option<f64>,
    ) -> PyResult<Self> {
        let snapshot = snapshot_from_py(py, snapshot)?;
        let options = options_from_py(py, options)?;
        let inner = gatepost_core::Engine::resume_for(snapshot, options, resolve_now(py, now)?)
            .map_err(|e| raise(py, e))?;
        Ok(PyEngine { inner })
    }

    /// Whether this engine continues a snapshot's evaluation (rather than a new one).
    #[getter]
    fn resumed(&self) -> bool {
        self.inner.resumed()
    }

    /// Feed something that happened: a ``response``, a ``transport_error``, a ``timeout`` or a
    /// ``cancel`` (a dict with a ``type`` key). A usage error raises and leaves the state as it was.
    #[pyo3(signature = (input, now = None))]
    fn handle(
        &mut self,
        py: Python<'_>,
        input: &Bound<'_, PyAny>,
        now: Option<f64>,
    ) -> PyResult<()> {
        feed(py, input, now, |input, now| self.inner.handle(input, now))
    }

    /// What to do next: a dict whose ``type`` is ``send_request``, ``wait`` or ``done``.
    #[pyo3(signature = (now = None))]
    fn poll<'py>(&mut self, py: Python<'py>, now: Option<f64>) -> PyResult<Bound<'py, PyAny>> {
        let action = self.inner.poll(resolve_now(py, now)?);
        ser_to_py(py, &action)
    }

    /// Take the queued events (``started``, ``progress``, ``retrying``, ``warning``, ...), each with
    /// its log line in ``message``.
    fn drain_events<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        ser_to_py(py, &self.inner.drain_events())
    }

    /// The whole state as a JSON-compatible dict, without keys; resumable with ``Engine.resume``.
    fn snapshot<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.inner.snapshot())
    }

    /// The evaluation id, once the server has given one.
    #[getter]
    fn evaluation_id(&self) -> Option<String> {
        self.inner.evaluation_id().map(str::to_string)
    }

    fn __repr__(&self) -> String {
        match self.inner.evaluation_id() {
            Some(id) => format!("<gatepost.Engine evaluation_id={id:?}>"),
            None => "<gatepost.Engine evaluation_id=None>".to_string(),
        }
    }
}

/// Feed a Python input to a run's `handle` at `now` (the host's clock when `None`).
fn feed(
    py: Python<'_>,
    input: &Bound<'_, PyAny>,
    now: Option<f64>,
    handle: impl FnOnce(Input, u64) -> Result<(), Error>,
) -> PyResult<()> {
    let input = input_from_py(py, input)?;
    handle(input, resolve_now(py, now)?).map_err(|e| raise(py, e))
}

/// A run driven by polling besides ``Engine`` (``GatesRun``, ``OnlineCheck``): the one wrapper
/// both classes delegate to, so building, feeding and polling them cannot drift apart.
struct Polled<R: gatepost_core::Polled> {
    inner: R,
}

impl<R: gatepost_core::Polled> Polled<R> {
    /// Build from Python values: ``options`` (durations in seconds converted by core) and the
    /// run's subject (``task`` / ``source``); a bad value raises ``invalid_options``.
    fn start(
        py: Python<'_>,
        options: &Bound<'_, PyAny>,
        subject: &Bound<'_, PyAny>,
        now: Option<f64>,
    ) -> PyResult<Self> {
        let code = gatepost_core::ErrorCode::InvalidOptions;
        let options = to_json_as(py, options, code, "options")?;
        let subject = to_json_as(py, subject, code, R::SUBJECT)?;
        R::from_json(options, subject, resolve_now(py, now)?)
            .map(|inner| Polled { inner })
            .map_err(|e| raise(py, e))
    }

    fn handle(
        &mut self,
        py: Python<'_>,
        input: &Bound<'_, PyAny>,
        now: Option<f64>,
    ) -> PyResult<()> {
        feed(py, input, now, |input, now| self.inner.handle(input, now))
    }

    fn poll<'py>(&mut self, py: Python<'py>, now: Option<f64>) -> PyResult<Bound<'py, PyAny>> {
        let action = self.inner.poll(resolve_now(py, now)?);
        ser_to_py(py, &action)
    }

    fn drain_events<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        ser_to_py(py, &self.inner.drain_events())
    }
}

/// A gates-as-code run (export, plan or apply of preconfigured gates), driven like ``Engine``:
/// ``poll`` until ``wait`` or ``done`` (whose ``report`` ends it), ``handle`` what happened.
///
/// ``options`` holds ``site`` / ``api_url`` / ``allow_insecure_http``, the keys, and
/// ``request_timeout_ms``, ``max_retries``, ``seed``; ``task`` is
/// ``{"task": "export", "scope": {...}}`` or ``{"task": "plan" | "apply", "file": TEXT_OR_DICT,
/// "prune": {...}}``. ``gatepost.gates`` wraps it.
#[pyclass(module = "gatepost._core", name = "GatesRun")]
struct PyGatesRun(Polled<gatepost_core::gates::Run>);

#[pymethods]
impl PyGatesRun {
    #[new]
    #[pyo3(signature = (options, task, now = None))]
    fn new(
        py: Python<'_>,
        options: &Bound<'_, PyAny>,
        task: &Bound<'_, PyAny>,
        now: Option<f64>,
    ) -> PyResult<Self> {
        Polled::start(py, options, task, now).map(PyGatesRun)
    }

    /// Feed a ``response``, ``transport_error``, ``timeout`` or ``cancel``.
    #[pyo3(signature = (input, now = None))]
    fn handle(
        &mut self,
        py: Python<'_>,
        input: &Bound<'_, PyAny>,
        now: Option<f64>,
    ) -> PyResult<()> {
        self.0.handle(py, input, now)
    }

    /// What to do next: ``send_request``, ``wait`` or ``done`` (with ``report``).
    #[pyo3(signature = (now = None))]
    fn poll<'py>(&mut self, py: Python<'py>, now: Option<f64>) -> PyResult<Bound<'py, PyAny>> {
        self.0.poll(py, now)
    }

    /// Take the queued events (``progress`` of an apply, ``warning`` for a retry).
    fn drain_events<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.0.drain_events(py)
    }
}

/// A ``validate(online=True)`` check, driven like ``Engine``: ``poll`` until ``wait`` or ``done``
/// (whose ``report`` ends it), ``handle`` what happened.
///
/// ``options`` holds ``site`` / ``api_url`` / ``allow_insecure_http``, the keys, and
/// ``request_timeout_ms``, ``max_retries``, ``timeout_ms``, ``seed``; ``source`` is
/// ``{"source": "config", "config": TEXT_OR_DICT, "version": ..., "allow_unknown_keys": ...,
/// "service": ..., "env": ...}`` (``service`` and ``env`` let Faulty Deployment Detection rules be
/// checked for APM data) or ``{"source": "gate", "service": ..., "env": ..., "identifier": ...,
/// "version": ...}``.
#[pyclass(module = "gatepost._core", name = "OnlineCheck")]
struct PyOnlineCheck(Polled<gatepost_core::online::Check>);

#[pymethods]
impl PyOnlineCheck {
    #[new]
    #[pyo3(signature = (options, source, now = None))]
    fn new(
        py: Python<'_>,
        options: &Bound<'_, PyAny>,
        source: &Bound<'_, PyAny>,
        now: Option<f64>,
    ) -> PyResult<Self> {
        Polled::start(py, options, source, now).map(PyOnlineCheck)
    }

    /// Feed a ``response``, ``transport_error``, ``timeout`` or ``cancel``.
    #[pyo3(signature = (input, now = None))]
    fn handle(
        &mut self,
        py: Python<'_>,
        input: &Bound<'_, PyAny>,
        now: Option<f64>,
    ) -> PyResult<()> {
        self.0.handle(py, input, now)
    }

    /// What to do next: ``send_request``, ``wait`` or ``done`` (with ``report``).
    #[pyo3(signature = (now = None))]
    fn poll<'py>(&mut self, py: Python<'py>, now: Option<f64>) -> PyResult<Bound<'py, PyAny>> {
        self.0.poll(py, now)
    }

    /// Take the queued events (``warning`` for a retry).
    fn drain_events<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.0.drain_events(py)
    }
}

/// Render an online report (the ``report`` of a ``done`` action) as ``text`` or ``markdown``.
#[pyfunction]
fn render_online_report(
    py: Python<'_>,
    report: &Bound<'_, PyAny>,
    format: &str,
) -> PyResult<String> {
    let value = to_json_as(py, report, gatepost_core::ErrorCode::InvalidInput, "report")?;
    let report: gatepost_core::online::OnlineReport =
        serde_json::from_value(value).map_err(|e| {
            raise(
                py,
                Error::new(
                    gatepost_core::ErrorCode::InvalidInput,
                    format!("invalid report: {e}"),
                ),
            )
        })?;
    match format {
        "text" => Ok(gatepost_core::online::render_text(&report)),
        "markdown" => Ok(gatepost_core::online::render_markdown(&report)),
        other => Err(PyValueError::new_err(format!(
            "format must be \"text\" or \"markdown\", not {other:?}"
        ))),
    }
}

/// Render a gates plan (the ``plan`` of a report) as ``text`` or ``markdown``.
#[pyfunction]
fn render_gates_plan(py: Python<'_>, plan: &Bound<'_, PyAny>, format: &str) -> PyResult<String> {
    let value = to_json_as(py, plan, gatepost_core::ErrorCode::InvalidInput, "plan")?;
    let plan: gatepost_core::gates::Plan = serde_json::from_value(value).map_err(|e| {
        raise(
            py,
            Error::new(
                gatepost_core::ErrorCode::InvalidInput,
                format!("invalid plan: {e}"),
            ),
        )
    })?;
    match format {
        "text" => Ok(gatepost_core::gates::render_text(&plan)),
        "markdown" => Ok(gatepost_core::gates::render_markdown(&plan)),
        other => Err(PyValueError::new_err(format!(
            "format must be \"text\" or \"markdown\", not {other:?}"
        ))),
    }
}

/// Validate a pipeline config offline: every problem with its path (and line/column for text).
///
/// ``config`` is the file's text or an already-parsed dict. Returns a dict with ``valid``,
/// ``problems``, ``warnings`` and the ``configuration`` that would be sent. With
/// ``allow_unknown_keys``, unknown keys are warnings (kept) instead of problems.
#[pyfunction]
#[pyo3(signature = (config, version = None, allow_unknown_keys = false))]
fn validate<'py>(
    py: Python<'py>,
    config: &Bound<'py, PyAny>,
    version: Option<&str>,
    allow_unknown_keys: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let input = if config.is_instance_of::<PyString>() {
        ConfigInput::Text(config.extract()?)
    } else {
        ConfigInput::Value(to_json_as(
            py,
            config,
            gatepost_core::ErrorCode::InvalidConfig,
            "config",
        )?)
    };
    ser_to_py(
        py,
        &gatepost_core::validate(&input, version, allow_unknown_keys),
    )
}

/// Render an outcome dict (the ``outcome`` of a ``done`` action) as ``text``, ``markdown`` or
/// ``json``, with core's renderers, so reports read the same in every language.
#[pyfunction]
#[pyo3(signature = (outcome, format = "text", color = false))]
fn render(
    py: Python<'_>,
    outcome: &Bound<'_, PyAny>,
    format: &str,
    color: bool,
) -> PyResult<String> {
    let outcome: Outcome = serde_json::from_value(to_json_as(
        py,
        outcome,
        gatepost_core::ErrorCode::InvalidInput,
        "outcome",
    )?)
    .map_err(|e| {
        raise(
            py,
            Error::new(
                gatepost_core::ErrorCode::InvalidInput,
                format!("invalid outcome: {e}"),
            ),
        )
    })?;
    match format {
        "text" => Ok(gatepost_core::report::render_text(
            &outcome,
            gatepost_core::report::TextStyle { color },
        )),
        "markdown" => Ok(gatepost_core::report::render_markdown(&outcome)),
        "json" => Ok(gatepost_core::report::render_json(&outcome)),
        other => Err(PyValueError::new_err(format!(
            "unknown format {other:?}; expected \"text\", \"markdown\" or \"json\""
        ))),
    }
}

/// The monitors a Deployment Gates monitor rule with ``query`` selects from ``monitors``.
///
/// Each monitor is a dict: ``id`` and optionally ``name``, ``message``, ``type``, ``tags``,
/// ``scope``, ``groups`` (``[{"name", "status"}]``), ``status``, ``muted``, ``creator``. Returns
/// ``[{"id", "groups"}]`` in the monitors' order, ``groups`` being the groups evaluated (``[]``:
/// the monitor as a whole). Rules: ``docs/query-semantics.md``. A bad query or monitor raises
/// ``UsageError`` naming the place.
#[pyfunction]
fn match_monitors<'py>(
    py: Python<'py>,
    query: &str,
    monitors: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let monitors = to_json_as(
        py,
        monitors,
        gatepost_core::ErrorCode::InvalidInput,
        "monitors",
    )?;
    let matches =
        gatepost_core::query::evaluate_json(query, &monitors).map_err(|e| raise(py, e))?;
    ser_to_py(py, &matches)
}

/// A Python environment mapping (``os.environ`` or any ``Mapping[str, str]``) as core reads it: a
/// value that is a ``str`` but not valid UTF-8 (``os.environ`` holds undecodable bytes as surrogate
/// escapes) is kept as "not UTF-8" so core can name it; names that are not ``str`` are skipped.
fn environment_from_py(environ: &Bound<'_, PyAny>) -> PyResult<Environment> {
    let mut env = Environment::new();
    for item in environ.call_method0("items")?.try_iter()? {
        let (name, value): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item?.extract()?;
        let Ok(name) = name.extract::<String>() else {
            continue;
        };
        if !value.is_instance_of::<PyString>() {
            continue;
        }
        match value.extract::<String>() {
            Ok(text) => env.set(name, text),
            Err(_) => env.set_not_unicode(name),
        }
    }
    Ok(env)
}

/// The keys and site ``environ`` provides, by core's rules (the same in every host): a dict with
/// ``api_key``, ``app_key`` and ``site`` for those found. Values are trimmed; empty and
/// white-space-only values are skipped; ``DATADOG_*`` wins over ``DD_*``. A variable that is set
/// but not valid UTF-8 raises ``OptionsError`` naming it (its value is not shown).
#[pyfunction]
fn env_defaults<'py>(py: Python<'py>, environ: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let env = environment_from_py(environ)?;
    let found = gatepost_core::environment::defaults(&env).map_err(|e| raise(py, e))?;
    ser_to_py(py, &found)
}

/// The proxy URL for a request to ``url`` in ``environ``, or ``None`` to go direct, by core's
/// rules (``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY``, ``NO_PROXY`` as curl reads it, loopback
/// always direct).
#[pyfunction]
fn proxy_for(url: &str, environ: &Bound<'_, PyAny>) -> PyResult<Option<String>> {
    let env = environment_from_py(environ)?;
    Ok(gatepost_core::environment::proxy_for(url, &env))
}

/// The JSON Schema of the outcome document.
#[pyfunction]
fn outcome_schema(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    to_py(py, &Outcome::json_schema())
}

/// The native module. `gatepost/__init__.py` re-exports what users need.
#[pymodule(name = "_core")]
fn gatepost_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyEngine>()?;
    m.add_class::<PyGatesRun>()?;
    m.add_class::<PyOnlineCheck>()?;
    m.add_function(wrap_pyfunction!(render_online_report, m)?)?;
    m.add_function(wrap_pyfunction!(render_gates_plan, m)?)?;
    m.add_function(wrap_pyfunction!(validate, m)?)?;
    m.add_function(wrap_pyfunction!(render, m)?)?;
    m.add_function(wrap_pyfunction!(outcome_schema, m)?)?;
    m.add_function(wrap_pyfunction!(match_monitors, m)?)?;
    m.add_function(wrap_pyfunction!(env_defaults, m)?)?;
    m.add_function(wrap_pyfunction!(proxy_for, m)?)?;
    m.add("__version__", gatepost_core::VERSION)?;
    Ok(())
}
