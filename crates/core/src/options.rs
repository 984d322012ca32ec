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

/// The smallest accepted poll interval.
pub const MIN_POLL_INTERVAL_MS: u64 = 1_000;
/// The largest value of any numeric engine option: half of what a JavaScript number holds exactly,
/// so a start time plus a duration still crosses every binding intact.
pub const MAX_OPTION_VALUE: u64 = crate::machine::MAX_SAFE_INTEGER / 2;

/// One numeric engine option: its accepted range and its default. [`BOUNDS`] is the one place
/// these are written; construction ([`crate::Engine::new`]), resume (a snapshot's numbers) and the
/// hosts' seconds options ([`seconds_to_ms`]) all check against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bound {
    /// The engine option (`poll_interval_ms`), as in [`Options`] and in a snapshot.
    pub name: &'static str,
    pub min: u64,
    pub max: u64,
    /// The value when the option is not given.
    pub default: u64,
}

impl Bound {
    /// Whether `value` is in range.
    pub fn contains(&self, value: u64) -> bool {
        (self.min..=self.max).contains(&value)
    }
}

/// Every numeric engine option's range and default, in the order problems are reported.
pub const BOUNDS: [Bound; 5] = [
    Bound {
        name: "timeout_ms",
        min: 1,
        max: MAX_OPTION_VALUE,
        default: DEFAULT_TIMEOUT_MS,
    },
    Bound {
        name: "poll_interval_ms",
        min: MIN_POLL_INTERVAL_MS,
        max: MAX_OPTION_VALUE,
        default: DEFAULT_POLL_INTERVAL_MS,
    },
    Bound {
        name: "request_timeout_ms",
        min: 1,
        max: MAX_OPTION_VALUE,
        default: DEFAULT_REQUEST_TIMEOUT_MS,
    },
    Bound {
        name: "trigger_budget_ms",
        min: 1,
        max: MAX_OPTION_VALUE,
        default: DEFAULT_TRIGGER_BUDGET_MS,
    },
    Bound {
        name: "max_body_bytes",
        min: 1024,
        max: MAX_OPTION_VALUE,
        default: DEFAULT_MAX_BODY_BYTES,
    },
];

/// The bound of a numeric engine option, by its name.
pub fn bound(name: &str) -> Option<&'static Bound> {
    BOUNDS.iter().find(|b| b.name == name)
}

/// The default poll interval for a server whose clock runs `scale` times faster than real time
/// (an emulator's `--time-scale`): the default divided by `scale`, never below the minimum nor
/// above the default. A scale that is not a positive number leaves the default.
pub fn scaled_poll_interval_ms(scale: f64) -> u64 {
    if !(scale.is_finite() && scale > 0.0) {
        return DEFAULT_POLL_INTERVAL_MS;
    }
    ((DEFAULT_POLL_INTERVAL_MS as f64 / scale) as u64)
        .clamp(MIN_POLL_INTERVAL_MS, DEFAULT_POLL_INTERVAL_MS)
}

/// The smallest accepted value of a numeric engine option (durations in ms, sizes in bytes).
pub fn minimum(name: &str) -> u64 {
    bound(name).map_or(1, |b| b.min)
}

impl Options {
    /// The value of the numeric option `bound` describes, or its default when not given.
    pub fn bounded(&self, bound: &Bound) -> u64 {
        let given = match bound.name {
            "timeout_ms" => self.timeout_ms,
            "poll_interval_ms" => self.poll_interval_ms,
            "request_timeout_ms" => self.request_timeout_ms,
            "trigger_budget_ms" => self.trigger_budget_ms,
            "max_body_bytes" => self.max_body_bytes,
            _ => None,
        };
        given.unwrap_or(bound.default)
    }
}

/// The user's pipeline config file, either as text (so errors can give line and column) or as an
/// already-parsed JSON value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum ConfigInput {
    Text(String),
    Value(serde_json::Value),
}

