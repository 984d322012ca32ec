//! Gates as code: read the preconfigured gates and their rules, compare them with a gates file,
//! and carry out the difference, sans-IO like the evaluation [`Engine`](crate::Engine).
//!
//! A [`Run`] is driven exactly as an engine: at start and after each [`Run::handle`], call
//! [`Run::poll`] until it returns `wait` or `done`. It asks for the requests to make
//! ([`GatesAction::SendRequest`]), for waits (a retry's backoff) and ends with a [`Report`]:
//!
//! 1. list the gates (`GET /api/v2/deployment_gates`, paged with `page[cursor]` until
//!    `meta.page.next_cursor` is absent or null), then each relevant gate's rules;
//! 2. `export`: the file form of what exists; `plan`: the [`Plan`]; `apply`: the plan, then its
//!    requests one by one, in order (a gate before its rules).
//!
//! Every request is retried like the engine's (429, 408, 5xx and transport errors, with the
//! engine's backoff and the server's `Retry-After`), at most `max_retries` times; any other 4xx
//! stops the run with the server's detail. A DELETE answered 404 is already done. Each change is
//! idempotent given the live state, so an interrupted apply is resumed by running it again: the
//! plan is computed anew from what exists.
//!
//! ```
//! use gatepost_core::gates::{self, GatesAction, GatesOptions, Task};
//! use gatepost_core::{ConfigInput, Input};
//!
//! let file = r#"{"gates": [{"service": "checkout", "env": "prod", "rules": [
//!   {"type": "monitor", "name": "m", "options": {"query": "service:checkout"}}]}]}"#;
//! let options = GatesOptions {
//!     api_url: Some("http://127.0.0.1:8126".into()),
//!     ..GatesOptions::default()
//! };
//! let task = Task::Plan { file: ConfigInput::Text(file.into()), prune: None };
//! let mut run = gates::Run::new(options, task, 0).unwrap();
//! let GatesAction::SendRequest { request_id, url, .. } = run.poll(0) else { panic!() };
//! assert_eq!(url, "http://127.0.0.1:8126/api/v2/deployment_gates?page[size]=100");
//! run.handle(Input::Response { request_id, status: 200, headers: vec![],
//!     body: r#"{"data": [], "meta": {"page": {"cursor": "", "size": 100}}}"#.into() }, 1).unwrap();
//! let GatesAction::Done { report } = run.poll(1) else { panic!() };
//! let plan = report.plan.unwrap();
//! assert_eq!(plan.changes.len(), 2); // create the gate, then its rule
//! ```

pub mod file;
pub mod plan;

pub use file::{DesiredGate, GatesFile, Scope, json_schema};
pub use plan::{Change, ChangeAction, LiveGate, LiveRule, Plan, render_markdown, render_text};

use crate::backoff;
use crate::error::{Error, ErrorCode, Problem};
use crate::event::{Event, EventKind};
use crate::exchange::{self, Exchange, InFlight, summarize};
use crate::io::{Input, WaitReason};
use crate::machine::{api_error, auth_headers, is_uuid};
use crate::options::ConfigInput;
use crate::site::Endpoint;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The identifier the API gives a gate created without one.
pub const DEFAULT_IDENTIFIER: &str = "default";
/// Retries of one request before the run stops (each after the engine's backoff).
pub const DEFAULT_MAX_RETRIES: u32 = 5;
/// Gates asked for per page of the gate list.
pub const PAGE_SIZE: u32 = 100;
/// A gate list longer than this many pages is refused (a server that never stops paging).
const MAX_PAGES: u32 = 10_000;

/// Where requests go and how hard to try: the same names as the engine's [`Options`](crate::Options).
#[derive(Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct GatesOptions {
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
    /// Seed of the retry jitter.
    #[serde(default)]
    pub seed: u64,
}

