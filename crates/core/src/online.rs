//! `validate --online`: check a gate's monitor rules against the monitors that exist now, and its
//! Faulty Deployment Detection rules against the APM data that exists now, sans-IO like the
//! evaluation [`Engine`](crate::Engine).
//!
//! A [`Check`] is driven exactly as an engine or a [gates run](crate::gates::Run): at start and
//! after each [`Check::handle`], call [`Check::poll`] until it returns `wait` or `done`. It asks
//! for the requests to make ([`OnlineAction::SendRequest`]), for waits (a retry's backoff) and ends
//! with an [`OnlineReport`]:
//!
//! 1. the rules: from a config file (validated offline first, exactly as `validate` does), or from
//!    a preconfigured gate: `GET /api/v2/deployment_gates?filter[service]=…&filter[env]=…` (paged
//!    with `page[cursor]`), the gate whose identifier matches (`default` when none is given), then
//!    `GET /api/v2/deployment_gates/{id}/rules`;
//! 2. for each monitor rule with a `query`: `GET /api/v1/monitor/search?query=(QUERY) muted:false
//!    &page=N&per_page=100` (the monitor search API, `schemas/api/monitor-search-response.schema.json`),
//!    following pages until every match is read or more than 50 are known. `muted:false` is what
//!    the service adds to a gate's query, so muted monitors are left out as they are at deploy
//!    time;
//! 3. once for all Faulty Deployment Detection rules, when the service and env are known (the
//!    gate's, or given with a config): `GET /api/v2/spans/events?filter[query]=service:"S"
//!    env:"E"&filter[from]=now-24h&filter[to]=now&page[limit]=1` (the spans search,
//!    `schemas/api/spans-list-response.schema.json`), then the same with `version:"V"` when a
//!    version is given. One span is asked for: only whether one exists matters.
//!
//! What it reports, per rule, with the rule's JSON path (`rules[0].options.query`):
//! - **problems** (the rule would fail whatever the monitors' states): no monitor matches, or more
//!   than [`MAX_MATCHING_MONITORS`] do; a query the search refuses (HTTP 400); a preconfigured gate
//!   that does not exist;
//! - **warnings**: a matching monitor in `Alert` now, or in `No Data` now when the rule sets
//!   `fail_on_no_data` ("would fail now"). A state is not a config mistake: it changes by itself,
//!   and a deploy later may pass, so it does not make the check fail. A rule in dry run has its
//!   problems reported as warnings too (it never blocks a deploy). An FDD rule whose service has
//!   no APM data in the env over the last [`APM_WINDOW`] (path `rules[0]`): FDD would compare
//!   nothing, yet the rule would pass, and a service's first deploy legitimately has no baseline,
//!   so it is a warning. The version's own data is information (`RuleCheck::apm`): before its
//!   deploy it normally has none. A 403 on the spans search (no `apm_read` scope) leaves the FDD
//!   rules unchecked with a warning each, not an error;
//! - rules it cannot check are listed as `skipped`, with the reason: `monitor_ids` rules, and a
//!   config's FDD rules when no service and env are given.
//!
//! A server or transport failure (after the engine's retries: 408, 429, 5xx, network errors and
//! unreadable 2xx bodies, with the engine's backoff and the server's `Retry-After`, at most
//! `max_retries` times and never past `timeout_ms`) ends the check with `error` set; any other 4xx
//! ends it at once with the server's detail.
//!
//! ```
//! use gatepost_core::online::{self, OnlineAction, OnlineOptions, Source};
//! use gatepost_core::{ConfigInput, Input};
//!
//! let config = r#"{"rules": [{"type": "monitor", "name": "m",
//!   "options": {"query": "service:checkout", "duration": 300}}]}"#;
//! let options = OnlineOptions { api_url: Some("http://127.0.0.1:8126".into()), ..Default::default() };
//! let source = Source::Config { config: ConfigInput::Text(config.into()), version: None,
//!     allow_unknown_keys: false, service: None, env: None };
//! let mut check = online::Check::new(options, source, 0).unwrap();
//! let OnlineAction::SendRequest { request_id, url, .. } = check.poll(0) else { panic!() };
//! assert_eq!(url, "http://127.0.0.1:8126/api/v1/monitor/search?query=%28service%3Acheckout%29%20muted%3Afalse&page=0&per_page=100");
//! let body = r#"{"monitors": [], "metadata": {"page": 0, "page_count": 0, "per_page": 100, "total_count": 0}}"#;
//! check.handle(Input::Response { request_id, status: 200, headers: vec![], body: body.into() }, 1).unwrap();
//! let OnlineAction::Done { report } = check.poll(1) else { panic!() };
//! assert!(!report.ok);
//! assert_eq!(report.problems[0].path, "rules[0].options.query");
//! ```

use crate::backoff;
use crate::config::json::{self, Node, NodeValue};
use crate::config::{self, ValidateContext};
use crate::error::{Error, ErrorCode, Problem};
use crate::event::{Event, EventKind};
use crate::exchange::{self, Exchange, InFlight, summarize};
use crate::gates::{self, DEFAULT_IDENTIFIER, LiveRule};
use crate::io::{Input, WaitReason};
use crate::machine::{api_error, auth_headers, seconds};
use crate::options::ConfigInput;
use crate::sanitize;
use crate::site::Endpoint;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A monitor rule fails when more monitors than this match its query.
pub const MAX_MATCHING_MONITORS: u64 = 50;
/// Monitors asked for per page of the search (more than 50, so one page usually decides).
pub const SEARCH_PER_PAGE: u32 = 100;
/// Pages read for one rule at most (a server that caps `per_page` low, or never stops paging).
const MAX_SEARCH_PAGES: u32 = 20;
/// Gates asked for per page of the gate list, and the most pages read.
const MAX_GATE_PAGES: u32 = 1_000;
/// The whole check gives up after this long (retries included), unless told otherwise.
pub const DEFAULT_TIMEOUT_MS: u64 = 120_000;
/// Monitors listed per rule in a report (the count is always exact).
pub const LISTED_MONITORS: usize = 50;
/// Monitors listed per rule in the text report.
pub const TEXT_LISTED_MONITORS: usize = 10;
/// How far back the spans search looks for a service's APM data (Datadog date math).
pub const APM_WINDOW: &str = "24h";
/// The application key scope the spans search needs.
pub const APM_SCOPE: &str = "apm_read";

/// Where requests go and how hard to try: the names of the engine's [`Options`](crate::Options).
#[derive(Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct OnlineOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_url: Option<String>,
    #[serde(default)]
    pub allow_insecure_http: bool,
    #[serde(default, skip_serializing)]
    pub api_key: Option<String>,
    #[serde(default, skip_serializing)]
    pub app_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_timeout_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_body_bytes: Option<u64>,
    /// Retries of one request (default 5); 0 stops at the first failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<u32>,
    /// The whole check ends with an error after this long (default 120 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Seed of the retry jitter.
    #[serde(default)]
    pub seed: u64,
}

impl std::fmt::Debug for OnlineOptions {
    /// Keys are never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnlineOptions")
            .field("site", &self.site)
            .field("api_url", &self.api_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("app_key", &self.app_key.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

/// Which rules to check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case", deny_unknown_fields)]
pub enum Source {
    /// The rules of a pipeline config file (the datadog-ci format).
    Config {
        config: ConfigInput,
        /// The version that would be deployed (for the offline checks of FDD rules, and the
        /// version whose APM data is reported).
        #[serde(default)]
        version: Option<String>,
        #[serde(default)]
        allow_unknown_keys: bool,
        /// Where the rules would run: with both, Faulty Deployment Detection rules are checked
        /// for APM data (a config file names no service); without, they are skipped.
        #[serde(default)]
        service: Option<String>,
        #[serde(default)]
        env: Option<String>,
    },
    /// The rules of a preconfigured gate, read from the API.
    Gate {
        service: String,
        env: String,
        /// `default` when absent, as the API does.
        #[serde(default)]
        identifier: Option<String>,
        /// The version that would be deployed: its APM data is reported beside the service's.
        #[serde(default)]
        version: Option<String>,
    },
}

/// What the check asks the host to do (the shape of the engine's [`Action`](crate::Action), with
/// an [`OnlineReport`] at the end).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OnlineAction {
    SendRequest {
        request_id: u64,
        method: String,
        url: String,
        headers: Vec<(String, String)>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body: Option<String>,
        timeout_ms: u64,
        max_body_bytes: u64,
    },
    Wait {
        until: u64,
        reason: WaitReason,
    },
    Done {
        report: OnlineReport,
    },
}

/// The gate whose rules were checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateRef {
    pub id: String,
    pub service: String,
    pub env: String,
    pub identifier: String,
    pub dry_run: bool,
}

/// A monitor the search found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FoundMonitor {
    pub id: u64,
    pub name: String,
    /// The monitor's overall state as the search reports it: `OK`, `Alert`, `Warn`, `No Data`,
    /// ... (`unknown` when the search gave none).
    pub status: String,
}

