//! The world file: everything the emulator knows about the account it pretends to be.
//!
//! A world is plain JSON (schema in `schemas/world.schema.json`, generated from these types by
//! [`json_schema`]). Every time in a world is a duration *relative to the start of each
//! evaluation*, so every evaluation replays the same story: `{"at": "90s", "state": "Alert"}`
//! means "90 world-seconds after the evaluation was triggered". That keeps tests repeatable no
//! matter how long the emulator has been running.

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

/// A world: monitors, APM data, preconfigured gates, accepted keys, rate limits and faults.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct World {
    /// Editors use this to find the schema; the emulator ignores it.
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Free text shown on the Evaluations page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Serve without keys: with `api_keys` empty, any key (or none) is accepted, on the API and
    /// on the pages. A world that is not open must list `api_keys`; the emulator refuses to
    /// serve it otherwise. Listed keys are always checked, open or not.
    #[serde(default)]
    pub open: bool,
    /// Accepted `DD-API-KEY` values (required unless the world is `open`).
    #[serde(default)]
    pub api_keys: Vec<String>,
    /// Accepted `DD-APPLICATION-KEY` values. Empty: the application key is not checked.
    #[serde(default)]
    pub app_keys: Vec<String>,
    /// Monitors that monitor rules search.
    #[serde(default)]
    pub monitors: Vec<Monitor>,
    /// APM data that Faulty Deployment Detection rules analyse.
    #[serde(default)]
    pub apm: Vec<ApmService>,
    /// Gates (with their rules) that exist before the first request.
    #[serde(default)]
    pub gates: Vec<GateSpec>,
    /// Datadog-style rate limits per endpoint (fixed windows of real, unscaled time).
    #[serde(default)]
    pub rate_limits: Vec<RateLimit>,
    /// Fault plans per endpoint.
    #[serde(default)]
    pub faults: Faults,
    /// Parameters of the Faulty Deployment Detection statistics.
    #[serde(default)]
    pub fdd: FddParameters,
}

/// A monitor. Its state is `state` until the first `timeline` point, then the latest point whose
/// `at` has passed. A monitor with groups and no overall timeline is as bad as its worst group.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Monitor {
    pub id: u64,
    pub name: String,
    #[serde(default)]
    pub message: String,
    /// `metric alert`, `query alert`, `service check`, ...
    #[serde(rename = "type", default = "default_monitor_type")]
    pub monitor_type: String,
    /// The monitor's tags (`team:payment`, `use_deployment_gates`).
    #[serde(default)]
    pub tags: Vec<String>,
    /// Tags in the monitor query's scope (`service:checkout`, `env:prod`).
    #[serde(default)]
    pub scope: Vec<String>,
    /// Muted monitors never match a monitor rule (the service adds `muted:false`).
    #[serde(default)]
    pub muted: bool,
    #[serde(default = "default_creator")]
    pub creator: String,
    /// The state before the first timeline point.
    #[serde(default)]
    pub state: MonitorState,
    #[serde(default)]
    pub timeline: Vec<StatePoint>,
    #[serde(default)]
    pub groups: Vec<MonitorGroup>,
}

fn default_monitor_type() -> String {
    "metric alert".into()
}

fn default_creator() -> String {
    "emulator@gatepost.invalid".into()
}

/// One group of a multi-alert monitor (`region:us-east-1` or `region:eu,host:a`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MonitorGroup {
    pub name: String,
    #[serde(default)]
    pub state: MonitorState,
    #[serde(default)]
    pub timeline: Vec<StatePoint>,
}

/// A state change, `at` after the evaluation started.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatePoint {
    pub at: WorldDuration,
    pub state: MonitorState,
}

/// A monitor (or group) state, spelled as the monitor search syntax spells it.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub enum MonitorState {
    #[default]
    #[serde(rename = "OK", alias = "ok", alias = "Ok")]
    Ok,
    #[serde(rename = "Warn", alias = "WARN", alias = "warn", alias = "Warning")]
    Warn,
    #[serde(
        rename = "No Data",
        alias = "NO_DATA",
        alias = "no data",
        alias = "NoData"
    )]
    NoData,
    #[serde(rename = "Alert", alias = "ALERT", alias = "alert")]
    Alert,
}

