//! The state machine and the decision policy (docs/architecture.md, "Decision policy").
//!
//! Everything the engine decides is in this file, in four places a reader can find:
//! - `Stage` says where the evaluation is (triggering, polling, fetching details, done), read off
//!   the state by `State::stage` alone;
//! - [`Engine::poll`] decides *when* to send and when a stage has run out of time;
//! - `classify` reads each answer to the trigger or a poll into a `Reply`, whose variants are the
//!   rows of the decision table, and `Engine::on_reply` acts on it;
//! - `Engine::finish` applies the fail-open policy (verdict, exit code, cause, fail-open) and the
//!   report module words the outcome's sentence.
//!
//! Timing rules, all in milliseconds on the host's clock:
//! - the overall deadline is `started_at + timeout_ms`; the trigger must succeed by
//!   `trigger_deadline` (`trigger_budget_ms` after the trigger phase starts, capped by the deadline);
//! - every request's `timeout_ms` is at most the time left in its phase, so no request outlives
//!   a deadline;
//! - polls follow a grid (`poll_interval_ms` after polling starts), plus, once the rules are known,
//!   two looks from the moment the longest rule can first have finished (the due moment): at it and
//!   7 s after it (a poll more than half-way there stands in for the second), then the grid again;
//!   the last grid point before the due moment is skipped (the due poll follows within one
//!   interval). Inline rules are known from the config; a preconfigured gate's rules are read once
//!   (`GET /api/v2/deployment_gates/{gate_id}/rules`) when the first in-progress result names the
//!   gate. That read only plans polls: any failure of it is a debug event and the grid goes on;
//! - a poll that would land in the last [`FINAL_WINDOW_MS`] (or a quarter of a short timeout)
//!   before the deadline is moved to start that window instead, so the last answer arrives before
//!   the deadline even from a hung server.

use crate::backoff;
use crate::config::{self, ValidateContext};
use crate::error::{Error, ErrorCode, Problem};
use crate::event::{Event, EventKind, Phase};
use crate::io::{Action, Input, TransportErrorKind, WaitReason};
use crate::options::{self, ConfigInput, Options};
use crate::outcome::{
    ApiError, Cause, FailedMonitor, Narrative, OUTCOME_SCHEMA_VERSION, Outcome, RuleFailures,
    RuleResult, RuleWindow, Verdict,
};
use crate::report::{self, NotResumable};
use crate::request::{Difference, Request};
use crate::site::{self, Endpoint};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Snapshots carry this version; a snapshot of another version is refused. Version 2 added the
/// request digest ([`crate::request`]); a version 1 snapshot does not say which request it belongs
/// to, so it is never resumed.
pub const SNAPSHOT_SCHEMA_VERSION: u32 = 2;
/// The last poll starts at most this long before the deadline (or `request_timeout_ms`, if
/// shorter), so it can finish in time.
pub const FINAL_WINDOW_MS: u64 = 5_000;
/// A trigger answered 404 ("no gate found") this many times is a client error.
pub const MAX_TRIGGER_NOT_FOUND: u32 = 3;
/// Offsets from the moment the rules can first have finished (the due moment) at which to look:
/// the due poll, then one more look 7 s later, then the grid. A result that is not there when due
/// is late by the server's processing, which one look spanning the next seconds covers for one
/// request (docs/architecture.md, "The poll schedule", says what this bets and what it costs).
pub const RULES_DUE_OFFSETS_MS: [u64; 2] = [0, 7_000];
/// The stored rules are read only when at least this long is left before the next grid poll (the
/// read is abandoned at that poll).
pub const MIN_RULES_READ_MS: u64 = 1_000;
/// Most stored rules read from a preconfigured gate's rule list (a hostile body cannot make the
/// engine loop for long).
pub const MAX_STORED_RULES: usize = 1000;
/// The smallest accepted poll interval.
pub const MIN_POLL_INTERVAL_MS: u64 = options::MIN_POLL_INTERVAL_MS;
/// The largest number that crosses every binding intact (a JS number).
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;
const USER_AGENT: &str = concat!("gatepost/", env!("CARGO_PKG_VERSION"));

/// The result of [`validate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Validation {
    pub valid: bool,
    pub problems: Vec<Problem>,
    pub warnings: Vec<Problem>,
    /// The `configuration` that would be sent (snake_case), when valid.
    pub configuration: Option<Value>,
}

impl Validation {
    /// The validation with every problem's and warning's hint in a host's spelling (the
    /// JavaScript packages: `` `allowUnknownKeys` ``), as [`Error::spelled`] respells a thrown
    /// error's hints; paths and messages are the config's own names and stay as they are.
    pub fn spelled(mut self, spelling: options::Spelling) -> Self {
        let spell = |problems: Vec<Problem>| problems.into_iter().map(|p| p.spelled(spelling));
        self.problems = spell(self.problems).collect();
        self.warnings = spell(self.warnings).collect();
        self
    }
}

/// Validate a config offline, strictly (a query that does not parse is a problem), exactly as
/// `gate` would before sending it. Every problem and every warning, in file order; an unknown key
/// is a problem unless `allow_unknown_keys` (then a warning, and the key is kept).
pub fn validate(
    config: &ConfigInput,
    version: Option<&str>,
    allow_unknown_keys: bool,
) -> Validation {
    let ctx = ValidateContext {
        version,
        strict_queries: true,
        allow_unknown_keys,
    };
    match config::check(config, &ctx) {
        Ok(parsed) => Validation {
            valid: true,
            problems: Vec::new(),
            warnings: parsed.warnings,
            configuration: Some(parsed.configuration),
        },
        Err(invalid) => Validation {
            valid: false,
            problems: invalid.problems,
            warnings: invalid.warnings,
            configuration: None,
        },
    }
}

/// Which request an in-flight id belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum RequestKind {
    Trigger,
    Poll,
    /// The one request for a failed evaluation's rule failure details.
    Details,
    /// The one request for a preconfigured gate's stored rules (their durations).
    Rules,
}

/// The read of a preconfigured gate's stored rules, which only plans the polls.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
enum StoredRules {
    /// Not read (yet): the gate is not known, or the rules come from the config.
    #[default]
    Unread,
    /// To be read next: the result named this gate (a UUID).
    Due { gate_id: String },
    /// Read, failed, or not needed: never asked again.
    Done,
}

impl StoredRules {
    fn is_unread(&self) -> bool {
        *self == StoredRules::Unread
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct InFlight {
    request_id: u64,
    kind: RequestKind,
    /// When the engine gives up on it.
    expires_at: u64,
}

/// A rule as needed for timing and progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct RuleTiming {
    /// Warm-up plus duration, in ms: when the rule can first have a result.
    due_after_ms: u64,
}

/// An evaluation's result as the server reported it (the attributes of a poll response).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct EvaluationResult {
    /// `in_progress`, `pass`, `fail` (or whatever the server said).
    pub gate_status: Option<String>,
    pub gate_id: Option<String>,
    pub dry_run: bool,
    pub evaluation_url: Option<String>,
    pub rules: Vec<RuleResult>,
}

/// The snapshot's numbers (milliseconds, counters, ids): a value that is not a non-negative
/// integer is refused by name.
const WHOLE_NUMBER_FIELDS: [&str; 20] = [
    "timeout_ms",
    "trigger_budget_ms",
    "poll_interval_ms",
    "request_timeout_ms",
    "max_body_bytes",
    "seed",
    "draws",
    "started_at",
    "deadline",
    "trigger_deadline",
    "clock",
    "polling_since",
    "rules_due_at",
    "polls",
    "last_poll_at",
    "next_request_id",
    "next_send_at",
    "failures",
    "trigger_not_found",
    "requests",
];

/// The options that make the policy: how long each stage may take, how often to poll, how much
/// to read, and whether an outage fails the gate. A resumed run may change them (`resume_for`
/// takes the current run's); the request may not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Policy {
    fail_on_error: bool,
    timeout_ms: u64,
    trigger_budget_ms: u64,
    poll_interval_ms: u64,
    request_timeout_ms: u64,
    max_body_bytes: u64,
}

impl Policy {
    /// The value of a bounded option ([`options::BOUNDS`]) by name; 0 (out of every range) for
    /// a name the policy does not hold, so a new bound is never silently unchecked.
    fn bounded(&self, name: &str) -> u64 {
        match name {
            "timeout_ms" => self.timeout_ms,
            "poll_interval_ms" => self.poll_interval_ms,
            "request_timeout_ms" => self.request_timeout_ms,
            "trigger_budget_ms" => self.trigger_budget_ms,
            "max_body_bytes" => self.max_body_bytes,
            _ => 0,
        }
    }
}

/// When the next request goes out, and what the poll schedule ("The poll schedule" in
/// docs/architecture.md) is built from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Schedule {
    /// When polling started (the grid's origin).
    polling_since: Option<u64>,
    /// When the rules (inline, or a preconfigured gate's as read) can first all have results.
    rules_due_at: Option<u64>,
    /// The read of a preconfigured gate's stored rules. Absent in older snapshots (unread).
    #[serde(default, skip_serializing_if = "StoredRules::is_unread")]
    stored_rules: StoredRules,
    /// Polls sent so far, and when the last one went out.
    polls: u32,
    last_poll_at: Option<u64>,
    /// When the next request goes out (when nothing is in flight).
    next_send_at: u64,
    next_reason: WaitReason,
    /// The next send is the last one that fits before the deadline.
    final_poll: bool,
}

/// The failures of the current stage, which drive the backoff and the outcome's "last error".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Retries {
    /// Consecutive failures in the current stage (drives the backoff exponent).
    failures: u32,
    /// 404s to the trigger (the third is a client error).
    trigger_not_found: u32,
    /// Jitter draws taken so far.
    draws: u64,
    last_problem: Option<String>,
}

/// The evaluation request: what the trigger sends and where ([`Request`] is its fingerprinted
/// view). It never changes while an evaluation runs; a resumed run must ask for the same.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct EvaluationRequest {
    service: String,
    env: String,
    identifier: Option<String>,
    version: Option<String>,
    primary_tag: Option<String>,
    monitors_query_variable: Option<String>,
    endpoint: Endpoint,
    /// The configuration as sent (inline rules), if any.
    configuration: Option<Value>,
}

impl EvaluationRequest {
    /// The request's fields as [`Request`] (for its digest and differences).
    fn view(&self) -> Request<'_> {
        Request {
            api: &self.endpoint.base_url,
            service: &self.service,
            env: &self.env,
            identifier: self.identifier.as_deref(),
            version: self.version.as_deref(),
            primary_tag: self.primary_tag.as_deref(),
            monitors_query_variable: self.monitors_query_variable.as_deref(),
            configuration: self.configuration.as_ref(),
        }
    }
}

/// The evaluation's times on the host's clock: when it started, when its stages end, and the
/// latest `now` seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Clock {
    started_at: u64,
    /// The overall deadline: `started_at` plus the timeout.
    deadline: u64,
    /// The end of the trigger budget (at most `deadline`).
    trigger_deadline: u64,
    /// The latest `now` seen; time never goes backwards.
    #[serde(rename = "clock")]
    latest: u64,
}

/// Everything the engine knows, except the keys. This is what a snapshot holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct State {
    schema_version: u32,
    /// The fingerprint of the request ([`crate::request::Request::digest`]).
    request_digest: String,
    /// What is asked, and where (flattened, as `policy`).
    #[serde(flatten)]
    request: EvaluationRequest,
    rules: Vec<RuleTiming>,
    /// The run's policy (flattened: a snapshot holds these fields at its top level, as always).
    #[serde(flatten)]
    policy: Policy,
    seed: u64,
    /// The evaluation's times (flattened, as `policy`).
    #[serde(flatten)]
    clock: Clock,
    evaluation_id: Option<String>,
    /// When the next request goes out (flattened, as `policy`).
    #[serde(flatten)]
    schedule: Schedule,
    next_request_id: u64,
    in_flight: Option<InFlight>,
    /// The failures being retried (flattened, as `policy`).
    #[serde(flatten)]
    retries: Retries,
    requests: u32,
    last_result: Option<EvaluationResult>,
    last_progress: Option<(u32, u32)>,
    warned_unknown_status: bool,
    /// The final result failed: one request for the rules' failure details is to be made before
    /// the outcome.
    #[serde(default)]
    details_due: bool,
    outcome: Option<Outcome>,
}

