//! `gatepost gates export | plan | apply | schema`: preconfigured gates and their rules as code.
//!
//! The core's gates run reads the live state, computes the plan and carries it out; this module
//! only parses flags, reads and writes files, drives the run with the shared driver loop and
//! prints the report. Exit codes: export and apply 0 done, 1 error; plan 0 no changes, 2 changes,
//! 1 error (like `terraform plan -detailed-exitcode`).

use crate::cli::ApiArgs;
use crate::driver;
use crate::http::Client;
use crate::output::{Logger, now_ms};
use crate::shared::{Keys, base_url, located, resolve_keys, site};
use clap::{Args, Subcommand, ValueEnum};
use gatepost_core::ConfigInput;
use gatepost_core::gates::{self, GatesOptions, Report, Scope, Task};
use std::path::{Path, PathBuf};

#[derive(Debug, Subcommand)]
pub enum GatesCommand {
    /// Write the gates that exist (with their rules) as a gates file.
    Export(ExportArgs),
    /// Compare a gates file with what exists and print the changes
    /// (exit 0 no changes, 2 changes, 1 error).
    Plan(PlanArgs),
    /// Carry out the changes of a gates file and print what was done. Re-running it resumes an
    /// interrupted apply; once done, it is a no-op.
    Apply(PlanArgs),
    /// Print the JSON Schema of the gates file.
    Schema,
}

/// Which gates: `export` reads these; `--prune` may delete these.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Scope")]
pub struct ScopeArgs {
    /// Only gates of this service.
    #[arg(long, value_name = "NAME")]
    pub service: Option<String>,
    /// Only gates of this environment.
    #[arg(long, value_name = "NAME")]
    pub env: Option<String>,
    /// Only gates with this identifier.
    #[arg(long, value_name = "ID")]
    pub identifier: Option<String>,
}

/// Where requests go and how hard to try.
#[derive(Debug, Clone, Args)]
pub struct ConnectArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    #[arg(long, value_name = "N", help_heading = "Timing and error policy", help = format!(
        "Retries of one request after a 429, a 5xx or a network error (default {}), each \
         after a backoff (or the server's Retry-After).",
        gatepost_core::gates::DEFAULT_MAX_RETRIES,
    ))]
    pub retries: Option<u32>,
    #[arg(long, value_name = "SECS", help_heading = "Timing and error policy", help = crate::cli::default_help(
        "Timeout of one HTTP request, in seconds",
        gatepost_core::options::DEFAULT_REQUEST_TIMEOUT_MS,
    ))]
    pub request_timeout: Option<f64>,
    /// Run against a local emulator serving this world file (its gates live as long as this
    /// command: to plan and apply in turn, serve one with `gatepost emulator` and use --api-url).
    #[arg(long, value_name = "WORLD.json", conflicts_with_all = ["api_url", "site"], help_heading = "Try locally")]
    pub emulator: Option<PathBuf>,
    /// Also log every request and response status (keys are never printed).
    #[arg(long, short)]
    pub verbose: bool,
}

#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Write the file here instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// How `plan` prints the changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    Text,
    /// The whole report (plan, what was applied, error) as JSON.
    Json,
    /// For a pull-request comment.
    Markdown,
}

