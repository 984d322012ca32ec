//! Server-rendered pages: the Evaluations page (`/`, newest first, with the real status of
//! dry-run evaluations), one evaluation (`/evaluations/{id}`, where `evaluation_url` points; it
//! draws the evaluation window as inline SVG: [`window_figure`]) and
//! one monitor (`/monitors/{id}`, where rule reasons link). No scripts, no external assets, so
//! they work offline and in a headless browser. When the world requires keys, so do the pages
//! (HTTP Basic credentials from a browser, or the API's key headers; see `auth`); `/healthz`
//! stays open for health checks.

use crate::api::AppState;
use crate::eval::{self, EvaluationRequest, GateOutcome, Status};
use crate::rules::RuleKind;
use crate::state::{Evaluation, Shared, rfc3339};
use crate::world::{MonitorState, World};
use axum::Router;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use gatepost_core::report::time_offset as offset_label;
use std::fmt::Write;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/evaluations", get(index))
        .route("/evaluations/{id}", get(evaluation_page))
        .route("/monitors/{id}", get(monitor_page))
        .route("/healthz", get(|| async { "ok\n" }))
}

/// Proof that a page request carries keys the world accepts (any request, in an open world).
pub(crate) struct PageAccess;

impl FromRequestParts<AppState> for PageAccess {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        if crate::auth::page_allowed(&state.world, &parts.headers) {
            Ok(PageAccess)
        } else {
            Err(crate::auth::page_login_required())
        }
    }
}

