//! The command line: every command, flag and environment variable, with the help text users read.
//!
//! Parsing is all that happens before a command runs, so `gatepost --help` is instant. The flag
//! names of `gate` are datadog-ci's (`datadog-ci deployment gate`), so a pipeline line keeps
//! working with the binary name swapped; `gatepost deployment gate ...` is accepted for the same
//! reason.

use clap::{Args, Parser, Subcommand, ValueEnum};
use gatepost_core::options;
use std::path::PathBuf;

/// Default clock speed of `gate --emulator`: fast enough that a 5-minute rule takes 5 seconds.
pub const EMULATOR_TIME_SCALE: f64 = 60.0;

/// A duration flag's help line ending with core's default in the flag's seconds (and in hours
/// when it is whole hours), so the help never drifts from what the engine does.
pub(crate) fn default_help(text: &str, default_ms: u64) -> String {
    let secs = default_ms as f64 / 1000.0;
    let hours = default_ms as f64 / 3_600_000.0;
    if default_ms >= 3_600_000 && hours.fract() == 0.0 {
        format!("{text} (default {secs} s = {hours} h).")
    } else {
        format!("{text} (default {secs} s).")
    }
}

const AFTER_HELP: &str = "\
Keys come from the environment (never from flags, so they stay out of `ps` and shell history):
  DATADOG_API_KEY or DD_API_KEY      API key (or --api-key-file)
  DATADOG_APP_KEY or DD_APP_KEY      application key (or --app-key-file)
  DATADOG_SITE or DD_SITE            Datadog site (or --site); default datadoghq.com

Exit codes: 0 pass (or skipped, or fail-open), 1 fail, 2 usage or config error,
130 interrupted (SIGINT), 143 terminated (SIGTERM).

Try it without an account:
  gatepost gate --emulator examples/worlds/healthy.json --service checkout --env prod --version v2";

/// Deployment Gates from any pipeline: evaluate a gate, exit 0 (pass) or 1 (fail).
#[derive(Debug, Parser)]
#[command(name = "gatepost", version, about, long_about = None, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Evaluate a deployment gate and wait for its result (exit 0 pass, 1 fail).
    #[command(after_help = GATE_AFTER_HELP)]
    Gate(Box<GateArgs>),
    /// Check a gate config file and list every problem (exit 0 valid, 2 invalid); with
    /// --online, also what each monitor rule matches in Datadog now.
    Validate(Box<ValidateArgs>),
    /// Print the current result of an evaluation (one request, no waiting).
    Status(StatusArgs),
    /// Wait for an evaluation that already exists (e.g. after an interrupted `gate`).
    Wait(Box<WaitArgs>),
    /// Serve the local Deployment Gates emulator for a world file.
    Emulator(EmulatorArgs),
    /// Print the JSON Schema of the gate config file.
    Schema,
    /// Gates as code: export, plan and apply preconfigured gates and their rules from a file.
    #[command(subcommand)]
    Gates(crate::gates::GatesCommand),
    /// `gatepost deployment gate ...`: the datadog-ci spelling, so existing pipeline lines work.
    #[command(hide = true)]
    Deployment {
        #[command(subcommand)]
        command: DeploymentCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum DeploymentCommand {
    /// Same as `gatepost gate`.
    Gate(Box<GateArgs>),
}

const GATE_AFTER_HELP: &str = "\
Examples:
  # a preconfigured gate (rules defined in Datadog)
  gatepost gate --service checkout --env prod --version \"$GIT_SHA\"
  # inline rules from a config file (the datadog-ci format), failing closed on outages
  gatepost gate --service checkout --env prod --config gate-config.json --fail-on-error
  # try it locally against the built-in emulator
  gatepost gate --emulator examples/worlds/healthy.json --service checkout --env prod --version v2

When the API is unavailable or --timeout is reached, the gate passes (fail-open) and says so,
unless --fail-on-error is given. A 4xx (bad keys, unknown gate) always fails.";

/// Where the result goes on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// A report for people.
    Text,
    /// The outcome JSON (schemas/outcome.schema.json); logs go to stderr.
    Json,
}

/// When to use ANSI colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// On a terminal, unless `NO_COLOR` is set.
    Auto,
    /// Always (e.g. GitHub Actions, whose logs render colours but are not a terminal).
    Always,
    Never,
}

