//! The emulator's mutable state (gates, rules, evaluations, fault cursors, rate-limit windows)
//! and the clock that turns real time into world time.

use crate::eval::{self, EvaluationRequest, GateOutcome};
use crate::rules::{self, RuleDef};
use crate::world::{Endpoint, FaultStep, World};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Everything a request handler needs.
pub(crate) struct Shared {
    pub world: World,
    pub time_scale: f64,
    pub started: Instant,
    /// `http://127.0.0.1:PORT` (or https).
    pub base_url: String,
    pub scheme: &'static str,
    /// Bound to an unspecified address (`0.0.0.0`): links use the request's `Host` instead.
    pub links_from_host: bool,
    pub inner: Mutex<Inner>,
}

impl Shared {
    pub fn new(
        world: World,
        time_scale: f64,
        base_url: String,
        scheme: &'static str,
        links_from_host: bool,
    ) -> Shared {
        let inner = Inner::from_world(&world);
        Shared {
            world,
            time_scale,
            started: Instant::now(),
            base_url,
            scheme,
            links_from_host,
            inner: Mutex::new(inner),
        }
    }

    /// World milliseconds since the emulator started.
    pub fn world_now_ms(&self) -> u64 {
        (self.started.elapsed().as_secs_f64() * 1000.0 * self.time_scale) as u64
    }

    pub fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A handler that panicked cannot leave the data half-written in a way that matters more
        // than a dead emulator would.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub(crate) fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// `2026-11-22T01:02:03.456Z`.
pub(crate) fn rfc3339(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        unix_ms % 1000
    )
}

/// Parse `filter[from]`-style times: Unix milliseconds, Unix seconds, or RFC 3339 (core's parser).
pub(crate) fn parse_time(text: &str) -> Option<u64> {
    if let Ok(n) = text.parse::<u64>() {
        return Some(if n < 100_000_000_000 { n * 1000 } else { n });
    }
    gatepost_core::backoff::parse_rfc3339_ms(text)
}

pub(crate) struct Gate {
    pub id: String,
    pub service: String,
    pub env: String,
    pub identifier: String,
    pub dry_run: bool,
    pub created_ms: u64,
    pub updated_ms: Option<u64>,
    pub rules: Vec<Rule>,
}

pub(crate) struct Rule {
    pub id: String,
    pub def: RuleDef,
    pub options: Value,
    pub created_ms: u64,
    pub updated_ms: Option<u64>,
}

pub(crate) struct Evaluation {
    pub id: String,
    pub gate_id: Option<String>,
    pub request: EvaluationRequest,
    /// One entry per rule of `request.rules`, in the same order.
    pub rules: Vec<EvaluatedRule>,
    pub triggered_world_ms: u64,
    pub created_ms: u64,
    /// Prefix of the links in this evaluation's reasons and URL.
    pub link_base: String,
}

/// One rule of an evaluation as the rule-evaluations endpoint names it.
pub(crate) struct EvaluatedRule {
    /// The rule evaluation's own id.
    pub id: String,
    /// The stored rule's id; `None` for a rule sent inline.
    pub rule_id: Option<String>,
    /// The rule's options as given (the evaluated configuration is built from them).
    pub options: Value,
}

impl Evaluation {
    /// Wall-clock milliseconds of a moment `world_ms` world milliseconds after the trigger.
    pub fn wall_ms(&self, world_ms: u64, time_scale: f64) -> u64 {
        self.created_ms + (world_ms as f64 / time_scale.max(f64::MIN_POSITIVE)) as u64
    }

    pub fn outcome(&self, world: &World, now_world_ms: u64) -> GateOutcome {
        eval::evaluate(
            world,
            &self.request,
            now_world_ms.saturating_sub(self.triggered_world_ms),
            &self.link_base,
        )
    }

    pub fn url(&self) -> String {
        format!("{}/evaluations/{}", self.link_base, self.id)
    }
}

#[derive(Default)]
pub(crate) struct Inner {
    pub gates: Vec<Gate>,
    /// Oldest first.
    pub evaluations: Vec<Evaluation>,
    /// Per endpoint: (index of the current fault step, how many times it has been served).
    pub fault_cursor: BTreeMap<Endpoint, (usize, u32)>,
    /// Per endpoint: (window start, requests in the window).
    pub rate_windows: BTreeMap<Endpoint, (Instant, u32)>,
}

impl Inner {
    fn from_world(world: &World) -> Inner {
        let now = unix_ms();
        let gates = world
            .gates
            .iter()
            .map(|spec| {
                let gate_id = spec.id.clone().unwrap_or_else(new_id);
                Gate {
                    id: gate_id,
                    service: spec.service.clone(),
                    env: spec.env.clone(),
                    identifier: spec.identifier.clone(),
                    dry_run: spec.dry_run,
                    created_ms: now,
                    updated_ms: None,
                    rules: spec
                        .rules
                        .iter()
                        .filter_map(|r| {
                            let value = serde_json::json!({
                                "name": r.name, "type": r.rule_type,
                                "options": r.options, "dry_run": r.dry_run,
                            });
                            // World::from_json already validated every rule.
                            let def = rules::parse_rule(&value).ok()?;
                            Some(Rule {
                                id: r.id.clone().unwrap_or_else(new_id),
                                def,
                                options: r.options.clone(),
                                created_ms: now,
                                updated_ms: None,
                            })
                        })
                        .collect(),
                }
            })
            .collect();
        Inner {
            gates,
            ..Inner::default()
        }
    }

    /// The fault to serve to the next request of an endpoint, if its plan is not used up.
    pub fn next_fault(&mut self, plan: &[FaultStep], endpoint: Endpoint) -> Option<FaultStep> {
        let cursor = self.fault_cursor.entry(endpoint).or_insert((0, 0));
        loop {
            let step = plan.get(cursor.0)?;
            if cursor.1 < step.times.max(1) {
                cursor.1 += 1;
                return Some(step.clone());
            }
            *cursor = (cursor.0 + 1, 0);
        }
    }

    pub fn gate_by_key(&self, service: &str, env: &str, identifier: &str) -> Option<&Gate> {
        self.gates
            .iter()
            .find(|g| g.service == service && g.env == env && g.identifier == identifier)
    }
}

pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::FaultKind;

    #[test]
    fn rfc3339_round_trips() {
        let ms = 1_795_000_123_456;
        let text = rfc3339(ms);
        assert_eq!(parse_time(&text), Some(ms));
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(parse_time("2024-02-29T12:00:00Z"), Some(1_709_208_000_000));
        assert_eq!(parse_time("1709208000"), Some(1_709_208_000_000));
        assert_eq!(parse_time("yesterday"), None);
    }

    #[test]
    fn fault_plans_are_served_in_order_then_run_out() {
        let step = |kind, times| FaultStep {
            kind,
            times,
            status: Some(503),
            body: None,
            retry_after: None,
            ms: None,
        };
        let plan = vec![step(FaultKind::Status, 2), step(FaultKind::Reset, 1)];
        let mut inner = Inner::default();
        let kinds: Vec<_> = (0..4)
            .map(|_| inner.next_fault(&plan, Endpoint::Trigger).map(|s| s.kind))
            .collect();
        assert_eq!(
            kinds,
            vec![
                Some(FaultKind::Status),
                Some(FaultKind::Status),
                Some(FaultKind::Reset),
                None
            ]
        );
        assert!(inner.next_fault(&plan, Endpoint::Result).is_some());
    }
}