impl std::fmt::Debug for GatesOptions {
    /// Keys are never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatesOptions")
            .field("site", &self.site)
            .field("api_url", &self.api_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("app_key", &self.app_key.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

/// What to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "task", rename_all = "snake_case", deny_unknown_fields)]
pub enum Task {
    /// Read the gates (those matching `scope`, every gate without one) as a gates file.
    Export {
        #[serde(default)]
        scope: Option<Scope>,
    },
    /// Compare the file with what exists.
    Plan {
        file: ConfigInput,
        /// Delete gates absent from the file within this scope.
        #[serde(default)]
        prune: Option<Scope>,
    },
    /// Compare, then carry out the changes.
    Apply {
        file: ConfigInput,
        #[serde(default)]
        prune: Option<Scope>,
    },
}

/// What the run asks the host to do (the same shape as the engine's [`Action`](crate::Action),
/// with a [`Report`] at the end).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum GatesAction {
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
        report: Report,
    },
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// `export`, `plan` or `apply`.
    pub task: String,
    /// No error: the export, the plan or every change of the apply succeeded.
    pub ok: bool,
    /// `plan` and `apply`: the changes computed from the live state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<Plan>,
    /// `apply`: how many of the plan's changes were carried out, in order.
    #[serde(default)]
    pub applied: usize,
    /// `export`: the gates file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export: Option<Value>,
    /// What stopped the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Warnings from the file's checks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Problem>,
    pub requests: u32,
}

/// What a request is for.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    ListGates {
        cursor: Option<String>,
        page: u32,
    },
    ListRules {
        gate: usize,
    },
    /// Carry out a change; `recreate`: the second request of a replace (the POST of the gate).
    Apply {
        change: usize,
        recreate: bool,
    },
}

/// Method, URL and body of a request to send.
type HttpRequest = (&'static str, String, Option<String>);

/// One export, plan or apply. See the module docs for the loop.
pub struct Run {
    task: Task,
    desired: Option<GatesFile>,
    prune: Option<Scope>,
    endpoint: Endpoint,
    api_key: Option<String>,
    app_key: Option<String>,
    request_timeout_ms: u64,
    max_body_bytes: u64,
    max_retries: u32,
    seed: u64,
    draws: u64,
    clock: u64,
    next_request_id: u64,
    requests: u32,
    step: Option<Step>,
    in_flight: Option<InFlight>,
    failures: u32,
    next_send_at: u64,
    live: Vec<LiveGate>,
    /// Indexes into `live` of the gates whose rules are read.
    relevant: Vec<usize>,
    plan: Option<Plan>,
    applied: usize,
    /// Ids of gates created (or re-created) during this apply, by `service/env/identifier`.
    created: BTreeMap<String, String>,
    events: Vec<Event>,
    report: Option<Report>,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Run")
            .field("task", &self.task_name())
            .field("step", &self.step)
            .field("requests", &self.requests)
            .finish_non_exhaustive()
    }
}

impl Run {
    /// Check the options (and the file, for plan and apply) and start. Invalid options give an
    /// `invalid_options` error, an invalid file an `invalid_config` error; each lists every
    /// problem with its path.
    pub fn new(options: GatesOptions, task: Task, now: u64) -> Result<Run, Error> {
        let mut problems = Vec::new();
        let connection =
            exchange::check_connection(&exchange::connection_options!(options), &mut problems);
        let prune = match &task {
            Task::Plan { prune, .. } | Task::Apply { prune, .. } => prune.clone(),
            Task::Export { .. } => None,
        };
        if prune.as_ref().is_some_and(Scope::is_empty) {
            problems.push(
                Problem::new(
                    "prune",
                    "an empty scope would delete every gate not in the file",
                )
                .with_hint("name a service, an env or an identifier (--service, --env)"),
            );
        }
        if !problems.is_empty() {
            return Err(Error::with_problems(
                ErrorCode::InvalidOptions,
                summarize("invalid options", &problems),
                problems,
            ));
        }
        let desired = match &task {
            Task::Plan { file, .. } | Task::Apply { file, .. } => {
                Some(file::parse(file).map_err(|problems| {
                    Error::with_problems(
                        ErrorCode::InvalidConfig,
                        summarize("invalid gates file", &problems),
                        problems,
                    )
                })?)
            }
            Task::Export { .. } => None,
        };
        let connection = connection.expect("no problems means the connection was checked");
        Ok(Run {
            task,
            desired,
            prune,
            endpoint: connection.endpoint,
            api_key: options.api_key,
            app_key: options.app_key,
            request_timeout_ms: connection.request_timeout_ms,
            max_body_bytes: connection.max_body_bytes,
            max_retries: options.max_retries.unwrap_or(DEFAULT_MAX_RETRIES),
            seed: options.seed,
            draws: 0,
            clock: now,
            next_request_id: 1,
            requests: 0,
            step: Some(Step::ListGates {
                cursor: None,
                page: 1,
            }),
            in_flight: None,
            failures: 0,
            next_send_at: now,
            live: Vec::new(),
            relevant: Vec::new(),
            plan: None,
            applied: 0,
            created: BTreeMap::new(),
            events: Vec::new(),
            report: None,
        })
    }

