//! The published Deployment Gates API (`schemas/api/`): evaluation trigger and result, gate and
//! rule CRUD, the evaluations and rule-evaluations lists, with the real service's status codes
//! and error bodies, plus key checks, rate limits and
//! fault plans (applied by [`gatekeeper`] before any handler runs).

use crate::eval::{self, EvaluationRequest, RuleOutcome, Status};
use crate::rules::{self, RuleKind, StoredRequest};
use crate::state::{
    EvaluatedRule, Evaluation, Gate, Rule, Shared, new_id, parse_time, rfc3339, unix_ms,
};
use crate::world::{Endpoint, FaultKind, FaultStep};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) type AppState = Arc<Shared>;

/// Marks a response the connection layer must not send: it resets the connection instead.
#[derive(Clone, Copy)]
pub(crate) struct ResetConnection;

/// The API routes, identical under `/api/v2` and `/api/unstable`.
pub(crate) fn router(state: AppState) -> Router {
    let api = Router::new()
        .route(
            "/deployments/gates/evaluation",
            axum::routing::post(trigger_evaluation),
        )
        .route("/deployments/gates/evaluation/{id}", get(get_evaluation))
        .route("/deployment_gates", get(list_gates).post(create_gate))
        .route("/deployment_gates/evaluations", get(list_evaluations))
        .route(
            "/deployment_gates/evaluations/rules",
            get(list_rule_evaluations),
        )
        .route(
            "/deployment_gates/{gate_id}",
            get(get_gate).put(update_gate).delete(delete_gate),
        )
        .route(
            "/deployment_gates/{gate_id}/rules",
            get(list_rules).post(create_rule),
        )
        .route(
            "/deployment_gates/{gate_id}/rules/{rule_id}",
            get(get_rule).put(update_rule).delete(delete_rule),
        )
        .fallback(api_not_found)
        .layer(middleware::from_fn_with_state(state.clone(), gatekeeper));
    // The one v1 operation: the monitor search (what `validate --online` resolves queries with).
    let v1 = Router::new()
        .route("/monitor/search", get(search_monitors))
        .layer(middleware::from_fn_with_state(state.clone(), gatekeeper));
    // The spans search (what `validate --online` checks a service's APM data with), v2 only.
    let spans = Router::new()
        .route("/api/v2/spans/events", get(search_spans))
        .layer(middleware::from_fn_with_state(state.clone(), gatekeeper));
    Router::new()
        .merge(spans)
        .nest("/api/v2", api.clone())
        .nest("/api/unstable", api)
        .nest("/api/v1", v1)
        .merge(crate::page::routes())
        .with_state(state)
}

/// The number of method + path combinations the API serves (both prefixes), for the docs.
pub const API_OPERATIONS_PER_PREFIX: usize = 14;
/// The v1 operations served (under `/api/v1` only): the monitor search.
pub const V1_OPERATIONS: usize = 1;
/// The other v2 operations served (under `/api/v2` only): the spans search.
pub const OTHER_V2_OPERATIONS: usize = 1;

async fn api_not_found() -> Response {
    api_error(StatusCode::NOT_FOUND, "not found")
}

/// The API's error body: `{"errors": [{"status", "title", "detail"}]}`.
pub(crate) fn api_error(status: StatusCode, detail: impl Into<String>) -> Response {
    let body = json!({"errors": [{
        "status": status.as_u16().to_string(),
        "title": status.canonical_reason().unwrap_or("Error"),
        "detail": detail.into(),
    }]});
    (status, axum::Json(body)).into_response()
}

/// 401/403/429 bodies are plain strings.
fn plain_error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "errors": [message] }))).into_response()
}

/// A 400 that helpers return through `?`; it becomes the API's error body.
pub(crate) struct ApiError {
    status: StatusCode,
    detail: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        api_error(self.status, self.detail)
    }
}

fn bad_request(detail: impl Into<String>) -> ApiError {
    ApiError {
        status: StatusCode::BAD_REQUEST,
        detail: detail.into(),
    }
}

fn json_response(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

/// Which rate-limit / fault-plan bucket a request belongs to.
fn classify(method: &Method, path: &str) -> Option<Endpoint> {
    // Inside the nested API router the `/api/v2` or `/api/unstable` prefix is already stripped.
    let rest = path
        .strip_prefix("/api/v2")
        .or_else(|| path.strip_prefix("/api/unstable"))
        .unwrap_or(path);
    if path.ends_with("/api/v1/monitor/search") || path == "/monitor/search" {
        Some(Endpoint::MonitorSearch)
    } else if path == "/api/v2/spans/events" {
        Some(Endpoint::SpansSearch)
    } else if rest == "/deployments/gates/evaluation" && method == Method::POST {
        Some(Endpoint::Trigger)
    } else if rest.starts_with("/deployments/gates/evaluation/") {
        Some(Endpoint::Result)
    } else if rest == "/deployment_gates/evaluations" {
        Some(Endpoint::Evaluations)
    } else if rest.starts_with("/deployment_gates/") && rest.contains("/rules") {
        Some(Endpoint::Rules)
    } else if rest.starts_with("/deployment_gates") {
        Some(Endpoint::Gates)
    } else {
        None
    }
}

/// Fault plans, then key checks, then rate limits — the order a request meets them on the way
/// into a real service (its edge, its auth, its API quota).
async fn gatekeeper(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let endpoint = classify(request.method(), request.uri().path());
    if let Some(endpoint) = endpoint {
        let step = state
            .lock()
            .next_fault(state.world.faults.plan(endpoint), endpoint);
        if let Some(step) = step {
            match serve_fault(&step, endpoint, request.uri().path()).await {
                FaultEffect::Respond(response) => return response,
                FaultEffect::Continue => {}
            }
        }
    }
    if !crate::auth::api_allowed(&state.world, request.headers()) {
        return plain_error(StatusCode::FORBIDDEN, "Forbidden");
    }
    let mut limit_headers = None;
    if let Some(endpoint) = endpoint
        && let Some(limit) = state
            .world
            .rate_limits
            .iter()
            .find(|l| l.endpoint == endpoint)
    {
        let now = Instant::now();
        let period = Duration::from_secs(limit.period_seconds);
        let (count, reset_in) = {
            let mut inner = state.lock();
            let window = inner.rate_windows.entry(endpoint).or_insert((now, 0));
            if now.duration_since(window.0) >= period {
                *window = (now, 0);
            }
            window.1 = window.1.saturating_add(1);
            (
                window.1,
                period.saturating_sub(now.duration_since(window.0)),
            )
        };
        let headers = rate_limit_headers(
            endpoint,
            limit.limit,
            limit.period_seconds,
            limit.limit.saturating_sub(count),
            reset_in.as_secs_f64().ceil() as u64,
        );
        if count > limit.limit {
            let mut response = plain_error(StatusCode::TOO_MANY_REQUESTS, "Too many requests");
            response.headers_mut().extend(headers);
            return response;
        }
        limit_headers = Some(headers);
    }
    let mut response = next.run(request).await;
    if let Some(headers) = limit_headers {
        response.headers_mut().extend(headers);
    }
    response
}

fn rate_limit_headers(
    endpoint: Endpoint,
    limit: u32,
    period: u64,
    remaining: u32,
    reset: u64,
) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let mut put = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    };
    put("x-ratelimit-limit", limit.to_string());
    put("x-ratelimit-period", period.to_string());
    put("x-ratelimit-remaining", remaining.to_string());
    put("x-ratelimit-reset", reset.to_string());
    put("x-ratelimit-name", endpoint.rate_limit_name().to_string());
    headers
}