impl MonitorState {
    /// The spelling of the monitor search syntax (`status:Alert`).
    pub fn as_str(self) -> &'static str {
        match self {
            MonitorState::Ok => "OK",
            MonitorState::Warn => "Warn",
            MonitorState::NoData => "No Data",
            MonitorState::Alert => "Alert",
        }
    }
}

/// The state of a timeline at `at_ms` world milliseconds after the evaluation started.
pub fn state_at(initial: MonitorState, timeline: &[StatePoint], at_ms: u64) -> MonitorState {
    timeline
        .iter()
        .filter(|p| p.at.0 <= at_ms)
        .max_by_key(|p| p.at.0)
        .map_or(initial, |p| p.state)
}

impl Monitor {
    /// The monitor's overall state at a world time.
    pub fn state_at(&self, at_ms: u64) -> MonitorState {
        if self.groups.is_empty() || !self.timeline.is_empty() {
            state_at(self.state, &self.timeline, at_ms)
        } else {
            self.groups
                .iter()
                .map(|g| g.state_at(at_ms))
                .max()
                .unwrap_or(self.state)
        }
    }

    /// Every world time at which this monitor or one of its groups changes state.
    pub fn change_points(&self) -> impl Iterator<Item = u64> + '_ {
        self.timeline
            .iter()
            .chain(self.groups.iter().flat_map(|g| g.timeline.iter()))
            .map(|p| p.at.0)
    }
}

impl MonitorGroup {
    pub fn state_at(&self, at_ms: u64) -> MonitorState {
        state_at(self.state, &self.timeline, at_ms)
    }
}

/// APM data for one service in one env.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApmService {
    pub service: String,
    pub env: String,
    /// `web`, `http`, `rpc`, ...; `database` and `inferred` services cannot use FDD.
    #[serde(default = "default_service_type")]
    pub service_type: String,
    /// What previous versions did (the baseline), as totals.
    #[serde(default)]
    pub history: Vec<HistoryEntry>,
    /// What a version does once it is deployed, as per-minute rates over evaluation time.
    #[serde(default)]
    pub live: Vec<LiveEntry>,
}

fn default_service_type() -> String {
    "web".into()
}

/// Totals observed for a previous version on one resource (and primary tag value).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HistoryEntry {
    pub version: String,
    pub resource: String,
    /// `key:value` of the service's additional primary tag (`region:us-east-1`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_tag: Option<String>,
    pub requests: u64,
    pub errors: u64,
    /// Error counts by error type.
    #[serde(default)]
    pub error_types: BTreeMap<String, u64>,
}

/// Traffic of a version on one resource after the evaluation starts.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LiveEntry {
    pub version: String,
    pub resource: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_tag: Option<String>,
    /// Piecewise-constant rates: each point holds from its `at` until the next point.
    pub timeline: Vec<RatePoint>,
}

/// Rates from `at` on.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RatePoint {
    pub at: WorldDuration,
    pub requests_per_minute: f64,
    #[serde(default)]
    pub errors_per_minute: f64,
    /// Error types seen from `at` on (only while `errors_per_minute` > 0).
    #[serde(default)]
    pub error_types: Vec<String>,
}

/// A gate that exists when the emulator starts.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GateSpec {
    /// A UUID; generated when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub service: String,
    pub env: String,
    #[serde(default = "default_identifier")]
    pub identifier: String,
    #[serde(default)]
    pub dry_run: bool,
    #[serde(default)]
    pub rules: Vec<RuleSpec>,
}

pub(crate) fn default_identifier() -> String {
    "default".into()
}

/// A rule of a preconfigured gate, in the API's shape.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub name: String,
    /// `monitor` or `faulty_deployment_detection`.
    #[serde(rename = "type")]
    pub rule_type: String,
    /// The API's rule options (`query`, `duration`, `excluded_resources`, ...).
    #[serde(default = "empty_object")]
    pub options: Value,
    #[serde(default)]
    pub dry_run: bool,
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

