//! Rule evaluation: pure functions of (world, request, world time elapsed since the trigger).
//!
//! Nothing here reads a clock, so the server computes a result whenever it is asked for, and the
//! tests step a virtual clock through a 2-hour rule in microseconds. A rule's result never
//! changes once it is final, because everything after the rule's window is ignored.

use crate::rules::{FddRule, MonitorRule, RuleDef, RuleKind};
use crate::stats;
use crate::world::{ApmService, FddParameters, Monitor, MonitorState, World};
use gatepost_core::query::{GroupView, MonitorView};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// More matching monitors than this fail the rule, as on the real service.
pub const MAX_MATCHING_MONITORS: usize = 50;

/// `in_progress`, `pass` or `fail`, for gates and rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    InProgress,
    Pass,
    Fail,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::InProgress => "in_progress",
            Status::Pass => "pass",
            Status::Fail => "fail",
        }
    }
}

/// What an evaluation was asked to evaluate.
#[derive(Debug, Clone)]
pub struct EvaluationRequest {
    pub service: String,
    pub env: String,
    pub identifier: String,
    pub version: Option<String>,
    pub primary_tag: Option<String>,
    /// The gate's (or the inline configuration's) dry run.
    pub dry_run: bool,
    pub rules: Vec<RuleDef>,
}

/// One rule's result at some moment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleOutcome {
    pub name: String,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub dry_run: bool,
    /// What made the rule fail, as the rule-evaluations endpoint reports it (not part of the
    /// result body).
    #[serde(skip)]
    pub failures: Failures,
}

/// The structured details of a failed rule (`failures` of a rule evaluation): the monitors
/// that failed a monitor rule, the APM resources an FDD rule found faulty. `narratives` are
/// Datadog's FDD write-ups, which the emulator has none of.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Failures {
    pub faulty_apm_resources: Vec<String>,
    pub monitors: Vec<FailedMonitor>,
    pub narratives: Vec<serde_json::Value>,
}

/// A monitor that failed a rule, and the state it was in.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailedMonitor {
    pub id: String,
    pub name: String,
    /// `ALERT` or `NO_DATA`, as the reasons spell it.
    pub state: String,
    pub url: String,
}

/// A rule's status, its reason and its failure details.
type Verdict = (Status, Option<String>, Failures);

/// A gate's result at some moment.
#[derive(Debug, Clone, PartialEq)]
pub struct GateOutcome {
    /// What the API answers (`pass` for a finished dry-run gate).
    pub api_status: Status,
    /// What the rules actually decided (shown on the Evaluations page).
    pub real_status: Status,
    pub rules: Vec<RuleOutcome>,
}

/// Evaluate every rule of a request `elapsed_ms` world milliseconds after its trigger.
/// `link_base` prefixes monitor links (`{link_base}/monitors/{id}`).
pub fn evaluate(
    world: &World,
    request: &EvaluationRequest,
    elapsed_ms: u64,
    link_base: &str,
) -> GateOutcome {
    let rules: Vec<RuleOutcome> = request
        .rules
        .iter()
        .map(|rule| {
            let (status, reason, failures) =
                rule_verdict(world, request, rule, elapsed_ms, link_base);
            RuleOutcome {
                name: rule.name.clone(),
                status,
                reason,
                dry_run: rule.dry_run,
                failures,
            }
        })
        .collect();
    let real_status = if rules.iter().any(|r| !r.dry_run && r.status == Status::Fail) {
        Status::Fail
    } else if rules.iter().any(|r| r.status == Status::InProgress) {
        Status::InProgress
    } else {
        Status::Pass
    };
    let api_status = if request.dry_run && real_status != Status::InProgress {
        Status::Pass
    } else {
        real_status
    };
    GateOutcome {
        api_status,
        real_status,
        rules,
    }
}

fn rule_verdict(
    world: &World,
    request: &EvaluationRequest,
    rule: &RuleDef,
    elapsed_ms: u64,
    link_base: &str,
) -> Verdict {
    match &rule.kind {
        RuleKind::Monitor(m) => evaluate_monitor_rule(world, m, elapsed_ms, link_base),
        RuleKind::FaultyDeploymentDetection(f) => evaluate_fdd_rule(world, f, request, elapsed_ms),
    }
}

