//! The commands that talk to the API (`gate`, `wait`, `status`) and `validate`: turning flags and
//! environment variables into engine options, and printing what the engine reports.

use crate::EXIT_USAGE;
use crate::cli::{
    ApiArgs, DisplayArgs, GateArgs, LogFormat, OutputFormat, StatusArgs, TimingArgs, ValidateArgs,
    ValidateFormat, WaitArgs,
};
use crate::driver::{self, DriverConfig, Finished, StateTarget};
use crate::http::{Client, Request};
use crate::output::{Logger, human_duration, now_ms, use_color, write_github};
use crate::state::{self, Loaded};
use gatepost_core::machine::ResultReply;
use gatepost_core::online;
use gatepost_core::report::{self, TextStyle};
use gatepost_core::sanitize::{self, LinkPolicy};
use gatepost_core::{ConfigInput, Engine, ErrorCode, Input, Options, Outcome, Problem};
use std::io::IsTerminal;
use std::path::Path;

/// Exit codes for a run ended by a signal (128 + the signal number, as shells report it).
const EXIT_SIGINT: u8 = 130;
const EXIT_SIGTERM: u8 = 143;

/// `gatepost gate` (and `gatepost deployment gate`).
pub fn gate(args: &GateArgs) -> u8 {
    let mut logger = make_logger(&args.display);

    if let Some(reason) = skip_reason(args) {
        return skip(&reason, args, &mut logger);
    }

    let mut problems = Vec::new();
    let fips = args.fips || env_flag("DATADOG_FIPS");
    let fips_ignore = args.fips_ignore_error || env_flag("DATADOG_FIPS_IGNORE_ERROR");
    if fips && !fips_ignore {
        problems.push(
            "--fips: gatepost's TLS stack (rustls with ring) is not a FIPS 140 validated module, \
             so FIPS mode cannot be enabled; add --fips-ignore-error (DATADOG_FIPS_IGNORE_ERROR=true) \
             to go on without it"
                .to_string(),
        );
    }
    let service = required(&args.service, "--service", &mut problems);
    let env = required(&args.env, "--env", &mut problems);
    let timing = timing_ms(&args.timing, &mut problems);
    if let Some(scale) = args.time_scale
        && !(scale.is_finite() && scale > 0.0)
    {
        problems.push(format!(
            "--time-scale must be a positive number, not {scale}"
        ));
    }
    let config_text = args.config.as_ref().and_then(|path| {
        read_config(path)
            .map_err(|e| problems.push(format!("--config {}: {e}", path.display())))
            .ok()
    });
    if !problems.is_empty() {
        return usage_errors(&problems, &mut logger);
    }
    if fips {
        logger.warn(
            "--fips-ignore-error: FIPS mode is not available (rustls with ring is not FIPS 140 \
             validated); going on with the regular TLS stack",
        );
    }

    // Holds the in-process emulator (if any) until this function returns.
    let target = match target(args, timing.poll_interval_ms, &mut logger) {
        Ok(t) => t,
        Err(e) => return usage_errors(&[e], &mut logger),
    };
    let api = &target.api;
    let poll_interval_ms = target.poll_interval_ms;
    let keys = match resolve_keys(api, target.default_keys.as_ref()) {
        Ok(keys) => keys,
        Err(problems) => return usage_errors(&problems, &mut logger),
    };
    let client = match Client::new(api.ca_cert.as_deref(), base_url(api).as_deref()) {
        Ok(c) => c,
        Err(e) => return usage_errors(&[e], &mut logger),
    };
    let options = Options {
        service: service.clone(),
        env: env.clone(),
        identifier: args.identifier.clone(),
        version: args.version.clone(),
        primary_tag: args.primary_tag.clone(),
        config: config_text.map(ConfigInput::Text),
        monitors_query_variable: args.monitors_query_variable.clone(),
        site: site(api),
        api_url: api.api_url.clone(),
        allow_insecure_http: api.allow_insecure_http,
        api_key: keys.api_key.clone(),
        app_key: keys.app_key.clone(),
        timeout_ms: timing.timeout_ms,
        trigger_budget_ms: timing.trigger_budget_ms,
        poll_interval_ms,
        request_timeout_ms: timing.request_timeout_ms,
        max_body_bytes: None,
        fail_on_error: args.timing.fail_on_error,
        allow_unknown_keys: args.allow_unknown_keys,
        seed: args.seed.unwrap_or_else(|| now_ms() % (1 << 52)),
    };

    let now = now_ms();
    let engine = match start_engine(args, &options, now, &mut logger) {
        Ok(engine) => engine,
        Err(e) => return engine_error(&e, args.config.as_deref(), &mut logger),
    };
    print_parameters(args, &options, &engine, now, &mut logger);

    let state_file = args.state_file.as_ref().map(|path| StateTarget {
        path: path.clone(),
        service: service.clone(),
        env: env.clone(),
        identifier: args.identifier.clone(),
    });
    let config = DriverConfig {
        client,
        state_file,
        deadline_ms: Some(engine.deadline()),
    };
    let finished = match driver::run(engine, config, &mut logger) {
        Ok(f) => f,
        Err(e) => return engine_error(&e, None, &mut logger),
    };
    let code = finish(
        &finished,
        &args.display,
        &link_policy(api),
        &mut logger,
        |id| resume_hint(id, args, api),
    );
    drop(target);
    code
}

