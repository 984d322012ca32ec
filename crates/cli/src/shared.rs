//! What the commands that talk to the API share: keys, site and client from the flags and the
//! environment, duration flags through core, the report and exit code at the end, and errors named
//! by the flag or located in the config file.

use crate::EXIT_USAGE;
use crate::cli::{ApiArgs, DisplayArgs, LogFormat, OutputFormat, TimingArgs};
use crate::driver::{self, Finished};
use crate::output::{Logger, use_color, write_github};
use gatepost_core::report::{self, TextStyle};
use gatepost_core::sanitize::{self, LinkPolicy};
use gatepost_core::{ErrorCode, Outcome, Problem};
use std::io::{IsTerminal, Write};
use std::path::Path;

/// Exit codes for a run ended by a signal (128 + the signal number, as shells report it).
pub(crate) const EXIT_SIGINT: u8 = 130;
pub(crate) const EXIT_SIGTERM: u8 = 143;

/// Print the report, the GitHub outputs and (after a signal) how to resume; return the exit code.
pub(crate) fn finish(
    finished: &Finished,
    display: &DisplayArgs,
    links: &LinkPolicy,
    logger: &mut Logger,
    resume_command: impl Fn(&str) -> String,
) -> u8 {
    let outcome = &finished.outcome;
    if outcome.fail_open {
        logger.warn(&format!(
            "NOT a gate pass: {} The deploy may go on only because of the error policy \
             (fail-open); add --fail-on-error to fail instead.",
            sanitize::line(&outcome.message)
        ));
    }
    print_report(outcome, display);
    write_github(outcome, links, logger);
    if let Some(signal) = finished.signal {
        match &outcome.evaluation_id {
            Some(id) => {
                logger.log(
                    crate::output::Level::Warn,
                    &format!(
                        "Interrupted. Evaluation {id} goes on in Datadog; wait for its result with:\n  {}",
                        resume_command(id)
                    ),
                    None,
                );
            }
            None => logger
                .warn("Interrupted before the API returned an evaluation id; run the gate again"),
        }
        return if signal == driver::SIGTERM {
            EXIT_SIGTERM
        } else {
            EXIT_SIGINT
        };
    }
    u8::try_from(outcome.exit_code).unwrap_or(1)
}

pub(crate) fn print_report(outcome: &Outcome, display: &DisplayArgs) {
    let color = display.color;
    match display.output {
        OutputFormat::Json => println!("{}", report::render_json(outcome)),
        OutputFormat::Text => {
            let color = use_color(color, std::io::stdout().is_terminal());
            let text = report::render_text(outcome, TextStyle { color });
            let mut out = crate::output::styled_stdout(color);
            let _ = writeln!(out, "{}", text.trim_end());
        }
    }
}

pub(crate) fn api_flags(api: &ApiArgs, fail_on_error: bool) -> String {
    let mut flags = String::new();
    if let Some(url) = &api.api_url {
        flags.push_str(&format!(" --api-url {}", shell_quote(url)));
    } else if let Some(site) = &api.site {
        flags.push_str(&format!(" --site {}", shell_quote(site)));
    }
    if let Some(ca) = &api.ca_cert {
        flags.push_str(&format!(
            " --ca-cert {}",
            shell_quote(&ca.display().to_string())
        ));
    }
    if fail_on_error {
        flags.push_str(" --fail-on-error");
    }
    flags
}