/// The first moment in `0..=elapsed_ms` at which `is_final` holds, if it holds at `elapsed_ms`.
/// Results never change once final, so bisection finds it.
fn first_final(elapsed_ms: u64, is_final: impl Fn(u64) -> bool) -> Option<u64> {
    if !is_final(elapsed_ms) {
        return None;
    }
    let (mut low, mut high) = (0u64, elapsed_ms);
    while low < high {
        let mid = low + (high - low) / 2;
        if is_final(mid) {
            high = mid;
        } else {
            low = mid + 1;
        }
    }
    Some(high)
}

/// World milliseconds after the trigger at which the gate's real result became final, if it
/// is final `elapsed_ms` after the trigger.
pub fn gate_finished_after_ms(
    world: &World,
    request: &EvaluationRequest,
    elapsed_ms: u64,
    link_base: &str,
) -> Option<u64> {
    first_final(elapsed_ms, |t| {
        evaluate(world, request, t, link_base).real_status != Status::InProgress
    })
}

/// World milliseconds after the trigger at which rule `index`'s result became final, if it is
/// final `elapsed_ms` after the trigger.
pub fn rule_finished_after_ms(
    world: &World,
    request: &EvaluationRequest,
    index: usize,
    elapsed_ms: u64,
    link_base: &str,
) -> Option<u64> {
    let rule = request.rules.get(index)?;
    first_final(elapsed_ms, |t| {
        rule_verdict(world, request, rule, t, link_base).0 != Status::InProgress
    })
}

/// A monitor rule watches `[warmup, warmup + duration]`; it fails at the first moment in that
/// window when the matching set is empty or too large, or a matching monitor (or matching group)
/// is in ALERT or NO DATA.
pub fn evaluate_monitor_rule(
    world: &World,
    rule: &MonitorRule,
    elapsed_ms: u64,
    link_base: &str,
) -> Verdict {
    let start = rule.warmup_s * 1000;
    let end = start + rule.duration_s * 1000;
    if elapsed_ms < start {
        return (Status::InProgress, None, Failures::default());
    }
    let horizon = elapsed_ms.min(end);
    let mut moments = BTreeSet::from([start]);
    moments.extend(
        world
            .monitors
            .iter()
            .flat_map(Monitor::change_points)
            .filter(|&t| t > start && t <= horizon),
    );
    for t in moments {
        if let Some((reason, monitors)) = monitor_violation_at(world, rule, t, link_base) {
            let failures = Failures {
                monitors,
                ..Failures::default()
            };
            return (Status::Fail, Some(reason), failures);
        }
    }
    let status = if elapsed_ms >= end {
        Status::Pass
    } else {
        Status::InProgress
    };
    (status, None, Failures::default())
}

/// A selected monitor and the names of the groups to evaluate (`None`: its overall state).
type Selected<'w> = (&'w Monitor, Option<Vec<&'w str>>);