    fn task_name(&self) -> &'static str {
        match self.task {
            Task::Export { .. } => "export",
            Task::Plan { .. } => "plan",
            Task::Apply { .. } => "apply",
        }
    }

    /// Take the queued events (retries, progress of an apply), oldest first. The file's warnings are
    /// in the [`Report`].
    pub fn drain_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// The report, once the run is over.
    pub fn report(&self) -> Option<&Report> {
        self.report.as_ref()
    }

    /// What to do next.
    pub fn poll(&mut self, now: u64) -> GatesAction {
        self.clock = self.clock.max(now);
        let now = self.clock;
        loop {
            if let Some(report) = &self.report {
                return GatesAction::Done {
                    report: report.clone(),
                };
            }
            if let Some(flight) = &self.in_flight {
                if now < flight.expires_at {
                    return GatesAction::Wait {
                        until: flight.expires_at,
                        reason: WaitReason::AwaitingResponse,
                    };
                }
                self.in_flight = None;
                self.on_failure(None, "timeout", &[], now);
                continue;
            }
            if now < self.next_send_at {
                return GatesAction::Wait {
                    until: self.next_send_at,
                    reason: WaitReason::RetryBackoff,
                };
            }
            match self.request() {
                Ok(Some((method, url, body))) => return self.send(method, url, body, now),
                Ok(None) => continue,
                Err(message) => self.finish(Some(message)),
            }
        }
    }

    /// Feed what happened to the last request (or `timeout` / `cancel`).
    pub fn handle(&mut self, input: Input, now: u64) -> Result<(), Error> {
        exchange::handle(self, input, now)
    }

    /// The request of the current step, or `None` when the step was done without one.
    fn request(&mut self) -> Result<Option<HttpRequest>, String> {
        let base = format!("{}/api/v2/deployment_gates", self.endpoint.base_url);
        let Some(step) = self.step.clone() else {
            self.after_reading()?;
            return Ok(None);
        };
        Ok(Some(match step {
            Step::ListGates { cursor, .. } => {
                let mut url = format!("{base}?page[size]={PAGE_SIZE}");
                if let Some(cursor) = cursor {
                    url.push_str("&page[cursor]=");
                    url.push_str(&percent_encode(&cursor));
                }
                ("GET", url, None)
            }
            Step::ListRules { gate } => {
                let id = &self.live[self.relevant[gate]].id;
                ("GET", format!("{base}/{id}/rules"), None)
            }
            Step::Apply { change, recreate } => {
                let plan = self.plan.as_ref().expect("applying a plan");
                let c = &plan.changes[change];
                let gate_key = format!("{}/{}/{}", c.service, c.env, c.identifier);
                let gate_id = self.created.get(&gate_key).or(c.gate_id.as_ref());
                let data = |attributes: Value, kind: &str| {
                    Some(json!({"data": {"type": kind, "attributes": attributes}}).to_string())
                };
                let creates_gate = c.action == ChangeAction::Create
                    || (c.action == ChangeAction::Replace && recreate);
                match (c.action, &c.rule) {
                    (_, None) if creates_gate => (
                        "POST",
                        base,
                        data(c.create.clone().unwrap_or_default(), "deployment_gate"),
                    ),
                    (ChangeAction::Update, None) => {
                        let id = gate_id.ok_or("no gate id")?;
                        let body = json!({"data": {"id": id, "type": "deployment_gate",
                            "attributes": {"dry_run": c.after.as_ref().and_then(|a| a.get("dry_run")).cloned().unwrap_or(Value::Bool(false))}}});
                        ("PUT", format!("{base}/{id}"), Some(body.to_string()))
                    }
                    (_, None) => {
                        // A delete, or the first request of a replace.
                        let id = gate_id.ok_or("no gate id")?;
                        ("DELETE", format!("{base}/{id}"), None)
                    }
                    (action, Some(_)) => {
                        let id = gate_id
                            .ok_or_else(|| format!("{}: the gate's id is unknown", c.subject()))?;
                        let rule_url = format!("{base}/{id}/rules");
                        match action {
                            ChangeAction::Create => (
                                "POST",
                                rule_url,
                                data(c.after.clone().unwrap_or_default(), "deployment_rule"),
                            ),
                            ChangeAction::Update => {
                                let rule_id = c.rule_id.as_ref().ok_or("no rule id")?;
                                let after = c.after.clone().unwrap_or_default();
                                // The update takes name, options and dry_run; never the type.
                                let attributes = json!({
                                    "name": after["name"],
                                    "dry_run": after["dry_run"],
                                    "options": after["options"],
                                });
                                (
                                    "PUT",
                                    format!("{rule_url}/{rule_id}"),
                                    data(attributes, "deployment_rule"),
                                )
                            }
                            _ => {
                                let rule_id = c.rule_id.as_ref().ok_or("no rule id")?;
                                ("DELETE", format!("{rule_url}/{rule_id}"), None)
                            }
                        }
                    }
                }
            }
        }))
    }

    /// All reading done: export, plan, or start applying.
    fn after_reading(&mut self) -> Result<(), String> {
        match &self.task {
            Task::Export { scope } => {
                let gates: Vec<LiveGate> = self
                    .relevant
                    .iter()
                    .map(|i| self.live[*i].clone())
                    .filter(|g| {
                        scope
                            .as_ref()
                            .is_none_or(|s| s.matches(&g.service, &g.env, &g.identifier))
                    })
                    .collect();
                let export = file::export(&gates);
                self.report = Some(self.make_report(None, Some(export)));
            }
            Task::Plan { .. } | Task::Apply { .. } => {
                let desired = self.desired.as_ref().expect("plan and apply have a file");
                let relevant: Vec<LiveGate> = self
                    .relevant
                    .iter()
                    .map(|i| self.live[*i].clone())
                    .collect();
                let plan = plan::plan(desired, &relevant, self.prune.as_ref());
                let apply = matches!(self.task, Task::Apply { .. });
                let any = plan.has_changes();
                self.plan = Some(plan);
                if apply && any {
                    self.step = Some(Step::Apply {
                        change: 0,
                        recreate: false,
                    });
                } else {
                    self.report = Some(self.make_report(None, None));
                }
            }
        }
        Ok(())
    }

    fn make_report(&self, error: Option<String>, export: Option<Value>) -> Report {
        Report {
            task: self.task_name().to_string(),
            ok: error.is_none(),
            plan: self.plan.clone(),
            applied: self.applied,
            export,
            error,
            warnings: self
                .desired
                .as_ref()
                .map(|d| d.warnings.clone())
                .unwrap_or_default(),
            requests: self.requests,
        }
    }

    fn send(&mut self, method: &str, url: String, body: Option<String>, now: u64) -> GatesAction {
        let request_id = self.next_request_id;
        self.next_request_id += 1;
        self.requests = self.requests.saturating_add(1);
        let mut headers = vec![("Accept".to_string(), "application/json".to_string())];
        if body.is_some() {
            headers.push(("Content-Type".to_string(), "application/json".to_string()));
        }
        auth_headers(
            &mut headers,
            self.api_key.as_deref(),
            self.app_key.as_deref(),
        );
        self.in_flight = Some(InFlight {
            request_id,
            expires_at: now.saturating_add(self.request_timeout_ms),
        });
        GatesAction::SendRequest {
            request_id,
            method: method.to_string(),
            url,
            headers,
            body,
            timeout_ms: self.request_timeout_ms,
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
        for item in data {
            self.live.push(parse_gate(item)?);
        }
        let next = v
            .pointer("/meta/page/next_cursor")
            .and_then(Value::as_str)
            .filter(|c| !c.is_empty())
            .map(str::to_string);
        match next {
            Some(next) if Some(&next) != cursor.as_ref() && page < MAX_PAGES => {
                self.step = Some(Step::ListGates {
                    cursor: Some(next),
                    page: page + 1,
                });
            }
            Some(_) => {
                return Err("the gate list pages do not end (the same cursor came back)".into());
            }
            None => {
                self.relevant = (0..self.live.len())
                    .filter(|i| self.is_relevant(&self.live[*i]))
                    .collect();
                self.step = (!self.relevant.is_empty()).then_some(Step::ListRules { gate: 0 });
            }
        }
        Ok(())
    }

    /// Whether a live gate's rules must be read: it is in the file, or in the prune or export scope.
    fn is_relevant(&self, g: &LiveGate) -> bool {
        let in_scope = |s: &Option<Scope>| {
            s.as_ref()
                .is_some_and(|s| s.matches(&g.service, &g.env, &g.identifier))
        };
        match &self.task {
            Task::Export { scope } => scope.is_none() || in_scope(scope),
            _ => {
                in_scope(&self.prune)
                    || self.desired.as_ref().is_some_and(|d| {
                        d.gates.iter().any(|w| {
                            w.service == g.service
                                && w.env == g.env
                                && w.identifier_or_default() == g.identifier
                        })
                    })
            }
        }
    }

    fn on_rules(&mut self, body: &str, gate: usize) -> Result<(), String> {
        let v: Value = serde_json::from_str(body).map_err(|_| "the rule list is not JSON")?;
        let items = v
            .pointer("/data/attributes/rules")
            .or_else(|| v.get("data").filter(|d| d.is_array()))
            .and_then(Value::as_array)
            .ok_or("the rule list has no data.attributes.rules array")?;
        let rules = items
            .iter()
            .map(parse_rule)
            .collect::<Result<Vec<_>, _>>()?;
        let index = self.relevant[gate];
        self.live[index].rules = rules;
        self.step = (gate + 1 < self.relevant.len()).then_some(Step::ListRules { gate: gate + 1 });
        Ok(())
    }

    fn on_applied(&mut self, change: usize, recreate: bool, body: &str) -> Result<(), String> {
        let c = self.plan.as_ref().expect("a plan").changes[change].clone();
        match (c.action, &c.rule, recreate) {
            (ChangeAction::Replace, None, false) => {
                // The old gate (and its rules) are gone; the same change now creates it again.
                self.progress("deleted", change, "to create it again");
                self.step = Some(Step::Apply {
                    change,
                    recreate: true,
                });
                return Ok(());
            }
            (ChangeAction::Create | ChangeAction::Replace, None, _) => {
                self.created.insert(gate_key(&c), created_id(body)?);
            }
            _ => {}
        }
        self.applied = change + 1;
        let verb = match c.action {
            ChangeAction::Create => "created",
            ChangeAction::Update => "updated",
            ChangeAction::Delete => "deleted",
            ChangeAction::Replace => "created again",
        };
        self.progress(verb, change, "");
        let total = self.plan.as_ref().expect("a plan").changes.len();
        if change + 1 < total {
            self.step = Some(Step::Apply {
                change: change + 1,
                recreate: false,
            });
        } else {
            self.step = None;
            self.report = Some(self.make_report(None, None));
        }
        Ok(())
    }

    fn progress(&mut self, verb: &str, change: usize, note: &str) {
        let plan = self.plan.as_ref().expect("a plan");
        let total = plan.changes.len();
        let subject = plan.changes[change].subject();
        let mut message = format!("{verb} {subject} ({}/{total})", change + 1);
        if !note.is_empty() {
            message.push(' ');
            message.push_str(note);
        }
        self.events.push(Event::new(
            EventKind::Progress {
                completed: u32::try_from(change + 1).unwrap_or(u32::MAX),
                total: u32::try_from(total).unwrap_or(u32::MAX),
            },
            message,
        ));
    }
}