/// Where an evaluation is. Read off the state in one place ([`State::stage`]): the evaluation id
/// is the trigger's result and the outcome the finish's, so the stage is never stored twice (and
/// snapshots keep their shape).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// No evaluation id yet: the trigger is sent, and retried, until the trigger budget ends.
    Triggering,
    /// The evaluation exists: its result is polled (and a preconfigured gate's stored rules read
    /// once) until the deadline.
    Polling,
    /// The result failed: one request for the rules' failure details, then the outcome. Nothing
    /// in this stage can change the verdict.
    FetchingDetails,
    /// The outcome is known.
    Done,
}

/// The engine. See the crate docs for the run loop.
pub struct Engine {
    state: State,
    api_key: Option<String>,
    app_key: Option<String>,
    events: Vec<Event>,
    /// This engine continues a snapshot's evaluation (rather than starting a new one).
    resumed: bool,
}

impl std::fmt::Debug for Engine {
    /// Keys are never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("state", &self.state)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("app_key", &self.app_key.as_ref().map(|_| "<redacted>"))
            .field("resumed", &self.resumed)
            .finish_non_exhaustive()
    }
}

/// What a finished phase or reply means, before the fail-open policy is applied.
enum Finish {
    Gate,
    Timeout,
    ApiUnavailable,
    ClientError(ApiError),
    Cancelled,
    /// The server asked (`Retry-After` or a rate-limit reset) to wait past the end of the phase:
    /// `Timeout` or `ApiUnavailable` as the phase would end, with a message that says why.
    RetryPastDeadline {
        status: Option<u16>,
        wait_ms: u64,
        past_ms: u64,
        timeout: bool,
    },
}

/// What one answer to the trigger or to a poll means: the rows of the decision table
/// (docs/architecture.md), in its order. [`classify`] and [`classify_transport`] read an answer
/// into one of these without touching the state; `Engine::on_reply` then acts on it.
#[derive(Debug, Clone, PartialEq)]
enum Reply {
    /// A 2xx to the trigger naming the evaluation: polling starts.
    Accepted { evaluation_id: String },
    /// A 2xx to a poll with this evaluation's result (pass, fail, in progress, or a status
    /// gatepost does not know, which is polled on).
    Result(EvaluationResult),
    /// A 2xx whose body is not what the API sends (or a result for another evaluation): retried.
    Malformed { status: u16, problem: String },
    /// Status 404. To the trigger: no such gate (yet), retried a few times, then a client error. To a
    /// poll: the evaluation has not started yet, polled on schedule.
    NotFound(ApiError),
    /// 429: retried, honouring the server's hint.
    RateLimited { detail: String },
    /// 408 or 5xx: retried, honouring the server's hint.
    ServerError { status: u16, detail: String },
    /// 3xx: refused, redirects are never followed (keys never go elsewhere).
    Redirect {
        status: u16,
        location: Option<String>,
    },
    /// Any other 4xx: a problem on our side, never fail-open.
    ClientError(ApiError),
    /// A status outside 200..=599 that none of the rows above covers: retried.
    Unexpected { status: u16 },
    /// The server's certificate was not trusted: a client error, never fail-open.
    Untrusted { message: String },
    /// No answer (connect, reset, timeout, oversized body...): retried.
    TransportFailed { error: String },
}

/// Read an HTTP answer to the trigger (`kind` [`RequestKind::Trigger`]) or to a poll of
/// `evaluation_id` into its row of the decision table.
fn classify(
    kind: RequestKind,
    evaluation_id: Option<&str>,
    status: u16,
    headers: &[(String, String)],
    body: &str,
) -> Reply {
    let detail = || api_error(status, body).details.join("; ");
    match status {
        200..=299 => {
            let read = if kind == RequestKind::Trigger {
                parse_trigger(body).map(|evaluation_id| Reply::Accepted { evaluation_id })
            } else {
                parse_result(body, evaluation_id.unwrap_or_default()).map(Reply::Result)
            };
            read.unwrap_or_else(|problem| Reply::Malformed { status, problem })
        }
        404 => Reply::NotFound(api_error(status, body)),
        429 => Reply::RateLimited { detail: detail() },
        408 | 500..=599 => Reply::ServerError {
            status,
            detail: detail(),
        },
        300..=399 => Reply::Redirect {
            status,
            location: headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("location"))
                .map(|(_, v)| truncate(v, 200)),
        },
        400..=499 => Reply::ClientError(api_error(status, body)),
        _ => Reply::Unexpected { status },
    }
}

/// Read a failed exchange (no HTTP answer) into its row of the decision table.
fn classify_transport(kind: TransportErrorKind, message: &str) -> Reply {
    if kind == TransportErrorKind::Tls {
        return Reply::Untrusted {
            message: truncate(message, 300),
        };
    }
    let error = if message.is_empty() {
        kind.as_str().to_string()
    } else {
        report::transport_problem(kind, message)
    };
    Reply::TransportFailed { error }
}

impl Engine {
    /// Start a new evaluation: the first [`poll`](Self::poll) sends the trigger.
    ///
    /// Invalid options give an `invalid_options` error, an invalid config an `invalid_config`
    /// error; either lists every problem. Config warnings are queued as events.
    pub fn new(options: Options, now: u64) -> Result<Engine, Error> {
        Engine::build(options, None, now)
    }

    /// Poll an evaluation that already exists (no trigger is sent). `evaluation_id` must be a UUID.
    pub fn attach(evaluation_id: &str, options: Options, now: u64) -> Result<Engine, Error> {
        if !is_uuid(evaluation_id) {
            return Err(Error::with_problems(
                ErrorCode::InvalidOptions,
                "invalid options: the evaluation id must be a UUID",
                vec![Problem::new(
                    "evaluation_id",
                    format!("{:?} is not a UUID", truncate(evaluation_id, 80)),
                )],
            ));
        }
        Engine::build(options, Some(evaluation_id.to_ascii_lowercase()), now)
    }

    fn build(options: Options, attach: Option<String>, now: u64) -> Result<Engine, Error> {
        Engine::build_checked(options, attach, now, true)
    }

    /// `require_keys`: false when resuming a snapshot on its own, which never needed keys passed
    /// (a proxy may add them); every other check is made either way.
    fn build_checked(
        options: Options,
        attach: Option<String>,
        now: u64,
        require_keys: bool,
    ) -> Result<Engine, Error> {
        let mut problems = Vec::new();
        for (name, value) in [("service", &options.service), ("env", &options.env)] {
            if value.trim().is_empty() {
                problems.push(Problem::new(name, format!("{name} is required")));
            }
        }
        for (name, value) in [
            ("identifier", &options.identifier),
            ("version", &options.version),
            ("primary_tag", &options.primary_tag),
        ] {
            if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
                problems.push(Problem::new(
                    name,
                    format!("{name} must not be empty when given"),
                ));
            }
        }
        let endpoint = match site::resolve_checked(
            options.site.as_deref(),
            options.api_url.as_deref(),
            options.allow_insecure_http,
        ) {
            Ok(resolved) => Some(resolved),
            Err(problem) => {
                problems.push(problem);
                None
            }
        };
        for (name, key) in [("api_key", &options.api_key), ("app_key", &options.app_key)] {
            match key {
                Some(k) if k.is_empty() || !k.bytes().all(|b| b.is_ascii_graphic()) => problems.push(Problem::new(
                    name,
                    format!("{name} is empty or contains spaces, control or non-ASCII characters, which an HTTP header cannot carry (its value is not shown)"),
                )),
                None if require_keys && options.api_url.is_none() => problems.push(
                    Problem::new(name, format!("{name} is required for a Datadog site"))
                        .with_hint("set DD_API_KEY / DD_APP_KEY, or use api_url for a proxy that adds the keys"),
                ),
                _ => {}
            }
        }
        let values = options::BOUNDS.map(|bound| options.bounded(&bound));
        for (bound, value) in options::BOUNDS.iter().zip(values) {
            if value < bound.min {
                problems.push(Problem::new(
                    bound.name,
                    format!("{value} is below the minimum {}", bound.min),
                ));
            } else if value > bound.max {
                problems.push(Problem::new(bound.name, format!("{value} is too large")));
            }
        }
        let [
            timeout_ms,
            poll_interval_ms,
            request_timeout_ms,
            trigger_budget_ms,
            max_body_bytes,
        ] = values;
        if options.seed > MAX_SAFE_INTEGER {
            problems.push(Problem::new(
                "seed",
                "must be below 2^53 (so it survives a JavaScript number)",
            ));
        }
        if now > options::MAX_OPTION_VALUE {
            problems.push(Problem::new(
                "now",
                "the clock value is too large (expected milliseconds)",
            ));
        }
        if !problems.is_empty() {
            return Err(Error::with_problems(
                ErrorCode::InvalidOptions,
                summarize("invalid options", &problems),
                problems,
            ));
        }
        let site::Resolved { endpoint, warning } =
            endpoint.expect("no problems means the endpoint resolved");

        let mut events = Vec::new();
        if let Some(warning) = warning {
            events.push(Event::new(
                EventKind::Warning {
                    code: "unknown_site".into(),
                    path: Some(warning.path.clone()),
                },
                // No "warning:" prefix: the event is a warning, and each host labels it so.
                warning.to_string(),
            ));
        }
        let (configuration, rules) = match &options.config {
            None => (None, Vec::new()),
            Some(input) => {
                let ctx = ValidateContext {
                    version: options.version.as_deref(),
                    strict_queries: false,
                    allow_unknown_keys: options.allow_unknown_keys,
                };
                let parsed = config::parse(input, &ctx).map_err(|problems| {
                    Error::with_problems(
                        ErrorCode::InvalidConfig,
                        summarize("invalid config", &problems),
                        problems,
                    )
                })?;
                for warning in parsed.warnings {
                    events.push(Event::new(
                        EventKind::Warning {
                            code: "config".into(),
                            path: Some(warning.path.clone()),
                        },
                        report::config_warning_sentence(&warning),
                    ));
                }
                let rules = parsed
                    .rules
                    .iter()
                    .map(|r| RuleTiming {
                        due_after_ms: r.duration_s.saturating_add(r.warmup_s).saturating_mul(1000),
                    })
                    .collect();
                (Some(parsed.configuration), rules)
            }
        };