/// Where `gate` sends requests: the flags as given, or, with `--emulator`, an emulator started in
/// this process (with the world's key as the default and a poll interval matched to its clock).
struct Target {
    api: ApiArgs,
    default_keys: Option<(String, String)>,
    poll_interval_ms: Option<u64>,
    #[cfg(feature = "emulator")]
    _emulator: Option<crate::emulator::InProcess>,
}

#[cfg(feature = "emulator")]
fn target(
    args: &GateArgs,
    poll_interval_ms: Option<u64>,
    logger: &mut Logger,
) -> Result<Target, String> {
    let Some(world) = &args.emulator else {
        return Ok(Target {
            api: args.api.clone(),
            default_keys: None,
            poll_interval_ms,
            _emulator: None,
        });
    };
    let scale = args.time_scale.unwrap_or(crate::cli::EMULATOR_TIME_SCALE);
    let running = crate::emulator::start_in_process(world, scale)?;
    logger.info(&format!(
        "Started the emulator for {} at {} (clock ×{scale})",
        world.display(),
        running.base_url()
    ));
    let mut api = args.api.clone();
    api.api_url = Some(running.base_url());
    api.site = None;
    Ok(Target {
        api,
        default_keys: Some(running.default_keys.clone()),
        // Rules run `scale` times faster, so poll that much more often (at most once a second)
        // unless the user chose an interval.
        poll_interval_ms: poll_interval_ms
            .or(Some(gatepost_core::options::scaled_poll_interval_ms(scale))),
        _emulator: Some(running),
    })
}

#[cfg(not(feature = "emulator"))]
fn target(
    args: &GateArgs,
    poll_interval_ms: Option<u64>,
    _logger: &mut Logger,
) -> Result<Target, String> {
    if args.emulator.is_some() {
        return Err(
            "--emulator: this gatepost was built without the emulator (cargo feature `emulator`)"
                .to_string(),
        );
    }
    Ok(Target {
        api: args.api.clone(),
        default_keys: None,
        poll_interval_ms,
    })
}