/// How log lines (on stderr) are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    /// One JSON object per line.
    Json,
}

/// Flags shared by every command that talks to the API.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Where requests go")]
pub struct ApiArgs {
    /// Datadog site: datadoghq.com, us3.datadoghq.com, us5.datadoghq.com, datadoghq.eu,
    /// ap1.datadoghq.com, ap2.datadoghq.com, uk1.datadoghq.com; another REGION.datadoghq.com
    /// is used with a warning [env: DATADOG_SITE, DD_SITE]
    #[arg(long, value_name = "SITE")]
    pub site: Option<String>,
    /// Send requests to this base URL instead (a proxy or an emulator). Plain http is allowed only
    /// for loopback.
    #[arg(long, value_name = "URL", conflicts_with = "site")]
    pub api_url: Option<String>,
    /// Allow plain http:// to a host that is not loopback (keys would travel unencrypted).
    #[arg(long)]
    pub allow_insecure_http: bool,
    /// Read the API key from this file (e.g. a mounted Kubernetes secret).
    #[arg(long, value_name = "FILE")]
    pub api_key_file: Option<PathBuf>,
    /// Read the application key from this file.
    #[arg(long, value_name = "FILE")]
    pub app_key_file: Option<PathBuf>,
    /// Trust the CA certificates in this PEM file, in addition to the system roots
    /// (SSL_CERT_FILE replaces the system roots, as in OpenSSL).
    #[arg(long, value_name = "PEM")]
    pub ca_cert: Option<PathBuf>,
}

/// Flags that shape what is printed.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Output")]
pub struct DisplayArgs {
    /// What to print on stdout at the end.
    #[arg(long, value_enum, default_value = "text", value_name = "FORMAT")]
    pub output: OutputFormat,
    /// How to write log lines on stderr [env: DD_LOG_FORMAT]
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,
    /// When to colour the output.
    #[arg(long, value_enum, default_value = "auto", value_name = "WHEN")]
    pub color: ColorChoice,
    /// Print only the result (no progress lines, no live status line).
    #[arg(long, short, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Also log every request and response status (keys are never printed).
    #[arg(long, short)]
    pub verbose: bool,
}

/// Engine timing flags, in seconds like datadog-ci's `--timeout`.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Timing and error policy")]
pub struct TimingArgs {
    #[arg(long, value_name = "SECS", help = default_help(
        "Give up after this many seconds, counted from the start",
        options::DEFAULT_TIMEOUT_MS,
    ))]
    pub timeout: Option<f64>,
    /// Fail (exit 1) instead of passing when the API is unavailable or --timeout is reached.
    #[arg(long)]
    pub fail_on_error: bool,
    #[arg(long, value_name = "SECS", help = default_help(
        "Seconds between two polls of the result",
        options::DEFAULT_POLL_INTERVAL_MS,
    ))]
    pub poll_interval: Option<f64>,
    #[arg(long, value_name = "SECS", help = default_help(
        "Timeout of one HTTP request, in seconds",
        options::DEFAULT_REQUEST_TIMEOUT_MS,
    ))]
    pub request_timeout: Option<f64>,
    #[arg(long, value_name = "SECS", help = default_help(
        "How long to keep retrying the trigger request, in seconds",
        options::DEFAULT_TRIGGER_BUDGET_MS,
    ))]
    pub trigger_budget: Option<f64>,
}