        let deadline = now + timeout_ms;
        let attached = attach.is_some();
        let mut state = State {
            schema_version: SNAPSHOT_SCHEMA_VERSION,
            request_digest: String::new(),
            request: EvaluationRequest {
                service: options.service,
                env: options.env,
                identifier: options.identifier,
                version: options.version,
                primary_tag: options.primary_tag,
                monitors_query_variable: options.monitors_query_variable,
                endpoint,
                configuration,
            },
            rules,
            policy: Policy {
                fail_on_error: options.fail_on_error,
                timeout_ms,
                trigger_budget_ms,
                poll_interval_ms,
                request_timeout_ms,
                max_body_bytes,
            },
            seed: options.seed,
            clock: Clock {
                started_at: now,
                deadline,
                trigger_deadline: (now + trigger_budget_ms).min(deadline),
                latest: now,
            },
            evaluation_id: attach,
            schedule: Schedule {
                polling_since: None,
                rules_due_at: None,
                // An attached evaluation's start is unknown, so its stored rules could not time
                // polls.
                stored_rules: if attached {
                    StoredRules::Done
                } else {
                    StoredRules::Unread
                },
                polls: 0,
                last_poll_at: None,
                next_send_at: now,
                next_reason: WaitReason::PollInterval,
                final_poll: false,
            },
            next_request_id: 1,
            in_flight: None,
            retries: Retries {
                failures: 0,
                trigger_not_found: 0,
                draws: 0,
                last_problem: None,
            },
            requests: 0,
            last_result: None,
            last_progress: None,
            warned_unknown_status: false,
            details_due: false,
            outcome: None,
        };
        if attached {
            state.schedule.polling_since = Some(now);
        }
        state.request_digest = state.request().digest();
        Ok(Engine {
            state,
            api_key: options.api_key,
            app_key: options.app_key,
            events,
            resumed: false,
        })
    }

    /// Whether this engine continues a snapshot's evaluation (from [`Engine::resume`], or
    /// [`Engine::resume_for`] when the snapshot belonged to the same request).
    pub fn resumed(&self) -> bool {
        self.resumed
    }

    /// The evaluation id, once the server gave one (or the one attached to).
    pub fn evaluation_id(&self) -> Option<&str> {
        self.state.evaluation_id.as_deref()
    }

    /// When the evaluation gives up: its start plus `timeout_ms`. A resumed evaluation keeps the
    /// deadline it started with.
    pub fn deadline(&self) -> u64 {
        self.state.clock.deadline
    }

    /// The overall timeout this evaluation started with.
    pub fn timeout_ms(&self) -> u64 {
        self.state.policy.timeout_ms
    }

    /// Whether an outage or a timeout fails the gate (instead of passing fail-open).
    pub fn fail_on_error(&self) -> bool {
        self.state.policy.fail_on_error
    }

    /// The outcome, once the evaluation is over.
    pub fn outcome(&self) -> Option<&Outcome> {
        self.state.outcome.as_ref()
    }

    /// Take the queued events, oldest first.
    pub fn drain_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// Serialise the whole state, without keys, as JSON. Resume it with [`Engine::resume`] in any
    /// process or language. Queued events are not part of it: drain them first.
    pub fn snapshot(&self) -> Value {
        serde_json::to_value(&self.state).expect("the state always serialises")
    }

    /// Continue from a snapshot, trusting the request it records: for a snapshot this program
    /// took itself (e.g. a short-lived runtime checking back). Hosts that resume a snapshot from a
    /// file or a store use [`Engine::resume_for`], which binds it to the current request.
    ///
    /// The snapshot is checked as a fresh run's options would be: its endpoint goes through the
    /// site rules and the plain-HTTP refusal (insecure HTTP is never allowed from a snapshot; pass
    /// options to `resume_for` for that), the evaluation id must be a UUID, and its request fields
    /// must match its digest (an edited snapshot is refused). Its outcome, result and request in
    /// flight are not trusted: a resumed engine asks the server again. The trigger is never sent
    /// again once an evaluation id exists; an evaluation still triggering gets a fresh trigger
    /// budget (within the overall deadline).
    pub fn resume(
        snapshot: Value,
        api_key: Option<String>,
        app_key: Option<String>,
        now: u64,
    ) -> Result<Engine, Error> {
        let saved = State::load(snapshot)?;
        if saved.request().digest() != saved.request_digest {
            return Err(Error::new(
                ErrorCode::InvalidSnapshot,
                "invalid snapshot: its request fields do not match its request digest (it was edited)",
            ));
        }
        let options = saved.options(api_key, app_key);
        // Checked as of the evaluation's start (the clock may since have run far ahead).
        let fresh =
            Engine::build_checked(options, None, saved.clock.started_at, false).map_err(|e| {
                Error::with_problems(
                    ErrorCode::InvalidSnapshot,
                    format!("invalid snapshot: {}", e.message),
                    e.problems,
                )
            })?;
        Ok(Engine::continue_from(saved, fresh, false, now))
    }

    /// Continue from a snapshot if it belongs to the request `options` describe; otherwise start
    /// a new evaluation for `options`. Either way the result is an engine for `options`:
    ///
    /// - the options get every check a fresh run makes (an invalid option is an error, as in
    ///   [`Engine::new`]); a snapshot that is not a gatepost snapshot of this schema version, or
    ///   whose numbers or id are implausible, is an `invalid_snapshot` error;
    /// - a snapshot for another request (see [`compare_snapshot`]), an edited one, or one whose
    ///   deadline has passed is not resumed: the engine starts a new evaluation and queues a
    ///   `snapshot_not_resumed` warning that names the differences;
    /// - the same request resumes ([`Engine::resumed`] is true) with the current options' policy
    ///   (timeout, fail-on-error and the other timing options; a `policy_changed` warning names any
    ///   change) and the current endpoint; the snapshot only contributes its evaluation id and
    ///   progress.
    pub fn resume_for(snapshot: Value, options: Options, now: u64) -> Result<Engine, Error> {
        let mut fresh = Engine::build(options, None, now)?;
        let saved = State::load(snapshot)?;
        let comparison = compare_states(&saved, &fresh.state, now);
        if let Some(why) = comparison.not_resumable {
            fresh.events.push(Event::new(
                EventKind::Warning {
                    code: "snapshot_not_resumed".into(),
                    path: None,
                },
                report::snapshot_not_resumed_sentence(&why),
            ));
            return Ok(fresh);
        }
        let mut engine = Engine::continue_from(saved, fresh, true, now);
        if !comparison.policy.is_empty() {
            engine.events.push(Event::new(
                EventKind::Warning {
                    code: "policy_changed".into(),
                    path: None,
                },
                report::policy_changed_sentence(&comparison.policy),
            ));
        }
        Ok(engine)
    }

    /// The saved progress under `fresh`'s request, endpoint, policy and keys. `from_options`: the
    /// request and policy come from the current run's options (`resume_for`), and a verdict the
    /// snapshot holds is not trusted (the server is asked again).
    fn continue_from(mut state: State, fresh: Engine, from_options: bool, now: u64) -> Engine {
        let f = fresh.state;
        if from_options {
            state.request = f.request;
            state.rules = f.rules;
            state.request_digest = f.request_digest;
            state.policy = f.policy;
            state.clock.deadline = state
                .clock
                .started_at
                .saturating_add(state.policy.timeout_ms);
            state.clock.trigger_deadline = state.clock.trigger_deadline.min(state.clock.deadline);
            if let Some(flight) = &mut state.in_flight {
                flight.expires_at = flight.expires_at.min(state.clock.deadline);
            }
        } else {
            state.request.endpoint = f.request.endpoint;
        }
        let now = now.max(state.clock.latest).min(MAX_SAFE_INTEGER);
        state.clock.latest = now;
        let restart = match &state.outcome {
            Some(o) => o.cause == Cause::Cancelled || from_options,
            None => false,
        };
        if restart {
            state.outcome = None;
            state.in_flight = None;
            state.schedule.final_poll = false;
            state.schedule.next_send_at = now;
            state.retries.failures = 0;
            if state.stage() == Stage::Triggering {
                state.clock.trigger_deadline = now
                    .saturating_add(state.policy.trigger_budget_ms)
                    .min(state.clock.deadline);
                state.retries.trigger_not_found = 0;
            }
        }
        let mut events = fresh.events;
        // Config warnings were shown when the evaluation started.
        events.retain(|e| !matches!(&e.kind, EventKind::Warning { code, .. } if code == "config"));
        Engine {
            state,
            api_key: fresh.api_key,
            app_key: fresh.app_key,
            events,
            resumed: true,
        }
    }

    /// Feed something that happened. A usage error leaves the state untouched.
    pub fn handle(&mut self, input: Input, now: u64) -> Result<(), Error> {
        if let Input::Response { request_id, .. } | Input::TransportError { request_id, .. } =
            &input
            && (*request_id == 0 || *request_id >= self.state.next_request_id)
        {
            return Err(Error::new(
                ErrorCode::UnknownRequest,
                format!("request id {request_id} was never issued by this engine"),
            ));
        }
        let now = self.tick(now);
        match input {
            Input::Cancel => {
                let finish = match self.state.stage() {
                    Stage::Done => None,
                    // With the result in, only the optional details were outstanding: the verdict
                    // stands.
                    Stage::FetchingDetails => Some(Finish::Gate),
                    Stage::Triggering | Stage::Polling => Some(Finish::Cancelled),
                };
                if let Some(finish) = finish {
                    self.state.in_flight = None;
                    self.finish(finish, now);
                }
            }
            Input::Timeout => {
                if let Some(flight) = self.state.in_flight.clone()
                    && now >= flight.expires_at
                {
                    self.state.in_flight = None;
                    self.on_failure(flight.kind, None, Some("timeout"), &[], now);
                }
            }
            Input::Response {
                request_id,
                status,
                headers,
                body,
            } => {
                let Some(flight) = self.take_in_flight(request_id) else {
                    return Ok(());
                };
                match flight.kind {
                    RequestKind::Trigger | RequestKind::Poll => {
                        let id = self.state.evaluation_id.as_deref();
                        let reply = classify(flight.kind, id, status, &headers, &body);
                        self.on_reply(flight.kind, reply, &headers, now);
                    }
                    RequestKind::Details => self.on_details_reply(status, &body, now),
                    RequestKind::Rules => self.on_rules_reply(status, &body, now),
                }
            }
            Input::TransportError {
                request_id,
                kind,
                message,
            } => {
                let Some(flight) = self.take_in_flight(request_id) else {
                    return Ok(());
                };
                match flight.kind {
                    RequestKind::Details => {
                        let error = report::transport_problem(kind, &message);
                        self.details_unavailable(&error, now);
                    }
                    // Even a TLS failure: the next poll meets it and decides.
                    RequestKind::Rules => self.rules_unavailable(kind.as_str(), now),
                    RequestKind::Trigger | RequestKind::Poll => {
                        let reply = classify_transport(kind, &message);
                        self.on_reply(flight.kind, reply, &[], now);
                    }
                }
            }
        }
        Ok(())
    }

    /// What to do next. Call it at start and after each input until it returns `wait` or `done`.
    pub fn poll(&mut self, now: u64) -> Action {
        let now = self.tick(now);
        loop {
            if let Some(outcome) = &self.state.outcome {
                return Action::Done {
                    outcome: outcome.clone(),
                };
            }
            if let Some(flight) = &self.state.in_flight {
                if now < flight.expires_at {
                    return Action::Wait {
                        until: flight.expires_at,
                        reason: WaitReason::AwaitingResponse,
                    };
                }
                let kind = flight.kind;
                self.state.in_flight = None;
                self.on_failure(kind, None, Some("timeout"), &[], now);
                continue;
            }
            let limit = self.phase_limit();
            if now >= limit || self.state.schedule.next_send_at >= limit {
                self.finish(self.out_of_time(), now);
                continue;
            }
            if now < self.state.schedule.next_send_at {
                return Action::Wait {
                    until: self.state.schedule.next_send_at,
                    reason: self.state.schedule.next_reason,
                };
            }
            return self.send(now, limit);
        }
    }

    fn tick(&mut self, now: u64) -> u64 {
        // Time never goes backwards, and never beyond what a JavaScript number holds exactly.
        self.state.clock.latest = self.state.clock.latest.max(now).min(MAX_SAFE_INTEGER);
        self.state.clock.latest
    }

    /// The in-flight request if `request_id` is it; otherwise the reply is late and ignored.
    fn take_in_flight(&mut self, request_id: u64) -> Option<InFlight> {
        if self
            .state
            .in_flight
            .as_ref()
            .is_some_and(|f| f.request_id == request_id)
        {
            return self.state.in_flight.take();
        }
        self.events.push(Event::new(
            EventKind::Ignored { request_id },
            report::ignored_reply_sentence(request_id),
        ));
        None
    }

    /// The end of the current phase: the trigger budget, or the overall deadline.
    fn phase_limit(&self) -> u64 {
        match self.state.stage() {
            Stage::Triggering => self.state.clock.trigger_deadline,
            Stage::Polling | Stage::FetchingDetails | Stage::Done => self.state.clock.deadline,
        }
    }

    /// How the current stage ends when its time runs out.
    fn out_of_time(&self) -> Finish {
        match self.state.stage() {
            // The result is in; only the details ran out of time.
            Stage::FetchingDetails => Finish::Gate,
            // The trigger budget ended before the overall deadline: the API never took the
            // evaluation. (A budget as long as the timeout ends as a timeout.)
            Stage::Triggering if self.state.clock.trigger_deadline < self.state.clock.deadline => {
                Finish::ApiUnavailable
            }
            Stage::Triggering | Stage::Polling | Stage::Done => Finish::Timeout,
        }
    }

    fn send(&mut self, now: u64, limit: u64) -> Action {
        let s = &mut self.state;
        let request_id = s.next_request_id;
        s.next_request_id = s.next_request_id.saturating_add(1);
        s.requests = s.requests.saturating_add(1);
        let mut timeout_ms = s.policy.request_timeout_ms.min(limit - now);
        let stage = s.stage();
        let reading_rules =
            stage == Stage::Polling && matches!(s.schedule.stored_rules, StoredRules::Due { .. });
        if reading_rules {
            // The read never delays a poll: it is abandoned at the next grid point.
            let grid = self.next_grid_after(self.state.schedule.last_poll_at.unwrap_or(now));
            timeout_ms = timeout_ms.min(grid.saturating_sub(now)).max(1);
        }
        let s = &mut self.state;
        let mut headers = vec![("Accept".to_string(), "application/json".to_string())];
        let id = s.evaluation_id.as_deref().unwrap_or_default();
        let (kind, method, url, body) = match (stage, &s.schedule.stored_rules) {
            (Stage::Triggering, _) => {
                headers.push(("Content-Type".to_string(), "application/json".to_string()));
                (
                    RequestKind::Trigger,
                    "POST",
                    s.request.endpoint.trigger_url(),
                    Some(trigger_body(s)),
                )
            }
            (Stage::FetchingDetails, _) => (
                RequestKind::Details,
                "GET",
                s.request.endpoint.rule_evaluations_url(id),
                None,
            ),
            (_, StoredRules::Due { gate_id }) => (
                RequestKind::Rules,
                "GET",
                s.request.endpoint.gate_rules_url(gate_id),
                None,
            ),
            (Stage::Polling | Stage::Done, _) => {
                let url = s.request.endpoint.result_url(id);
                s.schedule.polls = s.schedule.polls.saturating_add(1);
                s.schedule.last_poll_at = Some(now);
                (RequestKind::Poll, "GET", url, None)
            }
        };
        auth_headers(
            &mut headers,
            self.api_key.as_deref(),
            self.app_key.as_deref(),
        );
        s.in_flight = Some(InFlight {
            request_id,
            kind,
            expires_at: now.saturating_add(timeout_ms),
        });
        Action::SendRequest {
            request_id,
            method: method.to_string(),
            url,
            headers,
            body,
            timeout_ms,
            max_body_bytes: s.policy.max_body_bytes,
        }
    }

    /// Act on one row of the decision table for the trigger or a poll (`kind`).
    fn on_reply(
        &mut self,
        kind: RequestKind,
        reply: Reply,
        headers: &[(String, String)],
        now: u64,
    ) {
        match reply {
            Reply::Accepted { evaluation_id } => self.start_polling(evaluation_id, now),
            Reply::Result(result) => self.on_result(result, now),
            Reply::Malformed { status, problem } => {
                self.on_failure(kind, Some(status), Some(&problem), headers, now)
            }
            Reply::NotFound(error) if kind == RequestKind::Trigger => {
                self.state.retries.trigger_not_found =
                    self.state.retries.trigger_not_found.saturating_add(1);
                if self.state.retries.trigger_not_found >= MAX_TRIGGER_NOT_FOUND {
                    self.finish(Finish::ClientError(error), now);
                } else {
                    let detail = error.details.join("; ");
                    self.on_failure(kind, error.status, Some(&detail), headers, now);
                }
            }
            Reply::NotFound(_) => {
                // Not started yet: normal right after the trigger. Keep to the schedule.
                self.state.retries.failures = 0;
                self.schedule_poll(now);
            }
            Reply::RateLimited { detail } => {
                self.on_failure(kind, Some(429), Some(&detail), headers, now)
            }
            Reply::ServerError { status, detail } => {
                self.on_failure(kind, Some(status), Some(&detail), headers, now)
            }
            Reply::Redirect { status, location } => {
                let detail = report::redirect_refused_detail(location.as_deref());
                self.finish(
                    Finish::ClientError(ApiError {
                        status: Some(status),
                        details: vec![detail],
                    }),
                    now,
                );
            }
            Reply::ClientError(error) => self.finish(Finish::ClientError(error), now),
            Reply::Unexpected { status } => {
                let detail = report::unexpected_status_detail(status);
                self.on_failure(kind, Some(status), Some(&detail), headers, now)
            }
            Reply::Untrusted { message } => {
                // A certificate we do not trust is not an outage: never fail-open on it.
                self.finish(
                    Finish::ClientError(ApiError {
                        status: None,
                        details: vec![report::tls_failure_detail(&message)],
                    }),
                    now,
                );
            }
            Reply::TransportFailed { error } => {
                self.on_failure(kind, None, Some(&error), headers, now)
            }
        }
    }

    /// The failure details' reply: any answer but a readable 2xx is silent (a debug event) and
    /// the verdict is the one already known.
    fn on_details_reply(&mut self, status: u16, body: &str, now: u64) {
        if !(200..=299).contains(&status) {
            self.details_unavailable(&report::problem_phrase(Some(status), None), now);
            return;
        }
        let expected = self.state.evaluation_id.clone().unwrap_or_default();
        match parse_rule_failures(body, &expected) {
            Ok(found) => {
                let windows = parse_rule_windows(body, &expected).unwrap_or_default();
                if let Some(result) = &mut self.state.last_result {
                    for (name, failures) in found {
                        if let Some(rule) = result
                            .rules
                            .iter_mut()
                            .find(|r| r.name == name && r.failures.is_none())
                        {
                            rule.failures = Some(failures);
                        }
                    }
                    for (name, window) in windows {
                        if let Some(rule) = result
                            .rules
                            .iter_mut()
                            .find(|r| r.name == name && r.window.is_none())
                        {
                            rule.window = Some(window);
                        }
                    }
                }
                self.finish(Finish::Gate, now);
            }
            Err(problem) => self.details_unavailable(&problem, now),
        }
    }

    /// The failure details could not be had: say so quietly and give the verdict.
    fn details_unavailable(&mut self, why: &str, now: u64) {
        self.events.push(Event::new(
            EventKind::Debug {
                code: "failure_details_unavailable".into(),
            },
            report::details_unavailable_sentence(why),
        ));
        self.finish(Finish::Gate, now);
    }

    fn start_polling(&mut self, evaluation_id: String, now: u64) {
        let s = &mut self.state;
        s.retries.failures = 0;
        s.retries.last_problem = None;
        s.schedule.polling_since = Some(now);
        s.schedule.rules_due_at = s
            .rules
            .iter()
            .map(|r| r.due_after_ms)
            .max()
            .map(|d| now.saturating_add(d));
        let url = s.request.endpoint.evaluation_page(&evaluation_id);
        let message = report::started_sentence(&evaluation_id, url.as_deref());
        s.evaluation_id = Some(evaluation_id.clone());
        self.events.push(Event::new(
            EventKind::Started {
                evaluation_id,
                evaluation_url: url,
            },
            message,
        ));
        self.schedule_poll(now);
    }

    fn on_result(&mut self, result: EvaluationResult, now: u64) {
        self.state.retries.failures = 0;
        self.state.retries.last_problem = None;
        let status = result.gate_status.clone().unwrap_or_default();
        self.state.last_result = Some(result);
        match status.as_str() {
            "pass" | "fail" => {
                let failed = self.state.last_result.as_ref().is_some_and(|r| {
                    r.gate_status.as_deref() == Some("fail")
                        || r.rules.iter().any(|x| x.status == "fail")
                });
                if failed && now < self.state.clock.deadline {
                    // One more request, for what failed (the monitors, the resources): sent at
                    // once, bounded by the deadline, and never able to change the verdict.
                    self.state.details_due = true;
                    self.state.schedule.next_send_at = now;
                    self.state.schedule.next_reason = WaitReason::PollInterval;
                } else {
                    self.finish(Finish::Gate, now);
                }
            }
            other => {
                if other != "in_progress" && !self.state.warned_unknown_status {
                    self.state.warned_unknown_status = true;
                    self.events.push(Event::new(
                        EventKind::Warning {
                            code: "unknown_gate_status".into(),
                            path: None,
                        },
                        report::unknown_gate_status_sentence(other),
                    ));
                }
                self.report_progress();
                if self.read_stored_rules(now) {
                    self.state.schedule.next_send_at = now;
                    self.state.schedule.next_reason = WaitReason::PollInterval;
                } else {
                    self.schedule_poll(now);
                }
            }
        }
    }

    /// Whether to read the preconfigured gate's stored rules now: once, for an evaluation this
    /// engine triggered without inline rules, when the result names its gate (a UUID: it goes into
    /// the URL path), and only while there is time for it and a poll after it.
    fn read_stored_rules(&mut self, now: u64) -> bool {
        let s = &self.state;
        if !s.schedule.stored_rules.is_unread()
            || s.request.configuration.is_some()
            || s.schedule.rules_due_at.is_some()
        {
            return false;
        }
        let Some(gate_id) = s
            .last_result
            .as_ref()
            .and_then(|r| r.gate_id.clone())
            .filter(|id| is_uuid(id))
        else {
            return false;
        };
        // The read must fit before the next grid poll (it is abandoned then) and leave room for
        // the last poll before the deadline.
        let before_grid = self.next_grid_after(s.schedule.last_poll_at.unwrap_or(now));
        let room = now
            .saturating_add(
                s.policy
                    .request_timeout_ms
                    .min(before_grid.saturating_sub(now)),
            )
            .saturating_add(self.final_window());
        if s.schedule.final_poll
            || before_grid < now.saturating_add(MIN_RULES_READ_MS)
            || room > s.clock.deadline
        {
            self.state.schedule.stored_rules = StoredRules::Done;
            return false;
        }
        self.state.schedule.stored_rules = StoredRules::Due {
            gate_id: gate_id.to_ascii_lowercase(),
        };
        true
    }

    /// The stored rules' reply: a readable 2xx plans the polls; anything else is a debug event
    /// and the grid goes on. Either way the verdict is untouched.
    fn on_rules_reply(&mut self, status: u16, body: &str, now: u64) {
        let gate_id =
            match std::mem::replace(&mut self.state.schedule.stored_rules, StoredRules::Done) {
                StoredRules::Due { gate_id } => gate_id,
                _ => String::new(),
            };
        if !(200..=299).contains(&status) {
            self.rules_unavailable(&report::problem_phrase(Some(status), None), now);
            return;
        }
        match parse_stored_rules_due_ms(body, &gate_id) {
            Ok(due_ms) => {
                let since = self.state.schedule.polling_since.unwrap_or(now);
                let due = since.saturating_add(due_ms);
                self.state.schedule.rules_due_at = Some(due);
                self.events.push(Event::new(
                    EventKind::Debug {
                        code: "stored_rules_read".into(),
                    },
                    report::stored_rules_read_sentence(due_ms),
                ));
                self.schedule_after_rules_read(now);
            }
            Err(problem) => self.rules_unavailable(&problem, now),
        }
    }

    /// The stored rules could not be had: say so quietly and keep to the grid.
    fn rules_unavailable(&mut self, why: &str, now: u64) {
        self.state.schedule.stored_rules = StoredRules::Done;
        self.events.push(Event::new(
            EventKind::Debug {
                code: "stored_rules_unavailable".into(),
            },
            report::stored_rules_unavailable_sentence(why, self.state.policy.poll_interval_ms),
        ));
        self.schedule_after_rules_read(now);
    }

    fn schedule_after_rules_read(&mut self, now: u64) {
        let from = self.state.schedule.last_poll_at.unwrap_or(now);
        self.schedule_poll_after(from, now);
    }

    fn report_progress(&mut self) {
        let Some(result) = &self.state.last_result else {
            return;
        };
        let total = if result.rules.is_empty() {
            self.state.rules.len()
        } else {
            result.rules.len()
        };
        let completed = result
            .rules
            .iter()
            .filter(|r| r.status == "pass" || r.status == "fail")
            .count();
        let progress = (completed as u32, total as u32);
        if self.state.last_progress != Some(progress) {
            self.state.last_progress = Some(progress);
            self.events.push(Event::new(
                EventKind::Progress {
                    completed: progress.0,
                    total: progress.1,
                },
                report::progress_sentence(progress.0, progress.1),
            ));
        }
    }

    /// Schedule the next regular poll: the next grid point or rules-due point, whichever is first.
    fn schedule_poll(&mut self, now: u64) {
        self.schedule_poll_after(now, now);
    }

    /// The first grid point after `t`.
    fn next_grid_after(&self, t: u64) -> u64 {
        let s = &self.state;
        let since = s.schedule.polling_since.unwrap_or(t);
        let k = t.saturating_sub(since) / s.policy.poll_interval_ms.max(1) + 1;
        since.saturating_add(k.saturating_mul(s.policy.poll_interval_ms))
    }

    /// [`Self::schedule_poll`] on the grid after `from` (at the earliest `now`): after the stored
    /// rules' read, the grid point after the last poll, so the read never delays a poll.
    fn schedule_poll_after(&mut self, from: u64, now: u64) {
        let grid = self.next_grid_after(from).max(now);
        let s = &self.state;
        // The first poll of a preconfigured gate (rules unknown) or an attached evaluation goes out
        // at once, as the reference CLI does; later ones follow the grid.
        let mut next = if s.schedule.polls == 0 && s.schedule.rules_due_at.is_none() {
            (now, WaitReason::PollInterval)
        } else {
            (grid, WaitReason::PollInterval)
        };
        if let Some(due) = s.schedule.rules_due_at {
            // The first rules-due point not yet covered by a poll; one already passed goes now.
            // A poll made more than half-way from the previous point to this one (a grid poll, a
            // retry) stands in for it.
            let covered = s.schedule.last_poll_at;
            let points = RULES_DUE_OFFSETS_MS.map(|offset| due.saturating_add(offset));
            let needed = points.iter().enumerate().find_map(|(k, at)| {
                let Some(last) = covered else {
                    return Some(*at);
                };
                if *at <= last {
                    return None;
                }
                let stood_in = k > 0 && last >= points[k - 1] + (at - points[k - 1]) / 2;
                (!stood_in).then_some(*at)
            });
            if let Some(at) = needed {
                let at = at.max(now);
                // The last grid point before the due moment is skipped: the due poll follows
                // within one interval, and no pass can exist before it.
                let due_polled = covered.is_some_and(|last| last >= due);
                let last_before_due = next.0 < due
                    && next.0.saturating_add(s.policy.poll_interval_ms) > due
                    && !due_polled;
                if at <= next.0 || last_before_due {
                    next = (at, WaitReason::RulesDue);
                }
            }
        }
        self.set_next_send(next.0, next.1, false);
    }

    /// Set when the next request goes out, keeping the last poll inside the deadline.
    ///
    /// `hard`: the time comes from the server (`Retry-After`), so if it is past the phase's end the
    /// phase ends now instead of being moved earlier.
    fn set_next_send(&mut self, at: u64, reason: WaitReason, hard: bool) {
        let limit = self.phase_limit();
        let window = self.final_window();
        let s = &mut self.state;
        if s.stage() != Stage::Triggering && !hard && at.saturating_add(window) > limit {
            let final_at = limit.saturating_sub(window).max(s.clock.latest);
            if s.schedule.final_poll || final_at >= limit {
                // The last poll that fits has been made.
                s.schedule.next_send_at = limit;
            } else {
                s.schedule.final_poll = true;
                s.schedule.next_send_at = final_at;
            }
        } else {
            s.schedule.next_send_at = at;
        }
        s.schedule.next_reason = reason;
    }

    /// How long before the deadline the last poll starts: [`FINAL_WINDOW_MS`], or a quarter of a
    /// short timeout, so the last poll is still as late as it safely can be.
    fn final_window(&self) -> u64 {
        FINAL_WINDOW_MS
            .min(self.state.policy.request_timeout_ms)
            .min(self.state.policy.timeout_ms / 4)
    }

    /// A retryable failure: back off (or follow the server's hint) and try again.
    fn on_failure(
        &mut self,
        kind: RequestKind,
        status: Option<u16>,
        error: Option<&str>,
        headers: &[(String, String)],
        now: u64,
    ) {
        if kind == RequestKind::Details {
            self.details_unavailable(error.unwrap_or("error"), now);
            return;
        }
        if kind == RequestKind::Rules {
            self.rules_unavailable(error.unwrap_or("error"), now);
            return;
        }
        let s = &mut self.state;
        s.retries.failures = s.retries.failures.saturating_add(1);
        let attempt = s.retries.failures;
        let (delay, hinted) =
            backoff::retry_delay_ms(headers, attempt, s.seed, &mut s.retries.draws);
        let problem = report::problem_phrase(status, error);
        s.retries.last_problem = Some(truncate(&problem, 300));
        let phase = match kind {
            RequestKind::Trigger => Phase::Trigger,
            RequestKind::Poll | RequestKind::Details | RequestKind::Rules => Phase::Poll,
        };
        let at = now.saturating_add(delay);
        self.set_next_send(at, WaitReason::RetryBackoff, hinted);
        let limit = self.phase_limit();
        if self.state.schedule.next_send_at >= limit {
            // No retry fits before the end of the phase.
            let finish = match (hinted, self.out_of_time()) {
                (true, out) if at > limit => Finish::RetryPastDeadline {
                    status,
                    wait_ms: delay,
                    past_ms: at - limit,
                    timeout: matches!(out, Finish::Timeout),
                },
                (_, out) => out,
            };
            self.finish(finish, now);
            return;
        }
        let delay_ms = self.state.schedule.next_send_at.saturating_sub(now);
        self.events.push(Event::new(
            EventKind::Retrying {
                phase,
                attempt,
                status,
                error: error.map(|e| truncate(e, 200)),
                delay_ms,
            },
            report::retrying_sentence(
                report::phase_request(phase),
                &problem,
                delay_ms,
                attempt.saturating_add(1),
            ),
        ));
    }

    /// End the evaluation: the policy decides ([`decide`]), the report words it
    /// ([`report::ending_sentence`]).
    fn finish(&mut self, finish: Finish, now: u64) {
        let s = &self.state;
        let result = s.last_result.clone().unwrap_or_default();
        let elapsed_ms = now.saturating_sub(s.clock.started_at);
        let enforced = || result.rules.iter().filter(|r| !r.dry_run);
        let failed = enforced().filter(|r| r.status == "fail").count();
        let would_fail = failed > 0 || result.gate_status.as_deref() == Some("fail");
        let decision = decide(&finish, &result, s.policy.fail_on_error);
        let last_problem = s.retries.last_problem.as_deref();
        let ending = match &finish {
            Finish::Gate => report::Ending::Gate {
                passed: result.gate_status.as_deref() == Some("pass"),
                dry_run: result.dry_run,
                failed,
                enforced: enforced().count(),
                total: result.rules.len(),
            },
            Finish::Timeout => report::Ending::Timeout {
                timeout_ms: s.policy.timeout_ms,
                last_problem,
            },
            Finish::ApiUnavailable => report::Ending::ApiUnavailable {
                trigger_budget_ms: s.policy.trigger_budget_ms,
                last_problem,
            },
            Finish::RetryPastDeadline {
                status,
                wait_ms,
                past_ms,
                timeout,
            } => report::Ending::RetryPastDeadline {
                status: *status,
                wait_ms: *wait_ms,
                past_ms: *past_ms,
                timeout: *timeout,
                ends_ms: if *timeout {
                    s.policy.timeout_ms
                } else {
                    s.policy.trigger_budget_ms
                },
            },
            Finish::ClientError(error) => report::Ending::ClientError { error },
            Finish::Cancelled => report::Ending::Cancelled {
                evaluation_id: s.evaluation_id.as_deref(),
            },
        };
        let message = report::ending_sentence(&ending, decision.fail_open);
        let Decision {
            verdict,
            exit_code,
            cause,
            fail_open,
        } = decision;
        let error = match finish {
            Finish::ClientError(error) => Some(error),
            _ => None,
        };
        let evaluation_url = result.evaluation_url.clone().or_else(|| {
            s.evaluation_id
                .as_deref()
                .and_then(|id| s.request.endpoint.evaluation_page(id))
        });
        let outcome = Outcome {
            schema_version: OUTCOME_SCHEMA_VERSION,
            verdict,
            exit_code,
            cause,
            fail_open,
            message,
            evaluation_id: s.evaluation_id.clone(),
            evaluation_url,
            gate_id: result.gate_id.clone(),
            gate_status: result.gate_status.clone(),
            dry_run: result.dry_run,
            rules: with_configured_windows(result.rules.clone(), s.request.configuration.as_ref()),
            would_fail: result.dry_run && would_fail,
            requests: s.requests,
            elapsed_ms,
            skip_reason: None,
            error,
        };
        self.events.push(Event::new(
            EventKind::Finished { verdict, cause },
            outcome.message.clone(),
        ));
        self.state.in_flight = None;
        self.state.details_due = false;
        self.state.outcome = Some(outcome);
    }
}