enum FaultEffect {
    Respond(Response),
    Continue,
}

fn reset_response() -> Response {
    let mut response = StatusCode::INTERNAL_SERVER_ERROR.into_response();
    response.extensions_mut().insert(ResetConnection);
    response
}

async fn serve_fault(step: &FaultStep, endpoint: Endpoint, path: &str) -> FaultEffect {
    let response = match step.kind {
        FaultKind::Pass => return FaultEffect::Continue,
        FaultKind::Delay => {
            tokio::time::sleep(Duration::from_millis(step.ms.unwrap_or(1000))).await;
            return FaultEffect::Continue;
        }
        FaultKind::Reset => reset_response(),
        FaultKind::Hang => {
            tokio::time::sleep(Duration::from_millis(step.ms.unwrap_or(3_600_000))).await;
            reset_response()
        }
        FaultKind::Status => {
            let status = step
                .status
                .and_then(|s| StatusCode::from_u16(s).ok())
                .unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            match &step.body {
                Some(body) => (status, body.clone()).into_response(),
                None if matches!(status.as_u16(), 401 | 403 | 429) => plain_error(
                    status,
                    if status == StatusCode::TOO_MANY_REQUESTS {
                        "Too many requests"
                    } else {
                        "Forbidden"
                    },
                ),
                None => api_error(status, "injected fault"),
            }
        }
        FaultKind::RateLimited => {
            let mut response = plain_error(StatusCode::TOO_MANY_REQUESTS, "Too many requests");
            let reset = step.retry_after.unwrap_or(1);
            response
                .headers_mut()
                .extend(rate_limit_headers(endpoint, 1, 60, 0, reset));
            if let Some(after) = step.retry_after
                && let Ok(v) = HeaderValue::from_str(&after.to_string())
            {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
            response
        }
        FaultKind::Garbage => {
            let status = step
                .status
                .and_then(|s| StatusCode::from_u16(s).ok())
                .unwrap_or(StatusCode::OK);
            (
                status,
                [(header::CONTENT_TYPE, "application/json")],
                "{\"data\": {\"attributes\": <html>502 Bad Gateway</ht",
            )
                .into_response()
        }
        FaultKind::NotFound => api_error(
            StatusCode::NOT_FOUND,
            match endpoint {
                Endpoint::Trigger => "no gate found".to_string(),
                Endpoint::Result => format!(
                    "gate evaluation with id {} not found",
                    path.rsplit('/').next().unwrap_or_default()
                ),
                _ => "not found".to_string(),
            },
        ),
    };
    FaultEffect::Respond(response)
}

/// Parse a JSON body and return `data.attributes`.
fn attributes(body: &Bytes) -> Result<serde_json::Map<String, Value>, ApiError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| bad_request(format!("invalid JSON body: {e}")))?;
    match value.get("data").and_then(|d| d.get("attributes")) {
        Some(Value::Object(attrs)) => Ok(attrs.clone()),
        _ => Err(bad_request("required data.attributes field is missing")),
    }
}

fn required_string(attrs: &serde_json::Map<String, Value>, key: &str) -> Result<String, ApiError> {
    match attrs.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            Err(bad_request(format!("required {key} field is missing")))
        }
        Some(_) => Err(bad_request(format!("{key} must be a string"))),
    }
}

fn optional_string(
    attrs: &serde_json::Map<String, Value>,
    key: &str,
) -> Result<Option<String>, ApiError> {
    match attrs.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(bad_request(format!("{key} must be a string"))),
    }
}

fn optional_bool(
    attrs: &serde_json::Map<String, Value>,
    key: &str,
) -> Result<Option<bool>, ApiError> {
    match attrs.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(bad_request(format!("{key} must be a boolean"))),
    }
}

/// A path id must be a UUID: `attribute "gate_id" Invalid id`, as the service says it.
fn check_uuid(attribute: &str, id: &str) -> Result<(), ApiError> {
    uuid::Uuid::parse_str(id)
        .map(|_| ())
        .map_err(|_| bad_request(format!("attribute \"{attribute}\" Invalid id")))
}

/// A required string attribute of a CRUD body: `attribute "env" is required` when missing or
/// empty (the recorded answer to `"env": ""`).
fn crud_string(attrs: &serde_json::Map<String, Value>, key: &str) -> Result<String, ApiError> {
    match attrs.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(Value::String(_) | Value::Null) | None => {
            Err(bad_request(format!("attribute \"{key}\" is required")))
        }
        Some(_) => Err(bad_request(format!("attribute \"{key}\" must be a string"))),
    }
}

/// The prefix for links in a response: the emulator's own base URL, or, when it listens on
/// every interface, the address the client used.
fn link_base(state: &Shared, headers: &HeaderMap) -> String {
    if state.links_from_host
        && let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok())
    {
        return format!("{}://{host}", state.scheme);
    }
    state.base_url.clone()
}