/// The endpoints that rate limits and fault plans address.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    /// `POST …/deployments/gates/evaluation`
    Trigger,
    /// `GET …/deployments/gates/evaluation/{id}`
    Result,
    /// `…/deployment_gates` and `…/deployment_gates/{id}`
    Gates,
    /// `…/deployment_gates/{gate_id}/rules[/{id}]`
    Rules,
    /// `GET …/deployment_gates/evaluations`
    Evaluations,
    /// `GET /api/v1/monitor/search` (what `gatepost validate --online` asks)
    MonitorSearch,
    /// `GET /api/v2/spans/events` (what `gatepost validate --online` checks APM data with)
    SpansSearch,
}

impl Endpoint {
    /// The `X-RateLimit-Name` the emulator reports.
    pub fn rate_limit_name(self) -> &'static str {
        match self {
            Endpoint::Trigger => "deployment_gates_evaluation_trigger",
            Endpoint::Result => "deployment_gates_evaluation_result",
            Endpoint::Gates => "deployment_gates",
            Endpoint::Rules => "deployment_gates_rules",
            Endpoint::Evaluations => "deployment_gates_evaluations",
            Endpoint::MonitorSearch => "monitor_search",
            Endpoint::SpansSearch => "spans_search",
        }
    }
}

/// At most `limit` requests per `period_seconds` (real seconds, not scaled) to one endpoint.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    pub endpoint: Endpoint,
    pub limit: u32,
    #[serde(default = "default_period")]
    pub period_seconds: u64,
}

fn default_period() -> u64 {
    60
}

/// Fault plans: per endpoint, a sequence of faults served to consecutive requests; once a
/// sequence is used up, the endpoint behaves normally.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Faults {
    #[serde(default)]
    pub trigger: Vec<FaultStep>,
    #[serde(default)]
    pub result: Vec<FaultStep>,
    #[serde(default)]
    pub gates: Vec<FaultStep>,
    #[serde(default)]
    pub rules: Vec<FaultStep>,
    #[serde(default)]
    pub evaluations: Vec<FaultStep>,
    #[serde(default)]
    pub monitor_search: Vec<FaultStep>,
    #[serde(default)]
    pub spans_search: Vec<FaultStep>,
    /// The result endpoint answers 404 ("not found") for this long (world time) after each
    /// trigger, as the real service does before an evaluation has started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_not_found_for: Option<WorldDuration>,
    /// The result endpoint reports each evaluation as it stood this long ago (world time), so a
    /// result exists only this long after its rules finished, as server-side processing makes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_late_by: Option<WorldDuration>,
}

impl Faults {
    pub fn plan(&self, endpoint: Endpoint) -> &[FaultStep] {
        match endpoint {
            Endpoint::Trigger => &self.trigger,
            Endpoint::Result => &self.result,
            Endpoint::Gates => &self.gates,
            Endpoint::Rules => &self.rules,
            Endpoint::Evaluations => &self.evaluations,
            Endpoint::MonitorSearch => &self.monitor_search,
            Endpoint::SpansSearch => &self.spans_search,
        }
    }
}

/// One fault, served `times` times in a row.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FaultStep {
    pub kind: FaultKind,
    /// How many consecutive requests get this fault (default 1).
    #[serde(default = "one")]
    pub times: u32,
    /// `status`: the status code; `garbage`: the status of the garbage response (default 200).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// `status`: the response body (default: the API's error body for that status).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// `rate_limited`: the `Retry-After` value in seconds (default: none sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// `delay`: how long to wait before answering normally; `hang`: how long to hold the
    /// connection before resetting it (default 3600 s). Real milliseconds, not scaled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ms: Option<u64>,
}

fn one() -> u32 {
    1
}

/// What a fault does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Answer `status` (5xx, 4xx...) with the API's error body, or `body`.
    Status,
    /// Answer 429 with `X-RateLimit-*` headers (and `Retry-After` when `retry_after` is set).
    RateLimited,
    /// Close the TCP connection with a reset, without answering.
    Reset,
    /// Hold the connection without answering, then reset it.
    Hang,
    /// Answer with a body that is not JSON.
    Garbage,
    /// Wait `ms`, then answer normally.
    Delay,
    /// Answer 404 with the endpoint's not-found body.
    NotFound,
    /// Answer normally (to space out other faults).
    Pass,
}