/// Start a new evaluation, or resume the one kept in `--state-file`. Core decides whether the
/// saved evaluation belongs to this request (`Engine::resume_for`): when it does not, it says why
/// (the engine's `snapshot_not_resumed` warning) and a new evaluation starts, replacing the file.
fn start_engine(
    args: &GateArgs,
    options: &Options,
    now: u64,
    logger: &mut Logger,
) -> Result<Engine, gatepost_core::Error> {
    if let Some(path) = &args.state_file {
        let shown = sanitize::line(&path.display().to_string());
        match state::load(path) {
            Loaded::Missing => {}
            Loaded::Resume(saved) => match Engine::resume_for(saved.snapshot, options.clone(), now)
            {
                Ok(engine) => {
                    if engine.resumed() {
                        logger.info(&format!(
                            "Resuming evaluation {} from the state file {shown} (no new trigger is sent)",
                            engine.evaluation_id().unwrap_or("(not yet started)"),
                        ));
                    }
                    return Ok(engine);
                }
                Err(e) if e.code == ErrorCode::InvalidSnapshot => logger.warn(&format!(
                    "the state file {shown} cannot be resumed ({}); starting a new evaluation",
                    e.message
                )),
                Err(e) => return Err(e),
            },
            Loaded::Unusable(why) => logger.warn(&format!(
                "ignoring the state file {shown}: {why}; starting a new evaluation"
            )),
        }
    }
    Engine::new(options.clone(), now)
}

/// `gatepost wait ID`: poll an evaluation that already exists.
pub fn wait(args: &WaitArgs) -> u8 {
    let mut logger = make_logger(&args.display);
    let mut problems = Vec::new();
    let timing = timing_ms(&args.timing, &mut problems);
    if !problems.is_empty() {
        return usage_errors(&problems, &mut logger);
    }
    let keys = match resolve_keys(&args.api, None) {
        Ok(keys) => keys,
        Err(problems) => return usage_errors(&problems, &mut logger),
    };
    let client = match Client::new(args.api.ca_cert.as_deref(), base_url(&args.api).as_deref()) {
        Ok(c) => c,
        Err(e) => return usage_errors(&[e], &mut logger),
    };
    let options = Options {
        service: args.service.clone().unwrap_or_else(|| "unknown".into()),
        env: args.env.clone().unwrap_or_else(|| "unknown".into()),
        site: site(&args.api),
        api_url: args.api.api_url.clone(),
        allow_insecure_http: args.api.allow_insecure_http,
        api_key: keys.api_key.clone(),
        app_key: keys.app_key.clone(),
        timeout_ms: timing.timeout_ms,
        trigger_budget_ms: timing.trigger_budget_ms,
        poll_interval_ms: timing.poll_interval_ms,
        request_timeout_ms: timing.request_timeout_ms,
        fail_on_error: args.timing.fail_on_error,
        seed: now_ms() % (1 << 52),
        ..Options::default()
    };
    let now = now_ms();
    let engine = match Engine::attach(&args.evaluation_id, options.clone(), now) {
        Ok(e) => e,
        Err(e) => return engine_error(&e, None, &mut logger),
    };
    logger.info(&format!("Waiting for evaluation {}", args.evaluation_id));
    let config = DriverConfig {
        client,
        state_file: None,
        deadline_ms: Some(engine.deadline()),
    };
    let finished = match driver::run(engine, config, &mut logger) {
        Ok(f) => f,
        Err(e) => return engine_error(&e, None, &mut logger),
    };
    finish(
        &finished,
        &args.display,
        &link_policy(&args.api),
        &mut logger,
        |id| {
            let mut cmd = format!("gatepost wait {id}");
            if let Some(s) = &args.service {
                cmd.push_str(&format!(" --service {}", shell_quote(s)));
            }
            if let Some(e) = &args.env {
                cmd.push_str(&format!(" --env {}", shell_quote(e)));
            }
            cmd.push_str(&api_flags(&args.api, args.timing.fail_on_error));
            cmd
        },
    )
}