async fn trigger_evaluation(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let attrs = match attributes(&body) {
        Ok(a) => a,
        Err(r) => return r.into_response(),
    };
    let parsed = (|| {
        let service = required_string(&attrs, "service")?;
        let env = required_string(&attrs, "env")?;
        let identifier =
            optional_string(&attrs, "identifier")?.unwrap_or_else(crate::world::default_identifier);
        let version = optional_string(&attrs, "version")?;
        // datadog-ci sends `apm_primary_tag`; the public spec says `primary_tag`.
        let primary_tag = match optional_string(&attrs, "primary_tag")? {
            Some(tag) => Some(tag),
            None => optional_string(&attrs, "apm_primary_tag")?,
        };
        Ok::<_, ApiError>((service, env, identifier, version, primary_tag))
    })();
    let (service, env, identifier, version, primary_tag) = match parsed {
        Ok(p) => p,
        Err(r) => return r.into_response(),
    };
    let mut inner = state.lock();
    let evaluated = |rule_id: Option<&str>, options: Option<&Value>| EvaluatedRule {
        id: new_id(),
        rule_id: rule_id.map(str::to_string),
        options: options.cloned().unwrap_or_else(|| json!({})),
    };
    let (gate_id, dry_run, rule_defs, evaluated_rules) = match attrs.get("configuration") {
        Some(config) if !config.is_null() => match rules::parse_configuration(config) {
            Ok((dry_run, defs)) => {
                let given = config["rules"].as_array().cloned().unwrap_or_default();
                let evaluated_rules = given
                    .iter()
                    .map(|r| evaluated(None, r.get("options").filter(|o| o.is_object())))
                    .collect();
                (None, dry_run, defs, evaluated_rules)
            }
            Err(detail) => return bad_request(detail).into_response(),
        },
        _ => match inner.gate_by_key(&service, &env, &identifier) {
            Some(gate) if !gate.rules.is_empty() => (
                Some(gate.id.clone()),
                gate.dry_run,
                gate.rules.iter().map(|r| r.def.clone()).collect(),
                gate.rules
                    .iter()
                    .map(|r| evaluated(Some(&r.id), Some(&r.options)))
                    .collect(),
            ),
            _ => {
                return api_error(
                    StatusCode::NOT_FOUND,
                    format!(
                        "no gate found for service {service}, env {env}, and identifier {identifier}"
                    ),
                );
            }
        },
    };
    if version.is_none()
        && rule_defs
            .iter()
            .any(|r| matches!(r.kind, RuleKind::FaultyDeploymentDetection(_)))
    {
        return bad_request("version is required to evaluate faulty_deployment_detection rules")
            .into_response();
    }
    let id = new_id();
    inner.evaluations.push(Evaluation {
        id: id.clone(),
        gate_id,
        request: EvaluationRequest {
            service,
            env,
            identifier,
            version,
            primary_tag,
            dry_run,
            rules: rule_defs,
        },
        rules: evaluated_rules,
        triggered_world_ms: state.world_now_ms(),
        created_ms: unix_ms(),
        link_base: link_base(&state, &headers),
    });
    json_response(
        StatusCode::ACCEPTED,
        json!({"data": {
            "id": id,
            "type": "deployment_gates_evaluation_response",
            "attributes": {"evaluation_id": id},
        }}),
    )
}

fn rules_json(rules: &[RuleOutcome]) -> Value {
    serde_json::to_value(rules).unwrap_or(Value::Null)
}

async fn get_evaluation(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    if let Err(r) = check_uuid("id", &id) {
        return r.into_response();
    }
    let now = state.world_now_ms();
    let inner = state.lock();
    let not_found = || {
        api_error(
            StatusCode::NOT_FOUND,
            format!("gate evaluation with id {id} not found"),
        )
    };
    let Some(evaluation) = inner.evaluations.iter().find(|e| e.id == id) else {
        return not_found();
    };
    if let Some(delay) = state.world.faults.result_not_found_for
        && now.saturating_sub(evaluation.triggered_world_ms) < delay.0
    {
        return not_found();
    }
    // A result late by server-side processing: the evaluation as it stood that long ago; before
    // that much time has passed since the trigger, everything is in progress.
    let late = state.world.faults.result_late_by.map_or(0, |d| d.0);
    let outcome = if now.saturating_sub(evaluation.triggered_world_ms) < late {
        let mut outcome = evaluation.outcome(&state.world, evaluation.triggered_world_ms);
        outcome.api_status = crate::eval::Status::InProgress;
        for rule in &mut outcome.rules {
            rule.status = crate::eval::Status::InProgress;
            rule.reason = None;
        }
        outcome
    } else {
        evaluation.outcome(&state.world, now.saturating_sub(late))
    };
    json_response(
        StatusCode::OK,
        json!({"data": {
            "id": evaluation.id,
            "type": "deployment_gates_evaluation_result_response",
            "attributes": {
                "dry_run": evaluation.request.dry_run,
                "evaluation_id": evaluation.id,
                "evaluation_url": evaluation.url(),
                "gate_id": evaluation.gate_id,
                "gate_status": outcome.api_status,
                "rules": rules_json(&outcome.rules),
            },
        }}),
    )
}

fn created_by() -> Value {
    json!({"id": "00000000-0000-4000-8000-000000000001", "name": "gatepost emulator", "handle": "emulator@gatepost.invalid"})
}

fn gate_json(gate: &Gate) -> Value {
    let attributes = json!({
        "service": gate.service,
        "env": gate.env,
        "identifier": gate.identifier,
        "dry_run": gate.dry_run,
        "created_at": rfc3339(gate.created_ms),
        "created_by": created_by(),
        // The service fills these in at creation already.
        "updated_at": rfc3339(gate.updated_ms.unwrap_or(gate.created_ms)),
        "updated_by": created_by(),
    });
    json!({"id": gate.id, "type": "deployment_gate", "attributes": attributes})
}

fn rule_attributes(gate_id: &str, rule: &Rule) -> Value {
    let mut options = rule.options.clone();
    // FDD options in responses always carry `excluded_resources` (the published response model).
    if matches!(rule.def.kind, RuleKind::FaultyDeploymentDetection(_))
        && let Value::Object(map) = &mut options
    {
        map.entry("excluded_resources").or_insert_with(|| json!([]));
    }
    json!({
        "name": rule.def.name,
        "type": rule.def.rule_type(),
        "options": options,
        "dry_run": rule.def.dry_run,
        "gate_id": gate_id,
        "created_at": rfc3339(rule.created_ms),
        "created_by": created_by(),
        "updated_at": rfc3339(rule.updated_ms.unwrap_or(rule.created_ms)),
        "updated_by": created_by(),
    })
}