/// What the policy decides when an evaluation ends; the sentence is the report's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Decision {
    verdict: Verdict,
    exit_code: i32,
    cause: Cause,
    /// The pass came from the error policy (an outage or a timeout), not from the gate.
    fail_open: bool,
}

/// The fail-open policy. The gate's own result decides when there is one (a dry-run gate always
/// passes); an outage or a timeout passes fail-open unless `fail_on_error`; a refusal fails and a
/// cancel fails with exit code 130, never fail-open.
fn decide(finish: &Finish, result: &EvaluationResult, fail_on_error: bool) -> Decision {
    let decision = |verdict, exit_code, cause, fail_open| Decision {
        verdict,
        exit_code,
        cause,
        fail_open,
    };
    let error_policy = |cause| {
        if fail_on_error {
            decision(Verdict::Fail, 1, cause, false)
        } else {
            decision(Verdict::Pass, 0, cause, true)
        }
    };
    match finish {
        Finish::Gate => match (result.gate_status.as_deref(), result.dry_run) {
            (Some("pass"), true) => decision(Verdict::Pass, 0, Cause::DryRun, false),
            (Some("pass"), false) => decision(Verdict::Pass, 0, Cause::GatePassed, false),
            _ => decision(Verdict::Fail, 1, Cause::GateFailed, false),
        },
        Finish::Timeout | Finish::RetryPastDeadline { timeout: true, .. } => {
            error_policy(Cause::Timeout)
        }
        Finish::ApiUnavailable | Finish::RetryPastDeadline { timeout: false, .. } => {
            error_policy(Cause::ApiUnavailable)
        }
        Finish::ClientError(_) => decision(Verdict::Fail, 1, Cause::ClientError, false),
        Finish::Cancelled => decision(Verdict::Fail, 130, Cause::Cancelled, false),
    }
}