/// Everything the engine needs to evaluate a gate. Unknown fields are rejected so a typo in a
/// binding's option name is an error, not a silent default.
#[derive(Clone, PartialEq, Serialize, Deserialize, Default, schemars::JsonSchema)]
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
    /// Unknown keys in the config file are warnings and are sent unchanged, instead of problems
    /// (for server options newer than gatepost).
    #[serde(default)]
    pub allow_unknown_keys: bool,
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
            .field("allow_unknown_keys", &self.allow_unknown_keys)
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

/// The option names hosts accept: (snake_case, camelCase, seconds-valued). Durations given in
/// seconds (`timeout`, `pollInterval`, ...) are converted to the engine's milliseconds, so
/// `timeout=60` in Python means what `--timeout 60` means on the CLI. The engine's own `_ms` names
/// are accepted too (that is how the conformance corpus passes options).
const HOST_KEYS: &[(&str, &str)] = &[
    ("service", "service"),
    ("env", "env"),
    ("identifier", "identifier"),
    ("version", "version"),
    ("primary_tag", "primaryTag"),
    ("config", "config"),
    ("monitors_query_variable", "monitorsQueryVariable"),
    ("site", "site"),
    ("api_url", "apiUrl"),
    ("allow_insecure_http", "allowInsecureHttp"),
    ("api_key", "apiKey"),
    ("app_key", "appKey"),
    ("max_body_bytes", "maxBodyBytes"),
    ("fail_on_error", "failOnError"),
    ("allow_unknown_keys", "allowUnknownKeys"),
    ("seed", "seed"),
    ("timeout_ms", "timeoutMs"),
    ("trigger_budget_ms", "triggerBudgetMs"),
    ("poll_interval_ms", "pollIntervalMs"),
    ("request_timeout_ms", "requestTimeoutMs"),
];

/// Host option names whose value is in seconds, and the engine option they set.
const SECONDS_KEYS: &[(&str, &str, &str)] = &[
    ("timeout", "timeout", "timeout_ms"),
    ("trigger_budget", "triggerBudget", "trigger_budget_ms"),
    ("poll_interval", "pollInterval", "poll_interval_ms"),
    ("request_timeout", "requestTimeout", "request_timeout_ms"),
];

/// The engine milliseconds for a duration a host's user gave in seconds (`--poll-interval 2`,
/// `poll_interval=2`, `pollInterval: 2`): checked against the engine option's bounds in seconds,
/// so every problem names the option and the unit the user wrote (`name`), never the engine's
/// `_ms` option. `target` is the engine option (`poll_interval_ms`). Every host converts through
/// this one function.
pub fn seconds_to_ms(name: &str, target: &str, secs: f64) -> Result<u64, crate::Problem> {
    use crate::Problem;
    let (min, max) = bound(target).map_or((1, MAX_OPTION_VALUE), |b| (b.min, b.max));
    let min_secs = min as f64 / 1000.0;
    if !secs.is_finite() {
        return Err(Problem::new(name, "expected a number of seconds"));
    }
    if secs < min_secs {
        return Err(Problem::new(
            name,
            format!("{secs} is below the minimum {min_secs} s"),
        ));
    }
    let ms = (secs * 1000.0).round();
    if ms > max as f64 {
        return Err(Problem::new(name, format!("{secs} s is too large")));
    }
    Ok(ms as u64)
}

/// The engine option a host's seconds-valued option sets (`poll_interval` or `pollInterval` →
/// `poll_interval_ms`), when `name` is one.
pub fn seconds_option(name: &str) -> Option<&'static str> {
    SECONDS_KEYS
        .iter()
        .find(|(s, c, _)| name == *s || name == *c)
        .map(|(_, _, target)| *target)
}