/// Print the report, the GitHub outputs and (after a signal) how to resume; return the exit code.
fn finish(
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

fn print_report(outcome: &Outcome, display: &DisplayArgs) {
    let color = display.color;
    match display.output {
        OutputFormat::Json => println!("{}", report::render_json(outcome)),
        OutputFormat::Text => {
            let color = use_color(color, std::io::stdout().is_terminal());
            let text = report::render_text(outcome, TextStyle { color });
            println!("{}", text.trim_end());
        }
    }
}

/// The exact command that picks up an interrupted `gate`.
fn resume_hint(id: &str, args: &GateArgs, api: &ApiArgs) -> String {
    let mut cmd = format!("gatepost wait {id}");
    if let Some(s) = &args.service {
        cmd.push_str(&format!(" --service {}", shell_quote(s)));
    }
    if let Some(e) = &args.env {
        cmd.push_str(&format!(" --env {}", shell_quote(e)));
    }
    cmd.push_str(&api_flags(api, args.timing.fail_on_error));
    if let Some(path) = &args.state_file {
        cmd.push_str(&format!(
            "\n  (or run the same gate command again: it resumes from --state-file {})",
            path.display()
        ));
    }
    cmd
}

fn api_flags(api: &ApiArgs, fail_on_error: bool) -> String {
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
fn shell_quote(word: &str) -> String {
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

/// The parameters, printed first like datadog-ci does (so a log shows what was asked).
fn print_parameters(
    args: &GateArgs,
    options: &Options,
    engine: &Engine,
    now: u64,
    logger: &mut Logger,
) {
    let endpoint = gatepost_core::site::resolve(
        options.site.as_deref(),
        options.api_url.as_deref(),
        options.allow_insecure_http,
    )
    .map(|e| e.base_url)
    .unwrap_or_default();
    let mut lines = vec!["Evaluating deployment gate:".to_string()];
    let shown = sanitize::line;
    lines.push(format!("  service      {}", shown(&options.service)));
    lines.push(format!("  env          {}", shown(&options.env)));
    lines.push(format!(
        "  identifier   {}",
        shown(options.identifier.as_deref().unwrap_or("default"))
    ));
    if let Some(v) = &options.version {
        lines.push(format!("  version      {}", shown(v)));
    }
    if let Some(t) = &options.primary_tag {
        lines.push(format!("  primary tag  {}", shown(t)));
    }
    match &args.config {
        Some(path) => lines.push(format!(
            "  rules        inline, from {}",
            shown(&path.display().to_string())
        )),
        None => lines.push("  rules        preconfigured in Datadog".to_string()),
    }
    lines.push(format!("  api          {}", shown(&endpoint)));
    // The engine's own values: a resumed evaluation keeps the timeout it started with.
    let left = engine.deadline().saturating_sub(now);
    let timeout = if left < engine.timeout_ms() {
        format!(
            "{} from the first run, {} left",
            human_duration(engine.timeout_ms()),
            human_duration(left)
        )
    } else {
        human_duration(engine.timeout_ms())
    };
    lines.push(format!(
        "  timeout      {timeout}, {}",
        if engine.fail_on_error() {
            "fail on errors (--fail-on-error)"
        } else {
            "pass on API errors and timeout (fail-open; --fail-on-error to fail)"
        }
    ));
    logger.info(&lines.join("\n"));
}

/// `--skip REASON` / `GATEPOST_SKIP_REASON`: no evaluation, exit 0, loudly reported.
fn skip(reason: &str, args: &GateArgs, logger: &mut Logger) -> u8 {
    logger.warn(&format!(
        "GATE SKIPPED ON PURPOSE, nothing was evaluated: {} (service {}, env {})",
        sanitize::line(reason),
        sanitize::line(args.service.as_deref().unwrap_or("?")),
        sanitize::line(args.env.as_deref().unwrap_or("?"))
    ));
    let outcome = Outcome::skipped(reason);
    print_report(&outcome, &args.display);
    write_github(&outcome, &LinkPolicy::none(), logger);
    0
}

fn skip_reason(args: &GateArgs) -> Option<String> {
    args.skip
        .clone()
        .or_else(|| std::env::var("GATEPOST_SKIP_REASON").ok())
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty())
}

/// `gatepost validate --config FILE [--version V] [--online]`, or `validate --online --service S
/// --env E` for a preconfigured gate.
pub fn validate(args: &ValidateArgs) -> u8 {
    let connect = &args.connect;
    if !args.online
        && (connect.emulator.is_some()
            || connect.api.api_url.is_some()
            || connect.api.site.is_some()
            || connect.retries.is_some()
            || args.timeout.is_some())
    {
        eprintln!(
            "error: --emulator, --api-url, --site, --retries and --timeout go with --online \
             (without it, validate never touches the network)"
        );
        return EXIT_USAGE;
    }
    let Some(path) = &args.config else {
        // clap requires --config unless --service (which requires --online) is given.
        return validate_online(args, None);
    };
    let file = path.display().to_string();
    let text = match read_config(path) {
        Ok(t) => t,
        Err(e) => {
            let message = format!("--config {file}: {e}");
            eprintln!("error: {message}");
            if args.output == ValidateFormat::Json {
                let error = gatepost_core::Error::with_problems(
                    ErrorCode::InvalidOptions,
                    format!("invalid options: {message}"),
                    vec![Problem::new("config", format!("{file}: {e}"))],
                );
                println!(
                    "{}",
                    crate::output::error_document(&error, None, EXIT_USAGE)
                );
            }
            return EXIT_USAGE;
        }
    };
    let validation = gatepost_core::validate(
        &ConfigInput::Text(text.clone()),
        args.version.as_deref(),
        args.allow_unknown_keys,
    );
    if args.online && validation.valid {
        // Online checks start from a valid file; its warnings come back in the online report.
        return validate_online(args, Some(text));
    }
    match args.output {
        ValidateFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&validation).expect("a validation serialises")
        ),
        ValidateFormat::Markdown => {
            print!(
                "{}",
                validation_markdown(&file, &validation.problems, &validation.warnings)
            );
        }
        ValidateFormat::Text => {}
    }
    if args.output != ValidateFormat::Json {
        print_located(&file, &validation.problems, &validation.warnings);
    }
    if args.output == ValidateFormat::Text {
        if validation.valid {
            let rules = validation
                .configuration
                .as_ref()
                .and_then(|c| c.get("rules"))
                .and_then(|r| r.as_array())
                .map_or(0, Vec::len);
            println!(
                "{} is valid: {rules} rule{}",
                sanitize::line(&file),
                if rules == 1 { "" } else { "s" }
            );
        } else {
            let n = validation.problems.len();
            eprintln!(
                "{}: {n} problem{} found",
                sanitize::line(&file),
                if n == 1 { "" } else { "s" }
            );
        }
    }
    if validation.valid { 0 } else { EXIT_USAGE }
}

