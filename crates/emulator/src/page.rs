//! Server-rendered pages: the Evaluations page (`/`, newest first, with the real status of
//! dry-run evaluations), one evaluation (`/evaluations/{id}`, where `evaluation_url` points) and
//! one monitor (`/monitors/{id}`, where rule reasons link). No scripts, no external assets, so
//! they work offline and in a headless browser. When the world requires keys, so do the pages
//! (HTTP Basic credentials from a browser, or the API's key headers; see `auth`); `/healthz`
//! stays open for health checks.

use crate::api::AppState;
use crate::eval::{GateOutcome, Status};
use crate::state::{Evaluation, Shared, rfc3339};
use crate::world::MonitorState;
use axum::Router;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
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
code{font-size:.9em}small{color:#666}ul{margin:0;padding-left:1.1rem}";

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
