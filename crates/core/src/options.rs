//! Engine options: one serde struct, snake_case, as every binding passes it.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Default overall timeout: 3 hours, as the reference CLI.
pub const DEFAULT_TIMEOUT_MS: u64 = 10_800_000;
/// Default budget for getting an evaluation id from the trigger request.
pub const DEFAULT_TRIGGER_BUDGET_MS: u64 = 60_000;
/// Default gap between two polls of the result.
pub const DEFAULT_POLL_INTERVAL_MS: u64 = 15_000;
/// Default timeout of one HTTP request.
pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 30_000;
/// Default cap on a response body; a larger body is a `body_too_large` transport error.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 1_048_576;

/// The user's pipeline config file, either as text (so errors can give line and column) or as an
/// already-parsed JSON value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ConfigInput {
    Text(String),
    Value(serde_json::Value),
}

/// Everything the engine needs to evaluate a gate. Unknown fields are rejected so a typo in a
/// binding's option name is an error, not a silent default.
#[derive(Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// The service being deployed (required).
    pub service: String,
    /// The environment being deployed to (required).
    pub env: String,
    /// The gate's identifier; the server uses `default` when it is absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    /// The version being deployed (needed by Faulty Deployment Detection rules).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// One APM primary tag value (`region:us-east-1`) to scope FDD rules to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_tag: Option<String>,
    /// Inline (JIT) rules: the user's config file. Absent: the gate is preconfigured server-side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ConfigInput>,
    /// The hidden datadog-ci `--monitors-query-variable`, sent as `monitors_query_variable`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitors_query_variable: Option<String>,
    /// A Datadog site (`datadoghq.com`, `datadoghq.eu`, ...). Default `datadoghq.com`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// An explicit base URL (an emulator, a proxy). Excludes `site`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_url: Option<String>,
    /// Allow `http://` to a host that is not loopback.
    #[serde(default)]
    pub allow_insecure_http: bool,
    /// `DD-API-KEY`. Optional only for an `api_url` proxy that adds keys itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    /// `DD-APPLICATION-KEY`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger_budget_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_interval_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_timeout_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_body_bytes: Option<u64>,
    /// Fail (exit 1) instead of passing when the API is unavailable or the timeout is reached.
    #[serde(default)]
    pub fail_on_error: bool,
    /// Seed of the jitter PRNG (below 2^53 so it survives a JS number).
    #[serde(default)]
    pub seed: u64,
}

impl fmt::Debug for Options {
    /// Keys are never printed, not even in debug output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redact = |k: &Option<String>| k.as_ref().map(|_| "<redacted>");
        f.debug_struct("Options")
            .field("service", &self.service)
            .field("env", &self.env)
            .field("identifier", &self.identifier)
            .field("version", &self.version)
            .field("primary_tag", &self.primary_tag)
            .field("config", &self.config)
            .field("site", &self.site)
            .field("api_url", &self.api_url)
            .field("api_key", &redact(&self.api_key))
            .field("app_key", &redact(&self.app_key))
            .field("timeout_ms", &self.timeout_ms)
            .field("fail_on_error", &self.fail_on_error)
            .field("seed", &self.seed)
            .finish_non_exhaustive()
    }
}

impl Options {
    /// Parse options from a JSON value, with every problem named by its field.
    pub fn from_value(value: serde_json::Value) -> Result<Options, crate::Error> {
        serde_json::from_value(value).map_err(options_error)
    }

    /// Parse options from JSON text.
    pub fn from_json(text: &str) -> Result<Options, crate::Error> {
        serde_json::from_str(text).map_err(options_error)
    }
}

fn options_error(e: serde_json::Error) -> crate::Error {
    // serde's messages name the field (`unknown field `primaryTag``) and never echo values, so
    // keys cannot leak through them.
    let message = e.to_string();
    let message = match message.find(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message,
    };
    crate::Error::with_problems(
        crate::ErrorCode::InvalidOptions,
        format!("invalid options: {message}"),
        vec![crate::Problem::new("", message)],
    )
}