/// What was found for one rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleCheck {
    /// `rules[0]`: the rule's place in the config file or in the gate's rule list.
    pub path: String,
    pub name: String,
    #[serde(rename = "type")]
    pub rule_type: String,
    pub dry_run: bool,
    /// `checked`, or `skipped` (see `note`).
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// How many monitors the gate would select now (muted ones left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matched: Option<u64>,
    /// The first [`LISTED_MONITORS`] of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub monitors: Vec<FoundMonitor>,
    /// A matching monitor is in a state that fails the rule (Alert, or No Data with
    /// `fail_on_no_data`): a deploy now would fail this rule.
    pub would_fail_now: bool,
    /// What the spans search found for a Faulty Deployment Detection rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apm: Option<ApmCheck>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Whether APM data exists for a Faulty Deployment Detection rule's service, from the spans
/// search (`GET /api/v2/spans/events`, one span asked for: the answer is "some" or "none").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApmCheck {
    pub service: String,
    pub env: String,
    /// How far back the search looked ([`APM_WINDOW`]).
    pub window: String,
    /// Spans of the service in the env exist in the window: the baseline FDD compares against.
    pub service_data: bool,
    /// The version that would be deployed, when one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Spans of that version exist already (normally not before its first deploy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_data: Option<bool>,
}

/// How a check ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OnlineReport {
    /// No problem and no error (warnings allowed).
    pub ok: bool,
    /// `config` or `gate`.
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<GateRef>,
    pub rules: Vec<RuleCheck>,
    /// Each rule that would fail whatever the monitors' states, with its JSON path.
    pub problems: Vec<Problem>,
    /// The config file's own warnings, then "would fail now" and the dry-run rules' problems.
    pub warnings: Vec<Problem>,
    /// What stopped the check (a server or transport failure, a refused key): it is incomplete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub requests: u32,
}

impl OnlineReport {
    /// The exit code of `validate --online`: 0 ok (warnings allowed), 2 problems, 1 an error.
    pub fn exit_code(&self) -> i32 {
        match (&self.error, self.problems.is_empty()) {
            (Some(_), _) => 1,
            (None, false) => 2,
            (None, true) => 0,
        }
    }
}

/// A rule as the check needs it.
#[derive(Debug, Clone)]
struct RuleSpec {
    name: String,
    rule_type: String,
    dry_run: bool,
    options: Value,
}

#[derive(Debug, Clone, PartialEq)]
enum Step {
    ListGates {
        cursor: Option<String>,
        page: u32,
    },
    ListRules,
    Search {
        rule: usize,
        page: u32,
    },
    /// The spans search for the FDD rules: the service in the env, then the version in it.
    Spans {
        version: bool,
    },
}

/// The monitors one rule's search has found so far.
#[derive(Debug, Clone, Default)]
struct Found {
    monitors: Vec<FoundMonitor>,
    total: Option<u64>,
}

/// One `validate --online`. See the module docs for the loop.
pub struct Check {
    source_name: &'static str,
    wanted: Option<(String, String, String)>,
    /// The service and env whose APM data the FDD rules need, and the version being deployed.
    apm_target: Option<(String, String)>,
    version: Option<String>,
    apm: Option<ApmCheck>,
    config_text: Option<String>,
    endpoint: Endpoint,
    api_key: Option<String>,
    app_key: Option<String>,
    request_timeout_ms: u64,
    max_body_bytes: u64,
    max_retries: u32,
    deadline: u64,
    timeout_ms: u64,
    seed: u64,
    draws: u64,
    clock: u64,
    next_request_id: u64,
    requests: u32,
    step: Option<Step>,
    in_flight: Option<InFlight>,
    failures: u32,
    next_send_at: u64,
    gate: Option<GateRef>,
    rules: Vec<RuleSpec>,
    checks: Vec<RuleCheck>,
    found: Found,
    problems: Vec<Problem>,
    warnings: Vec<Problem>,
    events: Vec<Event>,
    report: Option<OnlineReport>,
}

impl std::fmt::Debug for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Check")
            .field("source", &self.source_name)
            .field("step", &self.step)
            .field("requests", &self.requests)
            .finish_non_exhaustive()
    }
}

impl Check {
    /// Check the options and, for a config, the file (offline, strictly, as `validate` does), and
    /// start. Invalid options give an `invalid_options` error; an invalid file an
    /// `invalid_config` error listing every problem with its path.
    pub fn new(options: OnlineOptions, source: Source, now: u64) -> Result<Check, Error> {
        let mut problems = Vec::new();
        let connection =
            exchange::check_connection(&exchange::connection_options!(options), &mut problems);
        let timeout_ms = options.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS);
        if timeout_ms == 0 {
            problems.push(Problem::new("timeout_ms", "must be at least 1"));
        }
        if let Source::Gate { service, env, .. } = &source {
            for (name, value) in [("service", service), ("env", env)] {
                if value.trim().is_empty() {
                    problems.push(Problem::new(name, format!("{name} is required")));
                }
            }
        }
        if !problems.is_empty() {
            return Err(Error::with_problems(
                ErrorCode::InvalidOptions,
                summarize("invalid options", &problems),
                problems,
            ));
        }
        let connection = connection.expect("no problems means the connection was checked");
        let mut check = Check {
            source_name: "config",
            wanted: None,
            apm_target: None,
            version: None,
            apm: None,
            config_text: None,
            endpoint: connection.endpoint,
            api_key: options.api_key,
            app_key: options.app_key,
            request_timeout_ms: connection.request_timeout_ms,
            max_body_bytes: connection.max_body_bytes,
            max_retries: options.max_retries.unwrap_or(gates::DEFAULT_MAX_RETRIES),
            deadline: now.saturating_add(timeout_ms),
            timeout_ms,
            seed: options.seed,
            draws: 0,
            clock: now,
            next_request_id: 1,
            requests: 0,
            step: None,
            in_flight: None,
            failures: 0,
            next_send_at: now,
            gate: None,
            rules: Vec::new(),
            checks: Vec::new(),
            found: Found::default(),
            problems: Vec::new(),
            warnings: Vec::new(),
            events: Vec::new(),
            report: None,
        };
        match source {
            Source::Config {
                config: input,
                version,
                allow_unknown_keys,
                service,
                env,
            } => {
                let named = |v: Option<String>| v.filter(|v| !v.trim().is_empty());
                check.apm_target = named(service).zip(named(env));
                check.version = named(version.clone());
                let ctx = ValidateContext {
                    version: version.as_deref(),
                    strict_queries: true,
                    allow_unknown_keys,
                };
                let parsed = config::check(&input, &ctx).map_err(|invalid| {
                    Error::with_problems(
                        ErrorCode::InvalidConfig,
                        summarize("invalid config", &invalid.problems),
                        invalid.problems,
                    )
                })?;
                let items = parsed.configuration["rules"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                check.rules = parsed
                    .rules
                    .iter()
                    .zip(items)
                    .map(|(summary, item)| RuleSpec {
                        name: summary.name.clone(),
                        rule_type: summary.rule_type.clone(),
                        dry_run: summary.dry_run,
                        options: item.get("options").cloned().unwrap_or(Value::Null),
                    })
                    .collect();
                check.warnings = parsed.warnings;
                if let ConfigInput::Text(text) = input {
                    check.config_text = Some(text);
                }
                check.start_rules();
            }
            Source::Gate {
                service,
                env,
                identifier,
                version,
            } => {
                check.source_name = "gate";
                check.version = version.filter(|v| !v.trim().is_empty());
                let identifier = identifier
                    .filter(|i| !i.trim().is_empty())
                    .unwrap_or_else(|| DEFAULT_IDENTIFIER.to_string());
                check.wanted = Some((service, env, identifier));
                check.step = Some(Step::ListGates {
                    cursor: None,
                    page: 1,
                });
            }
        }
        Ok(check)
    }

    /// Take the queued events (retries), oldest first.
    pub fn drain_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// The report, once the check is over.
    pub fn report(&self) -> Option<&OnlineReport> {
        self.report.as_ref()
    }