#[derive(Debug, Clone, Args)]
pub struct PlanArgs {
    /// The gates file (`-` reads stdin).
    #[arg(long, short, value_name = "FILE")]
    pub file: PathBuf,
    /// Also delete gates that are not in the file, within the scope given by --service / --env /
    /// --identifier or by the file's "scope" (one is required).
    #[arg(long)]
    pub prune: bool,
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// What to print on stdout.
    #[arg(long, value_enum, default_value = "text", value_name = "FORMAT")]
    pub output: PlanFormat,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// Exit code of a plan with changes.
const EXIT_CHANGES: u8 = 2;

pub fn main(command: GatesCommand) -> u8 {
    match command {
        GatesCommand::Schema => {
            let schema = gates::json_schema();
            println!(
                "{}",
                serde_json::to_string_pretty(&schema).expect("a schema serialises")
            );
            0
        }
        GatesCommand::Export(args) => export(&args),
        GatesCommand::Plan(args) => plan(&args, false),
        GatesCommand::Apply(args) => plan(&args, true),
    }
}

fn scope_of(args: &ScopeArgs) -> Option<Scope> {
    let scope = Scope {
        service: args.service.clone(),
        env: args.env.clone(),
        identifier: args.identifier.clone(),
    };
    (!scope.is_empty()).then_some(scope)
}

fn export(args: &ExportArgs) -> u8 {
    let task = Task::Export {
        scope: scope_of(&args.scope),
    };
    let mut logger = Logger::new(
        crate::cli::LogFormat::Text,
        crate::cli::ColorChoice::Never,
        false,
        args.connect.verbose,
    );
    let Some(report) = execute(&args.connect, task, &mut logger) else {
        return 1;
    };
    if let Some(error) = &report.error {
        logger.error(error);
        return 1;
    }
    let file = report.export.unwrap_or_default();
    let text = serde_json::to_string_pretty(&file).expect("JSON serialises") + "\n";
    match &args.output {
        None => print!("{text}"),
        Some(path) => {
            if let Err(e) = std::fs::write(path, &text) {
                logger.error(&format!("--output {}: {e}", path.display()));
                return 1;
            }
            let count = file["gates"].as_array().map_or(0, Vec::len);
            logger.info(&format!("wrote {count} gate(s) to {}", path.display()));
        }
    }
    0
}

fn plan(args: &PlanArgs, apply: bool) -> u8 {
    let mut logger = Logger::new(
        crate::cli::LogFormat::Text,
        crate::cli::ColorChoice::Never,
        false,
        args.connect.verbose,
    );
    let text = match read_file(&args.file) {
        Ok(text) => text,
        Err(e) => {
            logger.error(&format!("--file {}: {e}", args.file.display()));
            return 1;
        }
    };
    // The prune scope: the flags, else the file's "scope". Checked by the run; read here only to
    // refuse `--prune` without any scope before a request is made.
    let prune = if args.prune {
        let from_file = gates::file::parse(&ConfigInput::Text(text.clone()))
            .ok()
            .and_then(|f| f.scope);
        match scope_of(&args.scope).or(from_file) {
            Some(scope) => Some(scope),
            None => {
                logger.error(
                    "--prune needs a scope: --service, --env or --identifier, or a \"scope\" in \
                     the file (so a prune never deletes every gate of the organisation)",
                );
                return 1;
            }
        }
    } else {
        if scope_of(&args.scope).is_some() {
            logger.error("--service, --env and --identifier scope --prune: add --prune");
            return 1;
        }
        None
    };
    let file = ConfigInput::Text(text);
    let task = if apply {
        Task::Apply { file, prune }
    } else {
        Task::Plan { file, prune }
    };
    let Some(report) = execute_with_file(&args.connect, task, &args.file, &mut logger) else {
        return 1;
    };
    for warning in &report.warnings {
        logger.warn(&located(&args.file.display().to_string(), warning));
    }
    print_report(&report, args.output, apply);
    if let Some(error) = &report.error {
        logger.error(error);
        return 1;
    }
    match (
        apply,
        report.plan.as_ref().is_some_and(gates::Plan::has_changes),
    ) {
        (false, true) => EXIT_CHANGES,
        _ => 0,
    }
}

fn print_report(report: &Report, format: PlanFormat, apply: bool) {
    match format {
        PlanFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(report).expect("a report serialises")
        ),
        PlanFormat::Markdown => {
            if let Some(plan) = &report.plan {
                print!("{}", gates::render_markdown(plan));
            }
        }
        PlanFormat::Text => {
            let Some(plan) = &report.plan else { return };
            if !apply {
                print!("{}", gates::render_text(plan));
                return;
            }
            if !plan.has_changes() {
                println!("No changes: the gates already match the file.");
                return;
            }
            for (i, change) in plan.changes.iter().enumerate() {
                let done = if i < report.applied {
                    "done"
                } else {
                    "not done"
                };
                println!("{} [{done}]", change.line());
            }
            println!(
                "\nApplied {} of {} change(s).",
                report.applied,
                plan.changes.len()
            );
        }
    }
}

fn read_file(path: &Path) -> std::io::Result<String> {
    crate::files::read_text(path, crate::files::MAX_FILE_BYTES)
}

fn execute(connect: &ConnectArgs, task: Task, logger: &mut Logger) -> Option<Report> {
    execute_with_file(connect, task, Path::new("-"), logger)
}