fn gate_key(c: &Change) -> String {
    format!("{}/{}/{}", c.service, c.env, c.identifier)
}

fn created_id(body: &str) -> Result<String, String> {
    let v: Value = serde_json::from_str(body).map_err(|_| "the created gate's body is not JSON")?;
    let id = v
        .pointer("/data/id")
        .and_then(Value::as_str)
        .ok_or("the created gate has no data.id")?;
    checked_id(id)
}

/// Ids go into URL paths: only UUIDs are accepted, so a hostile id cannot change where requests go.
fn checked_id(id: &str) -> Result<String, String> {
    if is_uuid(id) {
        Ok(id.to_ascii_lowercase())
    } else {
        Err(format!("the API gave an id that is not a UUID: {id:?}"))
    }
}

pub(crate) fn parse_gate(item: &Value) -> Result<LiveGate, String> {
    let id = item
        .get("id")
        .and_then(Value::as_str)
        .ok_or("a gate in the list has no id")?;
    let a = item.get("attributes").unwrap_or(item);
    let text = |k: &str| a.get(k).and_then(Value::as_str).map(str::to_string);
    Ok(LiveGate {
        id: checked_id(id)?,
        service: text("service").ok_or("a gate in the list has no service")?,
        env: text("env").ok_or("a gate in the list has no env")?,
        identifier: text("identifier").unwrap_or_else(|| DEFAULT_IDENTIFIER.to_string()),
        dry_run: a.get("dry_run").and_then(Value::as_bool).unwrap_or(false),
        rules: Vec::new(),
    })
}