#[derive(Debug, Clone, Args)]
pub struct GateArgs {
    /// The service being deployed.
    #[arg(long, value_name = "NAME")]
    pub service: Option<String>,
    /// The environment being deployed to.
    #[arg(long, value_name = "NAME")]
    pub env: Option<String>,
    /// The gate's identifier (the server uses `default` when omitted).
    #[arg(long, value_name = "ID")]
    pub identifier: Option<String>,
    /// The version being deployed (needed by Faulty Deployment Detection rules).
    #[arg(long, value_name = "VERSION")]
    pub version: Option<String>,
    /// Scope Faulty Deployment Detection to one APM primary tag value, e.g. region:us-east-1.
    #[arg(long, visible_alias = "apm-primary-tag", value_name = "TAG")]
    pub primary_tag: Option<String>,
    /// Inline rules (a JIT gate) from a JSON file in the datadog-ci format (`-` reads stdin).
    /// Without it, the gate and its rules must exist in Datadog.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Pass keys of the config file that gatepost does not know (options newer than gatepost)
    /// through to the API with a warning, instead of refusing the file.
    #[arg(long)]
    pub allow_unknown_keys: bool,
    #[command(flatten)]
    pub timing: TimingArgs,
    /// Keep the evaluation's state in this file while it runs; a retried or restarted job with the
    /// same file resumes that evaluation instead of starting a new one.
    #[arg(
        long,
        value_name = "PATH",
        help_heading = "Resume, break glass, try locally"
    )]
    pub state_file: Option<PathBuf>,
    /// Break glass: do not evaluate, exit 0, and report the gate as skipped with this reason
    /// [env: GATEPOST_SKIP_REASON]
    #[arg(
        long,
        value_name = "REASON",
        help_heading = "Resume, break glass, try locally"
    )]
    pub skip: Option<String>,
    /// Evaluate against a local emulator serving this world file (no account needed).
    #[arg(
        long,
        value_name = "WORLD.json",
        conflicts_with_all = ["api_url", "site"],
        help_heading = "Resume, break glass, try locally"
    )]
    pub emulator: Option<PathBuf>,
    #[arg(
        long,
        value_name = "N",
        requires = "emulator",
        help_heading = "Resume, break glass, try locally",
        help = format!(
            "With --emulator: how many times faster than real time the emulator's clock runs \
             (default {EMULATOR_TIME_SCALE}, so a 5-minute rule takes {} seconds).",
            300.0 / EMULATOR_TIME_SCALE
        )
    )]
    pub time_scale: Option<f64>,
    #[command(flatten)]
    pub api: ApiArgs,
    #[command(flatten)]
    pub display: DisplayArgs,
    /// Require a FIPS-validated crypto module. gatepost's TLS (rustls
    /// with ring) is not FIPS-validated, so this exits 2 unless --fips-ignore-error is given
    /// [env: DATADOG_FIPS]
    #[arg(long, help_heading = "datadog-ci compatibility")]
    pub fips: bool,
    /// With --fips: warn and go on with the non-FIPS TLS stack instead of exiting
    /// [env: DATADOG_FIPS_IGNORE_ERROR]
    #[arg(long, help_heading = "datadog-ci compatibility")]
    pub fips_ignore_error: bool,
    /// datadog-ci's hidden flag, sent as `monitors_query_variable`.
    #[arg(long, hide = true, value_name = "VALUE")]
    pub monitors_query_variable: Option<String>,
    /// Seed of the retry jitter (for reproducible runs).
    #[arg(long, hide = true, value_name = "N")]
    pub seed: Option<u64>,
}

const VALIDATE_AFTER_HELP: &str = "\
Examples:
  # offline: syntax, keys, bounds (no account, no network)
  gatepost validate --config gate-config.json
  # online: also search each monitor rule's query and report what it matches now
  gatepost validate --online --config gate-config.json
  # online, the rules of a preconfigured gate
  gatepost validate --online --service checkout --env prod
  # try it without an account
  gatepost validate --online --config examples/validate-online/gate-config.json \\
    --emulator examples/worlds/validate-online.json

Exit codes: 0 valid (warnings allowed), 2 problems (or a usage error), 1 with --online when the
API could not be read (a server or network failure, refused keys).";

/// How `validate` prints its result on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ValidateFormat {
    /// For people (problems and warnings go to stderr).
    Text,
    /// The validation result; with --online, the online report.
    Json,
    /// For a pull-request comment or a CI step summary.
    Markdown,
}