    /// What to do next.
    pub fn poll(&mut self, now: u64) -> OnlineAction {
        self.clock = self.clock.max(now);
        let now = self.clock;
        loop {
            if let Some(report) = &self.report {
                return OnlineAction::Done {
                    report: report.clone(),
                };
            }
            if let Some(flight) = &self.in_flight {
                if now < flight.expires_at {
                    return OnlineAction::Wait {
                        until: flight.expires_at,
                        reason: WaitReason::AwaitingResponse,
                    };
                }
                self.in_flight = None;
                self.on_failure(None, "timeout", &[], now);
                continue;
            }
            if self.step.is_none() {
                self.finish(None);
                continue;
            }
            if now >= self.deadline {
                let message = format!(
                    "{}: gave up after the check's timeout ({})",
                    self.describe_step(),
                    seconds(self.timeout_ms)
                );
                self.finish(Some(message));
                continue;
            }
            if now < self.next_send_at {
                return OnlineAction::Wait {
                    until: self.next_send_at.min(self.deadline),
                    reason: WaitReason::RetryBackoff,
                };
            }
            let url = self.request_url();
            return self.send(url, now);
        }
    }

    /// Feed what happened to the last request (or `timeout` / `cancel`).
    pub fn handle(&mut self, input: Input, now: u64) -> Result<(), Error> {
        exchange::handle(self, input, now)
    }

