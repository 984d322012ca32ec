//! `gatepost validate`: a config file checked offline, or with `--online` against what Datadog
//! holds now.

use crate::EXIT_USAGE;
use crate::cli::{LogFormat, ValidateArgs, ValidateFormat};
use crate::driver;
use crate::output::{Logger, now_ms};
use crate::shared::{engine_error, flag_problem, located, read_config, site, spelled_for_cli};
use gatepost_core::online;
use gatepost_core::sanitize;
use gatepost_core::{ConfigInput, ErrorCode, Problem};

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
    let mut validation = gatepost_core::validate(
        &ConfigInput::Text(text.clone()),
        args.version.as_deref(),
        args.allow_unknown_keys,
    );
    if args.online && validation.valid {
        // Online checks start from a valid file; its warnings come back in the online report.
        return validate_online(args, Some(text));
    }
    spelled_for_cli(&mut validation.problems);
    spelled_for_cli(&mut validation.warnings);
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
                service: args.service.clone(),
                env: args.env.clone(),
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
                    version: args.version.clone(),
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
    let mut report = match driver::run_machine(check, connection.client.clone(), &mut logger) {
        Ok(report) => report,
        Err(e) => return engine_error(&e, None, &mut logger),
    };
    spelled_for_cli(&mut report.problems);
    spelled_for_cli(&mut report.warnings);
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
