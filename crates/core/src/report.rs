//! Renderers for an [`Outcome`]: text (terminals and CI logs), markdown (CI step summaries such as
//! `$GITHUB_STEP_SUMMARY`) and JSON (the stable machine-readable result). They live in core so the
//! report reads the same from every host.
//!
//! The text report carries what the reference CLI prints (result, mode, evaluation URL, each rule
//! with its mode, status and reason) and says plainly when a pass did not come from the gate
//! (fail-open) or when nothing was evaluated (skipped).

use crate::event::Phase;
use crate::io::TransportErrorKind;
use crate::machine::{seconds, truncate};
use crate::outcome::{
    ApiError, Cause, FailedMonitor, Outcome, RuleFailures, RuleResult, RuleWindow,
};
use crate::request::Difference;
use crate::sanitize::{self, LinkPolicy, line};

/// How text output may be decorated.
#[derive(Debug, Clone, Copy, Default)]
pub struct TextStyle {
    /// ANSI colours (hosts enable this only on a TTY without `NO_COLOR`).
    pub color: bool,
}

const GREEN: &str = "\x1b[32m";
const RED: &str = "\x1b[31m";
const YELLOW: &str = "\x1b[33m";
const BOLD: &str = "\x1b[1m";
const DIM: &str = "\x1b[2m";
const RESET: &str = "\x1b[0m";

/// The headline: an icon, a colour and a title for the outcome.
fn headline(outcome: &Outcome) -> (&'static str, &'static str, &'static str) {
    match outcome.cause {
        Cause::GatePassed => ("✅", GREEN, "Gate passed"),
        Cause::GateFailed => ("❌", RED, "Gate failed"),
        Cause::DryRun if outcome.would_fail => {
            ("⚠️", YELLOW, "Dry run: the gate would FAIL (not enforced)")
        }
        Cause::DryRun => ("✅", GREEN, "Dry run: the gate would pass"),
        Cause::Timeout | Cause::ApiUnavailable if outcome.fail_open => {
            ("⚠️", YELLOW, "Passed FAIL-OPEN: the gate did not decide")
        }
        Cause::Timeout => ("❌", RED, "Failed: no result before the timeout"),
        Cause::ApiUnavailable => ("❌", RED, "Failed: the API was unavailable"),
        Cause::ClientError => ("❌", RED, "Failed: the request was refused"),
        Cause::Cancelled => ("⛔", YELLOW, "Cancelled"),
        Cause::Skipped => ("⏭️", YELLOW, "SKIPPED: the gate was not evaluated"),
    }
}

fn rule_icon(rule: &RuleResult) -> &'static str {
    match rule.status.as_str() {
        "pass" => "✅",
        "fail" => "❌",
        "in_progress" => "⏳",
        _ => "❔",
    }
}

fn mode(dry_run: bool) -> &'static str {
    if dry_run { "dry run" } else { "active" }
}

/// Render the outcome as text.
pub fn render_text(outcome: &Outcome, style: TextStyle) -> String {
    let paint = |color: &str, text: &str| {
        if style.color {
            format!("{color}{text}{RESET}")
        } else {
            text.to_string()
        }
    };
    let (icon, color, title) = headline(outcome);
    let mut out = format!("{icon} {}\n", paint(&format!("{BOLD}{color}"), title));
    out.push_str(&format!("   {}\n", line(&outcome.message)));
    let mut field = |name: &str, value: &str| {
        out.push_str(&format!(
            "   {:<12} {}\n",
            paint(DIM, &format!("{name}:")),
            line(value)
        ))
    };
    if let Some(reason) = &outcome.skip_reason {
        field("Reason", reason);
    }
    if outcome.cause != Cause::Skipped && outcome.gate_status.is_some() {
        field(
            "Mode",
            if outcome.dry_run {
                "Dry run (failures are not enforced)"
            } else {
                "Active"
            },
        );
    }
    if let Some(id) = &outcome.evaluation_id {
        field("Evaluation", id);
    }
    if let Some(url) = &outcome.evaluation_url {
        field("URL", url);
    }
    if let Some(gate) = &outcome.gate_id {
        field("Gate", gate);
    }
    if let Some(error) = &outcome.error {
        for detail in &error.details {
            field("Server said", detail);
        }
    }
    if outcome.cause != Cause::Skipped {
        field(
            "Requests",
            &format!("{} in {}", outcome.requests, seconds(outcome.elapsed_ms)),
        );
    }
    if !outcome.rules.is_empty() {
        out.push_str(&format!("   {}\n", paint(DIM, "Rules:")));
        for rule in &outcome.rules {
            out.push_str(&format!(
                "     {} {} ({}, {})\n",
                rule_icon(rule),
                line(&rule.name),
                line(&rule.status),
                mode(rule.dry_run)
            ));
            if let Some(reason) = &rule.reason {
                out.push_str(&format!("        Reason: {}\n", line(reason)));
            }
            if let Some(failures) = &rule.failures {
                let style = DetailStyle {
                    quote: &line,
                    text: &line,
                    url: &line,
                };
                for line in failure_lines(failures, &style) {
                    out.push_str(&format!("        {line}\n"));
                }
            }
        }
    }
    out
}