    /// The rules are known: skip what cannot be checked, search for the first that can.
    fn start_rules(&mut self) {
        self.checks = self
            .rules
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let query = r
                    .options
                    .get("query")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                let note = match (r.rule_type.as_str(), &query) {
                    ("monitor", Some(_)) => None,
                    ("monitor", None) if r.options.get("monitor_ids").is_some() => Some(
                        "monitor_ids rules are not checked online (only query rules are searched)",
                    ),
                    ("monitor", None) => Some("no query to search"),
                    ("faulty_deployment_detection", _) if self.apm_target.is_some() => None,
                    ("faulty_deployment_detection", _) => Some(
                        "APM data not checked: pass the service and env the gate is for (--service and --env)",
                    ),
                    _ => Some("unknown rule type: not checked online"),
                };
                RuleCheck {
                    path: format!("rules[{i}]"),
                    name: r.name.clone(),
                    rule_type: r.rule_type.clone(),
                    dry_run: r.dry_run,
                    status: (if note.is_some() { "skipped" } else { "checked" }).to_string(),
                    query,
                    matched: None,
                    monitors: Vec::new(),
                    would_fail_now: false,
                    apm: None,
                    note: note.map(str::to_string),
                }
            })
            .collect();
        self.step = self.next_search(0);
    }

    /// The next monitor rule to search from `from` on; once none is left, the spans search of
    /// the FDD rules (the service's data, then the version's), if any is waiting for it.
    fn next_search(&self, from: usize) -> Option<Step> {
        let search = (from..self.checks.len())
            .find(|&i| self.checks[i].status == "checked" && self.checks[i].rule_type == "monitor")
            .map(|rule| Step::Search { rule, page: 0 });
        search.or_else(|| {
            let waiting = self.checks.iter().any(|c| {
                c.status == "checked"
                    && c.rule_type == "faulty_deployment_detection"
                    && c.apm.is_none()
            });
            match &self.apm {
                _ if !waiting => None,
                None => Some(Step::Spans { version: false }),
                Some(apm) if apm.version.is_some() && apm.version_data.is_none() => {
                    Some(Step::Spans { version: true })
                }
                Some(_) => None,
            }
        })
    }

    fn request_url(&self) -> String {
        let base = &self.endpoint.base_url;
        match self.step.as_ref().expect("a step to send") {
            Step::ListGates { cursor, .. } => {
                let (service, env, _) = self.wanted.as_ref().expect("a gate source");
                let mut url = format!(
                    "{base}/api/v2/deployment_gates?filter[service]={}&filter[env]={}&page[size]={}",
                    gates::percent_encode(service),
                    gates::percent_encode(env),
                    gates::PAGE_SIZE
                );
                if let Some(cursor) = cursor {
                    url.push_str("&page[cursor]=");
                    url.push_str(&gates::percent_encode(cursor));
                }
                url
            }
            Step::ListRules => {
                let id = &self.gate.as_ref().expect("a gate").id;
                format!("{base}/api/v2/deployment_gates/{id}/rules")
            }
            Step::Search { rule, page } => {
                let query = self.checks[*rule].query.as_deref().unwrap_or_default();
                format!(
                    "{base}/api/v1/monitor/search?query={}&page={page}&per_page={SEARCH_PER_PAGE}",
                    gates::percent_encode(&search_query(query))
                )
            }
            Step::Spans { version } => {
                let (service, env) = self.apm_target.as_ref().expect("an APM target");
                let version = version.then(|| self.version.as_deref()).flatten();
                format!(
                    "{base}/api/v2/spans/events?filter[query]={}&filter[from]={}&filter[to]=now&page[limit]=1",
                    gates::percent_encode(&spans_query(service, env, version)),
                    gates::percent_encode(&format!("now-{APM_WINDOW}"))
                )
            }
        }
    }

    fn send(&mut self, url: String, now: u64) -> OnlineAction {
        let request_id = self.next_request_id;
        self.next_request_id += 1;
        self.requests = self.requests.saturating_add(1);
        let mut headers = vec![("Accept".to_string(), "application/json".to_string())];
        auth_headers(
            &mut headers,
            self.api_key.as_deref(),
            self.app_key.as_deref(),
        );
        // No request outlives the check's deadline.
        let timeout_ms = self
            .request_timeout_ms
            .min(self.deadline.saturating_sub(now))
            .max(1);
        self.in_flight = Some(InFlight {
            request_id,
            expires_at: now.saturating_add(timeout_ms),
        });
        OnlineAction::SendRequest {
            request_id,
            method: "GET".to_string(),
            url,
            headers,
            body: None,
            timeout_ms,
            max_body_bytes: self.max_body_bytes,
        }
    }

    fn on_gate_page(
        &mut self,
        body: &str,
        cursor: Option<String>,
        page: u32,
    ) -> Result<(), String> {
        let v: Value = serde_json::from_str(body).map_err(|_| "the gate list is not JSON")?;
        let data = v
            .get("data")
            .and_then(Value::as_array)
            .ok_or("the gate list has no \"data\" array")?;
        let (service, env, identifier) = self.wanted.clone().expect("a gate source");
        for item in data {
            let gate = gates::parse_gate(item)?;
            if gate.service == service && gate.env == env && gate.identifier == identifier {
                self.apm_target = Some((gate.service.clone(), gate.env.clone()));
                self.gate = Some(GateRef {
                    id: gate.id,
                    service: gate.service,
                    env: gate.env,
                    identifier: gate.identifier,
                    dry_run: gate.dry_run,
                });
                self.step = Some(Step::ListRules);
                return Ok(());
            }
        }
        let next = v
            .pointer("/meta/page/next_cursor")
            .and_then(Value::as_str)
            .filter(|c| !c.is_empty())
            .map(str::to_string);
        match next {
            Some(next) if Some(&next) != cursor.as_ref() && page < MAX_GATE_PAGES => {
                self.step = Some(Step::ListGates {
                    cursor: Some(next),
                    page: page + 1,
                });
            }
            Some(_) => {
                return Err("the gate list pages do not end (the same cursor came back)".into());
            }
            None => {
                self.problems.push(
                    Problem::new(
                        "",
                        format!(
                            "no gate exists for service {service:?}, env {env:?}, identifier {identifier:?}: a deploy would fail with 404"
                        ),
                    )
                    .with_hint("create it in Datadog (or with `gatepost gates apply`), or check --service, --env and --identifier"),
                );
                self.step = None;
            }
        }
        Ok(())
    }

    fn on_rules(&mut self, body: &str) -> Result<(), String> {
        let v: Value = serde_json::from_str(body).map_err(|_| "the rule list is not JSON")?;
        let items = v
            .pointer("/data/attributes/rules")
            .or_else(|| v.get("data").filter(|d| d.is_array()))
            .and_then(Value::as_array)
            .ok_or("the rule list has no data.attributes.rules array")?;
        let rules: Vec<LiveRule> = items
            .iter()
            .map(gates::parse_rule)
            .collect::<Result<_, _>>()?;
        let gate_dry_run = self.gate.as_ref().is_some_and(|g| g.dry_run);
        self.rules = rules
            .into_iter()
            .map(|r| RuleSpec {
                name: r.name,
                rule_type: r.rule_type,
                dry_run: r.dry_run || gate_dry_run,
                options: r.options,
            })
            .collect();
        if self.rules.is_empty() {
            self.warnings.push(Problem::new(
                "rules",
                "the gate has no rules: every evaluation passes",
            ));
        }
        self.start_rules();
        Ok(())
    }

    fn on_search(&mut self, body: &str, rule: usize, page: u32) -> Result<(), String> {
        let v: Value =
            serde_json::from_str(body).map_err(|_| "the monitor search answer is not JSON")?;
        if !v.is_object() {
            return Err("the monitor search answer is not an object".into());
        }
        let monitors = match v.get("monitors") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(parse_monitor)
                .collect::<Result<Vec<_>, _>>()?,
            Some(_) => {
                return Err("the monitor search answer's \"monitors\" is not an array".into());
            }
        };
        let metadata = v.get("metadata");
        let number = |k: &str| metadata.and_then(|m| m.get(k)).and_then(Value::as_u64);
        let total = number("total_count");
        let page_count = number("page_count");
        if page == 0 {
            self.found = Found::default();
        }
        let empty_page = monitors.is_empty();
        for m in monitors {
            if !self.found.monitors.iter().any(|f| f.id == m.id) {
                self.found.monitors.push(m);
            }
        }
        self.found.total = total.or(self.found.total);
        let have = self.found.monitors.len() as u64;
        let more_pages = page_count.is_none_or(|c| u64::from(page) + 1 < c);
        let all_read = total.map_or(empty_page || !more_pages, |t| have >= t);
        if !all_read
            && !empty_page
            && more_pages
            && have <= MAX_MATCHING_MONITORS
            && page + 1 < MAX_SEARCH_PAGES
        {
            self.step = Some(Step::Search {
                rule,
                page: page + 1,
            });
            return Ok(());
        }
        self.conclude_rule(rule);
        self.step = self.next_search(rule + 1);
        Ok(())
    }

    /// An answer of the spans search: one span asked for, so any span means "data exists".
    fn on_spans(&mut self, body: &str, version: bool) -> Result<(), String> {
        let v: Value =
            serde_json::from_str(body).map_err(|_| "the spans search answer is not JSON")?;
        let found = match v.get("data") {
            None | Some(Value::Null) => false,
            Some(Value::Array(items)) => !items.is_empty(),
            Some(_) => return Err("the spans search answer's \"data\" is not an array".into()),
        };
        match (&mut self.apm, version) {
            (Some(apm), true) => apm.version_data = Some(found),
            _ => {
                let (service, env) = self.apm_target.clone().expect("an APM target");
                self.apm = Some(ApmCheck {
                    service,
                    env,
                    window: APM_WINDOW.to_string(),
                    service_data: found,
                    version: self.version.clone(),
                    version_data: None,
                });
            }
        }
        self.step = self.next_search(self.checks.len());
        if self.step.is_none() {
            self.conclude_fdd();
        }
        Ok(())
    }

    /// The spans search is over: report it on every FDD rule. No data for the service is a
    /// warning (FDD would pass with nothing to compare, and a service's first deploy has none);
    /// the version's data is information (before its deploy it normally has none).
    fn conclude_fdd(&mut self) {
        let Some(apm) = self.apm.clone() else { return };
        let window = format!("the last {}", apm.window);
        for rule in 0..self.checks.len() {
            let check = &self.checks[rule];
            if check.status != "checked" || check.rule_type != "faulty_deployment_detection" {
                continue;
            }
            let mut note = if apm.service_data {
                format!(
                    "APM data for service {} in env {} in {window}",
                    apm.service, apm.env
                )
            } else {
                format!(
                    "no APM data for service {} in env {} in {window}",
                    apm.service, apm.env
                )
            };
            match (&apm.version, apm.version_data) {
                (Some(v), Some(true)) => {
                    note.push_str(&format!("; version {v} has APM data already"))
                }
                (Some(v), Some(false)) => note.push_str(&format!(
                    "; none yet for version {v} (expected before its first deploy)"
                )),
                _ => {}
            }
            let path = check.path.clone();
            let dry_run = check.dry_run;
            self.checks[rule].apm = Some(apm.clone());
            self.checks[rule].note = Some(note);
            if !apm.service_data {
                let mut message = format!(
                    "no APM data for service {} in env {} in {window}{}: Faulty Deployment Detection has nothing to compare, so the rule would pass without checking anything",
                    apm.service,
                    apm.env,
                    apm.version
                        .as_deref()
                        .map(|v| format!(" (nor for version {v})"))
                        .unwrap_or_default()
                );
                if dry_run {
                    message.push_str(" (the rule is a dry run: it would not block a deploy)");
                }
                let mut w = Problem::new(path, message).with_hint(
                    "check the service and env names against APM (the tags service: and env: of the traces); a service's first deploy has no baseline yet",
                );
                self.locate_rule(&mut w, rule);
                self.warnings.push(w);
            }
        }
    }

    /// The spans search was refused for want of a scope: the FDD rules are left unchecked, with
    /// a warning each (the rest of the check is complete).
    fn skip_fdd(&mut self, reason: &str) {
        for rule in 0..self.checks.len() {
            let check = &mut self.checks[rule];
            if check.status != "checked" || check.rule_type != "faulty_deployment_detection" {
                continue;
            }
            check.status = "skipped".to_string();
            check.note = Some(format!("APM data not checked: {reason}"));
            let mut w = Problem::new(
                check.path.clone(),
                format!("APM data not checked: {reason}"),
            )
            .with_hint(format!(
                "give the application key the {APM_SCOPE} scope, or ignore this warning"
            ));
            self.locate_rule(&mut w, rule);
            self.warnings.push(w);
        }
    }

    /// Every page of a rule's search is read (or enough of them): judge it.
    fn conclude_rule(&mut self, rule: usize) {
        let found = std::mem::take(&mut self.found);
        let matched = found.total.unwrap_or(0).max(found.monitors.len() as u64);
        let fail_on_no_data = self.rules[rule]
            .options
            .get("fail_on_no_data")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let failing: Vec<&FoundMonitor> = found
            .monitors
            .iter()
            .filter(|m| {
                let s = m.status.to_ascii_lowercase();
                s == "alert" || (fail_on_no_data && s == "no data")
            })
            .collect();
        let query = self.checks[rule].query.clone().unwrap_or_default();
        let grouped = crate::query::parse(&query).is_ok_and(|q| q.has_group_terms());
        let warning = (!failing.is_empty()).then(|| {
            let names: Vec<String> = failing
                .iter()
                .take(10)
                .map(|m| format!("{} \"{}\" ({})", m.id, m.name, m.status))
                .collect();
            let more = failing.len().saturating_sub(10);
            let mut message = format!(
                "would fail now: {} matching monitor{} in a failing state: {}",
                failing.len(),
                if failing.len() == 1 { " is" } else { "s are" },
                names.join(", ")
            );
            if more > 0 {
                message.push_str(&format!(" and {more} more"));
            }
            if grouped {
                message.push_str(
                    " (the search reports each monitor's overall state; the rule judges only the groups its query selects)",
                );
            }
            message
        });
        let check = &mut self.checks[rule];
        check.matched = Some(matched);
        check.would_fail_now = !failing.is_empty();
        check.monitors = found.monitors.into_iter().take(LISTED_MONITORS).collect();
        let path = format!("{}.options.query", check.path);
        if matched == 0 {
            self.rule_problem(
                rule,
                "no monitor matches this query (muted monitors left out, as the gate does): the rule would fail"
                    .to_string(),
                Some("check the tags in the query against the monitors' tags; `gatepost validate` checks only the syntax offline"),
            );
        } else if matched > MAX_MATCHING_MONITORS {
            self.rule_problem(
                rule,
                format!(
                    "{matched} monitors match this query; a rule fails when more than {MAX_MATCHING_MONITORS} match"
                ),
                Some("narrow the query, e.g. with service:, env: or tag: terms"),
            );
        }
        if let Some(message) = warning {
            let mut w = Problem::new(path, message);
            self.locate(&mut w, rule);
            self.warnings.push(w);
        }
    }

    /// A problem with a rule's query; a warning when the rule is a dry run (it never blocks).
    fn rule_problem(&mut self, rule: usize, message: String, hint: Option<&str>) {
        let path = format!("{}.options.query", self.checks[rule].path);
        let dry_run = self.checks[rule].dry_run;
        let mut p = Problem::new(path, message);
        if let Some(hint) = hint {
            p = p.with_hint(hint);
        }
        self.locate(&mut p, rule);
        if dry_run {
            p.message
                .push_str(" (the rule is a dry run: it would not block a deploy)");
            self.warnings.push(p);
        } else {
            self.problems.push(p);
        }
    }

    /// The line and column of a rule's query in the config text, when it came as text.
    fn locate(&self, p: &mut Problem, rule: usize) {
        self.locate_at(p, rule, &["options", "query"]);
    }

    /// The line and column of a rule itself in the config text.
    fn locate_rule(&self, p: &mut Problem, rule: usize) {
        self.locate_at(p, rule, &[]);
    }

    /// The line and column of `keys` (each spelling-free: one key per level) inside a rule.
    fn locate_at(&self, p: &mut Problem, rule: usize, keys: &[&str]) {
        let Some(text) = &self.config_text else {
            return;
        };
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let Some(root) = json::read(text) else { return };
        let member = |node: &Node, keys: &[&str]| -> Option<Node> {
            match &node.value {
                NodeValue::Object(members) => members
                    .iter()
                    .rev()
                    .find(|m| keys.contains(&m.key.as_str()))
                    .map(|m| m.value.clone()),
                _ => None,
            }
        };
        let mut node = member(&root, &["rules"]).and_then(|rules| match rules.value {
            NodeValue::Array(items) => items.into_iter().nth(rule),
            _ => None,
        });
        for key in keys {
            node = node.and_then(|n| member(&n, &[key]));
        }
        if let Some(pos) = node.and_then(|q| q.pos) {
            p.line = Some(pos.line);
            p.column = Some(pos.column);
        }
    }
}

