//! The result of an evaluation: data, never an exception. Its JSON form is the machine-readable
//! result every host prints (`--output json`), described by `schemas/outcome.schema.json`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Bumped when a field changes meaning or disappears (adding fields does not bump it).
pub const OUTCOME_SCHEMA_VERSION: u32 = 1;

/// May the deploy proceed?
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Fail,
}

/// Why the verdict is what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Cause {
    /// The gate evaluated to pass.
    GatePassed,
    /// The gate evaluated to fail.
    GateFailed,
    /// A dry-run gate: the API answers pass; `would_fail` holds the real result.
    DryRun,
    /// The overall timeout was reached before a result (fail-open unless `fail_on_error`).
    Timeout,
    /// No evaluation id could be obtained within the trigger budget (fail-open unless
    /// `fail_on_error`).
    ApiUnavailable,
    /// The request was refused (4xx, redirect, TLS failure): a problem on our side, never
    /// fail-open.
    ClientError,
    /// The host cancelled the evaluation. It can be resumed from a snapshot.
    Cancelled,
    /// The host skipped the gate on purpose (break-glass); nothing was evaluated.
    Skipped,
}

impl Cause {
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::GatePassed => "gate_passed",
            Cause::GateFailed => "gate_failed",
            Cause::DryRun => "dry_run",
            Cause::Timeout => "timeout",
            Cause::ApiUnavailable => "api_unavailable",
            Cause::ClientError => "client_error",
            Cause::Cancelled => "cancelled",
            Cause::Skipped => "skipped",
        }
    }
}

/// One rule's result as the server reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct RuleResult {
    pub name: String,
    /// `pass`, `fail` or `in_progress` (or whatever the server said).
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default)]
    pub dry_run: bool,
    /// What failed, when the rule failed and the API gave details (one extra request after a
    /// failed result; absent when the details were not available).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failures: Option<RuleFailures>,
    /// When the rule watched and when it was decided, when known: from the rule's options
    /// (inline rules) and from the API's rule evaluations (read after a failed result).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<RuleWindow>,
}

/// A rule's evaluation window, in the evaluation's own time (from its start).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RuleWindow {
    /// Seconds after the evaluation started before the rule starts watching (its `warmup`).
    #[serde(default)]
    pub warmup_s: u64,
    /// How long the rule watches, in seconds (its `duration`).
    pub duration_s: u64,
    /// When the rule's result became final, in milliseconds after the evaluation started, when
    /// the server said (its rule evaluation's `finished_at` minus `started_at`): for a failed
    /// rule, the moment it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_after_ms: Option<u64>,
}

/// A failed rule's details, from the API's rule evaluations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RuleFailures {
    /// The monitors that made a monitor rule fail.
    #[serde(default)]
    pub monitors: Vec<FailedMonitor>,
    /// The APM resources faulty deployment detection found faulty (`GET /checkout`).
    #[serde(default)]
    pub faulty_apm_resources: Vec<String>,
    /// Faulty deployment detection narratives (their ids and host groups).
    #[serde(default)]
    pub narratives: Vec<Narrative>,
}

/// A monitor that failed a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FailedMonitor {
    /// The monitor id.
    pub id: String,
    /// The monitor's name, when the API gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The state that failed the rule (`Alert`, `No Data`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Where to inspect the monitor over the evaluation window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// A faulty deployment detection narrative.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Narrative {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostgroup: Option<String>,
}

/// The result of an evaluation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct Outcome {
    pub schema_version: u32,
    pub verdict: Verdict,
    /// 0 for pass, 1 for fail, 130 for cancelled.
    pub exit_code: i32,
    pub cause: Cause,
    /// The verdict came from the error policy (an outage or a timeout), not from the gate.
    pub fail_open: bool,
    /// One sentence for people.
    pub message: String,
    pub evaluation_id: Option<String>,
    pub evaluation_url: Option<String>,
    pub gate_id: Option<String>,
    /// The last `gate_status` the server reported.
    pub gate_status: Option<String>,
    pub dry_run: bool,
    pub rules: Vec<RuleResult>,
    /// For a dry-run gate: whether the gate would have failed.
    pub would_fail: bool,
    /// Requests sent in total (across resumes).
    pub requests: u32,
    /// Time from the start of the evaluation to the outcome.
    pub elapsed_ms: u64,
    /// For `skipped`: the reason the host gave.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_reason: Option<String>,
    /// Details of the API error behind a `client_error` (status and the server's messages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
}

/// What the server said when it refused a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ApiError {
    /// The HTTP status, or absent for a transport failure (e.g. TLS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The server's error details (`errors[].detail`, `errors[].title`, or plain strings).
    pub details: Vec<String>,
}

impl Outcome {
    /// The outcome of a gate skipped on purpose (`gatepost gate --skip REASON`): exit 0, loudly
    /// reported as skipped in every renderer.
    pub fn skipped(reason: &str) -> Outcome {
        Outcome {
            schema_version: OUTCOME_SCHEMA_VERSION,
            verdict: Verdict::Pass,
            exit_code: 0,
            cause: Cause::Skipped,
            fail_open: false,
            message: format!("gate skipped on purpose, nothing was evaluated: {reason}"),
            evaluation_id: None,
            evaluation_url: None,
            gate_id: None,
            gate_status: None,
            dry_run: false,
            rules: Vec::new(),
            would_fail: false,
            requests: 0,
            elapsed_ms: 0,
            skip_reason: Some(reason.to_string()),
            error: None,
        }
    }

    /// The outcome's JSON (stable key order), as printed by `--output json`. Control and bidi
    /// characters in its strings are `\uXXXX` escapes ([`crate::sanitize::json`]).
    pub fn to_json(&self) -> String {
        crate::sanitize::json(&serde_json::to_string(self).expect("an outcome always serialises"))
    }

    /// The JSON Schema of the outcome, as committed in `schemas/outcome.schema.json`.
    pub fn json_schema() -> serde_json::Value {
        serde_json::to_value(schemars::schema_for!(Outcome)).expect("schema serialises")
    }
}