/// Parameters of the Faulty Deployment Detection test (see the crate README).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FddParameters {
    /// One-sided p-value below which an error-rate increase is significant.
    #[serde(default = "default_significance")]
    pub significance: f64,
    /// The deployed version needs this many requests (per resource and scope) to be judged.
    #[serde(default = "default_min_requests")]
    pub min_requests: u64,
    /// Previous versions need this many requests (per resource and scope) to form a baseline.
    #[serde(default = "default_min_baseline_requests")]
    pub min_baseline_requests: u64,
    /// The error rate must rise by at least this much (absolute, 0.005 = 0.5 percentage points).
    #[serde(default = "default_min_absolute_increase")]
    pub min_absolute_increase: f64,
    /// ... and to at least this multiple of the baseline rate.
    #[serde(default = "default_min_relative_increase")]
    pub min_relative_increase: f64,
}

fn default_significance() -> f64 {
    0.01
}
fn default_min_requests() -> u64 {
    100
}
fn default_min_baseline_requests() -> u64 {
    1000
}
fn default_min_absolute_increase() -> f64 {
    0.005
}
fn default_min_relative_increase() -> f64 {
    1.5
}

impl Default for FddParameters {
    fn default() -> Self {
        FddParameters {
            significance: default_significance(),
            min_requests: default_min_requests(),
            min_baseline_requests: default_min_baseline_requests(),
            min_absolute_increase: default_min_absolute_increase(),
            min_relative_increase: default_min_relative_increase(),
        }
    }
}

/// A world-time duration in milliseconds. Written as `"90s"`, `"1m30s"`, `"500ms"`, `"2h"`, or a
/// number of seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct WorldDuration(pub u64);

impl WorldDuration {
    pub fn from_secs(secs: u64) -> Self {
        WorldDuration(secs * 1000)
    }

    /// Parse `"90s"`, `"1m30s"`, `"500ms"`, `"2h"`, `"1d"`, or a bare number of seconds.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("empty duration".into());
        }
        if let Ok(secs) = text.parse::<f64>() {
            return secs_to_ms(secs);
        }
        let mut total = 0f64;
        let mut rest = text;
        while !rest.is_empty() {
            let digits = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .ok_or_else(|| format!("duration {text:?} has a number without a unit"))?;
            if digits == 0 {
                return Err(format!(
                    "duration {text:?} is not like \"90s\", \"5m\", \"1h30m\" or \"500ms\""
                ));
            }
            let number: f64 = rest[..digits]
                .parse()
                .map_err(|_| format!("bad number in duration {text:?}"))?;
            rest = &rest[digits..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(rest.len());
            let factor = match &rest[..unit_len] {
                "ms" => 0.001,
                "s" => 1.0,
                "m" => 60.0,
                "h" => 3600.0,
                "d" => 86400.0,
                other => {
                    return Err(format!(
                        "unknown unit {other:?} in duration {text:?} (use ms, s, m, h or d)"
                    ));
                }
            };
            total += number * factor;
            rest = &rest[unit_len..];
        }
        secs_to_ms(total)
    }
}

fn secs_to_ms(secs: f64) -> Result<WorldDuration, String> {
    if !secs.is_finite() || secs < 0.0 {
        return Err(format!("duration {secs} must be a non-negative number"));
    }
    Ok(WorldDuration((secs * 1000.0).round() as u64))
}

impl fmt::Display for WorldDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_multiple_of(1000) {
            write!(f, "{}s", self.0 / 1000)
        } else {
            write!(f, "{}ms", self.0)
        }
    }
}

impl Serialize for WorldDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for WorldDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(f64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Number(secs) => secs_to_ms(secs),
            Raw::Text(text) => WorldDuration::parse(&text),
        }
        .map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for WorldDuration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A duration: \"90s\", \"1m30s\", \"500ms\", \"2h\", \"1d\", or a number of seconds.",
            "oneOf": [
                { "type": "string", "pattern": "^\\s*([0-9]+(\\.[0-9]+)?(ms|s|m|h|d))+\\s*$" },
                { "type": "number", "minimum": 0 }
            ]
        })
    }
}

