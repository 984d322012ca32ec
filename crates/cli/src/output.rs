//! Everything the CLI prints besides the final report: log lines on stderr (text or JSON), the live
//! status line on a terminal, and the GitHub Actions step summary and outputs.

use crate::cli::{ColorChoice, LogFormat};
use anstyle::{AnsiColor, Style};
use gatepost_core::event::{Event, EventKind};
use gatepost_core::sanitize::{self, LinkPolicy};
use gatepost_core::{Outcome, report};
use std::io::{IsTerminal, Write};
use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch: the clock every shipped driver gives the engine, so a state
/// file written by one process means the same in the next.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Whether to colour a stream. `auto`: only on a terminal, never with `NO_COLOR` set (to anything
/// non-empty, per no-color.org) or `TERM=dumb`; `--color always|never` overrides.
pub fn use_color(choice: ColorChoice, is_terminal: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            is_terminal
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::env::var("TERM").map_or(true, |t| t != "dumb")
        }
    }
}

const DEBUG_STYLE: Style = Style::new().dimmed();
const WARN_STYLE: Style = AnsiColor::Yellow.on_default();
const ERROR_STYLE: Style = AnsiColor::Red.on_default();
const STATUS_STYLE: Style = AnsiColor::Cyan.on_default();

/// A stream for coloured text: with `color`, styles reach the terminal (as ANSI, or through the
/// console API on a Windows console without ANSI support); without it, any style is stripped.
/// Whether to colour is decided once, by [`use_color`] (`--color`, `NO_COLOR`, a terminal).
fn styled<S: anstream::stream::RawStream>(raw: S, color: bool) -> anstream::AutoStream<S> {
    let choice = if color {
        anstream::ColorChoice::Always
    } else {
        anstream::ColorChoice::Never
    };
    anstream::AutoStream::new(raw, choice)
}

/// Standard output for the report, styled as [`styled`] says.
pub fn styled_stdout(color: bool) -> anstream::AutoStream<std::io::StdoutLock<'static>> {
    styled(std::io::stdout().lock(), color)
}

/// Writes log lines to stderr. On a terminal (and only there) it also keeps one live status line
/// at the bottom, redrawn in place; in CI every line is plain and printed once.
pub struct Logger {
    format: LogFormat,
    quiet: bool,
    verbose: bool,
    color: bool,
    live: bool,
    status_shown: bool,
    /// `--output json`: an error exit also prints a JSON document on stdout ([`Logger::exit_error`]).
    json_output: bool,
}

/// Severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

impl Logger {
    pub fn new(format: LogFormat, color: ColorChoice, quiet: bool, verbose: bool) -> Logger {
        let tty = std::io::stderr().is_terminal();
        let color = format == LogFormat::Text && use_color(color, tty);
        Logger {
            format,
            quiet,
            verbose,
            color,
            live: tty
                && !quiet
                && format == LogFormat::Text
                && std::env::var("TERM").map_or(true, |t| t != "dumb"),
            status_shown: false,
            json_output: false,
        }
    }

    /// With `json` (`--output json`), [`Logger::exit_error`] also prints a JSON document on
    /// stdout, so a pipeline reading stdout (`jq`) never reads empty input as success.
    pub fn with_json_output(mut self, json: bool) -> Logger {
        self.json_output = json;
        self
    }

    /// The run ends with `error` and `exit_code` before any outcome: with `--output json`, print
    /// `{"error": {"code", "message", "problems"}, "exit_code": N}` on stdout (the log lines on
    /// stderr say the same for people). `config` names the config file the problems are in.
    pub fn exit_error(&self, error: &gatepost_core::Error, config: Option<&str>, exit_code: u8) {
        if !self.json_output {
            return;
        }
        println!("{}", error_document(error, config, exit_code));
    }

    /// Whether a live status line is drawn (stderr is a terminal, text logs, not quiet).
    pub fn live(&self) -> bool {
        self.live
    }

    pub fn verbose(&self) -> bool {
        self.verbose
    }

    /// Log one line. `Debug` lines appear only with `--verbose`; with `--quiet` only warnings and
    /// errors appear. Every line is made inert ([`sanitize::lines`]): messages carry user and
    /// server text, and no log line may start a CI workflow command or hold a terminal escape.
    pub fn log(&mut self, level: Level, message: &str, event: Option<&Event>) {
        if level == Level::Debug && !self.verbose {
            return;
        }
        if self.quiet && matches!(level, Level::Debug | Level::Info) {
            return;
        }
        self.clear_status();
        let mut err = std::io::stderr().lock();
        match self.format {
            LogFormat::Json => {
                let mut line = serde_json::json!({
                    "timestamp_ms": now_ms(),
                    "level": level.as_str(),
                    "message": message,
                });
                if let Some(event) = event
                    && let Ok(value) = serde_json::to_value(event)
                {
                    line["event"] = value;
                }
                let _ = writeln!(err, "{}", sanitize::json(&line.to_string()));
            }
            LogFormat::Text => {
                let message = sanitize::lines(message);
                let (prefix, style) = match level {
                    Level::Debug => ("", DEBUG_STYLE),
                    Level::Info => ("", Style::new()),
                    Level::Warn => ("warning: ", WARN_STYLE),
                    Level::Error => ("error: ", ERROR_STYLE),
                };
                // Through the stream itself (stderr's lock is re-entrant), which is what the
                // Windows console translation works on.
                let mut err = styled(std::io::stderr(), self.color);
                let _ = writeln!(err, "{style}{prefix}{message}{style:#}");
            }
        }
        let _ = err.flush();
    }

    pub fn info(&mut self, message: &str) {
        self.log(Level::Info, message, None);
    }