fn rule_json(gate_id: &str, rule: &Rule) -> Value {
    json!({"data": {"id": rule.id, "type": "deployment_rule", "attributes": rule_attributes(gate_id, rule)}})
}

/// The query string as pairs, repeated keys kept (`filter[env]=a&filter[env]=b`).
type Params = Vec<(String, String)>;

/// The last value of a single-valued parameter.
fn param<'p>(params: &'p Params, key: &str) -> Option<&'p str> {
    params
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// Every value of a multi-valued parameter, repeated or comma-separated (`None`: not given).
fn param_values(params: &Params, key: &str) -> Option<Vec<String>> {
    let values: Vec<String> = params
        .iter()
        .filter(|(k, _)| k == key)
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .collect();
    (!values.is_empty()).then_some(values)
}

fn bool_param(params: &Params, key: &str) -> Result<Option<bool>, ApiError> {
    match param(params, key) {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(_) => Err(bad_request(format!("{key} must be true or false"))),
    }
}

/// `page[size]` (within `1..=max`, default `default`) and `page[cursor]` (the opaque cursor a
/// previous page's `meta.page.next_cursor` gave: an offset here).
fn paging(params: &Params, default: usize, max: usize) -> Result<(usize, usize), ApiError> {
    let size = match param(params, "page[size]") {
        None => default,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => n,
            _ => {
                return Err(bad_request(format!(
                    "page[size] must be an integer between 1 and {max}"
                )));
            }
        },
    };
    let offset = match param(params, "page[cursor]") {
        None | Some("") => 0,
        Some(c) => c
            .parse::<usize>()
            .map_err(|_| bad_request("page[cursor] is not a valid cursor"))?,
    };
    Ok((size, offset))
}

/// `meta.page`: the cursor used (when one was), the next one (absent on the last page), the size.
fn page_meta(params: &Params, offset: usize, size: usize, total: usize) -> Value {
    let mut page = json!({ "size": size });
    if let Some(cursor) = param(params, "page[cursor]").filter(|c| !c.is_empty()) {
        page["cursor"] = json!(cursor);
    }
    if offset + size < total {
        page["next_cursor"] = json!((offset + size).to_string());
    }
    json!({ "page": page })
}

async fn list_gates(State(state): State<AppState>, Query(params): Query<Params>) -> Response {
    let filters = (|| {
        let (size, offset) = paging(&params, 50, 1000)?;
        Ok::<_, ApiError>((size, offset, bool_param(&params, "filter[dry_run]")?))
    })();
    let (size, offset, dry_run) = match filters {
        Ok(f) => f,
        Err(r) => return r.into_response(),
    };
    let text = |key: &str| param(&params, key);
    let inner = state.lock();
    let matching: Vec<&Gate> = inner
        .gates
        .iter()
        .filter(|g| {
            text("filter[service]").is_none_or(|v| v == g.service)
                && text("filter[env]").is_none_or(|v| v == g.env)
                && text("filter[identifier]").is_none_or(|v| v == g.identifier)
                && dry_run.is_none_or(|d| d == g.dry_run)
        })
        .collect();
    let data: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(size)
        .map(|g| gate_json(g))
        .collect();
    json_response(
        StatusCode::OK,
        json!({"data": data, "meta": page_meta(&params, offset, size, matching.len())}),
    )
}

async fn create_gate(State(state): State<AppState>, body: Bytes) -> Response {
    let attrs = match attributes(&body) {
        Ok(a) => a,
        Err(r) => return r.into_response(),
    };
    let parsed = (|| {
        Ok::<_, ApiError>((
            crud_string(&attrs, "service")?,
            crud_string(&attrs, "env")?,
            optional_string(&attrs, "identifier")?.unwrap_or_else(crate::world::default_identifier),
            optional_bool(&attrs, "dry_run")?.unwrap_or(false),
        ))
    })();
    let (service, env, identifier, dry_run) = match parsed {
        Ok(p) => p,
        Err(r) => return r.into_response(),
    };
    let mut inner = state.lock();
    if inner.gate_by_key(&service, &env, &identifier).is_some() {
        return bad_request("Gate already exists with the given env, service and identifier")
            .into_response();
    }
    let gate = Gate {
        id: new_id(),
        service,
        env,
        identifier,
        dry_run,
        created_ms: unix_ms(),
        updated_ms: None,
        rules: Vec::new(),
    };
    let body = json!({"data": gate_json(&gate)});
    inner.gates.push(gate);
    json_response(StatusCode::OK, body)
}

fn gate_not_found() -> Response {
    api_error(StatusCode::NOT_FOUND, "Gate does not exist")
}

async fn get_gate(State(state): State<AppState>, Path(gate_id): Path<String>) -> Response {
    if let Err(r) = check_uuid("id", &gate_id) {
        return r.into_response();
    }
    let inner = state.lock();
    match inner.gates.iter().find(|g| g.id == gate_id) {
        Some(gate) => json_response(StatusCode::OK, json!({"data": gate_json(gate)})),
        None => gate_not_found(),
    }
}

async fn update_gate(
    State(state): State<AppState>,
    Path(gate_id): Path<String>,
    body: Bytes,
) -> Response {
    if let Err(r) = check_uuid("id", &gate_id) {
        return r.into_response();
    }
    let attrs = match attributes(&body) {
        Ok(a) => a,
        Err(r) => return r.into_response(),
    };
    // The published update model requires `data.id`; the service ignores its value (the
    // recordings send another gate's id and update the gate of the path).
    let has_id = serde_json::from_slice::<Value>(&body)
        .ok()
        .is_some_and(|v| v["data"]["id"].is_string());
    if !has_id {
        return bad_request("attribute \"id\" is required").into_response();
    }
    let dry_run = match optional_bool(&attrs, "dry_run") {
        Ok(Some(d)) => d,
        Ok(None) => return bad_request("attribute \"dry_run\" is required").into_response(),
        Err(r) => return r.into_response(),
    };
    let mut inner = state.lock();
    match inner.gates.iter_mut().find(|g| g.id == gate_id) {
        Some(gate) => {
            gate.dry_run = dry_run;
            gate.updated_ms = Some(unix_ms());
            json_response(StatusCode::OK, json!({"data": gate_json(gate)}))
        }
        None => gate_not_found(),
    }
}