/// A world file that could not be used: where (JSON path, and line/column when known) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorldError {
    /// The file, when loaded from one.
    pub file: Option<String>,
    /// JSON path of the problem (`monitors[0].timeline[1].at`), empty for the whole document.
    pub path: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl fmt::Display for WorldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{file}: ")?;
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        write!(f, "{}", self.message)?;
        if let (Some(line), Some(column)) = (self.line, self.column) {
            write!(f, " (line {line}, column {column})")?;
        }
        Ok(())
    }
}

impl std::error::Error for WorldError {}

impl WorldError {
    pub(crate) fn at(path: impl Into<String>, message: impl Into<String>) -> Self {
        WorldError {
            file: None,
            path: path.into(),
            line: None,
            column: None,
            message: message.into(),
        }
    }
}

impl World {
    /// Parse and check a world. Errors name the JSON path and, for syntax and type errors, the
    /// line and column.
    pub fn from_json(text: &str) -> Result<World, WorldError> {
        let mut de = serde_json::Deserializer::from_str(text);
        let world: World = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let message = strip_position(&inner.to_string());
            WorldError {
                file: None,
                path: if path == "." { String::new() } else { path },
                line: Some(inner.line()),
                column: Some(inner.column()),
                message,
            }
        })?;
        de.end().map_err(|e| WorldError {
            file: None,
            path: String::new(),
            line: Some(e.line()),
            column: Some(e.column()),
            message: strip_position(&e.to_string()),
        })?;
        world.check()?;
        Ok(world)
    }

    /// Read, parse and check a world file (at most [`MAX_WORLD_BYTES`]: a mistaken path such
    /// as `/dev/zero` is refused at once, not read until memory runs out).
    pub fn from_path(path: &Path) -> Result<World, WorldError> {
        let name = path.display().to_string();
        let text = read_limited(path, MAX_WORLD_BYTES).map_err(|e| WorldError {
            file: Some(name.clone()),
            path: String::new(),
            line: None,
            column: None,
            message: format!("cannot read the world file: {e}"),
        })?;
        World::from_json(&text).map_err(|mut e| {
            e.file = Some(name);
            e
        })
    }

    /// Accepted `DD-API-KEY` values; empty only in an `open` world, where any key (or none) is
    /// accepted.
    pub fn api_keys(&self) -> &[String] {
        &self.api_keys
    }

    /// The application keys the world accepts (empty: any).
    pub fn app_keys(&self) -> &[String] {
        &self.app_keys
    }

    /// Whether the world can be served: it lists the keys it accepts, or says `"open": true`.
    pub fn check_keys(&self) -> Result<(), WorldError> {
        if self.api_keys.is_empty() && !self.open {
            return Err(WorldError::at(
                "api_keys",
                "the world accepts no keys: list the accepted keys in api_keys (and app_keys), \
                 or set \"open\": true to accept any key",
            ));
        }
        Ok(())
    }

    /// Whether a request carrying these keys may use the API and the pages: every listed key
    /// list must contain the key given (an empty list checks nothing; see [`World::check_keys`]).
    pub fn accepts_keys(&self, api_key: Option<&str>, app_key: Option<&str>) -> bool {
        let accepted = |list: &[String], key: Option<&str>| {
            list.is_empty() || key.is_some_and(|key| list.iter().any(|k| k == key))
        };
        accepted(&self.api_keys, api_key) && accepted(&self.app_keys, app_key)
    }

    /// Checks that types alone cannot express: unique ids, valid gate rules, sane numbers.
    fn check(&self) -> Result<(), WorldError> {
        let mut ids = std::collections::BTreeSet::new();
        for (i, m) in self.monitors.iter().enumerate() {
            if !ids.insert(m.id) {
                return Err(WorldError::at(
                    format!("monitors[{i}].id"),
                    format!("monitor id {} is used twice", m.id),
                ));
            }
        }
        let mut gate_keys = std::collections::BTreeSet::new();
        for (g, gate) in self.gates.iter().enumerate() {
            let path = format!("gates[{g}]");
            if let Some(id) = &gate.id
                && uuid::Uuid::parse_str(id).is_err()
            {
                return Err(WorldError::at(
                    format!("{path}.id"),
                    format!("{id:?} is not a UUID"),
                ));
            }
            if gate.service.is_empty() || gate.env.is_empty() {
                return Err(WorldError::at(&path, "service and env must not be empty"));
            }
            if !gate_keys.insert((&gate.service, &gate.env, &gate.identifier)) {
                return Err(WorldError::at(
                    &path,
                    format!(
                        "a gate for service {}, env {} and identifier {} is declared twice",
                        gate.service, gate.env, gate.identifier
                    ),
                ));
            }
            let mut names = std::collections::BTreeSet::new();
            for (r, rule) in gate.rules.iter().enumerate() {
                let rpath = format!("{path}.rules[{r}]");
                if let Some(id) = &rule.id
                    && uuid::Uuid::parse_str(id).is_err()
                {
                    return Err(WorldError::at(
                        format!("{rpath}.id"),
                        format!("{id:?} is not a UUID"),
                    ));
                }
                if !names.insert(&rule.name) {
                    return Err(WorldError::at(
                        format!("{rpath}.name"),
                        format!("rule name {:?} is used twice in this gate", rule.name),
                    ));
                }
                let value = serde_json::json!({
                    "name": rule.name, "type": rule.rule_type,
                    "options": rule.options, "dry_run": rule.dry_run,
                });
                crate::rules::parse_rule(&value).map_err(|e| WorldError::at(rpath, e))?;
            }
        }
        for (i, limit) in self.rate_limits.iter().enumerate() {
            if limit.period_seconds == 0 {
                return Err(WorldError::at(
                    format!("rate_limits[{i}].period_seconds"),
                    "must be at least 1",
                ));
            }
        }
        let p = &self.fdd;
        if !(p.significance > 0.0 && p.significance < 1.0) {
            return Err(WorldError::at(
                "fdd.significance",
                "must be between 0 and 1",
            ));
        }
        for (s, svc) in self.apm.iter().enumerate() {
            for (l, live) in svc.live.iter().enumerate() {
                for (t, point) in live.timeline.iter().enumerate() {
                    if !(point.requests_per_minute >= 0.0
                        && point.errors_per_minute >= 0.0
                        && point.errors_per_minute <= point.requests_per_minute)
                    {
                        return Err(WorldError::at(
                            format!("apm[{s}].live[{l}].timeline[{t}]"),
                            "rates must be non-negative and errors_per_minute <= requests_per_minute",
                        ));
                    }
                }
            }
            for (h, entry) in svc.history.iter().enumerate() {
                if entry.errors > entry.requests {
                    return Err(WorldError::at(
                        format!("apm[{s}].history[{h}].errors"),
                        "errors cannot exceed requests",
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The largest world file read (far above any real one; examples are a few KiB).
pub const MAX_WORLD_BYTES: u64 = 16 << 20;

/// Read at most `limit` bytes of UTF-8 text.
fn read_limited(path: &Path, limit: u64) -> std::io::Result<String> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(limit + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than {} MiB: is it the right file?", limit >> 20),
        ));
    }
    String::from_utf8(bytes).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "the file is not UTF-8 text",
        )
    })
}