    pub fn warn(&mut self, message: &str) {
        self.log(Level::Warn, message, None);
    }

    pub fn error(&mut self, message: &str) {
        self.log(Level::Error, message, None);
    }

    pub fn debug(&mut self, message: &str) {
        self.log(Level::Debug, message, None);
    }

    /// Log an engine event with the line core rendered for it.
    pub fn event(&mut self, event: &Event) {
        let level = match &event.kind {
            EventKind::Retrying { .. } | EventKind::Warning { .. } => Level::Warn,
            EventKind::Ignored { .. } | EventKind::Debug { .. } => Level::Debug,
            _ => Level::Info,
        };
        self.log(level, &event.message, Some(event));
    }

    /// Draw (or redraw) the live status line. A no-op outside a terminal.
    pub fn status(&mut self, text: &str) {
        if !self.live {
            return;
        }
        let text = sanitize::line(text);
        let mut err = std::io::stderr().lock();
        // Erasing the line is cursor control, not colour: it goes out as it is (the status line is
        // only drawn on a terminal), and only the icon's colour depends on `color`.
        let _ = write!(err, "\r\x1b[2K");
        let style = if self.color {
            STATUS_STYLE
        } else {
            Style::new()
        };
        let _ = write!(err, "{style}⏳{style:#} {text}");
        let _ = err.flush();
        self.status_shown = true;
    }

    /// Remove the live status line, so a log line or the report can take its place.
    pub fn clear_status(&mut self) {
        if self.status_shown {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
            self.status_shown = false;
        }
    }
}

/// `1h02m03s`, `4m05s`, `12s`: durations in the status line.
pub fn human_duration(ms: u64) -> String {
    let s = ms / 1000;
    let (h, m, s) = (s / 3600, (s / 60) % 60, s % 60);
    if h > 0 {
        format!("{h}h{m:02}m{s:02}s")
    } else if m > 0 {
        format!("{m}m{s:02}s")
    } else {
        format!("{s}s")
    }
}

/// Under GitHub Actions: append the markdown report to `$GITHUB_STEP_SUMMARY` and write `status`,
/// `cause`, `fail_open`, `evaluation_id` and `evaluation_url` to `$GITHUB_OUTPUT`. Other CI systems
/// are untouched. Failures to write are warnings: the gate's decision stands either way. The
/// summary links only to the origins `links` allows (the request's own site or `api_url`).
pub fn write_github(outcome: &Outcome, links: &LinkPolicy, logger: &mut Logger) {
    if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) {
        let text = format!("{}\n", report::render_markdown_with(outcome, links));
        if let Err(e) = append(&path, &text) {
            logger.warn(&format!("could not write the GitHub step summary: {e}"));
        }
    }
    if let Some(path) = std::env::var_os("GITHUB_OUTPUT").filter(|p| !p.is_empty()) {
        let text = github_outputs(outcome);
        if let Err(e) = append(&path, &text) {
            logger.warn(&format!("could not write the GitHub step outputs: {e}"));
        }
    }
}

/// The `name=value` lines for `$GITHUB_OUTPUT`. Values are single-line (newlines would start a new
/// output) and inert ([`sanitize::line`]).
pub fn github_outputs(outcome: &Outcome) -> String {
    let one_line = sanitize::line;
    let verdict = match outcome.verdict {
        gatepost_core::Verdict::Pass => "pass",
        gatepost_core::Verdict::Fail => "fail",
    };
    let mut out = String::new();
    out.push_str(&format!("status={verdict}\n"));
    out.push_str(&format!("cause={}\n", outcome.cause.as_str()));
    out.push_str(&format!("fail_open={}\n", outcome.fail_open));
    out.push_str(&format!(
        "evaluation_id={}\n",
        one_line(outcome.evaluation_id.as_deref().unwrap_or(""))
    ));
    out.push_str(&format!(
        "evaluation_url={}\n",
        one_line(outcome.evaluation_url.as_deref().unwrap_or(""))
    ));
    out
}

fn append(path: &std::ffi::OsStr, text: &str) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    f.write_all(text.as_bytes())
}

/// The JSON document `--output json` prints for a run that ends in an error instead of an outcome.
pub fn error_document(error: &gatepost_core::Error, config: Option<&str>, exit_code: u8) -> String {
    // Hints name options as this CLI's flags, as on stderr.
    let error = error
        .clone()
        .spelled(gatepost_core::options::Spelling::Flag);
    let mut doc = serde_json::json!({ "error": error, "exit_code": exit_code });
    if let Some(config) = config {
        doc["error"]["config"] = config.into();
    }
    sanitize::json(&doc.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(12_400), "12s");
        assert_eq!(human_duration(245_000), "4m05s");
        assert_eq!(human_duration(3_723_000), "1h02m03s");
    }

    #[test]
    fn github_outputs_stay_one_inert_line_each() {
        let mut outcome = Outcome::skipped("x");
        outcome.evaluation_url = Some("https://e/\nstatus=pass\n::add-mask::k\u{1b}[2K".into());
        let text = github_outputs(&outcome);
        assert_eq!(text.lines().count(), 5, "{text}");
        assert_eq!(text.lines().filter(|l| l.starts_with("status=")).count(), 1);
        assert!(!text.contains('\u{1b}'), "{text}");
    }

    #[test]
    fn github_outputs_name_every_field() {
        let outcome = Outcome::skipped("hotfix\nfor incident 42");
        let text = github_outputs(&outcome);
        assert!(text.contains("status=pass\n"));
        assert!(text.contains("cause=skipped\n"));
        assert!(text.contains("fail_open=false\n"));
        assert!(text.contains("evaluation_id=\n"));
        assert!(text.contains("evaluation_url=\n"));
    }
}