#[derive(Debug, Clone, Args)]
#[command(after_help = VALIDATE_AFTER_HELP)]
pub struct ValidateArgs {
    /// The gate config file to check (`-` reads stdin).
    #[arg(long, value_name = "FILE", required_unless_present = "service")]
    pub config: Option<PathBuf>,
    /// The version that would be deployed (Faulty Deployment Detection rules need one).
    #[arg(long, value_name = "VERSION")]
    pub version: Option<String>,
    /// Unknown keys are warnings (and would be sent unchanged) instead of problems, as with
    /// `gate --allow-unknown-keys`.
    #[arg(long)]
    pub allow_unknown_keys: bool,
    /// What to print on stdout.
    #[arg(long, value_enum, default_value = "text", value_name = "FORMAT")]
    pub output: ValidateFormat,
    /// Also check the rules against Datadog: search each monitor rule's query with the monitor
    /// search API and report how many monitors match (none, or more than 50, fail a rule) and
    /// which are alerting now. Needs the API and application keys, like `gate`.
    #[arg(long, help_heading = "Online")]
    pub online: bool,
    /// With --online and no --config: check the rules of this service's preconfigured gate. With
    /// --config: the service the rules are for, so Faulty Deployment Detection rules are checked
    /// for APM data (--version also reports the version's).
    #[arg(long, value_name = "NAME", requires_all = ["online", "env"], help_heading = "Online")]
    pub service: Option<String>,
    /// The environment of the preconfigured gate (or of the config's rules, with --config).
    #[arg(
        long,
        value_name = "NAME",
        requires = "service",
        help_heading = "Online"
    )]
    pub env: Option<String>,
    /// The preconfigured gate's identifier (default: `default`).
    #[arg(
        long,
        value_name = "ID",
        requires = "service",
        conflicts_with = "config",
        help_heading = "Online"
    )]
    pub identifier: Option<String>,
    #[arg(long, value_name = "SECS", help_heading = "Online", help = default_help(
        "With --online: give up after this many seconds, retries included",
        gatepost_core::online::DEFAULT_TIMEOUT_MS,
    ))]
    pub timeout: Option<f64>,
    #[command(flatten)]
    pub connect: crate::gates::ConnectArgs,
}

#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    /// The evaluation id printed by `gatepost gate`.
    pub evaluation_id: String,
    #[command(flatten)]
    pub api: ApiArgs,
    /// `json` prints the API's response body as it is, or on a failure a JSON error document
    /// (`{"error": {"code", "message", ...}, "exit_code": N}`).
    #[arg(long, value_enum, default_value = "text", value_name = "FORMAT")]
    pub output: OutputFormat,
}

#[derive(Debug, Clone, Args)]
pub struct WaitArgs {
    /// The evaluation id printed by `gatepost gate`.
    pub evaluation_id: String,
    /// The service (shown in the report; defaults to "unknown").
    #[arg(long, value_name = "NAME")]
    pub service: Option<String>,
    /// The environment (shown in the report; defaults to "unknown").
    #[arg(long, value_name = "NAME")]
    pub env: Option<String>,
    #[command(flatten)]
    pub timing: TimingArgs,
    #[command(flatten)]
    pub api: ApiArgs,
    #[command(flatten)]
    pub display: DisplayArgs,
}

#[derive(Debug, Clone, Args)]
pub struct EmulatorArgs {
    /// The world file: monitors, APM data, gates, keys and fault plans.
    #[arg(long, value_name = "WORLD.json")]
    pub world: PathBuf,
    /// Port to listen on (0 = any free port; the first line printed says which).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDR")]
    pub bind: std::net::IpAddr,
    /// How many times faster than real time the emulator's clock runs.
    #[arg(long, default_value_t = 1.0, value_name = "N")]
    pub time_scale: f64,
    /// Serve HTTPS with this certificate (PEM); needs --tls-key.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Seconds a client gets to send its request headers (and to finish a TLS handshake, or
    /// to start its next request on a kept-alive connection).
    #[arg(long, default_value_t = 10.0, value_name = "SECS")]
    pub header_timeout: f64,
    /// Seconds a client gets to send the body it announced (a late body gets 408).
    #[arg(long, default_value_t = 30.0, value_name = "SECS")]
    pub body_timeout: f64,
    /// Connections served at once; beyond it, new ones get 503 (lowered to the open-file limit).
    #[arg(long, default_value_t = 20_000, value_name = "N")]
    pub max_connections: usize,
    /// An origin whose web pages may call the API from a browser (repeat for more; `*` for
    /// any). Default: pages served from this machine (localhost, 127.0.0.1, [::1]) only.
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    pub cors_origins: Vec<String>,
}