/// serde_json appends " at line L column C"; the error carries those separately.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// The JSON Schema of the world file (committed as `schemas/world.schema.json`).
pub fn json_schema() -> Value {
    let schema = schemars::schema_for!(World);
    let mut value = serde_json::to_value(schema).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        map.insert(
            "$id".into(),
            Value::String("https://gatepost.invalid/schemas/world.schema.json".into()),
        );
        map.insert(
            "title".into(),
            Value::String("gatepost emulator world".into()),
        );
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_in_every_spelling() {
        assert_eq!(WorldDuration::parse("90s").unwrap().0, 90_000);
        assert_eq!(WorldDuration::parse("1m30s").unwrap().0, 90_000);
        assert_eq!(WorldDuration::parse("500ms").unwrap().0, 500);
        assert_eq!(WorldDuration::parse("2h").unwrap().0, 7_200_000);
        assert_eq!(WorldDuration::parse("1.5").unwrap().0, 1500);
        assert!(WorldDuration::parse("5 minutes").is_err());
        assert!(WorldDuration::parse("").is_err());
        assert!(WorldDuration::parse("10").is_ok());
    }

    #[test]
    fn world_errors_name_the_json_path_and_line() {
        let text = "{\n  \"monitors\": [\n    {\"id\": 1, \"name\": \"a\", \"timeline\": [{\"at\": \"5 minutes\", \"state\": \"Alert\"}]}\n  ]\n}";
        let err = World::from_json(text).unwrap_err();
        assert_eq!(err.path, "monitors[0].timeline[0].at");
        assert_eq!(err.line, Some(3));
        assert!(err.to_string().contains("line 3"), "{err}");
    }

    #[test]
    fn unknown_world_keys_are_rejected() {
        let err = World::from_json(r#"{"monitor": []}"#).unwrap_err();
        assert!(err.message.contains("unknown field"), "{err}");
    }

    #[test]
    fn duplicate_monitor_ids_are_rejected() {
        let err =
            World::from_json(r#"{"monitors": [{"id": 1, "name": "a"}, {"id": 1, "name": "b"}]}"#)
                .unwrap_err();
        assert_eq!(err.path, "monitors[1].id");
    }

    #[test]
    fn invalid_gate_rules_are_rejected_with_their_path() {
        let err = World::from_json(
            r#"{"gates": [{"service": "s", "env": "e", "rules": [{"name": "r", "type": "moniyor"}]}]}"#,
        )
        .unwrap_err();
        assert_eq!(err.path, "gates[0].rules[0]");
        assert!(err.message.contains("invalid rule type: moniyor"), "{err}");
    }

    #[test]
    fn an_endless_world_file_is_refused_after_the_limit() {
        let started = std::time::Instant::now();
        let err = World::from_path(Path::new("/dev/zero")).unwrap_err();
        assert_eq!(err.file.as_deref(), Some("/dev/zero"));
        assert!(err.message.contains("larger than 16 MiB"), "{err}");
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
    }

    #[test]
    fn a_world_must_list_keys_or_say_it_is_open() {
        let closed = World::from_json("{}").unwrap();
        let err = closed.check_keys().unwrap_err();
        assert_eq!(err.path, "api_keys");
        assert!(err.message.contains("\"open\": true"), "{err}");
        let open = World::from_json(r#"{"open": true}"#).unwrap();
        assert!(open.check_keys().is_ok());
        assert!(open.accepts_keys(None, None));
        assert!(open.accepts_keys(Some("anything"), None));
        let keyed = World::from_json(r#"{"api_keys": ["a"], "app_keys": ["b"]}"#).unwrap();
        assert!(keyed.check_keys().is_ok());
        assert!(keyed.accepts_keys(Some("a"), Some("b")));
        assert!(!keyed.accepts_keys(Some("a"), None));
        assert!(!keyed.accepts_keys(Some("b"), Some("a")));
        assert!(!keyed.accepts_keys(None, Some("b")));
        // Listed keys hold even in an open world; an empty app key list checks nothing.
        let both = World::from_json(r#"{"open": true, "api_keys": ["a"]}"#).unwrap();
        assert!(!both.accepts_keys(Some("x"), None));
        assert!(both.accepts_keys(Some("a"), Some("whatever")));
    }

    #[test]
    fn monitor_state_follows_its_timeline_and_groups() {
        let world = World::from_json(
            r#"{"monitors": [
                {"id": 1, "name": "a", "timeline": [{"at": "90s", "state": "Alert"}]},
                {"id": 2, "name": "b", "groups": [
                    {"name": "region:eu", "timeline": [{"at": "1m", "state": "No Data"}]},
                    {"name": "region:us"}]}]}"#,
        )
        .unwrap();
        let a = &world.monitors[0];
        assert_eq!(a.state_at(89_999), MonitorState::Ok);
        assert_eq!(a.state_at(90_000), MonitorState::Alert);
        let b = &world.monitors[1];
        assert_eq!(b.state_at(0), MonitorState::Ok);
        assert_eq!(b.state_at(60_000), MonitorState::NoData);
    }
}