/// Where requests go, resolved from the flags: the API flags (pointed at an in-process emulator
/// with `--emulator`), the keys, the HTTP client and the request timeout. Shared by `gates` and
/// `validate --online`. Holds the emulator until dropped.
pub(crate) struct Connection {
    pub api: ApiArgs,
    pub keys: Keys,
    pub client: Client,
    pub request_timeout_ms: Option<u64>,
    #[cfg(feature = "emulator")]
    _emulator: Option<crate::emulator::InProcess>,
}

/// Resolve `--emulator`, the keys, `--request-timeout` and the client. `None` when it cannot
/// (the reason is logged).
pub(crate) fn connect(connect: &ConnectArgs, logger: &mut Logger) -> Option<Connection> {
    #[cfg_attr(not(feature = "emulator"), allow(unused_mut))]
    let mut api = connect.api.clone();
    #[cfg_attr(not(feature = "emulator"), allow(unused_mut))]
    let mut default_keys: Option<(String, String)> = None;
    #[cfg(feature = "emulator")]
    let emulator = match &connect.emulator {
        Some(world) => match crate::emulator::start_in_process(world, 1.0) {
            Ok(running) => {
                api.api_url = Some(running.base_url());
                api.site = None;
                default_keys = Some(running.default_keys.clone());
                Some(running)
            }
            Err(e) => {
                logger.error(&format!("--emulator {}: {e}", world.display()));
                return None;
            }
        },
        None => None,
    };
    #[cfg(not(feature = "emulator"))]
    if connect.emulator.is_some() {
        logger.error(
            "--emulator: this gatepost was built without the emulator (cargo feature `emulator`)",
        );
        return None;
    }
    let keys = match resolve_keys(&api, default_keys.as_ref()) {
        Ok(keys) => keys,
        Err(problems) => {
            for p in problems {
                logger.error(&p);
            }
            return None;
        }
    };
    // Core converts and bounds-checks the seconds, as for `gate`'s duration flags.
    let request_timeout_ms = match connect
        .request_timeout
        .map(|secs| {
            gatepost_core::options::seconds_to_ms("request_timeout", "request_timeout_ms", secs)
        })
        .transpose()
    {
        Ok(ms) => ms,
        Err(problem) => {
            logger.error(&crate::shared::flag_problem(&problem));
            return None;
        }
    };
    let client = match Client::new(api.ca_cert.as_deref(), base_url(&api).as_deref()) {
        Ok(c) => c,
        Err(e) => {
            logger.error(&e);
            return None;
        }
    };
    Some(Connection {
        api,
        keys,
        client,
        request_timeout_ms,
        #[cfg(feature = "emulator")]
        _emulator: emulator,
    })
}

/// Build the run (options, keys, client; an in-process emulator with `--emulator`) and drive it.
/// `None` when it could not start (the reason is logged).
fn execute_with_file(
    connect_args: &ConnectArgs,
    task: Task,
    file: &Path,
    logger: &mut Logger,
) -> Option<Report> {
    let connection = connect(connect_args, logger)?;
    let api = &connection.api;
    let options = GatesOptions {
        site: site(api),
        api_url: api.api_url.clone(),
        allow_insecure_http: api.allow_insecure_http,
        api_key: connection.keys.api_key.clone(),
        app_key: connection.keys.app_key.clone(),
        request_timeout_ms: connection.request_timeout_ms,
        max_body_bytes: None,
        max_retries: connect_args.retries,
        seed: now_ms() % (1 << 52),
    };
    let run = match gates::Run::new(options, task, now_ms()) {
        Ok(run) => run,
        Err(e) => {
            let name = file.display().to_string();
            if e.problems.is_empty() {
                logger.error(&e.message);
            }
            for p in &e.problems {
                if e.code == gatepost_core::ErrorCode::InvalidConfig {
                    logger.error(&located(&name, p));
                } else {
                    let p = p.clone().spelled(gatepost_core::options::Spelling::Flag);
                    logger.error(&p.to_string());
                }
            }
            return None;
        }
    };
    match driver::run_machine(run, connection.client.clone(), logger) {
        Ok(report) => Some(report),
        Err(e) => {
            logger.error(&e.to_string());
            None
        }
    }
}