/// Quote a word for a POSIX shell when it needs it.
pub(crate) fn shell_quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c))
    {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// A config file's text; `-` reads standard input (e.g. a config rendered by another tool).
pub(crate) fn read_config(path: &Path) -> std::io::Result<String> {
    crate::files::read_text(path, crate::files::MAX_FILE_BYTES)
}

/// `file:line:column: path: message; hint` (compilers' layout, so editors can jump to it).
pub(crate) fn located(file: &str, p: &Problem) -> String {
    let mut s = file.to_string();
    if let Some(line) = p.line {
        s.push_str(&format!(":{line}"));
        if let Some(col) = p.column {
            s.push_str(&format!(":{col}"));
        }
    }
    s.push_str(": ");
    if !p.path.is_empty() {
        s.push_str(&p.path);
        s.push_str(": ");
    }
    s.push_str(&p.message);
    if let Some(hint) = &p.hint {
        s.push_str(&format!(" (hint: {})", for_cli(hint)));
    }
    s
}

/// A hint from core with the options it names as this CLI's flags (`--version`).
pub(crate) fn for_cli(hint: &str) -> String {
    gatepost_core::options::spell_hint(hint, gatepost_core::options::Spelling::Flag)
}

/// Problems from core with their hints in the CLI's spelling, for every output format.
pub(crate) fn spelled_for_cli(problems: &mut [Problem]) {
    for p in problems {
        if let Some(hint) = &p.hint {
            p.hint = Some(for_cli(hint));
        }
    }
}

/// The keys, from files (`--api-key-file`) or the environment. Never printed.
pub struct Keys {
    pub api_key: Option<String>,
    pub app_key: Option<String>,
}

pub(crate) fn resolve_keys(
    api: &ApiArgs,
    default_keys: Option<&(String, String)>,
) -> Result<Keys, Vec<String>> {
    let mut problems = Vec::new();
    // The environment's keys by core's rules (the same in every host): trimmed, blank skipped,
    // a variable that is not UTF-8 an error naming it. Only read when a key file is not given.
    let from_env = if api.api_key_file.is_some() && api.app_key_file.is_some() {
        gatepost_core::environment::Defaults::default()
    } else {
        match gatepost_core::environment::defaults(&environment()) {
            Ok(found) => found,
            Err(e) => {
                problems.extend(e.problems.into_iter().map(|p| p.message));
                gatepost_core::environment::Defaults::default()
            }
        }
    };
    let mut read = |file: &Option<std::path::PathBuf>, env_value: Option<String>, flag: &str| {
        let Some(path) = file else {
            return env_value;
        };
        match crate::files::read_text(path, crate::files::MAX_KEY_FILE_BYTES) {
            Ok(text) if !text.trim().is_empty() => Some(text.trim().to_string()),
            Ok(_) => {
                problems.push(format!("{flag} {}: the file is empty", path.display()));
                None
            }
            Err(e) => {
                problems.push(format!("{flag} {}: {e}", path.display()));
                None
            }
        }
    };
    let api_key = read(&api.api_key_file, from_env.api_key, "--api-key-file");
    let app_key = read(&api.app_key_file, from_env.app_key, "--app-key-file");
    if !problems.is_empty() {
        return Err(problems);
    }
    let api_key = api_key.or_else(|| default_keys.map(|(api, _)| api.clone()));
    let app_key = app_key.or_else(|| default_keys.map(|(_, app)| app.clone()));
    // An explicit --api-url may be a proxy that adds the keys itself.
    if api.api_url.is_none() {
        if api_key.is_none() {
            problems.push(
                "no API key: set DATADOG_API_KEY (or DD_API_KEY), or use --api-key-file".into(),
            );
        }
        if app_key.is_none() {
            problems.push(
                "no application key: set DATADOG_APP_KEY (or DD_APP_KEY), or use --app-key-file"
                    .into(),
            );
        }
    }
    if problems.is_empty() {
        Ok(Keys { api_key, app_key })
    } else {
        Err(problems)
    }
}

/// Which URLs the step summary may link to: the request's own site, or its `api_url` origin.
pub(crate) fn link_policy(api: &ApiArgs) -> LinkPolicy {
    gatepost_core::site::resolve(
        site(api).as_deref(),
        api.api_url.as_deref(),
        api.allow_insecure_http,
    )
    .map_or_else(|_| LinkPolicy::none(), |e| LinkPolicy::for_endpoint(&e))
}

/// The API base URL requests will go to (for proxy decisions), when it resolves.
pub(crate) fn base_url(api: &ApiArgs) -> Option<String> {
    gatepost_core::site::resolve(
        site(api).as_deref(),
        api.api_url.as_deref(),
        api.allow_insecure_http,
    )
    .ok()
    .map(|e| e.base_url)
}

pub(crate) fn site(api: &ApiArgs) -> Option<String> {
    if api.api_url.is_some() {
        return None;
    }
    // A variable that is not UTF-8 is reported by `resolve_keys`; here it only means no site.
    api.site.clone().or_else(|| {
        gatepost_core::environment::defaults(&environment())
            .ok()
            .and_then(|d| d.site)
    })
}

/// This process's environment, as core's rules read it.
pub(crate) fn environment() -> gatepost_core::environment::Environment {
    gatepost_core::environment::Environment::from_os(std::env::vars_os())
}

/// Engine durations in ms from the CLI's seconds.
#[derive(Default)]
pub(crate) struct TimingMs {
    pub timeout_ms: Option<u64>,
    pub poll_interval_ms: Option<u64>,
    pub request_timeout_ms: Option<u64>,
    pub trigger_budget_ms: Option<u64>,
}

pub(crate) fn timing_ms(t: &TimingArgs, problems: &mut Vec<String>) -> TimingMs {
    // Core converts and bounds-checks, so the problem names the flag and its seconds.
    let mut ms = |v: Option<f64>, name: &str| {
        let target = gatepost_core::options::seconds_option(name).expect("a seconds option");
        v.and_then(
            |secs| match gatepost_core::options::seconds_to_ms(name, target, secs) {
                Ok(ms) => Some(ms),
                Err(p) => {
                    problems.push(flag_problem(&p));
                    None
                }
            },
        )
    };
    TimingMs {
        timeout_ms: ms(t.timeout, "timeout"),
        poll_interval_ms: ms(t.poll_interval, "poll_interval"),
        request_timeout_ms: ms(t.request_timeout, "request_timeout"),
        trigger_budget_ms: ms(t.trigger_budget, "trigger_budget"),
    }
}

pub(crate) fn required(value: &Option<String>, flag: &str, problems: &mut Vec<String>) -> String {
    match value.as_deref().map(str::trim) {
        Some(v) if !v.is_empty() => v.to_string(),
        _ => {
            problems.push(format!("{flag} is required"));
            String::new()
        }
    }
}

pub(crate) fn make_logger(display: &DisplayArgs) -> Logger {
    let format = display.log_format.unwrap_or_else(|| {
        match std::env::var("DD_LOG_FORMAT").map(|v| v.to_ascii_lowercase()) {
            Ok(v) if v == "json" => LogFormat::Json,
            _ => LogFormat::Text,
        }
    });
    Logger::new(format, display.color, display.quiet, display.verbose)
        .with_json_output(display.output == OutputFormat::Json)
}

pub(crate) fn usage_errors(problems: &[String], logger: &mut Logger) -> u8 {
    for p in problems {
        logger.error(p);
    }
    let error = gatepost_core::Error::with_problems(
        ErrorCode::InvalidOptions,
        format!("invalid options: {}", problems.join("; ")),
        problems
            .iter()
            .map(|p| Problem::new("", p.as_str()))
            .collect(),
    );
    logger.exit_error(&error, None, EXIT_USAGE);
    logger.log(
        crate::output::Level::Error,
        "see `gatepost gate --help` for usage",
        None,
    );
    EXIT_USAGE
}

/// An engine error: every problem, located in the config file when it came from there.
pub(crate) fn engine_error(
    e: &gatepost_core::Error,
    config: Option<&Path>,
    logger: &mut Logger,
) -> u8 {
    let file = config.map(|p| p.display().to_string());
    if e.problems.is_empty() {
        logger.error(&e.message);
    }
    for p in &e.problems {
        let line = match (&file, e.code) {
            (Some(file), ErrorCode::InvalidConfig) => located(file, p),
            _ => flag_problem(p),
        };
        logger.error(&line);
    }
    let code = match e.code {
        ErrorCode::InvalidConfig | ErrorCode::InvalidOptions | ErrorCode::InvalidSnapshot => {
            EXIT_USAGE
        }
        ErrorCode::InvalidInput | ErrorCode::UnknownRequest => 1,
        // A code a later engine adds (the enum is non-exhaustive): not the user's usage error.
        _ => 1,
    };
    let config = file.filter(|_| e.code == ErrorCode::InvalidConfig);
    logger.exit_error(e, config.as_deref(), code);
    code
}

/// An options problem named by the flag that sets it (`api_url` → `--api-url`). Durations reach
/// the engine through core's seconds conversion, whose problems already speak in seconds.
pub(crate) fn flag_problem(p: &Problem) -> String {
    let mut s = match p.path.as_str() {
        "" => p.message.clone(),
        "evaluation_id" => format!("EVALUATION_ID: {}", p.message),
        flag => format!("--{}: {}", flag.replace('_', "-"), p.message),
    };
    if let Some(hint) = &p.hint {
        s.push_str(&format!(" (hint: {})", for_cli(hint)));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(shell_quote("checkout"), "checkout");
        assert_eq!(shell_quote("http://127.0.0.1:80"), "http://127.0.0.1:80");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
    }

    #[test]
    fn problems_point_at_file_line_and_column() {
        let mut p = Problem::new(
            "rules[1].options.duration",
            "9000 is above the maximum 7200",
        );
        p.line = Some(7);
        p.column = Some(20);
        assert_eq!(
            located("gate.json", &p),
            "gate.json:7:20: rules[1].options.duration: 9000 is above the maximum 7200"
        );
        assert_eq!(
            flag_problem(&Problem::new("api_url", "bad")),
            "--api-url: bad"
        );
    }

    #[test]
    fn durations_are_converted_and_bounded_by_core_in_the_flags_seconds() {
        let args = TimingArgs {
            timeout: Some(f64::NAN),
            fail_on_error: false,
            poll_interval: Some(0.1),
            request_timeout: Some(2.5),
            trigger_budget: Some(9.0e12),
        };
        let mut problems = Vec::new();
        let ms = timing_ms(&args, &mut problems);
        assert_eq!(ms.request_timeout_ms, Some(2_500));
        assert_eq!(ms.poll_interval_ms, None);
        assert_eq!(
            problems,
            [
                "--timeout: expected a number of seconds",
                "--poll-interval: 0.1 is below the minimum 1 s",
                "--trigger-budget: 9000000000000 s is too large",
            ]
        );
    }
}