/// A run's options object (a gates-as-code run's, an online check's) with every duration the
/// host's user gave in seconds (`request_timeout`, `timeout`, or their camelCase spellings)
/// converted to the engine's `_ms` option by [`seconds_to_ms`], so no binding multiplies by 1000
/// itself. `null` values are dropped; other keys pass through unchanged for the run's own
/// (strict) parsing. Every problem is reported at once, each naming the option as written.
pub fn host_seconds(value: serde_json::Value) -> Result<serde_json::Value, crate::Error> {
    use crate::{Error, ErrorCode, Problem};
    let serde_json::Value::Object(map) = value else {
        return Ok(value);
    };
    let mut out = serde_json::Map::new();
    let mut problems = Vec::new();
    for (key, v) in map {
        if v.is_null() {
            continue;
        }
        let Some(target) = seconds_option(&key) else {
            if out.contains_key(&key) {
                problems.push(Problem::new(
                    key.as_str(),
                    format!("{key} is given twice (in two spellings)"),
                ));
            } else {
                out.insert(key, v);
            }
            continue;
        };
        let converted = v
            .as_f64()
            .ok_or_else(|| Problem::new(key.as_str(), "expected a number of seconds"))
            .and_then(|secs| seconds_to_ms(&key, target, secs));
        match converted {
            Ok(_) if out.contains_key(target) => problems.push(Problem::new(
                key.as_str(),
                format!("{target} is given twice (in two spellings)"),
            )),
            Ok(ms) => {
                out.insert(target.to_string(), serde_json::Value::from(ms));
            }
            Err(p) => problems.push(p),
        }
    }
    if problems.is_empty() {
        return Ok(serde_json::Value::Object(out));
    }
    let message = problems
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join("; ");
    Err(Error::with_problems(
        ErrorCode::InvalidOptions,
        format!("invalid options: {message}"),
        problems,
    ))
}

impl Options {
    /// Build options from what a binding's user wrote: every name in snake_case or camelCase,
    /// durations in seconds (`timeout`, `poll_interval`/`pollInterval`, `request_timeout`,
    /// `trigger_budget`) or in the engine's milliseconds (`timeout_ms`). `null` means absent.
    /// Every problem is reported at once, each naming the option.
    pub fn from_host_value(value: serde_json::Value) -> Result<Options, crate::Error> {
        use crate::{Error, ErrorCode, Problem};
        let serde_json::Value::Object(map) = value else {
            return Err(Error::with_problems(
                ErrorCode::InvalidOptions,
                "invalid options: expected an object",
                vec![Problem::new("", "expected an object of options")],
            ));
        };
        let mut out = serde_json::Map::new();
        let mut problems = Vec::new();
        for (key, v) in map {
            if v.is_null() {
                continue;
            }
            let (target, value) =
                if let Some((snake, _)) = HOST_KEYS.iter().find(|(s, c)| key == *s || key == *c) {
                    (snake.to_string(), v)
                } else if let Some((_, _, target)) =
                    SECONDS_KEYS.iter().find(|(s, c, _)| key == *s || key == *c)
                {
                    match v
                        .as_f64()
                        .ok_or_else(|| Problem::new(key.as_str(), "expected a number of seconds"))
                    {
                        Ok(secs) => match seconds_to_ms(key.as_str(), target, secs) {
                            Ok(ms) => (target.to_string(), serde_json::Value::from(ms)),
                            Err(p) => {
                                problems.push(p);
                                continue;
                            }
                        },
                        Err(p) => {
                            problems.push(p);
                            continue;
                        }
                    }
                } else {
                    let mut p = Problem::new(key.as_str(), format!("unknown option {key:?}"));
                    if let Some(near) = nearest_option(&key) {
                        p = p.with_hint(format!("did you mean {near:?}?"));
                    }
                    problems.push(p);
                    continue;
                };
            if out.contains_key(&target) {
                problems.push(Problem::new(
                    key.as_str(),
                    format!("{target} is given twice (in two spellings)"),
                ));
                continue;
            }
            out.insert(target, value);
        }
        if !problems.is_empty() {
            let message = format!(
                "invalid options: {}",
                problems
                    .iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join("; ")
            );
            return Err(Error::with_problems(
                ErrorCode::InvalidOptions,
                message,
                problems,
            ));
        }
        Options::from_value(serde_json::Value::Object(out))
    }