/// Problems and warnings on stderr, together, in the order they appear in the file.
fn print_located(file: &str, problems: &[Problem], warnings: &[Problem]) {
    let mut all: Vec<(&str, &Problem)> = problems
        .iter()
        .map(|p| ("error", p))
        .chain(warnings.iter().map(|w| ("warning", w)))
        .collect();
    all.sort_by_key(|(_, p)| (p.line.unwrap_or(0), p.column.unwrap_or(0)));
    for (level, p) in all {
        eprintln!("{level}: {}", sanitize::line(&located(file, p)));
    }
}

/// An offline validation as markdown (a pull-request comment).
fn validation_markdown(file: &str, problems: &[Problem], warnings: &[Problem]) -> String {
    let cell = |s: &str| sanitize::line(s).replace('|', "\\|");
    let mut out = format!("### gatepost validate `{}`\n\n", cell(file));
    for p in problems {
        out.push_str(&format!("- :x: {}\n", cell(&p.to_string())));
    }
    for w in warnings {
        out.push_str(&format!("- :warning: {}\n", cell(&w.to_string())));
    }
    if problems.is_empty() {
        out.push_str("\nValid.\n");
    } else {
        out.push_str(&format!("\n{} problem(s).\n", problems.len()));
    }
    out
}

/// `validate --online`: the core's online check, driven over HTTP. Exit 0 ok (warnings allowed), 2
/// problems (or a usage error), 1 when the API could not be read.
fn validate_online(args: &ValidateArgs, config: Option<String>) -> u8 {
    let mut logger = Logger::new(
        LogFormat::Text,
        crate::cli::ColorChoice::Never,
        false,
        args.connect.verbose,
    );
    // Core converts and bounds-checks the seconds, as for `gate`'s duration flags.
    let timeout_ms = match args
        .timeout
        .map(|secs| gatepost_core::options::seconds_to_ms("timeout", "timeout_ms", secs))
        .transpose()
    {
        Ok(ms) => ms,
        Err(problem) => {
            logger.error(&flag_problem(&problem));
            return EXIT_USAGE;
        }
    };
    let (source, label) = match (config, &args.service) {
        (Some(text), _) => (
            online::Source::Config {
                config: ConfigInput::Text(text),
                version: args.version.clone(),
                allow_unknown_keys: args.allow_unknown_keys,
            },
            args.config
                .as_ref()
                .map_or_else(String::new, |p| p.display().to_string()),
        ),
        (None, Some(service)) => {
            let env = args.env.clone().unwrap_or_default();
            let identifier = args.identifier.clone();
            let label = format!(
                "gate {service}/{env}/{}",
                identifier.as_deref().unwrap_or("default")
            );
            (
                online::Source::Gate {
                    service: service.clone(),
                    env,
                    identifier,
                },
                label,
            )
        }
        (None, None) => {
            logger.error("--config FILE, or --service and --env with --online, is required");
            return EXIT_USAGE;
        }
    };
    let Some(connection) = crate::gates::connect(&args.connect, &mut logger) else {
        return EXIT_USAGE;
    };
    let api = &connection.api;
    let options = online::OnlineOptions {
        site: site(api),
        api_url: api.api_url.clone(),
        allow_insecure_http: api.allow_insecure_http,
        api_key: connection.keys.api_key.clone(),
        app_key: connection.keys.app_key.clone(),
        request_timeout_ms: connection.request_timeout_ms,
        max_body_bytes: None,
        max_retries: args.connect.retries,
        timeout_ms,
        seed: now_ms() % (1 << 52),
    };
    let check = match online::Check::new(options, source, now_ms()) {
        Ok(check) => check,
        Err(e) => return engine_error(&e, args.config.as_deref(), &mut logger),
    };
    let report = match driver::run_machine(check, connection.client.clone(), &mut logger) {
        Ok(report) => report,
        Err(e) => return engine_error(&e, None, &mut logger),
    };
    match args.output {
        ValidateFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("a report serialises")
        ),
        ValidateFormat::Markdown => print!("{}", online::render_markdown(&report)),
        ValidateFormat::Text => print!("{}", online::render_text(&report)),
    }
    if args.output != ValidateFormat::Json {
        print_located(&label, &report.problems, &report.warnings);
    }
    if let Some(error) = &report.error {
        logger.error(error);
    }
    u8::try_from(report.exit_code()).unwrap_or(1)
}

