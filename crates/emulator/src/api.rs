//! The HTTP API of docs/wire-protocol.md: evaluation trigger and result, gate and rule CRUD, the evaluations
//! list, with the real service's status codes and error bodies, plus key checks, rate limits and
//! fault plans (applied by [`gatekeeper`] before any handler runs).

use crate::eval::{EvaluationRequest, RuleOutcome, Status};
use crate::rules::{self, RuleKind};
use crate::state::{Evaluation, Gate, Rule, Shared, new_id, parse_time, rfc3339, unix_ms};
use crate::world::{Endpoint, FaultKind, FaultStep};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use std::collections::BTreeMap;
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
    Router::new()
        .nest("/api/v2", api.clone())
        .nest("/api/unstable", api)
        .merge(crate::page::routes())
        .with_state(state)
}

/// The number of method + path combinations the API serves (both prefixes), for the docs.
pub const API_OPERATIONS_PER_PREFIX: usize = 13;

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
    if rest == "/deployments/gates/evaluation" && method == Method::POST {
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
    if !key_accepted(request.headers(), "dd-api-key", &state.world.api_keys)
        || !key_accepted(
            request.headers(),
            "dd-application-key",
            &state.world.app_keys,
        )
    {
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

fn key_accepted(headers: &HeaderMap, name: &str, accepted: &[String]) -> bool {
    accepted.is_empty()
        || headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|key| accepted.iter().any(|a| a == key))
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

fn check_uuid(id: &str) -> Result<(), ApiError> {
    uuid::Uuid::parse_str(id)
        .map(|_| ())
        .map_err(|_| bad_request("attribute \"id\" Invalid id"))
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
    let (gate_id, dry_run, rule_defs) = match attrs.get("configuration") {
        Some(config) if !config.is_null() => match rules::parse_configuration(config) {
            Ok((dry_run, defs)) => (None, dry_run, defs),
            Err(detail) => return bad_request(detail).into_response(),
        },
        _ => match inner.gate_by_key(&service, &env, &identifier) {
            Some(gate) if !gate.rules.is_empty() => (
                Some(gate.id.clone()),
                gate.dry_run,
                gate.rules.iter().map(|r| r.def.clone()).collect(),
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
    if let Err(r) = check_uuid(&id) {
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
    let outcome = evaluation.outcome(&state.world, now);
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
    let mut attributes = json!({
        "service": gate.service,
        "env": gate.env,
        "identifier": gate.identifier,
        "dry_run": gate.dry_run,
        "created_at": rfc3339(gate.created_ms),
        "created_by": created_by(),
    });
    if let Some(updated) = gate.updated_ms {
        attributes["updated_at"] = json!(rfc3339(updated));
        attributes["updated_by"] = created_by();
    }
    json!({"id": gate.id, "type": "deployment_gate", "attributes": attributes})
}

fn rule_attributes(gate_id: &str, rule: &Rule) -> Value {
    let mut attributes = json!({
        "name": rule.def.name,
        "type": rule.def.rule_type(),
        "options": rule.options,
        "dry_run": rule.def.dry_run,
        "gate_id": gate_id,
        "created_at": rfc3339(rule.created_ms),
        "created_by": created_by(),
    });
    if let Some(updated) = rule.updated_ms {
        attributes["updated_at"] = json!(rfc3339(updated));
        attributes["updated_by"] = created_by();
    }
    attributes
}

fn rule_json(gate_id: &str, rule: &Rule) -> Value {
    json!({"data": {"id": rule.id, "type": "deployment_rule", "attributes": rule_attributes(gate_id, rule)}})
}

/// `page[size]` (within `1..=max`, default `default`) and `page[cursor]` (an offset).
fn paging(
    params: &BTreeMap<String, String>,
    default: usize,
    max: usize,
) -> Result<(usize, usize), ApiError> {
    let size = match params.get("page[size]") {
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
    let offset = match params.get("page[cursor]") {
        None => 0,
        Some(c) if c.is_empty() => 0,
        Some(c) => c
            .parse::<usize>()
            .map_err(|_| bad_request("page[cursor] is not a valid cursor"))?,
    };
    Ok((size, offset))
}

fn page_meta(offset: usize, size: usize, total: usize) -> Value {
    let next = (offset + size < total).then(|| (offset + size).to_string());
    json!({"page": {"cursor": offset.to_string(), "next_cursor": next, "size": size, "total_count": total}})
}

async fn list_gates(
    State(state): State<AppState>,
    Query(params): Query<BTreeMap<String, String>>,
) -> Response {
    let (size, offset) = match paging(&params, 50, 1000) {
        Ok(p) => p,
        Err(r) => return r.into_response(),
    };
    let inner = state.lock();
    let data: Vec<Value> = inner
        .gates
        .iter()
        .skip(offset)
        .take(size)
        .map(gate_json)
        .collect();
    json_response(
        StatusCode::OK,
        json!({"data": data, "meta": page_meta(offset, size, inner.gates.len())}),
    )
}

async fn create_gate(State(state): State<AppState>, body: Bytes) -> Response {
    let attrs = match attributes(&body) {
        Ok(a) => a,
        Err(r) => return r.into_response(),
    };
    let parsed = (|| {
        Ok::<_, ApiError>((
            required_string(&attrs, "service")?,
            required_string(&attrs, "env")?,
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
        return bad_request(format!(
            "a gate already exists for service {service}, env {env}, and identifier {identifier}"
        ))
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

fn gate_not_found(id: &str) -> Response {
    api_error(
        StatusCode::NOT_FOUND,
        format!("deployment gate with id {id} not found"),
    )
}

async fn get_gate(State(state): State<AppState>, Path(gate_id): Path<String>) -> Response {
    if let Err(r) = check_uuid(&gate_id) {
        return r.into_response();
    }
    let inner = state.lock();
    match inner.gates.iter().find(|g| g.id == gate_id) {
        Some(gate) => json_response(StatusCode::OK, json!({"data": gate_json(gate)})),
        None => gate_not_found(&gate_id),
    }
}

async fn update_gate(
    State(state): State<AppState>,
    Path(gate_id): Path<String>,
    body: Bytes,
) -> Response {
    if let Err(r) = check_uuid(&gate_id) {
        return r.into_response();
    }
    let attrs = match attributes(&body) {
        Ok(a) => a,
        Err(r) => return r.into_response(),
    };
    let dry_run = match optional_bool(&attrs, "dry_run") {
        Ok(Some(d)) => d,
        Ok(None) => return bad_request("required dry_run field is missing").into_response(),
        Err(r) => return r.into_response(),
    };
    let mut inner = state.lock();
    match inner.gates.iter_mut().find(|g| g.id == gate_id) {
        Some(gate) => {
            gate.dry_run = dry_run;
            gate.updated_ms = Some(unix_ms());
            json_response(StatusCode::OK, json!({"data": gate_json(gate)}))
        }
        None => gate_not_found(&gate_id),
    }
}

async fn delete_gate(State(state): State<AppState>, Path(gate_id): Path<String>) -> Response {
    if let Err(r) = check_uuid(&gate_id) {
        return r.into_response();
    }
    let mut inner = state.lock();
    let before = inner.gates.len();
    inner.gates.retain(|g| g.id != gate_id);
    if inner.gates.len() == before {
        return gate_not_found(&gate_id);
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn list_rules(State(state): State<AppState>, Path(gate_id): Path<String>) -> Response {
    if let Err(r) = check_uuid(&gate_id) {
        return r.into_response();
    }
    let inner = state.lock();
    let Some(gate) = inner.gates.iter().find(|g| g.id == gate_id) else {
        return gate_not_found(&gate_id);
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

/// Build a rule from request attributes, starting from `base` (the rule being updated).
fn rule_from_attributes(
    attrs: &serde_json::Map<String, Value>,
    base: Option<&Rule>,
) -> Result<(rules::RuleDef, Value), ApiError> {
    let mut merged = serde_json::Map::new();
    if let Some(base) = base {
        merged.insert("name".into(), json!(base.def.name));
        merged.insert("type".into(), json!(base.def.rule_type()));
        merged.insert("options".into(), base.options.clone());
        merged.insert("dry_run".into(), json!(base.def.dry_run));
    }
    for key in ["name", "type", "options", "dry_run"] {
        if let Some(v) = attrs.get(key) {
            merged.insert(key.into(), v.clone());
        }
    }
    let value = Value::Object(merged);
    let def = rules::parse_rule(&value).map_err(|e| bad_request(format!("invalid rule: {e}")))?;
    let options = value
        .get("options")
        .cloned()
        .filter(|o| !o.is_null())
        .unwrap_or_else(|| json!({}));
    Ok((def, options))
}

async fn create_rule(
    State(state): State<AppState>,
    Path(gate_id): Path<String>,
    body: Bytes,
) -> Response {
    if let Err(r) = check_uuid(&gate_id) {
        return r.into_response();
    }
    let attrs = match attributes(&body) {
        Ok(a) => a,
        Err(r) => return r.into_response(),
    };
    let (def, options) = match rule_from_attributes(&attrs, None) {
        Ok(r) => r,
        Err(r) => return r.into_response(),
    };
    let mut inner = state.lock();
    let Some(gate) = inner.gates.iter_mut().find(|g| g.id == gate_id) else {
        return gate_not_found(&gate_id);
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

fn rule_not_found(id: &str) -> Response {
    api_error(
        StatusCode::NOT_FOUND,
        format!("deployment rule with id {id} not found"),
    )
}

async fn get_rule(
    State(state): State<AppState>,
    Path((gate_id, rule_id)): Path<(String, String)>,
) -> Response {
    if let Err(r) = check_uuid(&gate_id).and_then(|_| check_uuid(&rule_id)) {
        return r.into_response();
    }
    let inner = state.lock();
    let Some(gate) = inner.gates.iter().find(|g| g.id == gate_id) else {
        return gate_not_found(&gate_id);
    };
    match gate.rules.iter().find(|r| r.id == rule_id) {
        Some(rule) => json_response(StatusCode::OK, rule_json(&gate.id, rule)),
        None => rule_not_found(&rule_id),
    }
}

async fn update_rule(
    State(state): State<AppState>,
    Path((gate_id, rule_id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    if let Err(r) = check_uuid(&gate_id).and_then(|_| check_uuid(&rule_id)) {
        return r.into_response();
    }
    let attrs = match attributes(&body) {
        Ok(a) => a,
        Err(r) => return r.into_response(),
    };
    let mut inner = state.lock();
    let Some(gate) = inner.gates.iter_mut().find(|g| g.id == gate_id) else {
        return gate_not_found(&gate_id);
    };
    let Some(index) = gate.rules.iter().position(|r| r.id == rule_id) else {
        return rule_not_found(&rule_id);
    };
    let (def, options) = match rule_from_attributes(&attrs, Some(&gate.rules[index])) {
        Ok(r) => r,
        Err(r) => return r.into_response(),
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
    if let Err(r) = check_uuid(&gate_id).and_then(|_| check_uuid(&rule_id)) {
        return r.into_response();
    }
    let mut inner = state.lock();
    let Some(gate) = inner.gates.iter_mut().find(|g| g.id == gate_id) else {
        return gate_not_found(&gate_id);
    };
    let before = gate.rules.len();
    gate.rules.retain(|r| r.id != rule_id);
    if gate.rules.len() == before {
        return rule_not_found(&rule_id);
    }
    StatusCode::NO_CONTENT.into_response()
}

/// One evaluation as the evaluations list shows it.
pub(crate) fn evaluation_json(evaluation: &Evaluation, state: &Shared, now: u64) -> Value {
    let outcome = evaluation.outcome(&state.world, now);
    let r = &evaluation.request;
    json!({
        "id": evaluation.id,
        "type": "deployment_gates_evaluation",
        "attributes": {
            "evaluation_id": evaluation.id,
            "evaluation_url": evaluation.url(),
            "gate_id": evaluation.gate_id,
            "service": r.service,
            "env": r.env,
            "identifier": r.identifier,
            "version": r.version,
            "primary_tag": r.primary_tag,
            "dry_run": r.dry_run,
            "gate_status": outcome.api_status,
            "real_gate_status": outcome.real_status,
            "rules": rules_json(&outcome.rules),
            "created_at": rfc3339(evaluation.created_ms),
        },
    })
}

async fn list_evaluations(
    State(state): State<AppState>,
    Query(params): Query<BTreeMap<String, String>>,
) -> Response {
    let (size, offset) = match paging(&params, 50, 100) {
        Ok(p) => p,
        Err(r) => return r.into_response(),
    };
    let time = |key: &str| match params.get(key) {
        None => Ok(None),
        Some(t) => parse_time(t)
            .map(Some)
            .ok_or_else(|| bad_request(format!("{key} is not a valid time"))),
    };
    let (from, to) = match (time("filter[from]"), time("filter[to]")) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(r), _) | (_, Err(r)) => return r.into_response(),
    };
    let status_filter = match params.get("filter[status]").map(String::as_str) {
        None => None,
        Some("pass") => Some(Status::Pass),
        Some("fail") => Some(Status::Fail),
        Some("in_progress") => Some(Status::InProgress),
        Some(other) => {
            return bad_request(format!(
                "filter[status] must be pass, fail or in_progress, not {other}"
            ))
            .into_response();
        }
    };
    let dry_run_filter = match params.get("filter[dry_run]").map(String::as_str) {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => return bad_request("filter[dry_run] must be true or false").into_response(),
    };
    let text = |key: &str| params.get(key).map(String::as_str);
    let now = state.world_now_ms();
    let inner = state.lock();
    let matching: Vec<&Evaluation> = inner
        .evaluations
        .iter()
        .rev()
        .filter(|e| {
            let r = &e.request;
            from.is_none_or(|f| e.created_ms >= f)
                && to.is_none_or(|t| e.created_ms <= t)
                && text("filter[service]").is_none_or(|v| v == r.service)
                && text("filter[env]").is_none_or(|v| v == r.env)
                && text("filter[identifier]").is_none_or(|v| v == r.identifier)
                && text("filter[version]").is_none_or(|v| Some(v) == r.version.as_deref())
                && text("filter[evaluation_id]").is_none_or(|v| v == e.id)
                && text("filter[gate_id]").is_none_or(|v| Some(v) == e.gate_id.as_deref())
                && dry_run_filter.is_none_or(|d| d == r.dry_run)
                && status_filter.is_none_or(|s| e.outcome(&state.world, now).api_status == s)
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
        json!({"data": data, "meta": page_meta(offset, size, matching.len())}),
    )
}

/// CORS for browser callers: every origin, the API's headers, and the rate-limit headers exposed
/// (with `Date`, which the engine needs to read an HTTP-date `Retry-After`).
pub(crate) fn add_cors_headers(headers: &mut HeaderMap) {
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(
            "x-ratelimit-limit, x-ratelimit-period, x-ratelimit-remaining, x-ratelimit-reset, x-ratelimit-name, retry-after, date",
        ),
    );
}

/// The answer to a CORS preflight (`OPTIONS`), which carries no keys and never meets faults.
/// Whatever headers the browser asks to send are allowed (echoed back), besides the API's own.
pub(crate) fn preflight(requested_headers: Option<&HeaderValue>) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    let headers = response.headers_mut();
    add_cors_headers(headers);
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, PUT, DELETE, OPTIONS"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        requested_headers.cloned().unwrap_or(HeaderValue::from_static(
            "content-type, dd-api-key, dd-application-key, accept, user-agent, x-requested-with",
        )),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    response
}