async fn delete_gate(State(state): State<AppState>, Path(gate_id): Path<String>) -> Response {
    if let Err(r) = check_uuid("id", &gate_id) {
        return r.into_response();
    }
    let mut inner = state.lock();
    let before = inner.gates.len();
    inner.gates.retain(|g| g.id != gate_id);
    if inner.gates.len() == before {
        return gate_not_found();
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn list_rules(State(state): State<AppState>, Path(gate_id): Path<String>) -> Response {
    if let Err(r) = check_uuid("gate_id", &gate_id) {
        return r.into_response();
    }
    let inner = state.lock();
    let Some(gate) = inner.gates.iter().find(|g| g.id == gate_id) else {
        return gate_not_found();
    };
    let rules: Vec<Value> = gate
        .rules
        .iter()
        .map(|r| rule_attributes(&gate.id, r))
        .collect();
    json_response(
        StatusCode::OK,
        json!({"data": {"id": gate.id, "type": "list_deployment_rules", "attributes": {"rules": rules}}}),
    )
}

async fn create_rule(
    State(state): State<AppState>,
    Path(gate_id): Path<String>,
    body: Bytes,
) -> Response {
    if let Err(r) = check_uuid("gate_id", &gate_id) {
        return r.into_response();
    }
    let attrs = match attributes(&body) {
        Ok(a) => a,
        Err(r) => return r.into_response(),
    };
    let (def, options) = match rules::parse_stored_rule(&attrs, StoredRequest::Create) {
        Ok(r) => r,
        Err(detail) => return bad_request(detail).into_response(),
    };
    let mut inner = state.lock();
    let Some(gate) = inner.gates.iter_mut().find(|g| g.id == gate_id) else {
        return gate_not_found();
    };
    if gate.rules.iter().any(|r| r.def.name == def.name) {
        return bad_request(format!(
            "a rule named {} already exists in this gate",
            def.name
        ))
        .into_response();
    }
    let rule = Rule {
        id: new_id(),
        def,
        options,
        created_ms: unix_ms(),
        updated_ms: None,
    };
    let body = rule_json(&gate.id, &rule);
    gate.rules.push(rule);
    json_response(StatusCode::OK, body)
}

/// The service answers this for a missing rule and for a rule of a missing gate alike.
fn rule_not_found() -> Response {
    api_error(StatusCode::NOT_FOUND, "Rule does not exist")
}

async fn get_rule(
    State(state): State<AppState>,
    Path((gate_id, rule_id)): Path<(String, String)>,
) -> Response {
    if let Err(r) = check_uuid("gate_id", &gate_id).and_then(|_| check_uuid("id", &rule_id)) {
        return r.into_response();
    }
    let inner = state.lock();
    let Some(gate) = inner.gates.iter().find(|g| g.id == gate_id) else {
        return rule_not_found();
    };
    match gate.rules.iter().find(|r| r.id == rule_id) {
        Some(rule) => json_response(StatusCode::OK, rule_json(&gate.id, rule)),
        None => rule_not_found(),
    }
}

async fn update_rule(
    State(state): State<AppState>,
    Path((gate_id, rule_id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    if let Err(r) = check_uuid("gate_id", &gate_id).and_then(|_| check_uuid("id", &rule_id)) {
        return r.into_response();
    }
    let attrs = match attributes(&body) {
        Ok(a) => a,
        Err(r) => return r.into_response(),
    };
    let mut inner = state.lock();
    let Some(gate) = inner.gates.iter_mut().find(|g| g.id == gate_id) else {
        return rule_not_found();
    };
    let Some(index) = gate.rules.iter().position(|r| r.id == rule_id) else {
        return rule_not_found();
    };
    // An update replaces the rule (no merge) and never changes its type.
    let request = StoredRequest::Update {
        rule_type: gate.rules[index].def.rule_type(),
    };
    let (def, options) = match rules::parse_stored_rule(&attrs, request) {
        Ok(r) => r,
        Err(detail) => return bad_request(detail).into_response(),
    };
    if gate
        .rules
        .iter()
        .enumerate()
        .any(|(i, r)| i != index && r.def.name == def.name)
    {
        return bad_request(format!(
            "a rule named {} already exists in this gate",
            def.name
        ))
        .into_response();
    }
    let rule = &mut gate.rules[index];
    rule.def = def;
    rule.options = options;
    rule.updated_ms = Some(unix_ms());
    let body = rule_json(&gate.id, &gate.rules[index]);
    json_response(StatusCode::OK, body)
}

async fn delete_rule(
    State(state): State<AppState>,
    Path((gate_id, rule_id)): Path<(String, String)>,
) -> Response {
    if let Err(r) = check_uuid("gate_id", &gate_id).and_then(|_| check_uuid("id", &rule_id)) {
        return r.into_response();
    }
    let mut inner = state.lock();
    let Some(gate) = inner.gates.iter_mut().find(|g| g.id == gate_id) else {
        return rule_not_found();
    };
    let before = gate.rules.len();
    gate.rules.retain(|r| r.id != rule_id);
    if gate.rules.len() == before {
        return rule_not_found();
    }
    StatusCode::NO_CONTENT.into_response()
}

/// How far back the evaluation lists look by default, and at most.
const DEFAULT_WINDOW_MS: u64 = 24 * 3600 * 1000;
const MAX_WINDOW_MS: u64 = 30 * 24 * 3600 * 1000;

/// The filters both evaluation lists share: the start-time window (`filter[from]` inclusive,
/// `filter[to]` exclusive, 24 h by default, 30 days at most) and the deployment's coordinates
/// (several values, repeated or comma-separated, OR-ed).
struct EvaluationFilters {
    from: u64,
    to: u64,
    service: Option<Vec<String>>,
    env: Option<Vec<String>>,
    identifier: Option<Vec<String>>,
    version: Option<Vec<String>>,
    status: Option<Vec<Status>>,
    gate_id: Option<String>,
}

fn statuses(params: &Params) -> Result<Option<Vec<Status>>, ApiError> {
    param_values(params, "filter[status]")
        .map(|values| {
            values
                .iter()
                .map(|v| match v.as_str() {
                    "pass" => Ok(Status::Pass),
                    "fail" => Ok(Status::Fail),
                    "in_progress" => Ok(Status::InProgress),
                    other => Err(bad_request(format!(
                        "filter[status] must be pass, fail or in_progress, not {other}"
                    ))),
                })
                .collect()
        })
        .transpose()
}

impl EvaluationFilters {
    fn parse(params: &Params, now_ms: u64) -> Result<EvaluationFilters, ApiError> {
        let time = |key: &str| match param(params, key) {
            None => Ok(None),
            Some(t) => parse_time(t)
                .map(Some)
                .ok_or_else(|| bad_request(format!("{key} is not a valid time"))),
        };
        // `filter[to]` defaults to the request time; +1 keeps an evaluation started in the same
        // millisecond as the request inside the exclusive bound.
        let to = time("filter[to]")?.unwrap_or(now_ms + 1);
        let from = time("filter[from]")?.unwrap_or(to.saturating_sub(DEFAULT_WINDOW_MS));
        if to <= from {
            return Err(bad_request("filter[to] must be after filter[from]"));
        }
        if to - from > MAX_WINDOW_MS {
            return Err(bad_request("the time window may span no more than 30 days"));
        }
        Ok(EvaluationFilters {
            from,
            to,
            service: param_values(params, "filter[service]"),
            env: param_values(params, "filter[env]"),
            identifier: param_values(params, "filter[identifier]"),
            version: param_values(params, "filter[version]"),
            status: statuses(params)?,
            gate_id: param(params, "filter[gate_id]").map(str::to_string),
        })
    }

    /// Whether an evaluation's window and coordinates match (status is checked by the caller:
    /// the gate's for gate evaluations, the rule's for rule evaluations).
    fn matches(&self, evaluation: &Evaluation) -> bool {
        let r = &evaluation.request;
        let any = |wanted: &Option<Vec<String>>, actual: &str| {
            wanted
                .as_ref()
                .is_none_or(|w| w.iter().any(|v| v == actual))
        };
        (self.from..self.to).contains(&evaluation.created_ms)
            && any(&self.service, &r.service)
            && any(&self.env, &r.env)
            && any(&self.identifier, &r.identifier)
            && any(&self.version, r.version.as_deref().unwrap_or_default())
            && self
                .gate_id
                .as_ref()
                .is_none_or(|g| Some(g) == evaluation.gate_id.as_ref())
    }

    fn status_matches(&self, status: Status) -> bool {
        self.status.as_ref().is_none_or(|s| s.contains(&status))
    }
}

/// `finished_at` and `duration_seconds` of something that started with `evaluation` and became
/// final `finished_world_ms` world milliseconds after the trigger (`None`: still running).
fn finish_fields(
    evaluation: &Evaluation,
    state: &Shared,
    finished_world_ms: Option<u64>,
) -> (Value, Value) {
    match finished_world_ms {
        Some(world_ms) => {
            let wall = evaluation.wall_ms(world_ms, state.time_scale);
            (
                json!(rfc3339(wall)),
                json!(wall.saturating_sub(evaluation.created_ms) / 1000),
            )
        }
        None => (Value::Null, Value::Null),
    }
}

/// One evaluation as the published evaluations list shows it. `status` is the recorded (real)
/// result, so a dry-run gate that failed shows `fail` here while its result said `pass`.
fn evaluation_json(evaluation: &Evaluation, state: &Shared, now: u64) -> Value {
    let elapsed = now.saturating_sub(evaluation.triggered_world_ms);
    let outcome = evaluation.outcome(&state.world, now);
    let finished = eval::gate_finished_after_ms(
        &state.world,
        &evaluation.request,
        elapsed,
        &evaluation.link_base,
    );
    let (finished_at, duration_seconds) = finish_fields(evaluation, state, finished);
    let r = &evaluation.request;
    json!({
        "id": evaluation.id,
        "type": "deployment_gate_evaluation",
        "attributes": {
            "dry_run": r.dry_run,
            "duration_seconds": duration_seconds,
            "env": r.env,
            "evaluation_id": evaluation.id,
            "finished_at": finished_at,
            "gate_id": evaluation.gate_id,
            "identifier": r.identifier,
            "service": r.service,
            "started_at": rfc3339(evaluation.created_ms),
            "status": outcome.real_status,
            "version": r.version.clone().unwrap_or_default(),
        },
    })
}

async fn list_evaluations(State(state): State<AppState>, Query(params): Query<Params>) -> Response {
    let parsed = (|| {
        let (size, offset) = paging(&params, 50, 100)?;
        let filters = EvaluationFilters::parse(&params, unix_ms())?;
        let dry_run = bool_param(&params, "filter[dry_run]")?;
        Ok::<_, ApiError>((size, offset, filters, dry_run))
    })();
    let (size, offset, filters, dry_run) = match parsed {
        Ok(p) => p,
        Err(r) => return r.into_response(),
    };
    let evaluation_id = param(&params, "filter[evaluation_id]");
    let now = state.world_now_ms();
    let inner = state.lock();
    let matching: Vec<&Evaluation> = inner
        .evaluations
        .iter()
        .rev()
        .filter(|e| {
            filters.matches(e)
                && evaluation_id.is_none_or(|v| v == e.id)
                && dry_run.is_none_or(|d| d == e.request.dry_run)
                && filters.status_matches(e.outcome(&state.world, now).real_status)
        })
        .collect();
    let data: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(size)
        .map(|e| evaluation_json(e, &state, now))
        .collect();
    json_response(
        StatusCode::OK,
        json!({"data": data, "meta": page_meta(&params, offset, size, matching.len())}),
    )
}

/// The configuration a rule was evaluated with, as the rule-evaluations endpoint shows it: the
/// options given, `monitor_ids` as plain ids, `warmup` omitted when zero, the include list
/// under its published name.
fn evaluated_configuration(options: &Value) -> Value {
    let mut out = serde_json::Map::new();
    let Some(options) = options.as_object() else {
        return Value::Object(out);
    };
    for (key, value) in options {
        match key.as_str() {
            "monitor_ids" => {
                let ids: Vec<Value> = value
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|m| m.get("id").cloned())
                    .collect();
                out.insert(key.clone(), Value::Array(ids));
            }
            "warmup" if value.as_u64() == Some(0) => {}
            "included_resources" => {
                out.insert("allowed_resources".into(), value.clone());
            }
            _ if !value.is_null() => {
                out.insert(key.clone(), value.clone());
            }
            _ => {}
        }
    }
    Value::Object(out)
}

async fn list_rule_evaluations(
    State(state): State<AppState>,
    Query(params): Query<Params>,
) -> Response {
    let parsed = (|| {
        let (size, offset) = paging(&params, 50, 100)?;
        let filters = EvaluationFilters::parse(&params, unix_ms())?;
        let dry_run = bool_param(&params, "filter[dry_run]")?;
        let gate_dry_run = bool_param(&params, "filter[gate_dry_run]")?;
        Ok::<_, ApiError>((size, offset, filters, dry_run, gate_dry_run))
    })();
    let (size, offset, filters, dry_run, gate_dry_run) = match parsed {
        Ok(p) => p,
        Err(r) => return r.into_response(),
    };
    let gate_evaluation_id = param(&params, "filter[gate_evaluation_id]");
    let evaluation_id = param(&params, "filter[evaluation_id]");
    let rule_id = param(&params, "filter[rule_id]");
    let types = param_values(&params, "filter[type]");
    let names = param_values(&params, "filter[name]");
    let now = state.world_now_ms();
    let inner = state.lock();
    let mut data = Vec::new();
    let mut total = 0;
    for evaluation in inner.evaluations.iter().rev() {
        if !filters.matches(evaluation)
            || gate_evaluation_id.is_some_and(|v| v != evaluation.id)
            || gate_dry_run.is_some_and(|d| d != evaluation.request.dry_run)
        {
            continue;
        }
        let outcome = evaluation.outcome(&state.world, now);
        let elapsed = now.saturating_sub(evaluation.triggered_world_ms);
        let r = &evaluation.request;
        for (index, ((def, rule), result)) in r
            .rules
            .iter()
            .zip(&evaluation.rules)
            .zip(&outcome.rules)
            .enumerate()
        {
            let wanted = evaluation_id.is_none_or(|v| v == rule.id)
                && rule_id.is_none_or(|v| Some(v) == rule.rule_id.as_deref())
                && types
                    .as_ref()
                    .is_none_or(|t| t.iter().any(|t| t == def.rule_type()))
                && names.as_ref().is_none_or(|n| n.contains(&def.name))
                && dry_run.is_none_or(|d| d == def.dry_run)
                && filters.status_matches(result.status);
            if !wanted {
                continue;
            }
            total += 1;
            if total <= offset || data.len() >= size {
                continue;
            }
            let finished = eval::rule_finished_after_ms(
                &state.world,
                r,
                index,
                elapsed,
                &evaluation.link_base,
            );
            let (finished_at, duration_seconds) = finish_fields(evaluation, &state, finished);
            data.push(json!({
                "id": rule.id,
                "type": "deployment_gate_rule_evaluation",
                "attributes": {
                    "configuration": evaluated_configuration(&rule.options),
                    "dry_run": def.dry_run,
                    "duration_seconds": duration_seconds,
                    "env": r.env,
                    "evaluation_id": rule.id,
                    "failures": result.failures,
                    "finished_at": finished_at,
                    "gate_dry_run": r.dry_run,
                    "gate_evaluation_id": evaluation.id,
                    "gate_id": evaluation.gate_id,
                    "identifier": r.identifier,
                    "name": def.name,
                    "reason": result.reason.clone().unwrap_or_default(),
                    "rule_id": rule.rule_id,
                    "service": r.service,
                    "started_at": rfc3339(evaluation.created_ms),
                    "status": result.status,
                    "type": def.rule_type(),
                    "version": r.version.clone().unwrap_or_default(),
                },
            }));
        }
    }
    json_response(
        StatusCode::OK,
        json!({"data": data, "meta": page_meta(&params, offset, size, total)}),
    )
}

/// The most monitors one page of the search returns (`per_page` above it is a 400).
pub const SEARCH_MAX_PER_PAGE: usize = 1000;

/// `GET /api/v1/monitor/search?query=…&page=…&per_page=…`: the world's monitors that match the
/// query (core's matcher, the same one that selects a rule's monitors; a gate's `muted:false` is
/// part of the query, not added here), in id order, with each one's state at the start of an
/// evaluation (the world's "now"). `page` is 0-based (default 0), `per_page` 1–1000 (default 30),
/// as in the published v1 API (`schemas/api/monitor-search-response.schema.json`); errors are
/// v1's plain-string bodies.
async fn search_monitors(State(state): State<AppState>, Query(params): Query<Params>) -> Response {
    let number = |key: &str, default: usize, range: std::ops::RangeInclusive<usize>| match param(
        &params, key,
    ) {
        None => Ok(default),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| {
                format!(
                    "{key} must be an integer between {} and {}",
                    range.start(),
                    range.end()
                )
            }),
    };
    let (page, per_page) = match (
        number("page", 0, 0..=1_000_000),
        number("per_page", 30, 1..=SEARCH_MAX_PER_PAGE),
    ) {
        (Ok(page), Ok(per_page)) => (page, per_page),
        (Err(e), _) | (_, Err(e)) => return plain_error(StatusCode::BAD_REQUEST, &e),
    };
    let text = param(&params, "query").unwrap_or("").trim();
    let query = if text.is_empty() {
        None
    } else {
        match gatepost_core::query::parse(text) {
            Ok(q) => Some(q),
            Err(e) => {
                return plain_error(StatusCode::BAD_REQUEST, &format!("invalid query: {e}"));
            }
        }
    };
    let world = &state.world;
    let mut found: Vec<&crate::world::Monitor> = world
        .monitors
        .iter()
        .filter(|monitor| {
            let Some(query) = &query else { return true };
            let groups: Vec<gatepost_core::query::GroupView<'_>> = monitor
                .groups
                .iter()
                .map(|g| gatepost_core::query::GroupView {
                    name: &g.name,
                    status: g.state_at(0).as_str(),
                })
                .collect();
            let view = gatepost_core::query::MonitorView {
                id: monitor.id,
                name: &monitor.name,
                message: &monitor.message,
                monitor_type: &monitor.monitor_type,
                tags: &monitor.tags,
                scope: &monitor.scope,
                groups: &groups,
                status: monitor.state_at(0).as_str(),
                muted: monitor.muted,
                creator: &monitor.creator,
            };
            query.matches(&view)
        })
        .collect();
    found.sort_by_key(|m| m.id);
    let total = found.len();
    let facet = |values: Vec<Value>| -> Value {
        let mut counts: Vec<(String, Value, u64)> = Vec::new();
        for v in values {
            let key = v.to_string();
            match counts.iter().position(|c| c.0 == key) {
                Some(i) => counts[i].2 += 1,
                None => counts.push((key, v, 1)),
            }
        }
        Value::Array(
            counts
                .into_iter()
                .map(|(_, name, count)| json!({"name": name, "count": count}))
                .collect(),
        )
    };
    let counts = json!({
        "status": facet(found.iter().map(|m| json!(m.state_at(0).as_str())).collect()),
        "muted": facet(found.iter().map(|m| json!(m.muted)).collect()),
        "type": facet(found.iter().map(|m| json!(m.monitor_type)).collect()),
        "tag": facet(found.iter().flat_map(|m| m.tags.iter().map(|t| json!(t))).collect()),
    });
    let monitors: Vec<Value> = found
        .iter()
        .skip(page.saturating_mul(per_page))
        .take(per_page)
        .map(|m| {
            json!({
                "id": m.id,
                "name": m.name,
                "status": m.state_at(0).as_str(),
                "type": m.monitor_type,
                "tags": m.tags,
                "scopes": m.scope,
                "creator": {"email": m.creator, "handle": m.creator, "name": null},
                "classification": m.monitor_type.split(' ').next().unwrap_or_default(),
                "last_triggered_ts": null,
                "metrics": [],
                "notifications": [],
                "org_id": 1,
                "quality_issues": [],
            })
        })
        .collect();
    json_response(
        StatusCode::OK,
        json!({
            "counts": counts,
            "metadata": {
                "page": page,
                "page_count": total.div_ceil(per_page),
                "per_page": per_page,
                "total_count": total,
            },
            "monitors": monitors,
        }),
    )
}

/// The most spans one page of the spans search returns (`page[limit]` above it is a 400).
pub const SPANS_MAX_LIMIT: usize = 1000;

/// `GET /api/v2/spans/events?filter[query]=…&filter[from]=…&filter[to]=…&page[limit]=…`: one
/// span for each entry of the world's APM `history` (the versions that ran before: what exists
/// when `validate --online` runs, before a deploy) that the query selects. The query is a list of
/// `key:value` terms, all required, on `service`, `env`, `version` and `resource_name` (values may
/// be quoted); any other term is a 400, as is a `page[limit]` outside 1–1000 (default 10). The
/// time filters are accepted and not applied: the history has no timestamps. Pages follow
/// `page[cursor]` (`meta.page.after`). The answer fits
/// `schemas/api/spans-list-response.schema.json`; errors are the v2 error body.
async fn search_spans(State(state): State<AppState>, Query(params): Query<Params>) -> Response {
    let limit = match param(&params, "page[limit]") {
        None => 10,
        Some(v) => match v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=SPANS_MAX_LIMIT).contains(n))
        {
            Some(n) => n,
            None => {
                return api_error(
                    StatusCode::BAD_REQUEST,
                    format!("page[limit] must be an integer between 1 and {SPANS_MAX_LIMIT}"),
                );
            }
        },
    };
    let offset = match param(&params, "page[cursor]") {
        None => 0,
        Some(c) => match c.parse::<usize>() {
            Ok(n) => n,
            Err(_) => return api_error(StatusCode::BAD_REQUEST, "invalid page[cursor]"),
        },
    };
    let terms = match spans_terms(param(&params, "filter[query]").unwrap_or("*")) {
        Ok(terms) => terms,
        Err(e) => return api_error(StatusCode::BAD_REQUEST, e),
    };
    let wanted = |key: &str, value: &str| {
        terms
            .iter()
            .filter(|(k, _)| k == key)
            .all(|(_, v)| v == value)
    };
    let mut spans = Vec::new();
    for svc in &state.world.apm {
        if !wanted("service", &svc.service) || !wanted("env", &svc.env) {
            continue;
        }
        for (i, h) in svc.history.iter().enumerate() {
            if h.requests == 0
                || !wanted("version", &h.version)
                || !wanted("resource_name", &h.resource)
            {
                continue;
            }
            spans.push(json!({
                "id": format!("{:016x}{:08x}", spans.len() + 1, i),
                "type": "spans",
                "attributes": {
                    "service": svc.service,
                    "env": svc.env,
                    "version": h.version,
                    "resource_name": h.resource,
                    "type": svc.service_type,
                    "span_id": format!("{}", 1_000 + spans.len()),
                    "trace_id": format!("{}", 2_000 + spans.len()),
                    "tags": [
                        format!("service:{}", svc.service),
                        format!("env:{}", svc.env),
                        format!("version:{}", h.version),
                    ],
                    "attributes": {},
                    "custom": {},
                },
            }));
        }
    }
    let total = spans.len();
    let data: Vec<Value> = spans.into_iter().skip(offset).take(limit).collect();
    let mut meta = json!({"elapsed": 0, "request_id": new_id(), "status": "done"});
    let mut body = json!({"data": data});
    if offset + limit < total {
        let after = (offset + limit).to_string();
        meta["page"] = json!({"after": after});
        body["links"] = json!({"next": format!("/api/v2/spans/events?page[cursor]={after}")});
    }
    body["meta"] = meta;
    json_response(StatusCode::OK, body)
}

