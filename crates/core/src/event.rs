//! Structured events the engine queues for the host (drained by
//! [`Engine::drain_events`](crate::Engine::drain_events)). Each carries its rendered log line in
//! `message`, so logs read the same in every language.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An event and its log line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct Event {
    #[serde(flatten)]
    pub kind: EventKind,
    /// The log line for people, rendered by core.
    pub message: String,
}

/// Which phase a retry happened in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Trigger,
    Poll,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventKind {
    /// The server accepted the evaluation. The id is printed by every host: with it the
    /// evaluation can be resumed (`gatepost wait ID`).
    Started {
        evaluation_id: String,
        evaluation_url: Option<String>,
    },
    /// The evaluation is in progress: `completed` of `total` rules have a result.
    Progress { completed: u32, total: u32 },
    /// A request failed and will be retried after `delay_ms`.
    Retrying {
        phase: Phase,
        attempt: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<u16>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        delay_ms: u64,
    },
    /// Something the user should know that does not stop the evaluation.
    Warning {
        code: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        path: Option<String>,
    },
    /// Detail for troubleshooting only (hosts show it when asked to be verbose), e.g. failure
    /// details that could not be fetched.
    Debug { code: String },
    /// A response arrived for a request the engine had already given up on; it was ignored.
    Ignored { request_id: u64 },
    /// The evaluation is over.
    Finished {
        verdict: crate::Verdict,
        cause: crate::Cause,
    },
}

impl Event {
    /// The message is made inert ([`crate::sanitize::line`]): events carry server text (reasons,
    /// error details) into log lines.
    pub fn new(kind: EventKind, message: impl Into<String>) -> Event {
        Event {
            kind,
            message: crate::sanitize::line(&message.into()),
        }
    }
}