/// How a snapshot relates to the run that wants to resume it ([`compare_snapshot`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SnapshotComparison {
    /// Why the snapshot must not be resumed (another request, edited, past its deadline), or
    /// `None` when it may be.
    pub not_resumable: Option<String>,
    /// Request fields that differ (each one alone prevents resuming).
    pub request: Vec<Difference>,
    /// Policy options that differ: the current run's value applies on resume.
    pub policy: Vec<Difference>,
}

/// Check a snapshot against the options of the run that wants to resume it, naming every
/// difference, without building an engine for it. Errors as [`Engine::resume_for`] (invalid
/// options, or an invalid snapshot).
pub fn compare_snapshot(
    snapshot: Value,
    options: Options,
    now: u64,
) -> Result<SnapshotComparison, Error> {
    let fresh = Engine::build(options, None, now)?;
    let saved = State::load(snapshot)?;
    Ok(compare_states(&saved, &fresh.state, now))
}

fn compare_states(saved: &State, current: &State, now: u64) -> SnapshotComparison {
    let request = saved.request().differences(&current.request());
    let policy: Vec<Difference> = [
        (
            "fail_on_error",
            saved.policy.fail_on_error.to_string(),
            current.policy.fail_on_error.to_string(),
        ),
        (
            "timeout_ms",
            saved.policy.timeout_ms.to_string(),
            current.policy.timeout_ms.to_string(),
        ),
        (
            "trigger_budget_ms",
            saved.policy.trigger_budget_ms.to_string(),
            current.policy.trigger_budget_ms.to_string(),
        ),
        (
            "poll_interval_ms",
            saved.policy.poll_interval_ms.to_string(),
            current.policy.poll_interval_ms.to_string(),
        ),
        (
            "request_timeout_ms",
            saved.policy.request_timeout_ms.to_string(),
            current.policy.request_timeout_ms.to_string(),
        ),
        (
            "max_body_bytes",
            saved.policy.max_body_bytes.to_string(),
            current.policy.max_body_bytes.to_string(),
        ),
    ]
    .into_iter()
    .filter(|(_, a, b)| a != b)
    .map(|(field, saved, current)| Difference {
        field: field.to_string(),
        saved,
        current,
    })
    .collect();
    let deadline = saved
        .clock
        .started_at
        .saturating_add(current.policy.timeout_ms);
    let not_resumable = if saved.request().digest() != saved.request_digest {
        Some(NotResumable::Edited)
    } else if saved.request_digest != current.request_digest {
        Some(NotResumable::OtherRequest(&request))
    } else if now >= deadline {
        Some(NotResumable::Expired {
            age_ms: now.saturating_sub(saved.clock.started_at),
            timeout_ms: current.policy.timeout_ms,
        })
    } else {
        None
    }
    .map(|why| report::not_resumable_reason(&why));
    SnapshotComparison {
        not_resumable,
        request,
        policy,
    }
}