/// How failure details are written: every piece of them comes from the server, so each goes
/// through one of these (inert text for the terminal, escaped markdown for a step summary).
struct DetailStyle<'a> {
    /// Ids and resource names (plain for text, code spans for markdown).
    quote: &'a dyn Fn(&str) -> String,
    /// Names, states and host groups.
    text: &'a dyn Fn(&str) -> String,
    /// A monitor's URL (a link only where the report's link policy allows it).
    url: &'a dyn Fn(&str) -> String,
}

/// `123 "Checkout errors" (Alert)`.
fn monitor_label(m: &FailedMonitor, style: &DetailStyle) -> String {
    let mut label = (style.quote)(&m.id);
    if let Some(name) = &m.name {
        label.push_str(&format!(" \"{}\"", (style.text)(name)));
    }
    if let Some(state) = &m.state {
        label.push_str(&format!(" ({})", (style.text)(state)));
    }
    label
}

/// One line per failing monitor, faulty resource and narrative.
fn failure_lines(f: &RuleFailures, style: &DetailStyle) -> Vec<String> {
    let mut lines = Vec::new();
    for m in &f.monitors {
        let mut line = format!("Failing monitor: {}", monitor_label(m, style));
        if let Some(url) = &m.url {
            line.push_str(&format!(" {}", (style.url)(url)));
        }
        lines.push(line);
    }
    for r in &f.faulty_apm_resources {
        lines.push(format!("Faulty resource: {}", (style.quote)(r)));
    }
    for n in &f.narratives {
        let mut line = format!("Narrative: {}", (style.quote)(&n.id));
        if let Some(group) = &n.hostgroup {
            line.push_str(&format!(" (host group {})", (style.text)(group)));
        }
        lines.push(line);
    }
    lines
}

/// Text for a markdown table cell or paragraph: inert (see [`sanitize::markdown`]).
fn cell(text: &str) -> String {
    sanitize::markdown(text)
}

/// An evaluation id for markdown: as code when it is a UUID (as the engine ensures), else inert text.
fn id_label(id: &str) -> String {
    if crate::machine::is_uuid(id) {
        format!("`{id}`")
    } else {
        cell(id)
    }
}

/// Render the outcome as markdown (a CI step summary). The evaluation URL is a link only on a
/// known Datadog app origin; a host that knows its request uses [`render_markdown_with`].
pub fn render_markdown(outcome: &Outcome) -> String {
    render_markdown_with(outcome, &LinkPolicy::datadog_apps())
}

/// [`render_markdown`], with links only to the origins `links` allows (the request's own site or
/// `api_url` origin: [`LinkPolicy::for_endpoint`]); any other URL is shown as inert text.
pub fn render_markdown_with(outcome: &Outcome, links: &LinkPolicy) -> String {
    let (icon, _, title) = headline(outcome);
    let mut out = format!(
        "### {icon} Deployment gate: {title}\n\n{}\n\n",
        cell(&outcome.message)
    );
    out.push_str("| | |\n|---|---|\n");
    out.push_str(&format!(
        "| Verdict | **{}** (`{}`{}) |\n",
        match outcome.verdict {
            crate::Verdict::Pass => "pass",
            crate::Verdict::Fail => "fail",
        },
        outcome.cause.as_str(),
        if outcome.fail_open { ", fail-open" } else { "" }
    ));
    if let Some(reason) = &outcome.skip_reason {
        out.push_str(&format!("| Skip reason | {} |\n", cell(reason)));
    }
    if outcome.gate_status.is_some() {
        out.push_str(&format!(
            "| Mode | {} |\n",
            if outcome.dry_run { "Dry run" } else { "Active" }
        ));
    }
    match (&outcome.evaluation_id, &outcome.evaluation_url) {
        (Some(id), Some(url)) => out.push_str(&format!(
            "| Evaluation | {} |\n",
            sanitize::markdown_link(&id_label(id), url, links)
        )),
        (Some(id), None) => out.push_str(&format!("| Evaluation | {} |\n", id_label(id))),
        _ => {}
    }
    if let Some(error) = &outcome.error {
        for detail in &error.details {
            out.push_str(&format!("| Server said | {} |\n", cell(detail)));
        }
    }
    out.push_str(&format!(
        "| Requests | {} in {} |\n",
        outcome.requests,
        seconds(outcome.elapsed_ms)
    ));
    if !outcome.rules.is_empty() {
        out.push_str("\n| Rule | Status | Mode | Reason |\n|---|---|---|---|\n");
        for rule in &outcome.rules {
            out.push_str(&format!(
                "| {} | {} {} | {} | {} |\n",
                cell(&rule.name),
                rule_icon(rule),
                cell(&rule.status),
                mode(rule.dry_run),
                cell(rule.reason.as_deref().unwrap_or(""))
            ));
        }
        out.push_str(&timeline_markdown(outcome));
        let failed: Vec<(&RuleResult, &RuleFailures)> = outcome
            .rules
            .iter()
            .filter_map(|r| r.failures.as_ref().map(|f| (r, f)))
            .collect();
        if !failed.is_empty() {
            out.push_str("\n#### What failed\n\n");
            let url = |u: &str| sanitize::markdown_link(&cell(u), u, links);
            let style = DetailStyle {
                quote: &code_span,
                text: &cell,
                url: &url,
            };
            for (rule, failures) in failed {
                out.push_str(&format!("- **{}**\n", cell(&rule.name)));
                for line in failure_lines(failures, &style) {
                    out.push_str(&format!("  - {line}\n"));
                }
            }
        }
    }
    out
}