/// The spans search query for a service's APM data in an env (and a version): each value quoted,
/// so a name with a space or a colon stays one term.
pub fn spans_query(service: &str, env: &str, version: Option<&str>) -> String {
    let quoted = |v: &str| format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""));
    let mut query = format!("service:{} env:{}", quoted(service), quoted(env));
    if let Some(version) = version {
        query.push_str(&format!(" version:{}", quoted(version)));
    }
    query
}

/// The query the gate evaluates: the user's, plus the `muted:false` the service adds (the user's
/// query in parentheses, so an `OR` in it cannot swallow the added term).
pub fn search_query(query: &str) -> String {
    format!("({query}) muted:false")
}

fn parse_monitor(item: &Value) -> Result<FoundMonitor, String> {
    let id = item
        .get("id")
        .and_then(Value::as_u64)
        .ok_or("a monitor in the search answer has no numeric id")?;
    Ok(FoundMonitor {
        id,
        name: item
            .get("name")
            .and_then(Value::as_str)
            .map(sanitize::line)
            .unwrap_or_default(),
        status: item
            .get("status")
            .and_then(Value::as_str)
            .map(sanitize::line)
            .unwrap_or_else(|| "unknown".to_string()),
    })
}

/// The report for people: one block per rule, then the verdict.
pub fn render_text(report: &OnlineReport) -> String {
    let mut out = String::new();
    if let Some(g) = &report.gate {
        out.push_str(&format!(
            "Gate {}/{}/{} ({}){}\n",
            g.service,
            g.env,
            g.identifier,
            g.id,
            if g.dry_run { ", dry run" } else { "" }
        ));
    }
    for r in &report.rules {
        out.push_str(&format!(
            "{} {} \"{}\"{}: ",
            r.path,
            r.rule_type,
            r.name,
            if r.dry_run { " (dry run)" } else { "" }
        ));
        match (r.status.as_str(), r.matched) {
            ("checked", Some(n)) => {
                out.push_str(&format!(
                    "{n} monitor{} match{}",
                    if n == 1 { "" } else { "s" },
                    if n == 1 { "es" } else { "" }
                ));
                if r.would_fail_now {
                    out.push_str(", WOULD FAIL NOW");
                }
                out.push('\n');
                // People read ten; the JSON report lists the first 50.
                let shown = r.monitors.len().min(TEXT_LISTED_MONITORS);
                for m in &r.monitors[..shown] {
                    out.push_str(&format!("    {} {} [{}]\n", m.id, m.name, m.status));
                }
                if (shown as u64) < n {
                    out.push_str(&format!("    … {} more\n", n - shown as u64));
                }
            }
            _ => out.push_str(&format!("{}\n", r.note.as_deref().unwrap_or("not checked"))),
        }
    }
    out.push_str(&format!("{}\n", verdict(report)));
    out
}

fn verdict(report: &OnlineReport) -> String {
    let n = report.problems.len();
    let w = report.warnings.len();
    let plural = |k: usize, word: &str| format!("{k} {word}{}", if k == 1 { "" } else { "s" });
    match &report.error {
        Some(e) => format!("Online check incomplete: {e}"),
        None if n > 0 => format!(
            "Online check: {}, {} ({} request(s))",
            plural(n, "problem"),
            plural(w, "warning"),
            report.requests
        ),
        None => format!(
            "Online check passed: {} ({} request(s))",
            plural(w, "warning"),
            report.requests
        ),
    }
}

/// The report for a pull-request comment or a CI step summary.
pub fn render_markdown(report: &OnlineReport) -> String {
    let cell = |s: &str| sanitize::line(s).replace('|', "\\|");
    let mut out = String::from("### gatepost validate --online\n\n");
    if let Some(g) = &report.gate {
        out.push_str(&format!(
            "Gate `{}/{}/{}`{}\n\n",
            cell(&g.service),
            cell(&g.env),
            cell(&g.identifier),
            if g.dry_run { " (dry run)" } else { "" }
        ));
    }
    out.push_str(
        "| rule | type | monitors matched | would fail now | note |\n|---|---|---|---|---|\n",
    );
    for r in &report.rules {
        let matched = r.matched.map_or_else(|| "—".to_string(), |n| n.to_string());
        let failing = if r.status != "checked" || r.rule_type != "monitor" {
            "—"
        } else if r.would_fail_now {
            "**yes**"
        } else {
            "no"
        };
        out.push_str(&format!(
            "| `{}` {}{} | {} | {} | {} | {} |\n",
            r.path,
            cell(&r.name),
            if r.dry_run { " (dry run)" } else { "" },
            r.rule_type,
            matched,
            failing,
            cell(r.note.as_deref().unwrap_or(""))
        ));
    }
    if !report.problems.is_empty() || !report.warnings.is_empty() {
        out.push('\n');
    }
    for p in &report.problems {
        out.push_str(&format!("- :x: {}\n", cell(&p.to_string())));
    }
    for w in &report.warnings {
        out.push_str(&format!("- :warning: {}\n", cell(&w.to_string())));
    }
    out.push_str(&format!("\n{}\n", verdict(report)));
    out
}