/// The monitors a rule selects at one moment, each with the groups to evaluate (`None`: the
/// monitor's overall state).
fn select_monitors<'w>(
    world: &'w World,
    rule: &MonitorRule,
    at_ms: u64,
) -> Result<Vec<Selected<'w>>, String> {
    let mut selected = Vec::new();
    if let Some((text, query)) = &rule.query {
        for monitor in &world.monitors {
            let groups: Vec<GroupView<'_>> = monitor
                .groups
                .iter()
                .map(|g| GroupView {
                    name: &g.name,
                    status: g.state_at(at_ms).as_str(),
                })
                .collect();
            let view = MonitorView {
                id: monitor.id,
                name: &monitor.name,
                message: &monitor.message,
                monitor_type: &monitor.monitor_type,
                tags: &monitor.tags,
                scope: &monitor.scope,
                groups: &groups,
                status: monitor.state_at(at_ms).as_str(),
                muted: monitor.muted,
                creator: &monitor.creator,
            };
            // Core's gate selection: the per-group search plus the service's `muted:false`.
            let Some(indices) = query.gate_selection(&view) else {
                continue;
            };
            // Without `group:` terms the monitor is judged as a whole; with them, its selected
            // groups (none for a monitor without groups: "no groups found").
            let groups = query.has_group_terms().then(|| {
                indices
                    .iter()
                    .map(|&i| monitor.groups[i].name.as_str())
                    .collect()
            });
            selected.push((monitor, groups));
        }
        if selected.is_empty() {
            return Err(format!("No monitors match the query: {text}"));
        }
    } else {
        for wanted in &rule.monitor_ids {
            let Some(monitor) = world.monitors.iter().find(|m| m.id == wanted.id) else {
                return Err(format!("Monitor {} not found", wanted.id));
            };
            if monitor.muted {
                continue;
            }
            let groups = (!wanted.groups.is_empty()).then(|| {
                monitor
                    .groups
                    .iter()
                    .filter(|g| wanted.groups.contains(&g.name))
                    .map(|g| g.name.as_str())
                    .collect()
            });
            selected.push((monitor, groups));
        }
        if selected.is_empty() {
            return Err("No monitors match the given monitor ids (all are muted)".into());
        }
    }
    if selected.len() > MAX_MATCHING_MONITORS {
        return Err(format!(
            "More than {MAX_MATCHING_MONITORS} monitors match the query ({} found); narrow it down",
            selected.len()
        ));
    }
    Ok(selected)
}

/// A monitor a rule watched, with the groups it judged (`None`: the monitor as a whole).
pub type Watched<'w> = (&'w Monitor, Option<Vec<&'w str>>);

/// The monitors (and groups) a monitor rule watched from its window's start up to `elapsed_ms`
/// (or the window's end): every monitor it selected at the start or at any state change in
/// between, in the world's order. Empty when the query matched nothing (the reason says why).
/// Before the window opens, the monitors it would select at its start.
pub fn watched_monitors<'w>(
    world: &'w World,
    rule: &MonitorRule,
    elapsed_ms: u64,
) -> Vec<Watched<'w>> {
    let start = rule.warmup_s * 1000;
    let horizon = elapsed_ms.min(start + rule.duration_s * 1000).max(start);
    let mut moments = BTreeSet::from([start]);
    moments.extend(
        world
            .monitors
            .iter()
            .flat_map(Monitor::change_points)
            .filter(|&t| t > start && t <= horizon),
    );
    let mut watched: Vec<Watched<'w>> = Vec::new();
    for t in moments {
        let Ok(selected) = select_monitors(world, rule, t) else {
            continue;
        };
        for (monitor, groups) in selected {
            match watched.iter_mut().find(|(m, _)| m.id == monitor.id) {
                None => watched.push((monitor, groups)),
                Some((_, Some(known))) => {
                    for name in groups.into_iter().flatten() {
                        if !known.contains(&name) {
                            known.push(name);
                        }
                    }
                }
                Some((_, None)) => {}
            }
        }
    }
    let order = |m: &Monitor| world.monitors.iter().position(|w| w.id == m.id);
    watched.sort_by_key(|(m, _)| order(m));
    for (monitor, groups) in &mut watched {
        if let Some(names) = groups {
            names.sort_by_key(|n| monitor.groups.iter().position(|g| g.name == *n));
        }
    }
    watched
}