/// `0 s`, `45 s`, `1.5 s`, `2 min`, `2 min 30 s`, `1 h 5 min`: an offset from an evaluation's
/// start (the step summary's timeline and the emulator's evaluation page).
pub fn time_offset(ms: u64) -> String {
    let secs = ms / 1000;
    if ms < 60_000 {
        if ms.is_multiple_of(1000) {
            format!("{secs} s")
        } else {
            format!("{:.1} s", ms as f64 / 1000.0)
        }
    } else if ms < 3_600_000 {
        match secs % 60 {
            0 => format!("{} min", secs / 60),
            s => format!("{} min {s} s", secs / 60),
        }
    } else {
        match (secs % 3600) / 60 {
            0 => format!("{} h", secs / 3600),
            m => format!("{} h {m} min", secs / 3600),
        }
    }
}

/// Cells in a rule's timeline bar.
pub const TIMELINE_CELLS: usize = 24;

/// One rule's bar over `[0, axis_ms)` in [`TIMELINE_CELLS`] cells: `·` outside the rule's window
/// (its warm-up), `▁` watched, `█` the cell where it failed, `░` the window left after it failed
/// (no longer watched), `?` not reached when the outcome was given (a rule still in progress).
fn timeline_bar(status: &str, window: &RuleWindow, axis_ms: u64, elapsed_ms: u64) -> String {
    let start = window.warmup_s.saturating_mul(1000);
    let end = start.saturating_add(window.duration_s.saturating_mul(1000));
    let n = TIMELINE_CELLS as u64;
    let cell_of = |ms: u64| (ms.saturating_mul(n) / axis_ms.max(1)).min(n - 1);
    let failed_cell = match (status, window.decided_after_ms) {
        ("fail", Some(at)) => Some(cell_of(at)),
        _ => None,
    };
    (0..n)
        .map(|i| {
            let (from, to) = (i * axis_ms / n, (i + 1) * axis_ms / n);
            let in_window = if end == start {
                cell_of(start) == i
            } else {
                to > start && from < end
            };
            match failed_cell {
                Some(f) if i == f => '█',
                Some(f) if i > f && in_window => '░',
                _ if !in_window => '·',
                _ if status == "in_progress" && from >= elapsed_ms => '?',
                _ => '▁',
            }
        })
        .collect()
}