/// The `key:value` terms of a spans query (`*` alone selects everything).
fn spans_terms(query: &str) -> Result<Vec<(String, String)>, String> {
    let mut terms = Vec::new();
    let mut rest = query.trim();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('*') {
            rest = after.trim_start();
            continue;
        }
        let colon = rest
            .find(':')
            .ok_or_else(|| format!("invalid query: expected key:value at {rest:?}"))?;
        let key = &rest[..colon];
        if !matches!(key, "service" | "env" | "version" | "resource_name") {
            return Err(format!(
                "invalid query: the emulator searches spans by service, env, version and resource_name, not {key:?}"
            ));
        }
        let value_text = &rest[colon + 1..];
        let (value, used) = if let Some(quoted) = value_text.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, next)) = chars.next() {
                            value.push(next);
                        }
                    }
                    '"' => {
                        end = Some(i + 2);
                        break;
                    }
                    c => value.push(c),
                }
            }
            let end = end.ok_or("invalid query: an unclosed quote")?;
            (value, end)
        } else {
            let end = value_text
                .find(char::is_whitespace)
                .unwrap_or(value_text.len());
            (value_text[..end].to_string(), end)
        };
        terms.push((key.to_string(), value));
        rest = value_text[used..].trim_start();
    }
    Ok(terms)
}