/// A rule of the list: `{id, type, attributes: {...}}` or the attributes alone (the published
/// list schema), whose `id` (or `rule_id`) may be absent.
pub(crate) fn parse_rule(item: &Value) -> Result<LiveRule, String> {
    let (a, id) = match item.get("attributes").filter(|a| a.is_object()) {
        Some(a) => (a, item.get("id")),
        None => (item, item.get("id").or_else(|| item.get("rule_id"))),
    };
    let id = match id.and_then(Value::as_str) {
        Some(id) => Some(checked_id(id)?),
        None => None,
    };
    Ok(LiveRule {
        id,
        name: a
            .get("name")
            .and_then(Value::as_str)
            .ok_or("a rule in the list has no name")?
            .to_string(),
        rule_type: a
            .get("type")
            .and_then(Value::as_str)
            .ok_or("a rule in the list has no type")?
            .to_string(),
        dry_run: a.get("dry_run").and_then(Value::as_bool).unwrap_or(false),
        options: a.get("options").cloned().unwrap_or_else(|| json!({})),
    })
}

pub(crate) fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Exchange for Run {
    const NOUN: &'static str = "run";
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
        if self.report.is_none() {
            self.report = Some(self.make_report(error, None));
        }
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
                "{} failed after {} attempt(s): {problem}; run it again to resume (the plan is computed anew from what exists)",
                self.describe_step(),
                self.failures
            );
            return self.finish(Some(message));
        }
        let (delay, _) =
            backoff::retry_delay_ms(headers, self.failures, self.seed, &mut self.draws);
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
        let step = self.step.clone();
        let ok = (200..300).contains(&status);
        // A DELETE answered 404 is already done (e.g. by an earlier, interrupted apply).
        let deleting = match &step {
            Some(Step::Apply {
                change,
                recreate: false,
            }) => matches!(
                self.plan.as_ref().expect("a plan").changes[*change].action,
                ChangeAction::Delete | ChangeAction::Replace
            ),
            _ => false,
        };
        let already_done = deleting && status == 404;
        if !ok && !already_done {
            match status {
                408 | 429 | 500..=599 => {
                    let detail = api_error(status, body).details.join("; ");
                    return self.on_failure(Some(status), &detail, headers, now);
                }
                _ => {
                    let details = api_error(status, body).details;
                    let mut message = format!("{}: HTTP {status}", self.describe_step());
                    if !details.is_empty() {
                        message.push_str(&format!(": {}", details.join("; ")));
                    }
                    return self.finish(Some(message));
                }
            }
        }
        self.failures = 0;
        let result = match step {
            Some(Step::ListGates { cursor, page }) => self.on_gate_page(body, cursor, page),
            Some(Step::ListRules { gate }) => self.on_rules(body, gate),
            Some(Step::Apply { change, recreate }) => self.on_applied(change, recreate, body),
            None => Ok(()),
        };
        if let Err(problem) = result {
            // A 2xx whose body cannot be read: a server fault, retried like one.
            self.on_failure(Some(status), &problem, headers, now);
        }
    }
    fn describe_step(&self) -> String {
        match &self.step {
            Some(Step::ListGates { page, .. }) => format!("listing gates (page {page})"),
            Some(Step::ListRules { gate }) => {
                let g = &self.live[self.relevant[*gate]];
                format!(
                    "reading the rules of gate {}/{}/{}",
                    g.service, g.env, g.identifier
                )
            }
            Some(Step::Apply { change, recreate }) => {
                let c = &self.plan.as_ref().expect("a plan").changes[*change];
                let what = match (c.action, recreate) {
                    (ChangeAction::Replace, false) => "replace (delete)",
                    (ChangeAction::Replace, true) => "replace (create)",
                    (action, _) => action.as_str(),
                };
                format!("{what} {}", c.subject())
            }
            None => "finishing".to_string(),
        }
    }
}
