//! What crosses the boundary between the engine and its host: [`Input`] in, [`Action`] out.
//!
//! Both are plain data with a `type` tag in snake_case, so every binding and the conformance
//! corpus use one JSON shape.

use crate::outcome::Outcome;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Something that happened, fed to [`Engine::handle`](crate::Engine::handle).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Input {
    /// An HTTP response arrived. Hosts never follow redirects: a 3xx is handed over as it is.
    /// `body` is the body decoded as UTF-8 (lossily); `headers` are `[name, value]` pairs whose
    /// names compare case-insensitively.
    Response {
        request_id: u64,
        status: u16,
        #[serde(default)]
        headers: Vec<(String, String)>,
        #[serde(default)]
        body: String,
    },
    /// The request failed before a complete response arrived.
    TransportError {
        request_id: u64,
        kind: TransportErrorKind,
        #[serde(default)]
        message: String,
    },
    /// The host's wait ended (the `until` of the last [`Action::Wait`] was reached). An early
    /// timeout is a no-op.
    Timeout,
    /// The user asked to stop (Ctrl-C, an `AbortSignal`, a cancelled task). The outcome is
    /// `cancelled`; a snapshot taken afterwards can still be resumed.
    Cancel,
}

/// Why a request failed at the transport level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// The connection could not be established (refused, DNS, unreachable).
    Connect,
    /// The request's `timeout_ms` elapsed.
    Timeout,
    /// The connection was reset or closed mid-response.
    Reset,
    /// TLS failed (e.g. the certificate is not trusted). Never retried: a wrong certificate is not
    /// an outage.
    Tls,
    /// The body was larger than `max_body_bytes`.
    BodyTooLarge,
    /// Anything else.
    Other,
}

impl TransportErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TransportErrorKind::Connect => "connect",
            TransportErrorKind::Timeout => "timeout",
            TransportErrorKind::Reset => "reset",
            TransportErrorKind::Tls => "tls",
            TransportErrorKind::BodyTooLarge => "body_too_large",
            TransportErrorKind::Other => "other",
        }
    }
}

/// Why the engine is waiting. Every wake-up has a reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum WaitReason {
    /// A request is in flight; `until` is its timeout.
    AwaitingResponse,
    /// A retry after a failure, with backoff (or the server's `Retry-After`).
    RetryBackoff,
    /// The next regular poll of the evaluation result.
    PollInterval,
    /// Inline rules: the moment a pass can first exist (the longest rule duration after the
    /// trigger), and a few short, growing gaps after it.
    RulesDue,
}

/// What the engine wants the host to do next, returned by [`Engine::poll`](crate::Engine::poll).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Action {
    /// Perform this HTTP request. Redirects must not be followed; the request must be abandoned
    /// after `timeout_ms` (the host then feeds a `transport_error` of kind `timeout`, or just
    /// `timeout` when its wait ends); bodies above `max_body_bytes` are a `body_too_large` error.
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
    /// Nothing to do until `until` (or until a response arrives).
    Wait { until: u64, reason: WaitReason },
    /// The evaluation is over. Polling again returns the same outcome.
    Done { outcome: Outcome },
}