/// Why a monitor rule fails at one moment, with the monitors to blame (none when the query
/// itself is the problem).
fn monitor_violation_at(
    world: &World,
    rule: &MonitorRule,
    at_ms: u64,
    link_base: &str,
) -> Option<(String, Vec<FailedMonitor>)> {
    let selected = match select_monitors(world, rule, at_ms) {
        Ok(selected) => selected,
        Err(reason) => return Some((reason, Vec::new())),
    };
    let mut alert = Vec::new();
    let mut no_data = Vec::new();
    let mut no_groups = Vec::new();
    let mut failed: Vec<FailedMonitor> = Vec::new();
    for (monitor, groups) in selected {
        let link = format!("{link_base}/monitors/{}", monitor.id);
        let mut judge = |state: MonitorState, what: String| {
            let label = match state {
                MonitorState::Alert => {
                    alert.push(what);
                    "ALERT"
                }
                MonitorState::NoData if rule.fail_on_no_data => {
                    no_data.push(what);
                    "NO_DATA"
                }
                _ => return,
            };
            let id = monitor.id.to_string();
            if !failed.iter().any(|f| f.id == id) {
                failed.push(FailedMonitor {
                    id,
                    name: monitor.name.clone(),
                    state: label.to_string(),
                    url: link.clone(),
                });
            }
        };
        match groups {
            None => judge(monitor.state_at(at_ms), link.clone()),
            // A monitor without groups selected by a query with `group:` terms (through
            // `NOT group:`): judged as a whole unless the rule asks to fail on no groups.
            Some(names) if names.is_empty() => {
                if rule.fail_on_no_groups_found {
                    no_groups.push(link.clone());
                } else {
                    judge(monitor.state_at(at_ms), link.clone());
                }
            }
            Some(names) => {
                for group in monitor
                    .groups
                    .iter()
                    .filter(|g| names.contains(&g.name.as_str()))
                {
                    judge(
                        group.state_at(at_ms),
                        format!("{link} (group {})", group.name),
                    );
                }
            }
        }
    }
    let mut reasons = Vec::new();
    if !alert.is_empty() {
        reasons.push(format!(
            "One or more monitors in ALERT state: {}",
            alert.join(", ")
        ));
    }
    if !no_data.is_empty() {
        reasons.push(format!(
            "One or more monitors in NO_DATA state: {}",
            no_data.join(", ")
        ));
    }
    if !no_groups.is_empty() {
        reasons.push(format!(
            "No matching groups found for monitors: {}",
            no_groups.join(", ")
        ));
    }
    (!reasons.is_empty()).then(|| (reasons.join("; "), failed))
}

/// Traffic of one resource in one scope: requests, errors and error types.
#[derive(Debug, Default, Clone, PartialEq)]
struct Traffic {
    requests: u64,
    errors: u64,
    /// Error type → world time it was first seen (0 for the baseline).
    error_types: BTreeMap<String, u64>,
}

/// Which primary-tag values an FDD rule looks at: one named value, or each value plus the
/// aggregate (`None`).
fn fdd_scopes(service: &ApmService, request: &EvaluationRequest) -> Vec<Option<String>> {
    if let Some(tag) = &request.primary_tag {
        return vec![Some(tag.clone())];
    }
    let tags: BTreeSet<&String> = service
        .history
        .iter()
        .filter_map(|h| h.primary_tag.as_ref())
        .chain(service.live.iter().filter_map(|l| l.primary_tag.as_ref()))
        .collect();
    tags.into_iter()
        .map(|t| Some(t.clone()))
        .chain(std::iter::once(None))
        .collect()
}

fn in_scope(entry_tag: &Option<String>, scope: &Option<String>) -> bool {
    scope.is_none() || entry_tag == scope
}

/// The deployed version's traffic on a resource from the trigger up to `horizon_ms`.
fn live_traffic(
    service: &ApmService,
    version: &str,
    resource: &str,
    scope: &Option<String>,
    horizon_ms: u64,
) -> Traffic {
    let (mut requests, mut errors) = (0f64, 0f64);
    let mut traffic = Traffic::default();
    for entry in service.live.iter().filter(|l| {
        l.version == version && l.resource == resource && in_scope(&l.primary_tag, scope)
    }) {
        let mut points: Vec<_> = entry.timeline.iter().collect();
        points.sort_by_key(|p| p.at.0);
        for (i, point) in points.iter().enumerate() {
            let from = point.at.0;
            if from > horizon_ms {
                break;
            }
            let to = points
                .get(i + 1)
                .map_or(horizon_ms, |n| n.at.0.min(horizon_ms));
            let minutes = to.saturating_sub(from) as f64 / 60_000.0;
            requests += point.requests_per_minute * minutes;
            errors += point.errors_per_minute * minutes;
            if point.errors_per_minute > 0.0 {
                for kind in &point.error_types {
                    let seen = traffic.error_types.entry(kind.clone()).or_insert(from);
                    *seen = (*seen).min(from);
                }
            }
        }
    }
    traffic.requests = requests.round() as u64;
    traffic.errors = errors.round() as u64;
    traffic
}