impl Exchange for Check {
    const NOUN: &'static str = "check";
    fn next_request_id(&self) -> u64 {
        self.next_request_id
    }
    fn clock_mut(&mut self) -> &mut u64 {
        &mut self.clock
    }
    fn in_flight_mut(&mut self) -> &mut Option<InFlight> {
        &mut self.in_flight
    }
    fn finished(&self) -> bool {
        self.report.is_some()
    }
    fn finish(&mut self, error: Option<String>) {
        self.step = None;
        self.in_flight = None;
        if self.report.is_some() {
            return;
        }
        let error = error.map(|e| sanitize::line(&e));
        self.report = Some(OnlineReport {
            ok: error.is_none() && self.problems.is_empty(),
            source: self.source_name.to_string(),
            gate: self.gate.clone(),
            rules: self.checks.clone(),
            problems: self.problems.clone(),
            warnings: self.warnings.clone(),
            error,
            requests: self.requests,
        });
    }
    /// A retryable failure: back off (or follow the server's hint), or stop after `max_retries`.
    fn on_failure(
        &mut self,
        status: Option<u16>,
        error: &str,
        headers: &[(String, String)],
        now: u64,
    ) {
        self.failures = self.failures.saturating_add(1);
        let problem = crate::report::problem_phrase(status, Some(error));
        if self.failures > self.max_retries {
            let message = format!(
                "{} failed after {} attempt(s): {problem}",
                self.describe_step(),
                self.failures
            );
            return self.finish(Some(message));
        }
        let (delay, _) =
            backoff::retry_delay_ms(headers, self.failures, self.seed, &mut self.draws);
        if now.saturating_add(delay) >= self.deadline {
            let message = format!(
                "{} failed ({problem}) and the check's timeout leaves no time to retry",
                self.describe_step()
            );
            return self.finish(Some(message));
        }
        self.next_send_at = now.saturating_add(delay);
        let message = crate::report::retrying_sentence(
            &self.describe_step(),
            &problem,
            delay,
            self.failures + 1,
        );
        self.events.push(Event::new(
            EventKind::Warning {
                code: "retrying".into(),
                path: None,
            },
            message,
        ));
    }
    fn on_response(&mut self, status: u16, headers: &[(String, String)], body: &str, now: u64) {
        if !(200..300).contains(&status) {
            let details = api_error(status, body).details;
            match status {
                408 | 429 | 500..=599 => {
                    return self.on_failure(Some(status), &details.join("; "), headers, now);
                }
                403 if matches!(self.step, Some(Step::Spans { .. })) => {
                    // A key without the APM scope leaves the FDD rules unchecked, not the check.
                    self.failures = 0;
                    self.step = None;
                    self.skip_fdd(&format!(
                        "the spans search was refused (HTTP 403): the application key needs the {APM_SCOPE} scope"
                    ));
                    return;
                }
                400 if matches!(self.step, Some(Step::Search { .. })) => {
                    // The search refused the query: the rule's problem, not the check's.
                    let Some(Step::Search { rule, .. }) = self.step.clone() else {
                        unreachable!()
                    };
                    let mut message =
                        "the monitor search refuses this query (HTTP 400)".to_string();
                    if !details.is_empty() {
                        message.push_str(&format!(": {}", details.join("; ")));
                    }
                    self.checks[rule].note = Some(message.clone());
                    self.rule_problem(rule, message, None);
                    self.failures = 0;
                    self.step = self.next_search(rule + 1);
                    return;
                }
                _ => {
                    let mut message = format!("{}: HTTP {status}", self.describe_step());
                    if !details.is_empty() {
                        message.push_str(&format!(": {}", details.join("; ")));
                    }
                    if matches!(status, 401 | 403) {
                        message.push_str(
                            " (the API key and the application key must be valid; reading monitors needs the monitors_read scope, reading gates the deployment gates read scope, searching spans apm_read)",
                        );
                    }
                    return self.finish(Some(message));
                }
            }
        }
        let result = match self.step.clone() {
            Some(Step::ListGates { cursor, page }) => self.on_gate_page(body, cursor, page),
            Some(Step::ListRules) => self.on_rules(body),
            Some(Step::Search { rule, page }) => self.on_search(body, rule, page),
            Some(Step::Spans { version }) => self.on_spans(body, version),
            None => Ok(()),
        };
        match result {
            Ok(()) => self.failures = 0,
            // A 2xx whose body cannot be read: a server fault, retried like one (and counted, so a
            // server that keeps answering garbage ends the check).
            Err(problem) => self.on_failure(Some(status), &problem, headers, now),
        }
    }
    fn describe_step(&self) -> String {
        match &self.step {
            Some(Step::ListGates { page, .. }) => format!("listing gates (page {page})"),
            Some(Step::ListRules) => {
                let g = self.gate.as_ref().expect("a gate");
                format!(
                    "reading the rules of gate {}/{}/{}",
                    g.service, g.env, g.identifier
                )
            }
            Some(Step::Search { rule, page }) => format!(
                "searching the monitors of {} \"{}\" (page {page})",
                self.checks[*rule].path, self.checks[*rule].name
            ),
            Some(Step::Spans { version }) => {
                let (service, env) = self.apm_target.clone().unwrap_or_default();
                match (version, &self.version) {
                    (true, Some(v)) => {
                        format!("searching the spans of service {service} version {v} in env {env}")
                    }
                    _ => format!("searching the spans of service {service} in env {env}"),
                }
            }
            None => "finishing".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::TransportErrorKind;

    const URL: &str = "http://127.0.0.1:9";

    fn options() -> OnlineOptions {
        OnlineOptions {
            api_url: Some(URL.into()),
            seed: 7,
            ..OnlineOptions::default()
        }
    }

    fn config(rules: &str) -> Source {
        Source::Config {
            config: ConfigInput::Text(format!("{{\"rules\": [{rules}]}}")),
            version: Some("v1".into()),
            allow_unknown_keys: false,
            service: None,
            env: None,
        }
    }

    /// A config whose rules would run for `checkout` in `prod`, deploying `v2`.
    fn config_for_checkout(rules: &str) -> Source {
        Source::Config {
            config: ConfigInput::Text(format!("{{\"rules\": [\n{rules}]}}")),
            version: Some("v2".into()),
            allow_unknown_keys: false,
            service: Some("checkout".into()),
            env: Some("prod".into()),
        }
    }

    const FDD: &str =
        r#"{"type": "faulty_deployment_detection", "name": "apm", "options": {"duration": 900}}"#;

    fn spans(n: usize) -> String {
        let data: Vec<Value> = (0..n)
            .map(|i| serde_json::json!({"id": format!("s{i}"), "type": "spans", "attributes": {"service": "checkout"}}))
            .collect();
        serde_json::json!({"data": data, "meta": {"status": "done"}}).to_string()
    }

    fn monitor_rule(name: &str, query: &str, extra: &str) -> String {
        format!(
            r#"{{"type": "monitor", "name": "{name}", {extra} "options": {{"query": "{query}", "duration": 60}}}}"#
        )
    }

    /// A search page: `ids` with their states, the total and the page count.
    fn page(monitors: &[(u64, &str)], total: u64, page: u64, page_count: u64) -> String {
        let items: Vec<Value> = monitors
            .iter()
            .map(|(id, status)| serde_json::json!({"id": id, "name": format!("m{id}"), "status": status, "type": "metric alert"}))
            .collect();
        serde_json::json!({"monitors": items, "metadata": {"page": page, "page_count": page_count, "per_page": 100, "total_count": total}}).to_string()
    }

    /// The request the check asks for now (its id and URL).
    fn expect_request(check: &mut Check, now: u64) -> (u64, String) {
        match check.poll(now) {
            OnlineAction::SendRequest {
                request_id, url, ..
            } => (request_id, url),
            other => panic!("expected a request, got {other:?}"),
        }
    }

    fn respond(check: &mut Check, id: u64, status: u16, body: &str, now: u64) {
        check
            .handle(
                Input::Response {
                    request_id: id,
                    status,
                    headers: vec![],
                    body: body.into(),
                },
                now,
            )
            .unwrap();
    }

    fn done(check: &mut Check, now: u64) -> OnlineReport {
        match check.poll(now) {
            OnlineAction::Done { report } => report,
            other => panic!("expected done, got {other:?}"),
        }
    }

    #[test]
    fn the_search_adds_muted_false_and_zero_matches_is_a_problem_with_the_path() {
        let rules = format!(
            "{},\n{}",
            monitor_rule("a", "service:a OR team:x", ""),
            monitor_rule("b", "service:b", "")
        );
        let mut check = Check::new(options(), config(&rules), 0).unwrap();
        let (id, url) = expect_request(&mut check, 0);
        assert!(
            url.starts_with(&format!("{URL}/api/v1/monitor/search?query=")),
            "{url}"
        );
        // (service:a OR team:x) muted:false
        assert!(
            url.contains(
                "query=%28service%3Aa%20OR%20team%3Ax%29%20muted%3Afalse&page=0&per_page=100"
            ),
            "{url}"
        );
        respond(&mut check, id, 200, &page(&[(1, "OK")], 1, 0, 1), 1);
        let (id, url) = expect_request(&mut check, 1);
        assert!(url.contains("service%3Ab"), "{url}");
        respond(&mut check, id, 200, &page(&[], 0, 0, 0), 2);
        let report = done(&mut check, 2);
        assert!(!report.ok);
        assert_eq!(report.exit_code(), 2);
        assert_eq!(report.problems.len(), 1, "{report:?}");
        let p = &report.problems[0];
        assert_eq!(p.path, "rules[1].options.query");
        assert_eq!(p.line, Some(2), "{p:?}");
        assert!(p.message.contains("no monitor matches"), "{p}");
        assert_eq!(report.rules[0].matched, Some(1));
        assert_eq!(report.rules[1].matched, Some(0));
        assert_eq!(report.requests, 2);
    }

    #[test]
    fn more_than_fifty_is_a_problem_and_the_count_comes_from_the_total() {
        let mut check =
            Check::new(options(), config(&monitor_rule("a", "env:prod", "")), 0).unwrap();
        let (id, _) = expect_request(&mut check, 0);
        let many: Vec<(u64, &str)> = (1..=100).map(|i| (i, "OK")).collect();
        respond(&mut check, id, 200, &page(&many, 120, 0, 2), 1);
        // 100 already known: no second page is needed to know it is over 50.
        let report = done(&mut check, 1);
        assert_eq!(report.exit_code(), 2);
        assert!(
            report.problems[0].message.starts_with("120 monitors match"),
            "{report:?}"
        );
        assert_eq!(report.rules[0].monitors.len(), LISTED_MONITORS);
        assert_eq!(report.requests, 1);
    }

    #[test]
    fn pages_are_followed_when_the_server_pages_below_fifty() {
        let mut check =
            Check::new(options(), config(&monitor_rule("a", "env:prod", "")), 0).unwrap();
        let (id, url) = expect_request(&mut check, 0);
        assert!(url.ends_with("&page=0&per_page=100"));
        // A server that caps per_page at 30.
        let first: Vec<(u64, &str)> = (1..=30).map(|i| (i, "OK")).collect();
        respond(&mut check, id, 200, &page(&first, 45, 0, 2), 1);
        let (id, url) = expect_request(&mut check, 1);
        assert!(url.ends_with("&page=1&per_page=100"), "{url}");
        let second: Vec<(u64, &str)> = (31..=45)
            .map(|i| (i, if i == 44 { "Alert" } else { "OK" }))
            .collect();
        respond(&mut check, id, 200, &page(&second, 45, 1, 2), 2);
        let report = done(&mut check, 2);
        assert!(report.ok, "{report:?}");
        assert_eq!(report.exit_code(), 0);
        assert_eq!(report.rules[0].matched, Some(45));
        assert!(report.rules[0].would_fail_now);
        assert!(
            report.warnings[0].message.contains("44 \"m44\" (Alert)"),
            "{report:?}"
        );
    }

    #[test]
    fn alerting_now_is_a_warning_and_no_data_only_with_fail_on_no_data() {
        let rules = format!(
            "{}, {}",
            r#"{"type": "monitor", "name": "nd", "options": {"query": "service:a", "duration": 60, "failOnNoData": true}}"#,
            monitor_rule("plain", "service:b", "")
        );
        let mut check = Check::new(options(), config(&rules), 0).unwrap();
        let (id, _) = expect_request(&mut check, 0);
        respond(
            &mut check,
            id,
            200,
            &page(&[(1, "No Data"), (2, "OK")], 2, 0, 1),
            1,
        );
        let (id, _) = expect_request(&mut check, 1);
        respond(
            &mut check,
            id,
            200,
            &page(&[(3, "No Data"), (4, "Warn")], 2, 0, 1),
            2,
        );
        let report = done(&mut check, 2);
        assert_eq!(report.exit_code(), 0, "{report:?}");
        assert!(report.rules[0].would_fail_now);
        assert!(
            !report.rules[1].would_fail_now,
            "No Data without fail_on_no_data does not fail"
        );
        assert_eq!(report.warnings.len(), 1);
        assert_eq!(report.warnings[0].path, "rules[0].options.query");
        assert!(
            report.warnings[0].message.starts_with("would fail now"),
            "{report:?}"
        );
    }

    #[test]
    fn a_dry_run_rule_reports_its_problems_as_warnings() {
        let rule = monitor_rule("a", "service:none", r#""dryRun": true,"#);
        let mut check = Check::new(options(), config(&rule), 0).unwrap();
        let (id, _) = expect_request(&mut check, 0);
        respond(&mut check, id, 200, &page(&[], 0, 0, 0), 1);
        let report = done(&mut check, 1);
        assert_eq!(report.exit_code(), 0);
        assert!(report.warnings[0].message.contains("dry run"), "{report:?}");
    }

    #[test]
    fn a_search_400_is_the_rules_problem_and_other_4xx_end_the_check() {
        let mut check =
            Check::new(options(), config(&monitor_rule("a", "service:a", "")), 0).unwrap();
        let (id, _) = expect_request(&mut check, 0);
        respond(&mut check, id, 400, r#"{"errors": ["invalid query"]}"#, 1);
        let report = done(&mut check, 1);
        assert_eq!(report.exit_code(), 2);
        assert!(
            report.problems[0].message.contains("invalid query"),
            "{report:?}"
        );

        let mut check =
            Check::new(options(), config(&monitor_rule("a", "service:a", "")), 0).unwrap();
        let (id, _) = expect_request(&mut check, 0);
        respond(&mut check, id, 403, r#"{"errors": ["Forbidden"]}"#, 1);
        let report = done(&mut check, 1);
        assert_eq!(report.exit_code(), 1);
        assert!(
            report
                .error
                .as_deref()
                .unwrap()
                .contains("HTTP 403: Forbidden"),
            "{report:?}"
        );
        assert_eq!(report.requests, 1, "a 403 is not retried");
    }

    #[test]
    fn server_errors_and_garbage_are_retried_with_backoff_then_give_up() {
        let opts = OnlineOptions {
            max_retries: Some(2),
            ..options()
        };
        let mut check = Check::new(opts, config(&monitor_rule("a", "service:a", "")), 0).unwrap();
        let (id, _) = expect_request(&mut check, 0);
        respond(&mut check, id, 503, "", 10);
        let until = match check.poll(10) {
            OnlineAction::Wait {
                until,
                reason: WaitReason::RetryBackoff,
            } => until,
            other => panic!("{other:?}"),
        };
        assert!((4_000..6_100).contains(&(until - 10)), "{until}");
        assert!(check.drain_events()[0].message.contains("HTTP 503"));
        check.handle(Input::Timeout, until).unwrap();
        let (id, _) = expect_request(&mut check, until);
        respond(&mut check, id, 200, "<html>oops</html>", until + 1);
        let until = match check.poll(until + 1) {
            OnlineAction::Wait { until, .. } => until,
            other => panic!("{other:?}"),
        };
        let (id, _) = expect_request(&mut check, until);
        respond(&mut check, id, 200, r#"{"monitors": "nope"}"#, until + 1);
        let report = done(&mut check, until + 1);
        assert_eq!(report.exit_code(), 1);
        let error = report.error.unwrap();
        assert!(
            error.contains("after 3 attempt(s)") && error.contains("not an array"),
            "{error}"
        );
    }

    #[test]
    fn retry_after_is_honoured_and_the_timeout_bounds_the_check() {
        let opts = OnlineOptions {
            timeout_ms: Some(20_000),
            ..options()
        };
        let mut check = Check::new(opts, config(&monitor_rule("a", "service:a", "")), 0).unwrap();
        let (id, _) = expect_request(&mut check, 0);
        check
            .handle(
                Input::Response {
                    request_id: id,
                    status: 429,
                    headers: vec![("Retry-After".into(), "7".into())],
                    body: String::new(),
                },
                0,
            )
            .unwrap();
        assert!(matches!(
            check.poll(0),
            OnlineAction::Wait { until: 7_000, .. }
        ));
        let (id, _) = expect_request(&mut check, 7_000);
        check
            .handle(
                Input::Response {
                    request_id: id,
                    status: 429,
                    headers: vec![("Retry-After".into(), "60".into())],
                    body: String::new(),
                },
                7_000,
            )
            .unwrap();
        let report = done(&mut check, 7_000);
        assert!(report.error.unwrap().contains("timeout leaves no time"));
    }

    #[test]
    fn transport_errors_retry_and_tls_does_not() {
        let mut check =
            Check::new(options(), config(&monitor_rule("a", "service:a", "")), 0).unwrap();
        let (id, _) = expect_request(&mut check, 0);
        check
            .handle(
                Input::TransportError {
                    request_id: id,
                    kind: TransportErrorKind::Connect,
                    message: "refused".into(),
                },
                0,
            )
            .unwrap();
        assert!(matches!(check.poll(0), OnlineAction::Wait { .. }));
        let mut check =
            Check::new(options(), config(&monitor_rule("a", "service:a", "")), 0).unwrap();
        let (id, _) = expect_request(&mut check, 0);
        check
            .handle(
                Input::TransportError {
                    request_id: id,
                    kind: TransportErrorKind::Tls,
                    message: "bad certificate".into(),
                },
                0,
            )
            .unwrap();
        assert_eq!(done(&mut check, 0).exit_code(), 1);
    }

    #[test]
    fn fdd_without_service_data_is_a_warning_and_the_version_is_information() {
        let rules = format!("{FDD},\n{}", monitor_rule("m", "service:checkout", ""));
        let mut check = Check::new(options(), config_for_checkout(&rules), 0).unwrap();
        // Monitor searches first, then the service's spans, then the version's.
        let (id, url) = expect_request(&mut check, 0);
        assert!(url.contains("/api/v1/monitor/search"), "{url}");
        respond(&mut check, id, 200, &page(&[(1, "OK")], 1, 0, 1), 1);
        let (id, url) = expect_request(&mut check, 1);
        assert_eq!(
            url,
            format!(
                "{URL}/api/v2/spans/events?filter[query]=service%3A%22checkout%22%20env%3A%22prod%22&filter[from]=now-24h&filter[to]=now&page[limit]=1"
            )
        );
        respond(&mut check, id, 200, &spans(0), 2);
        let (id, url) = expect_request(&mut check, 2);
        assert!(url.contains("%20version%3A%22v2%22&"), "{url}");
        respond(&mut check, id, 200, r#"{"meta": {"status": "done"}}"#, 3);
        let report = done(&mut check, 3);
        assert_eq!(report.exit_code(), 0, "{report:?}");
        assert_eq!(report.requests, 3);
        let apm = report.rules[0].apm.as_ref().unwrap();
        assert!(!apm.service_data);
        assert_eq!(apm.version_data, Some(false));
        assert_eq!(report.warnings.len(), 1, "{report:?}");
        let w = &report.warnings[0];
        assert_eq!(w.path, "rules[0]");
        assert_eq!(w.line, Some(2), "{w:?}");
        assert!(
            w.message.starts_with("no APM data for service checkout in env prod in the last 24h (nor for version v2): Faulty Deployment Detection has nothing to compare"),
            "{w}"
        );
        let text = render_text(&report);
        assert!(
            text.contains("rules[0] faulty_deployment_detection \"apm\": no APM data for service checkout in env prod in the last 24h; none yet for version v2"),
            "{text}"
        );
    }

    #[test]
    fn fdd_with_service_data_reports_it_and_two_rules_share_one_search() {
        let rules = format!("{FDD},\n{}", FDD.replace("\"apm\"", "\"apm2\""));
        let mut check = Check::new(options(), config_for_checkout(&rules), 0).unwrap();
        let (id, _) = expect_request(&mut check, 0);
        respond(&mut check, id, 200, &spans(1), 1);
        let (id, _) = expect_request(&mut check, 1);
        respond(&mut check, id, 200, &spans(1), 2);
        let report = done(&mut check, 2);
        assert_eq!(report.requests, 2);
        assert!(report.ok && report.warnings.is_empty(), "{report:?}");
        for rule in &report.rules {
            assert_eq!(rule.status, "checked");
            let note = rule.note.as_deref().unwrap();
            assert!(
                note.starts_with("APM data for service checkout in env prod"),
                "{note}"
            );
            assert!(note.ends_with("version v2 has APM data already"), "{note}");
        }
        assert!(
            render_markdown(&report)
                .contains("| `rules[1]` apm2 | faulty_deployment_detection | — | — |")
        );
    }

    #[test]
    fn a_spans_403_is_a_warning_naming_the_scope_and_other_4xx_end_the_check() {
        let mut check = Check::new(options(), config_for_checkout(FDD), 0).unwrap();
        let (id, _) = expect_request(&mut check, 0);
        respond(&mut check, id, 403, r#"{"errors": ["Forbidden"]}"#, 1);
        let report = done(&mut check, 1);
        assert_eq!(report.exit_code(), 0, "{report:?}");
        assert_eq!(report.rules[0].status, "skipped");
        assert_eq!(report.warnings.len(), 1);
        assert_eq!(report.warnings[0].path, "rules[0]");
        assert!(
            report.warnings[0].message.contains("apm_read"),
            "{:?}",
            report.warnings
        );

        let mut check = Check::new(options(), config_for_checkout(FDD), 0).unwrap();
        let (id, _) = expect_request(&mut check, 0);
        respond(
            &mut check,
            id,
            400,
            r#"{"errors": [{"status": "400", "title": "Bad Request", "detail": "invalid query"}]}"#,
            1,
        );
        let report = done(&mut check, 1);
        assert_eq!(report.exit_code(), 1);
        let error = report.error.unwrap();
        assert!(
            error.starts_with(
                "searching the spans of service checkout in env prod: HTTP 400: invalid query"
            ),
            "{error}"
        );
    }

    #[test]
    fn spans_queries_quote_their_values() {
        assert_eq!(
            spans_query("a b", "pr\"od", Some("v\\1")),
            r#"service:"a b" env:"pr\"od" version:"v\\1""#
        );
    }

    #[test]
    fn fdd_and_monitor_id_rules_are_skipped_with_the_reason() {
        let rules = r#"{"type": "faulty_deployment_detection", "name": "apm", "options": {"duration": 900, "excludedResources": ["GET /health"]}},
            {"type": "monitor", "name": "ids", "options": {"monitorIds": [{"id": "12", "groups": []}]}}"#;
        let mut check = Check::new(options(), config(rules), 0).unwrap();
        let report = done(&mut check, 0);
        assert_eq!(report.requests, 0);
        assert_eq!(report.exit_code(), 0);
        assert!(report.rules.iter().all(|r| r.status == "skipped"));
        assert!(
            report.rules[0]
                .note
                .as_deref()
                .unwrap()
                .contains("APM data")
        );
    }

    #[test]
    fn an_invalid_config_is_refused_before_any_request() {
        let err = Check::new(
            options(),
            config(r#"{"type": "monitor", "name": "a", "options": {"query": "service:\"x"}}"#),
            0,
        )
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidConfig);
        assert_eq!(err.problems[0].path, "rules[0].options.query");
    }

    const GATE: &str = "0b5f3c52-39a3-4d7e-9b1e-2b7a4d6f8a01";

    #[test]
    fn a_preconfigured_gate_is_found_by_filter_then_its_rules_are_searched() {
        let source = Source::Gate {
            service: "check out".into(),
            env: "prod".into(),
            identifier: None,
            version: None,
        };
        let mut check = Check::new(options(), source, 0).unwrap();
        let (id, url) = expect_request(&mut check, 0);
        assert_eq!(
            url,
            format!(
                "{URL}/api/v2/deployment_gates?filter[service]=check%20out&filter[env]=prod&page[size]=100"
            )
        );
        let other = "1b5f3c52-39a3-4d7e-9b1e-2b7a4d6f8a01";
        let gates = serde_json::json!({"data": [
            {"id": other, "type": "deployment_gate", "attributes": {"service": "check out", "env": "prod", "identifier": "canary", "dry_run": false}},
            {"id": GATE, "type": "deployment_gate", "attributes": {"service": "check out", "env": "prod", "identifier": "default", "dry_run": false}}
        ], "meta": {"page": {"size": 100}}});
        respond(&mut check, id, 200, &gates.to_string(), 1);
        let (id, url) = expect_request(&mut check, 1);
        assert_eq!(url, format!("{URL}/api/v2/deployment_gates/{GATE}/rules"));
        let rules = serde_json::json!({"data": {"id": GATE, "type": "list_deployment_rules", "attributes": {"rules": [
            {"name": "apm", "type": "faulty_deployment_detection", "dry_run": false, "options": {"duration": 900}},
            {"name": "mon", "type": "monitor", "dry_run": false, "options": {"query": "service:x", "duration": 60}}
        ]}}});
        respond(&mut check, id, 200, &rules.to_string(), 2);
        let (id, url) = expect_request(&mut check, 2);
        assert!(
            url.contains("/api/v1/monitor/search?query=%28service%3Ax%29"),
            "{url}"
        );
        respond(&mut check, id, 200, &page(&[(9, "Alert")], 1, 0, 1), 3);
        // The FDD rule: the gate's own service and env are searched for spans.
        let (id, url) = expect_request(&mut check, 3);
        assert!(
            url.contains("filter[query]=service%3A%22check%20out%22%20env%3A%22prod%22&"),
            "{url}"
        );
        respond(&mut check, id, 200, &spans(1), 3);
        let report = done(&mut check, 3);
        assert_eq!(
            report.rules[0].apm.as_ref().map(|a| a.service_data),
            Some(true)
        );
        assert_eq!(report.source, "gate");
        assert_eq!(report.gate.as_ref().unwrap().id, GATE);
        assert_eq!(report.rules[1].path, "rules[1]");
        assert!(report.rules[1].would_fail_now);
        assert_eq!(report.exit_code(), 0);
        assert!(render_text(&report).contains("WOULD FAIL NOW"));
        assert!(render_markdown(&report).contains("| `rules[1]` mon |"));
    }

    #[test]
    fn a_missing_gate_is_a_problem() {
        let source = Source::Gate {
            service: "nope".into(),
            env: "prod".into(),
            identifier: Some("blue".into()),
            version: None,
        };
        let mut check = Check::new(options(), source, 0).unwrap();
        let (id, _) = expect_request(&mut check, 0);
        respond(
            &mut check,
            id,
            200,
            r#"{"data": [], "meta": {"page": {"size": 100}}}"#,
            1,
        );
        let report = done(&mut check, 1);
        assert_eq!(report.exit_code(), 2);
        assert!(
            report.problems[0].message.contains("identifier \"blue\""),
            "{report:?}"
        );
    }

    #[test]
    fn keys_go_in_headers_only_and_unknown_request_ids_are_refused() {
        let opts = OnlineOptions {
            api_key: Some("SECRETAPIKEY".into()),
            app_key: Some("SECRETAPPKEY".into()),
            ..options()
        };
        assert!(!format!("{opts:?}").contains("SECRET"));
        let mut check = Check::new(opts, config(&monitor_rule("a", "service:a", "")), 0).unwrap();
        let OnlineAction::SendRequest { headers, url, .. } = check.poll(0) else {
            panic!()
        };
        assert!(!url.contains("SECRET"));
        assert!(headers.contains(&("DD-API-KEY".into(), "SECRETAPIKEY".into())));
        let err = check
            .handle(
                Input::Response {
                    request_id: 99,
                    status: 200,
                    headers: vec![],
                    body: String::new(),
                },
                0,
            )
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::UnknownRequest);
    }
}