/// A config file's text; `-` reads standard input (e.g. a config rendered by another tool).
fn read_config(path: &Path) -> std::io::Result<String> {
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
        s.push_str(&format!(" (hint: {hint})"));
    }
    s
}

/// `gatepost status ID`: one GET of the evaluation result, printed.
pub fn status(args: &StatusArgs) -> u8 {
    let id = args.evaluation_id.trim();
    let keys = match resolve_keys(&args.api, None) {
        Ok(k) => k,
        Err(problems) => {
            for p in problems {
                eprintln!("error: {p}");
            }
            return EXIT_USAGE;
        }
    };
    let client = match Client::new(args.api.ca_cert.as_deref(), base_url(&args.api).as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    // The engine builds the request (URL, headers, the UUID check that keeps a hostile id out of
    // the path): attaching to an evaluation sends its first poll at once.
    let options = Options {
        service: "unknown".into(),
        env: "unknown".into(),
        site: site(&args.api),
        api_url: args.api.api_url.clone(),
        allow_insecure_http: args.api.allow_insecure_http,
        api_key: keys.api_key,
        app_key: keys.app_key,
        ..Options::default()
    };
    let now = now_ms();
    let mut engine = match Engine::attach(id, options, now) {
        Ok(engine) => engine,
        Err(e) => {
            for problem in &e.problems {
                eprintln!("error: {}", flag_problem(problem));
            }
            if e.problems.is_empty() {
                eprintln!("error: {e}");
            }
            return EXIT_USAGE;
        }
    };
    let request = Request::from_action(engine.poll(now)).expect("attach polls at once");
    let input = client.perform(&request);
    match input {
        // Which statuses are an answer, and what a refusal means, is the engine's reading.
        Input::Response { status, body, .. } => {
            match gatepost_core::machine::read_result_reply(id, status, &body) {
                ResultReply::Answered { json, result } => {
                    if args.output == OutputFormat::Json {
                        // Re-serialised: the same data, with no raw control character from the
                        // server.
                        match json {
                            Some(value) => println!("{}", sanitize::json(&value.to_string())),
                            None => {
                                let why = result.err().unwrap_or_default();
                                eprintln!("error: evaluation {id}: {why}");
                                return 1;
                            }
                        }
                    } else {
                        println!("{}", describe_result(id, result, &body));
                    }
                    0
                }
                ResultReply::Refused { message, note } => {
                    eprintln!("error: {message}");
                    if let Some(note) = note {
                        eprintln!("({note})");
                    }
                    1
                }
            }
        }
        Input::TransportError { kind, message, .. } => {
            eprintln!(
                "error: request failed ({}): {}",
                kind.as_str(),
                sanitize::line(&message)
            );
            1
        }
        _ => 1,
    }
}

/// A result body for people: status, URL and rules with reasons.
fn describe_result(
    id: &str,
    result: Result<gatepost_core::machine::EvaluationResult, String>,
    body: &str,
) -> String {
    // Read by the engine's own parser, so status shows exactly what a gate run would see.
    let result = match result {
        Ok(result) => result,
        Err(problem) => {
            return format!("evaluation {id}: {problem}:\n{}", sanitize::lines(body));
        }
    };
    let mode = |dry_run: bool| if dry_run { " (dry run)" } else { "" };
    let shown = sanitize::line;
    let mut out = vec![format!(
        "evaluation {id}: {}{}",
        shown(result.gate_status.as_deref().unwrap_or("?")),
        mode(result.dry_run)
    )];
    if let Some(url) = &result.evaluation_url {
        out.push(format!("  {}", shown(url)));
    }
    for rule in &result.rules {
        let mut line = format!(
            "  - {}: {}{}",
            shown(&rule.name),
            shown(&rule.status),
            mode(rule.dry_run)
        );
        if let Some(reason) = &rule.reason {
            line.push_str(&format!("\n      Reason: {}", shown(reason)));
        }
        out.push(line);
    }
    out.join("\n")
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
fn link_policy(api: &ApiArgs) -> LinkPolicy {
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
struct TimingMs {
    timeout_ms: Option<u64>,
    poll_interval_ms: Option<u64>,
    request_timeout_ms: Option<u64>,
    trigger_budget_ms: Option<u64>,
}

fn timing_ms(t: &TimingArgs, problems: &mut Vec<String>) -> TimingMs {
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

fn required(value: &Option<String>, flag: &str, problems: &mut Vec<String>) -> String {
    match value.as_deref().map(str::trim) {
        Some(v) if !v.is_empty() => v.to_string(),
        _ => {
            problems.push(format!("{flag} is required"));
            String::new()
        }
    }
}

fn env_flag(name: &str) -> bool {
    std::env::var(name)
        .is_ok_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
}

fn make_logger(display: &DisplayArgs) -> Logger {
    let format = display.log_format.unwrap_or_else(|| {
        match std::env::var("DD_LOG_FORMAT").map(|v| v.to_ascii_lowercase()) {
            Ok(v) if v == "json" => LogFormat::Json,
            _ => LogFormat::Text,
        }
    });
    Logger::new(format, display.color, display.quiet, display.verbose)
        .with_json_output(display.output == OutputFormat::Json)
}

fn usage_errors(problems: &[String], logger: &mut Logger) -> u8 {
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
fn engine_error(e: &gatepost_core::Error, config: Option<&Path>, logger: &mut Logger) -> u8 {
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
        s.push_str(&format!(" (hint: {hint})"));
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