/// Previous versions' traffic on a resource.
fn baseline_traffic(
    service: &ApmService,
    version: &str,
    resource: &str,
    scope: &Option<String>,
) -> Traffic {
    let mut traffic = Traffic::default();
    for entry in service.history.iter().filter(|h| {
        h.version != version && h.resource == resource && in_scope(&h.primary_tag, scope)
    }) {
        traffic.requests += entry.requests;
        traffic.errors += entry.errors;
        for kind in entry.error_types.keys() {
            traffic.error_types.insert(kind.clone(), 0);
        }
    }
    traffic
}

/// One resource's traffic as an FDD rule compares it (for the evaluation page's chart).
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceRates {
    /// The resource, with the primary tag value when the rule looks per value
    /// (`POST /checkout (region:eu)`).
    pub label: String,
    pub resource: String,
    /// The deployed version's requests and errors from the trigger up to the moment asked for.
    pub new_requests: u64,
    pub new_errors: u64,
    /// Previous versions' requests and errors (the baseline).
    pub baseline_requests: u64,
    pub baseline_errors: u64,
    /// Error types of the deployed version that no previous version showed.
    pub new_error_types: Vec<String>,
}

/// The error rates an FDD rule compares, per selected resource and scope, `elapsed_ms` after
/// the trigger (traffic counted up to the rule's window end): the same traffic the rule judges.
pub fn fdd_rates(
    world: &World,
    rule: &FddRule,
    request: &EvaluationRequest,
    elapsed_ms: u64,
) -> Vec<ResourceRates> {
    let Some(version) = request.version.as_deref() else {
        return Vec::new();
    };
    let Some(service) = world
        .apm
        .iter()
        .find(|s| s.service == request.service && s.env == request.env)
    else {
        return Vec::new();
    };
    let horizon = elapsed_ms.min(rule.duration_s * 1000);
    let resources: BTreeSet<&str> = service
        .live
        .iter()
        .filter(|l| l.version == version && resource_selected(rule, &l.resource))
        .map(|l| l.resource.as_str())
        .collect();
    let mut out = Vec::new();
    for scope in fdd_scopes(service, request) {
        for &resource in &resources {
            let new = live_traffic(service, version, resource, &scope, horizon);
            let base = baseline_traffic(service, version, resource, &scope);
            if new.requests == 0 && base.requests == 0 {
                continue;
            }
            out.push(ResourceRates {
                label: match &scope {
                    Some(tag) => format!("{resource} ({tag})"),
                    None => resource.to_string(),
                },
                resource: resource.to_string(),
                new_requests: new.requests,
                new_errors: new.errors,
                baseline_requests: base.requests,
                baseline_errors: base.errors,
                new_error_types: new
                    .error_types
                    .keys()
                    .filter(|k| !base.error_types.contains_key(*k))
                    .cloned()
                    .collect(),
            });
        }
    }
    out
}

fn resource_selected(rule: &FddRule, resource: &str) -> bool {
    rule.allowed_resources
        .as_ref()
        .is_none_or(|allowed| allowed.iter().any(|r| r == resource))
        && !rule.excluded_resources.iter().any(|r| r == resource)
}

fn percent(rate: f64) -> String {
    format!("{:.2}%", rate * 100.0)
}