/// The rules' windows as text (a table with one bar per rule), for the rules whose window is
/// known ([`RuleResult::window`]); empty when none is.
fn timeline_markdown(outcome: &Outcome) -> String {
    let timed: Vec<(&RuleResult, &RuleWindow)> = outcome
        .rules
        .iter()
        .filter_map(|r| r.window.as_ref().map(|w| (r, w)))
        .collect();
    let axis_ms = timed
        .iter()
        .map(|(_, w)| {
            w.warmup_s
                .saturating_add(w.duration_s)
                .saturating_mul(1000)
                .max(w.decided_after_ms.unwrap_or(0))
        })
        .max()
        .unwrap_or(0);
    if axis_ms == 0 {
        return String::new();
    }
    let mut out = format!(
        "\n#### Timeline\n\n| Rule | Window | {} → {} (one cell: {}) | Result |\n|---|---|---|---|\n",
        time_offset(0),
        time_offset(axis_ms),
        time_offset(axis_ms / TIMELINE_CELLS as u64)
    );
    for (rule, window) in timed {
        let start = window.warmup_s.saturating_mul(1000);
        let end = start.saturating_add(window.duration_s.saturating_mul(1000));
        let result = match (rule.status.as_str(), window.decided_after_ms) {
            ("fail", Some(at)) => format!("❌ failed at {}", time_offset(at)),
            ("fail", None) => "❌ failed (the server did not say when)".to_string(),
            ("pass", Some(at)) => format!("✅ passed at {}", time_offset(at)),
            ("pass", None) => "✅ passed".to_string(),
            ("in_progress", _) => format!(
                "⏳ in progress when the outcome was given ({})",
                time_offset(outcome.elapsed_ms)
            ),
            (other, _) => cell(other),
        };
        out.push_str(&format!(
            "| {} | {} – {} | `{}` | {} |\n",
            cell(&rule.name),
            time_offset(start),
            time_offset(end),
            timeline_bar(&rule.status, window, axis_ms, outcome.elapsed_ms),
            result
        ));
    }
    out.push_str(
        "\n`▁` watched · `█` where the rule failed · `░` its window after that (not watched) · \
         `·` outside its window (warm-up) · `?` not reached yet\n",
    );
    out
}

/// Text as a markdown code span: inert (see [`sanitize::line`]), backticks inside turned into
/// quotes so the span cannot end early.
fn code_span(text: &str) -> String {
    format!("`{}`", line(text).replace('`', "'"))
}

/// Render the outcome as JSON (`schemas/outcome.schema.json`).
pub fn render_json(outcome: &Outcome) -> String {
    outcome.to_json()
}

/// Render by format name: `text`, `markdown` (or `md`) or `json`.
pub fn render(outcome: &Outcome, format: &str, style: TextStyle) -> Option<String> {
    match format {
        "text" => Some(render_text(outcome, style)),
        "markdown" | "md" => Some(render_markdown(outcome)),
        "json" => Some(render_json(outcome)),
        _ => None,
    }
}

/// What went wrong with one request, for the retry event and the outcome's `last error`: the HTTP
/// status and the server's or the transport's words.
pub(crate) fn problem_phrase(status: Option<u16>, error: Option<&str>) -> String {
    match (status, error) {
        (Some(code), Some(e)) if !e.is_empty() => format!("HTTP {code}: {e}"),
        (Some(code), _) => format!("HTTP {code}"),
        (None, Some(e)) => e.to_string(),
        (None, None) => "error".to_string(),
    }
}

/// What failed, as the evaluation's retry sentences name it.
pub(crate) fn phase_request(phase: Phase) -> &'static str {
    match phase {
        Phase::Trigger => "trigger request",
        Phase::Poll => "poll",
    }
}

/// The `retrying` event's sentence (an evaluation's, a gates run's, an online check's); `what`
/// names the request, `next_attempt` is the attempt the retry will be (1-based, counting the
/// first try), so it is one more than the failures so far.
pub(crate) fn retrying_sentence(
    what: &str,
    problem: &str,
    delay_ms: u64,
    next_attempt: u32,
) -> String {
    format!(
        "{what} failed ({problem}); retrying in {} (attempt {next_attempt})",
        seconds(delay_ms)
    )
}

/// The `started` event's sentence.
pub(crate) fn started_sentence(evaluation_id: &str, url: Option<&str>) -> String {
    match url {
        Some(url) => format!("evaluation started: {evaluation_id} ({url})"),
        None => format!("evaluation started: {evaluation_id}"),
    }
}

/// The `progress` event's sentence.
pub(crate) fn progress_sentence(completed: u32, total: u32) -> String {
    format!("in progress: {completed}/{total} rules completed")
}