impl State {
    /// Where the evaluation is ([`Stage`]).
    fn stage(&self) -> Stage {
        if self.outcome.is_some() {
            Stage::Done
        } else if self.evaluation_id.is_none() {
            Stage::Triggering
        } else if self.details_due {
            Stage::FetchingDetails
        } else {
            Stage::Polling
        }
    }

    /// A snapshot as a state: this schema version, well-formed, plausible numbers, a UUID id.
    fn load(snapshot: Value) -> Result<State, Error> {
        let version = snapshot.get("schema_version").and_then(Value::as_u64);
        if version == Some(1) {
            return Err(Error::new(
                ErrorCode::InvalidSnapshot,
                format!(
                    "invalid snapshot: it was written by an older gatepost (snapshot schema 1), which did not record the request it belongs to, so it cannot be resumed safely (this gatepost writes schema {SNAPSHOT_SCHEMA_VERSION})"
                ),
            ));
        }
        if version != Some(u64::from(SNAPSHOT_SCHEMA_VERSION)) {
            return Err(Error::new(
                ErrorCode::InvalidSnapshot,
                format!(
                    "not a gatepost snapshot of schema version {SNAPSHOT_SCHEMA_VERSION} (found {version:?})"
                ),
            ));
        }
        // Named here because serde's own message does not say which field it is.
        for name in WHOLE_NUMBER_FIELDS {
            if let Some(value) = snapshot.get(name)
                && !value.is_null()
                && !value.is_u64()
            {
                return Err(Error::new(
                    ErrorCode::InvalidSnapshot,
                    format!(
                        "invalid snapshot: {name} must be a whole number, not {}",
                        truncate(&value.to_string(), 40)
                    ),
                ));
            }
        }
        let state: State = serde_json::from_value(snapshot).map_err(|e| {
            Error::new(ErrorCode::InvalidSnapshot, format!("invalid snapshot: {e}"))
        })?;
        if let Some(problem) = state.implausible() {
            return Err(Error::new(
                ErrorCode::InvalidSnapshot,
                format!("invalid snapshot: {problem}"),
            ));
        }
        if let Some(id) = &state.evaluation_id
            && !is_uuid(id)
        {
            return Err(Error::new(
                ErrorCode::InvalidSnapshot,
                "invalid snapshot: the evaluation id is not a UUID",
            ));
        }
        if let StoredRules::Due { gate_id } = &state.schedule.stored_rules
            && !is_uuid(gate_id)
        {
            return Err(Error::new(
                ErrorCode::InvalidSnapshot,
                "invalid snapshot: the gate id is not a UUID",
            ));
        }
        Ok(state)
    }

    /// The request this state belongs to.
    fn request(&self) -> Request<'_> {
        self.request.view()
    }

    /// Options that would start this state's request (without its configuration, which the
    /// state keeps as sent), so a snapshot gets the checks a fresh run's options get.
    fn options(&self, api_key: Option<String>, app_key: Option<String>) -> Options {
        let (site, api_url) = match &self.request.endpoint.site {
            Some(site) => (Some(site.clone()), None),
            None => (None, Some(self.request.endpoint.base_url.clone())),
        };
        Options {
            service: self.request.service.clone(),
            env: self.request.env.clone(),
            identifier: self.request.identifier.clone(),
            version: self.request.version.clone(),
            primary_tag: self.request.primary_tag.clone(),
            config: None,
            monitors_query_variable: self.request.monitors_query_variable.clone(),
            site,
            api_url,
            allow_insecure_http: false,
            api_key,
            app_key,
            timeout_ms: Some(self.policy.timeout_ms),
            trigger_budget_ms: Some(self.policy.trigger_budget_ms),
            poll_interval_ms: Some(self.policy.poll_interval_ms),
            request_timeout_ms: Some(self.policy.request_timeout_ms),
            max_body_bytes: Some(self.policy.max_body_bytes),
            fail_on_error: self.policy.fail_on_error,
            // The state keeps the configuration as sent: it is not parsed again.
            allow_unknown_keys: false,
            seed: self.seed,
        }
    }

    /// What is wrong with a snapshot's numbers, if anything: a snapshot comes from a file a user
    /// or a tool may have edited, so it gets the same bounds as options before it is trusted.
    fn implausible(&self) -> Option<String> {
        // The options as a fresh run would check them (the same table).
        for bound in &options::BOUNDS {
            let value = self.policy.bounded(bound.name);
            if !bound.contains(value) {
                return Some(format!("{} {value} is out of range", bound.name));
            }
        }
        let limit = options::MAX_OPTION_VALUE;
        // Counters saturate and clocks are clamped, so only what would change meaning is refused:
        // ids must survive a JavaScript number, and the start must be a real time.
        let ids = [
            ("started_at", self.clock.started_at),
            ("next_request_id", self.next_request_id),
        ];
        if let Some((name, value)) = ids.iter().find(|(_, v)| *v > limit) {
            return Some(format!("{name} {value} is out of range"));
        }
        if self.clock.deadline != self.clock.started_at + self.policy.timeout_ms
            || self.clock.trigger_deadline > self.clock.deadline
            || self.next_request_id == 0
        {
            return Some("its times or counters do not add up".to_string());
        }
        if let Some(flight) = &self.in_flight
            && (flight.request_id >= self.next_request_id
                || flight.expires_at > self.clock.deadline)
        {
            return Some("the request in flight does not add up".to_string());
        }
        None
    }
}

/// The trigger request's body.
fn trigger_body(s: &State) -> String {
    let mut attributes = serde_json::Map::new();
    attributes.insert("service".into(), Value::from(s.request.service.clone()));
    attributes.insert("env".into(), Value::from(s.request.env.clone()));
    for (name, value) in [
        ("identifier", &s.request.identifier),
        ("version", &s.request.version),
        ("primary_tag", &s.request.primary_tag),
        (
            "monitors_query_variable",
            &s.request.monitors_query_variable,
        ),
    ] {
        if let Some(v) = value {
            attributes.insert(name.into(), Value::from(v.clone()));
        }
    }
    if let Some(configuration) = &s.request.configuration {
        attributes.insert("configuration".into(), configuration.clone());
    }
    serde_json::json!({"data": {"type": "deployment_gates_evaluation_request", "attributes": attributes}}).to_string()
}

/// The evaluation id from a trigger response, or why the body is malformed.
fn parse_trigger(body: &str) -> Result<String, String> {
    let value: Value =
        serde_json::from_str(body).map_err(|_| "malformed response body (not JSON)".to_string())?;
    let data = value
        .get("data")
        .ok_or("malformed response body (no data)")?;
    let id = data
        .pointer("/attributes/evaluation_id")
        .or_else(|| data.get("id"))
        .and_then(Value::as_str)
        .ok_or("malformed response body (no evaluation id)")?;
    if !is_uuid(id) {
        return Err("malformed response body (the evaluation id is not a UUID)".to_string());
    }
    Ok(id.to_ascii_lowercase())
}

/// One GET of an evaluation's result, read by the engine's rules for a host that shows it without
/// deciding on it (`gatepost status`): which statuses are an answer is core's call, not the host's.
#[derive(Debug, Clone, PartialEq)]
pub enum ResultReply {
    /// A 2xx. `result` is the engine's reading of the body (or why it is not a result); `json`
    /// the body as JSON when it parses, for hosts that print it as it came.
    Answered {
        result: Result<EvaluationResult, String>,
        json: Option<Value>,
    },
    /// Any other status: the sentence for people (the status and the server's error details,
    /// made inert for a terminal), and what the status may mean when that helps.
    Refused {
        message: String,
        note: Option<String>,
    },
}

/// Read one reply to a result GET for `evaluation_id` (see [`ResultReply`]).
pub fn read_result_reply(evaluation_id: &str, status: u16, body: &str) -> ResultReply {
    if (200..=299).contains(&status) {
        return ResultReply::Answered {
            result: parse_result(body, evaluation_id),
            json: serde_json::from_str(body).ok(),
        };
    }
    let details = api_error(status, body).details;
    ResultReply::Refused {
        message: report::refused_result_sentence(evaluation_id, status, &details),
        note: (status == 404).then(report::not_started_yet_note),
    }
}

/// The result attributes from a poll response, or why the body is malformed. Hosts that show a
/// result without deciding on it (`gatepost status`) read it through this too.
pub fn parse_result(body: &str, expected_id: &str) -> Result<EvaluationResult, String> {
    let value: Value =
        serde_json::from_str(body).map_err(|_| "malformed response body (not JSON)".to_string())?;
    let attrs = value
        .pointer("/data/attributes")
        .ok_or("malformed response body (no data.attributes)")?;
    if let Some(id) = attrs.get("evaluation_id").and_then(Value::as_str)
        && !id.eq_ignore_ascii_case(expected_id)
    {
        return Err("the result is for another evaluation id".to_string());
    }
    let gate_status = attrs
        .get("gate_status")
        .and_then(Value::as_str)
        .ok_or("malformed response body (no gate_status)")?;
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(|s| truncate(s, 2000));
    let rules = match attrs.get("rules") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(rules)) => rules
            .iter()
            .map(|r| RuleResult {
                name: text(r.get("name")).unwrap_or_default(),
                status: text(r.get("status")).unwrap_or_else(|| "unknown".into()),
                reason: text(r.get("reason")).filter(|s| !s.is_empty()),
                dry_run: r.get("dry_run").and_then(Value::as_bool).unwrap_or(false),
                failures: None,
                window: None,
            })
            .take(1000)
            .collect(),
        Some(_) => return Err("malformed response body (rules is not an array)".to_string()),
    };
    Ok(EvaluationResult {
        gate_status: Some(truncate(gate_status, 60)),
        gate_id: text(attrs.get("gate_id")),
        dry_run: attrs
            .get("dry_run")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        evaluation_url: text(attrs.get("evaluation_url"))
            .filter(|u| u.starts_with("https://") || u.starts_with("http://")),
        rules,
    })
}