/// Faulty Deployment Detection: per selected resource and scope, fail on an error type that no
/// previous version showed (as soon as it appears), or, once `duration` has elapsed, on an error
/// rate that is significantly (one-sided conditional binomial test) and materially (absolute and
/// relative minimum effect) higher than the previous versions'. Too little baseline or traffic
/// is reported in the reason, never guessed.
pub fn evaluate_fdd_rule(
    world: &World,
    rule: &FddRule,
    request: &EvaluationRequest,
    elapsed_ms: u64,
) -> Verdict {
    let params: &FddParameters = &world.fdd;
    let end = rule.duration_s * 1000;
    let finished = elapsed_ms >= end;
    let Some(version) = request.version.as_deref() else {
        return (
            Status::Fail,
            Some("Faulty Deployment Detection needs the deployed version".into()),
            Failures::default(),
        );
    };
    let Some(service) = world
        .apm
        .iter()
        .find(|s| s.service == request.service && s.env == request.env)
    else {
        return if finished {
            (
                Status::Pass,
                Some(format!(
                    "No APM data for service {} in env {}: nothing to compare",
                    request.service, request.env
                )),
                Failures::default(),
            )
        } else {
            (Status::InProgress, None, Failures::default())
        };
    };
    if matches!(service.service_type.as_str(), "database" | "inferred") {
        return (
            Status::Fail,
            Some(format!(
                "Faulty Deployment Detection is not available for {} services ({})",
                service.service_type, service.service
            )),
            Failures::default(),
        );
    }
    let horizon = elapsed_ms.min(end);
    let resources: BTreeSet<&str> = service
        .live
        .iter()
        .filter(|l| l.version == version && resource_selected(rule, &l.resource))
        .map(|l| l.resource.as_str())
        .collect();
    let mut findings: Vec<String> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    let mut reported_types: BTreeSet<(String, String)> = BTreeSet::new();
    let mut faulty: BTreeSet<&str> = BTreeSet::new();
    let mut any_data = false;
    for scope in fdd_scopes(service, request) {
        for &resource in &resources {
            let label = match &scope {
                Some(tag) => format!("{resource} ({tag})"),
                None => resource.to_string(),
            };
            let new = live_traffic(service, version, resource, &scope, horizon);
            let base = baseline_traffic(service, version, resource, &scope);
            if new.requests == 0 && base.requests == 0 {
                continue;
            }
            any_data = true;
            if base.requests < params.min_baseline_requests {
                if finished {
                    notes.push(format!(
                        "{label}: baseline too small ({} requests on previous versions, {} needed)",
                        base.requests, params.min_baseline_requests
                    ));
                }
                continue;
            }
            for kind in new.error_types.keys() {
                if !base.error_types.contains_key(kind)
                    && reported_types.insert((resource.to_string(), kind.clone()))
                {
                    findings.push(format!("new error type {kind} on {label}"));
                    faulty.insert(resource);
                }
            }
            if !finished {
                continue;
            }
            if new.requests < params.min_requests {
                notes.push(format!(
                    "{label}: too little traffic on {version} ({} requests, {} needed)",
                    new.requests, params.min_requests
                ));
                continue;
            }
            let c =
                stats::compare_error_rates(base.requests, base.errors, new.requests, new.errors);
            let material = c.new_rate - c.baseline_rate >= params.min_absolute_increase
                && (c.baseline_rate == 0.0
                    || c.new_rate >= c.baseline_rate * params.min_relative_increase);
            if material && c.p_value < params.significance {
                faulty.insert(resource);
                findings.push(format!(
                    "error rate {} on {label} vs {} on previous versions (p = {:.1e})",
                    percent(c.new_rate),
                    percent(c.baseline_rate),
                    c.p_value
                ));
            }
        }
    }
    if !findings.is_empty() {
        let failures = Failures {
            faulty_apm_resources: faulty.into_iter().map(str::to_string).collect(),
            ..Failures::default()
        };
        return (
            Status::Fail,
            Some(format!(
                "Faulty deployment detected for version {version}: {}",
                findings.join("; ")
            )),
            failures,
        );
    }
    if !finished {
        return (Status::InProgress, None, Failures::default());
    }
    if resources.is_empty() || !any_data {
        let tag = request
            .primary_tag
            .as_deref()
            .map(|t| format!(" ({t})"))
            .unwrap_or_default();
        return (
            Status::Pass,
            Some(format!(
                "No APM traffic for version {version} of {} in {}{tag}: nothing to compare",
                request.service, request.env
            )),
            Failures::default(),
        );
    }
    let reason =
        (!notes.is_empty()).then(|| format!("Not enough data to judge: {}", notes.join("; ")));
    (Status::Pass, reason, Failures::default())
}