/// What an outcome's sentence (`Outcome::message`, also the `finished` event's) is made from. The
/// engine decides the verdict, the cause and whether the pass is fail-open
/// (`machine::Decision`); this says it in English, so no sentence lives in the policy.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Ending<'a> {
    /// The gate gave its result.
    Gate {
        /// `gate_status` was `pass` (a dry-run gate always passes).
        passed: bool,
        dry_run: bool,
        /// Enforced (not dry-run) rules that failed, of `enforced`, of all `total` rules.
        failed: usize,
        enforced: usize,
        total: usize,
    },
    /// No result before the overall deadline.
    Timeout {
        timeout_ms: u64,
        last_problem: Option<&'a str>,
    },
    /// No evaluation id within the trigger budget.
    ApiUnavailable {
        trigger_budget_ms: u64,
        last_problem: Option<&'a str>,
    },
    /// The server asked to retry past the end of the stage: `ends` is the overall timeout
    /// (`timeout`) or the trigger budget, of `ends_ms`.
    RetryPastDeadline {
        status: Option<u16>,
        wait_ms: u64,
        past_ms: u64,
        timeout: bool,
        ends_ms: u64,
    },
    /// Refused (4xx, a redirect, an untrusted certificate).
    ClientError { error: &'a ApiError },
    /// The host cancelled.
    Cancelled { evaluation_id: Option<&'a str> },
}

/// The outcome's sentence for an ending; `fail_open`: the pass came from the error policy.
pub(crate) fn ending_sentence(ending: &Ending<'_>, fail_open: bool) -> String {
    let last = |p: &Option<&str>| p.map_or(String::new(), |p| format!(" (last error: {p})"));
    let policy = |what: String, not: &str| {
        if fail_open {
            format!("{what}; passing because fail-on-error is off (fail-open: the gate {not})")
        } else {
            format!("{what}; failing because fail-on-error is on")
        }
    };
    match ending {
        Ending::Gate {
            passed: true,
            dry_run: true,
            failed,
            ..
        } => {
            if *failed > 0 {
                format!(
                    "dry run: the gate would FAIL ({failed} rule(s) failed); the deploy may proceed"
                )
            } else {
                "dry run: the gate would pass; the deploy may proceed".to_string()
            }
        }
        Ending::Gate {
            passed: true,
            enforced,
            ..
        } => match enforced {
            0 => "the gate passed".to_string(),
            n => format!("the gate passed: all {n} enforced rule(s) passed"),
        },
        Ending::Gate { failed, total, .. } => match failed {
            0 => "the gate failed".to_string(),
            n => format!("the gate failed: {n} of {total} rule(s) failed"),
        },
        Ending::Timeout {
            timeout_ms,
            last_problem,
        } => policy(
            format!(
                "no result within the {} timeout{}",
                seconds(*timeout_ms),
                last(last_problem)
            ),
            "did NOT pass",
        ),
        Ending::ApiUnavailable {
            trigger_budget_ms,
            last_problem,
        } => policy(
            format!(
                "the Deployment Gates API did not accept the evaluation within {}{}",
                seconds(*trigger_budget_ms),
                last(last_problem)
            ),
            "was NOT evaluated",
        ),
        Ending::RetryPastDeadline {
            status,
            wait_ms,
            past_ms,
            timeout,
            ends_ms,
        } => {
            let who = match status {
                Some(429) => "rate-limited (HTTP 429)".to_string(),
                Some(code) => format!("HTTP {code}"),
                None => "the request failed".to_string(),
            };
            let end = if *timeout {
                format!("the {} timeout", seconds(*ends_ms))
            } else {
                format!("the {} trigger budget", seconds(*ends_ms))
            };
            policy(
                format!(
                    "{who}: the server asked to retry in {}, {} past the end of {end}",
                    seconds(*wait_ms),
                    seconds(*past_ms)
                ),
                "did NOT pass",
            )
        }
        Ending::ClientError { error } => {
            let status = error
                .status
                .map_or(String::new(), |c| format!(" (HTTP {c})"));
            let details = if error.details.is_empty() {
                String::new()
            } else {
                format!(": {}", error.details.join("; "))
            };
            format!("the request was refused{status}{details}")
        }
        Ending::Cancelled { evaluation_id } => match evaluation_id {
            Some(id) => format!("cancelled; the evaluation {id} can be resumed"),
            None => "cancelled before an evaluation was started".to_string(),
        },
    }
}

/// A config warning's event sentence (`warning` event, code `config`).
pub(crate) fn config_warning_sentence(warning: &dyn std::fmt::Display) -> String {
    format!("config: {warning}")
}

/// Why a snapshot is not resumed, as the engine found it (`machine::compare_snapshot`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum NotResumable<'a> {
    /// Its request fields do not match its request digest.
    Edited,
    /// It belongs to another request; these fields differ.
    OtherRequest(&'a [Difference]),
    /// Its evaluation started `age_ms` ago, beyond this run's timeout.
    Expired { age_ms: u64, timeout_ms: u64 },
}

/// The reason a snapshot is not resumed (`SnapshotComparison::not_resumable`).
pub(crate) fn not_resumable_reason(why: &NotResumable<'_>) -> String {
    match why {
        NotResumable::Edited => {
            "its request fields do not match its request digest (it was edited)".to_string()
        }
        NotResumable::OtherRequest(differences) => {
            let list: Vec<String> = differences.iter().map(|d| d.to_string()).collect();
            format!("it belongs to another request ({})", list.join("; "))
        }
        NotResumable::Expired { age_ms, timeout_ms } => format!(
            "its evaluation started {} ago, beyond this run's {} timeout",
            seconds(*age_ms),
            seconds(*timeout_ms)
        ),
    }
}

/// The `snapshot_not_resumed` warning's sentence, from [`not_resumable_reason`].
pub(crate) fn snapshot_not_resumed_sentence(why: &str) -> String {
    format!("not resuming the snapshot: {why}; starting a new evaluation")
}

/// The `policy_changed` warning's sentence: each policy option that differs from the snapshot's.
pub(crate) fn policy_changed_sentence(changes: &[Difference]) -> String {
    let changes: Vec<String> = changes.iter().map(|d| d.to_string()).collect();
    format!("resuming with this run's policy: {}", changes.join("; "))
}

/// The `ignored` event's sentence: a reply to a request the engine no longer waits for.
pub(crate) fn ignored_reply_sentence(request_id: u64) -> String {
    format!("ignored a late reply to request {request_id}: the engine had already given up on it")
}

/// A transport failure as a problem: its kind and the host's message.
pub(crate) fn transport_problem(kind: TransportErrorKind, message: &str) -> String {
    format!("{}: {}", kind.as_str(), truncate(message, 200))
}

/// The detail of a refused redirect (the outcome's error), with its `Location` when given.
pub(crate) fn redirect_refused_detail(location: Option<&str>) -> String {
    let to = location.map_or(String::new(), |l| format!(" to {l}"));
    format!("redirect{to} refused: gatepost never follows redirects, so keys never go elsewhere")
}

/// The detail of an HTTP status outside 200-599.
pub(crate) fn unexpected_status_detail(status: u16) -> String {
    format!("unexpected HTTP status {status}")
}

/// The detail of a TLS failure (the outcome's error).
pub(crate) fn tls_failure_detail(message: &str) -> String {
    format!("TLS failure: {message}")
}

/// Why a result read (`gatepost status`) got no result: the status and the server's details, made
/// inert for a terminal.
pub(crate) fn refused_result_sentence(
    evaluation_id: &str,
    status: u16,
    details: &[String],
) -> String {
    let details = if details.is_empty() {
        String::new()
    } else {
        format!(": {}", details.join("; "))
    };
    line(&format!(
        "the API answered {status} for evaluation {evaluation_id}{details}"
    ))
}

/// What a 404 to a result read means.
pub(crate) fn not_started_yet_note() -> String {
    "a 404 right after the trigger only means the evaluation has not started yet".to_string()
}

/// The `failure_details_unavailable` debug event's sentence.
pub(crate) fn details_unavailable_sentence(why: &str) -> String {
    format!(
        "the rules' failure details are not available ({}); the verdict stands",
        truncate(why, 200)
    )
}

/// The `unknown_gate_status` warning's sentence.
pub(crate) fn unknown_gate_status_sentence(status: &str) -> String {
    format!(
        "the server reported an unknown gate status {:?}; still polling",
        truncate(status, 60)
    )
}

/// The `stored_rules_read` debug event's sentence: the longest stored rule can finish `due_ms`
/// after the trigger.
pub(crate) fn stored_rules_read_sentence(due_ms: u64) -> String {
    format!(
        "read the gate's stored rules: the longest can finish {} after the trigger; polling from then",
        seconds(due_ms)
    )
}

/// The `stored_rules_unavailable` debug event's sentence; the grid goes on every
/// `poll_interval_ms`.
pub(crate) fn stored_rules_unavailable_sentence(why: &str, poll_interval_ms: u64) -> String {
    format!(
        "the gate's stored rules could not be read ({}); polling every {}",
        truncate(why, 200),
        seconds(poll_interval_ms)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::{OUTCOME_SCHEMA_VERSION, Verdict};

    fn failed() -> Outcome {
        Outcome {
            schema_version: OUTCOME_SCHEMA_VERSION,
            verdict: Verdict::Fail,
            exit_code: 1,
            cause: Cause::GateFailed,
            fail_open: false,
            message: "the gate failed: 1 of 2 rule(s) failed".into(),
            evaluation_id: Some("e9d2f04f-4f4b-494b-86e5-52f03e10c8e9".into()),
            evaluation_url: Some(
                "http://127.0.0.1:9/evaluations/e9d2f04f-4f4b-494b-86e5-52f03e10c8e9".into(),
            ),
            gate_id: None,
            gate_status: Some("fail".into()),
            dry_run: false,
            rules: vec![
                RuleResult {
                    name: "monitors | prod".into(),
                    status: "fail".into(),
                    reason: Some("monitor 1 in ALERT".into()),
                    dry_run: false,
                    failures: None,
                    window: None,
                },
                RuleResult {
                    name: "fdd".into(),
                    status: "pass".into(),
                    reason: None,
                    dry_run: true,
                    failures: None,
                    window: None,
                },
            ],
            would_fail: false,
            requests: 4,
            elapsed_ms: 21_300,
            skip_reason: None,
            error: None,
        }
    }

    #[test]
    fn text_report_lists_rules_with_reasons() {
        let text = render_text(&failed(), TextStyle::default());
        assert!(text.starts_with("❌ Gate failed\n"), "{text}");
        assert!(text.contains("Mode:        Active"), "{text}");
        assert!(
            text.contains("❌ monitors | prod (fail, active)\n        Reason: monitor 1 in ALERT"),
            "{text}"
        );
        assert!(text.contains("✅ fdd (pass, dry run)"), "{text}");
        assert!(text.contains("4 in 21.3 s"), "{text}");
        assert!(!text.contains('\x1b'));
        assert!(render_text(&failed(), TextStyle { color: true }).contains(RED));
    }

    #[test]
    fn failure_details_are_named_in_text_and_markdown() {
        let mut outcome = failed();
        outcome.rules[0].failures = Some(RuleFailures {
            monitors: vec![FailedMonitor {
                id: "34330981".into(),
                name: Some("Checkout | errors".into()),
                state: Some("Alert".into()),
                url: Some("https://app.datadoghq.com/monitors/34330981".into()),
            }],
            faulty_apm_resources: vec!["GET /`checkout`".into()],
            narratives: vec![crate::outcome::Narrative {
                id: "n-1".into(),
                hostgroup: Some("region:us-east-1".into()),
            }],
        });
        let text = render_text(&outcome, TextStyle::default());
        assert!(
            text.contains(
                "        Failing monitor: 34330981 \"Checkout | errors\" (Alert) \
                 https://app.datadoghq.com/monitors/34330981\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("        Faulty resource: GET /`checkout`\n"),
            "{text}"
        );
        assert!(text.contains("        Narrative: n-1 (host group region:us-east-1)\n"));
        let md = render_markdown(&outcome);
        assert!(
            md.contains("#### What failed\n\n- **monitors \\| prod**\n"),
            "{md}"
        );
        assert!(
            md.contains(
                "  - Failing monitor: `34330981` \"Checkout \\| errors\" (Alert) \
                 [https\\://app\\.datadoghq\\.com/monitors/34330981]\
                 (https://app.datadoghq.com/monitors/34330981)\n"
            ),
            "{md}"
        );
        assert!(
            md.contains("  - Faulty resource: `GET /'checkout'`\n"),
            "{md}"
        );
        assert!(
            md.contains("  - Narrative: `n-1` (host group region\\:us-east-1)\n"),
            "{md}"
        );
        // Server text in the details cannot command the CI or forge links.
        outcome.rules[0].failures = Some(RuleFailures {
            monitors: vec![FailedMonitor {
                id: "1\n::add-mask::x".into(),
                name: Some("[x](https://evil.example)".into()),
                state: None,
                url: Some("https://evil.example/monitors/1".into()),
            }],
            faulty_apm_resources: Vec::new(),
            narratives: Vec::new(),
        });
        let text = render_text(&outcome, TextStyle::default());
        assert!(!text.lines().any(sanitize::starts_command), "{text}");
        let md = render_markdown(&outcome);
        assert!(!md.contains("](https://evil"), "{md}");
        assert!(!md.lines().any(sanitize::starts_command), "{md}");
        // Without details, no section.
        assert!(!render_markdown(&failed()).contains("What failed"));
    }

    #[test]
    fn the_step_summary_shows_each_rule_window_and_where_it_failed() {
        let mut outcome = failed();
        // No window known (a preconfigured gate that gave no details): no timeline.
        assert!(!render_markdown(&outcome).contains("Timeline"));
        outcome.rules[0].window = Some(RuleWindow {
            warmup_s: 0,
            duration_s: 300,
            decided_after_ms: Some(120_000),
        });
        outcome.rules[1].window = Some(RuleWindow {
            warmup_s: 60,
            duration_s: 240,
            decided_after_ms: None,
        });
        let md = render_markdown(&outcome);
        assert!(
            md.contains(
                "#### Timeline\n\n| Rule | Window | 0 s → 5 min (one cell: 12.5 s) | Result |\n"
            ),
            "{md}"
        );
        // 2 min of 5 is cell 9 of 24 (0-based): 9 watched cells, the failure, 14 left.
        let bar = format!("{}█{}", "▁".repeat(9), "░".repeat(14));
        assert!(
            md.contains(&format!(
                "| monitors \\| prod | 0 s – 5 min | `{bar}` | ❌ failed at 2 min |\n"
            )),
            "{md}"
        );
        // A warm-up of 1 min is the first 4.8 cells: 4 cells outside the window.
        let bar = format!("{}{}", "·".repeat(4), "▁".repeat(20));
        assert!(
            md.contains(&format!("| fdd | 1 min – 5 min | `{bar}` | ✅ passed |\n")),
            "{md}"
        );
        assert!(md.contains("`█` where the rule failed"), "{md}");
        // The timeline comes before the failure details, after the rules table.
        let (table, timeline) = (
            md.find("| Rule | Status").unwrap(),
            md.find("Timeline").unwrap(),
        );
        assert!(table < timeline);

        // A rule still running when the outcome was given (a timeout 150 s in).
        outcome.rules[1].status = "in_progress".into();
        outcome.elapsed_ms = 150_000;
        let md = render_markdown(&outcome);
        let bar = format!("{}{}{}", "·".repeat(4), "▁".repeat(8), "?".repeat(12));
        assert!(
            md.contains(&format!(
                "`{bar}` | ⏳ in progress when the outcome was given (2 min 30 s) |"
            )),
            "{md}"
        );

        // Server text in a timeline row stays inert.
        outcome.rules[0].name = "x |\n::error::y [z](https://evil.example)".into();
        let md = render_markdown(&outcome);
        assert!(!md.lines().any(sanitize::starts_command), "{md}");
        assert!(!md.contains("](https://evil"), "{md}");
    }

    #[test]
    fn offsets_read_as_seconds_minutes_and_hours() {
        assert_eq!(time_offset(0), "0 s");
        assert_eq!(time_offset(1_500), "1.5 s");
        assert_eq!(time_offset(45_000), "45 s");
        assert_eq!(time_offset(120_000), "2 min");
        assert_eq!(time_offset(150_000), "2 min 30 s");
        assert_eq!(time_offset(3_900_000), "1 h 5 min");
        assert_eq!(time_offset(7_200_000), "2 h");
    }

    #[test]
    fn fail_open_never_reads_like_a_gate_pass() {
        let mut outcome = failed();
        outcome.verdict = Verdict::Pass;
        outcome.cause = Cause::Timeout;
        outcome.fail_open = true;
        let text = render_text(&outcome, TextStyle::default());
        assert!(
            text.contains("FAIL-OPEN") && !text.contains("Gate passed"),
            "{text}"
        );
        assert!(render_markdown(&outcome).contains("fail-open"));
    }

    #[test]
    fn skipped_is_loud_in_every_format() {
        let outcome = Outcome::skipped("hotfix INC-42");
        assert!(render_text(&outcome, TextStyle::default()).contains("SKIPPED"));
        assert!(
            render_markdown(&outcome).contains("SKIPPED")
                && render_markdown(&outcome).contains("hotfix INC-42")
        );
        assert!(render_json(&outcome).contains("\"cause\":\"skipped\""));
    }

    #[test]
    fn markdown_escapes_table_cells() {
        let md = render_markdown(&failed());
        assert!(
            md.contains("| monitors \\| prod | ❌ fail | active | monitor 1 in ALERT |"),
            "{md}"
        );
        // A plain-http emulator URL is not a Datadog app origin: shown, never linked.
        assert!(
            md.contains("| Evaluation | `e9d2f04f-4f4b-494b-86e5-52f03e10c8e9` (http\\:"),
            "{md}"
        );
        let mut linked = failed();
        linked.evaluation_url = Some("https://app.datadoghq.com/ci/x?q=a b".into());
        let md = render_markdown(&linked);
        assert!(
            md.contains(
                "[`e9d2f04f-4f4b-494b-86e5-52f03e10c8e9`](https://app.datadoghq.com/ci/x?q=a%20b)"
            ),
            "{md}"
        );
    }

    #[test]
    fn hostile_server_text_is_inert_in_every_renderer() {
        let mut outcome = failed();
        outcome.rules[0].name = "r\n::warning title=forged::x".into();
        outcome.rules[0].reason =
            Some("\u{1b}[2K\u{1b}[1A✅ Gate passed\n::add-mask::k \u{202e}".into());
        outcome.evaluation_url =
            Some("https://app.datadoghq.com/x)\n# owned ![i](https://e/x.png)".into());
        outcome.message = "m\r\n##[error]x".into();
        for text in [
            render_text(&outcome, TextStyle::default()),
            render_markdown(&outcome),
            render_json(&outcome),
        ] {
            for l in text.lines() {
                assert!(!sanitize::starts_command(l), "{l}");
                assert!(!l.chars().any(sanitize::is_unsafe), "{l:?}");
            }
        }
        let md = render_markdown(&outcome);
        let unescaped = crate::sanitize::tests::has_unescaped;
        assert!(!unescaped(&md, "# owned") && !unescaped(&md, "!["), "{md}");
        assert!(!unescaped(&md, "##[error]"), "{md}");
    }
}