/// The longest warm-up plus duration, in ms, of a preconfigured gate's stored rules: a rule-list
/// response (`GET /api/v2/deployment_gates/{gate_id}/rules`), `data.attributes.rules[].options.
/// {duration, warmup}` in seconds (absent is 0, as in a config), each capped as a config's is. A
/// list for another gate, no rules, or a rule without readable options is an error: the polls are
/// then planned without the rules.
pub fn parse_stored_rules_due_ms(body: &str, gate_id: &str) -> Result<u64, String> {
    let value: Value =
        serde_json::from_str(body).map_err(|_| "malformed response body (not JSON)".to_string())?;
    if let Some(id) = value.pointer("/data/id").and_then(Value::as_str)
        && !id.eq_ignore_ascii_case(gate_id)
    {
        return Err("the rule list is for another gate".to_string());
    }
    let rules = value
        .pointer("/data/attributes/rules")
        .and_then(Value::as_array)
        .ok_or("malformed response body (no data.attributes.rules array)")?;
    if rules.is_empty() {
        return Err("the gate has no rules".to_string());
    }
    let secs_of = |options: &Value, key: &str, max: u64| match options.get(key) {
        None | Some(Value::Null) => Ok(0),
        Some(v) => v
            .as_f64()
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(|s| (s.ceil() as u64).min(max))
            .ok_or_else(|| format!("a rule's {key} is not a number of seconds")),
    };
    let mut longest = 0u64;
    for rule in rules.iter().take(MAX_STORED_RULES) {
        let options = rule
            .get("options")
            .filter(|o| o.is_object())
            .ok_or("a rule has no options object")?;
        let due = secs_of(options, "duration", config::MAX_DURATION_S)?.saturating_add(secs_of(
            options,
            "warmup",
            config::MAX_WARMUP_S,
        )?);
        longest = longest.max(due);
    }
    Ok(longest.saturating_mul(1000))
}

/// Most failing monitors, resources or narratives kept per rule (a hostile body cannot grow the
/// outcome without bound).
pub const MAX_FAILURES_PER_RULE: usize = 50;

/// The failure details of a rule-evaluations response (`GET /api/v2/deployment_gates/evaluations/
/// rules`), by rule name: `data[].attributes.{name, failures{monitors, faulty_apm_resources,
/// narratives}}`. Every field may be absent; entries of another gate evaluation are skipped, and so
/// are rules whose failures are empty.
pub fn parse_rule_failures(
    body: &str,
    evaluation_id: &str,
) -> Result<Vec<(String, RuleFailures)>, String> {
    let value: Value =
        serde_json::from_str(body).map_err(|_| "malformed response body (not JSON)".to_string())?;
    let items = value
        .get("data")
        .and_then(Value::as_array)
        .ok_or("malformed response body (no data array)")?;
    let text = |v: Option<&Value>, max: usize| v.and_then(Value::as_str).map(|s| truncate(s, max));
    // Ids are strings in the published model; a number is read as its digits.
    let id = |v: Option<&Value>| match v {
        Some(Value::String(s)) => Some(truncate(s, 100)),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let list = |v: Option<&Value>| v.and_then(Value::as_array).cloned().unwrap_or_default();
    let mut out = Vec::new();
    for item in items.iter().take(1000) {
        let Some(attrs) = item.get("attributes") else {
            continue;
        };
        if let Some(gate_eval) = attrs.get("gate_evaluation_id").and_then(Value::as_str)
            && !gate_eval.eq_ignore_ascii_case(evaluation_id)
        {
            continue;
        }
        let (Some(name), Some(failures)) = (text(attrs.get("name"), 2000), attrs.get("failures"))
        else {
            continue;
        };
        let monitors: Vec<FailedMonitor> = list(failures.get("monitors"))
            .iter()
            .filter_map(|m| {
                Some(FailedMonitor {
                    id: id(m.get("id"))?,
                    name: text(m.get("name"), 300),
                    state: text(m.get("state"), 60),
                    url: text(m.get("url"), 2000)
                        .filter(|u| u.starts_with("https://") || u.starts_with("http://")),
                })
            })
            .take(MAX_FAILURES_PER_RULE)
            .collect();
        let faulty_apm_resources: Vec<String> = list(failures.get("faulty_apm_resources"))
            .iter()
            .filter_map(|r| text(Some(r), 500))
            .take(MAX_FAILURES_PER_RULE)
            .collect();
        let narratives: Vec<Narrative> = list(failures.get("narratives"))
            .iter()
            .filter_map(|n| {
                Some(Narrative {
                    id: id(n.get("id"))?,
                    hostgroup: text(n.get("hostgroup"), 300),
                })
            })
            .take(MAX_FAILURES_PER_RULE)
            .collect();
        if monitors.is_empty() && faulty_apm_resources.is_empty() && narratives.is_empty() {
            continue;
        }
        out.push((
            name,
            RuleFailures {
                monitors,
                faulty_apm_resources,
                narratives,
            },
        ));
    }
    Ok(out)
}

/// The windows of a rule-evaluations response (`data[].attributes.{name, configuration{duration,
/// warmup}, started_at, finished_at}`), by rule name: the rule's window from its evaluated
/// configuration, and when it was decided (`finished_at` − `started_at`, when both are there).
/// Entries of another gate evaluation, or without a `duration`, are skipped.
pub fn parse_rule_windows(
    body: &str,
    evaluation_id: &str,
) -> Result<Vec<(String, RuleWindow)>, String> {
    let value: Value =
        serde_json::from_str(body).map_err(|_| "malformed response body (not JSON)".to_string())?;
    let items = value
        .get("data")
        .and_then(Value::as_array)
        .ok_or("malformed response body (no data array)")?;
    let mut out = Vec::new();
    for attrs in items.iter().take(1000).filter_map(|i| i.get("attributes")) {
        if let Some(gate_eval) = attrs.get("gate_evaluation_id").and_then(Value::as_str)
            && !gate_eval.eq_ignore_ascii_case(evaluation_id)
        {
            continue;
        }
        let Some(name) = attrs.get("name").and_then(Value::as_str) else {
            continue;
        };
        let configuration = attrs.get("configuration");
        let seconds = |key: &str| {
            configuration
                .and_then(|c| c.get(key))
                .and_then(Value::as_u64)
        };
        let Some(duration_s) = seconds("duration") else {
            continue;
        };
        let time = |key: &str| {
            attrs
                .get(key)
                .and_then(Value::as_str)
                .and_then(backoff::parse_rfc3339_ms)
        };
        let decided_after_ms = match (time("started_at"), time("finished_at")) {
            (Some(start), Some(end)) => end.checked_sub(start),
            _ => None,
        };
        out.push((
            truncate(name, 2000),
            RuleWindow {
                warmup_s: seconds("warmup").unwrap_or(0),
                duration_s,
                decided_after_ms,
            },
        ));
    }
    Ok(out)
}

/// Rules without a window get the one their inline configuration gives (`options.duration`,
/// `options.warmup`), matched by position when the names agree, else by name. A rule whose
/// configuration has no `duration` gets none: the server's default is not gatepost's to guess.
fn with_configured_windows(
    mut rules: Vec<RuleResult>,
    configuration: Option<&Value>,
) -> Vec<RuleResult> {
    let Some(configured) = configuration
        .and_then(|c| c.get("rules"))
        .and_then(Value::as_array)
    else {
        return rules;
    };
    let window_of = |rule: &Value| {
        let options = rule.get("options")?;
        Some(RuleWindow {
            warmup_s: options.get("warmup").and_then(Value::as_u64).unwrap_or(0),
            duration_s: options.get("duration").and_then(Value::as_u64)?,
            decided_after_ms: None,
        })
    };
    let name_of = |rule: &Value| rule.get("name").and_then(Value::as_str).map(str::to_owned);
    for (index, rule) in rules.iter_mut().enumerate() {
        if rule.window.is_some() {
            continue;
        }
        let same = configured
            .get(index)
            .filter(|c| name_of(c).as_deref() == Some(rule.name.as_str()))
            .or_else(|| {
                configured
                    .iter()
                    .find(|c| name_of(c).as_deref() == Some(rule.name.as_str()))
            });
        rule.window = same.and_then(window_of);
    }
    rules
}

/// The `User-Agent` and key headers every request carries (a key only when there is one: a proxy
/// may add them).
pub(crate) fn auth_headers(
    headers: &mut Vec<(String, String)>,
    api_key: Option<&str>,
    app_key: Option<&str>,
) {
    headers.push(("User-Agent".to_string(), USER_AGENT.to_string()));
    if let Some(key) = api_key {
        headers.push(("DD-API-KEY".to_string(), key.to_string()));
    }
    if let Some(key) = app_key {
        headers.push(("DD-APPLICATION-KEY".to_string(), key.to_string()));
    }
}

/// The server's error details: `errors[].detail`/`title` or plain strings.
pub fn api_error(status: u16, body: &str) -> ApiError {
    let details = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v.get("errors").and_then(Value::as_array).cloned())
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| match e {
                    Value::String(s) => Some(s.clone()),
                    Value::Object(o) => o
                        .get("detail")
                        .or_else(|| o.get("title"))
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    _ => None,
                })
                .map(|s| truncate(&s, 500))
                .take(10)
                .collect()
        })
        .unwrap_or_default();
    ApiError {
        status: Some(status),
        details,
    }
}

/// Whether `id` looks like a UUID (8-4-4-4-12 hex digits). The id goes into a URL path: anything
/// else could change where the request goes.
pub fn is_uuid(id: &str) -> bool {
    let bytes = id.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

pub(crate) fn truncate(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max_chars).collect();
    out.push('…');
    out
}

/// `1.5 s`, `3 min 20 s`, `3 h`.
pub fn seconds(ms: u64) -> String {
    if ms < 60_000 {
        let tenths = ms.div_ceil(100);
        if tenths.is_multiple_of(10) {
            format!("{} s", tenths / 10)
        } else {
            format!("{}.{} s", tenths / 10, tenths % 10)
        }
    } else {
        let total = ms.div_ceil(1000);
        let (h, m, s) = (total / 3600, (total % 3600) / 60, total % 60);
        match (h, m, s) {
            (0, m, 0) => format!("{m} min"),
            (0, m, s) => format!("{m} min {s} s"),
            (h, 0, 0) => format!("{h} h"),
            (h, m, _) => format!("{h} h {m} min"),
        }
    }
}