    /// [`Options::from_host_value`] from JSON text.
    pub fn from_host_json(text: &str) -> Result<Options, crate::Error> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(options_error)?;
        Options::from_host_value(value)
    }
}

/// How a host's users write an option's name. Core writes an option named in a hint as the
/// engine's snake_case name in backticks (`` `allow_unknown_keys` ``), which is already how Python
/// users write it; a host whose users write it otherwise respells the hint with [`spell_hint`]
/// (or [`crate::Problem::spelled`], [`crate::Error::spelled`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spelling {
    /// Python's keyword arguments: `` `allow_unknown_keys` `` (the text as core writes it).
    Snake,
    /// JavaScript's option names: `` `allowUnknownKeys` ``.
    Camel,
    /// The CLI's flags: `--allow-unknown-keys`.
    Flag,
}

/// `hint` with every option name in backticks in the host's spelling; other backticked words
/// and the rest of the text are left as they are.
pub fn spell_hint(hint: &str, spelling: Spelling) -> String {
    let known = |word: &str| {
        HOST_KEYS
            .iter()
            .copied()
            .chain(SECONDS_KEYS.iter().map(|(s, c, _)| (*s, *c)))
            .find(|(s, _)| *s == word)
    };
    let parts: Vec<&str> = hint.split('`').collect();
    let mut out = String::with_capacity(hint.len());
    for (i, part) in parts.iter().enumerate() {
        let odd = i % 2 == 1;
        // An odd part sits between two backticks, unless it is the last (an unclosed one).
        if !(odd && i + 1 < parts.len()) {
            if odd {
                out.push('`');
            }
            out.push_str(part);
            continue;
        }
        match known(part) {
            Some((snake, _)) if spelling == Spelling::Snake => out.push_str(&format!("`{snake}`")),
            Some((_, camel)) if spelling == Spelling::Camel => out.push_str(&format!("`{camel}`")),
            Some((snake, _)) => out.push_str(&format!("--{}", snake.replace('_', "-"))),
            None => out.push_str(&format!("`{part}`")),
        }
    }
    out
}

/// An `invalid_options` error spelled for a host whose users write camelCase (JavaScript): every
/// option name in the message and in each problem's path, message and hint becomes the name they
/// write (`api_url` → `apiUrl`, `poll_interval_ms` → `pollIntervalMs`), so a Node or wasm user reads
/// `give either site or apiUrl`. Other errors keep their paths and messages (a config file's
/// JSON paths are the API's own snake_case names); only the options their hints name in
/// backticks are respelled (`` `allowUnknownKeys` ``).
pub fn camel_case_error(mut error: crate::Error) -> crate::Error {
    if error.code != crate::ErrorCode::InvalidOptions {
        // Other errors keep their paths and messages (a config file's paths are the API's own
        // snake_case names); only the options their hints name are respelled.
        return error.spelled(Spelling::Camel);
    }
    error.message = camel_case_names(&error.message);
    for p in &mut error.problems {
        p.path = camel_case_names(&p.path);
        p.message = camel_case_names(&p.message);
        p.hint = p.hint.as_deref().map(camel_case_names);
    }
    error
}