/// The number of page routes (for the docs' endpoint count).
pub const PAGE_ROUTES: usize = 5;

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Turn the URLs inside a reason into links.
fn linkify(text: &str) -> String {
    text.split(' ')
        .map(|word| {
            let trimmed = word.trim_end_matches([',', ';', ')']);
            if trimmed.starts_with("http://") || trimmed.starts_with("https://") {
                format!(
                    "<a href=\"{0}\">{0}</a>{1}",
                    escape(trimmed),
                    escape(&word[trimmed.len()..])
                )
            } else {
                escape(word)
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2rem;color:#1d1d1f}\
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #ddd;padding:.4rem .6rem;\
text-align:left;vertical-align:top}th{background:#f4f4f6}.pass{color:#0a7d32;font-weight:600}\
.fail{color:#c4122f;font-weight:600}.in_progress{color:#8a6d00;font-weight:600}\
code{font-size:.9em}small{color:#666}ul{margin:0;padding-left:1.1rem}\
svg text{font-family:system-ui,sans-serif;font-size:12px}.legend{max-width:960px;line-height:1.6}\
.legend svg{vertical-align:middle}figure{margin:1rem 0}figcaption{font-weight:600;margin:.4rem 0}";

fn page(title: &str, body: &str) -> Html<String> {
    page_with_head(title, "", body)
}

fn page_with_head(title: &str, head: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">{head}\
         <style>{STYLE}</style></head><body>{body}</body></html>",
        escape(title)
    ))
}

/// Pages of running evaluations refresh themselves (no scripts needed).
const REFRESH: &str = "<meta http-equiv=\"refresh\" content=\"5\">";

fn status_html(status: Status) -> String {
    format!("<span class=\"{0}\">{0}</span>", status.as_str())
}

fn rules_html(outcome: &GateOutcome) -> String {
    let mut out = String::from("<ul>");
    for rule in &outcome.rules {
        let _ = write!(
            out,
            "<li class=\"rule\"><b>{}</b>{} — {}",
            escape(&rule.name),
            if rule.dry_run {
                " <small>(dry run)</small>"
            } else {
                ""
            },
            status_html(rule.status)
        );
        if let Some(reason) = &rule.reason {
            let _ = write!(
                out,
                "<br><small class=\"reason\">{}</small>",
                linkify(reason)
            );
        }
        out.push_str("</li>");
    }
    out.push_str("</ul>");
    out
}

fn gate_status_html(evaluation: &Evaluation, outcome: &GateOutcome) -> String {
    if evaluation.request.dry_run {
        format!(
            "{} <small>(dry run; real status: <span class=\"real-status\">{}</span>)</small>",
            status_html(outcome.api_status),
            status_html(outcome.real_status)
        )
    } else {
        status_html(outcome.api_status)
    }
}

fn gate_label(evaluation: &Evaluation) -> String {
    let r = &evaluation.request;
    let mut label = format!(
        "{} / {} / {}",
        escape(&r.service),
        escape(&r.env),
        escape(&r.identifier)
    );
    if let Some(v) = &r.version {
        let _ = write!(label, "<br><small>version {}</small>", escape(v));
    }
    if let Some(t) = &r.primary_tag {
        let _ = write!(label, "<br><small>{}</small>", escape(t));
    }
    let _ = write!(
        label,
        "<br><small>{}</small>",
        match &evaluation.gate_id {
            Some(id) => format!("gate {}", escape(id)),
            None => "inline rules".into(),
        }
    );
    label
}

async fn index(_: PageAccess, State(state): State<AppState>) -> Html<String> {
    let now = state.world_now_ms();
    let inner = state.lock();
    let mut body = String::from("<h1>Deployment Gates evaluations</h1>");
    let _ = write!(
        body,
        "<p><small>gatepost emulator · time scale {} · {} gate(s) · {} monitor(s){}</small></p>",
        state.time_scale,
        inner.gates.len(),
        state.world.monitors.len(),
        state
            .world
            .description
            .as_deref()
            .map(|d| format!(" · {}", escape(d)))
            .unwrap_or_default()
    );
    if inner.evaluations.is_empty() {
        body.push_str("<p id=\"empty\">No evaluations yet.</p>");
    } else {
        body.push_str(
            "<table id=\"evaluations\"><thead><tr><th>Started</th><th>Evaluation</th><th>Gate</th>\
             <th>Status</th><th>Rules</th></tr></thead><tbody>",
        );
        for evaluation in inner.evaluations.iter().rev() {
            let outcome = evaluation.outcome(&state.world, now);
            let _ = write!(
                body,
                "<tr class=\"evaluation\" data-evaluation-id=\"{id}\" data-status=\"{status}\" \
                 data-real-status=\"{real}\"><td>{started}</td><td><a href=\"/evaluations/{id}\">\
                 <code>{id}</code></a></td><td>{gate}</td><td>{gate_status}</td><td>{rules}</td></tr>",
                id = escape(&evaluation.id),
                status = outcome.api_status.as_str(),
                real = outcome.real_status.as_str(),
                started = rfc3339(evaluation.created_ms),
                gate = gate_label(evaluation),
                gate_status = gate_status_html(evaluation, &outcome),
                rules = rules_html(&outcome),
            );
        }
        body.push_str("</tbody></table>");
    }
    page_with_head(
        "Deployment Gates evaluations — gatepost emulator",
        REFRESH,
        &body,
    )
}

async fn evaluation_page(
    _: PageAccess,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Response {
    let now = state.world_now_ms();
    let inner = state.lock();
    let Some(evaluation) = inner.evaluations.iter().find(|e| e.id == id) else {
        return (
            StatusCode::NOT_FOUND,
            page(
                "Not found",
                "<h1>Evaluation not found</h1><p><a href=\"/\">All evaluations</a></p>",
            ),
        )
            .into_response();
    };
    let outcome = evaluation.outcome(&state.world, now);
    let body = format!(
        "<p><a href=\"/\">All evaluations</a></p><h1>Evaluation <code>{id}</code></h1>\
         <table><tr><th>Gate</th><td>{gate}</td></tr><tr><th>Status</th><td id=\"status\">{status}</td></tr>\
         <tr><th>Started</th><td>{started}</td></tr><tr><th>Rules</th><td>{rules}</td></tr></table>",
        id = escape(&evaluation.id),
        gate = gate_label(evaluation),
        status = gate_status_html(evaluation, &outcome),
        started = rfc3339(evaluation.created_ms),
        rules = rules_html(&outcome),
    );
    let body = body
        + &window_figure(
            &state.world,
            &evaluation.request,
            now.saturating_sub(evaluation.triggered_world_ms),
            &evaluation.link_base,
            state.time_scale,
        );
    let head = if outcome.real_status == Status::InProgress {
        REFRESH
    } else {
        ""
    };
    page_with_head(&format!("Evaluation {}", evaluation.id), head, &body).into_response()
}

fn state_class(state: MonitorState) -> &'static str {
    match state {
        MonitorState::Ok => "pass",
        MonitorState::Warn | MonitorState::NoData => "in_progress",
        MonitorState::Alert => "fail",
    }
}

async fn monitor_page(
    _: PageAccess,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Response {
    let monitor = id
        .parse::<u64>()
        .ok()
        .and_then(|id| state.world.monitors.iter().find(|m| m.id == id));
    let Some(monitor) = monitor else {
        return (
            StatusCode::NOT_FOUND,
            page("Not found", "<h1>Monitor not found</h1>"),
        )
            .into_response();
    };
    let body = monitor_body(&state, monitor);
    page(&monitor.name, &body).into_response()
}

fn monitor_body(state: &Shared, monitor: &crate::world::Monitor) -> String {
    let timeline = |initial: MonitorState, points: &[crate::world::StatePoint]| {
        let mut out = format!(
            "<span class=\"{}\">{}</span>",
            state_class(initial),
            initial.as_str()
        );
        for p in points {
            let _ = write!(
                out,
                " → at {}: <span class=\"{}\">{}</span>",
                p.at,
                state_class(p.state),
                p.state.as_str()
            );
        }
        out
    };
    let mut body = format!(
        "<p><a href=\"/\">All evaluations</a></p><h1>{} <small>#{}</small></h1>\
         <p>{}</p><table><tr><th>Type</th><td>{}</td></tr><tr><th>Tags</th><td>{}</td></tr>\
         <tr><th>Scope</th><td>{}</td></tr><tr><th>Muted</th><td>{}</td></tr>\
         <tr><th>States (after each trigger)</th><td>{}</td></tr>",
        escape(&monitor.name),
        monitor.id,
        escape(&monitor.message),
        escape(&monitor.monitor_type),
        escape(&monitor.tags.join(", ")),
        escape(&monitor.scope.join(", ")),
        monitor.muted,
        timeline(monitor.state, &monitor.timeline),
    );
    for group in &monitor.groups {
        let _ = write!(
            body,
            "<tr><th>Group {}</th><td>{}</td></tr>",
            escape(&group.name),
            timeline(group.state, &group.timeline)
        );
    }
    let _ = write!(
        body,
        "</table><p><small>time scale {}</small></p>",
        state.time_scale
    );
    body
}

// ---------------------------------------------------------------------------------------------
// The evaluation window as a picture (inline SVG, no scripts, no external assets).

/// Width of the window picture, in CSS pixels (1 SVG unit = 1 CSS pixel).
const SVG_WIDTH: f64 = 960.0;
/// Where the time axis starts and how wide it is (the label column is on the left).
const PLOT_X: f64 = 300.0;
const PLOT_WIDTH: f64 = 640.0;
const RULE_ROW: f64 = 30.0;
const MONITOR_ROW: f64 = 24.0;
const AXIS_HEIGHT: f64 = 34.0;

/// Fill colours of the monitor states. ALERT's red is used for nothing else in the picture.
const OK_COLOR: &str = "#2e9e5b";
const WARN_COLOR: &str = "#d99a00";
const NO_DATA_COLOR: &str = "#6e7681";
const ALERT_COLOR: &str = "#c4122f";

/// Patterns shared by the picture and its legend: each state reads without colour too (OK solid,
/// WARN horizontal lines, NO DATA dots, ALERT diagonal stripes; a rule's time after its verdict
/// cross-hatched grey).
fn svg_defs() -> String {
    format!(
        "<svg width=\"0\" height=\"0\" aria-hidden=\"true\" focusable=\"false\" \
         style=\"position:absolute\"><defs>\
         <pattern id=\"pat-ok\" width=\"8\" height=\"8\" patternUnits=\"userSpaceOnUse\">\
         <rect width=\"8\" height=\"8\" fill=\"{OK_COLOR}\"/></pattern>\
         <pattern id=\"pat-warn\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\">\
         <rect width=\"6\" height=\"6\" fill=\"{WARN_COLOR}\"/>\
         <rect y=\"4\" width=\"6\" height=\"2\" fill=\"#ffffff\" fill-opacity=\".55\"/></pattern>\
         <pattern id=\"pat-nodata\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\">\
         <rect width=\"6\" height=\"6\" fill=\"{NO_DATA_COLOR}\"/>\
         <circle cx=\"3\" cy=\"3\" r=\"1.3\" fill=\"#ffffff\"/></pattern>\
         <pattern id=\"pat-alert\" width=\"8\" height=\"8\" patternUnits=\"userSpaceOnUse\" \
         patternTransform=\"rotate(45)\"><rect width=\"8\" height=\"8\" fill=\"{ALERT_COLOR}\"/>\
         <rect width=\"2\" height=\"8\" fill=\"#ffffff\"/></pattern>\
         <pattern id=\"pat-decided\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" \
         patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#ececf0\"/>\
         <rect width=\"1.5\" height=\"6\" fill=\"#a9a9b3\"/></pattern>\
         <pattern id=\"pat-baseline\" width=\"5\" height=\"5\" patternUnits=\"userSpaceOnUse\" \
         patternTransform=\"rotate(-45)\"><rect width=\"5\" height=\"5\" fill=\"#b7bcc4\"/>\
         <rect width=\"1.5\" height=\"5\" fill=\"#6e7681\"/></pattern>\
         </defs></svg>"
    )
}

/// A real (unscaled) duration: `3 ms`, `1.2 s`, `5 min`.
fn real_duration_label(ms: f64) -> String {
    if ms < 1000.0 {
        format!("{} ms", ms.round().max(0.0) as u64)
    } else if ms < 60_000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else {
        offset_label(ms as u64)
    }
}

/// The time axis: world milliseconds from the evaluation's start to SVG x.
struct Axis {
    end_ms: u64,
}

impl Axis {
    fn x(&self, ms: u64) -> f64 {
        PLOT_X + PLOT_WIDTH * (ms.min(self.end_ms) as f64 / self.end_ms.max(1) as f64)
    }

    /// Round-number ticks (at most about eight).
    fn ticks(&self) -> Vec<u64> {
        const STEPS_S: [u64; 16] = [
            1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800,
        ];
        let end_s = self.end_ms.div_ceil(1000).max(1);
        let step = STEPS_S
            .iter()
            .copied()
            .find(|s| end_s / s <= 8)
            .unwrap_or(end_s.div_ceil(8))
            * 1000;
        (0..)
            .map(|k| k * step)
            .take_while(|&t| t <= self.end_ms)
            .collect()
    }
}

/// Shorten a label to `max` characters (the full text stays in the `<title>`).
fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// A state's name as the picture spells it, its `data-state` and its fill.
fn state_style(state: MonitorState) -> (&'static str, &'static str, &'static str) {
    match state {
        MonitorState::Ok => ("OK", "OK", "url(#pat-ok)"),
        MonitorState::Warn => ("WARN", "WARN", "url(#pat-warn)"),
        MonitorState::NoData => ("NO DATA", "NO_DATA", "url(#pat-nodata)"),
        MonitorState::Alert => ("ALERT", "ALERT", "url(#pat-alert)"),
    }
}

/// The constant-state stretches of a state timeline over `[0, horizon_ms)`.
fn segments(
    state_at: impl Fn(u64) -> MonitorState,
    change_points: impl Iterator<Item = u64>,
    horizon_ms: u64,
) -> Vec<(u64, u64, MonitorState)> {
    let mut cuts: Vec<u64> = std::iter::once(0)
        .chain(change_points.filter(|&t| t > 0 && t < horizon_ms))
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut out: Vec<(u64, u64, MonitorState)> = Vec::new();
    for (i, &from) in cuts.iter().enumerate() {
        let to = cuts.get(i + 1).copied().unwrap_or(horizon_ms);
        let state = state_at(from);
        match out.last_mut() {
            Some(last) if last.2 == state => last.1 = to,
            _ => out.push((from, to, state)),
        }
    }
    out.retain(|(from, to, _)| to > from);
    out
}

/// One rule of the picture: its definition, outcome and when it became final.
struct RuleView<'a> {
    index: usize,
    def: &'a crate::rules::RuleDef,
    outcome: &'a crate::eval::RuleOutcome,
    start_ms: u64,
    end_ms: u64,
    finished_ms: Option<u64>,
}

/// The picture of an evaluation `elapsed_ms` world milliseconds after its trigger: the window
/// with each rule as a band and each watched monitor's (and judged group's) states as a
/// timeline, then, for each FDD rule, the error rates per resource against the baseline.
/// Nothing after `elapsed_ms` is drawn: the page shows what has happened, never the world's
/// script of what will.
pub(crate) fn window_figure(
    world: &World,
    request: &EvaluationRequest,
    elapsed_ms: u64,
    link_base: &str,
    time_scale: f64,
) -> String {
    let outcome = eval::evaluate(world, request, elapsed_ms, link_base);
    let rules: Vec<RuleView> = request
        .rules
        .iter()
        .zip(&outcome.rules)
        .enumerate()
        .map(|(index, (def, result))| {
            let (start_ms, end_ms) = match &def.kind {
                RuleKind::Monitor(m) => {
                    let start = m.warmup_s * 1000;
                    (start, start + m.duration_s * 1000)
                }
                RuleKind::FaultyDeploymentDetection(f) => (0, f.duration_s * 1000),
            };
            RuleView {
                index,
                def,
                outcome: result,
                start_ms,
                end_ms,
                finished_ms: eval::rule_finished_after_ms(
                    world, request, index, elapsed_ms, link_base,
                ),
            }
        })
        .collect();
    let axis = Axis {
        end_ms: rules
            .iter()
            .map(|r| r.end_ms.max(r.finished_ms.unwrap_or(0)))
            .max()
            .unwrap_or(0)
            .max(10_000),
    };
    let horizon = elapsed_ms.min(axis.end_ms);
    let running = outcome.real_status == Status::InProgress;

    let mut rows = String::new();
    let mut y = 8.0;
    let mut summary: Vec<String> = Vec::new();
    for rule in &rules {
        rows.push_str(&rule_band(rule, &axis, y, &mut summary));
        y += RULE_ROW;
        if let RuleKind::Monitor(m) = &rule.def.kind {
            let watched = eval::watched_monitors(world, m, elapsed_ms);
            if watched.is_empty() {
                let _ = write!(
                    rows,
                    "<text class=\"note-row\" x=\"{:.1}\" y=\"{:.1}\">no monitor matched</text>",
                    PLOT_X + 6.0,
                    y + 15.0
                );
                y += MONITOR_ROW;
            }
            for (monitor, groups) in watched {
                let label = format!("#{} {}", monitor.id, monitor.name);
                rows.push_str(&state_row(
                    "monitor-row",
                    &format!(" data-monitor-id=\"{}\"", monitor.id),
                    &label,
                    Some(monitor.id),
                    segments(|t| monitor.state_at(t), monitor.change_points(), horizon),
                    &axis,
                    y,
                    &mut summary,
                ));
                y += MONITOR_ROW;
                for name in groups.unwrap_or_default() {
                    let Some(group) = monitor.groups.iter().find(|g| g.name == name) else {
                        continue;
                    };
                    rows.push_str(&state_row(
                        "group-row",
                        &format!(
                            " data-monitor-id=\"{}\" data-group=\"{}\"",
                            monitor.id,
                            escape(&group.name)
                        ),
                        &format!("  group {}", group.name),
                        None,
                        segments(
                            |t| group.state_at(t),
                            group.timeline.iter().map(|p| p.at.0),
                            horizon,
                        ),
                        &axis,
                        y,
                        &mut summary,
                    ));
                    y += MONITOR_ROW;
                }
            }
        }
    }

    // Grid lines and tick labels from the evaluation's start.
    let plot_bottom = y;
    let mut grid = String::new();
    for tick in axis.ticks() {
        let x = axis.x(tick);
        let _ = write!(
            grid,
            "<line class=\"grid\" x1=\"{x:.1}\" y1=\"4\" x2=\"{x:.1}\" y2=\"{:.1}\" \
             stroke=\"#d7d7dd\" stroke-width=\"1\"/>\
             <text class=\"tick\" x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            plot_bottom + 4.0,
            plot_bottom + 18.0,
            offset_label(tick)
        );
    }
    let _ = write!(
        grid,
        "<text class=\"axis-label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">world time from the \
         evaluation start</text>",
        PLOT_X - 20.0,
        plot_bottom + 18.0
    );
    let mut now_line = String::new();
    if running && elapsed_ms < axis.end_ms {
        let x = axis.x(elapsed_ms);
        let _ = write!(
            now_line,
            "<g class=\"now\" aria-label=\"now: {label}\"><line x1=\"{x:.1}\" y1=\"4\" x2=\"{x:.1}\" \
             y2=\"{:.1}\" stroke=\"#1f5fbf\" stroke-width=\"2\" stroke-dasharray=\"4 3\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" fill=\"#1f5fbf\">now ({label})</text></g>",
            plot_bottom + 4.0,
            x + 4.0,
            plot_bottom + 30.0,
            label = offset_label(elapsed_ms)
        );
        summary.push(format!("now: {}", offset_label(elapsed_ms)));
    }
    let height = plot_bottom + AXIS_HEIGHT;
    let title = format!(
        "Evaluation window, {} to {} of world time",
        offset_label(0),
        offset_label(axis.end_ms)
    );
    let real_ms = axis.end_ms as f64 / time_scale.max(f64::MIN_POSITIVE);
    let mut out = String::from("<section id=\"window-section\"><h2>Evaluation window</h2>");
    out.push_str(&svg_defs());
    out.push_str(&legend(time_scale, axis.end_ms, real_ms));
    let _ = write!(
        out,
        "<svg id=\"window\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" \
         aria-labelledby=\"window-title window-desc\" width=\"{SVG_WIDTH}\" height=\"{height:.0}\" \
         viewBox=\"0 0 {SVG_WIDTH} {height:.0}\" data-axis-end-ms=\"{end}\" \
         data-plot-x=\"{PLOT_X}\" data-plot-width=\"{PLOT_WIDTH}\">\
         <title id=\"window-title\">{title}</title><desc id=\"window-desc\">{desc}</desc>\
         {grid}{rows}{now_line}</svg>",
        end = axis.end_ms,
        title = escape(&title),
        desc = escape(&summary.join("; ")),
    );
    for rule in &rules {
        if let RuleKind::FaultyDeploymentDetection(f) = &rule.def.kind {
            out.push_str(&fdd_figure(world, request, rule, f, elapsed_ms));
        }
    }
    out.push_str("</section>");
    out
}

/// The text legend (with swatches of the same patterns) and what the axis means.
fn legend(time_scale: f64, end_ms: u64, real_ms: f64) -> String {
    let swatch = |fill: &str, stroke: &str| {
        format!(
            "<svg class=\"swatch\" width=\"22\" height=\"12\" aria-hidden=\"true\" \
             focusable=\"false\"><rect x=\".5\" y=\".5\" width=\"21\" height=\"11\" fill=\"{fill}\" \
             stroke=\"{stroke}\"/></svg>"
        )
    };
    format!(
        "<p class=\"legend\" id=\"legend\">Monitor states: {} OK (solid green) · {} WARN \
         (amber, horizontal lines) · {} NO DATA (grey, dots) · {} ALERT (red, diagonal stripes). \
         Rules: a band over the window each rule watches ({} pass, {} fail, {} in progress); \
         <b>✕</b> marks the moment a rule failed, and {} what it no longer watched after its \
         verdict. Times are world time from the evaluation start: the {} shown took {} of real \
         time at time scale {}.</p>",
        swatch("url(#pat-ok)", "none"),
        swatch("url(#pat-warn)", "none"),
        swatch("url(#pat-nodata)", "none"),
        swatch("url(#pat-alert)", "none"),
        swatch("#cdebd6", "#0a7d32"),
        swatch("#f3d0d6", "#8c1022"),
        swatch("#fff1bf", "#8a6d00"),
        swatch("url(#pat-decided)", "#a9a9b3"),
        offset_label(end_ms),
        real_duration_label(real_ms),
        time_scale,
    )
}

/// A rule's band: the window it watches, its status, and where it failed.
fn rule_band(rule: &RuleView, axis: &Axis, y: f64, summary: &mut Vec<String>) -> String {
    let status = rule.outcome.status;
    let (fill, stroke) = match status {
        Status::Pass => ("#cdebd6", "#0a7d32"),
        Status::Fail => ("#f3d0d6", "#8c1022"),
        Status::InProgress => ("#fff1bf", "#8a6d00"),
    };
    let window = format!(
        "{} – {}",
        offset_label(rule.start_ms),
        offset_label(rule.end_ms)
    );
    let verdict = match (status, rule.finished_ms) {
        (Status::Fail, Some(at)) => format!("FAIL at {}", offset_label(at)),
        (Status::Fail, None) => "FAIL".to_string(),
        (Status::Pass, Some(at)) => format!("pass at {}", offset_label(at)),
        (Status::Pass, None) => "pass".to_string(),
        (Status::InProgress, _) => "in progress".to_string(),
    };
    let kind = match rule.def.kind {
        RuleKind::Monitor(_) => "monitor rule",
        RuleKind::FaultyDeploymentDetection(_) => "faulty deployment detection",
    };
    let dry = if rule.def.dry_run { ", dry run" } else { "" };
    let label = format!(
        "Rule {}: {verdict} ({kind}{dry}, window {window})",
        rule.def.name
    );
    summary.push(label.clone());
    let (x0, x1) = (axis.x(rule.start_ms), axis.x(rule.end_ms));
    let band_y = y + 6.0;
    let band_h = 18.0;
    let mut out = format!(
        "<g class=\"rule-band\" data-rule-index=\"{index}\" data-status=\"{status}\"{failed_at} \
         role=\"img\" aria-label=\"{aria}\"><title>{aria}</title>\
         <text class=\"rule-label\" x=\"8\" y=\"{ty:.1}\" font-weight=\"600\">{name}</text>",
        index = rule.index,
        status = status.as_str(),
        failed_at = match (status, rule.finished_ms) {
            (Status::Fail, Some(at)) => format!(" data-failed-at-ms=\"{at}\""),
            _ => String::new(),
        },
        aria = escape(&label),
        ty = band_y + 13.0,
        name = escape(&clip(
            &format!(
                "{}{}",
                rule.def.name,
                if rule.def.dry_run { " (dry run)" } else { "" }
            ),
            40
        )),
    );
    if rule.start_ms > 0 {
        let _ = write!(
            out,
            "<line class=\"warmup\" x1=\"{:.1}\" y1=\"{my:.1}\" x2=\"{x0:.1}\" y2=\"{my:.1}\" \
             stroke=\"#8a8f98\" stroke-width=\"2\" stroke-dasharray=\"3 3\"/>",
            axis.x(0),
            my = band_y + band_h / 2.0,
        );
    }
    let _ = write!(
        out,
        "<rect class=\"window\" x=\"{x0:.1}\" y=\"{band_y:.1}\" width=\"{:.1}\" height=\"{band_h}\" \
         fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"1.5\" rx=\"3\"/>",
        (x1 - x0).max(3.0)
    );
    if let (Status::Fail, Some(at)) = (status, rule.finished_ms) {
        let xf = axis.x(at);
        if x1 - xf > 1.0 {
            let _ = write!(
                out,
                "<rect class=\"decided\" x=\"{xf:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" \
                 fill=\"url(#pat-decided)\"/>",
                band_y + 1.0,
                x1 - xf - 1.0,
                band_h - 2.0
            );
        }
        let _ = write!(
            out,
            "<line class=\"failed-at\" x1=\"{xf:.1}\" y1=\"{:.1}\" x2=\"{xf:.1}\" y2=\"{:.1}\" \
             stroke=\"#1d1d1f\" stroke-width=\"3\"/>",
            y + 1.0,
            y + RULE_ROW - 1.0
        );
    }
    // The verdict in words, next to the failure mark (or at the window's start).
    let text_x = match (status, rule.finished_ms) {
        (Status::Fail, Some(at)) => axis.x(at) + 6.0,
        _ => x0 + 6.0,
    };
    let (anchor, text_x) = if text_x > PLOT_X + PLOT_WIDTH - 150.0 {
        ("end", text_x - 12.0)
    } else {
        ("start", text_x)
    };
    let _ = write!(
        out,
        "<text class=\"verdict\" x=\"{text_x:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\" \
         font-weight=\"600\">{}{}</text></g>",
        band_y + 13.0,
        if status == Status::Fail { "✕ " } else { "" },
        escape(&verdict)
    );
    out
}

/// One monitor's (or group's) states over the window, as labelled segments.
#[allow(clippy::too_many_arguments)]
fn state_row(
    class: &str,
    data: &str,
    label: &str,
    link_to: Option<u64>,
    segments: Vec<(u64, u64, MonitorState)>,
    axis: &Axis,
    y: f64,
    summary: &mut Vec<String>,
) -> String {
    let words: Vec<String> = segments
        .iter()
        .map(|(from, to, state)| {
            format!(
                "{} from {} to {}",
                state_style(*state).0,
                offset_label(*from),
                offset_label(*to)
            )
        })
        .collect();
    let aria = if words.is_empty() {
        format!("{label}: no state yet")
    } else {
        format!("{label}: {}", words.join(", "))
    };
    summary.push(aria.clone());
    let text = format!(
        "<text class=\"monitor-label\" x=\"{}\" y=\"{:.1}\">{}</text>",
        if class == "group-row" { 28 } else { 18 },
        y + 16.0,
        escape(&clip(label.trim_start(), 42))
    );
    let text = match link_to {
        Some(id) => format!("<a href=\"/monitors/{id}\">{text}</a>"),
        None => text,
    };
    let mut out = format!(
        "<g class=\"{class}\"{data} role=\"img\" aria-label=\"{aria}\"><title>{aria}</title>{text}",
        aria = escape(&aria),
    );
    let _ = write!(
        out,
        "<line x1=\"{PLOT_X}\" y1=\"{my:.1}\" x2=\"{:.1}\" y2=\"{my:.1}\" stroke=\"#c9c9d1\" \
         stroke-dasharray=\"2 4\"/>",
        PLOT_X + PLOT_WIDTH,
        my = y + 12.0
    );
    for (from, to, state) in &segments {
        let (name, data_state, fill) = state_style(*state);
        let (x0, x1) = (axis.x(*from), axis.x(*to));
        let width = (x1 - x0).max(1.0);
        let _ = write!(
            out,
            "<rect class=\"seg\" data-state=\"{data_state}\" data-from-ms=\"{from}\" \
             data-to-ms=\"{to}\" x=\"{x0:.1}\" y=\"{:.1}\" width=\"{width:.1}\" height=\"16\" \
             fill=\"{fill}\"><title>{name} from {} to {}</title></rect>",
            y + 4.0,
            offset_label(*from),
            offset_label(*to)
        );
        if width >= 48.0 {
            let color = if *state == MonitorState::Warn {
                "#1d1d1f"
            } else {
                "#ffffff"
            };
            let _ = write!(
                out,
                "<text class=\"seg-label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" \
                 fill=\"{color}\" font-weight=\"700\" aria-hidden=\"true\">{name}</text>",
                x0 + width / 2.0,
                y + 16.0
            );
        }
    }
    out.push_str("</g>");
    out
}

/// An FDD rule's error rates per resource: the deployed version against previous versions.
fn fdd_figure(
    world: &World,
    request: &EvaluationRequest,
    rule: &RuleView,
    fdd: &crate::rules::FddRule,
    elapsed_ms: u64,
) -> String {
    let rates = eval::fdd_rates(world, fdd, request, elapsed_ms);
    let version = request.version.as_deref().unwrap_or("the new version");
    let counted = offset_label(elapsed_ms.min(rule.end_ms));
    let caption = format!(
        "Error rates per resource for rule {}: version {version} (first {counted} of its \
         window) against previous versions",
        rule.def.name
    );
    let mut out = format!(
        "<figure class=\"fdd\" data-rule-index=\"{}\"><figcaption>{}</figcaption>",
        rule.index,
        escape(&caption)
    );
    if rates.is_empty() {
        out.push_str("<p class=\"fdd-empty\">No APM traffic to compare.</p></figure>");
        return out;
    }
    let rate = |errors: u64, requests: u64| {
        if requests == 0 {
            0.0
        } else {
            errors as f64 / requests as f64
        }
    };
    let max_rate = rates
        .iter()
        .flat_map(|r| {
            [
                rate(r.new_errors, r.new_requests),
                rate(r.baseline_errors, r.baseline_requests),
            ]
        })
        .fold(0.0f64, f64::max)
        .max(0.001);
    let row = 40.0;
    let bar_width = 360.0;
    let height = 8.0 + row * rates.len() as f64 + 8.0;
    let mut bars = String::new();
    let mut desc: Vec<String> = Vec::new();
    for (i, r) in rates.iter().enumerate() {
        let y = 8.0 + row * i as f64;
        let new_rate = rate(r.new_errors, r.new_requests);
        let base_rate = rate(r.baseline_errors, r.baseline_requests);
        let faulty = rule
            .outcome
            .failures
            .faulty_apm_resources
            .contains(&r.resource);
        let mut words = format!(
            "{}: {version} {:.2}% ({} errors in {} requests), previous versions {:.2}% ({} in {})",
            r.label,
            new_rate * 100.0,
            r.new_errors,
            r.new_requests,
            base_rate * 100.0,
            r.baseline_errors,
            r.baseline_requests
        );
        if !r.new_error_types.is_empty() {
            let _ = write!(words, "; new error types: {}", r.new_error_types.join(", "));
        }
        if faulty {
            words.push_str("; faulty");
        }
        desc.push(words.clone());
        let width = |v: f64| (bar_width * v / max_rate).max(1.0);
        let new_fill = if faulty { "#b3541e" } else { "#1f5fbf" };
        let _ = write!(
            bars,
            "<g class=\"fdd-resource\" data-resource=\"{res}\" data-faulty=\"{faulty}\" role=\"img\" \
             aria-label=\"{aria}\"><title>{aria}</title>\
             <text x=\"8\" y=\"{ly:.1}\" font-weight=\"600\">{label}</text>\
             <rect class=\"baseline-bar\" x=\"{PLOT_X}\" y=\"{by:.1}\" width=\"{bw:.1}\" \
             height=\"12\" fill=\"url(#pat-baseline)\"/>\
             <text x=\"{btx:.1}\" y=\"{bty:.1}\">previous {base:.2}%</text>\
             <rect class=\"new-bar\" x=\"{PLOT_X}\" y=\"{ny:.1}\" width=\"{nw:.1}\" height=\"12\" \
             fill=\"{new_fill}\"/><text x=\"{ntx:.1}\" y=\"{nty:.1}\" font-weight=\"600\">{ver} \
             {new:.2}%{flag}</text></g>",
            res = escape(&r.resource),
            aria = escape(&words),
            ly = y + 20.0,
            label = escape(&clip(&r.label, 40)),
            by = y + 2.0,
            bw = width(base_rate),
            btx = PLOT_X + width(base_rate) + 6.0,
            bty = y + 12.0,
            base = base_rate * 100.0,
            ny = y + 17.0,
            nw = width(new_rate),
            ntx = PLOT_X + width(new_rate) + 6.0,
            nty = y + 27.0,
            ver = escape(version),
            new = new_rate * 100.0,
            flag = if faulty {
                " — faulty".to_string()
            } else if !r.new_error_types.is_empty() {
                format!(" — new: {}", escape(&r.new_error_types.join(", ")))
            } else {
                String::new()
            },
        );
    }
    let _ = write!(
        out,
        "<svg class=\"fdd-chart\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" \
         aria-label=\"{aria}\" width=\"{SVG_WIDTH}\" height=\"{height:.0}\" \
         viewBox=\"0 0 {SVG_WIDTH} {height:.0}\"><title>{title}</title>{bars}</svg></figure>",
        aria = escape(&desc.join("; ")),
        title = escape(&caption),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::parse_rule;
    use serde_json::{Value, json};

    fn example(name: &str) -> World {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/worlds")
            .join(format!("{name}.json"));
        World::from_path(&path).unwrap()
    }

    fn request(world: &World, rules: &[Value]) -> EvaluationRequest {
        let rules = if rules.is_empty() {
            world.gates[0]
                .rules
                .iter()
                .map(|r| {
                    parse_rule(&json!({"name": r.name, "type": r.rule_type, "options": r.options}))
                        .unwrap()
                })
                .collect()
        } else {
            rules.iter().map(|r| parse_rule(r).unwrap()).collect()
        };
        EvaluationRequest {
            service: "checkout".into(),
            env: "prod".into(),
            identifier: "default".into(),
            version: Some("v2".into()),
            primary_tag: None,
            dry_run: false,
            rules,
        }
    }

    /// The SVG elements with `class="{class}"` (as the page writes them).
    fn count(html: &str, class: &str) -> usize {
        html.matches(&format!("class=\"{class}\"")).count()
    }

    /// The `attr` value of the first element that contains `marker` in its start tag.
    fn attr_of(html: &str, marker: &str, attr: &str) -> Option<String> {
        let at = html.find(marker)?;
        let start = html[..at].rfind('<')?;
        let end = at + html[at..].find('>')?;
        let tag = &html[start..end];
        let key = format!(" {attr}=\"");
        let from = tag.find(&key)? + key.len();
        Some(tag[from..from + tag[from..].find('"')?].to_string())
    }

    #[test]
    fn the_alert_at_minute_two_is_drawn_where_it_happened() {
        let world = example("alerting");
        let req = request(&world, &[]);
        let html = window_figure(&world, &req, 400_000, "http://127.0.0.1:9", 100_000.0);
        // Two rules, three watched monitors (the muted one and the search monitor are not).
        assert_eq!(count(&html, "rule-band"), 2, "{html}");
        assert_eq!(count(&html, "monitor-row"), 3, "{html}");
        assert_eq!(count(&html, "group-row"), 0);
        for id in ["101", "102", "103"] {
            assert!(html.contains(&format!("data-monitor-id=\"{id}\"")), "{id}");
        }
        assert!(!html.contains("data-monitor-id=\"104\""), "muted");
        // Monitor 101: OK until 2 min, then ALERT to the window's end (5 min).
        let alert = "data-state=\"ALERT\" data-from-ms=\"120000\" data-to-ms=\"300000\"";
        assert!(html.contains(alert), "{html}");
        let x: f64 = attr_of(&html, alert, "x").unwrap().parse().unwrap();
        let width: f64 = attr_of(&html, alert, "width").unwrap().parse().unwrap();
        assert!((x - (PLOT_X + PLOT_WIDTH * 0.4)).abs() < 0.2, "{x}");
        assert!((x + width - (PLOT_X + PLOT_WIDTH)).abs() < 0.2, "{width}");
        assert!(html.contains("data-state=\"OK\" data-from-ms=\"0\" data-to-ms=\"120000\""));
        assert_eq!(html.matches("data-state=\"ALERT\"").count(), 1);
        // The monitor rule failed at 2 min, in words too; FDD passed at the window's end.
        assert!(
            html.contains("data-status=\"fail\" data-failed-at-ms=\"120000\""),
            "{html}"
        );
        assert!(html.contains("✕ FAIL at 2 min"), "{html}");
        assert!(
            html.contains(
                "Rule Checkout monitors: FAIL at 2 min (monitor rule, window 0 s – 5 min)"
            )
        );
        assert!(html.contains("pass at 5 min"), "{html}");
        assert!(html.contains(
            "[checkout] error rate above 2%: OK from 0 s to 2 min, ALERT from 2 min to 5 min"
        ));
        // The axis is labelled from the start, in world time, and says what that took for real.
        for tick in [">0 s<", ">1 min<", ">2 min<", ">5 min<"] {
            assert!(html.contains(tick), "{tick}");
        }
        assert!(html.contains("the 5 min shown took 3 ms of real time at time scale 100000"));
        // FDD: two resources (the health check is excluded), same rates as the baseline.
        assert_eq!(count(&html, "fdd-chart"), 1);
        assert_eq!(html.matches("class=\"fdd-resource\"").count(), 2, "{html}");
        assert!(html.contains("data-resource=\"GET /cart\" data-faulty=\"false\""));
        assert!(!html.contains("data-resource=\"GET /healthcheck\""));
        assert!(
            html.contains(
                "POST /checkout: v2 0.25% (2 errors in 800 requests), previous versions 0.20% \
                 (160 in 80000)"
            ),
            "{html}"
        );
        assert!(!html.contains("<script"));
    }

    #[test]
    fn a_running_evaluation_shows_only_what_has_happened() {
        let world = example("alerting");
        let req = request(&world, &[]);
        let html = window_figure(&world, &req, 60_000, "http://127.0.0.1:9", 1.0);
        assert!(
            !html.contains("data-state=\"ALERT\""),
            "the future is not drawn: {html}"
        );
        assert!(html.contains("data-state=\"OK\" data-from-ms=\"0\" data-to-ms=\"60000\""));
        assert_eq!(html.matches("data-status=\"in_progress\"").count(), 2);
        assert!(
            html.contains("class=\"now\"") && html.contains("now (1 min)"),
            "{html}"
        );
        assert!(html.contains("the 5 min shown took 5 min of real time at time scale 1"));
    }

    #[test]
    fn judged_groups_get_rows_and_faulty_resources_are_marked() {
        let mut world = example("alerting");
        world.monitors[2].groups[1].timeline = vec![crate::world::StatePoint {
            at: crate::world::WorldDuration(30_000),
            state: MonitorState::NoData,
        }];
        let req = request(
            &world,
            &[json!({"name": "Regions", "type": "monitor",
                     "options": {"query": "service:checkout (group:\"region:us-east-1\" OR group:\"region:eu-west-1\")", "duration": 90, "warmup": 10, "fail_on_no_data": true}})],
        );
        let html = window_figure(&world, &req, 200_000, "", 60.0);
        assert_eq!(count(&html, "group-row"), 2, "{html}");
        assert!(html.contains("data-group=\"region:eu-west-1\""));
        assert!(
            html.contains("data-state=\"NO_DATA\" data-from-ms=\"30000\""),
            "{html}"
        );
        assert!(html.contains("data-failed-at-ms=\"30000\""), "{html}");
        assert!(html.contains("class=\"warmup\""), "a warm-up is drawn");
        assert!(html.contains("window 10 s – 1 min 40 s"), "{html}");

        let world = example("faulty-version");
        let req = request(&world, &[]);
        let html = window_figure(&world, &req, 400_000, "", 1.0);
        assert!(
            html.contains("data-resource=\"POST /checkout\" data-faulty=\"true\""),
            "{html}"
        );
        assert!(
            html.contains("new error types: NullPointerException"),
            "{html}"
        );
    }

    #[test]
    fn server_text_in_the_picture_is_escaped() {
        let mut world = example("alerting");
        world.monitors[0].name = "<script>alert(1)</script>\" onload=\"x".into();
        let req = request(
            &world,
            &[
                json!({"name": "</title><img src=x onerror=y>", "type": "monitor",
                     "options": {"query": "service:checkout", "duration": 60}}),
            ],
        );
        let html = window_figure(&world, &req, 100_000, "", 1.0);
        assert!(
            !html.contains("<script") && !html.contains("<img"),
            "{html}"
        );
        assert!(!html.contains("\" onload=\""), "{html}");
        assert!(html.contains("&lt;script&gt;"));
    }

    #[test]
    fn the_axis_ticks_at_round_numbers() {
        assert_eq!(
            Axis { end_ms: 300_000 }.ticks(),
            vec![0, 60_000, 120_000, 180_000, 240_000, 300_000]
        );
        assert_eq!(Axis { end_ms: 7_200_000 }.ticks().last(), Some(&7_200_000));
        assert_eq!(Axis { end_ms: 10_000 }.ticks().len(), 6);
        assert_eq!(real_duration_label(3.0), "3 ms");
        assert_eq!(real_duration_label(300_000.0), "5 min");
    }
}