fn summarize(what: &str, problems: &[Problem]) -> String {
    match problems.len() {
        1 => format!("{what}: {}", problems[0]),
        n => format!("{what}: {n} problems"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_validation_spelled_for_javascript_respells_its_hints_only() {
        let config = ConfigInput::Value(serde_json::json!({
            "rules": [{"type": "monitor", "name": "m", "options": {"query": "env:prod", "newKey": 1}}]
        }));
        let strict = validate(&config, None, false);
        let hint = |v: &Validation| v.problems[0].hint.clone().unwrap_or_default();
        assert!(hint(&strict).contains("`allow_unknown_keys`"), "{strict:?}");
        let camel = strict.clone().spelled(options::Spelling::Camel);
        assert!(hint(&camel).contains("`allowUnknownKeys`"), "{camel:?}");
        assert!(!hint(&camel).contains("allow_unknown_keys"));
        assert_eq!(camel.problems[0].path, strict.problems[0].path);
        assert_eq!(camel.problems[0].message, strict.problems[0].message);
        let lenient = validate(&config, None, true);
        assert_eq!(
            lenient
                .clone()
                .spelled(options::Spelling::Camel)
                .warnings
                .len(),
            1
        );
        assert_eq!(
            lenient.clone().spelled(options::Spelling::Snake),
            lenient,
            "core's own spelling is Python's"
        );
    }

    fn engine() -> Engine {
        let options = Options::from_host_value(serde_json::json!({
            "service": "checkout", "env": "prod", "api_key": "k1-secret", "app_key": "k2-secret"
        }))
        .unwrap();
        let mut engine = Engine::new(options, 1_000).unwrap();
        engine.poll(1_000);
        engine
    }

    #[test]
    fn resume_refuses_a_snapshot_whose_numbers_do_not_add_up() {
        let good = engine().snapshot();
        for (field, value) in [
            ("request_timeout_ms", serde_json::json!(0)),
            ("poll_interval_ms", serde_json::json!(10)),
            ("timeout_ms", serde_json::json!(u64::MAX)),
            ("deadline", serde_json::json!(5)),
            ("next_request_id", serde_json::json!(u64::MAX)),
            ("next_request_id", serde_json::json!(0)),
        ] {
            let mut bad = good.clone();
            bad[field] = value;
            let err = Engine::resume(bad, None, None, 2_000).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidSnapshot, "{field}");
        }
        assert!(Engine::resume(good, None, None, 2_000).is_ok());
    }

    const GATE: &str = "e140302e-0cba-40d2-978c-6780647f8f1c";

    fn rule_list(rules: Value) -> String {
        serde_json::json!({"data": {"id": GATE, "type": "list_deployment_rules",
            "attributes": {"rules": rules}}})
        .to_string()
    }

    #[test]
    fn stored_rules_give_the_longest_warmup_plus_duration() {
        let body = rule_list(serde_json::json!([
            {"name": "a", "type": "monitor", "options": {"query": "env:prod", "duration": 300}},
            {"name": "b", "type": "monitor", "options": {"query": "env:prod", "duration": 60, "warmup": 600}},
            {"name": "c", "type": "faulty_deployment_detection", "options": {"duration": 900.2}},
        ]));
        assert_eq!(parse_stored_rules_due_ms(&body, GATE), Ok(901_000));
        // Capped as a config's durations are: a hostile number cannot push the plan past them.
        let huge =
            rule_list(serde_json::json!([{"options": {"duration": 1e300, "warmup": 1e300}}]));
        assert_eq!(
            parse_stored_rules_due_ms(&huge, &GATE.to_uppercase()),
            Ok((config::MAX_DURATION_S + config::MAX_WARMUP_S) * 1000)
        );
        let no_duration = rule_list(serde_json::json!([{"options": {"query": "env:prod"}}]));
        assert_eq!(parse_stored_rules_due_ms(&no_duration, GATE), Ok(0));
    }

    #[test]
    fn unreadable_stored_rules_are_errors() {
        for (body, why) in [
            ("nope".to_string(), "not JSON"),
            (rule_list(serde_json::json!([])), "no rules"),
            (
                rule_list(serde_json::json!({"a": 1})),
                "no data.attributes.rules",
            ),
            (rule_list(serde_json::json!([{"name": "a"}])), "no options"),
            (
                rule_list(serde_json::json!([{"options": {"duration": -5}}])),
                "duration",
            ),
            (
                rule_list(serde_json::json!([{"options": {"warmup": "1h"}}])),
                "warmup",
            ),
        ] {
            let err = parse_stored_rules_due_ms(&body, GATE).unwrap_err();
            assert!(err.contains(why), "{body}: {err}");
        }
        let other = rule_list(serde_json::json!([{"options": {"duration": 5}}]));
        let err = parse_stored_rules_due_ms(&other, "0b6a3c1e-8d7f-4a2b-9c5d-1e2f3a4b5c6d");
        assert_eq!(err, Err("the rule list is for another gate".to_string()));
    }

    #[test]
    fn a_snapshot_without_the_rules_read_still_resumes_and_a_bad_gate_id_is_refused() {
        let mut snapshot = engine().snapshot();
        // Snapshots written before the rules read existed have no `stored_rules`.
        assert!(snapshot.get("stored_rules").is_none());
        assert!(Engine::resume(snapshot.clone(), None, None, 2_000).is_ok());
        snapshot["stored_rules"] = serde_json::json!({"state": "due", "gate_id": GATE});
        assert!(Engine::resume(snapshot.clone(), None, None, 2_000).is_ok());
        snapshot["stored_rules"] = serde_json::json!({"state": "due", "gate_id": "../../x"});
        let err = Engine::resume(snapshot, None, None, 2_000).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidSnapshot);
        assert!(err.message.contains("gate id"), "{}", err.message);
    }

    #[test]
    fn clocks_are_clamped_to_what_a_javascript_number_holds() {
        let mut engine = engine();
        engine.handle(Input::Timeout, u64::MAX).unwrap();
        assert_eq!(
            engine.snapshot()["clock"],
            serde_json::json!(MAX_SAFE_INTEGER)
        );
        assert!(matches!(engine.poll(u64::MAX), Action::Done { .. }));
    }

    #[test]
    fn the_fail_open_policy_decides_verdict_exit_code_cause_and_fail_open() {
        let gate = |status: &str, dry_run| EvaluationResult {
            gate_status: Some(status.to_string()),
            dry_run,
            ..EvaluationResult::default()
        };
        let none = EvaluationResult::default();
        let retry = |timeout| Finish::RetryPastDeadline {
            status: Some(429),
            wait_ms: 60_000,
            past_ms: 1_000,
            timeout,
        };
        let refused = Finish::ClientError(ApiError {
            status: Some(403),
            details: vec![],
        });
        use Cause::*;
        use Verdict::{Fail, Pass};
        for (finish, result, fail_on_error, expected) in [
            (
                Finish::Gate,
                gate("pass", false),
                false,
                (Pass, 0, GatePassed, false),
            ),
            (
                Finish::Gate,
                gate("pass", false),
                true,
                (Pass, 0, GatePassed, false),
            ),
            (
                Finish::Gate,
                gate("pass", true),
                true,
                (Pass, 0, DryRun, false),
            ),
            (
                Finish::Gate,
                gate("fail", false),
                false,
                (Fail, 1, GateFailed, false),
            ),
            (
                Finish::Gate,
                none.clone(),
                false,
                (Fail, 1, GateFailed, false),
            ),
            (
                Finish::Timeout,
                none.clone(),
                false,
                (Pass, 0, Timeout, true),
            ),
            (
                Finish::Timeout,
                none.clone(),
                true,
                (Fail, 1, Timeout, false),
            ),
            (
                Finish::ApiUnavailable,
                none.clone(),
                false,
                (Pass, 0, ApiUnavailable, true),
            ),
            (
                Finish::ApiUnavailable,
                none.clone(),
                true,
                (Fail, 1, ApiUnavailable, false),
            ),
            (retry(true), none.clone(), false, (Pass, 0, Timeout, true)),
            (
                retry(false),
                none.clone(),
                true,
                (Fail, 1, ApiUnavailable, false),
            ),
            (
                refused,
                gate("pass", false),
                false,
                (Fail, 1, ClientError, false),
            ),
            (
                Finish::Cancelled,
                gate("pass", false),
                false,
                (Fail, 130, Cancelled, false),
            ),
        ] {
            let d = decide(&finish, &result, fail_on_error);
            assert_eq!(
                (d.verdict, d.exit_code, d.cause, d.fail_open),
                expected,
                "fail_on_error {fail_on_error}, result {result:?}"
            );
        }
    }

    #[test]
    fn every_answer_falls_in_one_row_of_the_decision_table() {
        let id = "3fa85f64-5717-4562-b3fc-2c963f66afa6";
        let trigger = |status, headers: &[(&str, &str)], body: &str| {
            let headers: Vec<(String, String)> = headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect();
            classify(RequestKind::Trigger, None, status, &headers, body)
        };
        let poll = |status, body: &str| classify(RequestKind::Poll, Some(id), status, &[], body);
        let accepted =
            format!(r#"{{"data":{{"id":"{id}","attributes":{{"evaluation_id":"{id}"}}}}}}"#);
        assert_eq!(
            trigger(202, &[], &accepted),
            Reply::Accepted {
                evaluation_id: id.to_string()
            }
        );
        let result = r#"{"data":{"attributes":{"gate_status":"in_progress","rules":[]}}}"#;
        match poll(200, result) {
            Reply::Result(r) => assert_eq!(r.gate_status.as_deref(), Some("in_progress")),
            other => panic!("{other:?}"),
        }
        let other_id = r#"{"data":{"attributes":{"evaluation_id":"0b6a3c1e-8d7f-4a2b-9c5d-1e2f3a4b5c6d","gate_status":"pass"}}}"#;
        for (reply, status) in [
            (trigger(200, &[], "{}"), 200),
            (poll(204, ""), 204),
            (poll(200, other_id), 200),
        ] {
            assert!(
                matches!(reply, Reply::Malformed { status: s, .. } if s == status),
                "{reply:?}"
            );
        }
        let errors = r#"{"errors":["no gate"]}"#;
        let not_found = ApiError {
            status: Some(404),
            details: vec!["no gate".into()],
        };
        assert_eq!(
            trigger(404, &[], errors),
            Reply::NotFound(not_found.clone())
        );
        assert_eq!(poll(404, errors), Reply::NotFound(not_found));
        assert_eq!(
            poll(429, r#"{"errors":[{"title":"slow down"}]}"#),
            Reply::RateLimited {
                detail: "slow down".into()
            }
        );
        for status in [408, 500, 502, 599] {
            assert_eq!(
                poll(status, ""),
                Reply::ServerError {
                    status,
                    detail: String::new()
                }
            );
        }
        assert_eq!(
            trigger(302, &[("LOCATION", "https://elsewhere.example/")], ""),
            Reply::Redirect {
                status: 302,
                location: Some("https://elsewhere.example/".into())
            }
        );
        assert_eq!(
            poll(301, ""),
            Reply::Redirect {
                status: 301,
                location: None
            }
        );
        for status in [400, 401, 403, 409, 422, 499] {
            assert_eq!(
                poll(status, errors),
                Reply::ClientError(ApiError {
                    status: Some(status),
                    details: vec!["no gate".into()]
                })
            );
        }
        for status in [100, 199, 600, 999] {
            assert_eq!(poll(status, ""), Reply::Unexpected { status });
        }
        assert_eq!(
            classify_transport(TransportErrorKind::Tls, "unknown issuer"),
            Reply::Untrusted {
                message: "unknown issuer".into()
            }
        );
        assert_eq!(
            classify_transport(TransportErrorKind::Timeout, ""),
            Reply::TransportFailed {
                error: "timeout".into()
            }
        );
        assert_eq!(
            classify_transport(TransportErrorKind::Connect, "refused"),
            Reply::TransportFailed {
                error: "connect: refused".into()
            }
        );
    }

    #[test]
    fn result_replies_are_classified_by_the_engine() {
        let id = "3fa85f64-5717-4562-b3fc-2c963f66afa6";
        let body = r#"{"data":{"attributes":{"gate_status":"pass","rules":[]}}}"#;
        match read_result_reply(id, 200, body) {
            ResultReply::Answered { result, json } => {
                assert_eq!(result.unwrap().gate_status.as_deref(), Some("pass"));
                assert!(json.is_some());
            }
            other => panic!("{other:?}"),
        }
        match read_result_reply(id, 200, "not json") {
            ResultReply::Answered { result, json } => {
                assert!(result.is_err());
                assert!(json.is_none());
            }
            other => panic!("{other:?}"),
        }
        match read_result_reply(id, 404, r#"{"errors":["not \u001b[31mfound"]}"#) {
            ResultReply::Refused { message, note } => {
                assert!(
                    message.starts_with(&format!("the API answered 404 for evaluation {id}: not "))
                );
                assert!(!message.contains('\u{1b}'));
                assert!(note.unwrap().contains("not started yet"));
            }
            other => panic!("{other:?}"),
        }
        match read_result_reply(id, 500, "") {
            ResultReply::Refused { message, note } => {
                assert_eq!(message, format!("the API answered 500 for evaluation {id}"));
                assert_eq!(note, None);
            }
            other => panic!("{other:?}"),
        }
    }
}