/// `text` with every snake_case option name (a whole word) in its camelCase spelling.
fn camel_case_names(text: &str) -> String {
    let camel = |word: &str| {
        HOST_KEYS
            .iter()
            .map(|(s, c)| (*s, *c))
            .chain(SECONDS_KEYS.iter().map(|(s, c, _)| (*s, *c)))
            .find(|(s, _)| *s == word)
            .map(|(_, c)| c)
    };
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    // A word is a run of letters, digits and `_`; a `-` joins words too, so that a CLI flag
    // (`--allow-insecure-http`) is never taken apart.
    let flush = |word: &mut String, out: &mut String| {
        match camel(word.as_str()) {
            Some(c) if !word.contains('-') => out.push_str(c),
            _ => out.push_str(word),
        }
        word.clear();
    };
    for ch in text.chars() {
        if ch.is_ascii_alphanumeric() || ch == '_' || ch == '-' {
            word.push(ch);
        } else {
            flush(&mut word, &mut out);
            out.push(ch);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// The closest known option name, for "did you mean" hints, in the spelling style the user wrote
/// (a camelCase typo gets a camelCase suggestion).
fn nearest_option(key: &str) -> Option<&'static str> {
    let camel = key.chars().any(|c| c.is_ascii_uppercase());
    let names = HOST_KEYS
        .iter()
        .map(|(s, c)| if camel { *c } else { *s })
        .chain(
            SECONDS_KEYS
                .iter()
                .map(|(s, c, _)| if camel { *c } else { *s }),
        );
    let normal = |n: &str| n.to_ascii_lowercase().replace(['_', '-'], "");
    let wanted = normal(key);
    names
        .map(|n| (crate::config::edit_distance(&normal(n), &wanted), n))
        .filter(|(distance, _)| *distance <= 2)
        .min()
        .map(|(_, n)| n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Construction, resume and the hosts' seconds options accept exactly the range of [`BOUNDS`].
    #[test]
    fn one_table_of_bounds_is_checked_everywhere() {
        let base = || -> serde_json::Value {
            serde_json::json!({"service": "s", "env": "e", "api_key": "k", "app_key": "a"})
        };
        let good = crate::Engine::new(Options::from_host_value(base()).unwrap(), 1_000)
            .unwrap()
            .snapshot();
        for bound in &BOUNDS {
            // Defaults are in range, and are what an engine without the option uses.
            assert!(bound.contains(bound.default), "{}", bound.name);
            assert_eq!(good[bound.name], serde_json::json!(bound.default));
            for (value, ok) in [
                (bound.min - 1, false),
                (bound.min, true),
                (bound.max, true),
                (bound.max + 1, false),
            ] {
                let mut options = base();
                options[bound.name] = value.into();
                let built =
                    Options::from_host_value(options).and_then(|o| crate::Engine::new(o, 1_000));
                assert_eq!(built.is_ok(), ok, "new: {} = {value}", bound.name);
                let mut snapshot = good.clone();
                snapshot[bound.name] = value.into();
                if bound.name == "timeout_ms" {
                    snapshot["deadline"] = (1_000 + value).into();
                    let trigger = good["trigger_deadline"]
                        .as_u64()
                        .unwrap()
                        .min(1_000 + value);
                    snapshot["trigger_deadline"] = trigger.into();
                }
                let resumed = crate::Engine::resume(snapshot, None, None, 1_000);
                assert_eq!(resumed.is_ok(), ok, "resume: {} = {value}", bound.name);
                if let Some((seconds_name, _, _)) =
                    SECONDS_KEYS.iter().find(|(_, _, t)| *t == bound.name)
                {
                    let secs = value as f64 / 1000.0;
                    let converted = seconds_to_ms(seconds_name, bound.name, secs);
                    assert_eq!(converted.is_ok(), ok, "seconds: {seconds_name} = {secs}");
                }
            }
        }
    }

    #[test]
    fn run_options_take_seconds_through_the_one_conversion() {
        let value = serde_json::json!({
            "request_timeout": 2.5, "timeout": null, "max_retries": 3, "requestTimeout": null
        });
        assert_eq!(
            host_seconds(value).unwrap(),
            serde_json::json!({"request_timeout_ms": 2500, "max_retries": 3})
        );
        let error =
            host_seconds(serde_json::json!({"timeout": 0, "requestTimeout": "2"})).unwrap_err();
        assert_eq!(error.code, crate::ErrorCode::InvalidOptions);
        let paths: Vec<_> = error.problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["requestTimeout", "timeout"]);
        assert_eq!(error.problems[1].message, "0 is below the minimum 0.001 s");
        let twice = host_seconds(serde_json::json!({"timeout": 1, "timeout_ms": 5})).unwrap_err();
        assert!(
            twice.message.contains("timeout_ms is given twice"),
            "{}",
            twice.message
        );
    }

    #[test]
    fn an_emulated_clock_polls_faster_within_the_bounds() {
        assert_eq!(scaled_poll_interval_ms(1.0), DEFAULT_POLL_INTERVAL_MS);
        assert_eq!(scaled_poll_interval_ms(5.0), DEFAULT_POLL_INTERVAL_MS / 5);
        assert_eq!(scaled_poll_interval_ms(60.0), MIN_POLL_INTERVAL_MS);
        assert_eq!(scaled_poll_interval_ms(0.5), DEFAULT_POLL_INTERVAL_MS);
        assert_eq!(scaled_poll_interval_ms(f64::NAN), DEFAULT_POLL_INTERVAL_MS);
    }

    #[test]
    fn hints_name_options_in_each_hosts_spelling() {
        let hint = "use `allow_unknown_keys`, or pass `version`; `query` is no option";
        assert_eq!(spell_hint(hint, Spelling::Snake), hint);
        assert_eq!(
            spell_hint(hint, Spelling::Camel),
            "use `allowUnknownKeys`, or pass `version`; `query` is no option"
        );
        assert_eq!(
            spell_hint(hint, Spelling::Flag),
            "use --allow-unknown-keys, or pass --version; `query` is no option"
        );
        assert_eq!(spell_hint("a `b", Spelling::Flag), "a `b");
        assert_eq!(
            spell_hint("`poll_interval`", Spelling::Flag),
            "--poll-interval"
        );
    }

    #[test]
    fn options_errors_are_spelled_in_camel_case_for_javascript() {
        let error = crate::Error::with_problems(
            crate::ErrorCode::InvalidOptions,
            "invalid options: api_url: give either site or api_url, not both",
            vec![
                crate::Problem::new("api_url", "give either site or api_url, not both"),
                crate::Problem::new("poll_interval_ms", "100 is below the minimum 1000")
                    .with_hint("use allow_insecure_http (--allow-insecure-http)"),
            ],
        );
        let camel = camel_case_error(error);
        assert_eq!(
            camel.message,
            "invalid options: apiUrl: give either site or apiUrl, not both"
        );
        assert_eq!(camel.problems[0].path, "apiUrl");
        assert_eq!(camel.problems[1].path, "pollIntervalMs");
        assert_eq!(
            camel.problems[1].hint.as_deref(),
            Some("use allowInsecureHttp (--allow-insecure-http)")
        );
        let config = crate::Error::with_problems(
            crate::ErrorCode::InvalidConfig,
            "invalid config",
            vec![crate::Problem::new("rules[0].options.api_url", "x")],
        );
        assert_eq!(camel_case_error(config.clone()), config);
        let hinted = crate::Error::with_problems(
            crate::ErrorCode::InvalidConfig,
            "invalid config",
            vec![
                crate::Problem::new("rules[0].options.api_url", "x")
                    .with_hint("use `allow_unknown_keys`"),
            ],
        );
        let spelled = camel_case_error(hinted);
        assert_eq!(spelled.problems[0].path, "rules[0].options.api_url");
        assert_eq!(
            spelled.problems[0].hint.as_deref(),
            Some("use `allowUnknownKeys`")
        );
    }

    #[test]
    fn seconds_are_converted_and_bounded_in_the_unit_the_user_wrote() {
        assert_eq!(seconds_to_ms("timeout", "timeout_ms", 1.5), Ok(1_500));
        let p = seconds_to_ms("pollInterval", "poll_interval_ms", 0.5).unwrap_err();
        assert_eq!(
            (p.path.as_str(), p.message.as_str()),
            ("pollInterval", "0.5 is below the minimum 1 s")
        );
        assert!(seconds_to_ms("timeout", "timeout_ms", f64::INFINITY).is_err());
        assert!(
            seconds_to_ms("timeout", "timeout_ms", 1e13)
                .unwrap_err()
                .message
                .contains("too large")
        );
        assert_eq!(seconds_option("pollInterval"), Some("poll_interval_ms"));
        assert_eq!(seconds_option("poll_interval_ms"), None);
    }
}
