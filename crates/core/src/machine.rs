//! The state machine and the decision policy.

use crate::error::{Error, ErrorCode};
use crate::event::Event;
use crate::io::{Action, Input};
use crate::options::{ConfigInput, Options};
use crate::outcome::Outcome;

/// The result of [`validate`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Validation {
    pub valid: bool,
    pub problems: Vec<crate::Problem>,
    pub warnings: Vec<crate::Problem>,
    /// The `configuration` that would be sent (snake_case), when valid.
    pub configuration: Option<serde_json::Value>,
}

/// Validate a config offline, strictly (a query that does not parse is a problem).
pub fn validate(config: &ConfigInput, version: Option<&str>) -> Validation {
    let ctx = crate::config::ValidateContext {
        version,
        strict_queries: true,
    };
    match crate::config::parse(config, &ctx) {
        Ok(parsed) => Validation {
            valid: true,
            problems: Vec::new(),
            warnings: parsed.warnings,
            configuration: Some(parsed.configuration),
        },
        Err(problems) => Validation {
            valid: false,
            problems,
            warnings: Vec::new(),
            configuration: None,
        },
    }
}

/// The engine. See the crate docs for the run loop.
#[derive(Debug)]
pub struct Engine {
    options: Options,
}

impl Engine {
    /// Start a new evaluation: the first [`poll`](Self::poll) sends the trigger.
    pub fn new(options: Options, _now: u64) -> Result<Engine, Error> {
        Ok(Engine { options })
    }

    /// Poll an evaluation that already exists (no trigger is sent).
    pub fn attach(_evaluation_id: &str, options: Options, _now: u64) -> Result<Engine, Error> {
        Ok(Engine { options })
    }

    /// Feed something that happened. A usage error leaves the state untouched.
    pub fn handle(&mut self, _input: Input, _now: u64) -> Result<(), Error> {
        Err(Error::new(ErrorCode::InvalidInput, "not yet"))
    }

    /// What to do next.
    pub fn poll(&mut self, _now: u64) -> Action {
        Action::Done {
            outcome: Outcome::skipped(&self.options.service),
        }
    }

    /// Take the queued events.
    pub fn drain_events(&mut self) -> Vec<Event> {
        Vec::new()
    }

    /// The evaluation id, once the server gave one.
    pub fn evaluation_id(&self) -> Option<&str> {
        None
    }

    /// Serialise the whole state, without keys.
    pub fn snapshot(&self) -> serde_json::Value {
        serde_json::Value::Null
    }

    /// Continue from a snapshot (in any process or language), with the keys.
    pub fn resume(
        _snapshot: serde_json::Value,
        _api_key: Option<String>,
        _app_key: Option<String>,
        _now: u64,
    ) -> Result<Engine, Error> {
        Err(Error::new(ErrorCode::InvalidSnapshot, "not yet"))
    }
}
